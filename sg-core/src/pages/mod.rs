//! `Pages`: the proof that page handles name live pages that nobody else
//! uses, and the provider that maps them.
//!
//! A page handle ([`PageProvider::Page`]) is a name: `Copy`, cheap, and made
//! by safe code ([`PageProvider::nth`], [`SgEntry::page`](crate::SgEntry::page)).
//! A name is never enough to reach bytes. What safe builders take instead is
//! a `Pages` set: pages allocated through the provider (and given back when
//! the set is dropped), or handles a caller vouches for in an `unsafe`
//! constructor. A table built from a set owns it (moved in) or borrows it
//! (shared: a read-only table; exclusive: a writable one), so the borrow
//! checker keeps the pages alive, and unshared, for as long as the table.

use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;

use crate::access::{Access, Read, Write};
use crate::{Error, PageProvider};

/// A set of distinct pages with the provider that maps them: the proof that
/// safe builders take (Rust-for-Linux's `Owned<P>` pages of an `SGTable`).
///
/// The set holds its pages' handles in an order of its own (allocation
/// order, or the caller's), which is the order builders lay them out in;
/// [`swap`](Self::swap) and [`permute`](Self::permute) reorder them without
/// ever repeating a page. The provider value travels with the set, so a
/// table built from it maps the pages through the instance they belong to.
///
/// - [`Pages::alloc`] and [`alloc_more`](Self::alloc_more) allocate through
///   the provider; dropping the set gives those pages back.
/// - [`Pages::from_raw`] (`unsafe`) wraps handles that the caller manages,
///   without allocating when `handles` is a borrowed slice; the set frees
///   none of them.
///
/// `Pages` is itself a [`PageProvider`] (it forwards every call to its
/// provider), so a table over a set names it as its provider: an owning
/// table is `SgTable<Pages<P>>`, a borrowing one `SgTable<&Pages<P>>`.
///
/// # Examples
///
/// ```
/// use sg_core::{Pages, VirtPages};
///
/// let mut pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
/// assert_eq!(pages.len(), 4);
/// pages.swap(0, 3); // any order, never a page twice
/// pages.permute(&[1, 0, 2, 3])?;
/// assert!(pages.permute(&[0, 0, 1, 2]).is_err());
/// drop(pages); // gives the four pages back
/// # Ok::<(), sg_core::Error>(())
/// ```
///
/// A handle alone builds nothing; making a set from handles is `unsafe`:
///
/// ```compile_fail,E0133
/// use sg_core::{PageProvider, Pages, VirtPages};
///
/// let provider = VirtPages::new();
/// let page = provider.alloc_pages(0).unwrap();
/// // Rule: only a provider's allocation or an `unsafe` promise makes a set.
/// let set = Pages::from_raw(provider, vec![provider.nth(page, 1)]);
/// ```
///
/// # Invariants
///
/// For as long as the set lives:
///
/// - every handle in `handles` (the same ones at every call of `as_ref`)
///   names a page that `provider` holds valid, whose bytes are initialised
///   and which is not freed;
/// - nothing outside the set and the tables built from it reads or writes
///   those bytes;
/// - a page appears at most once among the handles wherever a table that
///   writes may be built from the set (always so for allocated pages);
/// - `allocations` holds each run the set allocated through `provider` and
///   has not given back, once, and its pages are among the handles.
pub struct Pages<P: PageProvider, H: AsRef<[P::Page]> = Vec<<P as PageProvider>::Page>> {
    provider: P,
    handles: H,
    /// Allocations the set gives back on drop: first handle and order.
    allocations: Vec<(P::Page, u32)>,
}

impl<P: PageProvider> Pages<P> {
    /// An empty set over `provider`; add pages with
    /// [`alloc_more`](Self::alloc_more).
    pub fn new(provider: P) -> Self {
        // INVARIANT: no handle, no allocation.
        Pages {
            provider,
            handles: Vec::new(),
            allocations: Vec::new(),
        }
    }

