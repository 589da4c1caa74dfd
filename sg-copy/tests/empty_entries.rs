//! Entries without bytes change nothing: a list with any number of leading
//! or interleaved empty entries (zero length, with or without a page) goes
//! through every vectored entry point exactly like the same list without
//! them — the same io slices, the same bytes written and read, the same
//! counts — including lists whose first `MAX_IO_SLICES` entries or more are
//! empty, and lists whose pieces outnumber their entries.

use std::io::IoSlice;

use quickcheck::TestResult;
use sg_alloc::{SgTable, SliceTable};
use sg_copy::{with_io_slices, with_io_slices_mut};
use sg_core::{PageProvider, SgList};
use sg_testkit::{EntryLayout, Mapping, MockPage, TEST_PAGE_SIZE, TestPages, checker};

/// Where empty entries go: `leading` picks how many come first, `between`
/// (cycled) how many follow each entry with bytes.
#[derive(Clone, Debug)]
struct Empties {
    leading: u8,
    between: Vec<u8>,
}

impl quickcheck::Arbitrary for Empties {
    fn arbitrary(g: &mut quickcheck::Gen) -> Self {
        Empties {
            leading: u8::arbitrary(g),
            between: Vec::arbitrary(g),
        }
    }
}

impl Empties {
    /// Empty entries before the first entry with bytes: none, a few, or
    /// more than one system call takes (fewer under Miri, where the file
    /// tests do not run).
    fn leading(&self) -> usize {
        let many = if cfg!(miri) { 40 } else { 1100 };
        [0, 1, 5, many][usize::from(self.leading % 4)]
    }

    /// Empty entries after the entry with bytes at `index`.
    fn after(&self, index: usize) -> usize {
        match self.between.len() {
            0 => 0,
            n => usize::from(self.between[index % n] % 3),
        }
    }
}

/// One entry: a page, an offset and a length, or no page at all.
type Spec = Option<(MockPage, u32, u32)>;

/// A table over `mock` holding `specs` in order.
fn table<'m>(mock: &'m TestPages, specs: &[Spec]) -> SgTable<&'m TestPages> {
    let mut table = SgTable::new(mock, specs.len()).expect("a table");
    for (mut entry, spec) in table.entries_mut().zip(specs) {
        if let Some((page, offset, len)) = *spec {
            // SAFETY: bytes of an entry of a built layout, which lie on the
            // mock's frames (or none of them, for an empty entry); the two
            // tables of a case are never written through at the same time.
            unsafe { entry.set_page(page, offset, len) };
        }
    }
    table
}

/// The entries with bytes of `layout` built over `mock`, and the same
/// entries with `empties` added: half of the empty entries name a page and
/// a length of 0, the other half are left without a page.
fn specs(mock: &TestPages, layout: &EntryLayout, empties: &Empties) -> (Vec<Spec>, Vec<Spec>) {
    let built = layout.scaled(TEST_PAGE_SIZE).build(mock);
    let list = built.list(mock);
    let plain: Vec<Spec> = list
        .iter()
        .filter(|entry| !entry.is_empty())
        .map(|entry| Some((entry.page().expect("a page"), entry.offset(), entry.len())))
        .collect();
    let Some(Some((some_page, _, _))) = plain.first().copied() else {
        return (plain, Vec::new());
    };
    let empty = |count: usize| -> Vec<Spec> {
        (0..count)
            .map(|index| (index % 2 == 0).then_some((some_page, 0, 0)))
            .collect()
    };
    let mut padded = empty(empties.leading());
    for (index, spec) in plain.iter().enumerate() {
        padded.push(*spec);
        padded.extend(empty(empties.after(index)));
    }
    (plain, padded)
}

/// The bytes of each io slice the list gives.
fn io_slices<P: PageProvider>(list: SgList<'_, P>) -> Vec<Vec<u8>> {
    with_io_slices(list, |slices: &[IoSlice<'_>]| {
        slices.iter().map(|slice| slice.to_vec()).collect()
    })
}

/// Writes byte `n` of a running count through the list's mutable io
/// slices; returns the slices' lengths.
fn write_count(table: &mut SgTable<&TestPages>) -> Vec<usize> {
    with_io_slices_mut(table.as_list_mut(), |slices| {
        let mut next = 0u8;
        slices
            .iter_mut()
            .map(|slice| {
                for byte in slice.iter_mut() {
                    *byte = next;
                    next = next.wrapping_add(7);
                }
                slice.len()
            })
            .collect()
    })
    .expect("built entries do not overlap")
}

/// A table over a mock.
type Table<'m> = SgTable<&'m TestPages>;

