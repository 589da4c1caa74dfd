//! Tables of many arrays built all at once take them from one block
//! (`ChunkAllocator::alloc_block`) when the allocator gives one, and
//! read, join and free exactly as tables of arrays taken one by one.

use sg_alloc::{SgTable, arrays_needed};
use sg_testkit::{CountingChunks, FramePages, PanicAt, for_each_panic_point};

/// Slots per array: three entries and a link, so that small tables chain
/// many arrays (and stay quick under Miri).
const SLOTS: usize = 4;

/// Tables of this many arrays or more take a block.
const BLOCK_FROM_ARRAYS: usize = 64;

type Frames = FramePages<4096>;

fn chunks() -> CountingChunks {
    CountingChunks::with_max_entries(SLOTS).serving_blocks()
}

/// The fewest entries that take `arrays` arrays.
fn entries_for(arrays: usize) -> usize {
    (1..)
        .find(|&entries| arrays_needed(entries, SLOTS) == Some(arrays))
        .unwrap()
}

/// A table of `entries` entries whose entry `i` is frame `first + i`,
/// `i % 4000 + 1` bytes long at offset `i % 7`.
fn table<'a>(
    frames: &'a Frames,
    chunks: &'a CountingChunks,
    entries: usize,
    first: u64,
) -> SgTable<&'a Frames, &'a CountingChunks> {
    let mut table = SgTable::new_in(frames, entries, chunks).unwrap();
    for (index, mut entry) in table.entries_mut().enumerate() {
        // SAFETY: `FramePages` frames are bare numbers that are never
        // mapped; no byte of the table is ever reached.
        unsafe {
            entry.set_page(
                first + index as u64,
                (index % 7) as u32,
                (index % 4000 + 1) as u32,
            )
        };
    }
    table
}

/// What a table reads as: each entry's frame, offset and length, and
/// which entry carries the end mark.
fn shape(table: &SgTable<&Frames, &CountingChunks>) -> (Vec<(u64, u32, u32)>, Vec<usize>) {
    let list = table.as_list();
    let entries = list
        .iter()
        .map(|entry| (entry.page().unwrap(), entry.offset(), entry.len()))
        .collect();
    let marks = list
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.is_last())
        .map(|(index, _)| index)
        .collect();
    (entries, marks)
}

fn expected(parts: &[(usize, u64)]) -> (Vec<(u64, u32, u32)>, Vec<usize>) {
    let entries: Vec<(u64, u32, u32)> = parts
        .iter()
        .flat_map(|&(count, first)| {
            (0..count).map(move |index| {
                (
                    first + index as u64,
                    (index % 7) as u32,
                    (index % 4000 + 1) as u32,
                )
            })
        })
        .collect();
    let last = entries.len() - 1;
    (entries, vec![last])
}

#[test]
fn tables_of_many_arrays_take_one_block() {
    let frames = Frames::default();
    let least = entries_for(BLOCK_FROM_ARRAYS);
    for entries in [least - 1, least, least + 1, least + 3 * 40 + 2] {
        let chunks = chunks();
        let arrays = arrays_needed(entries, SLOTS).unwrap();
        let table = table(&frames, &chunks, entries, 100);
        assert_eq!(table.arrays(), arrays);
        assert_eq!(table.orig_nents(), entries);
        if arrays >= BLOCK_FROM_ARRAYS {
            assert_eq!((chunks.blocks(), chunks.allocations()), (1, 0), "{entries}");
            assert_eq!(chunks.live_blocks(), 1);
        } else {
            assert_eq!(
                (chunks.blocks(), chunks.allocations()),
                (0, arrays),
                "{entries}"
            );
        }
        assert_eq!(shape(&table), expected(&[(entries, 100)]));
        let bytes: u64 = (0..entries).map(|index| (index % 4000 + 1) as u64).sum();
        assert_eq!(table.byte_len(), bytes);
        drop(table);
        chunks.assert_clean();
    }
}

