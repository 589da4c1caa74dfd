//! Rows for allocators and providers that fail at any call: every
//! operation that takes arrays or pages, failed at each of its calls in
//! turn, gives back everything it took (and an append or a join leaves
//! its tables as they were).

use sg_alloc::{
    AppendPages, AppendTable, ChunkPool, FirstChunk, FromPages, JoinFailure, PageList, SgTable,
    split_in,
};
use sg_core::allocator_api2::alloc::Global;
use sg_core::{DmaLimits, Error, HeapChunks, Pages, VirtPages};
use sg_testkit::{for_each_chunk_failure, for_each_failure_point, for_each_page_failure};

use crate::Row;
use crate::kit::{
    FailingAllocator, Mock, PAGE_U64, SAMPLE_BYTES, append_snapshot, sample_pages, sample_table,
    set, table_snapshot,
};

pub(crate) fn rows() -> Vec<Row> {
    rows! {
        Failure {
            "SgTable::new_in" => table_when_chunks_fail,
            "SgTable::with_max_entries_in" => table_with_max_when_chunks_fail,
            "SgTable::with_first_chunk_in" => first_chunk_table_when_chunks_fail,
            "FromPages::chunk_allocator" => from_pages_when_chunks_fail,
            "FromPages::build" => for_device_when_chunks_fail,
            "AppendTable::append_pages" => append_when_chunks_fail,
            "AppendPages::limits" => append_for_device_when_chunks_fail,
            "PageListBuilder::chunk_allocator" => page_list_when_chunks_fail,
            "PageList::new" => page_list_when_pages_fail,
            "PageList::builder" => page_list_of_runs_when_pages_fail,
            "split_in" => split_when_chunks_fail,
            "SgTable::clone_in" => clone_when_chunks_fail,
            "SgTable::clone_merged_in" => merged_clone_when_chunks_fail,
            "SgTable::join" => join_when_chunks_fail,
            "ChunkPool::alloc" => table_from_an_exhausted_pool,
            "ChunkPool::new_in" => pool_when_memory_fails,
            "HeapChunks::new_in" => heap_table_when_memory_fails,
            "VirtPages::new_in" => virt_page_list_when_memory_fails,
            "Pages::alloc" => page_set_when_pages_fail,
            "Pages::alloc_more" => growing_page_set_when_pages_fail,
        }
    }
}

/// Lone frames (no two contiguous): one entry each.
fn lone_pages(mock: &Mock, count: u64) -> Vec<sg_testkit::MockPage> {
    mock.add_pages((0..count).map(|index| 100 + 2 * index))
}

fn table_when_chunks_fail() {
    let mock = Mock::new();
    // 10 entries in arrays of 4: 3 + 3 + 4.
    let points = for_each_chunk_failure(Some(4), |chunks| {
        SgTable::new_in(&mock, 10, chunks).map(drop)
    });
    assert_eq!(points, 3);
}

fn table_with_max_when_chunks_fail() {
    let mock = Mock::new();
    // Arrays of 3 from an allocator of 4: 2 + 2 + 2 + 3.
    let points = for_each_chunk_failure(Some(4), |chunks| {
        SgTable::with_max_entries_in(&mock, 9, 3, chunks).map(drop)
    });
    assert_eq!(points, 4);
}

fn first_chunk_table_when_chunks_fail() {
    let mock = Mock::new();
    let mut first = FirstChunk::<_, 4>::new();
    // 3 in the first chunk, then 3 + 3 + 3.
    let points = for_each_chunk_failure(Some(4), |chunks| {
        SgTable::with_first_chunk_in(&mock, 12, &mut first, chunks).map(drop)
    });
    assert_eq!(points, 3);
}

fn from_pages_when_chunks_fail() {
    let mock = Mock::new();
    let pages = lone_pages(&mock, 8);
    let points = for_each_chunk_failure(Some(4), |chunks| {
        FromPages::new(set(&mock, &pages), 0, 8 * PAGE_U64)
            .chunk_allocator(chunks)
            .build()
            .map(drop)
    });
    assert_eq!(points, 3);
    mock.assert_clean();
}

