//! List algebra on tables: join (chaining one table after another, taking
//! its arrays over) and clone (into new arrays, optionally merged).

mod common;

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Entry, Mock, PAGE, entries, fill_list, raw, scaled_layout, spans};
use quickcheck::{Arbitrary, Gen, TestResult};
use sg_alloc::{
    AppendPages, AppendTable, FirstChunk, JoinFailure, SameSource, SgTable, arrays_needed, split,
};
use sg_core::{Access, ChunkAllocator, Error, HeapChunks, PageProvider, Pages, Read, VirtPages};
use sg_testkit::{
    BuiltList, CountingChunks, EntryLayout, MockPage, PageLayout, checker, for_each_chunk_failure,
};

/// The pages of a test as one set over its mock: the provider of every
/// table of the test that joins another (`&Pages` is the same source as
/// itself only), and the pages that tables built from pages use.
type Set<'a> = Pages<&'a Mock, &'a [MockPage]>;

/// The tables that join. Read-only: two tables built from pages of one set
/// borrow it shared (rule: only an exclusive proof of pages makes a
/// writable table), and so an exact table that joins them is read-only too.
type Table<'s, 'a> = SgTable<&'s Set<'a>, &'s CountingChunks, Read>;

/// [`exact_table`], writable: its entries must not share a byte.
fn exact_table_mut<'s, 'a>(
    set: &'s Set<'a>,
    chunks: &'s CountingChunks,
    entries: &[(MockPage, u32, u32)],
) -> Result<SgTable<&'s Set<'a>, &'s CountingChunks>, Error> {
    let mut table = SgTable::new_in(set, entries.len(), chunks)?;
    for (mut entry, &(page, length, offset)) in table.entries_mut().zip(entries) {
        // SAFETY: the entries come from a `BuiltList` over the set's mock,
        // which checked that their bytes lie on the mock's frames; the
        // callers give disjoint entries, or make the table read-only.
        unsafe { entry.set_page(page, offset, length) };
    }
    Ok(table)
}

/// A read-only table of `entries` (page, length, offset) in arrays from
/// `chunks`, mapped through `set`: every array full, the last one holding
/// exactly the rest.
fn exact_table<'s, 'a>(
    set: &'s Set<'a>,
    chunks: &'s CountingChunks,
    entries: &[(MockPage, u32, u32)],
) -> Result<Table<'s, 'a>, Error> {
    exact_table_mut(set, chunks, entries).map(SgTable::into_read_only)
}

/// A table over `size` bytes of the pages at positions `pages` of `set`,
/// built as if `left_pages` more pages were to come, so that its last array
/// may keep unused slots.
fn roomy_table<'s, 'a>(
    set: &'s Set<'a>,
    chunks: &'s CountingChunks,
    pages: Range<usize>,
    size: u64,
    left_pages: usize,
) -> Result<Table<'s, 'a>, Error> {
    let mut append = AppendTable::new_in(set, chunks);
    append.append_pages(AppendPages::new(pages, size).left_pages(left_pages))?;
    append.finish()
}

/// The (page, length, offset) of every entry of a built list.
fn placed(built: &BuiltList<MockPage>, mock: &Mock) -> Vec<(MockPage, u32, u32)> {
    built
        .list(mock)
        .iter()
        .map(|entry| {
            let page = entry.page().expect("built entries have pages");
            (page, entry.len(), entry.offset())
        })
        .collect()
}

/// What a table looks like from outside: its entries and its bytes.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Snapshot {
    entries: Vec<Entry>,
    bytes: Vec<u8>,
    byte_len: u64,
    nents: usize,
}

fn snapshot<P, C, A>(mock: &Mock, table: &SgTable<P, C, A>) -> Snapshot
where
    P: PageProvider<Page = MockPage>,
    C: ChunkAllocator<MockPage>,
    A: Access,
{
    Snapshot {
        entries: entries(table.as_list()),
        bytes: mock.list_bytes(table.as_list()),
        byte_len: table.byte_len(),
        nents: table.nents(),
    }
}

