//! `PageList`: a list that owns its data pages (the kernel's `sgl_alloc`).

use core::fmt;

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
/// let list = PageList::with_order(VirtPages::new(), 20_000, 1, false)?;
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
    /// page-sized arrays from the heap (the kernel's `sgl_alloc`).
    ///
    /// # Errors
    ///
    /// As [`with_order_in`](Self::with_order_in).
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
        Self::with_order_in(provider, length, 0, false, HeapChunks::new())
    }

    /// A list of runs of `2^order` pages holding `length` bytes, with a
    /// spare entry when `chainable`, and page-sized arrays from the heap
    /// (the kernel's `sgl_alloc_order`).
    ///
    /// # Errors
    ///
    /// As [`with_order_in`](Self::with_order_in).
    #[doc(alias = "sgl_alloc_order")]
    pub fn with_order(
        provider: P,
        length: u64,
        order: u32,
        chainable: bool,
    ) -> Result<Self, Error> {
        Self::with_order_in(provider, length, order, chainable, HeapChunks::new())
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> PageList<P, C> {
    /// A list of runs of `2^order` pages holding `length` bytes, with a
    /// spare entry when `chainable`, and arrays from `chunks` (the kernel's
    /// `sgl_alloc_order`). Lengths of 4 GiB and more work wherever the
    /// entry count fits a `usize`.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroLength`] for a length of 0; [`Error::Overflow`] when
    /// `2^order` pages do not fit an entry's `u32` length or the entry
    /// count does not fit (in a `usize`, or in memory); then what `chunks`
    /// or the provider return when memory cannot be had, after giving back
    /// every page and array taken.
    ///
    /// Pages come before the arrays that hold their entries: each array is
    /// allocated after the first page it will hold, so a provider that
    /// cannot serve the request fails before memory is spent on arrays,
    /// and a failure part way has spent arrays on the pages taken only.
    /// Entry counts whose arrays the address space could not hold are
    /// refused before anything is allocated.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::PageList;
    /// use sg_core::{HeapChunks, VirtPages};
    ///
    /// let list = PageList::with_order_in(VirtPages::new(), 4096, 0, true, HeapChunks::new())?;
    /// assert_eq!(list.nents(), 1);
    /// // The data entry has no end mark: the spare after it has.
    /// assert!(!list.as_list().first().unwrap().is_last());
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sgl_alloc_order")]
    pub fn with_order_in(
        provider: P,
        length: u64,
        order: u32,
        chainable: bool,
        chunks: C,
    ) -> Result<Self, Error> {
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
            return Self::fill_table(table, nents, length, element, order, chainable);
        }
        let mut chain = Chain::new(chunks);
        let filled = fill(&provider, &mut chain, nents, slots, capacity, length, order);
        let Some(last) = chain.last_mut() else {
            // No page taken: the error came first; the chain gives back any
            // array.
            return Err(filled.err().unwrap_or(Error::NoEntries));
        };
        last.mark_end();
        // INVARIANT: the data entries describe the pages `fill` allocated
        // from `provider` for this list alone; the last entry is end-marked.
        let owned = chain.entries().min(nents);
        let list = PageList {
            table: SgTable::from_chain(chain, provider),
            nents,
            order,
            chainable,
            owned,
        };
        // On failure, dropping `list` gives back the pages and arrays taken.
        filled.map(|()| list)
    }

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
            unsafe { entry.set_page(page, bytes as u32, 0) };
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

/// Appends to the empty `chain` one entry per run of `2^order` pages from
/// `provider`, `nents` of them holding `length` bytes (`PAGE_SIZE <<
/// order` each but the last), then empty entries up to `slots`, in arrays of at
/// most `capacity` (at least 2) slots.
///
/// Pages come before the arrays that hold them: each array is allocated
/// after the first page it will hold, so a provider that cannot serve
/// fails before memory is spent on arrays, and the arrays grow with the
/// pages. On failure the chain keeps the entries written (without an end
/// mark), whose pages the caller gives back; no other page is kept.
fn fill<P: PageProvider, C: ChunkAllocator<P::Page>>(
    provider: &P,
    chain: &mut Chain<P::Page, C>,
    nents: usize,
    slots: usize,
    capacity: usize,
    length: u64,
    order: u32,
) -> Result<(), Error> {
    // Fits a u32 (checked by the caller).
    let element = (P::PAGE_SIZE as u64) << order;
    let mut left = length;
    let mut done = 0;
    while done < slots {
        // The first page of this batch, before the array it goes in.
        let mut next = if done < nents {
            Some(provider.alloc_pages(order)?)
        } else {
            None
        };
        let mut append = Appender::begin(chain, capacity);
        let (room, usable) = match append.room(slots - done) {
            Ok(room) => room,
            Err(error) => {
                if let Some(page) = next {
                    // SAFETY: allocated above with `order`, in no list.
                    unsafe { provider.free_pages(page, order) };
                }
                return Err(error);
            }
        };
        let usable = usable.min(slots - done);
        let (mut written, mut bytes, mut result) = (0, 0, Ok(()));
        while written < usable {
            let mut entry = SgEntry::new();
            if done + written < nents {
                let page = match next.take().map_or_else(|| provider.alloc_pages(order), Ok) {
                    Ok(page) => page,
                    Err(error) => {
                        result = Err(error);
                        break;
                    }
                };
                let length = left.min(element);
                // At most `element`, which fits a u32 (checked by the caller).
                // SAFETY: the bytes lie in the pages just allocated, which
                // the list will own and reach through no other list.
                unsafe { entry.set_page(page, length as u32, 0) };
                left -= length;
                bytes += length;
            }
            // SAFETY: `written < usable`, a slot `room` offered.
            unsafe { room.add(written).write(entry) };
            written += 1;
        }
        // SAFETY: `written` slots from `room` hold data entries (no end
        // mark) of `bytes` bytes of the pages allocated above, or empty
        // spares; nothing else touched the chain.
        unsafe { append.filled(written, bytes) };
        append.commit(false);
        done += written;
        result?;
    }
    debug_assert_eq!(left, 0);
    Ok(())
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> Drop for PageList<P, C> {
    fn drop(&mut self) {
        let provider = self.table.provider();
        for entry in self.table.prefix(self.owned).iter() {
            let Some(page) = entry.page() else { break };
            // SAFETY: the first `owned` data entries hold the pages this
            // list allocated from `provider` with `order` (their entries are
            // never changed after that), each freed once, here; no view of
            // the list outlives it.
            unsafe { provider.free_pages(page, self.order) };
        }
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
