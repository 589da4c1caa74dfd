//! The `PageProvider` trait: what a page is and how its bytes are reached.

use core::fmt::Debug;
use core::hash::Hash;
use core::ptr::NonNull;

use num_traits::{CheckedAdd, NumCast, PrimInt, Unsigned};

use crate::Error;

/// Memory made of pages: the one trait a user implements to put a
/// scatter-gather list over their own memory.
///
/// A provider names pages with small `Copy` handles ([`Page`](Self::Page)),
/// gives each a frame number ([`pfn`](Self::pfn)) so that physically
/// consecutive pages can be merged into one entry, maps a page to bytes the
/// CPU can read and write, and allocates runs of 2^order contiguous pages
/// for lists that own their data. The process-memory provider
/// [`VirtPages`](crate::VirtPages) implements it for plain heap memory;
/// sg-testkit's `MockPages` implements it for tests.
///
/// # For users
///
/// Build tables from a [`Pages`](crate::Pages) set over a provider (or a
/// reference to one: `&P` is a provider too): [`Pages::alloc`](crate::Pages::alloc)
/// allocates through it, and a provider that manages memory of its own
/// hands out its pages through the `unsafe`
/// [`Pages::from_raw`](crate::Pages::from_raw), where it vouches for them.
/// Page handles are names: safe code can make them ([`nth`](Self::nth)),
/// and nothing safe turns a handle alone into bytes.
///
/// # Providers that only borrow memory
///
/// A provider over memory it did not allocate and cannot allocate more of
/// (a mapped file, a guest's memory, a DMA region handed over whole) still
/// implements [`alloc_pages`](Self::alloc_pages) and
/// [`free_pages`](Self::free_pages): `alloc_pages` returns
/// `Err(Error::PagesUnavailable { order })`, and `free_pages` does nothing
/// (it is never called, since no page came from `alloc_pages`). Its pages
/// reach tables through [`Pages::from_raw`](crate::Pages::from_raw). The
/// builders that allocate (`Pages::alloc`, sg-alloc's `PageList`) then fail
/// with that error, and everything else works. A separate allocation
/// trait was weighed and not taken: every list type would carry a second
/// bound for one method pair that borrowing providers answer in two lines.
///
/// ```
/// # use core::ptr::NonNull;
/// # use sg_core::{Error, PageProvider};
/// /// One borrowed region of `len` pages at `base`.
/// struct Region { base: NonNull<u8>, len: usize }
///
/// // SAFETY: (sketch) the region outlives the provider, handles are page
/// // indices below `len`, frame numbers are those indices.
/// unsafe impl PageProvider for Region {
///     type Page = usize;
///     type Pfn = usize;
///     const PAGE_SIZE: usize = 4096;
///     fn pfn(&self, page: usize) -> usize { page }
///     fn nth(&self, page: usize, n: usize) -> usize { page.wrapping_add(n) }
///     fn map(&self, page: usize) -> NonNull<u8> {
///         assert!(page < self.len, "a handle this provider never gave out");
///         // SAFETY: in bounds of the region, since `page < len`.
///         unsafe { self.base.add(page * Self::PAGE_SIZE) }
///     }
///     unsafe fn unmap(&self, _page: usize, _mapping: NonNull<u8>) {}
///     fn alloc_pages(&self, order: u32) -> Result<usize, Error> {
///         Err(Error::PagesUnavailable { order }) // borrows, never allocates
///     }
///     unsafe fn free_pages(&self, _page: usize, _order: u32) {} // nothing to free
/// }
/// # let mut memory = vec![0u8; 4096];
/// # let region = Region { base: NonNull::new(memory.as_mut_ptr()).unwrap(), len: 1 };
/// assert_eq!(region.alloc_pages(0), Err(Error::PagesUnavailable { order: 0 }));
/// ```
///
/// The bounds of [`Pfn`](Self::Pfn) come from `num-traits`, re-exported as
/// [`sg_core::num_traits`](crate::num_traits) so that a provider generic
/// over its frame type names them without a dependency of its own.
///
/// # Safety
///
/// Implementors promise, for every handle `page` they hand out (and every
/// handle reached from it with [`nth`](Self::nth) inside a run of consecutive
/// frames), for as long as that handle is valid (until
/// [`free_pages`](Self::free_pages) for allocated pages, as documented by the
/// provider otherwise):
///
/// - [`PAGE_SIZE`](Self::PAGE_SIZE) is a power of two no smaller than 64 and
///   no larger than 2^31.
/// - [`map`](Self::map) returns a pointer to the first byte of the page
///   from which the bytes of the page that lists describe are valid for
///   reads and writes, and initialised, until the matching
///   [`unmap`](Self::unmap) (for pages a provider allocated, that is all
///   `PAGE_SIZE` bytes, initialised by `alloc_pages`). Memory reached
///   through a mapping is not accessed by the provider itself while the
///   mapping is live.
/// - Frame numbers are truthful: if `pfn(b) == pfn(a) + k` for handles of
///   the same provider, then `nth(a, k)` and `b` name the same page.
/// - [`is_next`](Self::is_next)`(a, k, b)` is true only when `b` names
///   the same page as `nth(a, k)`, and, on a linear provider, the pages from
///   `a` to `b` are one piece of memory (see the next point). A provider may
///   answer `false` for pages with consecutive frame numbers that it cannot
///   vouch for as one piece (separate allocations that happen to be
///   neighbours); nothing merges then.
/// - If [`is_linear`](Self::is_linear) returns `true`, then for every run of
///   pages `a, nth(a, 1), ..., nth(a, n - 1)` that lie in one entry, or that
///   `is_next` joins, `map(nth(a, k))` equals `map(a)` plus `k * PAGE_SIZE`,
///   and the pointer returned by `map(a)` is valid for the whole run (for
///   the bytes of it that lists describe) until it is unmapped. Mapping
///   costs nothing then, and iterators and copies hand out a whole run at
///   once.
/// - If [`is_whole_page`](Self::is_whole_page) returns `true` for a handle,
///   the `PAGE_SIZE` bytes of its page may all be described by a list.
/// - [`alloc_pages`](Self::alloc_pages) returns the first handle of `2^order`
///   pages with consecutive frame numbers, with initialised bytes, that
///   nothing else uses until they are given to [`free_pages`](Self::free_pages).
///
/// Handles cannot be forged into bytes. Safe code may make any handle it
/// likes (a `Page` is a `Copy` value, and [`nth`](Self::nth) may step past
/// the end of a run), compare it, and pass it to the safe methods: `pfn`,
/// `nth`, `map`, `is_next` and `is_whole_page` must not cause undefined
/// behaviour for any handle (for one the provider never gave out, `map`
/// may return any pointer, or panic; only `unsafe` code could use that
/// pointer). The promises above are only for handles the provider gave out
/// (from `alloc_pages`, or to [`Pages::from_raw`](crate::Pages::from_raw),
/// whose caller vouches that the pages are valid, initialised and used by
/// nobody else while the set lives) and the handles `nth` reaches from them
/// inside their runs. Every safe path from a handle to its bytes goes
/// through a set or a list built from one; the doors that take a bare
/// handle (`Pages::from_raw`, `SgEntry::set_page`, `SgList::new`,
/// `SgListMut::new`) are `unsafe`, and their callers vouch for the handle.
pub unsafe trait PageProvider {
    /// A handle naming one page (the kernel's `struct page *`).
    ///
    /// Keep it pointer-sized or smaller: an entry is 32 bytes with a
    /// pointer-sized handle.
    type Page: Copy + Eq + Debug;

