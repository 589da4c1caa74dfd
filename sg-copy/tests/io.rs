//! The std::io adapters against the reference model, and a real vectored
//! write and read through a file on disk.

use std::io::{self, Read, Seek, SeekFrom, Write};

use quickcheck::TestResult;
use sg_copy::{ListCursor, ListReader, with_io_slices, with_io_slices_mut};
use sg_core::Error;
use sg_testkit::{
    BuiltList, EntryLayout, Mapping, MockPage, MockPages, Model, SkipLen, TEST_PAGE_SIZE, TempFile,
    TestPages, checker,
};

type Mock = TestPages;

/// A mock that maps linearly or by copies, holding `layout` filled from
/// `seed`.
fn setup(linear: bool, layout: &EntryLayout, seed: u64) -> (Mock, BuiltList<MockPage>) {
    let mode = if linear {
        Mapping::Linear
    } else {
        Mapping::Copied
    };
    let mock = Mock::with_mapping(mode);
    let built = layout.scaled(TEST_PAGE_SIZE).build(&mock);
    mock.fill(seed);
    (mock, built)
}

#[test]
fn prop_a_reader_yields_the_model_through_io_copy_and_seek() {
    // io::copy reads the whole list; after a seek, read_exact reads model[at..].
    fn property(layout: EntryLayout, range: SkipLen, linear: bool) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        let (mock, built) = setup(linear, &layout, 41);
        let list = built.list(&mock);
        let model = Model::from_list(&mock, list);
        let mut reader = ListReader::new(list);
        let mut all = Vec::new();
        io::copy(&mut reader, &mut all).unwrap();
        if all != model.bytes() {
            return TestResult::error("io::copy differs from the model");
        }
        assert_eq!(reader.read(&mut [0; 8]).unwrap(), 0, "at the end");
        let at = reader.seek(SeekFrom::Start(range.skip)).unwrap();
        let wanted = range.len.min(5000) as usize;
        let mut part = vec![0; wanted];
        let result = reader.read_exact(&mut part);
        match model.range(at, wanted as u64) {
            Some(expected) => {
                if result.is_err() || part != expected {
                    return TestResult::error("read_exact after seek");
                }
                // Seeking back from the current position reads the same bytes.
                reader.seek(SeekFrom::Current(-(wanted as i64))).unwrap();
                let mut again = vec![0; wanted];
                reader.read_exact(&mut again).unwrap();
                if again != expected {
                    return TestResult::error("read_exact after seeking back");
                }
            }
            None => {
                if result.is_ok() && wanted > 0 {
                    return TestResult::error("read_exact past the end succeeded");
                }
            }
        }
        let end = reader.seek(SeekFrom::End(0)).unwrap();
        assert_eq!(end, model.len() as u64);
        assert!(reader.seek(SeekFrom::End(-(end as i64) - 1)).is_err());
        drop(reader);
        TestResult::from_bool(mock.live_mappings() == 0)
    }
    checker(100).quickcheck(property as fn(EntryLayout, SkipLen, bool) -> TestResult);
}

#[test]
fn prop_a_cursor_writes_and_reads_like_the_model() {
    // Writing at a seek position changes model[at..at+n]; reading it back gives the data.
    fn property(layout: EntryLayout, range: SkipLen, linear: bool) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        let (mock, mut built) = setup(linear, &layout, 42);
        let mut model = Model::from_list(&mock, built.list(&mock));
        let data: Vec<u8> = (0..range.len.min(6000))
            .map(|index| (index * 7 + 1) as u8)
            .collect();
        // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let mut cursor = ListCursor::new(unsafe { built.list_mut(&mock) });
        cursor.seek(SeekFrom::Start(range.skip)).unwrap();
        let written = io::copy(&mut data.as_slice(), &mut cursor);
        let expected = model.copy_from_slice(range.skip, &data);
        match written {
            Ok(count) if count as usize == data.len() && expected == data.len() => {}
            Err(error) if error.kind() == io::ErrorKind::WriteZero && expected < data.len() => {}
            other => {
                return TestResult::error(format!("io::copy gave {other:?}, model {expected}"));
            }
        }
        cursor.seek(SeekFrom::Start(range.skip)).unwrap();
        let mut back = vec![0; expected];
        cursor.read_exact(&mut back).unwrap();
        if back != data[..expected] {
            return TestResult::error("reading back what was written");
        }
        cursor.flush().unwrap();
        drop(cursor);
        TestResult::from_bool(
            model.check(&mock, built.list(&mock)).is_ok() && mock.live_mappings() == 0,
        )
    }
    checker(100).quickcheck(property as fn(EntryLayout, SkipLen, bool) -> TestResult);
}