/// The entries of `first` then `second`, with the end mark on the last
/// only: what joining them must give.
fn concatenation(first: &Snapshot, second: &Snapshot) -> Vec<Entry> {
    let mut joined: Vec<Entry> = first
        .entries
        .iter()
        .map(|&entry| Entry {
            last: false,
            ..entry
        })
        .collect();
    joined.extend(&second.entries);
    joined
}

/// The slots of a table's last array, and the data entries in it, from the
/// sizes of the arrays it was built with (every array but the last holds
/// its size minus one data entries).
fn tail_room(sizes: &[usize], entries: usize) -> (usize, usize) {
    let (last, before) = sizes.split_last().expect("a table has an array");
    let used = entries - before.iter().map(|size| size - 1).sum::<usize>();
    (*last, used)
}

/// The arrays a join must allocate, given the first table's last array:
/// none when exactly its last slot is free, two slots when it is full
/// (the bridge), its data entries plus one when two or more are free.
fn join_allocations(slots: usize, used: usize) -> Vec<usize> {
    match slots - used {
        0 => vec![2],
        1 => vec![],
        _ => vec![used + 1],
    }
}

/// How a test builds a table, which decides the room in its last array.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// Arrays sized exactly: the last one is full.
    Exact,
    /// Built from pages as if this many more pages were to come.
    Roomy(usize),
}

impl Arbitrary for Shape {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 3 {
            0 => Shape::Exact,
            _ => Shape::Roomy(usize::arbitrary(g) % 5),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            Shape::Exact => quickcheck::empty_shrinker(),
            Shape::Roomy(left) => {
                Box::new(std::iter::once(Shape::Exact).chain(left.shrink().map(Shape::Roomy)))
            }
        }
    }
}

/// Two tables over `set`, one after the other in one list of bytes: the
/// entries of `layout` cut at `cut` (for exact shapes), or the pages of
/// the set cut likewise (for roomy ones).
fn two_tables<'s, 'a>(
    set: &'s Set<'a>,
    chunks: &'s CountingChunks,
    layout_entries: &[(MockPage, u32, u32)],
    shapes: (Shape, Shape),
    cut: usize,
) -> Result<(Table<'s, 'a>, Table<'s, 'a>), Error> {
    let pages = set.len();
    let build = |shape: Shape, part: usize| -> Result<Table<'s, 'a>, Error> {
        match shape {
            Shape::Exact => {
                // At least one entry on each side (the layout has two).
                let at = 1 + cut % (layout_entries.len() - 1);
                let entries = if part == 0 {
                    &layout_entries[..at]
                } else {
                    &layout_entries[at..]
                };
                exact_table(set, chunks, entries)
            }
            Shape::Roomy(left_pages) => {
                // At least one page on each side (there are two).
                let at = 1 + cut % (pages - 1);
                let part = if part == 0 { 0..at } else { at..pages };
                let size = (part.len() * PAGE) as u64;
                roomy_table(set, chunks, part, size, left_pages)
            }
        }
    };
    let first = build(shapes.0, 0)?;
    let second = build(shapes.1, 1)?;
    Ok((first, second))
}

