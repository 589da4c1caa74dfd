//! The bounce pool's memory and bookkeeping: where a slot goes, what is
//! live, what was copied.

use alloc::collections::BTreeMap;
use core::cell::RefCell;

use sg_core::{DmaLimits, DmaRun, Error, PageProvider};

use super::cpu_bytes::read_run;

/// What a [`BounceMapper`](crate::BounceMapper) copied, counted per direction.
///
/// A copy "to the device" goes from the CPU's pages into the pool (at map
/// and sync-for-device time, when the device reads); a copy "from the
/// device" goes from the pool back to the CPU's pages (at sync-for-CPU and
/// unmap time, when the device writes).
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct BounceStats {
    /// Maps that went through the pool.
    pub bounced: usize,
    /// Copies from the CPU's pages into the pool.
    pub to_device_copies: usize,
    /// Bytes of those copies.
    pub to_device_bytes: u64,
    /// Copies from the pool into the CPU's pages.
    pub from_device_copies: usize,
    /// Bytes of those copies.
    pub from_device_bytes: u64,
}

/// The pool's memory and bookkeeping.
pub(super) struct Pool<S> {
    pub(super) memory: S,
    /// Bytes of `memory`, fixed at creation.
    pub(super) size: usize,
    /// Live slots: offset in the pool -> bytes reserved.
    pub(super) live: BTreeMap<usize, usize>,
    /// Bytes reserved by live slots.
    pub(super) used: usize,
    pub(super) stats: BounceStats,
}

impl<S> Pool<S> {
    /// A pool over `memory`, of `size` bytes, with no slot live.
    pub(super) fn new(memory: S, size: usize) -> Self {
        Pool {
            memory,
            size,
            live: BTreeMap::new(),
            used: 0,
            stats: BounceStats::default(),
        }
    }
}

impl<S: AsRef<[u8]> + AsMut<[u8]>> Pool<S> {
    /// The lowest offset where `len` bytes at bus address `base + offset`
    /// make a segment `limits` accepts and overlap no live slot (first
    /// fit).
    pub(super) fn place(&self, base: u64, len: usize, limits: &DmaLimits) -> Result<usize, Error> {
        let highest = limits.highest_address();
        let mut gap_start = 0;
        let gaps = self
            .live
            .iter()
            .map(|(&offset, &reserved)| (offset, offset + reserved))
            .chain(core::iter::once((self.size, self.size)));
        for (gap_end, next_start) in gaps {
            if let Some(offset) = fit(base, gap_start, gap_end, len, limits) {
                let bus = base + offset as u64;
                // Later places only lie higher.
                if bus + (len as u64 - 1) > highest {
                    return Err(Error::Unreachable {
                        address: bus.max(highest.saturating_add(1)),
                        highest,
                    });
                }
                return Ok(offset);
            }
            gap_start = next_start;
        }
        Err(Error::BouncePoolExhausted {
            requested: len,
            available: self.size - self.used,
        })
    }

    /// The bytes of the slot at `offset`.
    pub(super) fn slot(&mut self, offset: usize, len: usize) -> &mut [u8] {
        &mut self.memory.as_mut()[offset..offset + len]
    }

    /// Copies the run's bytes into the slot at `offset`.
    ///
    /// # Safety
    ///
    /// As for `read_run`: the run is a claim of initialised bytes of valid
    /// pages of `provider`, which nothing writes during the call.
    pub(super) unsafe fn copy_in<P: PageProvider>(
        &mut self,
        provider: &P,
        run: &DmaRun<P::Page>,
        offset: usize,
    ) {
        let len = run.len as usize;
        // SAFETY: the caller's promise is `read_run`'s.
        unsafe { read_run(provider, run, self.slot(offset, len)) };
        self.stats.to_device_copies += 1;
        self.stats.to_device_bytes += len as u64;
    }
}

/// Gives a live slot back to the pool when dropped.
pub(super) struct ReleaseSlot<'p, S> {
    pub(super) pool: &'p RefCell<Pool<S>>,
    pub(super) offset: usize,
    pub(super) reserved: usize,
}

impl<S> Drop for ReleaseSlot<'_, S> {
    fn drop(&mut self) {
        let mut pool = self.pool.borrow_mut();
        pool.live.remove(&self.offset);
        pool.used -= self.reserved;
    }
}

/// The lowest offset in `[gap_start, gap_end)` of the pool at bus address
/// `base` where `len` bytes start aligned and cross no boundary.
fn fit(
    base: u64,
    gap_start: usize,
    gap_end: usize,
    len: usize,
    limits: &DmaLimits,
) -> Option<usize> {
    let mut bus = (base + gap_start as u64).checked_next_multiple_of(limits.alignment())?;
    if limits.crosses_boundary(bus, len as u64) {
        // The next boundary is a multiple of the alignment (validated
        // limits: alignment <= max segment size <= boundary); a run no
        // longer than the maximum segment size fits in one window.
        let boundary = limits.segment_boundary()?;
        bus = (bus + 1).checked_next_multiple_of(boundary)?;
    }
    let offset = usize::try_from(bus - base).ok()?;
    (offset.checked_add(len)? <= gap_end).then_some(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_placed_aligned_inside_windows_and_first_fit() {
        let limits = DmaLimits::new()
            .with_max_segment_size(0x400)
            .with_segment_boundary(Some(0x400))
            .with_alignment(0x100);
        // A pool whose bus address is neither aligned nor on a boundary.
        assert_eq!(fit(0x1080, 0, 0x2000, 0x100, &limits), Some(0x80));
        assert_eq!(fit(0x1080, 0, 0x2000, 0x300, &limits), Some(0x80));
        // 0x1100 + 0x400 would cross 0x1400: the next window.
        assert_eq!(fit(0x1080, 0, 0x2000, 0x400, &limits), Some(0x380));
        assert_eq!(fit(0x1080, 0, 0x300, 0x400, &limits), None);
        let mut pool = Pool {
            memory: alloc::vec![0u8; 0x1000],
            size: 0x1000,
            live: BTreeMap::new(),
            used: 0,
            stats: BounceStats::default(),
        };
        pool.live.insert(0x80, 0x100);
        pool.used = 0x100;
        assert_eq!(pool.place(0x1080, 0x100, &limits), Ok(0x180));
        let reachable = limits.with_highest_address(0x1100);
        assert_eq!(
            pool.place(0x1080, 0x100, &reachable),
            Err(Error::Unreachable {
                address: 0x1200,
                highest: 0x1100
            })
        );
        assert_eq!(
            pool.place(0x1080, 0x400, &limits.with_max_segment_size(0x400)),
            Ok(0x380)
        );
        pool.live.insert(0x180, 0xE80);
        pool.used += 0xE80;
        // The 0x80 bytes left at the start cannot hold an aligned slot.
        assert_eq!(
            pool.place(0x1080, 0x10, &limits),
            Err(Error::BouncePoolExhausted {
                requested: 0x10,
                available: 0x80
            })
        );
    }
}
