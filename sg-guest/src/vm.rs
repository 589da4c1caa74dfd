//! [`GuestRegions`] for vm-memory's `GuestMemoryMmap`.

use core::ptr::NonNull;

use vm_memory::{
    GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, MemoryRegionAddress,
};

use crate::{GuestRegions, Region};

/// `PROT_READ | PROT_WRITE`, the same on every unix vm-memory maps for.
const READ_WRITE: i32 = 1 | 2;

// SAFETY: a `GuestMemoryMmap` owns its regions' mappings (each an `mmap`
// of `len()` bytes, one piece of host memory) until it drops, and its
// regions do not overlap; `find_region` returns the one holding the
// address. A region not mapped for both reading and writing is answered
// as a hole, so that every region returned is valid for both. Only the
// dirty-bitmap-free form (`()`) is covered: writes through a table do not
// mark a bitmap.
unsafe impl GuestRegions for GuestMemoryMmap<()> {
    #[inline]
    fn region(&self, address: u64) -> Option<Region> {
        let region = self.find_region(GuestAddress(address))?;
        if region.prot() & READ_WRITE != READ_WRITE {
            return None;
        }
        let host_start = region.get_host_address(MemoryRegionAddress(0)).ok()?;
        Some(Region {
            guest_start: region.start_addr().0,
            len: region.len(),
            host_start: NonNull::new(host_start)?,
        })
    }
}