    /// `2^order` pages with consecutive frame numbers, allocated through
    /// `provider` (the kernel's `alloc_pages`), in frame order; dropping the
    /// set gives them back.
    ///
    /// # Errors
    ///
    /// What [`PageProvider::alloc_pages`] returns, and
    /// [`Error::OutOfMemory`] when the list of handles cannot be had.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{PageProvider, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 1)?;
    /// let [first, second] = pages.handles() else { unreachable!() };
    /// assert!(pages.is_next(*first, 1, *second));
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "alloc_pages")]
    pub fn alloc(provider: P, order: u32) -> Result<Self, Error> {
        let mut pages = Self::new(provider);
        pages.alloc_more(order)?;
        Ok(pages)
    }

    /// Allocates `2^order` more pages through the provider and adds them at
    /// the end of the set, in frame order.
    ///
    /// # Errors
    ///
    /// As [`alloc`](Self::alloc); the set is then unchanged.
    pub fn alloc_more(&mut self, order: u32) -> Result<(), Error> {
        let count = 1usize.checked_shl(order).ok_or(Error::Overflow {
            what: "pages of the order",
        })?;
        crate::order_bytes::<P>(order)?;
        self.handles
            .try_reserve(count)
            .map_err(|_| Error::OutOfMemory)?;
        self.allocations
            .try_reserve(1)
            .map_err(|_| Error::OutOfMemory)?;
        let first = self.provider.alloc_pages(order)?;
        // INVARIANT: fresh pages of the provider, which nothing else holds
        // and which no other handle of the set names; recorded as an
        // allocation at once, and all of the run is pushed below (the
        // space was reserved, so pushing cannot fail).
        // Recorded before anything else can fail or panic, so that dropping
        // the set gives the pages back in every case.
        self.allocations.push((first, order));
        self.handles.push(first);
        for index in 1..count {
            let page = self.provider.nth(first, index);
            self.handles.push(page);
        }
        Ok(())
    }
}

impl<P: PageProvider, H: AsRef<[P::Page]>> Pages<P, H> {
    /// A set of pages that the caller manages: `handles`, in that order,
    /// mapped through `provider`. The set frees none of them. With a
    /// borrowed slice (`&[P::Page]`) nothing is allocated.
    ///
    /// # Safety
    ///
    /// Until the set is dropped (for ever, if it is leaked, also inside a
    /// leaked table or mapping guard):
    ///
    /// - every handle that `handles.as_ref()` returns (the same ones at
    ///   every call) names a page that `provider` holds valid under the
    ///   [`PageProvider`] contract, whose bytes are initialised and which is
    ///   not freed;
    /// - nothing outside the set and the tables built from it reads or
    ///   writes those bytes (no other set, list, table, reference or
    ///   device);
    /// - where a table that writes is built from the set (by value or
    ///   through `&mut`), no page appears twice, also under two handles
    ///   (several read-only tables may describe the same bytes).
    pub unsafe fn from_raw(provider: P, handles: H) -> Self {
        // INVARIANT: the caller's promise; the set allocated nothing.
        Pages {
            provider,
            handles,
            allocations: Vec::new(),
        }
    }

    /// The provider that maps the pages.
    #[inline]
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The pages' handles, in the set's order: names, to read frame numbers
    /// or compare, not a way to reach bytes.
    #[inline]
    pub fn handles(&self) -> &[P::Page] {
        self.handles.as_ref()
    }

    /// How many pages the set holds.
    #[inline]
    pub fn len(&self) -> usize {
        self.handles.as_ref().len()
    }

    /// Whether the set holds no page.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes in the set's pages (`len` times the page size), saturating.
    #[inline]
    pub fn byte_len(&self) -> u64 {
        (self.len() as u64).saturating_mul(P::PAGE_SIZE as u64)
    }
}

impl<P: PageProvider, H: AsRef<[P::Page]> + AsMut<[P::Page]>> Pages<P, H> {
    /// Swaps the pages at positions `a` and `b` of the set's order.
    ///
    /// # Panics
    ///
    /// When `a` or `b` is out of bounds, as `<[T]>::swap` does.
    #[inline]
    pub fn swap(&mut self, a: usize, b: usize) {
        // INVARIANT: the same handles in another order.
        self.handles.as_mut().swap(a, b);
    }

