//! `PanicAt`: any provider, chunk allocator or DMA mapper, made to panic at
//! its k-th call.

use core::fmt;
use core::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

use sg_core::{
    ChunkAllocator, DmaDirection as Dir, DmaLimits, DmaMapper, DmaMapping, DmaRun, Error,
    PageProvider, SgEntry,
};

use crate::failure::inject_panic;

/// The run type of a mapper over `P`.
type Run<P> = DmaRun<<P as PageProvider>::Page>;

/// Wraps a [`PageProvider`], [`ChunkAllocator`] or [`DmaMapper`] and
/// forwards every call to it, except that call number `k` (counting from
/// 0, every trait method counted) raises an
/// [`InjectedPanic`](crate::InjectedPanic): the hostile but safe callback
/// that the crates must survive.
///
/// Calls that take a resource (`map`, `alloc_pages`, `alloc`) and plain
/// queries panic before forwarding, so nothing was taken; calls that give
/// one back (`unmap`, `free_pages`, `free`) forward first and then panic,
/// so the wrapped mock's leak counts stay exact; `flush_write` and the DMA
/// syncs panic before forwarding (the flush or sync did not happen).
/// Drive it with [`for_each_panic_point`](crate::for_each_panic_point).
///
/// # Examples
///
/// ```
/// use sg_core::{Pages, PageProvider};
/// use sg_testkit::{MockPages, PanicAt, for_each_panic_point};
///
/// let mock = MockPages::<4096>::new();
/// let points = for_each_panic_point(
///     |k| {
///         let provider = PanicAt::new(&mock, k);
///         let pages = Pages::alloc(&provider, 1).unwrap();
///         drop(pages);
///     },
///     |_| mock.assert_clean(),
/// );
/// assert_eq!(points, 3); // alloc_pages, nth (to list the set), free_pages
/// ```
pub struct PanicAt<T> {
    inner: T,
    at: usize,
    calls: AtomicUsize,
}

impl<T> PanicAt<T> {
    /// `inner`, panicking at its call number `at` (counting from 0).
    pub fn new(inner: T, at: usize) -> Self {
        Self {
            inner,
            at,
            calls: AtomicUsize::new(0),
        }
    }

    /// `inner`, never panicking (counts calls only).
    pub fn never(inner: T) -> Self {
        Self::new(inner, usize::MAX)
    }

    /// Calls made so far, the panicking one included.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::Relaxed)
    }

    /// The wrapped value.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Counts a call and panics if it is the chosen one.
    #[track_caller]
    fn call(&self) {
        let call = self.calls.fetch_add(1, Ordering::Relaxed);
        if call == self.at {
            inject_panic(call);
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for PanicAt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicAt")
            .field("inner", &self.inner)
            .field("at", &self.at)
            .field("calls", &self.calls())
            .finish()
    }
}

// SAFETY: every method forwards to `T` with the same arguments, or panics
// before forwarding (taking nothing) or after it (having released what the
// call releases); a panic is allowed of any safe method.
unsafe impl<T: PageProvider> PageProvider for PanicAt<T> {
    type Page = T::Page;
    type Pfn = T::Pfn;
    const PAGE_SIZE: usize = T::PAGE_SIZE;
    const SHARED: bool = T::SHARED;

    fn pfn(&self, page: Self::Page) -> Self::Pfn {
        self.call();
        self.inner.pfn(page)
    }

    fn nth(&self, page: Self::Page, n: usize) -> Self::Page {
        self.call();
        self.inner.nth(page, n)
    }

    fn map(&self, page: Self::Page) -> NonNull<u8> {
        self.call();
        self.inner.map(page)
    }

    unsafe fn unmap(&self, page: Self::Page, mapping: NonNull<u8>) {
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.unmap(page, mapping) };
        self.call();
    }

    fn flush_write(&self, page: Self::Page) {
        self.call();
        self.inner.flush_write(page);
    }

    fn is_linear(&self) -> bool {
        self.call();
        self.inner.is_linear()
    }

    fn alloc_pages(&self, order: u32) -> Result<Self::Page, Error> {
        self.call();
        self.inner.alloc_pages(order)
    }

    unsafe fn free_pages(&self, page: Self::Page, order: u32) {
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.free_pages(page, order) };
        self.call();
    }

    fn is_whole_page(&self, page: Self::Page) -> bool {
        self.call();
        self.inner.is_whole_page(page)
    }

    fn is_next(&self, first: Self::Page, run_pages: usize, next: Self::Page) -> bool {
        self.call();
        self.inner.is_next(first, run_pages, next)
    }
}

// SAFETY: every method forwards to `T` with the same arguments, or panics
// before `alloc` forwards (taking nothing) or after `free` has.
unsafe impl<Pg: Copy, T: ChunkAllocator<Pg>> ChunkAllocator<Pg> for PanicAt<T> {
    fn max_entries(&self) -> usize {
        self.call();
        self.inner.max_entries()
    }

    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error> {
        self.call();
        self.inner.alloc(entries)
    }

    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.free(chunk, entries) };
        self.call();
    }

    fn alloc_block(&self, entries: usize) -> Option<NonNull<SgEntry<Pg>>> {
        self.call();
        self.inner.alloc_block(entries)
    }

    unsafe fn free_block(&self, block: NonNull<SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.free_block(block, entries) };
        self.call();
    }
}

// SAFETY: every method forwards to `T` with the same arguments, or panics
// before `map` and the syncs forward or after `unmap` has.
unsafe impl<P: PageProvider, T: DmaMapper<P>> DmaMapper<P> for PanicAt<T> {
    unsafe fn map(&self, p: &P, run: Run<P>, dir: Dir, limits: &DmaLimits) -> Result<u64, Error> {
        self.call();
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.map(p, run, dir, limits) }
    }

    unsafe fn unmap(&self, provider: &P, mapping: DmaMapping<P::Page>) {
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.unmap(provider, mapping) };
        self.call();
    }

    unsafe fn sync_for_cpu(&self, provider: &P, mapping: DmaMapping<P::Page>) {
        self.call();
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.sync_for_cpu(provider, mapping) };
    }

    unsafe fn sync_for_device(&self, provider: &P, mapping: DmaMapping<P::Page>) {
        self.call();
        // SAFETY: the caller's promise, passed on unchanged.
        unsafe { self.inner.sync_for_device(provider, mapping) };
    }
}
