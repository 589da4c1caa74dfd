//! Appending pages to a table: merging, sizing by `left_pages`, the end
//! mark, and all-or-nothing calls.

mod common;

use std::ops::Range;

use common::{Entry, Mock, PAGE, check_shape, end_marks, entries, raw, scaled, spans};
use quickcheck::TestResult;
use sg_alloc::{AppendPages, AppendTable, FromPages, SgTable};
use sg_core::{Access, ChunkAllocator, Error, ErrorKind, PageSet};
use sg_testkit::{
    CountingChunks, MaxSegment, MockPage, MockPages, PageLayout, for_each_chunk_failure,
};

/// Everything a failed call must leave as it was.
#[derive(PartialEq, Debug)]
struct State {
    entries: Vec<Entry>,
    orig_nents: usize,
    byte_len: u64,
    arrays: usize,
    walked: usize,
}

fn state<P, C, A>(append: &AppendTable<P, C, A>) -> State
where
    P: PageSet<Page = MockPage>,
    C: ChunkAllocator<MockPage>,
    A: Access,
{
    State {
        entries: entries(append.as_list()),
        orig_nents: append.orig_nents(),
        byte_len: append.byte_len(),
        arrays: append.arrays(),
        walked: append.as_list().count(),
    }
}

/// One call of an append sequence.
struct Call {
    /// Positions in the table's set.
    pages: Range<usize>,
    offset: usize,
    size: u64,
    left_pages: usize,
}

/// Makes the calls in order; when one fails, checks that the table is as
/// it was before it and returns the error.
fn append_all<P, C, A>(
    append: &mut AppendTable<P, C, A>,
    calls: &[Call],
    max_segment: u32,
) -> Result<(), Error>
where
    P: PageSet<Page = MockPage>,
    C: ChunkAllocator<MockPage>,
    A: Access,
{
    for (index, call) in calls.iter().enumerate() {
        let before = state(append);
        let result = append.append_pages(
            AppendPages::new(call.pages.clone(), call.size)
                .offset(call.offset)
                .max_segment_size(max_segment)
                .left_pages(call.left_pages),
        );
        if let Err(error) = result {
            assert_eq!(
                state(append),
                before,
                "call {index} failed with {error} and changed the table"
            );
            return Err(error);
        }
    }
    Ok(())
}

#[test]
fn merges_into_the_last_entry_across_calls() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1, 2, 3, 4, 9]);
    common::fill(&mock, [1, 2, 3, 4, 9], 5);
    let mut append = AppendTable::new(raw(&mock, &pages));
    append
        .append_pages(
            AppendPages::new(0..2, 2 * 4096 - 300)
                .offset(300)
                .left_pages(3),
        )
        .unwrap();
    append
        .append_pages(AppendPages::new(2..5, 3 * 4096))
        .unwrap();
    let table = append.finish().unwrap();
    assert_eq!(
        spans(table.as_list()),
        [(1, 300, 4 * 4096 - 300), (9, 0, 4096)]
    );
    let mut expected = mock.read(pages[0], 300, 4 * 4096 - 300);
    expected.extend(mock.read(pages[4], 0, 4096));
    assert_eq!(mock.list_bytes(table.as_list()), expected);
}

#[test]
fn merging_stops_at_the_segment_limit() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages(0..6);
    let mut append = AppendTable::new(raw(&mock, &pages));
    append
        .append_pages(
            AppendPages::new(0..1, 4096)
                .max_segment_size(3 * 4096)
                .left_pages(5),
        )
        .unwrap();
    append
        .append_pages(AppendPages::new(1..6, 5 * 4096).max_segment_size(3 * 4096))
        .unwrap();
    assert_eq!(
        spans(append.as_list()),
        [(0, 0, 3 * 4096), (3, 0, 3 * 4096)]
    );
}

#[test]
fn an_entry_that_ends_inside_a_page_takes_no_more_pages() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1, 2]);
    let mut append = AppendTable::new(raw(&mock, &pages));
    append
        .append_pages(AppendPages::new(0..1, 100).left_pages(1))
        .unwrap();
    append.append_pages(AppendPages::new(1..2, 4096)).unwrap();
    // Frame 2 follows frame 1, but bytes 100..4096 of frame 1 are not in
    // the table, so merging would add them.
    assert_eq!(spans(append.as_list()), [(1, 0, 100), (2, 0, 4096)]);
}

