//! A thread's kept blocks ([`CachedGlobal`]) go back to the global
//! allocator when the thread exits, counted by a global allocator that
//! tracks the blocks of the kept layout.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use sg_core::CachedGlobal;
use sg_core::allocator_api2::alloc::Allocator;

/// The system allocator, counting live blocks of `CachedGlobal::LAYOUT`
/// (a layout nothing else in this test asks for).
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to `System`, which upholds the contract; the counter is
// only a statistic.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout == CachedGlobal::LAYOUT {
            LIVE.fetch_add(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's promise is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        if layout == CachedGlobal::LAYOUT {
            LIVE.fetch_sub(1, Ordering::SeqCst);
        }
        // SAFETY: the caller's promise is `System`'s.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn an_exiting_thread_gives_its_kept_blocks_back() {
    let before = LIVE.load(Ordering::SeqCst);
    std::thread::spawn(move || {
        let blocks: Vec<_> = (0..10)
            .map(|_| CachedGlobal.allocate(CachedGlobal::LAYOUT).unwrap())
            .collect();
        for block in blocks {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { CachedGlobal.deallocate(block.cast(), CachedGlobal::LAYOUT) };
        }
        assert_eq!(LIVE.load(Ordering::SeqCst) - before, 10, "kept, not freed");
    })
    .join()
    .unwrap();
    assert_eq!(
        LIVE.load(Ordering::SeqCst),
        before,
        "given back when the thread ended"
    );
}
