//! Building tables from pages: the kernel's vectors, bad input, allocation
//! failure, and properties over random page layouts and segment limits.

mod common;

use core::ptr::NonNull;
use std::collections::HashSet;

use common::{Mock, PAGE, check_shape, entries, fill, page_bytes, raw, scaled, spans};
use quickcheck::TestResult;
use sg_alloc::{AppendPages, AppendTable, FromPages, SgTable};
use sg_core::{Error, ErrorKind, HeapChunks, PageProvider, Pages};
use sg_testkit::vectors::{Expected, from_pages_cases};
use sg_testkit::{
    CountingChunks, FramePages, MaxSegment, MockPage, MockPages, PageLayout, for_each_chunk_failure,
};

/// Every row of the kernel's vectors: the entry count (or the refusal),
/// and entries that cover exactly the given bytes in order.
#[test]
fn every_vector_row_passes() {
    let cases = from_pages_cases();
    assert!(cases.len() >= 17, "the vectors are all there");
    for case in cases {
        let mock = MockPages::<4096>::new();
        let pages = mock.add_pages(case.pfns.iter().copied());
        let appended = case
            .append_pfns
            .as_ref()
            .map(|pfns| mock.add_pages(pfns.iter().copied()));
        let frames = case.pfns.iter().chain(case.append_pfns.iter().flatten());
        fill(&mock, frames.copied(), case.line as u64);
        // One set over the pages of both calls: the first call appends
        // positions `0..n`, the second the rest.
        let all: Vec<_> = pages
            .iter()
            .chain(appended.iter().flatten())
            .copied()
            .collect();
        let set = raw(&mock, &all);
        let n = pages.len();
        let built = match &appended {
            None => FromPages::new(set, 0, case.size)
                .max_segment_size(case.max_segment)
                .build(),
            Some(more) => {
                let mut append = AppendTable::new(set);
                append
                    .append_pages(
                        AppendPages::new(0..n, case.size)
                            .max_segment_size(case.max_segment)
                            .left_pages(more.len()),
                    )
                    .and_then(|()| {
                        append.append_pages(
                            AppendPages::new(n..all.len(), case.size)
                                .max_segment_size(case.max_segment),
                        )
                    })
                    .and_then(|()| append.finish())
            }
        };
        match (case.expected, built) {
            (Expected::Invalid, Err(error)) => {
                assert_eq!(error.kind(), ErrorKind::InvalidInput, "{case}: {error}");
            }
            (Expected::Invalid, Ok(table)) => panic!("{case}: built {table:?}"),
            (Expected::Entries(_), Err(error)) => panic!("{case}: {error}"),
            (Expected::Entries(count), Ok(table)) => {
                assert_eq!(table.orig_nents(), count, "{case}: {table:?}");
                assert_eq!(table.nents(), count, "{case}");
                assert_eq!(table.as_list().count(), count, "{case}");
                let mut expected = page_bytes(&mock, &pages, 0, case.size);
                if let Some(more) = &appended {
                    expected.extend(page_bytes(&mock, more, 0, case.size));
                }
                assert_eq!(table.byte_len(), expected.len() as u64, "{case}");
                assert!(
                    mock.list_bytes(table.as_list()) == expected,
                    "{case}: the entries do not cover the bytes in order: {table:?}"
                );
            }
        }
    }
}

