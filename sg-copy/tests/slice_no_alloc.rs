//! Slicing allocates nothing: slices of tables and of hand-built lists,
//! slices of slices, their segments, copies and zeroing through them,
//! their mapping and page iterators and a reader over one make no heap
//! allocation.
//!
//! The global allocator counts, per thread, the allocations of the
//! threads that ask it to (a thread-local switch), so the test harness's
//! threads and the other tests running meanwhile do not disturb a count.

use std::io::Read;

use sg_alloc::SgTable;
use sg_copy::{ListReader, copy_from_slice, copy_to_slice, zero};
use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
use sg_iter::{MappingIter, PageIter};
use sg_testkit::CountingAllocator;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Heap allocations made by this thread while `section` runs, and what it
/// returned.
fn allocations_in<R>(section: impl FnOnce() -> R) -> (usize, R) {
    CountingAllocator::allocations_in(section)
}

#[test]
fn the_counter_sees_allocations() {
    let (count, boxed) = allocations_in(|| Box::new(7u64));
    assert_eq!((count, *boxed), (1, 7));
}

#[test]
fn slicing_a_table_and_working_through_the_slices_allocates_nothing() {
    let pages = VirtPages::new();
    let run = pages.alloc_pages(3).expect("eight pages");
    // 1000 entries of 16 to 31 bytes, one after the other over the eight
    // pages (23,500 bytes), in eight arrays.
    let mut table = SgTable::new(&pages, 1000).expect("a table");
    let mut at = 0u32;
    for (index, mut entry) in table.entries_mut().enumerate() {
        let length = 16 + (index % 16) as u32;
        // SAFETY: bytes of the eight pages allocated above, read and
        // written only through this table.
        unsafe { entry.set_page(run, at, length) };
        at += length;
    }
    let total = table.byte_len();
    let mut buffer = vec![0u8; 4096];
    let mut small = [0u8; 64];

    let (count, checks) = allocations_in(|| {
        let list = table.as_list();
        let slice = list.slice(1000, 9000).expect("inside");
        let nested = slice.slice(100, 5000).expect("inside");
        let deeper = nested.slice(4000, 1000).expect("inside");
        let bytes: u64 = nested
            .segments()
            .map(|segment| u64::from(segment.len))
            .sum();
        let pages_visited = PageIter::new(nested, 0).count();
        let mut mapped = 0;
        let mut mappings = MappingIter::new(deeper);
        while let Some(piece) = mappings.next_slice() {
            mapped += piece.len();
        }
        drop(mappings);
        let copied = copy_to_slice(nested, 10, &mut buffer);
        let mut reader = ListReader::new(deeper);
        let read = reader.read_exact(&mut small).is_ok();
        drop(reader);
        let past_end = list.slice(total, 1).is_err();
        let mut view = table.as_list_mut();
        let written = copy_from_slice(view.slice_mut(2000, 300).expect("inside"), 0, &small);
        let zeroed = zero(
            view.slice_mut(100, 5000)
                .and_then(|outer| outer.into_slice(10, 100))
                .expect("inside"),
            0,
            u64::MAX,
        );
        (
            bytes,
            pages_visited > 0,
            mapped,
            copied,
            read,
            past_end,
            written,
            zeroed,
        )
    });
    assert_eq!(count, 0, "slicing allocated");
    assert_eq!(checks, (5000, true, 1000, 4096, true, true, 64, 100));
    drop(table);
    // SAFETY: allocated above with order 3; the table is gone.
    unsafe { pages.free_pages(run, 3) };
}

#[test]
fn slicing_a_hand_built_list_allocates_nothing() {
    let mut bytes = [7u8; 300];
    let pages = VirtPages::new();
    let mut entries: [SgEntry<_>; 3] = Default::default();
    sg_core::init_table(&mut entries).expect("three entries");
    // SAFETY: three parts of `bytes`, which outlives the list and is only
    // reached through it meanwhile.
    unsafe {
        let start = core::ptr::NonNull::from(&mut bytes).cast::<u8>();
        entries[0].set_buf(start, 100);
        entries[1].set_buf(start.add(100), 100);
        entries[2].set_buf(start.add(200), 100);
    }
    let mut out = [0u8; 150];
    let (count, (copied, walked)) = allocations_in(|| {
        // SAFETY: the entries describe bytes of pages this provider holds valid,
        // and nothing else reaches them while the view is used.
        let list = unsafe { SgList::new(&entries, &pages) };
        let slice = list.slice(50, 200).expect("inside");
        let nested = slice.slice(25, 150).expect("inside");
        let copied = copy_to_slice(nested, 0, &mut out);
        (copied, nested.count() + slice.segments().count())
    });
    assert_eq!(count, 0, "slicing allocated");
    // The nested range, bytes 75..225, touches all three entries.
    assert_eq!((copied, walked), (150, 3 + 3));
    assert_eq!(out, [7u8; 150]);
}