    /// A page frame number: consecutive numbers are physically consecutive
    /// pages.
    type Pfn: PrimInt + Unsigned + Hash + Debug;

    /// Bytes in one page: a power of two (see the safety contract).
    const PAGE_SIZE: usize;

    /// Whether someone else may read or write the provider's memory while a
    /// list over it is in use: a virtual machine's guest memory, memory
    /// shared with a device or another process. The default is `false`
    /// (private memory, which only the holder of a list reaches).
    ///
    /// Bytes of a shared provider are never reached through `&[u8]` or
    /// `&mut [u8]` (a reference promises that nothing else writes the bytes
    /// while it lives, which the other party does not keep): sg-copy's
    /// copies and zeroing use volatile accesses for them (see
    /// [`volatile`](crate::volatile)), and the safe APIs that lend slices
    /// refuse them at compile time (a `const` assertion on this constant
    /// in [`MappedBytes::bytes`], sg-iter's `MappingIter::new` and sg-copy's
    /// cursors, io slices, vectored I/O and `Buf` adapters). The branch on
    /// this constant folds away, so private providers keep their `memcpy`
    /// paths unchanged.
    ///
    /// Since nothing but volatile copies touches its bytes, a shared
    /// provider's lists need not be exclusive: two writable views may
    /// describe the same bytes (a guest may name one buffer twice), and
    /// the bytes may change between two reads.
    ///
    /// [`MappedBytes::bytes`]: crate::MappedBytes::bytes
    const SHARED: bool = false;

