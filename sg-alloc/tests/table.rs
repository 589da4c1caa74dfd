//! The owning table: chained layout, the caller's first array, giving back
//! exactly what was taken, entry writes and views.

mod common;

use common::entries;
use sg_alloc::{ChunkPool, FirstChunk, SgTable, WithFirstChunk, arrays_needed};
use sg_core::{ChunkAllocator, Error, HeapChunks, PageProvider, Pages, Read, VirtPage, VirtPages};
use sg_testkit::{CountingChunks, MockPage, MockPages, for_each_chunk_failure};

/// Checks a table of `n` empty entries whose arrays (from `chunks`) hold at
/// most `max` slots: every array but the last is full, the last holds just
/// what is left, and the list walks `n` entries ending in the end mark.
fn check_layout<P: PageProvider>(
    table: &SgTable<P, &CountingChunks>,
    chunks: &CountingChunks,
    n: usize,
    max: usize,
) {
    let sizes = chunks.sizes();
    let (last, full) = sizes.split_last().expect("at least one array");
    assert!(
        full.iter().all(|&size| size == max),
        "{n}: arrays {sizes:?}"
    );
    assert!(*last >= 1 && *last <= max, "{n}: arrays {sizes:?}");
    assert_eq!(full.len() * (max - 1) + last, n, "{n}: arrays {sizes:?}");
    assert_eq!(Some(sizes.len()), arrays_needed(n, max), "{n}");
    assert_eq!(table.arrays(), sizes.len());
    let list = table.as_list();
    assert_eq!(list.count(), n);
    assert_eq!(list.iter().count(), n);
    assert_eq!(list.iter().filter(|entry| entry.is_chain()).count(), 0);
    assert!(
        list.last_of(n).is_ok(),
        "{n}: the last entry carries the end mark"
    );
    assert_eq!(
        (table.orig_nents(), table.nents(), table.byte_len()),
        (n, n, 0)
    );
}

fn layouts(max: usize, largest_power: u32) {
    let pages = VirtPages::new();
    for power in 0..=largest_power {
        let base = 1usize << power;
        for n in [base - 1, base, base + 1] {
            if n == 0 {
                continue;
            }
            let chunks = CountingChunks::with_max_entries(max);
            let table = SgTable::new_in(&pages, n, &chunks).unwrap();
            check_layout(&table, &chunks, n, max);
            drop(table);
            assert_eq!(chunks.frees(), chunks.allocations());
            chunks.assert_clean();
        }
    }
}

#[test]
#[cfg_attr(
    miri,
    ignore = "millions of entries take too long under Miri; \
              `small_tables_of_two_to_the_k_plus_minus_one_entries` runs the same layouts there"
)]
fn tables_of_two_to_the_k_plus_minus_one_entries_up_to_k_20() {
    layouts(sg_alloc::full_chunk_entries::<VirtPage>(), 20);
}

#[test]
fn small_tables_of_two_to_the_k_plus_minus_one_entries() {
    // Small arrays make many links out of few entries, for Miri.
    for max in [2, 3, 4, 128] {
        layouts(max, if cfg!(miri) { 5 } else { 10 });
    }
}

#[test]
fn a_full_array_is_one_page() {
    assert_eq!(
        sg_alloc::full_chunk_entries::<VirtPage>(),
        4096 / core::mem::size_of::<sg_core::SgEntry<VirtPage>>()
    );
    assert_eq!(
        ChunkAllocator::<VirtPage>::max_entries(&HeapChunks::new()),
        sg_alloc::full_chunk_entries::<VirtPage>()
    );
}

#[test]
fn bad_input_gets_typed_errors() {
    let pages = VirtPages::new();
    assert_eq!(SgTable::new(&pages, 0).map(drop), Err(Error::NoEntries));
    assert_eq!(
        SgTable::with_max_entries_in(&pages, 3, 1, HeapChunks::new()).map(drop),
        Err(Error::ChunkTooLarge {
            requested: 2,
            max: 1
        })
    );
    // One array of one entry needs no link.
    assert_eq!(
        SgTable::with_max_entries_in(&pages, 1, 1, HeapChunks::new()).map(|table| table.arrays()),
        Ok(1)
    );
    assert_eq!(
        SgTable::new(&pages, usize::MAX).map(drop),
        Err(Error::Overflow {
            what: "table of entries"
        })
    );
}

#[test]
fn max_entries_is_capped_by_the_allocator() {
    let chunks = CountingChunks::with_max_entries(4);
    let table = SgTable::with_max_entries_in(VirtPages::new(), 10, 100, &chunks).unwrap();
    assert_eq!(chunks.sizes(), [4, 4, 4]);
    assert_eq!(table.as_list().count(), 10);
    let chunks = CountingChunks::new();
    let table = SgTable::with_max_entries_in(VirtPages::new(), 10, 3, &chunks).unwrap();
    assert_eq!(chunks.sizes(), [3, 3, 3, 3, 2]); // 2 + 2 + 2 + 2 + 2
    assert_eq!(table.as_list().count(), 10);
}

