//! Byte-range slices against the model: on `slice(skip, len)` of a list,
//! every operation (copies both ways, zeroing, mapping iteration for reading
//! and writing, page iteration, nested slices, the io cursors and io
//! slices) sees exactly `model[skip..skip + len]`, on lists that walk to
//! learn their length and on tables that know it; slicing past the end is a
//! typed error.

use std::io::{Read, Seek, SeekFrom, Write};

use quickcheck::TestResult;
use sg_alloc::SgTable;
use sg_copy::{
    ListCursor, ListReader, copy_from_slice, copy_to_slice, with_io_slices, with_io_slices_mut,
    zero,
};
use sg_core::{Error, PageProvider, SgList, SgListMut};
use sg_iter::{MappingIter, MappingIterMut, PageIter};
use sg_testkit::{
    BuiltList, EntryLayout, Mapping, MockPage, Model, SkipLen, TEST_PAGE_SIZE, TestPages, checker,
};

type Mock = TestPages;

/// Which view of the list the operations get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A list built by hand: its views walk to learn their length.
    Walked,
    /// A table over the same entries: its views know their length.
    Table,
}

const KINDS: [Kind; 2] = [Kind::Walked, Kind::Table];

const MODES: [Mapping; 3] = [Mapping::Copied, Mapping::Direct, Mapping::Linear];

/// The mapping modes a case runs in: all of them, or under Miri (where
/// every byte costs a thousand times more) the one `pick` chooses.
fn modes(pick: u8) -> Vec<Mapping> {
    if cfg!(miri) {
        vec![MODES[usize::from(pick) % MODES.len()]]
    } else {
        MODES.to_vec()
    }
}

/// A mock of the given mode holding the layout's list, filled with bytes.
fn setup(layout: &EntryLayout, mode: Mapping, seed: u64) -> (Mock, BuiltList<MockPage>) {
    let mock = Mock::with_mapping(mode);
    let built = layout.scaled(TEST_PAGE_SIZE).build(&mock);
    mock.fill(seed);
    (mock, built)
}

/// A table with the same entries as `built`, over the same pages.
fn table_of<'m>(provider: &'m Mock, built: &BuiltList<MockPage>) -> SgTable<&'m Mock> {
    let list = built.list(provider);
    let mut table = SgTable::new(provider, list.count()).expect("a table");
    for (mut entry, source) in table.entries_mut().zip(list.iter()) {
        let page = source.page().expect("built entries have pages");
        // SAFETY: the bytes of an entry of `built`, which `BuiltList::new`
        // checked lie on the mock's frames; the table and the built list are
        // never written through at the same time.
        unsafe { entry.set_page(page, source.offset(), source.len()) };
    }
    table
}

/// The lists a case works on: the hand-built one and its table twin.
struct Lists<'m> {
    provider: &'m &'m Mock,
    built: BuiltList<MockPage>,
    table: SgTable<&'m Mock>,
}

impl<'m> Lists<'m> {
    fn new(provider: &'m &'m Mock, built: BuiltList<MockPage>) -> Self {
        let table = table_of(provider, &built);
        Lists {
            provider,
            built,
            table,
        }
    }

    fn view(&self, kind: Kind) -> SgList<'_, &'m Mock> {
        match kind {
            // SAFETY: `BuiltList::new` checked the entries against the mock
            // that `provider` refers to (and forwards to); the view only
            // reads, and `&self` keeps the table twin from writing meanwhile.
            Kind::Walked => unsafe { self.built.list_via(self.provider) },
            Kind::Table => self.table.as_list(),
        }
    }

    fn view_mut(&mut self, kind: Kind) -> SgListMut<'_, &'m Mock> {
        match kind {
            // SAFETY: as in `view`; the layout's entries lie on disjoint
            // bytes, and `&mut self` keeps the table twin unused meanwhile.
            Kind::Walked => unsafe { self.built.list_mut(self.provider) },
            Kind::Table => self.table.as_list_mut(),
        }
    }
}

/// A skip and length inside a list of `total` bytes.
fn inside(range: SkipLen, total: u64) -> (u64, u64) {
    let range = range.scaled(TEST_PAGE_SIZE);
    let skip = range.skip % (total + 1);
    (skip, range.len % (total - skip + 1))
}

/// `len` bytes that differ from the mock's fill.
fn data(len: u64, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|index| (index as u8).wrapping_mul(29).wrapping_add(seed) | 1)
        .collect()
}

