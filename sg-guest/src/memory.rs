//! Guest memory as regions: the [`GuestRegions`] trait a provider looks
//! addresses up in, and [`HeapGuestMemory`], a backend of heap-allocated
//! regions for tests (and for Miri, which cannot run `mmap`).

use core::fmt;
use core::ptr::NonNull;
use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::vec::Vec;

use sg_core::volatile::{copy_from_shared, copy_to_shared};

use crate::GuestError;

/// One region of guest memory: `len` bytes at guest address
/// `guest_start`, contiguous in the host from `host_start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// The guest address of the first byte.
    pub guest_start: u64,
    /// Bytes in the region, at least 1.
    pub len: u64,
    /// The host address of the first byte.
    pub host_start: NonNull<u8>,
}

impl Region {
    /// Whether `address` lies in the region.
    #[inline]
    pub fn contains(&self, address: u64) -> bool {
        address >= self.guest_start && address - self.guest_start < self.len
    }

    /// The host pointer for guest `address` (which may lie outside the
    /// region: the pointer is then only a name, made with wrapping
    /// arithmetic from the region's first byte).
    #[inline]
    pub fn host_address(&self, address: u64) -> *mut u8 {
        // Two's complement wrapping keeps addresses below the region
        // expressible; only pointers into it are ever used.
        self.host_start
            .as_ptr()
            .wrapping_add(address.wrapping_sub(self.guest_start) as usize)
    }
}

/// A virtual machine's memory as regions at guest addresses: what
/// [`GuestPages`](crate::GuestPages) looks addresses up in.
///
/// Implemented for [`HeapGuestMemory`], and with the `vm-memory` feature
/// for vm-memory's `GuestMemoryMmap` (without a dirty bitmap).
///
/// # Safety
///
/// For as long as the implementor is borrowed, the region
/// [`region`](Self::region) returns for an address contains it, its
/// `len` bytes from `host_start` are one allocation, valid for reads and
/// writes (others, such as the guest, may read and write them
/// concurrently: they are only reached with volatile accesses), and the
/// same address always gives the same region. Regions do not overlap.
pub unsafe trait GuestRegions {
    /// The region that holds guest `address`, or `None` for an address in
    /// a hole (outside every region).
    fn region(&self, address: u64) -> Option<Region>;
}

// SAFETY: forwards to `T`, whose promise holds while `&T` is borrowed.
unsafe impl<T: GuestRegions + ?Sized> GuestRegions for &T {
    #[inline]
    fn region(&self, address: u64) -> Option<Region> {
        (**self).region(address)
    }
}

/// Guest memory made of a few zeroed heap allocations at chosen guest
/// addresses: no `mmap`, so that Miri runs the guest-memory tests.
///
/// # Examples
///
/// ```
/// use sg_guest::HeapGuestMemory;
///
/// let memory = HeapGuestMemory::new(&[(0, 8192), (0x10000, 4096)])?;
/// memory.write(0x10010, b"guest")?;
/// let mut out = [0u8; 5];
/// memory.read(0x10010, &mut out)?;
/// assert_eq!(&out, b"guest");
/// assert!(memory.read(0x3000, &mut out).is_err()); // a hole
/// # Ok::<(), sg_guest::GuestError>(())
/// ```
pub struct HeapGuestMemory {
    /// Sorted by guest address, not overlapping; each owns its allocation
    /// (a zeroed `Layout::from_size_align(len, 4096)` block).
    regions: Vec<Region>,
}

impl HeapGuestMemory {
    /// Alignment of every region's host memory: a page.
    const ALIGN: usize = 4096;

