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
}

fn live() -> usize {
    LIVE.with(Cell::get)
}

// SAFETY: forwards to `System`, which upholds the contract; the counters
// are only statistics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let live = live().wrapping_add(layout.size());
        LIVE.with(|cell| cell.set(live));
        // Memory freed here but allocated on another thread can make the
        // count wrap; the test only compares counts it takes itself.
        PEAK.with(|cell| cell.set(cell.get().max(live)));
        // SAFETY: the caller's promise is `System`'s.
        unsafe { System.alloc(layout) }
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
    PEAK.with(|cell| cell.set(before));
    let table = SgTable::new(FramePages::<4096>, entries).unwrap();
    let held = live().wrapping_sub(before);
    let peak = PEAK.with(Cell::get).wrapping_sub(before);
    assert_eq!(table.as_list().count(), entries);
    // 8257 arrays: 8256 full ones of 128 slots (127 entries and a link) and
    // the last with the 64 entries left.
    assert_eq!(table.arrays(), 8257);
    assert_eq!(held, 8256 * 4096 + 64 * 32, "{held} bytes");
    assert!(peak <= 33 * MIB, "the build peaked at {peak} bytes");
    drop(table);
    // The default chunk allocator keeps the last 64 freed full arrays of
    // the thread for the next table; releasing them gives back the rest.
    assert_eq!(
        live().wrapping_sub(before),
        CachedGlobal::CACHED_BLOCKS * 4096
    );
    CachedGlobal::release_this_thread();
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
