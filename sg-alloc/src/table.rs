//! `SgTable`: an owning, chained scatter-gather table.

use core::fmt;
use core::marker::PhantomData;

use sg_core::{
    Access, ChunkAllocator, Error, HeapChunks, PageProvider, Read, SgList, SgListMut, Write,
};

use crate::EntriesMut;
use crate::chain::{Chain, DmaFieldsMut};
use crate::chunks::{FirstChunk, WithFirstChunk, chain_with_first};

/// An owning scatter-gather table (the kernel's `struct sg_table`): data
/// entries in chained arrays taken from a chunk allocator `C`, the provider
/// `P` that maps their pages, and the entry counts.
///
/// Build one with [`new`](Self::new) (empty entries, to be set with
/// [`entries_mut`](Self::entries_mut)), from pages with
/// [`from_pages`](Self::from_pages), or with an
/// [`AppendTable`](crate::AppendTable). Read it through the views
/// [`as_list`](Self::as_list), [`as_list_mut`](Self::as_list_mut) and
/// [`dma_list`](Self::dma_list), which every iterator and copy of the
/// workspace takes.
///
/// Arrays hold at most [`ChunkAllocator::max_entries`] slots (128 with the
/// default [`HeapChunks`]): every array but the last holds one entry less
/// and links to the next through its last slot. The last array of a table
/// from [`new`](Self::new) has exactly the slots still needed; a table built
/// from pages sizes it by the pages that were still to come, so it may have
/// unused slots. The last data entry carries the end mark.
///
/// Dropping the table gives every array back to `C` (the kernel's
/// `sg_free_table`), except a caller's [`FirstChunk`], which is only
/// borrowed. The table owns the pages its entries name when its provider
/// is a [`Pages`](sg_core::Pages) set it was built from (then dropping it
/// gives the pages back too), and borrows them when its provider is a
/// reference to one.
///
/// # Access
///
/// `A` says what the table may do with the bytes: [`Write`] (the default)
/// or [`Read`]. A `Write` table descends from an exclusive proof of its
/// pages, so it alone reaches them, and hands out the exclusive view
/// [`as_list_mut`](Self::as_list_mut); a `Read` table (built from `&Pages`,
/// split from a shared view, cloned) only reads, and may map for a device
/// that reads only. Rights never grow: nothing made from a `Read` table is
/// `Write`.
///
/// ```compile_fail,E0599
/// use sg_alloc::SgTable;
/// use sg_core::{Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 0).unwrap();
/// let shared = SgTable::from_pages(&pages, 0, 4096).unwrap();
/// // Rule: a table built from a shared borrow of its pages only reads.
/// let _ = shared.as_list_mut();
/// ```
///
/// # Invariants
///
/// - The chain holds at least one data entry and its last carries the end
///   mark; `nents <= orig_nents`.
/// - Every data entry's claim ([`SgEntry::set_page`](sg_core::SgEntry::set_page))
///   holds for `provider` for as long as the table lives.
/// - If `A` is [`Write`], no two entries describe the same byte, and
///   nothing outside the table reads or writes the bytes while the table
///   uses them (through its views, or a device through its mapping); for a
///   table built from a set, that is its whole life.
///
/// # Examples
///
/// ```
/// use sg_alloc::SgTable;
/// use sg_core::{PageProvider, VirtPages};
///
/// let pages = VirtPages::new();
/// let page = pages.alloc_pages(0)?;
/// let mut table = SgTable::new(&pages, 300)?; // three arrays: 127 + 127 + 46
/// assert_eq!((table.orig_nents(), table.arrays()), (300, 3));
/// for (index, mut entry) in table.entries_mut().enumerate() {
///     // SAFETY: 8 bytes of the page allocated above, in no other list.
///     unsafe { entry.set_page(page, (index % 512) as u32 * 8, 8) };
/// }
/// assert_eq!(table.byte_len(), 2400);
/// assert_eq!(table.as_list().count(), 300);
/// assert!(table.as_list().last_of(300)?.is_last());
/// drop(table);
/// // SAFETY: allocated above with order 0; the table is gone.
/// unsafe { pages.free_pages(page, 0) };
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_table")]
#[doc(alias = "sg_free_table")]
pub struct SgTable<P: PageProvider, C: ChunkAllocator<P::Page> = HeapChunks, A: Access = Write> {
    /// Holds at least one data entry; the last one carries the end mark.
    chain: Chain<P::Page, C>,
    /// Entries of the DMA view: at most the chain's entries.
    nents: usize,
    provider: P,
    access: PhantomData<A>,
}