/// Runs `check` with a mock filled from `seed`, the layout's entries with
/// bytes as a table, and the same entries with `empties` added as another;
/// then checks that no mapping is left. Discards layouts without bytes.
fn case(
    layout: &EntryLayout,
    empties: &Empties,
    seed: u64,
    check: impl for<'m> FnOnce(&'m TestPages, Table<'m>, Table<'m>),
) -> TestResult {
    let mock = TestPages::with_mapping(Mapping::Direct);
    let (plain, padded) = specs(&mock, layout, empties);
    if plain.is_empty() {
        return TestResult::discard();
    }
    mock.fill(seed);
    check(&mock, table(&mock, &plain), table(&mock, &padded));
    assert_eq!(mock.live_mappings(), 0);
    TestResult::passed()
}

#[test]
fn empty_entries_change_no_io_slice() {
    fn property(layout: EntryLayout, empties: Empties, seed: u64) -> TestResult {
        case(&layout, &empties, seed, |mock, mut plain, mut padded| {
            assert_eq!(padded.byte_len(), plain.byte_len());
            assert_eq!(io_slices(padded.as_list()), io_slices(plain.as_list()));

            let written = write_count(&mut padded);
            let through_padded = mock.list_bytes(plain.as_list());
            mock.fill(seed);
            assert_eq!(write_count(&mut plain), written);
            assert_eq!(mock.list_bytes(plain.as_list()), through_padded);
        })
    }
    checker(64).quickcheck(property as fn(EntryLayout, Empties, u64) -> TestResult);
}

#[cfg(all(unix, feature = "fs"))]
mod file {
    use sg_copy::{MAX_IO_SLICES, read_at, read_exact_at, write_all_at, write_at};
    use sg_core::{SgEntry, SgList, SgListMut};
    use sg_testkit::{MockPages, TempFile};

    use super::*;

    #[test]
    #[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
    fn empty_entries_change_nothing_a_file_sees() {
        fn property(layout: EntryLayout, empties: Empties, seed: u64) -> TestResult {
            case(&layout, &empties, seed, |mock, mut plain, mut padded| {
                let len = plain.byte_len();

                // Writing: the same count from one call, the same file from
                // the whole.
                let (once_plain, all_plain) = (
                    TempFile::new("empty-entries"),
                    TempFile::new("empty-entries"),
                );
                let (once_padded, all_padded) = (
                    TempFile::new("empty-entries"),
                    TempFile::new("empty-entries"),
                );
                let one = write_at(&once_plain.file, plain.as_list(), 3).unwrap();
                assert_eq!(
                    write_at(&once_padded.file, padded.as_list(), 3).unwrap(),
                    one
                );
                assert!(one > 0);
                assert_eq!(once_padded.bytes(), once_plain.bytes());
                write_all_at(&all_plain.file, plain.as_list(), 3).unwrap();
                write_all_at(&all_padded.file, padded.as_list(), 3).unwrap();
                let file = all_plain.bytes();
                assert_eq!(all_padded.bytes(), file);
                assert_eq!(file.len() as u64, 3 + len);

                // Reading: a file of other bytes, read back through each.
                let other: Vec<u8> = file.iter().map(|byte| byte ^ 0x5a).collect();
                std::fs::write(all_plain.path(), &other).unwrap();
                mock.fill(seed);
                let one = read_at(&all_plain.file, plain.as_list_mut(), 3).unwrap();
                let after_plain = mock.list_bytes(plain.as_list());
                mock.fill(seed);
                assert_eq!(
                    read_at(&all_plain.file, padded.as_list_mut(), 3).unwrap(),
                    one
                );
                assert_eq!(mock.list_bytes(plain.as_list()), after_plain);
                read_exact_at(&all_plain.file, plain.as_list_mut(), 3).unwrap();
                let whole = mock.list_bytes(plain.as_list());
                assert_eq!(whole, other[3..]);
                mock.fill(seed);
                read_exact_at(&all_plain.file, padded.as_list_mut(), 3).unwrap();
                assert_eq!(mock.list_bytes(plain.as_list()), whole);
            })
        }
        checker(40).quickcheck(property as fn(EntryLayout, Empties, u64) -> TestResult);
    }

    /// The case of the issue: 1099 entries of length 0, then one of 8
    /// bytes, written whole and read back whole.
    #[test]
    #[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
    fn eight_bytes_after_1099_empty_entries_go_through() {
        let file = TempFile::new("empty-entries");
        let mut empty: Vec<[u8; 0]> = vec![[]; 1099];
        let mut data = *b"8 bytes!";
        let mut iov: Vec<&mut [u8]> = empty.iter_mut().map(|slice| &mut slice[..]).collect();
        iov.push(&mut data);
        let mut table = SliceTable::new(&mut iov).unwrap();
        assert!(table.orig_nents() > MAX_IO_SLICES);
        assert_eq!(write_at(&file.file, table.as_list(), 0).unwrap(), 8);
        write_all_at(&file.file, table.as_list(), 8).unwrap();
        assert_eq!(file.bytes(), b"8 bytes!8 bytes!");

        std::fs::write(file.path(), b"-------- another").unwrap();
        assert_eq!(read_at(&file.file, table.as_list_mut(), 0).unwrap(), 8);
        read_exact_at(&file.file, table.as_list_mut(), 8).unwrap();
        drop(table);
        assert_eq!(&data, b" another");
    }

