//! `FramePages`: pages that are bare frame numbers, with no memory.

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