fn for_device_when_chunks_fail() {
    let mock = Mock::new();
    let pages = lone_pages(&mock, 8);
    let limits = DmaLimits::new();
    let points = for_each_chunk_failure(Some(4), |chunks| {
        let source = set(&mock, &pages);
        FromPages::new(source, 0, 8 * PAGE_U64)
            .limits(&limits)
            .chunk_allocator(chunks)
            .build()
            .map(drop)
    });
    assert_eq!(points, 3);
    mock.assert_clean();
}

/// Appends in two calls, each failing at each of its allocations in turn;
/// a failed call leaves the table as it was.
fn appends_when_chunks_fail(device: bool) -> usize {
    let mock = Mock::new();
    let pages = lone_pages(&mock, 9);
    let limits = DmaLimits::new();
    for_each_chunk_failure(Some(4), |chunks| {
        let mut append = AppendTable::new_in(set(&mock, &pages), chunks);
        for (range, left) in [(0..3, 6), (3..9, 0)] {
            let size = range.len() as u64 * PAGE_U64;
            let before = append_snapshot(&append);
            let done = if device {
                append.append_pages(
                    AppendPages::new(range, size)
                        .limits(&limits)
                        .left_pages(left),
                )
            } else {
                append.append_pages(AppendPages::new(range, size).left_pages(left))
            };
            if done.is_err() {
                assert_eq!(
                    append_snapshot(&append),
                    before,
                    "a failed call changed the table"
                );
            }
            done?;
        }
        assert_eq!(append.finish()?.orig_nents(), 9);
        Ok(())
    })
}

fn append_when_chunks_fail() {
    assert!(appends_when_chunks_fail(false) >= 3);
}

fn append_for_device_when_chunks_fail() {
    assert!(appends_when_chunks_fail(true) >= 3);
}

fn page_list_when_chunks_fail() {
    let mock = Mock::new();
    // 10 pages and the spare: 11 entries, in arrays of 4.
    let points = for_each_chunk_failure(Some(4), |chunks| {
        let list = PageList::builder(&mock, 10 * PAGE_U64)
            .chainable(true)
            .chunk_allocator(chunks)
            .build()
            .map(drop);
        mock.assert_clean();
        list
    });
    assert_eq!(points, 4);
}

fn page_list_when_pages_fail() {
    let points = for_each_page_failure(Mock::new, |mock| {
        PageList::new(mock, 5 * PAGE_U64 - 1).map(drop)
    });
    assert_eq!(points, 5);
}

fn page_list_of_runs_when_pages_fail() {
    let points = for_each_page_failure(Mock::new, |mock| {
        PageList::builder(mock, 7 * PAGE_U64)
            .order(1)
            .chainable(true)
            .build()
            .map(drop)
    });
    assert_eq!(points, 4);
}

fn split_when_chunks_fail() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    let sizes = [1, 2, SAMPLE_BYTES - 10];
    let points = for_each_chunk_failure(Some(4), |chunks| {
        split_in(table.as_list(), 5, &sizes, chunks).map(drop)
    });
    assert_eq!(points, 3, "one array per piece");
}

fn clone_when_chunks_fail() {
    let mock = Mock::new();
    let pages = lone_pages(&mock, 7);
    let table = SgTable::from_pages(set(&mock, &pages), 0, 7 * PAGE_U64).unwrap();
    // 3 entries and a link, then the last 4.
    let points = for_each_chunk_failure(Some(4), |chunks| table.clone_in(chunks).map(drop));
    assert_eq!(points, 2);
}