#[test]
fn prop_a_joined_table_is_the_concatenation_and_frees_every_array_once() {
    // join(a, b) iterates as a's entries then b's (entries and bytes), allocates exactly what its last array needs, and frees every array once.
    fn property(
        layout: EntryLayout,
        pages: PageLayout,
        shapes: (Shape, Shape),
        max: u8,
        cut: usize,
    ) -> TestResult {
        let layout = scaled_layout(layout);
        if layout.entries.len() < 2 || pages.len() < 2 {
            return TestResult::discard();
        }
        let mock = Mock::new();
        let built = layout.build(&mock);
        let page_handles = pages.add_to(&mock);
        let layout_entries = placed(&built, &mock);
        fill_list(&mock, built.list(&mock), 5);
        common::fill(&mock, pages.pfns(), 6);
        let chunks = CountingChunks::with_max_entries(2 + usize::from(max) % 5);
        let set = raw(&mock, &page_handles);

        let (mut first, second) = two_tables(&set, &chunks, &layout_entries, shapes, cut).unwrap();
        let first_arrays = chunks.sizes().len() - second.arrays();
        let (slots, used) = tail_room(&chunks.sizes()[..first_arrays], first.orig_nents());
        let expected_allocations = join_allocations(slots, used);
        ROOM_CASES[(slots - used).min(2)].fetch_add(1, Ordering::Relaxed);
        let (before_first, before_second) = (snapshot(&mock, &first), snapshot(&mock, &second));
        let arrays = first.arrays() + second.arrays();
        let (allocations, frees) = (chunks.allocations(), chunks.frees());

        if let Err(error) = first.join(second) {
            return TestResult::error(format!("join failed: {error}"));
        }
        let new_sizes = chunks.sizes()[allocations..].to_vec();
        if new_sizes != expected_allocations {
            return TestResult::error(format!(
                "last array of {slots} slots with {used} entries: allocated {new_sizes:?}, expected {expected_allocations:?}"
            ));
        }
        let refit = usize::from(slots - used >= 2);
        if chunks.frees() - frees != refit {
            return TestResult::error("the replaced last array was not freed exactly once");
        }
        let bridge = usize::from(slots == used);
        let after = snapshot(&mock, &first);
        let list = first.as_list();
        let checks = [
            (
                after.entries == concatenation(&before_first, &before_second),
                "entries",
            ),
            (
                after.bytes == [before_first.bytes, before_second.bytes].concat(),
                "bytes",
            ),
            (
                after.byte_len == before_first.byte_len + before_second.byte_len
                    && list.byte_len() == after.byte_len,
                "byte length",
            ),
            (
                first.orig_nents() == list.count() && first.nents() == first.orig_nents(),
                "entry counts",
            ),
            (first.arrays() == arrays + bridge, "array count"),
            (
                list.iter().all(|entry| !entry.is_chain()),
                "a link was yielded",
            ),
        ];
        if let Some((_, what)) = checks.iter().find(|(ok, _)| !ok) {
            return TestResult::error(format!("the joined table's {what} are wrong"));
        }
        drop(first);
        TestResult::from_bool(chunks.live() == 0 && chunks.allocations() == chunks.frees())
    }
    checker(150).quickcheck(
        property as fn(EntryLayout, PageLayout, (Shape, Shape), u8, usize) -> TestResult,
    );
    if !cfg!(miri) {
        let seen: Vec<usize> = ROOM_CASES
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        assert!(
            seen.iter().all(|&count| count > 0),
            "cases with 0, 1, 2+ unused slots: {seen:?}"
        );
    }
}

/// How many joined tables had 0, 1, and 2 or more unused slots in the
/// first table's last array: the property must reach every case.
static ROOM_CASES: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];

#[test]
fn each_way_of_making_room_for_the_link() {
    let mock = Mock::new();
    let pages = mock.add_run(10, 8);
    let chunks = CountingChunks::with_max_entries(4);
    let entry = |index: usize| (pages[index], 16, 0);
    let all: Vec<_> = (0..8).map(entry).collect();
    let set = raw(&mock, &pages);

    // Full last array (3 + link, then 2): the last entry moves to a bridge.
    let mut first = exact_table(&set, &chunks, &all[..5]).unwrap();
    let second = exact_table(&set, &chunks, &all[5..]).unwrap();
    assert_eq!(chunks.sizes(), [4, 2, 3]);
    first.join(second).unwrap();
    assert_eq!(chunks.sizes(), [4, 2, 3, 2]);
    assert_eq!(first.arrays(), 4);
    let pfns: Vec<u64> = spans(first.as_list()).iter().map(|span| span.0).collect();
    assert_eq!(pfns, (10..18).collect::<Vec<_>>());
    drop(first);
    assert_eq!((chunks.live(), chunks.frees()), (0, 4));

    // One unused slot: the link takes it, nothing is allocated. Pages
    // 10, 12, 14 do not merge; sized for two more pages: one array of 4.
    let chunks = CountingChunks::with_max_entries(4);
    // Both tables come from one set, so that they join: pages 10, 12, 14
    // at positions 0..3, and page 16 at 3.
    let apart = [pages[0], pages[2], pages[4], pages[6]];
    let apart_set = raw(&mock, &apart);
    let mut first = roomy_table(&apart_set, &chunks, 0..3, 3 * PAGE as u64, 1).unwrap();
    let second = roomy_table(&apart_set, &chunks, 3..4, 8, 0).unwrap();
    assert_eq!(chunks.sizes(), [4, 1]);
    first.join(second).unwrap();
    assert_eq!(chunks.sizes(), [4, 1], "nothing allocated");
    assert_eq!(spans(first.as_list()).len(), 4);
    assert_eq!(first.byte_len(), 3 * PAGE as u64 + 8);
    drop(first);
    chunks.assert_clean();

    // Several unused slots: the entries move to an array of the right size.
    let chunks = CountingChunks::with_max_entries(4);
    let mut first = roomy_table(&set, &chunks, 0..1, 40, 5).unwrap();
    let second = roomy_table(&set, &chunks, 6..7, 8, 0).unwrap();
    assert_eq!(chunks.sizes(), [4, 1]);
    first.join(second).unwrap();
    assert_eq!(chunks.sizes(), [4, 1, 2]);
    assert_eq!(chunks.frees(), 1, "the old last array was given back");
    assert_eq!(
        spans(first.as_list()),
        [(10, 0, 40), (16, 0, 8)],
        "entries in order"
    );
    drop(first);
    chunks.assert_clean();
}