    /// Pieces, not entries, are what a call is limited to: on a provider
    /// mapped page by page, `MAX_IO_SLICES` entries that each cross a page
    /// boundary make twice as many pieces, of which one call takes half.
    #[test]
    #[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
    fn entries_of_two_pieces_each_go_through_in_calls_the_system_takes() {
        const PAGE: usize = 4096;
        let mock = MockPages::<PAGE>::with_mapping(sg_testkit::Mapping::Direct);
        let pages = mock.add_run(10, MAX_IO_SLICES as u64 + 1);
        mock.fill(3);
        let mut entries: Vec<SgEntry<MockPage>> =
            (0..MAX_IO_SLICES).map(|_| SgEntry::default()).collect();
        sg_core::init_table(&mut entries).unwrap();
        for (index, entry) in entries.iter_mut().enumerate() {
            // SAFETY: a page's worth of bytes from the middle of page
            // `index` into page `index + 1`, all on the mock's frames; the
            // entries are read only.
            unsafe { entry.set_page(pages[index], 100, PAGE as u32) };
        }
        // SAFETY: the entries describe bytes of the mock's frames, only
        // read while the view is used.
        let list = unsafe { SgList::new(&entries, &mock) };
        let file = TempFile::new("empty-entries");
        // Two pieces an entry: one call takes the first half of the entries,
        // and maps only the pieces it hands over.
        let mapped = mock.total_mappings();
        let first = write_at(&file.file, list, 0).unwrap();
        assert_eq!(first, MAX_IO_SLICES / 2 * PAGE);
        assert_eq!(mock.total_mappings() - mapped, MAX_IO_SLICES);
        write_all_at(&file.file, list, 0).unwrap();
        assert_eq!(file.bytes(), mock.list_bytes(list));

        // Reading back other bytes through the same entries.
        let other: Vec<u8> = file.bytes().iter().map(|byte| !byte).collect();
        std::fs::write(file.path(), &other).unwrap();
        // SAFETY: as above; the bytes are written only through this view,
        // and `list` is not used while it lives.
        let view = unsafe { SgListMut::new(&mut entries, &mock) };
        read_exact_at(&file.file, view, 0).unwrap();
        // SAFETY: as above.
        let list = unsafe { SgList::new(&entries, &mock) };
        assert_eq!(mock.list_bytes(list), other);
        assert_eq!(mock.live_mappings(), 0);
    }

    /// An entry over more pages than a call takes pieces, after a small
    /// one: a call takes the small entry and `MAX_IO_SLICES - 1` pages of
    /// the long one (the first from the entry's offset on), mapping just
    /// those, and the whole goes through.
    #[test]
    #[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
    fn an_entry_of_more_pages_than_a_call_takes_goes_in_calls_of_whole_pages() {
        const PAGE: usize = 4096;
        let mock = MockPages::<PAGE>::with_mapping(sg_testkit::Mapping::Direct);
        let pages = mock.add_run(10, MAX_IO_SLICES as u64 + 80);
        let small = mock.add_pages([5000])[0];
        mock.fill(5);
        let mut entries: [SgEntry<MockPage>; 2] = Default::default();
        sg_core::init_table(&mut entries).unwrap();
        let len = (MAX_IO_SLICES + 70) * PAGE;
        // SAFETY: 10 bytes of a lone page, then bytes 100.. of the run's
        // pages, all on the mock's frames; the entries are read only.
        unsafe {
            entries[0].set_page(small, 0, 10);
            entries[1].set_page(pages[0], 100, len as u32);
        }
        // SAFETY: the entries describe bytes of the mock's frames, only
        // read while the view is used.
        let list = unsafe { SgList::new(&entries, &mock) };
        let file = TempFile::new("empty-entries");
        let mapped = mock.total_mappings();
        let first = write_at(&file.file, list, 0).unwrap();
        assert_eq!(first, 10 + (PAGE - 100) + (MAX_IO_SLICES - 2) * PAGE);
        assert_eq!(mock.total_mappings() - mapped, MAX_IO_SLICES);
        write_all_at(&file.file, list, 0).unwrap();
        assert_eq!(file.bytes(), mock.list_bytes(list));
        assert_eq!(mock.live_mappings(), 0);
    }
}
