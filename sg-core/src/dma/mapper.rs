//! `DmaRun` and the `DmaMapper` trait: runs of pages in, bus addresses out.

use num_traits::ToPrimitive;

use crate::{DmaDirection, DmaLimits, Error, PageProvider};

/// A contiguous run of a provider's bytes: `len` bytes starting `offset`
/// bytes after the start of `page`, the pages after it being consecutive
/// frames (the bytes of one entry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DmaRun<Pg> {
    /// The first page of the run.
    pub page: Pg,
    /// Offset of the first byte from the start of `page`; may be a page or
    /// more.
    pub offset: u64,
    /// Bytes in the run.
    pub len: u32,
}

impl<Pg: Copy> DmaRun<Pg> {
    /// The physical address of the run's first byte: its page's frame
    /// number times the page size, plus the offset (the kernel's
    /// `sg_phys`); `None` when it does not fit a `u64`.
    ///
    /// ```
    /// use sg_core::{DmaRun, PageProvider, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(1)?;
    /// let run = DmaRun { page, offset: 4100, len: 8 };
    /// assert_eq!(run.phys(&pages), Some(page.addr() as u64 + 4100));
    /// # // SAFETY: allocated above with order 1, in no list.
    /// # unsafe { pages.free_pages(page, 1) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_phys")]
    pub fn phys<P>(&self, provider: &P) -> Option<u64>
    where
        P: PageProvider<Page = Pg> + ?Sized,
    {
        provider
            .pfn(self.page)
            .to_u64()?
            .checked_mul(P::PAGE_SIZE as u64)?
            .checked_add(self.offset)
    }
}

/// A live mapping as a mapper's [`map`](DmaMapper::map) made it: the run,
/// the bus address `map` returned for it and the direction it was mapped
/// for. [`unmap`](DmaMapper::unmap) and the syncs take it back.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DmaMapping<Pg> {
    /// The run that was mapped.
    pub run: DmaRun<Pg>,
    /// The bus address `map` returned for the run.
    pub bus_address: u64,
    /// The direction the run was mapped for.
    pub direction: DmaDirection,
}

/// Turns runs of a provider's pages into bus addresses a device can use,
/// and back (the kernel's `dma_map_ops`: `map_page`, `unmap_page`,
/// `sync_single_for_cpu`, `sync_single_for_device`).
///
/// sg-alloc maps whole tables through a mapper, merging neighbouring
/// entries whose bus addresses are contiguous (see
/// [`DmaLimits::merges`]), and ships a direct mapper (bus address =
/// physical address) and a bounce mapper (swiotlb); sg-testkit ships an
/// IOMMU mock.
///
/// # For users
///
/// Map through a table's mapping guard (sg-alloc's `SgTable::map_dma`)
/// rather than calling a mapper directly: the guard pairs every map with
/// one unmap and makes the sync calls explicit.
///
/// A mapper may copy the run's bytes (a bounce buffer): it reads them in
/// [`map`](Self::map) and [`sync_for_device`](Self::sync_for_device), and
/// writes them in [`sync_for_cpu`](Self::sync_for_cpu) and
/// [`unmap`](Self::unmap). The workspace's rule for pages named by two
/// lists applies: do not write a run's bytes through another list while a
/// mapper reads them.
///
/// # Safety
///
/// Implementors promise that a successful [`map`](Self::map) returns a bus
/// address such that the device, reading or writing `run.len` bytes there
/// (as the direction allows), reaches the run's bytes (directly, or through
/// a copy kept in step by the sync and unmap calls as the direction asks),
/// that the range lies at or below `limits.highest_address` and starts at a
/// multiple of `limits.alignment`, and that the address stays valid for the
/// device until [`unmap`](Self::unmap) is called for it. A failed `map`
/// leaves nothing mapped.
pub unsafe trait DmaMapper<P: PageProvider> {
    /// Maps a run for `direction` and returns the bus address of its first
    /// byte (the kernel's `dma_map_page`).
    ///
    /// # Errors
    ///
    /// [`Error::MapFailed`] (with index 0: callers that map a list fill in
    /// the entry's index), [`Error::Unreachable`] when the device cannot
    /// reach the run and nothing can help, [`Error::Misaligned`] when it
    /// cannot be placed at an aligned bus address,
    /// [`Error::BouncePoolExhausted`] when a bounce buffer is needed and
    /// none is free, [`Error::InvalidLimits`] for limits that
    /// [`DmaLimits::validate`] refuses.
    ///
    /// # Safety
    ///
    /// The run is a claim an entry could make (the contract of
    /// [`SgEntry::set_page`](crate::SgEntry::set_page)): its bytes are
    /// initialised bytes of pages `provider` holds valid, and nothing
    /// writes them during the call (a mapper that bounces reads them). The
    /// runs of a list's entries are such claims.
    #[doc(alias = "dma_map_page")]
    unsafe fn map(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error>;

    /// Releases a mapping (the kernel's `dma_unmap_page`); for a device
    /// that writes, its bytes reach the CPU by the time this returns.
    ///
    /// # Safety
    ///
    /// `mapping` is a run this mapper's `map` mapped for the same provider
    /// and direction, with the bus address `map` returned, and not yet
    /// unmapped; the device no longer uses it; no reference to the run's bytes is live and
    /// nothing else reads or writes them during the call (a mapper that
    /// bounces writes them).
    #[doc(alias = "dma_unmap_page")]
    unsafe fn unmap(&self, provider: &P, mapping: DmaMapping<P::Page>);

    /// Makes the device's writes visible to the CPU (the kernel's
    /// `dma_sync_single_for_cpu`).
    ///
    /// # Safety
    ///
    /// As for [`unmap`](Self::unmap), except that the mapping stays.
    #[doc(alias = "dma_sync_single_for_cpu")]
    unsafe fn sync_for_cpu(&self, provider: &P, mapping: DmaMapping<P::Page>);

    /// Makes the CPU's writes visible to the device (the kernel's
    /// `dma_sync_single_for_device`).
    ///
    /// # Safety
    ///
    /// As for [`unmap`](Self::unmap), except that the mapping stays and the
    /// run's bytes are only read: shared references to them may be live,
    /// but nothing writes them during the call.
    #[doc(alias = "dma_sync_single_for_device")]
    unsafe fn sync_for_device(&self, provider: &P, mapping: DmaMapping<P::Page>);
}

/// The three methods that take a mapping back (`unmap` and the syncs)
/// share one signature; each forwards to `M`'s method of the same name.
macro_rules! forward_release_and_syncs {
    ($($method:ident),*) => {$(
        unsafe fn $method(&self, provider: &P, mapping: DmaMapping<P::Page>) {
            // SAFETY: the caller's promise is the one `M`'s method of the
            // same name needs.
            unsafe { (**self).$method(provider, mapping) }
        }
    )*};
}

// SAFETY: every method forwards to `M`, which upholds the contract.
unsafe impl<P: PageProvider, M: DmaMapper<P> + ?Sized> DmaMapper<P> for &M {
    unsafe fn map(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        // SAFETY: the caller's promise is `M::map`'s.
        unsafe { (**self).map(provider, run, direction, limits) }
    }

    forward_release_and_syncs!(unmap, sync_for_cpu, sync_for_device);
}