/// Runs `operation` on the model of bytes `skip..skip + len` of `model`
/// and writes them back: what an operation on the slice must do to the
/// whole list.
fn on_range<R>(
    model: &mut Model,
    skip: u64,
    len: u64,
    operation: impl FnOnce(&mut Model) -> R,
) -> R {
    let mut range = Model::new(model.range(skip, len).expect("inside").to_vec());
    let result = operation(&mut range);
    model.copy_from_slice(skip, range.bytes());
    result
}

/// Writes `bytes` until all are written or the writer takes no more;
/// returns how many it took.
fn write_until_full(writer: &mut impl Write, mut bytes: &[u8]) -> std::io::Result<usize> {
    let mut written = 0;
    while !bytes.is_empty() {
        let count = writer.write(bytes)?;
        if count == 0 {
            break;
        }
        written += count;
        bytes = &bytes[count..];
    }
    Ok(written)
}

/// Every byte a mapping iterator hands out, consuming all of each.
fn mapped_bytes<P: PageProvider>(mut mappings: MappingIter<'_, P>) -> Vec<u8> {
    let mut bytes = Vec::new();
    while let Some(piece) = mappings.next_slice() {
        bytes.extend_from_slice(piece);
    }
    bytes
}

#[test]
fn prop_reading_a_slice_reads_exactly_its_range() {
    // Copies, mapping iteration, the reader and io slices on slice(skip, len) read model[skip..skip+len].
    fn property(layout: EntryLayout, range: SkipLen, inner: u16, pick: u8) -> TestResult {
        for mode in modes(pick) {
            let (mock, built) = setup(&layout, mode, 41);
            let provider = &mock;
            let lists = Lists::new(&provider, built);
            let model = Model::from_list(&mock, lists.view(Kind::Walked));
            let (skip, len) = inside(range, model.len() as u64);
            let expected = Model::new(model.range(skip, len).expect("inside").to_vec());
            let inner = u64::from(inner) % (len + 2);
            for kind in KINDS {
                let slice = lists.view(kind).slice(skip, len).expect("inside");
                let context = format!("{mode:?} {kind:?} slice({skip}, {len}) from {inner}");
                if slice.byte_len() != len
                    || slice
                        .segments()
                        .map(|segment| u64::from(segment.len))
                        .sum::<u64>()
                        != len
                {
                    return TestResult::error(format!("{context}: length"));
                }
                let mut read = vec![0xEE; len as usize + 3];
                let mut wanted = read.clone();
                let count = copy_to_slice(slice, inner, &mut read);
                if count != expected.copy_to_slice(inner, &mut wanted) || read != wanted {
                    return TestResult::error(format!("{context}: copy_to_slice"));
                }
                if mapped_bytes(MappingIter::new(slice)) != expected.bytes()
                    || mapped_bytes(MappingIter::new(slice).page_by_page()) != expected.bytes()
                    || mapped_bytes(MappingIter::new(slice).merge_adjacent()) != expected.bytes()
                {
                    return TestResult::error(format!("{context}: mapping iteration"));
                }
                let mut skipped = MappingIter::new(slice);
                let in_range = skipped.advance(inner).is_ok();
                let rest = mapped_bytes(skipped);
                let tail = expected.bytes().get(inner as usize..).unwrap_or(&[]);
                if in_range != (inner <= len) || rest != tail {
                    return TestResult::error(format!("{context}: mapping iteration after skip"));
                }
                let mut reader = ListReader::new(slice);
                let mut all = Vec::new();
                let mut from_inner = Vec::new();
                let io = reader
                    .read_to_end(&mut all)
                    .and_then(|_| reader.seek(SeekFrom::Start(inner)))
                    .and_then(|_| reader.read_to_end(&mut from_inner));
                if io.is_err() || all != expected.bytes() || from_inner != tail {
                    return TestResult::error(format!("{context}: ListReader"));
                }
                drop(reader);
                let vectored = with_io_slices(slice, |slices| {
                    slices
                        .iter()
                        .flat_map(|slice| slice.iter().copied())
                        .collect::<Vec<u8>>()
                });
                if vectored != expected.bytes() {
                    return TestResult::error(format!("{context}: io slices"));
                }
            }
            if mock.live_mappings() != 0 {
                return TestResult::error(format!("{mode:?}: a mapping is still live"));
            }
        }
        TestResult::passed()
    }
    checker(120).quickcheck(property as fn(EntryLayout, SkipLen, u16, u8) -> TestResult);
}

