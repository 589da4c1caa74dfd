//! [`CountingAllocator`]: the system allocator, counting the heap
//! allocations a section of a test makes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Whether this thread's allocations are counted. `const` thread
    /// locals without destructors: using them never allocates, and each
    /// thread (each test of the harness) has its own switch and count.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, counting the allocations (`alloc`,
/// `alloc_zeroed`, `realloc`) that a thread makes inside
/// [`allocations_in`](Self::allocations_in): install it as a test
/// binary's global allocator to prove that a path allocates nothing.
///
/// Counts are per thread, so the test harness's own threads and tests
/// running meanwhile on other threads do not disturb them.
///
/// # Examples
///
/// ```
/// use sg_testkit::CountingAllocator;
///
/// #[global_allocator]
/// static GLOBAL: CountingAllocator = CountingAllocator;
///
/// let (count, boxed) = CountingAllocator::allocations_in(|| Box::new(7u64));
/// assert_eq!((count, *boxed), (1, 7));
/// let (count, sum) = CountingAllocator::allocations_in(|| [1u64, 2, 3].iter().sum::<u64>());
/// assert_eq!((count, sum), (0, 6));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct CountingAllocator;

impl CountingAllocator {
    /// Runs `section` and returns how many heap allocations this thread
    /// made during it (zero unless `CountingAllocator` is the global
    /// allocator), with what `section` returned.
    pub fn allocations_in<R>(section: impl FnOnce() -> R) -> (usize, R) {
        let before = ALLOCATIONS.with(Cell::get);
        let was = COUNTING.with(|counting| counting.replace(true));
        let result = section();
        COUNTING.with(|counting| counting.set(was));
        (ALLOCATIONS.with(Cell::get) - before, result)
    }

    fn count_one() {
        if COUNTING.with(Cell::get) {
            ALLOCATIONS.with(|count| count.set(count.get() + 1));
        }
    }
}

// SAFETY: every call forwards to `System` with the caller's arguments; the
// count touches only `const` thread locals, which never allocate.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::count_one();
        // SAFETY: the caller's promise is the one `System.alloc` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::count_one();
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        Self::count_one();
        // SAFETY: the caller's promise is the one `System.realloc` needs.
        unsafe { System.realloc(pointer, layout, size) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's promise is the one `System.dealloc` needs.
        unsafe { System.dealloc(pointer, layout) }
    }
}