    /// The frame number of `page`.
    #[doc(alias = "page_to_pfn")]
    fn pfn(&self, page: Self::Page) -> Self::Pfn;

    /// The handle `n` pages after `page` in a run of consecutive frames.
    ///
    /// Only called for pages that the list describes: an entry whose offset
    /// is a page or more, or whose bytes span several pages of its run.
    ///
    /// Outside a run (past its last page, or `n` so large that it wraps),
    /// the result is unspecified but must not be undefined behaviour: `nth`
    /// is safe and its handle is only a name. The library never maps, frees
    /// or describes such a handle; a provider may return any handle (the
    /// process-memory provider wraps its address arithmetic and returns
    /// `page` itself if the result would name page 0; the test kit's frame
    /// providers wrap the frame number) or panic, but must not read memory
    /// to answer.
    #[doc(alias = "nth_page")]
    fn nth(&self, page: Self::Page, n: usize) -> Self::Page;

    /// Makes `page` readable and writable by the CPU and returns a pointer
    /// to its first byte (the kernel's `kmap_local_page`).
    ///
    /// Every mapping is later given to [`unmap`](Self::unmap) exactly once.
    #[doc(alias = "kmap_local_page")]
    #[doc(alias = "kmap_atomic")]
    fn map(&self, page: Self::Page) -> NonNull<u8>;

    /// [`map`](Self::map) for providers whose pages may be missing (a
    /// guest address in a hole between memory regions): the mapping, or
    /// why there is none, typically [`Error::OutsideMemory`].
    ///
    /// The default is `Ok(self.map(page))`, so a provider that cannot fail
    /// implements `map` only, and the paths of shared providers, which call
    /// `try_map`, cost nothing more for it. A successful mapping is given to
    /// [`unmap`](Self::unmap) as one from `map` is; the safety contract of
    /// `map` holds for it. A provider overriding `try_map` still implements
    /// `map`, which may panic where `try_map` fails.
    ///
    /// # Errors
    ///
    /// Whatever the provider reports for a page it cannot map.
    #[inline]
    fn try_map(&self, page: Self::Page) -> Result<NonNull<u8>, Error> {
        Ok(self.map(page))
    }

    /// Releases a mapping made by [`map`](Self::map).
    ///
    /// # Safety
    ///
    /// `mapping` was returned by `map(page)` on this provider and has not
    /// been released yet; no reference into its bytes outlives this call.
    #[doc(alias = "kunmap_local")]
    #[doc(alias = "kunmap_atomic")]
    unsafe fn unmap(&self, page: Self::Page, mapping: NonNull<u8>);