#[test]
fn prop_writing_a_slice_changes_exactly_its_range() {
    // Copies, zeroing, mapping iteration, the cursor and io slices on slice_mut(skip, len) change model[skip..skip+len] only.
    fn property(
        layout: EntryLayout,
        range: SkipLen,
        inner: u16,
        count: u16,
        pick: u8,
    ) -> TestResult {
        for mode in modes(pick) {
            let (mock, built) = setup(&layout, mode, 42);
            let provider = &mock;
            let mut lists = Lists::new(&provider, built);
            let mut model = Model::from_list(&mock, lists.view(Kind::Walked));
            let (skip, len) = inside(range, model.len() as u64);
            let inner = u64::from(inner) % (len + 2);
            let count = u64::from(count) % (len + 2);
            for kind in KINDS {
                let context = format!("{mode:?} {kind:?} slice_mut({skip}, {len}) from {inner}");
                let check = |model: &Model, lists: &Lists<'_>, what: &str| match model
                    .check(&mock, lists.view(Kind::Walked))
                {
                    Ok(()) if mock.live_mappings() == 0 => Ok(()),
                    Ok(()) => Err(format!("{context}: {what}: a mapping is still live")),
                    Err(mismatch) => Err(format!("{context}: {what}: {mismatch}")),
                };

                let mut view = lists.view_mut(kind);
                let zeroed = zero(view.slice_mut(skip, len).expect("inside"), inner, count);
                let expected = on_range(&mut model, skip, len, |range| {
                    range.zero(inner, count as usize)
                });
                if zeroed != expected as u64 {
                    return TestResult::error(format!("{context}: zero counted {zeroed}"));
                }
                if let Err(error) = check(&model, &lists, "zero") {
                    return TestResult::error(error);
                }

                let bytes = data(count, 3);
                let mut view = lists.view_mut(kind);
                let written =
                    copy_from_slice(view.slice_mut(skip, len).expect("inside"), inner, &bytes);
                let expected = on_range(&mut model, skip, len, |range| {
                    range.copy_from_slice(inner, &bytes)
                });
                if written != expected {
                    return TestResult::error(format!(
                        "{context}: copy_from_slice counted {written}"
                    ));
                }
                if let Err(error) = check(&model, &lists, "copy_from_slice") {
                    return TestResult::error(error);
                }

                let pattern = data(len, 5);
                let mut view = lists.view_mut(kind);
                let mut mappings = MappingIterMut::new(view.slice_mut(skip, len).expect("inside"));
                let mut at = 0;
                while let Some(piece) = mappings.next_slice_mut() {
                    piece.copy_from_slice(&pattern[at..at + piece.len()]);
                    at += piece.len();
                }
                drop(mappings);
                on_range(&mut model, skip, len, |range| {
                    range.copy_from_slice(0, &pattern)
                });
                if let Err(error) = check(&model, &lists, "MappingIterMut") {
                    return TestResult::error(error);
                }

                let bytes = data(count, 7);
                let mut view = lists.view_mut(kind);
                let mut cursor = ListCursor::new(view.slice_mut(skip, len).expect("inside"));
                let io = cursor
                    .seek(SeekFrom::Start(inner))
                    .and_then(|_| write_until_full(&mut cursor, &bytes));
                let full = cursor.write(&[1]);
                drop(cursor);
                let expected = on_range(&mut model, skip, len, |range| {
                    range.copy_from_slice(inner, &bytes)
                });
                let room = len.saturating_sub(inner);
                let fits = room > count;
                match (io, full) {
                    (Ok(wrote), Ok(more)) if wrote == expected && more == usize::from(fits) => {}
                    other => {
                        return TestResult::error(format!("{context}: ListCursor wrote {other:?}"));
                    }
                }
                if fits {
                    on_range(&mut model, skip, len, |range| {
                        range.copy_from_slice(inner + count, &[1])
                    });
                }
                if let Err(error) = check(&model, &lists, "ListCursor") {
                    return TestResult::error(error);
                }

                let pattern = data(len, 11);
                let mut view = lists.view_mut(kind);
                let filled =
                    with_io_slices_mut(view.slice_mut(skip, len).expect("inside"), |slices| {
                        let mut source: &[u8] = &pattern;
                        slices
                            .iter_mut()
                            .map(|slice| source.read(slice).unwrap_or(0))
                            .sum::<usize>()
                    });
                on_range(&mut model, skip, len, |range| {
                    range.copy_from_slice(0, &pattern)
                });
                if filled != Ok(len as usize) {
                    return TestResult::error(format!("{context}: io slices filled {filled:?}"));
                }
                if let Err(error) = check(&model, &lists, "io slices") {
                    return TestResult::error(error);
                }
            }
        }
        TestResult::passed()
    }
    checker(100).quickcheck(property as fn(EntryLayout, SkipLen, u16, u16, u8) -> TestResult);
}