#[test]
fn the_end_mark_is_set_by_a_call_with_no_pages_left() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1, 3, 5]);
    let mut append = AppendTable::new(raw(&mock, &pages));
    append
        .append_pages(AppendPages::new(0..1, 4096).left_pages(2))
        .unwrap();
    assert!(!append.as_list().first().unwrap().is_last());
    append.append_pages(AppendPages::new(1..2, 4096)).unwrap();
    let lasts = end_marks(append.as_list());
    assert_eq!(lasts, [false, true]);
    // Appending again moves the end mark.
    append
        .append_pages(AppendPages::new(2..3, 4096).left_pages(1))
        .unwrap();
    let lasts = end_marks(append.as_list());
    assert_eq!(lasts, [false, false, false]);
    let table = append.finish().unwrap();
    let lasts = end_marks(table.as_list());
    assert_eq!(lasts, [false, false, true], "finish marks the end");
}

#[test]
fn bad_calls_change_nothing() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1, 2, 7]);
    let mut append = AppendTable::new(raw(&mock, &pages));
    assert_eq!(
        append.append_pages(AppendPages::new(0..3, 1).offset(4096)),
        Err(Error::OffsetTooLarge {
            offset: 4096,
            page_size: 4096
        })
    );
    // 100 bytes from offset 10 use the first page only.
    append
        .append_pages(AppendPages::new(0..2, 100).offset(10).left_pages(1))
        .unwrap();
    assert_eq!(append.next_page(), 1);
    let before = state(&append);
    let refused = [
        append.append_pages(AppendPages::new(2..3, 1).offset(1)),
        append.append_pages(AppendPages::new(2..2, 1)),
        append.append_pages(AppendPages::new(2..3, 1).max_segment_size(100)),
        append.append_pages(AppendPages::new(2..3, 0)),
        append.append_pages(AppendPages::new(2..3, 4097)),
        // The sound API's range checks: a page already used, and pages
        // past the set.
        append.append_pages(AppendPages::new(0..3, 1)),
        append.append_pages(AppendPages::new(2..4, 1)),
    ];
    assert_eq!(
        refused,
        [
            Err(Error::AppendOffset { offset: 1 }),
            Err(Error::NoPages),
            Err(Error::SegmentTooSmall {
                max_segment: 100,
                page_size: 4096
            }),
            Err(Error::ZeroLength),
            Err(Error::SizeTooLarge {
                size: 4097,
                available: 4096
            }),
            Err(Error::PageReused { index: 0, next: 1 }),
            Err(Error::NotInSet { end: 4, pages: 3 }),
        ]
    );
    assert_eq!(state(&append), before);
}

#[test]
fn finishing_an_empty_table_is_an_error() {
    let mock = MockPages::<4096>::new();
    let append = AppendTable::new(raw(&mock, &[]));
    assert!(append.is_empty());
    assert_eq!(append.finish().map(drop), Err(Error::NoEntries));
}

#[test]
fn left_pages_sizes_the_arrays() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages((0..6).map(|index| index * 2));
    // Three pages now, three to come: the first array has room for six.
    let chunks = CountingChunks::with_max_entries(8);
    let mut append = AppendTable::new_in(raw(&mock, &pages), &chunks);
    append
        .append_pages(AppendPages::new(0..3, 3 * 4096).left_pages(3))
        .unwrap();
    append
        .append_pages(AppendPages::new(3..6, 3 * 4096))
        .unwrap();
    assert_eq!(chunks.sizes(), [6]);
    // Nothing announced: the first array holds three, the second the rest.
    let chunks = CountingChunks::with_max_entries(8);
    let mut append = AppendTable::new_in(raw(&mock, &pages), &chunks);
    append
        .append_pages(AppendPages::new(0..3, 3 * 4096))
        .unwrap();
    append
        .append_pages(AppendPages::new(3..6, 3 * 4096))
        .unwrap();
    // The full first array's last entry moves to make room for the link.
    assert_eq!(chunks.sizes(), [3, 4]);
    let table = append.finish().unwrap();
    assert_eq!(table.as_list().count(), 6);
    assert_eq!(
        spans(table.as_list()),
        (0..6).map(|index| (index * 2, 0, 4096)).collect::<Vec<_>>()
    );
}

