//! `PageList`: a list that owns its data pages (the kernel's `sgl_alloc`).

use core::fmt;

use crate::unwind::Finish;
use sg_core::{ChunkAllocator, Error, HeapChunks, PageProvider, SgList, SgListMut, order_bytes};

use crate::SgTable;

/// A list that owns its data: runs of `2^order` pages from the provider,
/// one per entry, enough to hold a given number of bytes (the kernel's
/// `sgl_alloc_order`).
///
/// Every entry but the last holds `PAGE_SIZE << order` bytes; the last
/// holds the rest. A chainable list has one spare entry after the data
/// entries, which carries the end mark instead of the last data entry (the
/// kernel keeps it for chaining another list there).
///
/// Dropping the list gives back every page and array (the kernel's
/// `sgl_free_order` and `sgl_free`); [`free_n`](Self::free_n) gives back
/// the pages of the first entries only. The entries cannot be changed from
/// outside, so the pages given back are exactly the ones allocated; the
/// bytes can be written through [`as_list_mut`](Self::as_list_mut).
///
/// # Examples
///
/// ```
/// use sg_alloc::PageList;
/// use sg_core::VirtPages;
///
/// let list = PageList::builder(VirtPages::new(), 20_000).order(1).build()?;
/// assert_eq!(list.nents(), 3); // 8192 + 8192 + 3616
/// let lengths: Vec<u32> = list.as_list().iter().map(|entry| entry.length()).collect();
/// assert_eq!(lengths, [8192, 8192, 3616]);
/// assert!(list.as_list().last(3)?.is_last());
/// # Ok::<(), sg_core::Error>(())
/// ```
///
/// A page's handle, read from the list, builds nothing that could outlive
/// the list:
///
/// ```compile_fail,E0133
/// use sg_alloc::{PageList, SgTable};
/// use sg_core::{Pages, VirtPages};
///
/// let list = PageList::new(VirtPages::new(), 4096).unwrap();
/// let page = list.as_list().first().unwrap().page().unwrap();
/// // Rule: a handle is a name; only a provider's allocation or an
/// // `unsafe` promise makes a set of pages.
/// let table = SgTable::from_pages(Pages::from_raw(VirtPages::new(), vec![page]), 0, 4096).unwrap();
/// drop(list);
/// let _ = table.as_list();
/// ```
#[doc(alias = "sgl_free")]
#[doc(alias = "sgl_free_order")]
pub struct PageList<P: PageProvider, C: ChunkAllocator<P::Page> = HeapChunks> {
    /// The data entries, then the spare when chainable.
    table: SgTable<P, C>,
    /// Data entries.
    nents: usize,
    order: u32,
    chainable: bool,
    /// Leading data entries whose pages this list gives back.
    owned: usize,
}

impl<P: PageProvider> PageList<P> {
    /// A list of single pages holding `length` bytes, not chainable, with
    /// page-sized arrays from the heap (the kernel's `sgl_alloc`):
    /// `PageList::builder(provider, length).build()`.
    ///
    /// # Errors
    ///
    /// As [`PageListBuilder::build`].
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::PageList;
    /// use sg_core::VirtPages;
    ///
    /// let list = PageList::new(VirtPages::new(), 10_000)?;
    /// assert_eq!((list.nents(), list.byte_len()), (3, 10_000));
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sgl_alloc")]
    pub fn new(provider: P, length: u64) -> Result<Self, Error> {
        Self::builder(provider, length).build()
    }

    /// A list holding `length` bytes, to lay out: runs of `2^order` pages
    /// per entry ([`order`](PageListBuilder::order)), a spare entry
    /// ([`chainable`](PageListBuilder::chainable)), arrays from a chunk
    /// allocator ([`chunk_allocator`](PageListBuilder::chunk_allocator)).
    #[doc(alias = "sgl_alloc_order")]
    #[doc(alias = "with_order")]
    #[doc(alias = "with_order_in")]
    pub fn builder(provider: P, length: u64) -> PageListBuilder<P> {
        PageListBuilder {
            provider,
            length,
            order: 0,
            chainable: false,
            chunks: HeapChunks::new(),
        }
    }
}

/// How to allocate a [`PageList`] (the arguments of the kernel's
/// `sgl_alloc_order`): from [`PageList::builder`], single pages, no spare
/// entry and page-sized arrays from the heap unless told otherwise.
///
/// # Examples
///
/// ```
/// use sg_alloc::PageList;
/// use sg_core::{HeapChunks, VirtPages};
///
/// let list = PageList::builder(VirtPages::new(), 4096)
///     .chainable(true)
///     .chunk_allocator(HeapChunks::new())
///     .build()?;
/// assert_eq!(list.nents(), 1);
/// // The data entry has no end mark: the spare after it has.
/// assert!(!list.as_list().first().unwrap().is_last());
/// # Ok::<(), sg_core::Error>(())
/// ```
#[derive(Debug)]
#[must_use = "nothing is allocated until `build` is called"]
pub struct PageListBuilder<P, C = HeapChunks> {
    provider: P,
    length: u64,
    order: u32,
    chainable: bool,
    chunks: C,
}

impl<P: PageProvider, C> PageListBuilder<P, C> {
    /// Each entry holds a run of `2^order` pages (0, single pages, by
    /// default).
    #[inline]
    pub fn order(mut self, order: u32) -> Self {
        self.order = order;
        self
    }