#[test]
fn bad_input_gets_typed_errors() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1, 2, 3]);
    let build = |pages: &[_], offset, size, max_segment| {
        FromPages::new(raw(&mock, pages), offset, size)
            .max_segment_size(max_segment)
            .build()
            .map(drop)
    };
    assert_eq!(build(&[], 0, 1, u32::MAX), Err(Error::NoPages));
    assert_eq!(
        build(&pages, 0, 1, 4095),
        Err(Error::SegmentTooSmall {
            max_segment: 4095,
            page_size: 4096
        })
    );
    assert_eq!(
        build(&pages, 4096, 1, u32::MAX),
        Err(Error::OffsetTooLarge {
            offset: 4096,
            page_size: 4096
        })
    );
    assert_eq!(
        build(&pages, 100, 3 * 4096 - 99, u32::MAX),
        Err(Error::SizeTooLarge {
            size: 3 * 4096 - 99,
            available: 3 * 4096 - 100
        })
    );
    assert_eq!(build(&pages, 0, 0, u32::MAX), Err(Error::ZeroLength));
    assert_eq!(build(&pages, 100, 3 * 4096 - 100, u32::MAX), Ok(()));
    // A chunk allocator that cannot chain is refused, not looped on.
    let tiny = UnchainableChunks(HeapChunks::new());
    assert_eq!(
        FromPages::new(raw(&mock, &pages), 0, 1)
            .chunk_allocator(&tiny)
            .build()
            .map(drop),
        Err(Error::ChunkTooLarge {
            requested: 2,
            max: 1
        })
    );
}

/// Serves arrays of one entry only: too small to chain.
struct UnchainableChunks(HeapChunks);

// SAFETY: forwards to `HeapChunks`, announcing a smaller maximum, which
// only makes callers ask for less.
unsafe impl<Pg: Copy> sg_core::ChunkAllocator<Pg> for UnchainableChunks {
    fn max_entries(&self) -> usize {
        1
    }

    fn alloc(&self, entries: usize) -> Result<NonNull<sg_core::SgEntry<Pg>>, Error> {
        if entries > 1 {
            return Err(Error::ChunkTooLarge {
                requested: entries,
                max: 1,
            });
        }
        self.0.alloc(entries)
    }

    unsafe fn free(&self, chunk: NonNull<sg_core::SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise is the one `HeapChunks::free` needs.
        unsafe { self.0.free(chunk, entries) }
    }
}

/// Pages named by a zero-sized handle: a slice of them can hold more
/// bytes than a u64 counts.
struct Nameless;

// SAFETY: `map` never returns (it panics), so no byte is ever reached;
// every page has frame 0, so none follows another; nothing is allocated.
unsafe impl PageProvider for Nameless {
    type Page = ();
    type Pfn = u64;
    const PAGE_SIZE: usize = 1 << 31;

    fn pfn(&self, _page: ()) -> u64 {
        0
    }

    fn nth(&self, _page: (), _n: usize) {}

    fn map(&self, _page: ()) -> NonNull<u8> {
        panic!("Nameless has no memory")
    }

    unsafe fn unmap(&self, _page: (), _mapping: NonNull<u8>) {}

    fn alloc_pages(&self, order: u32) -> Result<(), Error> {
        Err(Error::PagesUnavailable { order })
    }

    unsafe fn free_pages(&self, _page: (), _order: u32) {}
}

#[test]
fn sizes_past_u64_are_an_overflow_not_a_panic() {
    let pages = vec![(); usize::MAX];
    assert_eq!(
        SgTable::from_pages(raw(Nameless, &pages), 1, u64::MAX).map(drop),
        Err(Error::Overflow {
            what: "offset plus size"
        })
    );
}

#[test]
fn pages_beyond_the_size_are_not_used() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([10, 11, 12, 30]);
    let set = raw(&mock, &pages);
    let table = SgTable::from_pages(&set, 4000, 100).unwrap();
    // 96 bytes in page 10 and 4 in page 11: one entry; pages 12 and 30
    // are not needed.
    assert_eq!(spans(table.as_list()), [(10, 4000, 100)]);
    let table = SgTable::from_pages(&set, 0, 2 * 4096 + 1).unwrap();
    assert_eq!(spans(table.as_list()), [(10, 0, 2 * 4096 + 1)]);
}

#[test]
fn offset_applies_to_the_first_page_only() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([5, 7, 8]);
    fill(&mock, [5, 7, 8], 3);
    let table = SgTable::from_pages(raw(&mock, &pages), 1000, 3 * 4096 - 1000).unwrap();
    assert_eq!(
        spans(table.as_list()),
        [(5, 1000, 3096), (7, 0, 8192)],
        "the second run starts at offset 0"
    );
    assert_eq!(
        mock.list_bytes(table.as_list()),
        page_bytes(&mock, &pages, 1000, 3 * 4096 - 1000)
    );
}

