//! [`CachedGlobal`]: the global allocator with a small per-thread cache of
//! freed page-sized blocks, the allocator of [`HeapChunks::new`].
//!
//! A driver builds and drops a table per request; each of its arrays is
//! one page ([`FULL_CHUNK_BYTES`]). glibc's per-thread cache keeps only a
//! few blocks of a size, so a table of more than a few arrays went to the
//! allocator's bins on every build; this cache keeps the last
//! [`CachedGlobal::CACHED_BLOCKS`] freed blocks of a thread and hands them
//! to the next table built there.

use core::alloc::Layout;
use core::ptr::NonNull;

use allocator_api2::alloc::{AllocError, Allocator, Global};

#[cfg(doc)]
use crate::{FULL_CHUNK_BYTES, HeapChunks};

/// The global allocator, with the last freed page-sized blocks of each
/// thread kept for that thread's next allocation of the same layout.
///
/// Blocks of exactly [`CachedGlobal::LAYOUT`] (one 4 KiB array of 8-byte
/// aligned entries, the full array of every table over process memory or
/// 64-bit frames) are kept, up to [`CachedGlobal::CACHED_BLOCKS`] per
/// thread; every other layout goes straight to [`Global`]. A thread's
/// blocks go back to the global allocator when the thread exits, or when
/// it calls [`release_this_thread`](Self::release_this_thread). Every
/// block, cached or not, comes from [`Global`] with its own layout, so a
/// block may be freed on any thread, by any `CachedGlobal` or by
/// [`Global`] itself.
///
/// Without the `std` feature (no thread-local storage) it is [`Global`].
///
/// # Examples
///
/// ```
/// use sg_core::allocator_api2::alloc::Allocator;
/// use sg_core::CachedGlobal;
///
/// let block = CachedGlobal.allocate(CachedGlobal::LAYOUT).unwrap();
/// // SAFETY: allocated above with this layout, not used afterwards.
/// unsafe { CachedGlobal.deallocate(block.cast(), CachedGlobal::LAYOUT) };
/// // Kept for the next allocation of this thread; given back here.
/// CachedGlobal::release_this_thread();
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CachedGlobal;

impl CachedGlobal {
    /// The layout of the blocks kept: 4096 bytes aligned to 8.
    pub const LAYOUT: Layout = match Layout::from_size_align(4096, 8) {
        Ok(layout) => layout,
        Err(_) => panic!("a valid layout"),
    };

    /// Blocks kept per thread at most (256 KiB).
    pub const CACHED_BLOCKS: usize = 64;

    /// Gives this thread's kept blocks back to the global allocator.
    pub fn release_this_thread() {
        #[cfg(feature = "std")]
        cache::release();
    }
}

// SAFETY: every block comes from `Global` (directly, or kept in a
// thread's cache after a `deallocate` with the same layout, which is the
// only layout a kept block is handed out for), so it is valid for its
// layout until deallocated; a kept block belongs to no one else (it left
// its owner through `deallocate` and is handed out once); all values are
// the same allocator (a unit struct whose blocks all come from and go to
// `Global`).
unsafe impl Allocator for CachedGlobal {
    #[inline]
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        #[cfg(feature = "std")]
        if layout == Self::LAYOUT {
            if let Some(block) = cache::take() {
                return Ok(NonNull::slice_from_raw_parts(block, layout.size()));
            }
        }
        Global.allocate(layout)
    }

    /// Zeroed memory straight from `Global` (whose `calloc` skips clearing
    /// what the system has just mapped), or a kept block cleared.
    #[inline]
    fn allocate_zeroed(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        #[cfg(feature = "std")]
        if layout == Self::LAYOUT {
            if let Some(block) = cache::take() {
                // SAFETY: a kept block is valid for writes of its layout's
                // size and belongs to no one else.
                unsafe { block.write_bytes(0, layout.size()) };
                return Ok(NonNull::slice_from_raw_parts(block, layout.size()));
            }
        }
        Global.allocate_zeroed(layout)
    }

    #[inline]
    unsafe fn deallocate(&self, pointer: NonNull<u8>, layout: Layout) {
        #[cfg(feature = "std")]
        if layout == Self::LAYOUT && cache::keep(pointer) {
            return;
        }
        // SAFETY: the caller's promise: `pointer` is a block of this
        // allocator (hence of `Global`) with `layout`.
        unsafe { Global.deallocate(pointer, layout) }
    }
}

/// The per-thread cache.
#[cfg(feature = "std")]
mod cache {
    use core::cell::Cell;
    use core::ptr::NonNull;

    use allocator_api2::alloc::{Allocator, Global};

    use super::CachedGlobal;

    /// A thread's kept blocks: `blocks[..len]`, each a block of
    /// `CachedGlobal::LAYOUT` from `Global` that nothing else uses.
    struct Cache {
        blocks: [Cell<Option<NonNull<u8>>>; CachedGlobal::CACHED_BLOCKS],
        len: Cell<usize>,
    }