#[test]
fn a_roomy_last_array_after_others_is_relinked_from_the_one_before() {
    let mock = Mock::new();
    // Eight pages that never merge: frames 0, 2, 4, ...
    let apart = mock.add_pages((0..8).map(|index| 100 + 2 * index));
    let chunks = CountingChunks::with_max_entries(4);
    // 8 entries, sized for 6 more pages: arrays of 4 (3 + link, twice),
    // then a last one with two entries and two unused slots.
    let set = raw(&mock, &apart);
    let mut first = roomy_table(&set, &chunks, 0..8, 8 * PAGE as u64, 6).unwrap();
    let sizes = chunks.sizes();
    assert_eq!(sizes, [4, 4, 4]);
    assert_eq!(tail_room(&sizes, 8), (4, 2));
    // The second table names a byte the first has: both are read-only.
    let second = exact_table(&set, &chunks, &[(apart[0], 1, 0)]).unwrap();
    first.join(second).unwrap();
    assert_eq!(chunks.sizes(), [4, 4, 4, 1, 3]);
    assert_eq!(first.arrays(), 4);
    let pfns: Vec<u64> = spans(first.as_list()).iter().map(|span| span.0).collect();
    assert_eq!(pfns, [100, 102, 104, 106, 108, 110, 112, 114, 100]);
    assert_eq!(first.as_list().count(), 9);
    drop(first);
    chunks.assert_clean();
}

#[test]
fn a_failed_join_leaves_both_tables_as_they_were() {
    let mock = Mock::new();
    let pages = mock.add_run(10, 8);
    let all: Vec<_> = (0..8).map(|index| (pages[index], 32, 0)).collect();
    let set = raw(&mock, &pages);
    for (shape, max) in [
        (Shape::Exact, 3),
        (Shape::Exact, 4),
        (Shape::Roomy(3), 4),
        (Shape::Roomy(1), 3),
    ] {
        let points = for_each_chunk_failure(Some(max), |chunks| {
            let (mut first, second) = two_tables(&set, chunks, &all, (shape, shape), 2)?;
            let (before_first, before_second) = (snapshot(&mock, &first), snapshot(&mock, &second));
            match first.join(second) {
                Ok(()) => {
                    assert_eq!(
                        entries(first.as_list()),
                        concatenation(&before_first, &before_second)
                    );
                    Ok(())
                }
                Err(failed) => {
                    let JoinFailure::Error(error) = failed.reason() else {
                        panic!("{shape:?}: not an allocation failure: {failed}");
                    };
                    let second = failed.into_table();
                    assert_eq!(snapshot(&mock, &first), before_first, "{shape:?}");
                    assert_eq!(snapshot(&mock, &second), before_second, "{shape:?}");
                    Err(error)
                }
            }
        });
        assert!(points >= 2, "{shape:?}: {points} failure points");
    }
}