impl<P: PageProvider> SgTable<P> {
    /// A table of `nents` empty entries in page-sized arrays from the heap
    /// (the kernel's `sg_alloc_table`); the last one is end-marked.
    ///
    /// A table of 64 arrays or more (8003 entries and up) takes them all
    /// from one zeroed allocation ([`ChunkAllocator::alloc_block`]), laid
    /// out as separate arrays would be (16 bytes apart, as the heap leaves
    /// them), and gives it back whole: one
    /// allocator call instead of one per array, and memory the system has
    /// just mapped is not cleared again. Smaller tables take page-sized
    /// arrays, which the thread keeps a few of for the next table.
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] for 0 entries, [`Error::Overflow`] when the
    /// table could not fit in memory, and [`Error::OutOfMemory`] when an
    /// array cannot be had (every array taken is given back).
    ///
    /// Counts whose arrays the address space could not hold are refused
    /// before anything is allocated, and every array is allocated
    /// fallibly, so under a memory limit (`ulimit -v`) a count too large
    /// for it is `OutOfMemory`. Without a limit, an operating system that
    /// overcommits memory may end the process before an allocation fails:
    /// bound counts that come from untrusted input.
    #[doc(alias = "sg_alloc_table")]
    pub fn new(provider: P, nents: usize) -> Result<Self, Error> {
        Self::new_in(provider, nents, HeapChunks::new())
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> SgTable<P, C> {
    /// A table of `nents` empty entries in arrays from `chunks`, of at most
    /// `chunks.max_entries()` slots (the kernel's `sg_alloc_table` with a
    /// chosen allocator).
    ///
    /// # Errors
    ///
    /// As [`with_max_entries_in`](Self::with_max_entries_in).
    #[doc(alias = "sg_alloc_table")]
    pub fn new_in(provider: P, nents: usize, chunks: C) -> Result<Self, Error> {
        let max_entries = chunks.max_entries();
        Self::with_max_entries_in(provider, nents, max_entries, chunks)
    }

    /// A table of `nents` empty entries in arrays of at most `max_entries`
    /// slots (and at most `chunks.max_entries()`) from `chunks` (the
    /// kernel's `__sg_alloc_table`).
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] for 0 entries; [`Error::ChunkTooLarge`] when
    /// the arrays must be chained but hold fewer than 2 slots;
    /// [`Error::Overflow`] when the table could not fit in memory; what
    /// `chunks` returns when an array cannot be had (every array taken is
    /// given back).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{HeapChunks, VirtPages};
    ///
    /// let table = SgTable::with_max_entries_in(VirtPages::new(), 10, 4, HeapChunks::new())?;
    /// assert_eq!(table.arrays(), 3); // 3 + 3 + 4
    /// assert_eq!(table.as_list().count(), 10);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "__sg_alloc_table")]
    pub fn with_max_entries_in(
        provider: P,
        nents: usize,
        max_entries: usize,
        chunks: C,
    ) -> Result<Self, Error> {
        let chain = Chain::with_entries(chunks, nents, max_entries)?;
        // INVARIANT: empty entries claim nothing; the caller's `set_page`
        // calls make every claim.
        Ok(SgTable::from_chain(chain, provider))
    }

    /// An exclusive view of the table's data entries, for writing the bytes
    /// of its pages.
    #[inline]
    pub fn as_list_mut(&mut self) -> SgListMut<'_, P> {
        self.chain.list_mut(usize::MAX, &self.provider)
    }

    /// The data entries, in order, for setting their pages, lengths,
    /// offsets and DMA fields; chain links are never yielded.
    ///
    /// The table's [`byte_len`](Self::byte_len) follows every change.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{PageProvider, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0)?;
    /// let mut table = SgTable::new(&pages, 2)?;
    /// let mut entries = table.entries_mut();
    /// // SAFETY: bytes of the page allocated above, in no other list.
    /// unsafe {
    ///     entries.next().unwrap().set_page(page, 0, 100);
    ///     entries.next().unwrap().set_page(page, 200, 50);
    /// }
    /// assert_eq!(table.as_list().byte_len(), 150);
    /// # drop(table);
    /// # // SAFETY: allocated above with order 0; the table is gone.
    /// # unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[inline]
    pub fn entries_mut(&mut self) -> EntriesMut<'_, P::Page> {
        self.chain.entries_mut()
    }

    /// An exclusive view of the first `entries` data entries.
    pub(crate) fn prefix_mut(&mut self, entries: usize) -> SgListMut<'_, P> {
        self.chain.list_mut(entries, &self.provider)
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> SgTable<P, C, A> {
    /// The table around a chain of at least one data entry whose last
    /// entry is end-marked, whose entries' claims hold for `provider` with
    /// access `A` (the caller's part of the type invariants).
    pub(crate) fn from_chain(chain: Chain<P::Page, C>, provider: P) -> Self {
        debug_assert!(chain.entries() > 0 && chain.last().is_some_and(|last| last.is_last()));
        SgTable {
            nents: chain.entries(),
            chain,
            provider,
            access: PhantomData,
        }
    }

    /// The same table, read-only from now on: rights may always shrink.
    #[inline]
    pub fn into_read_only(self) -> SgTable<P, C, Read> {
        // INVARIANT: a read-only table promises less than a writable one.
        self.into_access()
    }

    /// The same table with access `B`; the caller makes sure the type
    /// invariants hold for `B` (always so for [`Read`]).
    pub(crate) fn into_access<B: Access>(self) -> SgTable<P, C, B> {
        let SgTable {
            chain,
            nents,
            provider,
            access: _,
        } = self;
        SgTable {
            chain,
            nents,
            provider,
            access: PhantomData,
        }
    }

    /// Gives up the table's arrays and returns its provider: for a table
    /// that owns its [`Pages`](sg_core::Pages), the pages, to reuse them.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{Pages, VirtPages};
    ///
    /// let table = SgTable::from_pages(Pages::alloc(VirtPages::new(), 1)?, 0, 5000)?;
    /// let pages = table.into_provider(); // the table is gone, the pages stay
    /// assert_eq!(pages.len(), 2);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[inline]
    pub fn into_provider(self) -> P {
        let SgTable {
            chain, provider, ..
        } = self;
        // The arrays go first: no view of them outlives the table.
        drop(chain);
        provider
    }

    /// Data entries as built (the kernel's `orig_nents`): what
    /// [`as_list`](Self::as_list) walks.
    #[inline]
    pub fn orig_nents(&self) -> usize {
        self.chain.entries()
    }

    /// Entries of the DMA view (the kernel's `nents`): equal to
    /// [`orig_nents`](Self::orig_nents) until a DMA mapper merges entries.
    #[inline]
    pub fn nents(&self) -> usize {
        self.nents
    }

    /// Sets the entries of the DMA view, for a DMA mapper that merged
    /// entries; at most [`orig_nents`](Self::orig_nents).
    pub(crate) fn set_nents(&mut self, nents: usize) {
        debug_assert!(nents <= self.orig_nents());
        self.nents = nents.min(self.orig_nents());
    }

    /// Total length in bytes of the data entries, kept up to date as
    /// entries change (FreeBSD's `sglist_length`, without a walk).
    #[doc(alias = "sglist_length")]
    #[inline]
    pub fn byte_len(&self) -> u64 {
        self.chain.byte_len()
    }

    /// Arrays of entries the table holds (a borrowed first array included).
    #[inline]
    pub fn arrays(&self) -> usize {
        self.chain.arrays()
    }

    /// The provider that maps the table's pages.
    #[inline]
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The allocator the table's arrays came from.
    #[inline]
    #[doc(alias = "chunks")]
    pub fn chunk_allocator(&self) -> &C {
        self.chain.chunk_allocator()
    }

    /// A view of the table's [`orig_nents`](Self::orig_nents) data entries,
    /// for iterating and copying (the kernel's `for_each_sgtable_sg`). It
    /// knows its byte length, so slicing it is cheap.
    #[doc(alias = "for_each_sgtable_sg")]
    #[inline]
    pub fn as_list(&self) -> SgList<'_, P> {
        self.chain.list(usize::MAX, &self.provider)
    }

    /// A view of the first [`nents`](Self::nents) entries, whose DMA fields
    /// a mapper filled (the kernel's `for_each_sgtable_dma_sg`); read them
    /// with [`SgList::dma_segments`].
    #[doc(alias = "for_each_sgtable_dma_sg")]
    #[inline]
    pub fn dma_list(&self) -> SgList<'_, P> {
        self.chain.list(self.nents, &self.provider)
    }

    /// Links the arrays of `other` after this table's, taking them over
    /// (see [`SgTable::join`]); the DMA view then covers every entry.
    ///
    /// The caller promises that `other`'s arrays may be given back to this
    /// table's allocator. On failure `other` comes back unchanged.
    pub(crate) fn append_arrays(&mut self, mut other: Self) -> Result<(), (Error, Self)> {
        match self.chain.join(&mut other.chain) {
            // `other` is dropped without arrays: its allocator and provider
            // go, its entries now live in this table.
            Ok(()) => {
                self.nents = self.chain.entries();
                Ok(())
            }
            Err(error) => Err((error, other)),
        }
    }

    /// The data entries for mapping them for DMA, and the provider beside
    /// them.
    pub(crate) fn dma_fields_and_provider(&mut self) -> (DmaFieldsMut<'_, P::Page>, &P) {
        (self.chain.dma_fields_mut(), &self.provider)
    }

    /// The data entries for writing, and the provider beside them.
    pub(crate) fn entries_mut_and_provider(&mut self) -> (EntriesMut<'_, P::Page>, &P) {
        (self.chain.entries_mut(), &self.provider)
    }

    /// A view of the first `entries` data entries.
    pub(crate) fn prefix(&self, entries: usize) -> SgList<'_, P> {
        self.chain.list(entries, &self.provider)
    }

    /// The data entries for writing their DMA fields (and, for builders in
    /// this crate, their pages).
    pub(crate) fn entries_mut_inner(&mut self) -> EntriesMut<'_, P::Page> {
        self.chain.entries_mut()
    }
}

