//! The `ChunkAllocator` trait (where arrays of entries come from) and the
//! default heap-backed implementation.

use core::alloc::Layout;
use core::fmt;
use core::mem::size_of;
use core::ptr::NonNull;

use allocator_api2::alloc::Allocator;

use crate::CachedGlobal;

use crate::{Error, SgEntry};

/// Bytes in a full chunk of the default allocator: one 4 KiB page, as the
/// kernel's `SG_MAX_SINGLE_ALLOC`.
pub const FULL_CHUNK_BYTES: usize = 4096;

/// A source of arrays of entries ("chunks") for chained tables.
///
/// A table asks for arrays of at most [`max_entries`](Self::max_entries)
/// entries and gives each back with the same count. [`HeapChunks`] serves
/// them from any [`allocator_api2`] allocator; sg-alloc adds a pool that
/// allocates nothing after its creation, and sg-testkit counting and failing
/// wrappers.
///
/// # For users
///
/// Pass an allocator (or a reference to one: `&C` is an allocator too) when
/// building a table; most code keeps the default.
///
/// # Safety
///
/// Implementors promise that a successful [`alloc`](Self::alloc)`(n)`
/// returns a pointer aligned for `SgEntry<Pg>` and valid for reads and
/// writes of `n` entries, used by nothing else until it is given to
/// [`free`](Self::free), and that it fails rather than return less; and
/// the same of [`alloc_block`](Self::alloc_block)`(n)` and
/// [`free_block`](Self::free_block), whose entries are moreover all zero
/// bytes.
pub unsafe trait ChunkAllocator<Pg: Copy> {
    /// The largest array, in entries, that [`alloc`](Self::alloc) serves
    /// (the kernel's `SG_MAX_SINGLE_ALLOC` for the default): at least 2, so
    /// that a full array holds a data entry and a chain link.
    fn max_entries(&self) -> usize;

    /// An uninitialised array of `entries` entries.
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] for 0 entries, [`Error::ChunkTooLarge`] above
    /// [`max_entries`](Self::max_entries), [`Error::OutOfMemory`] when the
    /// memory cannot be had.
    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error>;

    /// Gives back an array from [`alloc`](Self::alloc).
    ///
    /// # Safety
    ///
    /// `chunk` came from `alloc(entries)` on this allocator with the same
    /// `entries`, has not been freed, and is not used afterwards.
    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize);

    /// One allocation of `entries` empty entries (every byte zero), for a
    /// table of many arrays that lays them out in it back to back; `None`
    /// when this allocator serves arrays one at a time only (the default)
    /// or cannot give this much memory in one piece, and the table then
    /// takes its arrays one at a time. [`max_entries`](Self::max_entries)
    /// does not apply.
    ///
    /// A table built all at once ([`HeapChunks`] from sg-alloc's
    /// `SgTable::new`, for tables of at least 64 arrays) makes one call
    /// instead of one per array, and memory the system hands out zeroed
    /// is not written again.
    fn alloc_block(&self, entries: usize) -> Option<NonNull<SgEntry<Pg>>> {
        let _ = entries;
        None
    }

    /// Gives back a block from [`alloc_block`](Self::alloc_block). The
    /// default does nothing (the default `alloc_block` never gives one).
    ///
    /// # Safety
    ///
    /// `block` came from `alloc_block(entries)` on this allocator with the
    /// same `entries`, has not been freed, and is not used afterwards.
    unsafe fn free_block(&self, block: NonNull<SgEntry<Pg>>, entries: usize) {
        let _ = (block, entries);
    }
}

// SAFETY: every method forwards to `C`, which upholds the contract.
unsafe impl<Pg: Copy, C: ChunkAllocator<Pg> + ?Sized> ChunkAllocator<Pg> for &C {
    #[inline]
    fn max_entries(&self) -> usize {
        (**self).max_entries()
    }

    #[inline]
    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error> {
        (**self).alloc(entries)
    }

    #[inline]
    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise is the one `C::free` needs.
        unsafe { (**self).free(chunk, entries) }
    }

    #[inline]
    fn alloc_block(&self, entries: usize) -> Option<NonNull<SgEntry<Pg>>> {
        (**self).alloc_block(entries)
    }

    #[inline]
    unsafe fn free_block(&self, block: NonNull<SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise is the one `C::free_block` needs.
        unsafe { (**self).free_block(block, entries) }
    }
}

/// Arrays of entries from an [`allocator_api2`] allocator, the global one by
/// default: the default chunk allocator of tables.
///
/// A full array is one 4 KiB page ([`FULL_CHUNK_BYTES`]): 128 entries of 32
/// bytes. [`with_max_entries`](Self::with_max_entries) sets another size.
///
/// [`new`](Self::new) allocates through [`CachedGlobal`], which keeps the
/// last freed full arrays of each thread for the next table built there
/// (up to 256 KiB a thread); `HeapChunks::new_in(Global)` allocates from
/// the global allocator with nothing kept. Blocks
/// ([`alloc_block`](ChunkAllocator::alloc_block)) come from the
/// allocator's `allocate_zeroed`.
///
/// # Examples
///
/// ```
/// use sg_core::{ChunkAllocator, HeapChunks, SgEntry};
///
/// let chunks = HeapChunks::new();
/// assert_eq!(ChunkAllocator::<usize>::max_entries(&chunks), 128);
/// let array = ChunkAllocator::<usize>::alloc(&chunks, 10).unwrap();
/// // SAFETY: allocated above with the same count and not used afterwards.
/// unsafe { chunks.free(array, 10) };
/// ```
#[derive(Clone, Copy, Default)]
pub struct HeapChunks<A: Allocator = CachedGlobal> {
    allocator: A,
    max_entries: Option<usize>,
}