#[test]
fn joining_first_chunk_tables_never_frees_a_borrowed_array() {
    let mock = Mock::new();
    let pages = mock.add_run(10, 14);
    let entry = |index: usize| (pages[index], 8, 0);
    for (first_count, second_count) in [(2, 2), (4, 4), (3, 9), (9, 3), (6, 6), (2, 1)] {
        let chunks = CountingChunks::with_max_entries(4);
        let mut first_chunk = FirstChunk::<MockPage, 4>::new();
        let mut second_chunk = FirstChunk::<MockPage, 4>::new();
        let fill = |table: &mut SgTable<&Mock, _>, from: usize| {
            for (index, mut slot) in table.entries_mut().enumerate() {
                let (page, length, offset) = entry(from + index);
                // SAFETY: 8 bytes of a frame of the mock.
                unsafe { slot.set_page(page, offset, length) };
            }
        };
        let mut first =
            SgTable::with_first_chunk_in(&mock, first_count, &mut first_chunk, &chunks).unwrap();
        fill(&mut first, 0);
        let mut second =
            SgTable::with_first_chunk_in(&mock, second_count, &mut second_chunk, &chunks).unwrap();
        fill(&mut second, first_count);
        let owned = chunks.live();
        first.join(second).unwrap();
        let pfns: Vec<u64> = spans(first.as_list()).iter().map(|span| span.0).collect();
        let expected: Vec<u64> = (10..10 + (first_count + second_count) as u64).collect();
        assert_eq!(pfns, expected, "{first_count} + {second_count}");
        // The second table's first chunk moved to an array of its own, and
        // the first table's full last array needed a bridge or not.
        assert!(chunks.live() > owned, "{first_count} + {second_count}");
        // The joined table's tail is the second table's, wherever its
        // entries moved: one more join links after exactly its last entry.
        let mut third_chunk = FirstChunk::<MockPage, 4>::new();
        let mut third = SgTable::with_first_chunk_in(&mock, 2, &mut third_chunk, &chunks).unwrap();
        fill(&mut third, first_count + second_count);
        first.join(third).unwrap();
        let pfns: Vec<u64> = spans(first.as_list()).iter().map(|span| span.0).collect();
        let expected: Vec<u64> = (10..12 + (first_count + second_count) as u64).collect();
        assert_eq!(pfns, expected, "{first_count} + {second_count} + 2");
        // Dropping gives back exactly the arrays from the allocator: a free
        // of a borrowed array would fail the counter's checks.
        drop(first);
        assert_eq!(chunks.allocations(), chunks.frees());
        chunks.assert_clean();
    }
}

#[test]
fn a_first_chunk_larger_than_the_allocator_serves_cannot_be_taken_over() {
    let mock = Mock::new();
    let pages = mock.add_run(10, 2);
    let chunks = CountingChunks::with_max_entries(4);
    let mut first_chunk = FirstChunk::<MockPage, 8>::new();
    // The second table's entries share bytes: both tables are read-only
    // (a join needs the same access on both).
    let mut first = SgTable::with_first_chunk_in(&mock, 3, &mut first_chunk, &chunks)
        .unwrap()
        .into_read_only();
    let mut second_chunk = FirstChunk::<MockPage, 8>::new();
    let mut second = SgTable::with_first_chunk_in(&mock, 10, &mut second_chunk, &chunks).unwrap();
    for mut entry in second.entries_mut() {
        // SAFETY: 8 bytes of a frame of the mock; the table is made
        // read-only below.
        unsafe { entry.set_page(pages[1], 0, 8) };
    }
    let second = second.into_read_only();
    let live = chunks.live();
    let failed = first.join(second).unwrap_err();
    assert_eq!(
        failed.reason(),
        JoinFailure::Error(Error::ChunkTooLarge {
            requested: 8,
            max: 4
        })
    );
    let second = failed.into_table();
    assert_eq!((first.orig_nents(), second.orig_nents()), (3, 10));
    assert_eq!(second.byte_len(), 80);
    // The bridge allocated for the first table was given back.
    assert_eq!(chunks.live(), live);
    assert_eq!(chunks.sizes().last(), Some(&2), "the bridge was allocated");
    drop((first, second));
    chunks.assert_clean();
}