    impl Cache {
        /// The last kept block, no longer kept.
        fn pop(&self) -> Option<NonNull<u8>> {
            let len = self.len.get().checked_sub(1)?;
            self.len.set(len);
            self.blocks[len].take()
        }

        /// Keeps `block` when there is room; whether it was kept.
        fn push(&self, block: NonNull<u8>) -> bool {
            let len = self.len.get();
            let Some(slot) = self.blocks.get(len) else {
                return false;
            };
            slot.set(Some(block));
            self.len.set(len + 1);
            true
        }

        /// Gives every kept block back to `Global`.
        fn release(&self) {
            while let Some(block) = self.pop() {
                // SAFETY: a kept block came from `Global` with this layout
                // and nothing else uses it (the cache's invariant); popped,
                // it is no longer kept.
                unsafe { Global.deallocate(block, CachedGlobal::LAYOUT) };
            }
        }
    }

    impl Drop for Cache {
        fn drop(&mut self) {
            self.release();
        }
    }

    std::thread_local! {
        static CACHE: Cache = const {
            Cache {
                blocks: [const { Cell::new(None) }; CachedGlobal::CACHED_BLOCKS],
                len: Cell::new(0),
            }
        };
    }

    /// A kept block of this thread, if it has one (none while the thread
    /// is exiting).
    #[inline]
    pub(super) fn take() -> Option<NonNull<u8>> {
        CACHE.try_with(Cache::pop).ok().flatten()
    }

    /// Keeps `block` for this thread when there is room (never while the
    /// thread is exiting); whether it was kept.
    #[inline]
    pub(super) fn keep(block: NonNull<u8>) -> bool {
        CACHE.try_with(|cache| cache.push(block)).unwrap_or(false)
    }

    /// Gives this thread's kept blocks back.
    pub(super) fn release() {
        let _ = CACHE.try_with(Cache::release);
    }

    /// How many blocks this thread keeps.
    #[cfg(test)]
    pub(super) fn kept() -> usize {
        CACHE.try_with(|cache| cache.len.get()).unwrap_or(0)
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    /// Freed blocks of the layout are kept (up to the bound) and handed
    /// out again, newest first; other layouts are not kept; release gives
    /// them all back.
    #[test]
    fn keeps_freed_blocks_up_to_the_bound() {
        CachedGlobal::release_this_thread();
        assert_eq!(cache::kept(), 0);
        let count = CachedGlobal::CACHED_BLOCKS + 3;
        let blocks: std::vec::Vec<NonNull<u8>> = (0..count)
            .map(|_| CachedGlobal.allocate(CachedGlobal::LAYOUT).unwrap().cast())
            .collect();
        for (index, block) in blocks.iter().enumerate() {
            // SAFETY: each block is written within its layout before it is freed.
            unsafe { block.as_ptr().add(4095).write(index as u8) };
        }
        for &block in &blocks {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { CachedGlobal.deallocate(block, CachedGlobal::LAYOUT) };
        }
        assert_eq!(cache::kept(), CachedGlobal::CACHED_BLOCKS);
        let again = CachedGlobal
            .allocate(CachedGlobal::LAYOUT)
            .unwrap()
            .cast::<u8>();
        assert_eq!(
            again,
            blocks[CachedGlobal::CACHED_BLOCKS - 1],
            "newest kept first"
        );
        assert_eq!(cache::kept(), CachedGlobal::CACHED_BLOCKS - 1);
        // SAFETY: handed out above with this layout, freed once.
        unsafe { CachedGlobal.deallocate(again, CachedGlobal::LAYOUT) };

        let other = Layout::from_size_align(4096, 16).unwrap();
        let block = CachedGlobal.allocate(other).unwrap().cast::<u8>();
        // SAFETY: allocated above with this layout, freed once.
        unsafe { CachedGlobal.deallocate(block, other) };
        assert_eq!(
            cache::kept(),
            CachedGlobal::CACHED_BLOCKS,
            "other layouts are not kept"
        );

        CachedGlobal::release_this_thread();
        assert_eq!(cache::kept(), 0);
        assert!(cache::take().is_none());
    }

    /// A block freed on another thread is kept by that thread, and given
    /// back when it exits.
    #[test]
    fn blocks_cross_threads() {
        /// A block handed to another thread.
        struct Block(NonNull<u8>);
        // SAFETY: a block of the global allocator, used by one thread at a
        // time (the spawned one, after the spawning one let it go).
        unsafe impl Send for Block {}
        let block = Block(CachedGlobal.allocate(CachedGlobal::LAYOUT).unwrap().cast());
        let kept = std::thread::spawn(move || {
            let block = block;
            // SAFETY: allocated on the spawning thread with this layout,
            // freed once, here.
            unsafe { CachedGlobal.deallocate(block.0, CachedGlobal::LAYOUT) };
            cache::kept()
        })
        .join()
        .unwrap();
        assert_eq!(kept, 1);
    }
}
