//! Two-step mapping: reserve a range of bus addresses (an IOVA range),
//! link runs into it one after another, make the links visible with one
//! IOTLB flush, and unlink them all with another.

use core::fmt;

use crate::{DmaDirection, DmaLimits, DmaMapper, DmaRun, Error, PageProvider};

/// A reserved range of bus addresses of an [`IovaMapper`] (the kernel's
/// `struct dma_iova_state`): `len` bytes from `start`, both multiples of
/// the provider's page size.
///
/// The range is a token: it is not `Clone`, and
/// [`IovaMapper::free`] takes it by value, so one reservation is freed
/// once. Keep it between requests (one per queue, as NVMe drivers do) to
/// map the next table into it without reserving again.
#[doc(alias = "dma_iova_state")]
#[derive(PartialEq, Eq, Hash)]
#[must_use = "a reserved range is given back with `IovaMapper::free`"]
pub struct IovaRange {
    start: u64,
    len: u64,
}

impl IovaRange {
    /// The token of a reservation of `len` bytes at bus address `start`:
    /// what an [`IovaMapper`]'s [`try_alloc`](IovaMapper::try_alloc)
    /// returns. Making one reserves nothing; the mapper's methods that
    /// take a range are `unsafe` and ask that it came from the mapper.
    pub const fn new(start: u64, len: u64) -> Self {
        IovaRange { start, len }
    }

    /// The bus address of the range's first byte.
    #[inline]
    pub const fn start(&self) -> u64 {
        self.start
    }

    /// Bytes in the range.
    #[inline]
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Whether the range holds no byte.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for IovaRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "IovaRange({:#x}..{:#x})",
            self.start,
            self.start.wrapping_add(self.len)
        )
    }
}

/// A [`DmaMapper`] that can reserve a range of bus addresses and link runs
/// into it (the kernel's two-step DMA API: `dma_iova_try_alloc`,
/// `dma_iova_link`, `dma_iova_sync`, `dma_iova_unlink`, `dma_iova_free`).
///
/// An IOMMU maps pages, not bytes: linking a run maps the whole pages
/// (of the provider's page size, which is the IOMMU's page here) that its
/// bytes touch, and a run keeps its offset in its first page. So runs
/// linked one after another, where each ends at a page's end and the next
/// starts at a page's start, give the device one contiguous range of bus
/// addresses. Links are not visible to the device until
/// [`sync`](Self::sync) flushes the IOTLB (once for all of them), and
/// [`unlink`](Self::unlink) takes any number of links away with one flush.
///
/// Mappers that cannot do this (a direct mapper, a bounce pool) do not
/// implement the trait and map run by run through [`DmaMapper`].
///
/// # For users
///
/// Map tables through sg-alloc's `SgTable::with_iova_mapping`, which
/// lays the runs out, links them, syncs once, and unlinks once when its
/// scope ends (also on an error and while a panic unwinds).
///
/// # Safety
///
/// Implementors promise that after a successful [`link`](Self::link) of a
/// run at `offset` into a range and a successful [`sync`](Self::sync)
/// covering it, the device reading or writing (as the direction allows)
/// the run's bytes at `range.start() + offset` reaches the run's bytes,
/// until [`unlink`](Self::unlink) covers it; that a range returned by
/// [`try_alloc`](Self::try_alloc) starts at a multiple of the provider's
/// page size and of `limits.alignment`, and lies at or below
/// `limits.highest_address`; and that a failed call leaves nothing linked
/// or reserved that was not before.
#[doc(alias = "dma_iova_state")]
pub unsafe trait IovaMapper<P: PageProvider>: DmaMapper<P> {
    /// Reserves at least `len` bytes of bus addresses (rounded up to whole
    /// pages) for a device with `limits` (the kernel's
    /// `dma_iova_try_alloc`).
    ///
    /// # Errors
    ///
    /// [`Error::MapFailed`] when no range is free, [`Error::Unreachable`]
    /// when none lies below the highest address, [`Error::InvalidLimits`].
    #[doc(alias = "dma_iova_try_alloc")]
    fn try_alloc(&self, len: u64, limits: &DmaLimits) -> Result<IovaRange, Error>;

