//! The pool of arrays: sizes, exhaustion, reuse, and use from many threads.

mod common;

use sg_alloc::{AppendPages, AppendTable, ChunkPool, SgTable, arrays_needed};
use sg_core::{ChunkAllocator, Error, Pages, SgEntry, VirtPage, VirtPages};
use sg_testkit::{MockPage, MockPages};

#[test]
fn serves_arrays_up_to_its_size_until_empty() {
    let pool = ChunkPool::<u64>::with_max_entries(3, 8).unwrap();
    assert_eq!(
        (pool.capacity(), pool.available(), pool.max_entries()),
        (3, 3, 8)
    );
    assert_eq!(pool.alloc(0), Err(Error::NoEntries));
    assert_eq!(
        pool.alloc(9),
        Err(Error::ChunkTooLarge {
            requested: 9,
            max: 8
        })
    );
    let arrays: Vec<_> = [1, 8, 5].iter().map(|&n| pool.alloc(n).unwrap()).collect();
    assert_eq!(pool.available(), 0);
    assert_eq!(pool.alloc(1), Err(Error::OutOfMemory));
    // Distinct, non-overlapping arrays of 8 entries each.
    let mut starts: Vec<usize> = arrays.iter().map(|array| array.as_ptr() as usize).collect();
    starts.sort_unstable();
    for pair in starts.windows(2) {
        assert!(pair[1] - pair[0] >= 8 * core::mem::size_of::<SgEntry<u64>>());
    }
    // SAFETY: allocated above with these counts, not used afterwards.
    unsafe { pool.free(arrays[1], 8) };
    assert_eq!(pool.available(), 1);
    let again = pool.alloc(2).unwrap();
    assert_eq!(again, arrays[1], "the freed array is handed out again");
    // SAFETY: allocated above with these counts, not used afterwards.
    unsafe {
        pool.free(again, 2);
        pool.free(arrays[0], 1);
        pool.free(arrays[2], 5);
    }
    assert_eq!(pool.available(), 3);
}

#[test]
fn bad_sizes_get_typed_errors() {
    assert_eq!(
        ChunkPool::<u64>::with_max_entries(4, 1).map(drop),
        Err(Error::ChunkTooLarge {
            requested: 2,
            max: 1
        })
    );
    assert!(matches!(
        ChunkPool::<u64>::with_max_entries(usize::MAX, 2).map(drop),
        Err(Error::Overflow { .. })
    ));
    let empty = ChunkPool::<u64>::new(0).unwrap();
    assert_eq!((empty.capacity(), empty.available()), (0, 0));
    assert_eq!(empty.alloc(1), Err(Error::OutOfMemory));
}

#[test]
fn many_words_of_arrays() {
    // More arrays than bits in a word, so the search crosses words.
    let count = usize::BITS as usize * 2 + 5;
    let pool = ChunkPool::<u64>::with_max_entries(count, 2).unwrap();
    let arrays: Vec<_> = (0..count).map(|_| pool.alloc(2).unwrap()).collect();
    assert_eq!(pool.alloc(2), Err(Error::OutOfMemory));
    for &array in arrays.iter().rev() {
        // SAFETY: allocated above with 2 entries, not used afterwards.
        unsafe { pool.free(array, 2) };
    }
    assert_eq!(pool.available(), count);
}

#[test]
fn tables_take_and_give_back_arrays() {
    let pages = VirtPages::new();
    let pool = ChunkPool::<VirtPage>::new(arrays_needed(1000, 128).unwrap()).unwrap();
    assert_eq!(pool.capacity(), 8);
    let table = SgTable::new_in(&pages, 1000, &pool).unwrap();
    assert_eq!(table.as_list().count(), 1000);
    assert_eq!(pool.available(), 0);
    // A build that runs out gives back what it took.
    drop(table);
    let first = SgTable::new_in(&pages, 500, &pool).unwrap();
    assert_eq!(
        SgTable::new_in(&pages, 600, &pool).map(drop),
        Err(Error::OutOfMemory)
    );
    assert_eq!(pool.available(), 4);
    drop(first);
    assert_eq!(pool.available(), 8);
    // Owned by the table, the pool goes when the table goes.
    let owned = SgTable::new_in(&pages, 10, ChunkPool::<VirtPage>::new(1).unwrap()).unwrap();
    assert_eq!(owned.chunk_allocator().available(), 0);
}

#[test]
fn appends_and_writes_through_a_pool() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1, 2, 4]);
    common::fill(&mock, [1, 2, 4], 2);
    let pool = ChunkPool::<MockPage>::with_max_entries(2, 4).unwrap();
    // SAFETY: three distinct pages the mock holds, used by nothing else
    // while the set lives.
    let mut set = unsafe { Pages::from_raw(&mock, &pages[..]) };
    let mut append = AppendTable::new_in(&mut set, &pool);
    append
        .append_pages(AppendPages::new(0..1, 4096).left_pages(2))
        .unwrap();
    append.append_pages(AppendPages::new(1..3, 8192)).unwrap();
    let table = append.finish().unwrap();
    assert_eq!(table.orig_nents(), 2);
    assert_eq!(
        mock.list_bytes(table.as_list()),
        [mock.read(pages[0], 0, 8192), mock.read(pages[2], 0, 4096)].concat()
    );
}

#[test]
fn threads_share_a_pool() {
    let pool = ChunkPool::<u64>::with_max_entries(6, 4).unwrap();
    let rounds = if cfg!(miri) { 20 } else { 5_000 };
    std::thread::scope(|scope| {
        for thread in 0..3u64 {
            let pool = &pool;
            scope.spawn(move || {
                for round in 0..rounds {
                    let Ok(array) = pool.alloc(4) else { continue };
                    let mark = thread << 32 | round;
                    // SAFETY: the array is this thread's until freed: 4
                    // entries valid for writes; the entries are never made a
                    // list.
                    unsafe {
                        for slot in 0..4 {
                            let mut entry = SgEntry::new();
                            entry.set_page(mark, 0, slot);
                            array.add(slot as usize).write(entry);
                        }
                        std::thread::yield_now();
                        for slot in 0..4 {
                            let entry = array.add(slot as usize).as_ref();
                            assert_eq!((entry.page(), entry.len()), (Some(mark), slot));
                        }
                        pool.free(array, 4);
                    }
                }
            });
        }
    });
    assert_eq!(pool.available(), 6);
}

#[test]
fn debug_shows_the_counts() {
    let pool = ChunkPool::<u64>::with_max_entries(3, 8).unwrap();
    let text = format!("{pool:?}");
    assert!(
        text.contains("capacity: 3") && text.contains("available: 3"),
        "{text}"
    );
}
