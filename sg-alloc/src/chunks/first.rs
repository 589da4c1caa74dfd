//! A caller-provided first array (the kernel's `first_chunk`), borrowed by a
//! table for its whole life and never freed by it.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use sg_core::{ChunkAllocator, Error, HeapChunks, SgEntry};

use crate::chain::Chain;

/// An array of `N` entries that a table can use as its first array (the
/// kernel's `first_chunk` with `nents_first_chunk = N`): put it on the
/// stack or inside a request structure to build small tables without
/// allocating.
///
/// Hand it to [`SgTable::with_first_chunk`](crate::SgTable::with_first_chunk),
/// which borrows it for as long as the table lives and never frees it. Its
/// entries are not accessible from outside: once a table is gone (even one
/// that was forgotten with [`core::mem::forget`]) the array may hold stale
/// links, and only a new table, which overwrites it, ever looks at it
/// again.
///
/// `N` must be at least 2 (a full array holds a data entry and a link);
/// smaller values fail to compile:
///
/// ```compile_fail
/// let first = sg_alloc::FirstChunk::<u64, 1>::new();
/// ```
///
/// # Examples
///
/// ```
/// use sg_alloc::{FirstChunk, SgTable};
/// use sg_core::VirtPages;
///
/// let pages = VirtPages::new();
/// let mut first = FirstChunk::<_, 8>::new();
/// // 8 entries fit the first array: nothing is allocated.
/// let table = SgTable::with_first_chunk(&pages, 8, &mut first)?;
/// assert_eq!(table.arrays(), 1);
/// drop(table);
/// // 20 entries: 7 in the first array, 13 in one array from the heap.
/// let table = SgTable::with_first_chunk(&pages, 20, &mut first)?;
/// assert_eq!((table.orig_nents(), table.arrays()), (20, 2));
/// # Ok::<(), sg_core::Error>(())
/// ```
pub struct FirstChunk<Pg: Copy, const N: usize> {
    entries: [SgEntry<Pg>; N],
}

impl<Pg: Copy, const N: usize> FirstChunk<Pg, N> {
    /// An array of `N` empty entries.
    pub const fn new() -> Self {
        const { assert!(N >= 2, "a first chunk holds at least 2 entries") };
        FirstChunk {
            entries: [const { SgEntry::new() }; N],
        }
    }

    /// Its number of slots, `N`.
    pub const fn capacity(&self) -> usize {
        N
    }
}

impl<Pg: Copy, const N: usize> Default for FirstChunk<Pg, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Pg: Copy, const N: usize> fmt::Debug for FirstChunk<Pg, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirstChunk")
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

/// The chunk allocator of a table whose first array is a caller's
/// [`FirstChunk`]: it serves every other array from `C`, and carries the
/// borrow of the first array (`'a`) in the table's type, so the table
/// cannot outlive it.
///
/// Only [`SgTable::with_first_chunk`](crate::SgTable::with_first_chunk) and
/// [`SgTable::with_first_chunk_in`](crate::SgTable::with_first_chunk_in)
/// make one.
pub struct WithFirstChunk<'a, Pg: Copy, C = HeapChunks> {
    inner: C,
    _first: PhantomData<&'a mut [SgEntry<Pg>]>,
}

impl<Pg: Copy, C> WithFirstChunk<'_, Pg, C> {
    /// The allocator the other arrays come from.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<Pg: Copy, C: fmt::Debug> fmt::Debug for WithFirstChunk<'_, Pg, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WithFirstChunk").field(&self.inner).finish()
    }
}

// SAFETY: every call forwards to `C`, which upholds the contract; the first
// array never goes through `alloc` or `free` (the chain holds it apart).
unsafe impl<Pg: Copy, C: ChunkAllocator<Pg>> ChunkAllocator<Pg> for WithFirstChunk<'_, Pg, C> {
    #[inline]
    fn max_entries(&self) -> usize {
        self.inner.max_entries()
    }

    #[inline]
    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error> {
        self.inner.alloc(entries)
    }

    #[inline]
    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise is the one `C::free` needs.
        unsafe { self.inner.free(chunk, entries) }
    }

    #[inline]
    fn alloc_block(&self, entries: usize) -> Option<NonNull<SgEntry<Pg>>> {
        self.inner.alloc_block(entries)
    }

    #[inline]
    unsafe fn free_block(&self, block: NonNull<SgEntry<Pg>>, entries: usize) {
        // SAFETY: the caller's promise is the one `C::free_block` needs.
        unsafe { self.inner.free_block(block, entries) }
    }
}

/// A chain of `entries` empty entries whose first array is `first`.
pub(crate) fn chain_with_first<'a, Pg: Copy, C: ChunkAllocator<Pg>, const N: usize>(
    first: &'a mut FirstChunk<Pg, N>,
    entries: usize,
    max_entries: usize,
    chunks: C,
) -> Result<Chain<Pg, WithFirstChunk<'a, Pg, C>>, Error> {
    let array = NonNull::from(&mut first.entries[..]);
    let chunks = WithFirstChunk {
        inner: chunks,
        _first: PhantomData,
    };
    // SAFETY: `first` is borrowed mutably for `'a`, and the chain's type
    // carries `'a` through its allocator, so the array stays valid and
    // untouched by anything else while the chain exists; it has `N >= 2`
    // slots (checked when `FirstChunk::new` was compiled). The array's old
    // contents are never read: the chain initialises every slot it uses.
    unsafe { Chain::with_first_array(chunks, entries, max_entries, Some(array)) }
}