#[test]
fn entries_never_exceed_u32_max() {
    // 2^20 + 3 contiguous pages: more than 4 GiB in one run of frames. A
    // million pages take minutes under Miri, which checks the same cut
    // with 16 MiB frames below.
    if !cfg!(miri) {
        let pages: Vec<u64> = (0..(1u64 << 20) + 3).collect();
        let size = pages.len() as u64 * 4096;
        let table = SgTable::from_pages(raw(FramePages::<4096>, &pages), 0, size).unwrap();
        let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
        // u32::MAX rounds down to 0xFFFFF000: 2^20 - 1 pages per entry.
        assert_eq!(lengths, [0xFFFF_F000, 4 * 4096]);
        assert_eq!(table.byte_len(), size);
    }
    // 258 frames of 16 MiB: u32::MAX rounds down to 255 of them.
    let pages: Vec<u64> = (0..258).collect();
    let frames = raw(FramePages::<{ 1 << 24 }>, &pages);
    let table = SgTable::from_pages(frames, 0, 258 << 24).unwrap();
    let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    assert_eq!(lengths, [255 << 24, 3 << 24]);
    assert_eq!(table.byte_len(), 258 << 24);
}

/// Scattered pages with a run here and there, built with arrays of a few
/// slots (the scattered pages take a path of their own, array by array):
/// each run, and nothing else, is one entry, wherever it falls against an
/// array's end, with the size ending on, inside and before the last page
/// and with a maximum segment of one page (nothing merges then).
#[test]
fn scattered_pages_with_runs_between_them_build_one_entry_per_run() {
    // Runs by length, one frame apart: 1 1 2 1 1 1 3 1 2 1 1 ... 1.
    let runs: Vec<u64> = [1, 1, 2, 1, 1, 1, 3, 1, 2]
        .into_iter()
        .chain(core::iter::repeat_n(1, 11))
        .chain([2, 1])
        .collect();
    let mut frames = Vec::new();
    let mut next = 100u64;
    for &run in &runs {
        frames.extend(next..next + run);
        next += run + 1;
    }
    let total = frames.len() as u64 * 4096;
    for slots in [2, 3, 4, 5, 128] {
        for (size, max_segment) in [
            (total, u32::MAX),
            (total - 100, u32::MAX),
            (total - 4096, u32::MAX),
            (total - 4096 - 1, u32::MAX),
            (total, 4096),
        ] {
            let chunks = HeapChunks::new().with_max_entries(slots).unwrap();
            let table = FromPages::new(raw(FramePages::<4096>, &frames), 0, size)
                .max_segment_size(max_segment)
                .chunk_allocator(chunks)
                .build()
                .unwrap();
            // The expected entries: whole runs (or single pages under a
            // one-page limit) until `size` ends.
            let mut expected = Vec::new();
            let mut left = size;
            let mut first = 0usize;
            let pieces: Vec<u64> = if max_segment == 4096 {
                vec![1; frames.len()]
            } else {
                runs.clone()
            };
            for run in pieces {
                if left == 0 {
                    break;
                }
                let length = left.min(run * 4096);
                expected.push((frames[first], length as u32));
                left -= length;
                first += run as usize;
            }
            let built: Vec<(u64, u32)> = table
                .as_list()
                .iter()
                .map(|entry| (entry.page().unwrap(), entry.len()))
                .collect();
            assert_eq!(
                built, expected,
                "slots {slots}, size {size}, max {max_segment}"
            );
            assert_eq!(table.byte_len(), size);
        }
    }
}

#[test]
fn a_failed_build_gives_back_every_array() {
    let mock = MockPages::<4096>::new();
    // 20 pages, no two contiguous: 20 entries over arrays of 4 slots.
    let pages = mock.add_pages((0..20).map(|index| index * 2));
    let points = for_each_chunk_failure(Some(4), |chunks| {
        let table = FromPages::new(raw(&mock, &pages), 0, 20 * 4096)
            .chunk_allocator(chunks)
            .build()?;
        assert_eq!(table.orig_nents(), 20);
        assert_eq!(table.arrays(), chunks.allocations());
        Ok(())
    });
    // 3 + 3 + ... : 7 arrays, each a failure point.
    assert_eq!(points, 7);
}