#[test]
fn a_failed_build_gives_back_every_array() {
    // Fewer under Miri, where each failure point costs a fresh allocator.
    let cases: &[(usize, usize)] = if cfg!(miri) {
        &[(1, 4), (5, 4), (130, 128), (9, 2)]
    } else {
        &[(1, 4), (4, 4), (5, 4), (30, 4), (300, 128), (40, 2)]
    };
    for &(n, max) in cases {
        let points = for_each_chunk_failure(Some(max), |chunks| {
            let table = SgTable::new_in(VirtPages::new(), n, chunks)?;
            assert_eq!(table.as_list().count(), n);
            Ok(())
        });
        assert_eq!(
            Some(points),
            arrays_needed(n, max),
            "{n} entries, {max} slots"
        );
    }
}

#[test]
fn the_first_chunk_is_used_and_never_freed() {
    let pages = VirtPages::new();
    let mut first = FirstChunk::<VirtPage, 4>::new();
    assert_eq!(first.capacity(), 4);
    for n in 1..=20 {
        let chunks = CountingChunks::with_max_entries(5);
        let table = SgTable::with_first_chunk_in(&pages, n, &mut first, &chunks).unwrap();
        let sizes = chunks.sizes();
        if n <= 4 {
            assert!(sizes.is_empty(), "{n}: {sizes:?}");
        } else {
            // 3 entries and a link in the first array, then arrays of 5.
            let (last, full) = sizes.split_last().unwrap();
            assert!(full.iter().all(|&size| size == 5), "{n}: {sizes:?}");
            assert_eq!(3 + full.len() * 4 + last, n, "{n}: {sizes:?}");
        }
        assert_eq!(table.arrays(), sizes.len() + 1);
        assert_eq!(table.as_list().count(), n);
        assert!(table.as_list().last_of(n).is_ok());
        drop(table);
        // Every array from the allocator was given back, and nothing else
        // (a free of the first chunk would have failed the check).
        assert_eq!(chunks.frees(), sizes.len());
        chunks.assert_clean();
    }
}

#[test]
fn a_failed_build_with_a_first_chunk_gives_back_every_array() {
    let mut first = FirstChunk::<VirtPage, 3>::new();
    let points = for_each_chunk_failure(Some(3), |chunks| {
        let table = SgTable::with_first_chunk_in(VirtPages::new(), 9, &mut first, chunks)?;
        assert_eq!(table.as_list().count(), 9);
        Ok(())
    });
    // 2 + link, then 2 + link, 2 + link, 3.
    assert_eq!(points, 3);
}

#[test]
fn a_first_chunk_survives_a_forgotten_table() {
    let pool = ChunkPool::<VirtPage>::with_max_entries(4, 4).unwrap();
    let mut first = FirstChunk::<VirtPage, 4>::new();
    let forgotten = SgTable::with_first_chunk_in(VirtPages::new(), 10, &mut first, &pool).unwrap();
    core::mem::forget(forgotten);
    assert_eq!(pool.available(), 2, "the forgotten table keeps its arrays");
    // The first chunk's stale link is never read: a new table overwrites
    // it, even after the pool that the link points into is gone.
    drop(pool);
    let table =
        SgTable::with_first_chunk_in(VirtPages::new(), 2, &mut first, HeapChunks::new()).unwrap();
    assert_eq!(table.as_list().count(), 2);
}

#[test]
fn entries_mut_writes_data_entries_and_keeps_the_byte_count() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages(0..10);
    let chunks = CountingChunks::with_max_entries(3);
    let mut table = SgTable::new_in(&mock, 10, &chunks).unwrap();
    assert_eq!(table.entries_mut().len(), 10);
    for (index, mut entry) in table.entries_mut().enumerate() {
        assert!(!entry.is_chain());
        // SAFETY: bytes inside the mock's page, in no other list.
        unsafe { entry.set_page(pages[index], 8 * index as u32, 100 + index as u32) };
        entry.set_dma(0x1000 * index as u64, 7);
    }
    let expected: u64 = (0..10).map(|index| 100 + index).sum();
    assert_eq!(table.byte_len(), expected);
    assert_eq!(table.as_list().byte_len(), expected);
    let walked: u64 = table
        .as_list()
        .iter()
        .map(|entry| u64::from(entry.len()))
        .sum();
    assert_eq!(walked, expected);
    // Shortening and lengthening keep the count right.
    let mut first = table.entries_mut().next().unwrap();
    // SAFETY: bytes inside the mock's page, in no other list.
    unsafe {
        first.set_page(pages[0], 0, 1);
        first.set_page(pages[0], 0, 4096);
    }
    assert_eq!(table.byte_len(), expected - 100 + 4096);
    let found = entries(table.as_list());
    assert_eq!(found[3].pfn, 3);
    assert_eq!(found[3].offset, 24);
    assert_eq!(found[9].dma, (0x9000, 7));
    assert!(found[9].last && found.iter().filter(|entry| entry.last).count() == 1);
    assert_eq!(table.dma_list().dma_segments().count(), 10);
    // Views see the writes and slice with the known length.
    common::fill(&mock, 0..10, 9);
    let slice = table.as_list().slice(4000, 200).unwrap();
    assert_eq!(mock.list_bytes(slice).len(), 200);
    let mut exclusive = table.as_list_mut();
    assert_eq!(
        exclusive.slice_mut(4096, 101).unwrap().as_list().byte_len(),
        101
    );
    drop(table);
    chunks.assert_clean();
}