#[test]
fn tables_of_different_sources_are_not_joined() {
    let mock = Mock::new();
    let other_mock = Mock::new();
    let chunks = CountingChunks::new();
    let other_chunks = CountingChunks::new();
    let mut first = SgTable::new_in(&mock, 2, &chunks).unwrap();
    let second = SgTable::new_in(&other_mock, 3, &chunks).unwrap();
    let failed = first.join(second).unwrap_err();
    assert_eq!(failed.reason(), JoinFailure::DifferentProvider);
    assert!(failed.to_string().contains("different providers"));
    assert_eq!(failed.into_table().orig_nents(), 3);
    let second = SgTable::new_in(&mock, 3, &other_chunks).unwrap();
    let failed = first.join(second).unwrap_err();
    assert_eq!(failed.reason(), JoinFailure::DifferentChunks);
    drop(failed);
    assert_eq!(first.orig_nents(), 2);
    assert!(!(&chunks).is_same_source(&&other_chunks));
    assert!((&chunks).is_same_source(&&chunks));
    assert!(HeapChunks::new().is_same_source(&HeapChunks::new()));
    // The DMA fields are kept, and the DMA view covers every entry again.
    let mut second = SgTable::new_in(&mock, 1, &chunks).unwrap();
    second.entries_mut().next().unwrap().set_dma(0x1000, 64);
    first.join(second).unwrap();
    let dma: Vec<(u64, u32)> = first.dma_list().dma_segments().collect();
    assert_eq!(dma, [(0x1000, 64)]);
    assert_eq!(first.nents(), 3);
}

#[test]
fn split_pieces_join_back_into_the_range() {
    let mock = Mock::new();
    let layout = EntryLayout::arbitrary(&mut Gen::new(20));
    let built = scaled_layout(layout).build(&mock);
    let list = built.list(&mock);
    fill_list(&mock, list, 9);
    let total = list.byte_len();
    if total < 3 {
        return;
    }
    let sizes = [total / 3, total / 3, total - 2 * (total / 3)];
    let mut pieces = split(list, 0, &sizes).unwrap().into_iter();
    let mut joined = pieces.next().unwrap();
    for piece in pieces {
        joined.join(piece).unwrap();
    }
    assert_eq!(joined.byte_len(), total);
    assert_eq!(mock.list_bytes(joined.as_list()), mock.list_bytes(list));
}

#[test]
fn prop_a_clone_is_an_independent_copy() {
    // clone_in copies every entry into new arrays of its own; dropping the copy leaves the original as it was.
    fn property(layout: EntryLayout, max: u8) -> TestResult {
        let layout = scaled_layout(layout);
        let mock = Mock::new();
        let built = layout.build(&mock);
        fill_list(&mock, built.list(&mock), 3);
        let set = raw(&mock, &[]);
        let original_chunks = CountingChunks::new();
        // Built layouts' entries are disjoint: the original may write.
        let mut original = exact_table_mut(&set, &original_chunks, &placed(&built, &mock)).unwrap();
        for (index, mut entry) in original.entries_mut().enumerate() {
            entry.set_dma(0x10_000 + index as u64, 1);
        }
        let before = snapshot(&mock, &original);
        let max = 2 + usize::from(max) % 6;
        let copy_chunks = CountingChunks::with_max_entries(max);
        let original_arrays = original_chunks.allocations();
        let copy = original.clone_in(&copy_chunks).unwrap();
        let n = original.orig_nents();
        let without_dma: Vec<Entry> = before
            .entries
            .iter()
            .map(|&entry| Entry {
                dma: (0, 0),
                ..entry
            })
            .collect();
        let copied = snapshot(&mock, &copy);
        if copied.entries != without_dma
            || copied.bytes != before.bytes
            || copied.byte_len != before.byte_len
            || copy.as_list().byte_len() != before.byte_len
        {
            return TestResult::error(format!("copy differs: {copied:?} vs {before:?}"));
        }
        if Some(copy_chunks.allocations()) != arrays_needed(n, max)
            || original_chunks.allocations() != original_arrays
        {
            return TestResult::error("the copy's arrays are not the expected ones");
        }
        // A clone is read-only and borrows the original (rule: cloning never
        // duplicates rights), so neither is changed or dropped while the
        // copy lives; dropping the copy gives back its own arrays only.
        drop(copy);
        if copy_chunks.live() != 0 || snapshot(&mock, &original) != before {
            return TestResult::error("dropping the copy changed the original");
        }
        // The original is writable again, and still frees its own arrays.
        for mut entry in original.entries_mut() {
            entry.set_dma(0, 0);
        }
        let cleared = entries(original.as_list());
        if cleared.iter().any(|entry| entry.dma != (0, 0)) || cleared.len() != n {
            return TestResult::error("the original is not writable after the copy");
        }
        drop(original);
        original_chunks.assert_clean();
        TestResult::from_bool(copy_chunks.allocations() == copy_chunks.frees())
    }
    checker(150).quickcheck(property as fn(EntryLayout, u8) -> TestResult);
}

