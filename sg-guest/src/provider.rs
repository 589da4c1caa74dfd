//! [`GuestPages`]: guest memory as a shared, linear page provider.

use core::fmt;
use core::ptr::NonNull;

use sg_core::{Error, PageProvider};

use crate::GuestRegions;

/// Bytes in a guest page.
pub const GUEST_PAGE_SIZE: usize = 4096;

/// A page provider over guest memory: page handles are guest frame
/// numbers (guest address / 4096), frames of one region are one run
/// (merged as a linear provider's), and the memory is shared with the
/// guest ([`PageProvider::SHARED`]), so sg-copy reaches it with volatile
/// copies only, and the slice-lending APIs refuse it.
///
/// A frame outside every region (in a hole) cannot be mapped:
/// [`try_map`](PageProvider::try_map) returns
/// [`Error::OutsideMemory`], and the infallible `map` panics (the
/// library's shared-memory paths call `try_map` only). The builder of
/// [`ChainTable`](crate::ChainTable) refuses such addresses before any
/// table exists.
///
/// # Examples
///
/// ```
/// use sg_core::{Error, PageProvider};
/// use sg_guest::{GuestPages, HeapGuestMemory};
///
/// let memory = HeapGuestMemory::new(&[(0, 8192), (0x100000, 4096)])?;
/// let guest = GuestPages::new(&memory);
/// assert!(guest.try_map(1).is_ok());
/// assert_eq!(guest.try_map(2), Err(Error::OutsideMemory { frame: 2 }));
/// assert!(guest.is_next(0, 1, 1)); // one region: one run
/// assert!(!guest.is_next(1, 1, 2)); // into the hole
/// # Ok::<(), sg_guest::GuestError>(())
/// ```
#[doc(alias = "GuestMemory")]
pub struct GuestPages<M: GuestRegions> {
    memory: M,
}

impl<M: GuestRegions> GuestPages<M> {
    /// A provider over `memory` (owned, or a reference: `&M` is
    /// [`GuestRegions`] too).
    pub fn new(memory: M) -> Self {
        GuestPages { memory }
    }

    /// The guest memory.
    pub fn memory(&self) -> &M {
        &self.memory
    }
}

impl<M: GuestRegions + fmt::Debug> fmt::Debug for GuestPages<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuestPages")
            .field("memory", &self.memory)
            .finish()
    }
}

/// The guest address of frame `frame`, or `None` past `u64::MAX`.
#[inline]
fn frame_address(frame: u64) -> Option<u64> {
    frame.checked_mul(GUEST_PAGE_SIZE as u64)
}

// SAFETY: page size 4096. `try_map(frame)` points at the frame's first
// byte in the host memory of the region holding that byte (it never
// returns a pointer for a frame in a hole); the region's promise
// (`GuestRegions`) makes its bytes valid while the provider, which
// borrows or owns the memory, lives. Frame numbers are guest frame
// numbers, so `nth` is addition. `is_next` joins frames only inside one
// region, whose host memory is contiguous, so `map(nth(a, k))` is
// `map(a) + k * 4096` there and one pointer reaches the run: the linear
// contract. Nothing is allocated or freed. The memory is shared: `SHARED`.
unsafe impl<M: GuestRegions> PageProvider for GuestPages<M> {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = GUEST_PAGE_SIZE;
    const SHARED: bool = true;

    #[inline]
    fn pfn(&self, page: u64) -> u64 {
        page
    }

    #[inline]
    fn nth(&self, page: u64, n: usize) -> u64 {
        page.wrapping_add(n as u64)
    }

    #[inline]
    fn map(&self, page: u64) -> NonNull<u8> {
        match self.try_map(page) {
            Ok(mapping) => mapping,
            Err(error) => panic!("{error}"),
        }
    }

    #[inline]
    fn try_map(&self, page: u64) -> Result<NonNull<u8>, Error> {
        let outside = Error::OutsideMemory { frame: page };
        let address = frame_address(page).ok_or(outside)?;
        let region = self.memory.region(address).ok_or(outside)?;
        NonNull::new(region.host_address(address)).ok_or(outside)
    }

    #[inline]
    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}

    #[inline]
    fn is_linear(&self) -> bool {
        true
    }

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        Err(Error::PagesUnavailable { order }) // borrows guest memory, never allocates
    }

    unsafe fn free_pages(&self, _page: u64, _order: u32) {}

    #[inline]
    fn is_next(&self, first: u64, run_pages: usize, next: u64) -> bool {
        if first.checked_add(run_pages as u64) != Some(next) {
            return false;
        }
        let (Some(start), Some(end)) = (frame_address(first), frame_address(next)) else {
            return false;
        };
        match self.memory.region(start) {
            Some(region) => region.contains(end),
            None => false,
        }
    }
}
