//! Rows for sg-iter's iterators and sg-copy's copies, zeroing and io
//! adapters: empty views, views limited past their list, skips and
//! lengths past the end or past `u64::MAX`.

use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};

use sg_copy::{
    ListCursor, ListReader, copy_from_slice, copy_list, copy_to_slice, with_io_slices,
    with_io_slices_mut, zero,
};
use sg_core::{Error, SgEntry, SgList, SgListMut};
use sg_iter::{DmaPageIter, MappingIter, MappingIterMut, PageIter};
use sg_testkit::{BuiltList, Mapping, MockPage, Model};

use crate::Row;
use crate::kit::{BUILT_BYTES, Mock, PAGE, PAGE_U64, sample_built};

pub(crate) fn rows() -> Vec<Row> {
    rows! {
        ZeroEntries {
            "PageIter::new" => pages_of_no_entries,
            "DmaPageIter::new" => dma_pages_of_no_entries,
            "MappingIter::next" => read_no_entries,
            "MappingIterMut::next" => write_no_entries,
            "copy_to_slice" => copy_out_of_no_entries,
            "copy_from_slice" => copy_into_no_entries,
            "zero" => zero_no_entries,
            "copy_list" => copy_between_no_entries,
            "ListReader::read" => reader_of_no_entries,
            "ListCursor::write" => cursor_of_no_entries,
            "with_io_slices" => io_slices_of_no_entries,
            "with_io_slices_mut" => io_slices_mut_of_no_entries,
        }
        NentsPastList {
            "PageIter::new" => pages_past_the_list,
            "DmaPageIter::new" => dma_pages_past_the_list,
            "MappingIter::next" => read_more_entries_than_the_list,
            "copy_to_slice" => copy_more_entries_than_the_list,
        }
        SplitPastInput {
            "MappingIter::skip" => read_past_the_end,
            "MappingIterMut::skip" => write_past_the_end,
            "copy_to_slice" => copy_out_past_the_end,
            "copy_from_slice" => copy_in_past_the_end,
            "zero" => zero_past_the_end,
            "copy_list" => copy_list_past_the_end,
            "ListReader::seek" => reader_past_the_end,
            "ListCursor::write" => cursor_past_the_end,
        }
        Overflow {
            "ListReader::seek" => reader_seek_past_u64,
            "ListCursor::seek" => cursor_seek_past_u64,
            "copy_to_slice" => copy_out_skip_of_u64_max,
            "zero" => zero_lengths_of_u64_max,
            "copy_list" => copy_list_lengths_of_u64_max,
            "PageIter::new" => pages_from_usize_max,
            "DmaPageIter::new" => dma_pages_that_wrap,
            "MappingIter::skip" => skip_u64_max,
        }
        Other {
            "with_io_slices_mut" => io_slices_mut_of_overlapping_entries,
        }
    }
}

/// The mapping modes: page copies, pages in place, and a linear provider
/// (the copies' fast path). Under Miri, where every step costs a thousand
/// times more, pages in place are left out: the library takes the same
/// path for them as for copies.
const MODES: &[Mapping] = if cfg!(miri) {
    &[Mapping::Copied, Mapping::Linear]
} else {
    &[Mapping::Copied, Mapping::Direct, Mapping::Linear]
};

/// Runs `body` with a fresh mock of each mode holding the sample list,
/// its pages filled with bytes that differ from byte to byte and page to
/// page, and checks the mock is clean after each.
fn each_mode(mut body: impl FnMut(&Mock, &mut BuiltList<MockPage>)) {
    for &mode in MODES {
        let mock = Mock::with_mapping(mode);
        let mut built = sample_built(&mock);
        for pfn in mock.frames() {
            let bytes: Vec<u8> = (0..PAGE as u64)
                .map(|at| (at * 7 + pfn * 13) as u8)
                .collect();
            mock.write(MockPage::new(pfn), 0, &bytes);
        }
        body(&mock, &mut built);
        drop(built);
        mock.assert_clean();
    }
}