/// The merged runs of `entries` (frame, offset, length), by the rule: an
/// entry with bytes continues the run when the run ends at a page end, the
/// entry starts a page, in the frame after the run's last, and the length
/// fits a u32. Entries without bytes are left out.
fn merged_runs(entries: &[(u64, u32, u32)], page: u64) -> Vec<(u64, u32, u32)> {
    let mut runs: Vec<(u64, u32, u32)> = Vec::new();
    for &(frame, offset, length) in entries.iter().filter(|entry| entry.2 > 0) {
        if let Some(run) = runs.last_mut() {
            let end = u64::from(run.1) + u64::from(run.2);
            let start_frame = frame + u64::from(offset) / page;
            let fits = u64::from(run.2) + u64::from(length) <= u64::from(u32::MAX);
            if end % page == 0
                && u64::from(offset) % page == 0
                && run.0 + end / page == start_frame
                && fits
            {
                run.2 += length;
                continue;
            }
        }
        runs.push((frame, offset, length));
    }
    runs
}

#[test]
fn prop_a_merged_clone_holds_the_same_bytes_in_maximal_runs() {
    // clone_merged_in holds the original's bytes, one entry per maximal run of entries that continue each other at page boundaries.
    fn property(layout: EntryLayout, pages: PageLayout, from_pages: bool) -> TestResult {
        let mock = Mock::new();
        let chunks = CountingChunks::new();
        let set = raw(&mock, &[]);
        let built;
        let original = if from_pages {
            // Whole pages, one entry each: runs of consecutive frames merge.
            let handles = pages.add_to(&mock);
            common::fill(&mock, pages.pfns(), 4);
            let entries: Vec<_> = handles.iter().map(|&page| (page, PAGE as u32, 0)).collect();
            exact_table(&set, &chunks, &entries).unwrap()
        } else {
            built = scaled_layout(layout).build(&mock);
            fill_list(&mock, built.list(&mock), 4);
            exact_table(&set, &chunks, &placed(&built, &mock)).unwrap()
        };
        let merged = original.clone_merged_in(&chunks).unwrap();
        let expected = merged_runs(&spans(original.as_list()), PAGE as u64);
        let found = spans(merged.as_list());
        let expected = if expected.is_empty() {
            vec![(u64::MAX, 0, 0)]
        } else {
            expected
        };
        if found != expected {
            return TestResult::error(format!("runs {found:?}, expected {expected:?}"));
        }
        let same_bytes = mock.list_bytes(merged.as_list()) == mock.list_bytes(original.as_list());
        let marks = entries(merged.as_list())
            .iter()
            .enumerate()
            .all(|(index, entry)| entry.last == (index + 1 == found.len()));
        TestResult::from_bool(same_bytes && marks && merged.byte_len() == original.byte_len())
    }
    checker(150).quickcheck(property as fn(EntryLayout, PageLayout, bool) -> TestResult);
}