impl HeapChunks<CachedGlobal> {
    /// Page-sized arrays from the global allocator, freed full arrays kept
    /// per thread ([`CachedGlobal`]).
    pub const fn new() -> Self {
        HeapChunks {
            allocator: CachedGlobal,
            max_entries: None,
        }
    }
}

impl<A: Allocator> HeapChunks<A> {
    /// Page-sized arrays from `allocator`.
    pub const fn new_in(allocator: A) -> Self {
        HeapChunks {
            allocator,
            max_entries: None,
        }
    }

    /// The same allocator, serving arrays of at most `max_entries` entries
    /// instead of one page.
    ///
    /// # Errors
    ///
    /// [`Error::ChunkTooLarge`] when `max_entries` is below 2 (a full array
    /// must hold a data entry and a link).
    pub fn with_max_entries(self, max_entries: usize) -> Result<Self, Error> {
        if max_entries < 2 {
            return Err(Error::ChunkTooLarge {
                requested: 2,
                max: max_entries,
            });
        }
        Ok(HeapChunks {
            allocator: self.allocator,
            max_entries: Some(max_entries),
        })
    }

    /// The allocator arrays come from.
    pub fn allocator(&self) -> &A {
        &self.allocator
    }
}

impl<A: Allocator> fmt::Debug for HeapChunks<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeapChunks")
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

/// Entries of `SgEntry<Pg>` in one full chunk of [`FULL_CHUNK_BYTES`] (the
/// kernel's `SG_MAX_SINGLE_ALLOC`): 128 for 32-byte entries, and never
/// fewer than 2, so that a full array holds a data entry and a link.
///
/// This is the largest array [`HeapChunks::new`] serves.
///
/// # Examples
///
/// ```
/// use sg_core::{ChunkAllocator, HeapChunks, VirtPage};
///
/// let full = sg_core::full_chunk_entries::<VirtPage>();
/// # #[cfg(target_pointer_width = "64")]
/// assert_eq!(full, 128);
/// assert_eq!(ChunkAllocator::<VirtPage>::max_entries(&HeapChunks::new()), full);
/// ```
#[doc(alias = "SG_MAX_SINGLE_ALLOC")]
pub const fn full_chunk_entries<Pg: Copy>() -> usize {
    let per_page = FULL_CHUNK_BYTES / size_of::<SgEntry<Pg>>();
    if per_page < 2 { 2 } else { per_page }
}

// SAFETY: arrays come from `Allocator::allocate` with the layout of
// `entries` entries, which is aligned and sized for them and unique until
// `deallocate` with the same layout.
unsafe impl<Pg: Copy, A: Allocator> ChunkAllocator<Pg> for HeapChunks<A> {
    #[inline]
    fn max_entries(&self) -> usize {
        self.max_entries
            .unwrap_or(const { full_chunk_entries::<Pg>() })
    }

    #[inline]
    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error> {
        if entries == 0 {
            return Err(Error::NoEntries);
        }
        let max = ChunkAllocator::<Pg>::max_entries(self);
        if entries > max {
            return Err(Error::ChunkTooLarge {
                requested: entries,
                max,
            });
        }
        let layout = Layout::array::<SgEntry<Pg>>(entries).map_err(|_| Error::Overflow {
            what: "array of entries",
        })?;
        let memory = self
            .allocator
            .allocate(layout)
            .map_err(|_| Error::OutOfMemory)?;
        Ok(memory.cast())
    }

    #[inline]
    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize) {
        let Ok(layout) = Layout::array::<SgEntry<Pg>>(entries) else {
            debug_assert!(false, "free of a count alloc refused");
            return;
        };
        // SAFETY: the caller promises `chunk` came from `alloc(entries)`,
        // which allocated it from this allocator with this layout.
        unsafe { self.allocator.deallocate(chunk.cast(), layout) }
    }

    /// Zeroed memory from the allocator (`calloc` for the global one,
    /// which does not clear memory the system has just mapped).
    #[inline]
    fn alloc_block(&self, entries: usize) -> Option<NonNull<SgEntry<Pg>>> {
        if entries == 0 {
            return None;
        }
        let layout = Layout::array::<SgEntry<Pg>>(entries).ok()?;
        let memory = self.allocator.allocate_zeroed(layout).ok()?;
        Some(memory.cast())
    }

    #[inline]
    unsafe fn free_block(&self, block: NonNull<SgEntry<Pg>>, entries: usize) {
        let Ok(layout) = Layout::array::<SgEntry<Pg>>(entries) else {
            debug_assert!(false, "free of a block alloc_block refused");
            return;
        };
        // SAFETY: the caller promises `block` came from
        // `alloc_block(entries)`, which allocated it from this allocator
        // with this layout.
        unsafe { self.allocator.deallocate(block.cast(), layout) }
    }
}