#[test]
fn arrays_are_full_but_the_last_is_sized_by_the_pages_left() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages((0..10).map(|index| index * 2));
    let chunks = CountingChunks::with_max_entries(4);
    let set = raw(&mock, &pages);
    let table = FromPages::new(set, 0, 10 * 4096)
        .chunk_allocator(&chunks)
        .build()
        .unwrap();
    assert_eq!(chunks.sizes(), [4, 4, 4]); // 3 + 3 + 4 entries
    assert_eq!(table.as_list().count(), 10);
    drop(table);
    chunks.assert_clean();
}

/// A property's pages as a set.
type Set<'m> = Pages<&'m Mock, &'m [MockPage]>;

/// The input of a property: pages, an offset into the first, a size and a
/// segment limit.
struct Input {
    pages: Vec<sg_testkit::MockPage>,
    offset: usize,
    size: u64,
    max_segment: u32,
    /// The raw input that picked the size, a seed for what else varies.
    cut: u16,
}

/// What a property draws: the pages' layout, a segment limit, an offset
/// and a cut (see [`Input::new`]).
type Case = (PageLayout, MaxSegment, u16, u16);

impl Input {
    /// Adds `layout`'s pages to `mock`; `offset` and `cut` pick an offset
    /// and a size that reaches into the last page or stops earlier.
    fn new(mock: &Mock, (layout, max, offset, cut): Case) -> Self {
        let pages = layout.add_to(mock);
        let offset = usize::from(offset) % PAGE;
        let available = pages.len() as u64 * PAGE as u64 - offset as u64;
        let size = if cut % 4 == 0 {
            available
        } else {
            1 + u64::from(cut) * (available - 1) / u64::from(u16::MAX)
        };
        Input {
            pages,
            offset,
            size,
            max_segment: scaled(max),
            cut,
        }
    }

    fn build<'m>(&'m self, mock: &'m Mock) -> Result<SgTable<Set<'m>>, Error> {
        let set = raw(mock, &self.pages);
        FromPages::new(set, self.offset, self.size)
            .max_segment_size(self.max_segment)
            .build()
    }

    fn limit_too_small(&self) -> bool {
        (self.max_segment as usize) < PAGE
    }
}

/// The tests of the properties below, each over 200 drawn cases.
macro_rules! property_tests {
    ($($test:ident: $property:ident),* $(,)?) => {$(
        #[test]
        fn $test() {
            quickcheck4($property);
        }
    )*};
}

property_tests! {
    from_pages_covers_the_bytes_once_in_order: prop_from_pages_covers_the_bytes_once_in_order,
    from_pages_entries_stay_within_the_limit: prop_from_pages_entries_stay_within_the_limit,
    from_pages_entries_never_span_a_frame_gap: prop_from_pages_entries_never_span_a_frame_gap,
    from_pages_neighbours_could_not_merge: prop_from_pages_neighbours_could_not_merge,
    from_pages_entries_do_not_depend_on_array_size: prop_from_pages_entries_do_not_depend_on_array_size,
}

fn quickcheck4(property: fn(Case) -> TestResult) {
    sg_testkit::checker(200).quickcheck(property);
}

/// The entries hold exactly the bytes of the pages from the offset, each
/// byte once and in order.
fn prop_from_pages_covers_the_bytes_once_in_order(case: Case) -> TestResult {
    let mock = Mock::new();
    let input = Input::new(&mock, case);
    fill(
        &mock,
        input.pages.iter().map(|page| page.pfn()),
        u64::from(input.cut),
    );
    let table = match input.build(&mock) {
        Err(error) => {
            return TestResult::from_bool(
                input.limit_too_small() && error.kind() == ErrorKind::InvalidInput,
            );
        }
        Ok(table) => table,
    };
    let expected = page_bytes(&mock, &input.pages, input.offset, input.size);
    TestResult::from_bool(
        mock.list_bytes(table.as_list()) == expected && table.byte_len() == input.size,
    )
}

