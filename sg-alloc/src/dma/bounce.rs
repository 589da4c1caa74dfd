//! `BounceMapper`: runs the device cannot take where they are go through a
//! pool of memory it reaches (the kernel's swiotlb).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;

use sg_core::{DmaDirection, DmaLimits, DmaMapper, DmaMapping, DmaRun, Error, PageProvider};

use super::bounce_pool::{BounceStats, Pool, ReleaseSlot};
use super::cpu_bytes::write_run;

/// A mapper that copies the runs a device cannot take where they are
/// through a pool of memory it can (the kernel's swiotlb, FreeBSD's
/// `bus_dma` bounce pages), over any other mapper.
///
/// Each run is first given to the inner mapper; when it refuses with
/// [`Error::Unreachable`] (a page above the device's highest address) or
/// [`Error::Misaligned`] (a start the device cannot take), the run gets a
/// slot of the pool instead, placed so that the device takes it (aligned,
/// within no boundary, below its highest address), and its bytes are
/// copied as the direction asks, and only then:
///
/// | direction | CPU → pool | pool → CPU |
/// |---|---|---|
/// | [`ToDevice`](DmaDirection::ToDevice) | map, sync for device | never |
/// | [`FromDevice`](DmaDirection::FromDevice) | never | sync for CPU, unmap |
/// | [`Bidirectional`](DmaDirection::Bidirectional) | map, sync for device | sync for CPU, unmap |
///
/// A slot for a device that only writes is zeroed at map time, so the
/// device never sees what an earlier mapping left there; bytes the device
/// does not write read back as zeros at sync-for-CPU and unmap time.
/// [`stats`](Self::stats) counts the copies per direction.
///
/// The pool has a fixed size; a run that does not fit in what is free is
/// refused with [`Error::BouncePoolExhausted`] (mapping a table then
/// unmaps what it mapped). Slots are placed first-fit; bookkeeping
/// allocates a little per live slot.
///
/// [`device_read`](Self::device_read) and
/// [`device_write`](Self::device_write) reach the pool as the device does,
/// by bus address: for tests, and for software devices (a VMM's device
/// model).
///
/// The mapper is `Send` but not `Sync`: one thread maps through it at a
/// time.
///
/// # Examples
///
/// A device that reaches only the first 4 GiB, and a page above them:
///
/// ```
/// use sg_alloc::{BounceMapper, DirectMapper, SgTable};
/// use sg_core::{DmaDirection, DmaLimits, Pages};
/// use sg_testkit::MockPages;
///
/// let mock = MockPages::<4096>::new();
/// let high = mock.add_pages([(1 << 32) / 4096 + 5]); // above 4 GiB
/// mock.write(high[0], 0, b"to the device");
/// // SAFETY: a page the mock holds, which nothing else uses while the set
/// // lives.
/// let pages = unsafe { Pages::from_raw(&mock, &high[..]) };
/// let mut table = SgTable::from_pages(pages, 0, 13)?;
///
/// // SAFETY: no device is given the addresses: the test reads the pool
/// // through `device_read`.
/// let bounce = unsafe { BounceMapper::with_pool_size(DirectMapper::new(), 64 * 1024, 0x1000_0000)? };
/// let device = DmaLimits::new().with_highest_address(u64::from(u32::MAX));
/// let seen = table.with_dma_mapping(&bounce, DmaDirection::ToDevice, &device, |mapped| {
///     let (address, length) = mapped.segments().next().unwrap();
///     assert!(address < 1 << 32);
///     let mut seen = vec![0; length as usize];
///     assert!(bounce.device_read(address, &mut seen));
///     seen
/// })?; // unmapped here
/// assert_eq!(seen, b"to the device");
/// assert_eq!(bounce.stats().from_device_copies, 0);
/// assert_eq!(bounce.live_slots(), 0);
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "swiotlb")]
#[doc(alias = "io_tlb_mem")]
#[doc(alias = "swiotlb_tbl_map_single")]
#[doc(alias = "bounce_buffer")]
pub struct BounceMapper<M, S = Box<[u8]>> {
    inner: M,
    /// Bus address of the pool's first byte.
    bus_address: u64,
    pool: RefCell<Pool<S>>,
}

