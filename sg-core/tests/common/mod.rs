//! What sg-core's integration tests share. sg-core takes no workspace
//! crate, not even the test kit, as a dependency (DESIGN.md), so the one
//! provider its tests need lives here.

#![allow(dead_code)]

use core::marker::PhantomData;
use core::ptr::NonNull;

use sg_core::{Error, PageProvider};

/// Frames without memory: enough to build, walk and count lists, never
/// mapped, never allocated. `M` only decides the auto traits (`Frames`
/// is `Send` and `Sync`; `Frames<Cell<()>>` is `Send` but not `Sync`).
pub(crate) struct Frames<M = ()>(PhantomData<M>);

/// The frames of a test.
pub(crate) const FRAMES: Frames = Frames(PhantomData);

// SAFETY: `map` never returns, so no byte is ever reached; frame numbers
// are the handles themselves and `nth` adds to them; nothing is allocated.
unsafe impl<M> PageProvider for Frames<M> {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = 4096;

    fn pfn(&self, page: u64) -> u64 {
        page
    }

    fn nth(&self, page: u64, n: usize) -> u64 {
        page + n as u64
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        panic!("Frames: frame {page} has no memory to map")
    }

    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        Err(Error::PagesUnavailable { order })
    }

    unsafe fn free_pages(&self, _page: u64, _order: u32) {}
}