    /// Links `run` into `range` so that its first byte is at
    /// `range.start() + offset` (the kernel's `dma_iova_link`). Nothing
    /// reaches the device before [`sync`](Self::sync).
    ///
    /// # Errors
    ///
    /// [`Error::MapFailed`] when the mapper fails; nothing is then linked.
    ///
    /// # Safety
    ///
    /// `range` came from this mapper's `try_alloc` and is not freed;
    /// `offset` has the run's offset in its page (`offset % PAGE_SIZE ==
    /// run.offset % PAGE_SIZE`) and the pages it touches in the range are
    /// linked to nothing else; the run is a claim an entry could make (as
    /// for [`DmaMapper::map`]), and its bytes stay valid until unlinked.
    #[doc(alias = "dma_iova_link")]
    unsafe fn link(
        &self,
        provider: &P,
        range: &IovaRange,
        offset: u64,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
    ) -> Result<(), Error>;

    /// Makes the links of `len` bytes from `offset` in `range` visible to
    /// the device: one IOTLB flush (the kernel's `dma_iova_sync`).
    ///
    /// # Errors
    ///
    /// [`Error::MapFailed`] when the flush fails; the links stay, and
    /// the caller unlinks them.
    ///
    /// # Safety
    ///
    /// `range` came from this mapper's `try_alloc` and is not freed.
    #[doc(alias = "dma_iova_sync")]
    unsafe fn sync(&self, range: &IovaRange, offset: u64, len: u64) -> Result<(), Error>;

    /// Unlinks every run linked in the `len` bytes from `offset` in
    /// `range`, with one IOTLB flush (the kernel's `dma_iova_unlink`); for
    /// a device that writes, its bytes reach the CPU by the time this
    /// returns. The range stays reserved.
    ///
    /// # Safety
    ///
    /// `range` came from this mapper's `try_alloc` and is not freed; the
    /// device no longer uses those addresses; no reference to the runs'
    /// bytes is live during the call; `direction` is the links'.
    #[doc(alias = "dma_iova_unlink")]
    unsafe fn unlink(
        &self,
        provider: &P,
        range: &IovaRange,
        offset: u64,
        len: u64,
        direction: DmaDirection,
    );

    /// Gives a reserved range back (the kernel's `dma_iova_free`).
    ///
    /// # Safety
    ///
    /// `range` came from this mapper's `try_alloc`, and nothing is linked
    /// in it.
    #[doc(alias = "dma_iova_free")]
    unsafe fn free(&self, range: IovaRange);
}

// SAFETY: every method forwards to `M`, which upholds the contract.
unsafe impl<P: PageProvider, M: IovaMapper<P> + ?Sized> IovaMapper<P> for &M {
    fn try_alloc(&self, len: u64, limits: &DmaLimits) -> Result<IovaRange, Error> {
        (**self).try_alloc(len, limits)
    }

    unsafe fn link(
        &self,
        provider: &P,
        range: &IovaRange,
        offset: u64,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
    ) -> Result<(), Error> {
        // SAFETY: the caller's promise is `M::link`'s.
        unsafe { (**self).link(provider, range, offset, run, direction) }
    }

    unsafe fn sync(&self, range: &IovaRange, offset: u64, len: u64) -> Result<(), Error> {
        // SAFETY: the caller's promise is `M::sync`'s.
        unsafe { (**self).sync(range, offset, len) }
    }

    unsafe fn unlink(
        &self,
        provider: &P,
        range: &IovaRange,
        offset: u64,
        len: u64,
        direction: DmaDirection,
    ) {
        // SAFETY: the caller's promise is `M::unlink`'s.
        unsafe { (**self).unlink(provider, range, offset, len, direction) }
    }

    unsafe fn free(&self, range: IovaRange) {
        // SAFETY: the caller's promise is `M::free`'s.
        unsafe { (**self).free(range) }
    }
}

#[cfg(test)]
mod tests {
    use super::IovaRange;

    #[test]
    fn a_range_reports_its_bounds() {
        let range = IovaRange::new(0x10_0000, 0x2000);
        assert_eq!(
            (range.start(), range.len(), range.is_empty()),
            (0x10_0000, 0x2000, false)
        );
        assert_eq!(alloc::format!("{range:?}"), "IovaRange(0x100000..0x102000)");
    }
}