    /// Whether a spare entry follows the data entries (the kernel's
    /// `chainable`): it then carries the end mark instead of the last data
    /// entry. Not by default.
    #[inline]
    pub fn chainable(mut self, chainable: bool) -> Self {
        self.chainable = chainable;
        self
    }

    /// The list's arrays come from `chunks`.
    #[inline]
    pub fn chunk_allocator<D>(self, chunks: D) -> PageListBuilder<P, D> {
        PageListBuilder {
            provider: self.provider,
            length: self.length,
            order: self.order,
            chainable: self.chainable,
            chunks,
        }
    }

    /// Allocates the list. Lengths of 4 GiB and more work wherever the
    /// entry count fits a `usize`.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroLength`] for a length of 0; [`Error::Overflow`] when
    /// `2^order` pages do not fit an entry's `u32` length or the entry
    /// count does not fit (in a `usize`, or in memory); then what the chunk
    /// allocator or the provider return when memory cannot be had, after
    /// giving back every page and array taken (also when one of them
    /// panics).
    #[doc(alias = "sgl_alloc_order")]
    pub fn build(self) -> Result<PageList<P, C>, Error>
    where
        C: ChunkAllocator<P::Page>,
    {
        let PageListBuilder {
            provider,
            length,
            order,
            chainable,
            chunks,
        } = self;
        if length == 0 {
            return Err(Error::ZeroLength);
        }
        let element = order_bytes::<P>(order)? as u64;
        if element > u64::from(u32::MAX) {
            return Err(Error::Overflow {
                what: "entry length of the order",
            });
        }
        let count_overflow = Error::Overflow {
            what: "entry count",
        };
        let nents = usize::try_from(length.div_ceil(element)).map_err(|_| count_overflow)?;
        let slots = nents
            .checked_add(usize::from(chainable))
            .ok_or(count_overflow)?;
        let table = SgTable::new_in(provider, slots, chunks)?;
        let mut list = PageList {
            table,
            nents,
            order,
            chainable,
            owned: 0,
        };
        let (entries, provider) = list.table.entries_mut_and_provider();
        let mut left = length;
        for mut entry in entries.take(nents) {
            // On failure `list` is dropped, which gives back the `owned`
            // pages taken so far and the arrays.
            let page = provider.alloc_pages(order)?;
            let bytes = left.min(element);
            // At most `element`, which fits a u32 (checked above).
            // SAFETY: the bytes lie in the pages just allocated, which the
            // list owns and reaches through no other list.
            unsafe { entry.set_page(page, bytes as u32, 0) };
            left -= bytes;
            list.owned += 1;
        }
        debug_assert_eq!((left, list.owned), (0, nents));
        Ok(list)
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> PageList<P, C> {
    /// Data entries (the kernel's `nent`), the spare not included.
    #[inline]
    pub fn nents(&self) -> usize {
        self.nents
    }

    /// Each entry's pages are a run of `2^order` pages.
    #[inline]
    pub fn order(&self) -> u32 {
        self.order
    }

    /// Whether a spare entry follows the data entries.
    #[inline]
    pub fn is_chainable(&self) -> bool {
        self.chainable
    }

    /// The bytes the list holds: the length it was made for.
    #[inline]
    pub fn byte_len(&self) -> u64 {
        self.table.byte_len()
    }

    /// The provider the pages came from.
    #[inline]
    pub fn provider(&self) -> &P {
        self.table.provider()
    }

    /// A view of the data entries.
    #[inline]
    pub fn as_list(&self) -> SgList<'_, P> {
        self.table.prefix(self.nents)
    }

    /// An exclusive view of the data entries, for writing the bytes.
    #[inline]
    pub fn as_list_mut(&mut self) -> SgListMut<'_, P> {
        self.table.prefix_mut(self.nents)
    }

    /// Gives back the pages of the first `n` data entries, stopping early
    /// at an entry without a page, and the arrays (the kernel's
    /// `sgl_free_n_order`).
    ///
    /// The pages of later entries are not given back: they stay allocated
    /// for good, as in the kernel, where their owner has taken them over.
    /// Drop the list instead to give everything back.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::PageList;
    /// use sg_testkit::MockPages;
    ///
    /// let mock = MockPages::<4096>::new();
    /// let list = PageList::new(&mock, 3 * 4096)?;
    /// list.free_n(2);
    /// assert_eq!(mock.live_allocations(), 1); // the third page is kept
    /// # mock.skip_check_on_drop();
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sgl_free_n_order")]
    pub fn free_n(mut self, n: usize) {
        self.owned = self.owned.min(n);
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> Drop for PageList<P, C> {
    fn drop(&mut self) {
        let provider = self.table.provider();
        let order = self.order;
        let entries = self.table.prefix(self.owned).iter();
        // A provider that panics in `free_pages` still gets every other
        // run back.
        Finish::new(entries, |entries| {
            let Some(page) = entries.next().and_then(|entry| entry.page()) else {
                return false;
            };
            // SAFETY: the first `owned` data entries hold the pages this
            // list allocated from `provider` with `order` (their entries are
            // never changed after that), each freed once: the walk has moved
            // past it; no view of the list outlives it.
            unsafe { provider.free_pages(page, order) };
            true
        })
        .run();
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> fmt::Debug for PageList<P, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageList")
            .field("nents", &self.nents)
            .field("order", &self.order)
            .field("chainable", &self.chainable)
            .field("byte_len", &self.byte_len())
            .field("entries", &self.as_list())
            .finish()
    }
}