    /// Allocates zeroed regions of `(guest address, bytes)`.
    ///
    /// # Errors
    ///
    /// [`GuestError::BadRegion`] for a region of 0 bytes, one that
    /// overlaps another or ends past `u64::MAX`, or that cannot be
    /// allocated.
    pub fn new(regions: &[(u64, usize)]) -> Result<Self, GuestError> {
        let mut memory = HeapGuestMemory {
            regions: Vec::with_capacity(regions.len()),
        };
        for &(guest_start, len) in regions {
            let bad = GuestError::BadRegion {
                address: guest_start,
            };
            if len == 0 || guest_start.checked_add(len as u64).is_none() {
                return Err(bad);
            }
            let layout = Layout::from_size_align(len, Self::ALIGN).map_err(|_| bad.clone())?;
            // SAFETY: `layout` has a non-zero size.
            let host_start = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(bad)?;
            // Pushed at once, so that `Drop` frees it whatever happens next.
            memory.regions.push(Region {
                guest_start,
                len: len as u64,
                host_start,
            });
        }
        memory.regions.sort_by_key(|region| region.guest_start);
        for pair in memory.regions.windows(2) {
            if pair[0].guest_start + pair[0].len > pair[1].guest_start {
                return Err(GuestError::BadRegion {
                    address: pair[1].guest_start,
                });
            }
        }
        Ok(memory)
    }

    /// The regions, sorted by guest address.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Calls `copy` with each piece of the `len` bytes at guest `address`
    /// (a host pointer and its length), region by region.
    fn pieces(
        &self,
        address: u64,
        len: usize,
        mut copy: impl FnMut(*mut u8, usize, usize),
    ) -> Result<(), GuestError> {
        let mut done = 0;
        while done < len {
            let at = address
                .checked_add(done as u64)
                .ok_or(GuestError::Hole { address })?;
            let region = self.region(at).ok_or(GuestError::Hole { address: at })?;
            let left = region.guest_start + region.len - at;
            let count = (len - done).min(usize::try_from(left).unwrap_or(usize::MAX));
            copy(region.host_address(at), count, done);
            done += count;
        }
        Ok(())
    }

    /// Reads `buffer.len()` bytes at guest `address` (across regions that
    /// meet), with volatile reads: the oracle of the tests, as vm-memory's
    /// `read_slice`.
    ///
    /// # Errors
    ///
    /// [`GuestError::Hole`] when a byte lies outside every region (the
    /// bytes before it are read).
    pub fn read(&self, address: u64, buffer: &mut [u8]) -> Result<(), GuestError> {
        self.pieces(address, buffer.len(), |host, count, done| {
            // SAFETY: `count` bytes from `host` lie in one region (valid
            // for reads), and `buffer` is private.
            unsafe { copy_from_shared(host, &mut buffer[done..done + count]) };
        })
    }

    /// Writes `buffer` at guest `address`, with volatile writes.
    ///
    /// # Errors
    ///
    /// [`GuestError::Hole`] as for [`read`](Self::read).
    pub fn write(&self, address: u64, buffer: &[u8]) -> Result<(), GuestError> {
        self.pieces(address, buffer.len(), |host, count, done| {
            // SAFETY: as in `read`, for writes.
            unsafe { copy_to_shared(&buffer[done..done + count], host) };
        })
    }
}

impl Drop for HeapGuestMemory {
    fn drop(&mut self) {
        for region in &self.regions {
            // Made from the same size and alignment in `new`.
            let layout = Layout::from_size_align(region.len as usize, Self::ALIGN)
                .expect("the layout of an allocated region");
            // SAFETY: allocated in `new` with this layout, freed once; the
            // memory is borrowed by nothing once it drops.
            unsafe { dealloc(region.host_start.as_ptr(), layout) };
        }
    }
}

// SAFETY: regions are sorted, disjoint allocations owned until drop; the
// lookup returns the one containing the address.
unsafe impl GuestRegions for HeapGuestMemory {
    #[inline]
    fn region(&self, address: u64) -> Option<Region> {
        let index = self
            .regions
            .partition_point(|region| region.guest_start <= address)
            .checked_sub(1)?;
        let region = self.regions[index];
        region.contains(address).then_some(region)
    }
}

impl fmt::Debug for HeapGuestMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for region in &self.regions {
            list.entry(&format_args!(
                "{:#x}..{:#x}",
                region.guest_start,
                region.guest_start + region.len
            ));
        }
        list.finish()
    }
}