#[test]
fn debug_shows_the_counts_and_entries() {
    let table = SgTable::new(VirtPages::new(), 3).unwrap();
    let text = format!("{table:?}");
    assert!(
        text.contains("orig_nents: 3") && text.contains("arrays: 1"),
        "{text}"
    );
    assert!(text.contains("SgEntry"), "{text}");
    let mut table = table;
    let entry = table.entries_mut().next().unwrap();
    assert!(format!("{entry:?}").starts_with("SgEntry"));
}

#[test]
fn tables_are_send_and_sync_where_their_parts_are() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<SgTable<VirtPages>>();
    send_sync::<SgTable<&MockPages<4096>, &CountingChunks>>();
    send_sync::<SgTable<VirtPages, &ChunkPool<VirtPage>>>();
    send_sync::<SgTable<VirtPages, WithFirstChunk<'static, VirtPage>>>();
    send_sync::<sg_alloc::AppendTable<Pages<VirtPages>>>();
    send_sync::<sg_alloc::AppendTable<&Pages<&MockPages<4096>>, HeapChunks, Read>>();
    send_sync::<SgTable<Pages<VirtPages>, HeapChunks, Read>>();
    send_sync::<sg_alloc::PageList<VirtPages>>();
    send_sync::<ChunkPool<VirtPage>>();
    send_sync::<ChunkPool<MockPage>>();
    send_sync::<FirstChunk<VirtPage, 8>>();
    // And really usable from another thread.
    let table = SgTable::new(VirtPages::new(), 200).unwrap();
    let counted = std::thread::scope(|scope| scope.spawn(|| table.as_list().count()).join());
    assert_eq!(counted.unwrap(), 200);
}

#[test]
fn entry_writes_keep_every_arrays_byte_count_and_seeks_follow_them() {
    // Arrays of 4 slots (3 entries and a link); every entry handle alive at
    // once and written out of order, twice, lengths going up and down:
    // each link's count follows, and every skip lands where the walk does.
    let pages = MockPages::<64>::new();
    let handles: Vec<MockPage> = (0..20).map(|_| pages.alloc_pages(0).unwrap()).collect();
    let mut table = SgTable::with_max_entries_in(&pages, 20, 4, HeapChunks::new()).unwrap();
    assert_eq!(table.arrays(), 7);
    for round in 0..2u32 {
        let mut handles_of_entries: Vec<_> = table.entries_mut().collect();
        for (index, entry) in handles_of_entries.iter_mut().enumerate().rev() {
            let length = (index as u32 * 7 + round * 13) % 60 + 1;
            // SAFETY: `length` bytes (at most 60) of a distinct page of
            // the mock, which outlives the table.
            unsafe { entry.set_page(handles[index], 2, length) };
        }
        drop(handles_of_entries);
        let list = table.as_list();
        common::check_array_counts(list);
        let lengths: Vec<u64> = list.iter().map(|entry| u64::from(entry.len())).collect();
        assert_eq!(lengths.iter().sum::<u64>(), table.byte_len());
        // Under Miri (a thousand times slower), every ninth skip.
        for skip in (0..=table.byte_len()).filter(|skip| !cfg!(miri) || skip % 9 == 0) {
            let mut left = skip;
            let mut expected = Vec::new();
            for &len in &lengths {
                if left >= len {
                    left -= len;
                } else {
                    expected.push(len - left);
                    left = 0;
                }
            }
            let got: Vec<u64> = list
                .skip_bytes(skip)
                .segments()
                .map(|segment| u64::from(segment.len))
                .collect();
            assert_eq!(got, expected, "round {round}, skip {skip}");
        }
    }
    drop(table);
    for handle in handles {
        // SAFETY: allocated above with order 0; the table is gone.
        unsafe { pages.free_pages(handle, 0) };
    }
}

#[test]
fn the_entry_writer_shows_the_entries_left() {
    let mut table = SgTable::new(VirtPages::new(), 3).unwrap();
    let mut entries = table.entries_mut();
    assert_eq!(format!("{entries:?}"), "EntriesMut { entries_left: 3, .. }");
    entries.next();
    assert_eq!(format!("{entries:?}"), "EntriesMut { entries_left: 2, .. }");
}
