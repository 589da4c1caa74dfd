//! A table of 1,048,576 entries stays within 33 MiB, measured by counting
//! every byte the table asks the global allocator for.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sg_alloc::SgTable;
use sg_core::{CachedGlobal, SgEntry};
use sg_testkit::FramePages;

/// The system allocator, counting the bytes live and the peak of the
/// current thread (the test harness allocates on other threads).
struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

/// Allocations made by this thread so far.
fn calls() -> usize {
    CALLS.with(Cell::get)
}

fn live() -> usize {
    LIVE.with(Cell::get)
}

/// Counts an allocation of `layout`.
fn count(layout: Layout) {
    let live = live().wrapping_add(layout.size());
    LIVE.with(|cell| cell.set(live));
    // Memory freed here but allocated on another thread can make the
    // count wrap; the test only compares counts it takes itself.
    PEAK.with(|cell| cell.set(cell.get().max(live)));
    CALLS.with(|cell| cell.set(cell.get() + 1));
}

// SAFETY: forwards to `System`, which upholds the contract; the counters
// are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout);
        // SAFETY: the caller's promise is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout);
        // SAFETY: the caller's promise is `System`'s.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        LIVE.with(|cell| cell.set(cell.get().wrapping_sub(layout.size())));
        // SAFETY: the caller's promise is `System`'s.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

const MIB: usize = 1 << 20;

#[test]
#[cfg_attr(
    miri,
    ignore = "a million entries take minutes under Miri, which runs the same layout at 4096 \
              entries in `a_table_holds_exactly_its_arrays_and_gives_them_back`"
)]
fn a_table_of_a_million_entries_stays_within_33_mib() {
    let entries = 1 << 20;
    let before = live();
    let calls_before = calls();
    PEAK.with(|cell| cell.set(before));
    let table = SgTable::new(FramePages::<4096>, entries).unwrap();
    let held = live().wrapping_sub(before);
    let peak = PEAK.with(Cell::get).wrapping_sub(before);
    // One block (`ChunkAllocator::alloc_block`) holds every array.
    assert_eq!(calls() - calls_before, 1);
    assert_eq!(table.as_list().count(), entries);
    // 8257 arrays: 8256 full ones of 128 slots (127 entries and a link) and
    // the last with the 64 entries left, after the block's header (one
    // slot), each followed by 16 empty bytes (see `a_walk_meets_links_at_
    // offsets_that_move` in tests/blocks.rs).
    assert_eq!(table.arrays(), 8257);
    let gaps = (8257 * 16_usize).div_ceil(32) * 32;
    assert_eq!(held, 8256 * 4096 + 64 * 32 + 32 + gaps, "{held} bytes");
    assert!(peak <= 33 * MIB, "the build peaked at {peak} bytes");
    drop(table);
    // A block is not kept for the next table.
    assert_eq!(live(), before, "everything was given back");
    // Printing allocates (output capture), so it comes after the counts.
    println!(
        "a table of {entries} entries holds {held} bytes ({:.2} MiB); the build peaked at {peak}",
        held as f64 / MIB as f64
    );
}

#[test]
fn a_table_holds_exactly_its_arrays_and_gives_them_back() {
    // The million-entry table's layout in 33 arrays: small enough for Miri.
    let entries = 4096;
    let before = live();
    PEAK.with(|cell| cell.set(before));
    let table = SgTable::new(FramePages::<4096>, entries).unwrap();
    let held = live().wrapping_sub(before);
    let peak = PEAK.with(Cell::get).wrapping_sub(before);
    let slot = size_of::<SgEntry<u64>>();
    let full = sg_alloc::full_chunk_entries::<u64>();
    let arrays = sg_alloc::arrays_needed(entries, full).unwrap();
    assert_eq!(table.arrays(), arrays);
    // Full arrays of `full - 1` entries and a link, then the rest.
    let last = entries - (full - 1) * (arrays - 1);
    assert_eq!(held, ((arrays - 1) * full + last) * slot, "{held} bytes");
    assert!(peak <= held + held / 32, "the build peaked at {peak} bytes");
    drop(table);
    // The full arrays (all but the last) are kept for the next table.
    let kept = (arrays - 1).min(CachedGlobal::CACHED_BLOCKS);
    assert_eq!(live().wrapping_sub(before), kept * 4096);
    CachedGlobal::release_this_thread();
    assert_eq!(live(), before, "everything was given back");
}

#[test]
fn tables_of_64_arrays_or_more_take_one_allocation() {
    // 8002 entries take 63 page-sized arrays, 8003 take 64.
    for (entries, arrays, calls_made) in [(8002, 63, 63), (8003, 64, 1)] {
        CachedGlobal::release_this_thread();
        let before = live();
        let calls_before = calls();
        let table = SgTable::new(FramePages::<4096>, entries).unwrap();
        assert_eq!(table.arrays(), arrays);
        assert_eq!(calls() - calls_before, calls_made, "{entries} entries");
        assert_eq!(table.as_list().count(), entries);
        drop(table);
        CachedGlobal::release_this_thread();
        assert_eq!(live(), before, "everything was given back");
    }
}