#[test]
#[cfg_attr(
    miri,
    ignore = "writev and readv on a file are system calls Miri does not run; the slices \
              they take are checked under Miri by the other io-slice tests and slices.rs"
)]
fn a_list_goes_to_a_file_with_writev_and_comes_back_with_readv() {
    for mode in [Mapping::Copied, Mapping::Linear] {
        let mock = MockPages::<4096>::with_mapping(mode);
        let source_pages = mock.add_pages([10, 11, 20, 30]);
        let target_pages = mock.add_pages([50, 60, 61]);
        mock.fill(9);
        // 3 entries: one crossing a page boundary, one mid-page, one short.
        let source = BuiltList::new(
            &mock,
            &[
                (source_pages[0], 5000, 100),
                (source_pages[2], 1000, 3000),
                (source_pages[3], 17, 0),
            ],
            &[2],
        );
        let mut target = BuiltList::new(
            &mock,
            &[(target_pages[0], 2017, 2079), (target_pages[1], 4000, 4000)],
            &[1],
        );
        let expected = mock.list_bytes(source.list(&mock));
        let mut temp = TempFile::new(&format!("{mode:?}"));
        let written = with_io_slices(source.list(&mock), |slices| {
            temp.file.write_vectored(slices)
        })
        .unwrap();
        assert_eq!(written, expected.len());
        let mut on_disk = Vec::new();
        temp.file.seek(SeekFrom::Start(0)).unwrap();
        temp.file.read_to_end(&mut on_disk).unwrap();
        assert_eq!(
            on_disk, expected,
            "{mode:?}: the file holds the list's bytes"
        );
        temp.file.seek(SeekFrom::Start(0)).unwrap();
        // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let read = with_io_slices_mut(unsafe { target.list_mut(&mock) }, |slices| {
            temp.file.read_vectored(slices)
        })
        .unwrap()
        .unwrap();
        assert_eq!(read, expected.len());
        assert_eq!(
            mock.list_bytes(target.list(&mock)),
            expected,
            "{mode:?}: read back"
        );
        assert_eq!(mock.live_mappings(), 0);
        assert!(mock.flushes() > 0, "pages read into were flushed");
    }
}

#[test]
fn io_slices_split_pages_unless_the_provider_is_linear() {
    let copied = MockPages::<4096>::new();
    let run = copied.add_pages([1, 2, 3]);
    let built = BuiltList::new(&copied, &[(run[0], 9000, 100)], &[]);
    let lengths = with_io_slices(built.list(&copied), |slices| {
        slices.iter().map(|slice| slice.len()).collect::<Vec<_>>()
    });
    assert_eq!(lengths, [3996, 4096, 908]);
    let linear = MockPages::<4096>::linear();
    let run = linear.add_pages([1, 2, 3]);
    let built = BuiltList::new(&linear, &[(run[0], 9000, 100)], &[]);
    let lengths = with_io_slices(built.list(&linear), |slices| {
        slices.iter().map(|slice| slice.len()).collect::<Vec<_>>()
    });
    assert_eq!(lengths, [9000]);
    assert_eq!(linear.live_mappings() + copied.live_mappings(), 0);
}

#[test]
fn overlapping_entries_cannot_be_mutable_slices_at_once() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1]);
    let mut built = BuiltList::new(&mock, &[(pages[0], 100, 0), (pages[0], 100, 50)], &[]);
    // SAFETY: the entries lie on a frame of the mock and nothing else reaches
    // them while the view is used. They overlap, against `list_mut`'s rule,
    // on purpose: safe code can no longer make such a view, and this checks
    // the library's own guard, which refuses the list before making any
    // slice, so no two `&mut` ever reach the same byte.
    let list = unsafe { built.list_mut(&mock) };
    let result = with_io_slices_mut(list, |_| unreachable!("not called"));
    assert_eq!(
        result.unwrap_err(),
        Error::Overlap {
            first: 0,
            second: 1
        }
    );
    assert_eq!(mock.live_mappings(), 0);
    // Reading the same bytes twice is fine.
    let total = with_io_slices(built.list(&mock), |slices| {
        slices.iter().map(|slice| slice.len()).sum::<usize>()
    });
    assert_eq!(total, 200);
}

#[test]
fn writing_past_the_end_of_a_cursor_is_write_zero() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1]);
    let mut built = BuiltList::new(&mock, &[(pages[0], 10, 0)], &[]);
    // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
    // and nothing else reaches them while the view is used.
    let mut cursor = ListCursor::new(unsafe { built.list_mut(&mock) });
    assert_eq!(cursor.len(), 10);
    cursor.seek(SeekFrom::Start(8)).unwrap();
    let error = cursor.write_all(b"abc").unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WriteZero);
    assert_eq!(cursor.seek(SeekFrom::Start(100)).unwrap(), 100);
    assert_eq!(cursor.write(b"x").unwrap(), 0);
    assert_eq!(cursor.read(&mut [0; 4]).unwrap(), 0);
    drop(cursor);
    assert_eq!(mock.read(pages[0], 8, 2), b"ab");
}