#[test]
fn a_failed_call_leaves_the_table_as_it_was_at_every_failure_point() {
    let mock = MockPages::<4096>::new();
    // Scattered pages, a run continuing the last entry, and more.
    let pfns = [0, 2, 4, 5, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30];
    let pages = mock.add_pages(pfns);
    let calls = [
        Call {
            pages: 0..3,
            offset: 100,
            size: 3 * 4096 - 100,
            left_pages: 20,
        },
        Call {
            pages: 3..10,
            offset: 0,
            size: 7 * 4096,
            left_pages: 5,
        },
        // Lies: says nothing follows, then more follows.
        Call {
            pages: 10..12,
            offset: 0,
            size: 2 * 4096,
            left_pages: 0,
        },
        Call {
            pages: 12..17,
            offset: 0,
            size: 5 * 4096,
            left_pages: 0,
        },
    ];
    // The reference and the appended tables are over the same pages at
    // once: both borrow the set shared, read-only.
    let set = raw(&mock, &pages);
    let reference = SgTable::from_pages(&set, 100, 17 * 4096 - 100).unwrap();
    for max_entries in [2, 3, 4, 128] {
        let points = for_each_chunk_failure(Some(max_entries), |chunks| {
            let mut append = AppendTable::new_in(&set, chunks);
            append_all(&mut append, &calls, u32::MAX)?;
            let table = append.finish()?;
            assert_eq!(entries(table.as_list()), entries(reference.as_list()));
            Ok(())
        });
        // With 128 slots the first call's array has room for everything.
        let expected = if max_entries == 128 { 1 } else { 3 };
        assert!(points >= expected, "{max_entries}: {points} failure points");
    }
}

#[test]
fn a_failed_first_call_leaves_an_empty_table() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages((0..10).map(|index| index * 2));
    let chunks = CountingChunks::with_max_entries(3).fail_at(2);
    let mut append = AppendTable::new_in(raw(&mock, &pages), &chunks);
    assert_eq!(
        append.append_pages(AppendPages::new(0..10, 10 * 4096)),
        Err(Error::OutOfMemory)
    );
    assert!(append.is_empty());
    assert_eq!((append.arrays(), append.as_list().count()), (0, 0));
    chunks.assert_clean();
    // The allocator fails once: the same call now succeeds (a failed call
    // used no page of the set).
    assert_eq!(append.next_page(), 0);
    append
        .append_pages(AppendPages::new(0..10, 10 * 4096))
        .unwrap();
    assert_eq!(append.as_list().count(), 10);
}

/// Consecutive groups of `pages`, cut where `cuts` say.
fn groups(pages: &[MockPage], cuts: &[u8]) -> Vec<Range<usize>> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&cut| usize::from(cut) % pages.len())
        .filter(|&point| point > 0)
        .collect();
    points.push(pages.len());
    points.sort_unstable();
    points.dedup();
    let mut start = 0;
    points
        .into_iter()
        .map(|end| {
            let range = start..end;
            start = end;
            range
        })
        .collect()
}

/// The calls that append `pages` in `groups`: whole pages but for the first
/// call's offset and the last call's size.
fn calls(
    pages: &[MockPage],
    groups: &[Range<usize>],
    offset: usize,
    last_size: u64,
    honest: bool,
) -> Vec<Call> {
    let count = groups.len();
    groups
        .iter()
        .enumerate()
        .map(|(index, range)| {
            let offset = if index == 0 { offset } else { 0 };
            let size = if index + 1 == count {
                last_size
            } else {
                range.len() as u64 * PAGE as u64 - offset as u64
            };
            Call {
                pages: range.clone(),
                offset,
                size,
                left_pages: if honest { pages.len() - range.end } else { 0 },
            }
        })
        .collect()
}