/// Runs `body` with views of no entry (no array at all, and an array
/// limited to 0 entries) in each mode.
fn each_empty_view(mut body: impl FnMut(&Mock, SgListMut<'_, Mock>)) {
    each_mode(|mock, built| {
        let mut none: [SgEntry<MockPage>; 0] = [];
        // SAFETY: no entry, so the view describes no byte.
        body(mock, unsafe { SgListMut::new(&mut none, mock) });
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let list = unsafe { built.list_mut(mock) }.into_list().take_entries(0);
        // SAFETY: made from an exclusive view of `built` that is given up,
        // and the only view of it for the call.
        body(mock, unsafe { SgListMut::from_list(list) });
    });
}

fn pages_of_no_entries() {
    each_empty_view(|_, list| {
        assert_eq!(PageIter::new(list.as_list(), 0).next(), None);
        assert_eq!(PageIter::new(list.as_list(), 5).next(), None);
    });
}

fn dma_pages_of_no_entries() {
    each_empty_view(|_, list| {
        assert_eq!(DmaPageIter::new(list.as_list(), 0).next(), None);
        assert_eq!(DmaPageIter::new(list.as_list(), 5).next(), None);
    });
}

fn read_no_entries() {
    each_empty_view(|mock, list| {
        let mut reader = MappingIter::new(list.as_list());
        assert!(reader.advance(0).is_ok());
        assert_eq!(reader.next_slice(), None);
        assert!(reader.advance(1).is_err());
        assert_eq!((reader.position(), reader.page()), (0, None));
        assert_eq!(mock.total_mappings(), 0);
    });
}

fn write_no_entries() {
    each_empty_view(|mock, list| {
        let mut writer = MappingIterMut::new(list);
        assert!(writer.advance(0).is_ok());
        assert!(writer.next_slice_mut().is_none());
        assert!(writer.advance(1).is_err());
        assert_eq!(writer.position(), 0);
        assert_eq!(mock.total_mappings(), 0);
    });
}

fn copy_out_of_no_entries() {
    each_empty_view(|_, list| {
        let mut buffer = [7u8; 8];
        assert_eq!(copy_to_slice(list.as_list(), 0, &mut buffer), 0);
        assert_eq!(copy_to_slice(list.as_list(), 3, &mut buffer), 0);
        assert_eq!(buffer, [7; 8]);
    });
}

fn copy_into_no_entries() {
    each_empty_view(|_, mut list| {
        assert_eq!(copy_from_slice(list.reborrow(), 0, b"bytes"), 0);
        assert_eq!(copy_from_slice(list, 3, b"bytes"), 0);
    });
}

fn zero_no_entries() {
    each_empty_view(|_, mut list| {
        assert_eq!(zero(list.reborrow(), 0, 10), 0);
        assert_eq!(zero(list, 0, u64::MAX), 0);
    });
}

fn copy_between_no_entries() {
    each_mode(|mock, built| {
        let mut none: [SgEntry<MockPage>; 0] = [];
        let source = built.list(mock);
        let model = Model::from_list(mock, source);
        // SAFETY: no entry, so the view describes no byte.
        let empty = unsafe { SgListMut::new(&mut none, mock) };
        assert_eq!(copy_list(empty, 0, source, 0, 100), 0);
        // SAFETY: the sample list's entries lie on disjoint bytes of the
        // mock's frames, and nothing else reaches them while the view is used.
        let target = unsafe { built.list_mut(mock) };
        // SAFETY: no entry, so the view describes no byte.
        let nothing = unsafe { SgList::new(&none, mock) };
        assert_eq!(copy_list(target, 0, nothing, 0, 100), 0);
        model.assert_matches(mock, built.list(mock));
    });
}

fn reader_of_no_entries() {
    each_empty_view(|_, list| {
        let mut reader = ListReader::new(list.as_list());
        assert!(reader.is_empty());
        let mut buffer = [0u8; 4];
        assert_eq!(reader.read(&mut buffer).unwrap(), 0);
        assert_eq!(reader.seek(SeekFrom::End(0)).unwrap(), 0);
        assert_eq!(reader.read(&mut buffer).unwrap(), 0);
    });
}

fn cursor_of_no_entries() {
    each_empty_view(|_, list| {
        let mut cursor = ListCursor::new(list);
        assert!(cursor.is_empty());
        assert_eq!(cursor.write(b"x").unwrap(), 0);
        assert_eq!(
            cursor.write_all(b"x").map_err(|error| error.kind()),
            Err(ErrorKind::WriteZero)
        );
        assert_eq!(cursor.read(&mut [0; 4]).unwrap(), 0);
    });
}

fn io_slices_of_no_entries() {
    each_empty_view(|mock, list| {
        assert_eq!(with_io_slices(list.as_list(), |slices| slices.len()), 0);
        assert_eq!(mock.total_mappings(), 0);
    });
}

fn io_slices_mut_of_no_entries() {
    each_empty_view(|_, list| {
        assert_eq!(with_io_slices_mut(list, |slices| slices.len()), Ok(0));
    });
}

/// The pages of the sample list: its three entries touch one page each.
fn sample_pages_visited(built: &BuiltList<MockPage>, mock: &Mock) -> Vec<MockPage> {
    built
        .list(mock)
        .iter()
        .filter_map(|entry| entry.page())
        .collect()
}

fn pages_past_the_list() {
    each_mode(|mock, built| {
        let list = built.list(mock);
        let all = sample_pages_visited(built, mock);
        for n in [4, usize::MAX] {
            let visited: Vec<MockPage> = PageIter::new(list.take_entries(n), 0).collect();
            assert_eq!(visited, all);
        }
        for pgoffset in [all.len(), all.len() + 1, usize::MAX] {
            assert_eq!(PageIter::new(list, pgoffset).next(), None);
        }
    });
}

/// The sample list with DMA segments of 2, 1 and 1 pages in its entries.
fn with_dma(built: &mut BuiltList<MockPage>) -> Vec<u64> {
    built.set_dma(0, 0x10_0000, 2 * PAGE as u32);
    built.set_dma(1, 0x20_0000, 1);
    built.set_dma(2, 0x30_0000, PAGE as u32);
    vec![0x10_0000, 0x10_0000 + PAGE_U64, 0x20_0000, 0x30_0000]
}

fn dma_pages_past_the_list() {
    each_mode(|mock, built| {
        let all = with_dma(built);
        let list = built.list(mock);
        for n in [4, usize::MAX] {
            let visited: Vec<u64> = DmaPageIter::new(list.take_entries(n), 0).collect();
            assert_eq!(visited, all);
        }
        for pgoffset in [all.len(), usize::MAX] {
            assert_eq!(DmaPageIter::new(list, pgoffset).next(), None);
        }
    });
}

fn read_more_entries_than_the_list() {
    each_mode(|mock, built| {
        let list = built.list(mock);
        let model = Model::from_list(mock, list);
        let mut reader = MappingIter::new(list.take_entries(usize::MAX));
        let mut bytes = Vec::new();
        while let Some(piece) = reader.next_slice() {
            bytes.extend_from_slice(piece);
        }
        model.assert_eq_bytes(&bytes);
    });
}

fn copy_more_entries_than_the_list() {
    each_mode(|mock, built| {
        let list = built.list(mock);
        let model = Model::from_list(mock, list);
        let mut buffer = vec![0; BUILT_BYTES as usize + 10];
        let copied = copy_to_slice(list.take_entries(4), 0, &mut buffer);
        assert_eq!(copied, BUILT_BYTES as usize);
        model.assert_eq_bytes(&buffer[..copied]);
    });
}

fn read_past_the_end() {
    each_mode(|mock, built| {
        let list = built.list(mock);
        let mut reader = MappingIter::new(list);
        assert!(reader.advance(BUILT_BYTES).is_ok());
        assert_eq!(reader.next_slice(), None);
        let mut reader = MappingIter::new(list);
        assert!(reader.next_slice().is_some());
        assert!(reader.advance(BUILT_BYTES).is_err());
        assert_eq!(reader.next_slice(), None);
        assert_eq!(reader.position(), BUILT_BYTES);
    });
}

fn write_past_the_end() {
    each_mode(|mock, built| {
        let model = Model::from_list(mock, built.list(mock));
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let mut writer = MappingIterMut::new(unsafe { built.list_mut(mock) });
        assert!(writer.advance(BUILT_BYTES + 1).is_err());
        assert!(writer.next_slice_mut().is_none());
        drop(writer);
        model.assert_matches(mock, built.list(mock));
    });
}

fn copy_out_past_the_end() {
    each_mode(|mock, built| {
        let list = built.list(mock);
        let model = Model::from_list(mock, list);
        let mut buffer = [0u8; 10];
        for skip in [BUILT_BYTES, BUILT_BYTES + 1, BUILT_BYTES * 1000] {
            assert_eq!(copy_to_slice(list, skip, &mut buffer), 0);
        }
        assert_eq!(copy_to_slice(list, BUILT_BYTES - 1, &mut buffer), 1);
        assert_eq!(buffer[0], model.bytes()[BUILT_BYTES as usize - 1]);
    });
}

fn copy_in_past_the_end() {
    each_mode(|mock, built| {
        let mut model = Model::from_list(mock, built.list(mock));
        for skip in [BUILT_BYTES, BUILT_BYTES + 1, u64::MAX] {
            assert_eq!(
                // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
                // and nothing else reaches them while the view is used.
                copy_from_slice(unsafe { built.list_mut(mock) }, skip, b"0123456789"),
                0
            );
        }
        let written = copy_from_slice(
            // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
            // and nothing else reaches them while the view is used.
            unsafe { built.list_mut(mock) },
            BUILT_BYTES - 2,
            b"0123456789",
        );
        assert_eq!(written, 2);
        model.copy_from_slice(BUILT_BYTES - 2, b"01");
        model.assert_matches(mock, built.list(mock));
    });
}

fn zero_past_the_end() {
    each_mode(|mock, built| {
        let mut model = Model::from_list(mock, built.list(mock));
        for skip in [BUILT_BYTES, BUILT_BYTES + 1, u64::MAX] {
            // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
            // and nothing else reaches them while the view is used.
            assert_eq!(zero(unsafe { built.list_mut(mock) }, skip, 1), 0);
        }
        assert_eq!(
            // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
            // and nothing else reaches them while the view is used.
            zero(unsafe { built.list_mut(mock) }, BUILT_BYTES - 5, 100),
            5
        );
        model.zero(BUILT_BYTES - 5, 5);
        model.assert_matches(mock, built.list(mock));
    });
}

fn copy_list_past_the_end() {
    each_mode(|mock, built| {
        let target = Mock::with_mapping(mock.mapping());
        let mut copy = sample_built(&target);
        let mut model = Model::from_list(&target, copy.list(&target));
        let source = built.list(mock);
        for (target_skip, source_skip) in [(BUILT_BYTES, 0), (0, BUILT_BYTES), (u64::MAX, u64::MAX)]
        {
            let copied = copy_list(
                // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
                // and nothing else reaches them while the view is used.
                unsafe { copy.list_mut(&target) },
                target_skip,
                source,
                source_skip,
                10,
            );
            assert_eq!(copied, 0);
        }
        // The shorter side ends the copy.
        let copied = copy_list(
            // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
            // and nothing else reaches them while the view is used.
            unsafe { copy.list_mut(&target) },
            0,
            source,
            BUILT_BYTES - 3,
            100,
        );
        assert_eq!(copied, 3);
        let source_model = Model::from_list(mock, source);
        model.copy_from_model(0, &source_model, BUILT_BYTES - 3, 3);
        model.assert_matches(&target, copy.list(&target));
        drop(copy);
        target.assert_clean();
    });
}

fn reader_past_the_end() {
    each_mode(|mock, built| {
        let mut reader = ListReader::new(built.list(mock));
        for target in [BUILT_BYTES, BUILT_BYTES + 1, u64::MAX] {
            assert_eq!(reader.seek(SeekFrom::Start(target)).unwrap(), target);
            assert_eq!(reader.read(&mut [0; 4]).unwrap(), 0);
        }
        assert_eq!(reader.seek(SeekFrom::End(10)).unwrap(), BUILT_BYTES + 10);
        assert_eq!(reader.read(&mut [0; 4]).unwrap(), 0);
        // Back inside, it reads again.
        assert_eq!(reader.seek(SeekFrom::End(-1)).unwrap(), BUILT_BYTES - 1);
        assert_eq!(reader.read(&mut [0; 4]).unwrap(), 1);
    });
}

fn cursor_past_the_end() {
    each_mode(|mock, built| {
        let model = Model::from_list(mock, built.list(mock));
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let mut cursor = ListCursor::new(unsafe { built.list_mut(mock) });
        for target in [BUILT_BYTES, BUILT_BYTES + 1, u64::MAX] {
            cursor.seek(SeekFrom::Start(target)).unwrap();
            assert_eq!(cursor.write(b"x").unwrap(), 0);
            assert_eq!(
                cursor.write_all(b"x").map_err(|error| error.kind()),
                Err(ErrorKind::WriteZero)
            );
        }
        drop(cursor);
        model.assert_matches(mock, built.list(mock));
    });
}

/// Seeks that go below 0 or past `u64::MAX`: refused, the position kept.
fn refused_seeks(len: u64, mut seek: impl FnMut(SeekFrom) -> std::io::Result<u64>) {
    let invalid = |result: std::io::Result<u64>| {
        result.map_err(|error| error.kind()) == Err(ErrorKind::InvalidInput)
    };
    assert!(invalid(seek(SeekFrom::Current(-1))));
    assert!(invalid(seek(SeekFrom::End(-(len as i64) - 1))));
    assert!(invalid(seek(SeekFrom::End(i64::MIN))));
    assert_eq!(seek(SeekFrom::Start(u64::MAX)).unwrap(), u64::MAX);
    assert!(invalid(seek(SeekFrom::Current(1))));
    assert!(invalid(seek(SeekFrom::Current(i64::MAX))));
    assert_eq!(
        seek(SeekFrom::Current(0)).unwrap(),
        u64::MAX,
        "the position stays"
    );
    assert_eq!(seek(SeekFrom::Start(3)).unwrap(), 3);
}

fn reader_seek_past_u64() {
    each_mode(|mock, built| {
        let mut reader = ListReader::new(built.list(mock));
        refused_seeks(BUILT_BYTES, |to| reader.seek(to));
        let model = Model::from_list(mock, built.list(mock));
        let mut byte = [0u8; 1];
        assert_eq!(reader.read(&mut byte).unwrap(), 1);
        assert_eq!(byte[0], model.bytes()[3]);
    });
}

fn cursor_seek_past_u64() {
    each_mode(|mock, built| {
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let mut cursor = ListCursor::new(unsafe { built.list_mut(mock) });
        refused_seeks(BUILT_BYTES, |to| cursor.seek(to));
        assert_eq!(cursor.position(), 3);
    });
}

fn copy_out_skip_of_u64_max() {
    each_mode(|mock, built| {
        let mut buffer = [0u8; 4];
        assert_eq!(copy_to_slice(built.list(mock), u64::MAX, &mut buffer), 0);
        assert_eq!(
            copy_to_slice(built.list(mock), u64::MAX - 1, &mut buffer),
            0
        );
    });
}

fn zero_lengths_of_u64_max() {
    each_mode(|mock, built| {
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        assert_eq!(zero(unsafe { built.list_mut(mock) }, u64::MAX, u64::MAX), 0);
        assert_eq!(
            // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
            // and nothing else reaches them while the view is used.
            zero(unsafe { built.list_mut(mock) }, 1, u64::MAX),
            BUILT_BYTES - 1
        );
        let mut model = Model::from_list(mock, built.list(mock));
        model.zero(0, 1);
        assert_eq!(
            // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
            // and nothing else reaches them while the view is used.
            zero(unsafe { built.list_mut(mock) }, 0, u64::MAX),
            BUILT_BYTES
        );
        model.assert_matches(mock, built.list(mock));
        assert!(model.bytes().iter().all(|&byte| byte == 0));
    });
}

fn copy_list_lengths_of_u64_max() {
    each_mode(|mock, built| {
        let target = Mock::with_mapping(mock.mapping());
        let mut copy = sample_built(&target);
        let source = built.list(mock);
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let copied = copy_list(unsafe { copy.list_mut(&target) }, 0, source, 0, u64::MAX);
        assert_eq!(copied, BUILT_BYTES);
        Model::from_list(mock, source).assert_matches(&target, copy.list(&target));
        assert_eq!(
            copy_list(
                // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
                // and nothing else reaches them while the view is used.
                unsafe { copy.list_mut(&target) },
                u64::MAX,
                source,
                0,
                u64::MAX
            ),
            0
        );
        assert_eq!(
            copy_list(
                // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
                // and nothing else reaches them while the view is used.
                unsafe { copy.list_mut(&target) },
                0,
                source,
                u64::MAX,
                u64::MAX
            ),
            0
        );
        drop(copy);
        target.assert_clean();
    });
}

fn pages_from_usize_max() {
    each_mode(|mock, built| {
        assert_eq!(PageIter::new(built.list(mock), usize::MAX).next(), None);
        let mut visit = PageIter::new(built.list(mock), usize::MAX - 1);
        assert_eq!((visit.next(), visit.next()), (None, None));
    });
}

fn dma_pages_that_wrap() {
    each_mode(|mock, built| {
        // A segment that runs past the end of the bus addresses: the
        // addresses wrap around (documented), nothing panics.
        built.set_dma(0, u64::MAX - PAGE_U64 + 1, 2 * PAGE as u32);
        let visited: Vec<u64> = DmaPageIter::new(built.list(mock).take_entries(1), 0).collect();
        assert_eq!(visited, [u64::MAX - PAGE_U64 + 1, 0]);
        assert_eq!(DmaPageIter::new(built.list(mock), usize::MAX).next(), None);
    });
}

fn skip_u64_max() {
    each_mode(|mock, built| {
        let mut reader = MappingIter::new(built.list(mock));
        assert!(reader.advance(u64::MAX).is_err());
        assert_eq!(reader.next_slice(), None);
        assert_eq!(reader.position(), BUILT_BYTES);
        drop(reader);
        // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let mut writer = MappingIterMut::new(unsafe { built.list_mut(mock) });
        assert!(writer.next_slice_mut().is_some());
        assert!(writer.advance(u64::MAX).is_err());
        assert!(writer.next_slice_mut().is_none());
    });
}

fn io_slices_mut_of_overlapping_entries() {
    for &mode in MODES {
        let mock = Mock::with_mapping(mode);
        let pages = mock.add_pages([5, 9]);
        let entries = [
            (pages[0], 16, 0),
            (pages[1], 8, 0),
            (pages[0], 8, 8), // inside the first entry's bytes
        ];
        let mut built = BuiltList::new(&mock, &entries, &[2]);
        let mut called = false;
        // SAFETY: the entries lie on frames of the mock and nothing else
        // reaches them while the view is used. They overlap, against
        // `list_mut`'s rule, on purpose: safe code can no longer make such a
        // view (a writable table never describes a page twice), and this
        // checks the library's own guard, which refuses the list before
        // making any slice, so no two `&mut` ever reach the same byte.
        let list = unsafe { built.list_mut(&mock) };
        let result = with_io_slices_mut(list, |_| called = true);
        assert_eq!(
            result,
            Err(Error::Overlap {
                first: 0,
                second: 2
            })
        );
        assert!(!called, "the closure never sees overlapping slices");
        drop(built);
        mock.assert_clean();
    }
}
