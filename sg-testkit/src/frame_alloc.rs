//! `CountedFrames`: frame numbers handed out without memory, counted.

use std::collections::BTreeMap;
use std::ptr::NonNull;
use std::sync::{Mutex, MutexGuard};

use sg_core::{Error, PageProvider};

use crate::FramePages;

/// A page provider that allocates bare frame numbers (as [`FramePages`]:
/// no memory behind them, mapping panics) and counts them: for lists of
/// more bytes than a test can back, such as page lists of 4 GiB and more,
/// checked for leaks all the same.
///
/// Each allocation takes fresh frames, one unused frame apart from the
/// previous run, so runs never join. Freeing a run it did not hand out, or
/// with another order, panics.
///
/// # Examples
///
/// ```
/// use sg_core::PageProvider;
/// use sg_testkit::CountedFrames;
///
/// let frames = CountedFrames::default();
/// let run = frames.alloc_pages(3).unwrap();
/// assert_eq!(frames.live(), 1);
/// // SAFETY: allocated just above with order 3, freed once.
/// unsafe { frames.free_pages(run, 3) };
/// frames.assert_clean();
/// ```
#[derive(Debug, Default)]
pub struct CountedFrames {
    /// Live allocations: first frame and order.
    live: Mutex<BTreeMap<u64, u32>>,
    /// The first frame of the next allocation.
    next: Mutex<u64>,
}

impl CountedFrames {
    fn live_runs(&self) -> MutexGuard<'_, BTreeMap<u64, u32>> {
        self.live
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs allocated and not freed.
    pub fn live(&self) -> usize {
        self.live_runs().len()
    }

    /// Panics unless every run was freed.
    #[track_caller]
    pub fn assert_clean(&self) {
        let live = self.live_runs();
        assert!(
            live.is_empty(),
            "runs never freed (first frame, order): {live:?}"
        );
    }
}

// SAFETY: as `FramePages` (whose methods these forward to) for naming and
// mapping: no byte is ever reached; `alloc_pages` hands out fresh, disjoint
// runs of frames.
unsafe impl PageProvider for CountedFrames {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = 4096;

    fn pfn(&self, page: u64) -> u64 {
        FramePages::<4096>.pfn(page)
    }

    fn nth(&self, page: u64, n: usize) -> u64 {
        FramePages::<4096>.nth(page, n)
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        FramePages::<4096>.map(page)
    }

    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        let run = 1u64
            .checked_shl(order)
            .filter(|&run| run < u64::MAX / 2)
            .ok_or(Error::PagesUnavailable { order })?;
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let first = *next;
        *next = first
            .checked_add(run + 1)
            .ok_or(Error::PagesUnavailable { order })?;
        self.live_runs().insert(first, order);
        Ok(first)
    }

    unsafe fn free_pages(&self, page: u64, order: u32) {
        let freed = self.live_runs().remove(&page);
        assert_eq!(freed, Some(order), "frame {page} freed with order {order}");
    }
}