/// No entry is longer than the limit rounded down to whole pages, and a
/// limit below one page is refused.
fn prop_from_pages_entries_stay_within_the_limit(case: Case) -> TestResult {
    let mock = Mock::new();
    let input = Input::new(&mock, case);
    let limit = common::max_pages(input.max_segment, PAGE) * PAGE as u64;
    match input.build(&mock) {
        Err(error) => TestResult::from_bool(
            input.limit_too_small()
                && error
                    == if input.max_segment == 0 {
                        // A limit of 0 is not a device's: invalid limits.
                        Error::InvalidLimits {
                            reason: "the maximum segment size is 0",
                        }
                    } else {
                        Error::SegmentTooSmall {
                            max_segment: input.max_segment,
                            page_size: PAGE,
                        }
                    },
        ),
        Ok(table) => TestResult::from_bool(
            !input.limit_too_small()
                && table
                    .as_list()
                    .iter()
                    .all(|entry| !entry.is_empty() && u64::from(entry.len()) <= limit),
        ),
    }
}

/// Every entry covers consecutive frames, in input order: none spans a
/// gap or a change of direction.
fn prop_from_pages_entries_never_span_a_frame_gap(case: Case) -> TestResult {
    let mock = Mock::new();
    let input = Input::new(&mock, case);
    let Ok(table) = input.build(&mock) else {
        return TestResult::from_bool(input.limit_too_small());
    };
    // The frames of the pages each entry touches must be frames of the
    // input, consecutive from the entry's first.
    let frames: HashSet<u64> = input.pages.iter().map(|page| page.pfn()).collect();
    let ok = table.as_list().iter().all(|entry| {
        let first = entry.page().map_or(u64::MAX, |page| page.pfn());
        let touched = (u64::from(entry.offset()) + u64::from(entry.len())).div_ceil(PAGE as u64);
        (0..touched).all(|step| frames.contains(&(first + step)))
    });
    let shape = check_shape(
        &entries(table.as_list()),
        &input.pages,
        input.offset,
        input.size,
        input.max_segment,
        PAGE,
    );
    if let Err(message) = &shape {
        return TestResult::error(message.clone());
    }
    TestResult::from_bool(ok)
}

/// No two neighbouring entries could have been one: where one ends at a
/// page boundary and the next continues its frames, the first is already
/// as long as the limit allows.
fn prop_from_pages_neighbours_could_not_merge(case: Case) -> TestResult {
    let mock = Mock::new();
    let input = Input::new(&mock, case);
    let Ok(table) = input.build(&mock) else {
        return TestResult::from_bool(input.limit_too_small());
    };
    let found = entries(table.as_list());
    let limit = common::max_pages(input.max_segment, PAGE) * PAGE as u64;
    let page = PAGE as u64;
    let mergeable = found.windows(2).any(|pair| {
        let end = u64::from(pair[0].offset) + u64::from(pair[0].length);
        end % page == 0 && pair[1].pfn == pair[0].pfn + end / page && end + page <= limit
    });
    TestResult::from_bool(!mergeable && table.orig_nents() == found.len())
}

/// The array size changes where entries live, never what they are.
fn prop_from_pages_entries_do_not_depend_on_array_size(case: Case) -> TestResult {
    let mock = Mock::new();
    let input = Input::new(&mock, case);
    let Ok(reference) = input.build(&mock) else {
        return TestResult::discard();
    };
    let small = CountingChunks::with_max_entries(2 + usize::from(input.cut % 3));
    let chained = FromPages::new(raw(&mock, &input.pages), input.offset, input.size)
        .max_segment_size(input.max_segment)
        .chunk_allocator(&small)
        .build()
        .expect("the same input builds with small arrays");
    let same = entries(chained.as_list()) == entries(reference.as_list())
        && chained.byte_len() == reference.byte_len();
    drop(chained);
    small.assert_clean();
    TestResult::from_bool(same)
}