impl<M> BounceMapper<M> {
    /// A bounce mapper over `inner` with a pool of `size` zeroed bytes on
    /// the heap, which the device reaches at `bus_address`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new), and [`Error::OutOfMemory`] when the pool
    /// cannot be allocated.
    ///
    /// # Safety
    ///
    /// As [`new`](Self::new) for the allocated pool: only usable as such
    /// where the device reaches heap memory at a known bus address (a
    /// software device, a test, or a system where `bus_address` is where
    /// the device sees this allocation).
    pub unsafe fn with_pool_size(inner: M, size: usize, bus_address: u64) -> Result<Self, Error> {
        let mut memory = Vec::new();
        memory
            .try_reserve_exact(size)
            .map_err(|_| Error::OutOfMemory)?;
        memory.resize(size, 0);
        // SAFETY: the caller's promise is `new`'s for this memory.
        unsafe { Self::new(inner, memory.into_boxed_slice(), bus_address) }
    }
}

impl<M, S: AsRef<[u8]> + AsMut<[u8]>> BounceMapper<M, S> {
    /// A bounce mapper over `inner` whose pool is `memory`, which the
    /// device reaches at `bus_address`.
    ///
    /// # Errors
    ///
    /// [`Error::ZeroLength`] for an empty pool, [`Error::Overflow`] when
    /// the pool's bus range does not fit a `u64`.
    ///
    /// # Safety
    ///
    /// For as long as the mapper exists, the device reaches byte `k` of
    /// `memory` at bus address `bus_address + k`; `memory.as_mut()` and
    /// `memory.as_ref()` always give the same bytes; and the inner mapper
    /// never returns an address inside the pool's bus range.
    pub unsafe fn new(inner: M, mut memory: S, bus_address: u64) -> Result<Self, Error> {
        let size = memory.as_mut().len();
        if size == 0 {
            return Err(Error::ZeroLength);
        }
        if bus_address.checked_add(size as u64 - 1).is_none() {
            return Err(Error::Overflow {
                what: "bounce pool bus range",
            });
        }
        Ok(BounceMapper {
            inner,
            bus_address,
            pool: RefCell::new(Pool::new(memory, size)),
        })
    }

    /// The mapper runs are first given to.
    pub fn inner(&self) -> &M {
        &self.inner
    }

    /// The bus address of the pool's first byte.
    pub fn bus_address(&self) -> u64 {
        self.bus_address
    }

    /// Bytes in the pool.
    pub fn pool_size(&self) -> usize {
        self.pool.borrow().size
    }

    /// Bytes of the pool no live mapping holds.
    pub fn free_bytes(&self) -> usize {
        let pool = self.pool.borrow();
        pool.size - pool.used
    }

    /// Mappings that hold a slot of the pool now.
    pub fn live_slots(&self) -> usize {
        self.pool.borrow().live.len()
    }

    /// What was bounced and copied so far.
    pub fn stats(&self) -> BounceStats {
        self.pool.borrow().stats
    }

    /// Starts counting again from zero.
    pub fn reset_stats(&self) {
        self.pool.borrow_mut().stats = BounceStats::default();
    }

    /// Whether `bus_address` is the start of a live slot: a run mapped
    /// through the pool.
    pub fn is_bounced(&self, bus_address: u64) -> bool {
        self.slot_at(bus_address).is_some()
    }

    /// Reads the pool as the device does: `out.len()` bytes at
    /// `bus_address`. Returns `false`, reading nothing, when they are not
    /// all in the pool.
    pub fn device_read(&self, bus_address: u64, out: &mut [u8]) -> bool {
        let mut pool = self.pool.borrow_mut();
        match self.pool_range(&pool, bus_address, out.len()) {
            Some(offset) => {
                out.copy_from_slice(pool.slot(offset, out.len()));
                true
            }
            None => false,
        }
    }

