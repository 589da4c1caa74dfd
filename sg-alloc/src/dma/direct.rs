//! `DirectMapper`: the bus address of a run is its physical address.

use sg_core::{DmaDirection, DmaLimits, DmaMapper, DmaMapping, DmaRun, Error, PageProvider};

/// A mapper for a device that reaches memory at its physical address, with
/// no IOMMU in between and coherent caches (the kernel's `dma-direct`
/// without swiotlb): the bus address of a run is its page's frame number
/// times the page size, plus its offset ([`DmaRun::phys`]).
///
/// It maps nothing and keeps nothing: unmapping and syncing do nothing. A
/// run it cannot give the device is refused: [`Error::Unreachable`] when a
/// byte lies above the device's highest address, [`Error::Misaligned`]
/// when its start is not a multiple of the alignment. Put a
/// [`BounceMapper`](crate::BounceMapper) over it to copy such runs through
/// memory the device reaches instead.
///
/// Neighbouring entries merge into one segment when they are physically
/// contiguous, so a table built for the device with
/// [`FromPages::limits`](crate::FromPages::limits)
/// maps with it whenever its pages are reachable and aligned, and the
/// mapping's `nents` is what
/// [`SgList::count_dma_segments`](sg_core::SgList::count_dma_segments)
/// says.
///
/// # Examples
///
/// ```
/// use sg_alloc::{DirectMapper, SgTable};
/// use sg_core::{DmaDirection, DmaLimits, Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 1)?; // two contiguous pages
/// let run = pages.handles()[0];
/// let table = SgTable::from_pages(pages, 0, 8192)?;
/// // SAFETY: no device is given the addresses; they are only read below.
/// let direct = unsafe { DirectMapper::new() };
/// let mapped = table.map_dma(direct, DmaDirection::ToDevice, &DmaLimits::unlimited())?;
/// let segments: Vec<(u64, u32)> = mapped.segments().collect();
/// assert_eq!(segments, [(run.addr() as u64, 8192)]);
/// let table = mapped.unmap();
/// drop(table); // gives the pages back
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "dma_direct_map_page")]
#[doc(alias = "dma_direct_map_sg")]
#[doc(alias = "dma-direct")]
#[derive(Clone, Copy, Debug)]
pub struct DirectMapper {
    _promised: (),
}

impl DirectMapper {
    /// The direct mapper.
    ///
    /// # Safety
    ///
    /// For every provider whose pages it maps, the device reaches the byte
    /// `k` bytes into the page of frame number `f` at bus address
    /// `f * PAGE_SIZE + k` (frame numbers are the bus's: no IOMMU, or an
    /// identity one, and no offset between CPU and bus addresses), and the
    /// memory is coherent with the device, since syncing does nothing.
    /// Holds trivially when no device is ever given the addresses (tests,
    /// printing them).
    pub const unsafe fn new() -> Self {
        DirectMapper { _promised: () }
    }
}

// SAFETY: the bus address is the physical address, which the constructor's
// promise makes the device reach, coherently, for as long as the pages
// exist (the caller of `map` vouches for them until `unmap`); a run that
// ends above the highest address or starts misaligned is refused; nothing
// is kept, so a failed `map` leaves nothing mapped.
unsafe impl<P: PageProvider> DmaMapper<P> for DirectMapper {
    unsafe fn map(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        _direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        limits.validate()?;
        let address = run.phys(provider).ok_or(Error::Overflow {
            what: "physical address",
        })?;
        if address % limits.alignment() != 0 {
            return Err(Error::Misaligned {
                address,
                alignment: limits.alignment(),
            });
        }
        let highest = limits.highest_address();
        let last = address.checked_add(u64::from(run.len.max(1)) - 1);
        if last.is_none_or(|last| last > highest) {
            return Err(Error::Unreachable {
                address: address.max(highest.saturating_add(1)),
                highest,
            });
        }
        Ok(address)
    }

    unsafe fn unmap(&self, _: &P, _: DmaMapping<P::Page>) {}

    unsafe fn sync_for_cpu(&self, _: &P, _: DmaMapping<P::Page>) {}

    unsafe fn sync_for_device(&self, _: &P, _: DmaMapping<P::Page>) {}
}