#[test]
fn a_refused_block_leaves_the_table_to_take_its_arrays_one_by_one() {
    let frames = Frames::default();
    let entries = entries_for(BLOCK_FROM_ARRAYS) + 10;
    let arrays = arrays_needed(entries, SLOTS).unwrap();
    // The block is the allocator's first call.
    let chunks = chunks().fail_at(0);
    let table = table(&frames, &chunks, entries, 7);
    assert_eq!((chunks.blocks(), chunks.allocations()), (0, arrays));
    assert_eq!(shape(&table), expected(&[(entries, 7)]));
    drop(table);
    chunks.assert_clean();
    // An allocator that gives no blocks at all: the same.
    let plain = CountingChunks::with_max_entries(SLOTS);
    let table = SgTable::new_in(&frames, entries, &plain).unwrap();
    assert_eq!((plain.blocks(), plain.allocations()), (0, arrays));
    drop(table);
    plain.assert_clean();
}

#[test]
fn joined_tables_give_back_every_block_and_array_once() {
    let frames = Frames::default();
    let big = entries_for(BLOCK_FROM_ARRAYS) + 5;
    let small = 11;
    // Blocks after blocks, after arrays and before them, and three tables
    // (two blocks then arrays).
    let orders: [&[usize]; 5] = [
        &[big, big + 3],
        &[big, small],
        &[small, big],
        &[big, big, small],
        &[small, big, big + 1],
    ];
    for order in orders {
        let chunks = chunks();
        let parts: Vec<(usize, u64)> = order
            .iter()
            .enumerate()
            .map(|(index, &entries)| (entries, 10_000 * index as u64))
            .collect();
        let mut tables = parts
            .iter()
            .map(|&(entries, first)| table(&frames, &chunks, entries, first));
        let mut joined = tables.next().unwrap();
        for table in tables {
            joined
                .join(table)
                .map_err(|failed| failed.reason())
                .unwrap();
        }
        let blocks = order.iter().filter(|&&entries| entries >= big - 5).count();
        assert_eq!(chunks.live_blocks(), blocks, "{order:?}");
        assert_eq!(shape(&joined), expected(&parts), "{order:?}");
        drop(joined);
        chunks.assert_clean();
    }
}

#[test]
fn a_panicking_allocator_leaves_no_block_or_array_behind() {
    let frames = Frames::default();
    let big = entries_for(BLOCK_FROM_ARRAYS);
    let chunks = chunks();
    let points = for_each_panic_point(
        |k| {
            let allocator = PanicAt::new(&chunks, k);
            let mut first = SgTable::new_in(&frames, big, &allocator).unwrap();
            let second = SgTable::new_in(&frames, big + 1, &allocator).unwrap();
            first
                .join(second)
                .map_err(|failed| failed.reason())
                .unwrap();
            assert_eq!(first.orig_nents(), 2 * big + 1);
        },
        |k| assert_eq!(chunks.live(), 0, "a panic at allocator call {k} leaks"),
    );
    // Two blocks, the join's bridge array and three frees, at least.
    assert!(points >= 6, "{points}");
    chunks.assert_clean();
}

#[test]
fn a_walk_meets_links_at_offsets_that_move() {
    // Page-sized arrays in one block, as `SgTable::new` lays them: were they
    // a page apart, every link would sit at the same offset in its page
    // (and in the same cache sets). 16 bytes after each array move the
    // next one on, as the heap's chunk headers do.
    let frames = Frames::default();
    let chunks = CountingChunks::new().serving_blocks();
    // 64 arrays (the fewest that take a block) keep Miri quick.
    let arrays = if cfg!(miri) { 64 } else { 256 };
    let table = SgTable::new_in(&frames, 127 * arrays, &chunks).unwrap();
    assert_eq!(chunks.blocks(), 1);
    let list = table.as_list();
    let addresses: Vec<usize> = list
        .iter()
        .map(|entry| core::ptr::from_ref(entry).addr())
        .collect();
    let slot = size_of::<sg_core::SgEntry<u64>>();
    // Each array's first entry, and where its link is (after 127 entries).
    let firsts: Vec<usize> = addresses.iter().step_by(127).copied().collect();
    assert_eq!(firsts.len(), arrays);
    for pair in firsts.windows(2) {
        assert_eq!(pair[1] - pair[0], 128 * slot + 16, "an array and its gap");
    }
    let lines: std::collections::HashSet<usize> = firsts
        .iter()
        .map(|first| (first + 127 * slot) % 4096 / 64)
        .collect();
    // 16 bytes further each: four arrays a line (or one line more where
    // the block starts inside a line), 256 in all 64 lines.
    assert!(lines.len() >= arrays / 4, "{} lines", lines.len());
    drop(table);
    chunks.assert_clean();
}