impl<'a, P: PageProvider> SgTable<P, WithFirstChunk<'a, P::Page>> {
    /// A table of `nents` empty entries whose first array is `first`
    /// (the kernel's `__sg_alloc_table` with `first_chunk`); further arrays
    /// are page-sized and come from the heap.
    ///
    /// The table borrows `first` for its whole life and never frees it;
    /// when `nents` fits in `N` entries nothing is allocated.
    ///
    /// # Errors
    ///
    /// As [`with_first_chunk_in`](Self::with_first_chunk_in).
    #[doc(alias = "__sg_alloc_table")]
    #[doc(alias = "sg_alloc_table_chained")]
    pub fn with_first_chunk<const N: usize>(
        provider: P,
        nents: usize,
        first: &'a mut FirstChunk<P::Page, N>,
    ) -> Result<Self, Error> {
        Self::with_first_chunk_in(provider, nents, first, HeapChunks::new())
    }
}

impl<'a, P: PageProvider, C: ChunkAllocator<P::Page>> SgTable<P, WithFirstChunk<'a, P::Page, C>> {
    /// A table of `nents` empty entries whose first array is `first`, and
    /// whose further arrays come from `chunks` (the kernel's
    /// `__sg_alloc_table` with `first_chunk` and `nents_first_chunk = N`).
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] for 0 entries; [`Error::ChunkTooLarge`] when
    /// more arrays are needed and `chunks` serves fewer than 2 slots;
    /// [`Error::Overflow`] when the table could not fit in memory; what
    /// `chunks` returns when an array cannot be had (every array taken is
    /// given back, and `first` is free again).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::{ChunkPool, FirstChunk, SgTable};
    /// use sg_core::{VirtPage, VirtPages};
    ///
    /// let pool = ChunkPool::<VirtPage>::new(1)?;
    /// let mut first = FirstChunk::<_, 4>::new();
    /// let table = SgTable::with_first_chunk_in(VirtPages::new(), 100, &mut first, &pool)?;
    /// assert_eq!(table.arrays(), 2); // 3 entries and a link, then 97
    /// assert_eq!(pool.available(), 0);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "__sg_alloc_table")]
    pub fn with_first_chunk_in<const N: usize>(
        provider: P,
        nents: usize,
        first: &'a mut FirstChunk<P::Page, N>,
        chunks: C,
    ) -> Result<Self, Error> {
        let max_entries = chunks.max_entries();
        let chain = chain_with_first(first, nents, max_entries, chunks)?;
        Ok(SgTable::from_chain(chain, provider))
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> fmt::Debug for SgTable<P, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SgTable")
            .field("writes", &A::WRITES)
            .field("orig_nents", &self.orig_nents())
            .field("nents", &self.nents)
            .field("byte_len", &self.byte_len())
            .field("arrays", &self.arrays())
            .field("entries", &self.as_list())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sg_core::VirtPages;

    #[test]
    fn set_nents_limits_the_dma_view() {
        let mut table = SgTable::new(VirtPages::new(), 5).unwrap();
        assert_eq!(table.dma_list().count(), 5);
        table.set_nents(2);
        assert_eq!((table.nents(), table.orig_nents()), (2, 5));
        assert_eq!(table.dma_list().count(), 2);
        assert_eq!(table.as_list().count(), 5);
    }
}
