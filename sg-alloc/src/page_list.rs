//! `PageList`: a list that owns its data pages (the kernel's `sgl_alloc`).

use core::fmt;

use crate::unwind::Finish;
use sg_core::{
    ChunkAllocator, Error, HeapChunks, PageProvider, SgEntry, SgList, SgListMut, order_bytes,
};

use crate::SgTable;
use crate::chain::{Appender, Chain};

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
/// let lengths: Vec<u32> = list.as_list().iter().map(|entry| entry.len()).collect();
/// assert_eq!(lengths, [8192, 8192, 3616]);
/// assert!(list.as_list().last_of(3)?.is_last());
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
    ///
    /// Pages come before the arrays that hold their entries: each array is
    /// allocated after the first page it will hold, so a provider that
    /// cannot serve the request fails before memory is spent on arrays,
    /// and a failure part way has spent arrays on the pages taken only.
    /// Entry counts whose arrays the address space could not hold are
    /// refused before anything is allocated.
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
        // Arrays the address space could not hold: refused before anything
        // is allocated (each slot is an entry; links are at most one more
        // slot per array of at least 2).
        let too_large = Error::Overflow {
            what: "table of entries",
        };
        let bytes = slots
            .checked_mul(2)
            .and_then(|slots| slots.checked_mul(size_of::<SgEntry<P::Page>>()))
            .ok_or(too_large)?;
        if bytes > isize::MAX as usize {
            return Err(too_large);
        }
        let capacity = chunks.max_entries();
        if capacity < 2 {
            // Arrays of one slot: one entry at most, nothing to chain.
            let table = SgTable::new_in(provider, slots, chunks)?;
            return PageList::fill_table(table, nents, length, element, order, chainable);
        }
        let mut taken = Taken {
            provider: &provider,
            order,
            chain: Some(Chain::new(chunks)),
            owned: 0,
            in_hand: None,
        };
        taken.fill(nents, slots, capacity, length)?;
        let mut chain = taken.keep();
        let Some(last) = chain.last_mut() else {
            // `fill` wrote `slots` entries, at least one.
            return Err(Error::NoEntries);
        };
        last.mark_end();
        // INVARIANT: the data entries describe the pages `fill` allocated
        // from `provider` for this list alone; the last entry is end-marked.
        Ok(PageList {
            table: SgTable::from_chain(chain, provider),
            nents,
            order,
            chainable,
            owned: nents,
        })
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> PageList<P, C> {
    /// Sets the first `nents` entries of `table` to newly allocated runs of
    /// `2^order` pages holding `length` bytes, `element` bytes each.
    fn fill_table(
        table: SgTable<P, C>,
        nents: usize,
        length: u64,
        element: u64,
        order: u32,
        chainable: bool,
    ) -> Result<Self, Error> {
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
            // At most `element`, which fits a u32 (checked by the caller).
            // SAFETY: the bytes lie in the pages just allocated, which the
            // list owns and reaches through no other list.
            unsafe { entry.set_page(page, 0, bytes as u32) };
            left -= bytes;
            list.owned += 1;
        }
        debug_assert_eq!((left, list.owned), (0, nents));
        Ok(list)
    }

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