#[test]
fn prop_a_slice_of_a_slice_is_the_slice_of_the_range() {
    // slice(s1, l1).slice(s2, l2) is slice(s1 + s2, l2) when s2 + l2 <= l1, and a typed error otherwise.
    fn property(layout: EntryLayout, range: SkipLen, inner: (u16, u16)) -> TestResult {
        let (mock, built) = setup(&layout, Mapping::Linear, 43);
        let provider = &mock;
        let mut lists = Lists::new(&provider, built);
        let mut model = Model::from_list(&mock, lists.view(Kind::Walked));
        let (skip, len) = inside(range, model.len() as u64);
        let (inner_skip, inner_len) = (
            u64::from(inner.0) % (len + 2),
            u64::from(inner.1) % (len + 2),
        );
        let fits = inner_skip + inner_len <= len;
        for kind in KINDS {
            let outer = lists.view(kind).slice(skip, len).expect("inside");
            let context = format!("{kind:?} slice({skip}, {len}).slice({inner_skip}, {inner_len})");
            let nested = outer.slice(inner_skip, inner_len);
            if !fits {
                let refused = Err(Error::ListTooShort {
                    needed: inner_skip + inner_len,
                    available: len,
                });
                let nested = nested.map(|_| ());
                let refused_mut = lists
                    .view_mut(kind)
                    .into_slice(skip, len)
                    .and_then(|outer| outer.into_slice(inner_skip, inner_len))
                    .map(|_| ());
                if nested != refused || refused_mut != refused {
                    return TestResult::error(format!("{context}: not refused"));
                }
                continue;
            }
            let nested = nested.expect("fits");
            let direct = lists
                .view(kind)
                .slice(skip + inner_skip, inner_len)
                .expect("inside");
            let pieces = |list: SgList<'_, &Mock>| -> Vec<(u64, u64, u32)> {
                list.segments()
                    .map(|segment| (segment.page.pfn(), segment.offset, segment.len))
                    .collect()
            };
            let expected = model.range(skip + inner_skip, inner_len).expect("inside");
            if pieces(nested) != pieces(direct)
                || mock.list_bytes(nested) != expected
                || nested.byte_len() != inner_len
                || pieces(nested.slice(0, inner_len).expect("whole")) != pieces(nested)
            {
                return TestResult::error(format!("{context}: differs from the direct slice"));
            }
            let bytes = data(inner_len, 13);
            let written = copy_from_slice(
                lists
                    .view_mut(kind)
                    .into_slice(skip, len)
                    .and_then(|outer| outer.into_slice(inner_skip, inner_len))
                    .expect("fits"),
                0,
                &bytes,
            );
            model.copy_from_slice(skip + inner_skip, &bytes);
            if written as u64 != inner_len || model.check(&mock, lists.view(Kind::Walked)).is_err()
            {
                return TestResult::error(format!("{context}: writing the nested slice"));
            }
        }
        TestResult::passed()
    }
    checker(150).quickcheck(property as fn(EntryLayout, SkipLen, (u16, u16)) -> TestResult);
}

/// The pages a page iterator visits for bytes `skip..skip + len` of
/// `list`, as `PageIter` documents it for slices, computed from the whole
/// list's entries: for each entry from the one holding byte `skip` to the
/// one holding the last byte, the pages its bytes in the range touch (from
/// the entry's page when the range starts at or before the entry's first
/// byte), and for a zero-length entry between them the pages below its
/// offset.
fn pages_touched(list: SgList<'_, &Mock>, skip: u64, len: u64) -> Vec<MockPage> {
    let page_size = TEST_PAGE_SIZE as u64;
    let end = skip + len;
    let mut pages = Vec::new();
    if len == 0 {
        return pages;
    }
    let mut start = 0u64;
    let mut started = false;
    for entry in list.iter() {
        let length = u64::from(entry.len());
        let offset = u64::from(entry.offset());
        let entry_end = start + length;
        let page = entry.page().expect("built entries have pages");
        started |= length > 0 && entry_end > skip;
        if started {
            let (first, last) = if length == 0 {
                (0, offset.div_ceil(page_size))
            } else {
                let from = skip.max(start) - start;
                let to = end.min(entry_end) - start;
                let first = if from > 0 {
                    (offset + from) / page_size
                } else {
                    0
                };
                (first, (offset + to).div_ceil(page_size))
            };
            pages.extend((first..last).map(|index| MockPage::new(page.pfn() + index)));
            if entry_end >= end {
                break;
            }
        }
        start = entry_end;
    }
    pages
}