#[test]
fn a_failed_clone_gives_back_every_array_and_leaves_the_original() {
    let mock = Mock::new();
    let pages = mock.add_run(10, 4);
    let entries_in: Vec<_> = (0..20).map(|index| (pages[index % 4], 8, 0)).collect();
    let chunks = CountingChunks::new();
    // The entries share bytes: the table is read-only.
    let set = raw(&mock, &pages);
    let original = exact_table(&set, &chunks, &entries_in).unwrap();
    let before = snapshot(&mock, &original);
    // Fewer sizes under Miri, where each failure point costs a second.
    let sizes: &[usize] = if cfg!(miri) {
        &[3, 128]
    } else {
        &[2, 3, 7, 128]
    };
    for &max in sizes {
        let points = for_each_chunk_failure(Some(max), |copy_chunks| {
            let copy = original.clone_in(copy_chunks)?;
            assert_eq!(copy.orig_nents(), 20);
            let merged = original.clone_merged_in(copy_chunks)?;
            assert_eq!(merged.byte_len(), 160);
            Ok(())
        });
        let arrays = arrays_needed(20, max).unwrap();
        // Every array of the plain copy, then of the merged one (its
        // entries merge into fewer only for consecutive frames at page
        // ends, which 8-byte entries are not).
        assert_eq!(points, 2 * arrays, "{max} slots");
        assert_eq!(snapshot(&mock, &original), before);
    }
}

#[test]
fn clones_of_first_chunk_and_pool_tables_go_anywhere() {
    let pages = VirtPages::new();
    let run = pages.alloc_pages(1).unwrap();
    let mut first_chunk = FirstChunk::<_, 4>::new();
    let mut table = SgTable::with_first_chunk(&pages, 6, &mut first_chunk).unwrap();
    for (index, mut entry) in table.entries_mut().enumerate() {
        // SAFETY: 100 bytes of the pages allocated above; only read.
        unsafe { entry.set_page(run, index as u32 * 100, 100) };
    }
    let copy = table.clone_in(HeapChunks::new()).unwrap();
    let merged = table.clone_merged_in(HeapChunks::new()).unwrap();
    assert_eq!(copy.as_list().count(), 6);
    // Entries that meet inside a page never merge.
    assert_eq!(merged.as_list().count(), 6);
    assert_eq!(copy.byte_len(), 600);
    // The clones' arrays come from the heap, not from the table's first
    // chunk; they borrow the table (rule: a clone is read-only and borrows
    // the original), so they go before it.
    drop((copy, merged));
    assert_eq!(table.as_list().count(), 6);
    drop(table);
    // SAFETY: allocated above with order 1; the tables are gone.
    unsafe { pages.free_pages(run, 1) };
}

#[test]
fn a_joined_table_joins_again_with_every_arrays_byte_count_right() {
    // Arrays of at most 4 slots and entries of different lengths: each join
    // takes over the other table's last array, whose byte count the next
    // join writes on the link it makes (in a bridge here, as every array
    // of these tables is full). `entries` checks every link's count.
    let mock = Mock::new();
    let pages = mock.add_run(10, 9);
    let chunks = CountingChunks::with_max_entries(4);
    let all: Vec<_> = (0..9)
        .map(|index| (pages[index], 16 + index as u32, 0))
        .collect();
    let set = raw(&mock, &pages);
    let mut first = exact_table(&set, &chunks, &all[..5]).unwrap();
    for part in [&all[5..7], &all[7..9]] {
        let next = exact_table(&set, &chunks, part).unwrap();
        first.join(next).unwrap();
        let lengths: Vec<u32> = entries(first.as_list())
            .iter()
            .map(|entry| entry.length)
            .collect();
        let expected: Vec<u32> = all[..lengths.len()].iter().map(|entry| entry.1).collect();
        assert_eq!(lengths, expected);
    }
    assert_eq!(first.as_list().byte_len(), (16..25).sum::<u64>());
    // Seeks land on every entry's first byte.
    let mut start = 0;
    for (index, &(_, length, _)) in all.iter().enumerate() {
        let rest = first.as_list().skip_bytes(start);
        assert_eq!(
            rest.first().map(|entry| entry.len()),
            Some(length),
            "entry {index}"
        );
        start += u64::from(length);
    }
    drop(first);
    chunks.assert_clean();
}