fn merged_clone_when_chunks_fail() {
    let mock = Mock::new();
    let pages = lone_pages(&mock, 7);
    let mut table = SgTable::new(&mock, 7).unwrap();
    for (mut entry, &page) in table.entries_mut().zip(&pages) {
        // SAFETY: half of a page of the mock, in no other list.
        unsafe { entry.set_page(page, 0, PAGE_U64 as u32 / 2) };
    }
    let points = for_each_chunk_failure(Some(4), |chunks| table.clone_merged_in(chunks).map(drop));
    // Entries that end inside their page never merge: 7 entries again.
    assert_eq!(points, 2);
}

fn join_when_chunks_fail() {
    let mock = Mock::new();
    let points = for_each_chunk_failure(Some(4), |chunks| {
        // Full last arrays: the join needs a bridge array.
        let mut first = SgTable::new_in(&mock, 4, chunks)?;
        let second = SgTable::new_in(&mock, 3, chunks)?;
        let (before, other) = (table_snapshot(&first), table_snapshot(&second));
        if let Err(refused) = first.join(second) {
            let reason = refused.reason();
            assert_eq!(table_snapshot(&first), before);
            assert_eq!(table_snapshot(&refused.into_table()), other);
            return match reason {
                JoinFailure::Error(error) => Err(error),
                other => panic!("the join failed with {other:?}"),
            };
        }
        assert_eq!(first.orig_nents(), 7);
        Ok(())
    });
    assert_eq!(points, 3);
}

fn table_from_an_exhausted_pool() {
    let mock = Mock::new();
    let pool = ChunkPool::<_>::with_max_entries(2, 4).unwrap();
    let held = SgTable::new_in(&mock, 4, &pool).unwrap();
    // 7 entries need 2 arrays and one is left: the build gives it back.
    assert_eq!(
        SgTable::new_in(&mock, 7, &pool).err(),
        Some(Error::OutOfMemory)
    );
    assert_eq!(pool.available(), 1);
    drop(held);
    assert_eq!(pool.available(), 2);
}

fn pool_when_memory_fails() {
    let allocator = FailingAllocator::at(0);
    let pool = ChunkPool::<sg_testkit::MockPage, _>::new_in(&allocator, 2, 4);
    assert_eq!(pool.err(), Some(Error::OutOfMemory));
    assert_eq!(allocator.live(), 0);
    // Nothing to allocate for a pool of no arrays.
    let empty = ChunkPool::<sg_testkit::MockPage, _>::new_in(Global, 0, 4);
    assert!(empty.is_ok());
}

fn heap_table_when_memory_fails() {
    let mock = Mock::new();
    let points = for_each_failure_point(|call| {
        let allocator = FailingAllocator::at(call);
        let chunks = HeapChunks::new_in(&allocator).with_max_entries(4)?;
        let table = SgTable::new_in(&mock, 10, chunks).map(drop);
        assert_eq!(allocator.live(), 0, "call {call}");
        table
    });
    assert_eq!(points, 3);
}

fn virt_page_list_when_memory_fails() {
    let points = for_each_failure_point(|call| {
        let allocator = FailingAllocator::at(call);
        let pages = VirtPages::new_in(&allocator);
        let list = PageList::new(&pages, 3 * 4096).map(drop);
        assert_eq!(allocator.live(), 0, "call {call}");
        list
    });
    assert_eq!(points, 3);
}

fn page_set_when_pages_fail() {
    let points = for_each_page_failure(Mock::new, |mock| Pages::alloc(mock, 2).map(drop));
    assert_eq!(points, 1);
}

fn growing_page_set_when_pages_fail() {
    // Each failed call leaves the set as it was; dropping it gives back
    // what it holds (the kit checks for leaks after each attempt).
    let points = for_each_page_failure(Mock::new, |mock| {
        let mut set = Pages::new(mock);
        for (order, held) in [(0, 1), (2, 5), (1, 7)] {
            let before = set.handles().to_vec();
            if let Err(error) = set.alloc_more(order) {
                assert_eq!(set.handles(), before, "a failed call changed the set");
                return Err(error);
            }
            assert_eq!(set.len(), held);
        }
        Ok(())
    });
    assert_eq!(points, 3);
}