#[test]
fn prop_page_iteration_of_a_slice_visits_the_pages_its_bytes_touch() {
    // PageIter over slice(skip, len), from any page offset, visits the pages the range's bytes touch.
    fn property(layout: EntryLayout, range: SkipLen, pgoffset: u8) -> TestResult {
        // The bytes are not read: only the layout matters.
        let (mock, built) = setup(&layout, Mapping::Copied, 0);
        let provider = &mock;
        let lists = Lists::new(&provider, built);
        let whole = lists.view(Kind::Walked);
        let (skip, len) = inside(range, whole.byte_len());
        let expected = pages_touched(whole, skip, len);
        // Every byte of the range lies in a page the oracle lists.
        let covered = whole
            .slice(skip, len)
            .expect("inside")
            .segments()
            .all(|segment| {
                let first = segment.offset / TEST_PAGE_SIZE as u64;
                let last = (segment.offset + u64::from(segment.len) - 1) / TEST_PAGE_SIZE as u64;
                (first..=last)
                    .all(|index| expected.contains(&MockPage::new(segment.page.pfn() + index)))
            });
        if !covered {
            return TestResult::error("the oracle misses a page of the range");
        }
        let pgoffset = usize::from(pgoffset) % (expected.len() + 2);
        let expected_from = expected.get(pgoffset..).unwrap_or(&[]).to_vec();
        for kind in KINDS {
            let slice = lists.view(kind).slice(skip, len).expect("inside");
            let visited: Vec<MockPage> = PageIter::new(slice, 0).collect();
            let from: Vec<MockPage> = PageIter::new(slice, pgoffset).collect();
            if visited != expected || from != expected_from {
                return TestResult::error(format!(
                    "{kind:?} slice({skip}, {len}): visited {visited:?}, expected {expected:?}"
                ));
            }
        }
        TestResult::passed()
    }
    checker(200).quickcheck(property as fn(EntryLayout, SkipLen, u8) -> TestResult);
}

#[test]
fn prop_a_slice_past_the_end_is_a_typed_error() {
    // slice(skip, len) with skip + len past the end is ListTooShort (needed, available), and Overflow past u64::MAX.
    fn property(layout: EntryLayout, range: SkipLen, past: u16) -> TestResult {
        // The bytes are not read: only the layout matters.
        let (mock, built) = setup(&layout, Mapping::Copied, 0);
        let provider = &mock;
        let mut lists = Lists::new(&provider, built);
        let total = lists.view(Kind::Walked).byte_len();
        let range = range.scaled(TEST_PAGE_SIZE);
        // A range that ends 1 + past bytes after the list.
        let skip = range.skip % (total + u64::from(past) + 2);
        let len = (total + 1 + u64::from(past)).saturating_sub(skip).max(1);
        let refused = Err(Error::ListTooShort {
            needed: skip + len,
            available: total,
        });
        for kind in KINDS {
            let view = lists.view(kind);
            let overflow = Err(Error::Overflow { what: "slice end" });
            if view.slice(skip, len).map(|_| ()) != refused
                || view.slice(u64::MAX, 1).map(|_| ()) != overflow
                || view.slice(1, u64::MAX).map(|_| ()) != overflow
                || lists.view_mut(kind).into_slice(skip, len).map(|_| ()) != refused
            {
                return TestResult::error(format!("{kind:?} slice({skip}, {len}) of {total}"));
            }
        }
        TestResult::passed()
    }
    checker(200).quickcheck(property as fn(EntryLayout, SkipLen, u16) -> TestResult);
}

#[test]
fn slices_at_the_very_ends_are_empty_or_whole() {
    let mock = Mock::new();
    let pages = mock.add_pages([3, 4]);
    mock.fill(1);
    let built = BuiltList::new(
        &mock,
        &[(pages[0], 10, 5), (pages[1], 0, 0), (pages[1], 20, 0)],
        &[1],
    );
    let provider = &mock;
    let lists = Lists::new(&provider, built);
    for kind in KINDS {
        let view = lists.view(kind);
        let whole = view.slice(0, 30).unwrap();
        assert_eq!(mock.list_bytes(whole), mock.list_bytes(view));
        // A zero-length slice anywhere up to the end holds nothing.
        for skip in [0, 10, 30] {
            let empty = view.slice(skip, 0).unwrap();
            assert!(empty.is_empty() && empty.count() == 0 && empty.byte_len() == 0);
            assert_eq!(PageIter::new(empty, 0).count(), 0);
            assert_eq!(copy_to_slice(empty, 0, &mut [0; 4]), 0);
        }
        // A range starting on an entry boundary skips the empty entry.
        let second = view.slice(10, 20).unwrap();
        assert_eq!(second.count(), 1);
        assert_eq!(
            second.first().and_then(|entry| entry.page()),
            Some(pages[1])
        );
    }
}