    /// Called after the CPU wrote to `page` through a mapping, before the
    /// mapping is released (the kernel's `flush_dcache_page`). The default
    /// does nothing, which is right for coherent memory.
    #[doc(alias = "flush_dcache_page")]
    fn flush_write(&self, page: Self::Page) {
        let _ = page;
    }

    /// Whether the provider maps runs of consecutive frames as one
    /// contiguous range of bytes (a linear map: the kernel's lowmem, or
    /// plain process memory). See the safety contract. The default is
    /// `false`.
    fn is_linear(&self) -> bool {
        false
    }

    /// Allocates `2^order` pages with consecutive frame numbers and returns
    /// the first.
    ///
    /// # Errors
    ///
    /// [`Error::PagesUnavailable`] when the pages cannot be had, and
    /// [`Error::Overflow`] when `2^order` pages do not fit in `usize` bytes.
    fn alloc_pages(&self, order: u32) -> Result<Self::Page, Error>;

    /// Gives back pages allocated by [`alloc_pages`](Self::alloc_pages).
    ///
    /// # Safety
    ///
    /// `page` was returned by `alloc_pages(order)` on this provider with the
    /// same `order`, has not been freed since, no mapping of it is used
    /// again (a mapping leaked with `mem::forget` may never be released),
    /// and no list that names it is used again.
    #[doc(alias = "__free_pages")]
    unsafe fn free_pages(&self, page: Self::Page, order: u32);

    /// Whether the handle stands for all the bytes of its page, so that a
    /// builder from pages may describe them all. The default is `true`.
    ///
    /// Providers whose handles may stand for some bytes of a page only (a
    /// buffer's, as with [`SgEntry::set_buf`](crate::SgEntry::set_buf))
    /// answer `false` for those, and builders that describe whole pages
    /// refuse them with [`Error::PartialPage`].
    #[inline]
    fn is_whole_page(&self, page: Self::Page) -> bool {
        let _ = page;
        true
    }

    /// Whether `next` is the page right after the run of `run_pages` pages
    /// that starts at `first`: by default, judged by frame numbers. A
    /// linear provider answers `true` only when one mapping reaches both
    /// (see the safety contract).
    ///
    /// Builders use this to merge pages into one entry, and copies to join
    /// the bytes of neighbouring entries.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{PageProvider, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let first = pages.alloc_pages(1).unwrap(); // two contiguous pages
    /// let second = pages.nth(first, 1);
    /// assert!(pages.is_next(first, 1, second));
    /// assert!(!pages.is_next(second, 1, first));
    /// // SAFETY: allocated above with order 1, not mapped, no list names it.
    /// unsafe { pages.free_pages(first, 1) };
    /// ```
    #[inline]
    fn is_next(&self, first: Self::Page, run_pages: usize, next: Self::Page) -> bool {
        let Some(run) = <Self::Pfn as NumCast>::from(run_pages) else {
            return false;
        };
        self.pfn(first).checked_add(&run) == Some(self.pfn(next))
    }
}

// SAFETY: every method forwards to `T`, which upholds the contract.
unsafe impl<T: PageProvider + ?Sized> PageProvider for &T {
    type Page = T::Page;
    type Pfn = T::Pfn;
    const PAGE_SIZE: usize = T::PAGE_SIZE;
    const SHARED: bool = T::SHARED;

    #[inline]
    fn pfn(&self, page: Self::Page) -> Self::Pfn {
        (**self).pfn(page)
    }

    #[inline]
    fn nth(&self, page: Self::Page, n: usize) -> Self::Page {
        (**self).nth(page, n)
    }

    #[inline]
    fn map(&self, page: Self::Page) -> NonNull<u8> {
        (**self).map(page)
    }