/// Appending pages in several calls gives the entries (and end mark) of
/// one call over all of them, whether or not `left_pages` tells the truth.
fn prop_append_in_pieces_equals_one_call(
    layout: PageLayout,
    max: MaxSegment,
    cuts: Vec<u8>,
    offset: u16,
    last_cut: u16,
    honest: bool,
) -> TestResult {
    let mock = Mock::new();
    let pages = layout.add_to(&mock);
    let max_segment = scaled(max);
    let groups = groups(&pages, &cuts);
    let last = groups.last().expect("at least one group");
    let offset = usize::from(offset) % PAGE;
    let last_available =
        last.len() as u64 * PAGE as u64 - if groups.len() == 1 { offset as u64 } else { 0 };
    let last_size = if last_cut % 3 == 0 {
        last_available
    } else {
        1 + u64::from(last_cut) % last_available
    };
    let calls = calls(&pages, &groups, offset, last_size, honest);
    let size: u64 = calls.iter().map(|call| call.size).sum();
    // Both tables are over the same pages at once: read-only.
    let set = raw(&mock, &pages);
    let one = FromPages::new(&set, offset, size)
        .max_segment_size(max_segment)
        .build();
    let mut append = AppendTable::new(&set);
    let pieces = append_all(&mut append, &calls, max_segment).and_then(|()| append.finish());
    match (one, pieces) {
        (Err(one), Err(pieces)) => TestResult::from_bool(one == pieces),
        (Ok(one), Ok(pieces)) => {
            let found = entries(pieces.as_list());
            if let Err(message) = check_shape(&found, &pages, offset, size, max_segment, PAGE) {
                return TestResult::error(message);
            }
            TestResult::from_bool(
                found == entries(one.as_list())
                    && pieces.byte_len() == size
                    && pieces.orig_nents() == one.orig_nents(),
            )
        }
        (one, pieces) => TestResult::error(format!("{one:?} against {pieces:?}")),
    }
}

#[test]
fn append_in_pieces_equals_one_call() {
    sg_testkit::checker(200).quickcheck(
        prop_append_in_pieces_equals_one_call
            as fn(PageLayout, MaxSegment, Vec<u8>, u16, u16, bool) -> TestResult,
    );
}

/// A call that fails for want of an array leaves the table as it was, and
/// trying it again gives the same table as if nothing had failed.
fn prop_failed_append_changes_nothing(
    layout: PageLayout,
    cuts: Vec<u8>,
    fail_at: u8,
    max_entries: u8,
    honest: bool,
) -> TestResult {
    let mock = Mock::new();
    let pages = layout.add_to(&mock);
    let groups = groups(&pages, &cuts);
    let last_size = groups.last().expect("a group").len() as u64 * PAGE as u64;
    let calls = calls(&pages, &groups, 0, last_size, honest);
    let size = pages.len() as u64 * PAGE as u64;
    // Both tables are over the same pages at once: read-only.
    let set = raw(&mock, &pages);
    let one = SgTable::from_pages(&set, 0, size).expect("valid input");
    let chunks = CountingChunks::with_max_entries(2 + usize::from(max_entries % 4))
        .fail_at(usize::from(fail_at % 8));
    let mut append = AppendTable::new_in(&set, &chunks);
    for call in &calls {
        let before = state(&append);
        let attempt = |append: &mut AppendTable<_, _, _>| {
            append.append_pages(
                AppendPages::new(call.pages.clone(), call.size)
                    .offset(call.offset)
                    .left_pages(call.left_pages),
            )
        };
        if let Err(error) = attempt(&mut append) {
            if error != Error::OutOfMemory || state(&append) != before {
                return TestResult::error(format!(
                    "{error}: {:?} against {before:?}",
                    state(&append)
                ));
            }
            attempt(&mut append).expect("the allocator fails only once");
        }
    }
    let table = append.finish().expect("entries were appended");
    let same = entries(table.as_list()) == entries(one.as_list());
    drop(table);
    chunks.assert_clean();
    TestResult::from_bool(same)
}

#[test]
fn failed_append_changes_nothing() {
    sg_testkit::checker(200).quickcheck(
        prop_failed_append_changes_nothing as fn(PageLayout, Vec<u8>, u8, u8, bool) -> TestResult,
    );
}

#[test]
fn append_errors_are_invalid_input() {
    let mock = MockPages::<4096>::new();
    let page = mock.add_pages([3]);
    let mut append = AppendTable::new(raw(&mock, &page));
    let error = append
        .append_pages(AppendPages::new(0..1, 1).max_segment_size(1))
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    // And so are the range checks of the sound API.
    append.append_pages(AppendPages::new(0..1, 1)).unwrap();
    for error in [
        append.append_pages(AppendPages::new(0..1, 1)).unwrap_err(),
        append.append_pages(AppendPages::new(1..2, 1)).unwrap_err(),
    ] {
        assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    }
}