/// A page list being filled: its chain, and the pages it has taken, which
/// it gives back if the fill stops early (an error, or a panic in the
/// provider or the chunk allocator): the runs in the chain's first `owned`
/// data entries and the run in hand. [`keep`](Self::keep) ends that.
struct Taken<'p, P: PageProvider, C: ChunkAllocator<P::Page>> {
    provider: &'p P,
    order: u32,
    /// `None` once kept.
    chain: Option<Chain<P::Page, C>>,
    owned: usize,
    /// A run allocated and not yet in an entry.
    in_hand: Option<P::Page>,
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> Taken<'_, P, C> {
    /// Appends to the empty chain one entry per run of `2^order` pages,
    /// `nents` of them holding `length` bytes (`PAGE_SIZE << order` each but
    /// the last), then empty entries up to `slots`, in arrays of at most
    /// `capacity` (at least 2) slots.
    ///
    /// Pages come before the arrays that hold them: each array is allocated
    /// after the first page it will hold, so a provider that cannot serve
    /// fails before memory is spent on arrays, and the arrays grow with the
    /// pages.
    fn fill(
        &mut self,
        nents: usize,
        slots: usize,
        capacity: usize,
        length: u64,
    ) -> Result<(), Error> {
        let (provider, order) = (self.provider, self.order);
        // Fits a u32 (checked by the caller).
        let element = (P::PAGE_SIZE as u64) << order;
        let mut left = length;
        let mut done = 0;
        let Some(chain) = self.chain.as_mut() else {
            return Err(Error::NoEntries);
        };
        while done < slots {
            // The first page of this batch, before the array it goes in.
            if done < nents {
                self.in_hand = Some(provider.alloc_pages(order)?);
            }
            let mut append = Appender::begin(chain, capacity);
            let (room, usable) = append.room(slots - done)?;
            // Declared after `append`, so dropped before it: on an unwind its
            // pages are given back while the arrays still hold them.
            let mut batch = Batch {
                provider,
                order,
                room,
                written: 0,
            };
            let usable = usable.min(slots - done);
            let (mut bytes, mut result) = (0, Ok(()));
            while batch.written < usable {
                let mut entry = SgEntry::new();
                if done + batch.written < nents {
                    let page = match self.in_hand.take() {
                        Some(page) => page,
                        None => match provider.alloc_pages(order) {
                            Ok(page) => page,
                            Err(error) => {
                                result = Err(error);
                                break;
                            }
                        },
                    };
                    let len = left.min(element);
                    // At most `element`, which fits a u32 (checked by the
                    // caller).
                    // SAFETY: the bytes lie in the pages just allocated,
                    // which the list will own and reach through no other
                    // list.
                    unsafe { entry.set_page(page, 0, len as u32) };
                    left -= len;
                    bytes += len;
                }
                // SAFETY: `written < usable`, a slot `room` offered.
                unsafe { room.add(batch.written).write(entry) };
                batch.written += 1;
            }
            let written = core::mem::take(&mut batch.written);
            // SAFETY: `written` slots from `room` hold data entries (no end
            // mark) of `bytes` bytes of the pages allocated above, or empty
            // spares; nothing else touched the chain.
            unsafe { append.filled(written, bytes) };
            append.commit(false);
            // The data entries written are the chain's now.
            self.owned = (done + written).min(nents);
            done += written;
            result?;
        }
        debug_assert_eq!(left, 0);
        Ok(())
    }

    /// The filled chain, whose pages are the caller's to keep from now on.
    fn keep(mut self) -> Chain<P::Page, C> {
        self.owned = 0;
        // `fill` never takes the chain out, and `keep` consumes `self`.
        self.chain.take().unwrap_or_else(|| unreachable!())
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> Drop for Taken<'_, P, C> {
    fn drop(&mut self) {
        let (provider, order) = (self.provider, self.order);
        if let Some(page) = self.in_hand.take() {
            // SAFETY: allocated by `fill` with `order`, in no entry.
            unsafe { provider.free_pages(page, order) };
        }
        if let Some(chain) = &self.chain {
            free_runs(provider, order, chain.list(self.owned, provider));
        }
    }
}

/// The pages a batch of entries being written holds, given back if a
/// callback panics before the batch joins the chain (then its arrays are
/// rolled back, so nothing else would give them back).
struct Batch<'p, P: PageProvider> {
    provider: &'p P,
    order: u32,
    /// The batch's slots, the first `written` of them written.
    room: core::ptr::NonNull<SgEntry<P::Page>>,
    written: usize,
}

impl<P: PageProvider> Drop for Batch<'_, P> {
    fn drop(&mut self) {
        for index in 0..self.written {
            // SAFETY: slot `index < written` of the room was written by
            // `fill`, and the append that offered the room has not yet been
            // dropped (it was declared first), so its array is alive.
            let entry = unsafe { self.room.add(index).as_ref() };
            if let Some(page) = entry.page() {
                // SAFETY: a run `fill` allocated with `order` for this
                // entry alone, given back once: the batch is dropped once.
                unsafe { self.provider.free_pages(page, self.order) };
            }
        }
    }
}

/// Gives back the run of `2^order` pages of each entry of `list`, going
/// on past a provider that panics in `free_pages`.
fn free_runs<P: PageProvider>(provider: &P, order: u32, list: SgList<'_, P>) {
    Finish::new(list.iter(), |entries| {
        let Some(page) = entries.next().and_then(|entry| entry.page()) else {
            return false;
        };
        // SAFETY: the caller's entries hold runs it allocated from
        // `provider` with `order` and gives back here; each is freed once:
        // the walk has moved past it.
        unsafe { provider.free_pages(page, order) };
        true
    })
    .run();
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> Drop for PageList<P, C> {
    fn drop(&mut self) {
        // The first `owned` data entries hold the pages this list allocated
        // from its provider with `order` (their entries are never changed
        // after that); no view of the list outlives it. A provider that
        // panics in `free_pages` still gets every other run back.
        free_runs(
            self.table.provider(),
            self.order,
            self.table.prefix(self.owned),
        );
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