    #[inline]
    fn try_map(&self, page: Self::Page) -> Result<NonNull<u8>, Error> {
        (**self).try_map(page)
    }

    #[inline]
    unsafe fn unmap(&self, page: Self::Page, mapping: NonNull<u8>) {
        // SAFETY: the caller's promise is the one `T::unmap` needs.
        unsafe { (**self).unmap(page, mapping) }
    }

    #[inline]
    fn flush_write(&self, page: Self::Page) {
        (**self).flush_write(page)
    }

    #[inline]
    fn is_linear(&self) -> bool {
        (**self).is_linear()
    }

    #[inline]
    fn alloc_pages(&self, order: u32) -> Result<Self::Page, Error> {
        (**self).alloc_pages(order)
    }

    #[inline]
    unsafe fn free_pages(&self, page: Self::Page, order: u32) {
        // SAFETY: the caller's promise is the one `T::free_pages` needs.
        unsafe { (**self).free_pages(page, order) }
    }

    #[inline]
    fn is_next(&self, first: Self::Page, run_pages: usize, next: Self::Page) -> bool {
        (**self).is_next(first, run_pages, next)
    }

    #[inline]
    fn is_whole_page(&self, page: Self::Page) -> bool {
        (**self).is_whole_page(page)
    }
}

/// Whether bytes that end `end_offset` bytes after the start of `end_page`
/// are continued, across a page boundary, by bytes that start
/// `next_offset` bytes after the start of `next_page`: the first bytes end
/// exactly at the end of a page and the next ones start exactly at the
/// start of the page with the next frame number.
///
/// Offsets may be a page or more (counted along the page's run). On a
/// linear provider one mapping reaches both ranges then; ranges that meet
/// inside a page are never joined, since they may belong to separate
/// allocations that happen to be neighbours.
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, VirtPages, run_continues};
///
/// let pages = VirtPages::new();
/// let run = pages.alloc_pages(1)?; // two contiguous pages
/// let second = pages.nth(run, 1);
/// assert!(run_continues(&pages, run, 4096, second, 0));
/// assert!(run_continues(&pages, run, 4096, run, 4096)); // the same page, named twice
/// assert!(!run_continues(&pages, run, 100, run, 100)); // inside a page
/// # // SAFETY: allocated above with order 1, in no list.
/// # unsafe { pages.free_pages(run, 1) };
/// # Ok::<(), sg_core::Error>(())
/// ```
#[inline]
pub fn run_continues<P: PageProvider + ?Sized>(
    provider: &P,
    end_page: P::Page,
    end_offset: u64,
    next_page: P::Page,
    next_offset: u64,
) -> bool {
    let page_size = P::PAGE_SIZE as u64;
    if end_offset % page_size != 0 || next_offset % page_size != 0 || end_offset == 0 {
        return false;
    }
    let (end_index, next_index) = (end_offset / page_size, next_offset / page_size);
    // Page indices of entry offsets fit a usize (offsets stay below 2^33).
    if end_index >= next_index {
        provider.is_next(end_page, (end_index - next_index) as usize, next_page)
    } else {
        provider.is_next(next_page, (next_index - end_index) as usize, end_page)
    }
}

/// Bytes in `2^order` pages of `P`, or an overflow error.
///
/// # Errors
///
/// [`Error::Overflow`] when the size does not fit in `usize`.
///
/// # Examples
///
/// ```
/// use sg_core::{order_bytes, VirtPages};
///
/// assert_eq!(order_bytes::<VirtPages>(3), Ok(8 * 4096));
/// assert!(order_bytes::<VirtPages>(80).is_err());
/// ```
pub fn order_bytes<P: PageProvider + ?Sized>(order: u32) -> Result<usize, Error> {
    1usize
        .checked_shl(order)
        .and_then(|pages| pages.checked_mul(P::PAGE_SIZE))
        .ok_or(Error::Overflow {
            what: "pages of the order",
        })
}