    /// Writes the pool as the device does: `bytes` at `bus_address`.
    /// Returns `false`, writing nothing, when they do not all fit in the
    /// pool.
    pub fn device_write(&self, bus_address: u64, bytes: &[u8]) -> bool {
        let mut pool = self.pool.borrow_mut();
        match self.pool_range(&pool, bus_address, bytes.len()) {
            Some(offset) => {
                pool.slot(offset, bytes.len()).copy_from_slice(bytes);
                true
            }
            None => false,
        }
    }

    /// The pool offset of `len` bytes at `bus_address`, if they are all in
    /// the pool.
    fn pool_range(&self, pool: &Pool<S>, bus_address: u64, len: usize) -> Option<usize> {
        let offset = usize::try_from(bus_address.checked_sub(self.bus_address)?).ok()?;
        (offset.checked_add(len)? <= pool.size).then_some(offset)
    }

    /// The offset and length of the live slot that starts at
    /// `bus_address`.
    fn slot_at(&self, bus_address: u64) -> Option<(usize, usize)> {
        let pool = self.pool.borrow();
        let offset = self.pool_range(&pool, bus_address, 0)?;
        pool.live.get(&offset).map(|&len| (offset, len))
    }

    /// Maps `run` through a new slot of the pool.
    ///
    /// # Safety
    ///
    /// As for [`DmaMapper::map`].
    unsafe fn bounce<P: PageProvider>(
        &self,
        provider: &P,
        run: &DmaRun<P::Page>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        let len = run.len as usize;
        let mut pool = self.pool.borrow_mut();
        // A slot holds at least one byte, so that slots never share a start.
        let offset = pool.place(self.bus_address, len.max(1), limits)?;
        // Fill the slot before reserving it: if the provider panics while
        // the run is copied in, nothing stays reserved (the pool's borrow
        // keeps the slot free of anyone else meanwhile).
        if direction.to_device() {
            // SAFETY: the caller's promise is `copy_in`'s.
            unsafe { pool.copy_in(provider, run, offset) };
        } else {
            pool.slot(offset, len).fill(0);
        }
        pool.live.insert(offset, len.max(1));
        pool.used += len.max(1);
        pool.stats.bounced += 1;
        Ok(self.bus_address + offset as u64)
    }

    /// Copies the slot at `offset` back over the run's bytes.
    ///
    /// # Safety
    ///
    /// The run is the one the slot was mapped for, no reference to its
    /// bytes is live and nothing else touches them during the call.
    unsafe fn copy_back<P: PageProvider>(
        &self,
        provider: &P,
        run: &DmaRun<P::Page>,
        offset: usize,
    ) {
        let len = run.len as usize;
        let mut pool = self.pool.borrow_mut();
        // SAFETY: the caller's promise is `write_run`'s.
        unsafe { write_run(provider, run, pool.slot(offset, len)) };
        pool.stats.from_device_copies += 1;
        pool.stats.from_device_bytes += len as u64;
    }
}