    /// Reverses the set's order.
    #[inline]
    pub fn reverse(&mut self) {
        // INVARIANT: the same handles in another order.
        self.handles.as_mut().reverse();
    }

    /// Puts the pages in a new order: page `i` of the result is page
    /// `order[i]` of the set before the call.
    ///
    /// # Errors
    ///
    /// [`Error::TooFewEntries`] when `order` is not as long as the set,
    /// [`Error::NotInSet`] when it names a position past its end, and
    /// [`Error::RepeatedPosition`] when it names a position twice; the set
    /// is then unchanged. Nothing is allocated for sets of at most 4096
    /// pages ([`Error::OutOfMemory`] when a larger set's bitmap cannot be
    /// had).
    pub fn permute(&mut self, order: &[usize]) -> Result<(), Error> {
        let len = self.len();
        if order.len() != len {
            return Err(Error::TooFewEntries {
                requested: order.len(),
                available: len,
            });
        }
        let mut small = [0u64; 64];
        let mut large = Vec::new();
        let words = len.div_ceil(64);
        let seen: &mut [u64] = if words <= small.len() {
            &mut small[..words]
        } else {
            large
                .try_reserve_exact(words)
                .map_err(|_| Error::OutOfMemory)?;
            large.resize(words, 0);
            &mut large
        };
        let bit = |index: usize| (index / 64, 1u64 << (index % 64));
        for (at, &index) in order.iter().enumerate() {
            if index >= len {
                return Err(Error::NotInSet {
                    end: index.saturating_add(1),
                    pages: len,
                });
            }
            let (word, mask) = bit(index);
            if seen[word] & mask != 0 {
                let first = order.iter().position(|&other| other == index).unwrap_or(0);
                return Err(Error::RepeatedPosition {
                    position: index,
                    first,
                    second: at,
                });
            }
            seen[word] |= mask;
        }
        // INVARIANT: `order` is a permutation (checked above), so the set
        // keeps the same handles, each once as often as before.
        // A permutation: follow each cycle once, in place, marking the
        // positions filled (the bitmap is all ones now; clear as we go).
        let handles = self.handles.as_mut();
        for start in 0..len {
            let (word, mask) = bit(start);
            if seen[word] & mask == 0 {
                continue;
            }
            let first = handles[start];
            let mut at = start;
            loop {
                let (word, mask) = bit(at);
                seen[word] &= !mask;
                let from = order[at];
                if from == start {
                    handles[at] = first;
                    break;
                }
                handles[at] = handles[from];
                at = from;
            }
        }
        Ok(())
    }
}

impl<P: PageProvider, H: AsRef<[P::Page]>> Drop for Pages<P, H> {
    fn drop(&mut self) {
        for &(page, order) in &self.allocations {
            // SAFETY: `page` came from `alloc_pages(order)` on this provider
            // and is freed once, here; every table that owned or borrowed
            // the set is gone (a borrow cannot outlive the set, and an
            // owning table drops the set last), and so is every list and
            // mapping made from them, since those borrow the tables.
            unsafe { self.provider.free_pages(page, order) };
        }
    }
}

impl<P: PageProvider + fmt::Debug, H: AsRef<[P::Page]>> fmt::Debug for Pages<P, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let handles = self.handles();
        f.debug_struct("Pages")
            .field("provider", &self.provider)
            .field("len", &handles.len())
            .field("first", &&handles[..handles.len().min(SHOWN)])
            .field("allocations", &self.allocations.len())
            .finish()
    }
}

// SAFETY: every method forwards to the set's provider, which upholds the
// contract; the set adds no handle of its own.
unsafe impl<P: PageProvider, H: AsRef<[P::Page]>> PageProvider for Pages<P, H> {
    type Page = P::Page;
    type Pfn = P::Pfn;
    const PAGE_SIZE: usize = P::PAGE_SIZE;
    const SHARED: bool = P::SHARED;

    #[inline]
    fn pfn(&self, page: Self::Page) -> Self::Pfn {
        self.provider.pfn(page)
    }

    #[inline]
    fn nth(&self, page: Self::Page, n: usize) -> Self::Page {
        self.provider.nth(page, n)
    }

