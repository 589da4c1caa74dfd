//! Every operation of the crate that calls a provider or a chunk
//! allocator, with that callback panicking at each of its calls in turn:
//! building (from pages, from slices, empty tables, page lists),
//! appending, splitting and cloning. After the unwind no array or page is
//! left allocated beyond what the test holds, and a table that survives a
//! panicking call reads as it did before the call.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use common::panic_at_every_chunk_call;
use sg_alloc::{AppendPages, AppendTable, FromPages, PageList, SgTable, SliceTable, split_in};
use sg_core::{DmaLimits, Pages};
use sg_testkit::{CountingChunks, PanicAt, TEST_PAGE_SIZE, TestPages, for_each_panic_point};

const PAGE: u64 = TEST_PAGE_SIZE as u64;

/// Arrays of at most 4 slots, so that small tables chain several.
fn small_chunks() -> CountingChunks {
    CountingChunks::with_max_entries(4)
}

/// What a table reads as: entries, bytes, and each entry's length.
fn shape<P: sg_core::PageProvider>(list: sg_core::SgList<'_, P>) -> (usize, u64, Vec<u32>) {
    let lengths: Vec<u32> = list.iter().map(|entry| entry.len()).collect();
    (lengths.len(), list.byte_len(), lengths)
}

#[test]
fn building_from_pages_survives_a_panicking_provider_or_allocator() {
    let mock = TestPages::new();
    // Runs of 2, 1 and 3 frames: three entries, or more under a limit.
    let handles = mock.add_pages([4, 5, 9, 12, 13, 14]);
    let chunks = small_chunks();
    let limits = DmaLimits::new()
        .with_max_segment_size(2 * PAGE as u32)
        .with_segment_boundary(Some(2 * PAGE));
    // The provider panics: the table over its set is dropped, and the
    // set (borrowed frames) with it.
    let points = for_each_panic_point(
        |k| {
            // SAFETY: distinct frames the mock holds, in no other set.
            let set = unsafe { Pages::from_raw(PanicAt::new(&mock, k), handles.clone()) };
            let table = FromPages::new(set, 8, 6 * PAGE - 16)
                .limits(&limits)
                .chunk_allocator(&chunks)
                .build()
                .unwrap();
            assert_eq!(table.orig_nents(), 4);
        },
        |k| assert_eq!(chunks.live(), 0, "panic at provider call {k}"),
    );
    assert!(points >= 6, "{points}");
    // The allocator panics.
    let points = panic_at_every_chunk_call(&chunks, |allocator| {
        // SAFETY: as above.
        let set = unsafe { Pages::from_raw(&mock, &handles[..]) };
        let table = FromPages::new(set, 0, 6 * PAGE)
            .max_segment_size(PAGE as u32)
            .chunk_allocator(allocator)
            .build()
            .unwrap();
        assert_eq!((table.orig_nents(), table.arrays()), (6, 2));
    });
    assert!(points >= 4, "{points}");
}

#[test]
fn empty_tables_slice_tables_and_clones_survive_a_panicking_allocator() {
    let mock = TestPages::new();
    let chunks = small_chunks();
    let mut bytes = [[0u8; 8]; 7];
    let points = panic_at_every_chunk_call(&chunks, |allocator| {
        let table = SgTable::new_in(&mock, 7, allocator).unwrap();
        assert_eq!(table.arrays(), 2);
        let clone = table.clone_in(allocator).unwrap();
        assert_eq!(clone.orig_nents(), 7);
        let mut slices: Vec<&mut [u8]> = bytes.iter_mut().map(|b| &mut b[..]).collect();
        let slice_table = SliceTable::new_in(&mut slices, allocator).unwrap();
        assert_eq!(slice_table.as_list().byte_len(), 56);
    });
    assert!(points >= 12, "{points}");
}

#[test]
fn page_lists_give_every_page_back_when_the_provider_panics() {
    let mock = TestPages::new();
    let chunks = small_chunks();
    let points = for_each_panic_point(
        |k| {
            let provider = PanicAt::new(&mock, k);
            let list = PageList::builder(&provider, 5 * PAGE)
                .chunk_allocator(&chunks)
                .build()
                .unwrap();
            assert_eq!(list.nents(), 5);
        },
        |k| {
            assert_eq!(mock.live_allocations(), 0, "panic at provider call {k}");
            assert_eq!(chunks.live(), 0, "panic at provider call {k}");
        },
    );
    // Five allocations and five frees at least.
    assert!(points >= 10, "{points}");
    let points = for_each_panic_point(
        |k| {
            let allocator = PanicAt::new(&chunks, k);
            let list = PageList::builder(&mock, 5 * PAGE)
                .chainable(true)
                .chunk_allocator(&allocator)
                .build()
                .unwrap();
            assert!(list.is_chainable());
        },
        |k| {
            assert_eq!(mock.live_allocations(), 0, "panic at allocator call {k}");
            assert_eq!(chunks.live(), 0, "panic at allocator call {k}");
        },
    );
    assert!(points >= 3, "{points}");
    mock.assert_clean();
    chunks.assert_clean();
}

/// A panicking allocator in the middle of an append: the appends before it
/// stay, the one that panicked is rolled back, and dropping the table
/// gives every array back.
#[test]
fn an_append_that_panics_is_rolled_back() {
    let mock = TestPages::new();
    let handles = mock.add_pages([1, 3, 5, 7, 9, 11, 13]);
    // SAFETY: distinct frames the mock holds, in no other set.
    let set = unsafe { Pages::from_raw(&mock, &handles[..]) };
    let chunks = small_chunks();
    let points = panic_at_every_chunk_call(&chunks, |allocator| {
        let mut append = AppendTable::new_in(&set, allocator);
        for (pages, left) in [(0..2, 5), (2..5, 2), (5..7, 0)] {
            let before = shape(append.as_list());
            let size = (pages.end - pages.start) as u64 * PAGE;
            let call = AppendPages::new(pages, size).left_pages(left);
            let outcome = catch_unwind(AssertUnwindSafe(|| append.append_pages(call)));
            if let Err(payload) = outcome {
                // The call that panicked left the table as it was.
                assert_eq!(shape(append.as_list()), before);
                resume_unwind(payload);
            }
        }
        assert_eq!(append.finish().unwrap().orig_nents(), 7);
    });
    assert!(points >= 4, "{points}");
}

#[test]
fn splitting_survives_a_panicking_allocator() {
    let mock = TestPages::new();
    let handles = mock.add_pages([2, 4, 6, 8]);
    // SAFETY: distinct frames the mock holds, in no other set.
    let set = unsafe { Pages::from_raw(&mock, &handles[..]) };
    let table = SgTable::from_pages(&set, 0, 4 * PAGE).unwrap();
    let chunks = small_chunks();
    let points = panic_at_every_chunk_call(&chunks, |allocator| {
        let sizes = [PAGE / 2, PAGE, 2 * PAGE, PAGE / 4];
        let pieces = split_in(table.as_list(), 8, &sizes, allocator).unwrap();
        assert_eq!(pieces.len(), 4);
    });
    assert!(points >= 8, "{points}");
    assert_eq!(shape(table.as_list()).1, 4 * PAGE);
}