// SAFETY: an address from the inner mapper carries its promise (the caller's
// promises are passed on to it unchanged). A pool address: the constructor's
// promise makes the device reach pool byte k at `bus_address + k`; `place`
// puts the slot where the limits allow (aligned, crossing no boundary when
// the run fits a window, at or below the highest address); the slot holds
// the run's length and is kept in step with the run's bytes as the
// direction asks (copied in at map and sync-for-device when the device
// reads, copied back at sync-for-CPU and unmap when it writes); it stays
// reserved until `unmap`. A failed `map` leaves nothing mapped: the inner
// mapper's failure leaves nothing, and a failed placement reserves nothing.
unsafe impl<P, M, S> DmaMapper<P> for BounceMapper<M, S>
where
    P: PageProvider,
    M: DmaMapper<P>,
    S: AsRef<[u8]> + AsMut<[u8]>,
{
    unsafe fn map(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        limits.validate()?;
        // SAFETY: the caller's promise is `M::map`'s.
        match unsafe { self.inner.map(provider, run, direction, limits) } {
            Err(Error::Unreachable { .. } | Error::Misaligned { .. }) => {
                // SAFETY: the caller's promise is `bounce`'s.
                unsafe { self.bounce(provider, &run, direction, limits) }
            }
            other => other,
        }
    }

    unsafe fn unmap(&self, provider: &P, mapping: DmaMapping<P::Page>) {
        let DmaMapping { run, direction, .. } = mapping;
        let Some((offset, reserved)) = self.slot_at(mapping.bus_address) else {
            // SAFETY: not a slot, so the address came from the inner mapper
            // (the constructor's promise keeps its addresses out of the
            // pool); the caller's promise is `M::unmap`'s.
            unsafe { self.inner.unmap(provider, mapping) };
            return;
        };
        debug_assert_eq!(reserved, (run.len as usize).max(1));
        // The slot is given back after the copy, even if the provider
        // panics during it.
        let _release = ReleaseSlot {
            pool: &self.pool,
            offset,
            reserved,
        };
        if direction.from_device() {
            // SAFETY: the slot was mapped for this run (the caller's
            // promise), and the caller vouches that no reference to its
            // bytes is live and nothing else touches them.
            unsafe { self.copy_back(provider, &run, offset) };
        }
    }

    unsafe fn sync_for_cpu(&self, provider: &P, mapping: DmaMapping<P::Page>) {
        // SAFETY: the caller's promise is `sync`'s.
        unsafe { self.sync(provider, mapping, Way::ForCpu) }
    }

    unsafe fn sync_for_device(&self, provider: &P, mapping: DmaMapping<P::Page>) {
        // SAFETY: the caller's promise is `sync`'s.
        unsafe { self.sync(provider, mapping, Way::ForDevice) }
    }
}

/// Which way a sync goes.
#[derive(Clone, Copy)]
enum Way {
    /// The device's writes reach the CPU.
    ForCpu,
    /// The CPU's writes reach the device.
    ForDevice,
}

impl<M, S: AsRef<[u8]> + AsMut<[u8]>> BounceMapper<M, S> {
    /// Syncs a run: its slot, copied the way `way` goes when the direction
    /// moves bytes that way, or the inner mapper's mapping.
    ///
    /// # Safety
    ///
    /// As for [`DmaMapper::sync_for_cpu`] and
    /// [`DmaMapper::sync_for_device`].
    unsafe fn sync<P: PageProvider>(&self, provider: &P, mapping: DmaMapping<P::Page>, way: Way)
    where
        M: DmaMapper<P>,
    {
        let DmaMapping { run, direction, .. } = mapping;
        let Some((offset, _)) = self.slot_at(mapping.bus_address) else {
            // SAFETY: not a slot, so the inner mapper's address (the
            // constructor's promise keeps its addresses out of the pool);
            // the caller's promise is the inner mapper's.
            unsafe {
                match way {
                    Way::ForCpu => self.inner.sync_for_cpu(provider, mapping),
                    Way::ForDevice => self.inner.sync_for_device(provider, mapping),
                }
            }
            return;
        };
        match way {
            // SAFETY: the slot was mapped for this run (the caller's
            // promise), and the caller vouches that no reference to its
            // bytes is live and nothing else touches them.
            Way::ForCpu if direction.from_device() => unsafe {
                self.copy_back(provider, &run, offset)
            },
            // SAFETY: the run is the claim the slot was mapped for, and the
            // caller vouches that nothing writes its bytes during the call.
            Way::ForDevice if direction.to_device() => unsafe {
                self.pool.borrow_mut().copy_in(provider, &run, offset)
            },
            _ => {}
        }
    }
}

impl<M: fmt::Debug, S: AsRef<[u8]> + AsMut<[u8]>> fmt::Debug for BounceMapper<M, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pool = self.pool.borrow();
        f.debug_struct("BounceMapper")
            .field("inner", &self.inner)
            .field("bus_address", &format_args!("{:#x}", self.bus_address))
            .field("pool_size", &pool.size)
            .field("live_slots", &pool.live.len())
            .field("free_bytes", &(pool.size - pool.used))
            .field("stats", &pool.stats)
            .finish()
    }
}
