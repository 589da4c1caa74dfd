//! The process-memory provider: allocation, mapping and freeing with no leak.

use core::alloc::Layout;
use core::cell::Cell;
use core::ptr::NonNull;

use sg_core::allocator_api2::alloc::{AllocError, Allocator, Global};
use sg_core::{ChunkAllocator, Error, HeapChunks, PageProvider, SgEntry, SgList, VirtPages};

/// The global allocator, counting live allocations and bytes.
#[derive(Default)]
struct Counting {
    live: Cell<usize>,
    bytes: Cell<usize>,
    fail: Cell<bool>,
}

// SAFETY: forwards to `Global`, which upholds the contract.
unsafe impl Allocator for &Counting {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        if self.fail.get() {
            return Err(AllocError);
        }
        let memory = Global.allocate(layout)?;
        self.live.set(self.live.get() + 1);
        self.bytes.set(self.bytes.get() + layout.size());
        Ok(memory)
    }

    unsafe fn deallocate(&self, pointer: NonNull<u8>, layout: Layout) {
        self.live.set(self.live.get() - 1);
        self.bytes.set(self.bytes.get() - layout.size());
        // SAFETY: `pointer` came from `Global.allocate(layout)` above.
        unsafe { Global.deallocate(pointer, layout) }
    }
}

#[test]
fn pages_of_orders_0_to_4_are_allocated_mapped_and_freed_without_leak() {
    let counting = Counting::default();
    let pages = VirtPages::new_in(&counting);
    for order in 0..=4u32 {
        let count = 1usize << order;
        let first = pages.alloc_pages(order).unwrap();
        assert_eq!(first.addr() % 4096, 0, "pages are page-aligned");
        assert_eq!(counting.bytes.get(), count * 4096);
        for index in 0..count {
            let page = pages.nth(first, index);
            assert_eq!(pages.pfn(page), pages.pfn(first) + index);
            assert!(pages.is_next(first, index, page));
            let mapping = pages.map(page);
            // SAFETY: the mapping covers the 4096 bytes of an allocated page.
            unsafe {
                mapping.as_ptr().write_bytes(index as u8 + 1, 4096);
            }
            // SAFETY: mapped just above, released once.
            unsafe { pages.unmap(page, mapping) };
        }
        // Linear: the first page's mapping reaches every page of the run.
        let whole = pages.map(first);
        for index in 0..count {
            // SAFETY: the run is `count` pages of one allocation.
            let byte = unsafe { whole.as_ptr().add(index * 4096 + 4095).read() };
            assert_eq!(byte, index as u8 + 1);
        }
        // SAFETY: mapped just above.
        unsafe { pages.unmap(first, whole) };
        // SAFETY: allocated above with this order, unmapped, in no list.
        unsafe { pages.free_pages(first, order) };
        assert_eq!(counting.live.get(), 0, "order {order} leaked");
    }
}

#[test]
fn a_failing_allocator_gives_a_typed_error() {
    let counting = Counting::default();
    counting.fail.set(true);
    let pages = VirtPages::new_in(&counting);
    assert_eq!(
        pages.alloc_pages(2),
        Err(Error::PagesUnavailable { order: 2 })
    );
    assert!(matches!(pages.alloc_pages(90), Err(Error::Overflow { .. })));
    let chunks = HeapChunks::new_in(&counting);
    assert_eq!(
        ChunkAllocator::<usize>::alloc(&chunks, 4),
        Err(Error::OutOfMemory)
    );
}

#[test]
fn heap_chunks_serve_page_sized_arrays_and_refuse_bad_counts() {
    let counting = Counting::default();
    let chunks = HeapChunks::new_in(&counting);
    // 128 entries of 32 bytes on 64-bit targets, 146 of 28 on 32-bit ones.
    let max = sg_core::full_chunk_entries::<usize>();
    assert_eq!(max, 4096 / core::mem::size_of::<SgEntry<usize>>());
    let full = ChunkAllocator::<usize>::alloc(&chunks, max).unwrap();
    assert_eq!(
        counting.bytes.get(),
        max * core::mem::size_of::<SgEntry<usize>>()
    );
    assert!(counting.bytes.get() <= 4096);
    assert_eq!(
        ChunkAllocator::<usize>::alloc(&chunks, max + 1),
        Err(Error::ChunkTooLarge {
            requested: max + 1,
            max
        })
    );
    assert_eq!(
        ChunkAllocator::<usize>::alloc(&chunks, 0),
        Err(Error::NoEntries)
    );
    // SAFETY: allocated above with `max` entries.
    unsafe { chunks.free(full, max) };
    assert_eq!(counting.live.get(), 0);
    let small = HeapChunks::new_in(&counting).with_max_entries(3).unwrap();
    assert_eq!(ChunkAllocator::<usize>::max_entries(&small), 3);
    assert!(HeapChunks::new().with_max_entries(1).is_err());
}

#[test]
fn set_buf_points_an_entry_at_bytes_inside_a_buffer() {
    let mut buffer = vec![0u8; 3 * 4096];
    let inside = NonNull::from(&mut buffer[5000]);
    let mut entry = SgEntry::new();
    // SAFETY: `buffer` outlives `entry` and is not touched while listed.
    unsafe { entry.set_buf(inside, 100) };
    assert_eq!(entry.offset(), (inside.as_ptr() as usize % 4096) as u32);
    assert_eq!(entry.virt(), Some(inside));
    let pages = VirtPages::new();
    let physical = entry.phys(&pages).unwrap();
    assert_eq!(physical, inside.as_ptr() as u64);
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let list = unsafe { SgList::new(core::slice::from_ref(&entry), &pages) };
    assert_eq!(list.byte_len(), 100);
}

#[test]
fn nth_never_steps_onto_page_0() {
    let pages = VirtPages::new();
    let page = pages.alloc_pages(2).unwrap();
    // The step that wraps the handle around to page 0, and the one before
    // it: `nth` stays on the first page for the first (no handle names page
    // 0) and names page 1 for the second. Neither is mapped: they lie
    // outside the run.
    let to_zero = (page.addr() / 4096).wrapping_neg();
    assert_eq!(pages.nth(page, to_zero), page);
    assert_eq!(pages.nth(page, to_zero.wrapping_add(1)).addr(), 4096);
    assert!(!pages.nth(page, to_zero).as_ptr().is_null());
    // Within the run, it steps as before.
    assert_eq!(pages.nth(page, 3).addr(), page.addr() + 3 * 4096);
    // SAFETY: allocated above with this order, in no list.
    unsafe { pages.free_pages(page, 2) };
}

#[test]
#[should_panic(expected = "page 0")]
fn containing_refuses_an_address_in_page_0() {
    let address = NonNull::new(core::ptr::without_provenance_mut::<u8>(0x105)).unwrap();
    // SAFETY: the call panics before making a handle, so no entry is made
    // with one and the address is never read.
    let _ = unsafe { sg_core::VirtPage::containing(address) };
}

#[test]
fn entry_size_is_at_most_32_bytes() {
    let size = core::mem::size_of::<SgEntry<sg_core::VirtPage>>();
    assert!(size <= 32, "{size} bytes");
    // Exactly the kernel's 32 with 64-bit pointers (28 with 32-bit ones).
    if usize::BITS == 64 {
        assert_eq!(size, 32);
    }
}