    #[inline]
    fn map(&self, page: Self::Page) -> NonNull<u8> {
        self.provider.map(page)
    }

    #[inline]
    unsafe fn unmap(&self, page: Self::Page, mapping: NonNull<u8>) {
        // SAFETY: the caller's promise is the one the provider needs.
        unsafe { self.provider.unmap(page, mapping) }
    }

    #[inline]
    fn flush_write(&self, page: Self::Page) {
        self.provider.flush_write(page)
    }

    #[inline]
    fn is_linear(&self) -> bool {
        self.provider.is_linear()
    }

    #[inline]
    fn alloc_pages(&self, order: u32) -> Result<Self::Page, Error> {
        self.provider.alloc_pages(order)
    }

    #[inline]
    unsafe fn free_pages(&self, page: Self::Page, order: u32) {
        // SAFETY: the caller's promise is the one the provider needs.
        unsafe { self.provider.free_pages(page, order) }
    }

    #[inline]
    fn is_whole_page(&self, page: Self::Page) -> bool {
        self.provider.is_whole_page(page)
    }

    #[inline]
    fn is_next(&self, first: Self::Page, run_pages: usize, next: Self::Page) -> bool {
        self.provider.is_next(first, run_pages, next)
    }
}

mod sealed {
    /// Only the page sets of this module are page sets.
    pub trait SetSealed {}
    /// Only the page sets of this module, and borrows of them, are sources.
    pub trait SourceSealed {}
}

/// A provider that is a set of pages ([`Pages`], or a reference to one):
/// what a table built from pages holds as its provider. Sealed.
pub trait PageSet: PageProvider + sealed::SetSealed {
    /// The set's pages, in its order.
    fn pages(&self) -> &[Self::Page];
}

impl<P: PageProvider, H: AsRef<[P::Page]>> sealed::SetSealed for Pages<P, H> {}
impl<T: PageSet> sealed::SetSealed for &T {}

impl<P: PageProvider, H: AsRef<[P::Page]>> PageSet for Pages<P, H> {
    #[inline]
    fn pages(&self) -> &[Self::Page] {
        self.handles()
    }
}

impl<T: PageSet> PageSet for &T {
    #[inline]
    fn pages(&self) -> &[Self::Page] {
        (**self).pages()
    }
}

/// What a safe builder from pages takes: a [`Pages`] set by value (the
/// table owns the pages and may write them), by `&mut` (the table borrows
/// them exclusively and may write them), or by `&` (the table borrows them
/// shared and only reads them). Sealed.
pub trait PageSource: sealed::SourceSealed {
    /// The provider the table keeps: the set, or a reference to it.
    type Set: PageSet;
    /// What the table may do with the bytes.
    type Access: Access;

    /// The set the table keeps.
    fn into_set(self) -> Self::Set;
}

impl<P: PageProvider, H: AsRef<[P::Page]>> sealed::SourceSealed for Pages<P, H> {}
impl<P: PageProvider, H: AsRef<[P::Page]>> sealed::SourceSealed for &Pages<P, H> {}
impl<P: PageProvider, H: AsRef<[P::Page]>> sealed::SourceSealed for &mut Pages<P, H> {}

impl<P: PageProvider, H: AsRef<[P::Page]>> PageSource for Pages<P, H> {
    type Set = Self;
    type Access = Write;

    #[inline]
    fn into_set(self) -> Self {
        self
    }
}

impl<'a, P: PageProvider, H: AsRef<[P::Page]>> PageSource for &'a Pages<P, H> {
    type Set = &'a Pages<P, H>;
    type Access = Read;

    #[inline]
    fn into_set(self) -> Self::Set {
        self
    }
}

impl<'a, P: PageProvider, H: AsRef<[P::Page]>> PageSource for &'a mut Pages<P, H> {
    type Set = &'a Pages<P, H>;
    type Access = Write;

    #[inline]
    fn into_set(self) -> Self::Set {
        // The exclusive borrow is given up for a shared one of the same
        // lifetime: nothing else reaches the set for `'a` all the same.
        self
    }
}

#[cfg(test)]
mod tests;
