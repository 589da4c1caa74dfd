//! `FramePages` and `CountedFrames`: pages that are bare frame numbers,
//! with no memory.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ptr::NonNull;

use sg_core::{Error, PageProvider};

/// A page provider whose pages are bare frame numbers with no memory
/// behind them: for building, walking and counting lists whose bytes are
/// never touched (benchmarks of builders, tests of layouts), at any size.
///
/// Mapping a page panics, so no byte is ever reached; allocation always
/// fails.
///
/// # Examples
///
/// ```
/// use sg_core::PageProvider;
/// use sg_testkit::FramePages;
///
/// let frames = FramePages::<4096>;
/// assert!(frames.is_next(10, 2, 12));
/// assert!(frames.alloc_pages(0).is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FramePages<const PAGE_SIZE: usize = 4096>;

// SAFETY: `map` never returns, so no pointer is handed out and no byte is
// reached; frame numbers are the handles themselves and `nth` adds to them,
// so they are truthful; nothing is allocated.
unsafe impl<const PAGE_SIZE: usize> PageProvider for FramePages<PAGE_SIZE> {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = PAGE_SIZE;

    #[inline]
    fn pfn(&self, page: u64) -> u64 {
        page
    }

    #[inline]
    fn nth(&self, page: u64, n: usize) -> u64 {
        page.wrapping_add(n as u64)
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        panic!("FramePages: frame {page} has no memory to map")
    }

    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        Err(Error::PagesUnavailable { order })
    }

    unsafe fn free_pages(&self, _page: u64, _order: u32) {}
}

/// Frames without memory that can be allocated, with the books checked:
/// [`FramePages`] whose `alloc_pages` hands out fresh runs of frames (a
/// free frame between runs, so no run continues another) and whose
/// `free_pages` panics unless it is given back a live run of its order.
/// For lists that own more bytes than a test can back.
///
/// It keeps its books in `Cell`s, so it is `Send` but not `Sync`: it also
/// stands for a provider that views may not share across threads.
///
/// # Examples
///
/// ```
/// use sg_core::PageProvider;
/// use sg_testkit::CountedFrames;
///
/// let frames = CountedFrames::<4096>::new();
/// let run = frames.alloc_pages(2).unwrap();
/// assert_eq!(frames.live(), 1);
/// // SAFETY: a run this provider allocated, of that order, given back once.
/// unsafe { frames.free_pages(run, 2) };
/// frames.assert_clean();
/// ```
#[derive(Debug, Default)]
pub struct CountedFrames<const PAGE_SIZE: usize = 4096> {
    /// The first frame of the next run.
    next: Cell<u64>,
    /// Live runs: first frame and order.
    live: RefCell<BTreeMap<u64, u32>>,
}

impl<const PAGE_SIZE: usize> CountedFrames<PAGE_SIZE> {
    /// Frames with nothing allocated.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs allocated and not yet freed.
    pub fn live(&self) -> usize {
        self.live.borrow().len()
    }

    /// Panics if a run is still allocated.
    #[track_caller]
    pub fn assert_clean(&self) {
        let live = self.live.borrow();
        assert!(live.is_empty(), "runs still allocated: {live:?}");
    }
}

// SAFETY: frames are `FramePages`' (which never maps, so no byte is ever
// reached); `alloc_pages` hands out fresh, disjoint runs of frames.
unsafe impl<const PAGE_SIZE: usize> PageProvider for CountedFrames<PAGE_SIZE> {
    const PAGE_SIZE: usize = PAGE_SIZE;
    type Page = u64;
    type Pfn = u64;

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        let first = self.next.get();
        let after = 1u64
            .checked_shl(order)
            .and_then(|run| first.checked_add(run)?.checked_add(1))
            .ok_or(Error::PagesUnavailable { order })?;
        self.next.set(after);
        self.live.borrow_mut().insert(first, order);
        Ok(first)
    }

    unsafe fn free_pages(&self, page: u64, order: u32) {
        let freed = self.live.borrow_mut().remove(&page);
        assert_eq!(freed, Some(order), "CountedFrames: run at frame {page}");
    }

    fn pfn(&self, page: u64) -> u64 {
        FramePages::<PAGE_SIZE>.pfn(page)
    }

    fn nth(&self, page: u64, n: usize) -> u64 {
        FramePages::<PAGE_SIZE>.nth(page, n)
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        FramePages::<PAGE_SIZE>.map(page)
    }

    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}
}
