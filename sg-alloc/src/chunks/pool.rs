//! `ChunkPool`: arrays of entries allocated once, at creation, then handed
//! out and taken back without allocating (the kernel's `sg_pool`, a mempool
//! of scatterlist arrays).

use core::alloc::Layout;
use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use allocator_api2::alloc::{Allocator, Global};
use sg_core::{ChunkAllocator, Error, SgEntry};

use super::full_chunk_entries;

/// Bits in one word of the pool's bitmap.
const BITS: usize = usize::BITS as usize;

/// A chunk allocator with a fixed number of arrays, all allocated when it
/// is created: after that it allocates nothing, so tables built from it
/// work where allocation is not allowed or must not fail late (the
/// kernel's `sg_pool`).
///
/// Every array has room for [`max_entries`](Self::max_entries) entries
/// (one 4 KiB page of entries by default) and serves any request up to
/// that size. When every array is in use, allocation fails with
/// [`Error::OutOfMemory`]; size the pool with
/// [`arrays_needed`](crate::arrays_needed).
///
/// The pool is used through a shared reference (`&ChunkPool` is a chunk
/// allocator), from any number of threads at once: which arrays are free
/// is kept in a bitmap of atomic words, so taking and giving back an array
/// never blocks and never waits for another thread (it is also safe to use
/// from an interrupt handler).
///
/// # Examples
///
/// ```
/// use sg_alloc::{ChunkPool, SgTable, arrays_needed};
/// use sg_core::{VirtPage, VirtPages};
///
/// let pool = ChunkPool::<VirtPage>::new(arrays_needed(1000, 128).unwrap())?;
/// let pages = VirtPages::new();
/// let table = SgTable::new_in(&pages, 1000, &pool)?; // allocates nothing
/// assert_eq!(pool.available(), 0);
/// assert!(SgTable::new_in(&pages, 1, &pool).is_err()); // the pool is empty
/// drop(table);
/// assert_eq!(pool.available(), pool.capacity());
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_pool")]
#[doc(alias = "mempool")]
pub struct ChunkPool<Pg: Copy, A: Allocator = Global> {
    /// The arrays, one after the other, then the bitmap: one allocation.
    memory: NonNull<u8>,
    layout: Layout,
    /// The first array.
    arrays_start: NonNull<SgEntry<Pg>>,
    /// The bitmap: bit `i` set while array `i` is in use; bits past the
    /// last array are always set.
    bitmap: NonNull<AtomicUsize>,
    words: usize,
    arrays: usize,
    max_entries: usize,
    /// The word where the last allocation found room, to start the next
    /// search there.
    hint: AtomicUsize,
    allocator: A,
    _entries: PhantomData<SgEntry<Pg>>,
}

// SAFETY: the pool owns its memory; arrays are handed out to one user at a
// time (a set bit), and all shared state is atomic, so using the pool from
// several threads, or moving it, is sound when the allocator allows it.
unsafe impl<Pg: Copy, A: Allocator + Send> Send for ChunkPool<Pg, A> {}
// SAFETY: through `&ChunkPool`, only atomic operations touch shared state.
unsafe impl<Pg: Copy, A: Allocator + Sync> Sync for ChunkPool<Pg, A> {}

impl<Pg: Copy> ChunkPool<Pg, Global> {
    /// A pool of `arrays` page-sized arrays
    /// ([`full_chunk_entries`](crate::full_chunk_entries) entries each) from
    /// the global allocator.
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] when the pool's size overflows, and
    /// [`Error::OutOfMemory`] when its memory cannot be had.
    pub fn new(arrays: usize) -> Result<Self, Error> {
        Self::new_in(Global, arrays, full_chunk_entries::<Pg>())
    }

    /// A pool of `arrays` arrays of `max_entries` entries each from the
    /// global allocator.
    ///
    /// # Errors
    ///
    /// As [`new_in`](Self::new_in).
    pub fn with_max_entries(arrays: usize, max_entries: usize) -> Result<Self, Error> {
        Self::new_in(Global, arrays, max_entries)
    }
}

impl<Pg: Copy, A: Allocator> ChunkPool<Pg, A> {
    /// A pool of `arrays` arrays of `max_entries` entries each, all in one
    /// allocation from `allocator`.
    ///
    /// # Errors
    ///
    /// [`Error::ChunkTooLarge`] when `max_entries` is below 2 (a full array
    /// holds a data entry and a link), [`Error::Overflow`] when the pool's
    /// size overflows, [`Error::OutOfMemory`] when its memory cannot be had.
    pub fn new_in(allocator: A, arrays: usize, max_entries: usize) -> Result<Self, Error> {
        if max_entries < 2 {
            return Err(Error::ChunkTooLarge {
                requested: 2,
                max: max_entries,
            });
        }
        let overflow = Error::Overflow {
            what: "pool of arrays",
        };
        let entries = arrays.checked_mul(max_entries).ok_or(overflow)?;
        let words = arrays.div_ceil(BITS);
        let (layout, bitmap_offset) = Layout::array::<SgEntry<Pg>>(entries)
            .and_then(|arrays| arrays.extend(Layout::array::<AtomicUsize>(words)?))
            .map_err(|_| overflow)?;
        let memory = if layout.size() == 0 {
            NonNull::<AtomicUsize>::dangling().cast::<u8>()
        } else {
            allocator
                .allocate(layout)
                .map_err(|_| Error::OutOfMemory)?
                .cast::<u8>()
        };
        // SAFETY: the bitmap starts `bitmap_offset` bytes into the
        // allocation (or at the dangling pointer when there is nothing).
        let bitmap = unsafe { memory.add(bitmap_offset) }.cast::<AtomicUsize>();
        for word in 0..words {
            // Bits past the last array are set: never handed out.
            let used = arrays - word * BITS;
            let padding = if used >= BITS { 0 } else { !0 << used };
            // SAFETY: word `word < words` of the bitmap, in the allocation
            // and aligned for `AtomicUsize` by the layout.
            unsafe { bitmap.add(word).write(AtomicUsize::new(padding)) };
        }
        Ok(ChunkPool {
            memory,
            layout,
            arrays_start: memory.cast(),
            bitmap,
            words,
            arrays,
            max_entries,
            hint: AtomicUsize::new(0),
            allocator,
            _entries: PhantomData,
        })
    }

    /// Arrays in the pool.
    pub fn capacity(&self) -> usize {
        self.arrays
    }

    /// Arrays not in use now (a snapshot when other threads use the pool).
    pub fn available(&self) -> usize {
        (0..self.words)
            .map(|word| self.word(word).load(Ordering::Relaxed).count_zeros() as usize)
            .sum()
    }

    /// Entries in each array: the largest array the pool serves.
    pub fn max_entries(&self) -> usize {
        self.max_entries
    }

    /// The allocator the pool's memory came from.
    pub fn allocator(&self) -> &A {
        &self.allocator
    }

    #[inline]
    fn word(&self, word: usize) -> &AtomicUsize {
        debug_assert!(word < self.words);
        // SAFETY: the bitmap's `words` words were initialised at creation
        // and live as long as the pool; they are only used atomically.
        unsafe { self.bitmap.add(word).as_ref() }
    }

    /// Bytes between the starts of two neighbouring arrays.
    #[inline]
    fn stride(&self) -> usize {
        self.max_entries * core::mem::size_of::<SgEntry<Pg>>()
    }
}

impl<Pg: Copy, A: Allocator> Drop for ChunkPool<Pg, A> {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: allocated in `new_in` from this allocator with this
            // layout. No array is in use: every table that took one borrowed
            // or owned the pool and gave it back first (a table that was
            // forgotten keeps its arrays unreachable, so freeing them is
            // harmless).
            unsafe { self.allocator.deallocate(self.memory, self.layout) };
        }
    }
}

impl<Pg: Copy, A: Allocator> fmt::Debug for ChunkPool<Pg, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkPool")
            .field("capacity", &self.arrays)
            .field("available", &self.available())
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

// SAFETY: array `i` (the `max_entries` entries from `i * max_entries` on) is
// handed out only by the call that set bit `i`, and becomes available again
// only when `free` clears that bit, so no two users hold it at once; the
// acquire on taking pairs with the release on giving back, so the previous
// user's accesses happen before the next user's. Arrays are aligned and
// sized for `max_entries >= entries` entries, inside memory the pool owns
// until it is dropped, which cannot happen while a borrower uses it.
unsafe impl<Pg: Copy, A: Allocator> ChunkAllocator<Pg> for ChunkPool<Pg, A> {
    #[inline]
    fn max_entries(&self) -> usize {
        self.max_entries
    }

    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error> {
        if entries == 0 {
            return Err(Error::NoEntries);
        }
        if entries > self.max_entries {
            return Err(Error::ChunkTooLarge {
                requested: entries,
                max: self.max_entries,
            });
        }
        let start = self.hint.load(Ordering::Relaxed);
        for step in 0..self.words {
            let word_index = (start + step) % self.words;
            let word = self.word(word_index);
            let mut bits = word.load(Ordering::Relaxed);
            while bits != usize::MAX {
                let bit = (!bits).trailing_zeros() as usize;
                match word.compare_exchange_weak(
                    bits,
                    bits | (1 << bit),
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        self.hint.store(word_index, Ordering::Relaxed);
                        let index = word_index * BITS + bit;
                        debug_assert!(index < self.arrays);
                        // SAFETY: `index < arrays` (padding bits are always
                        // set), so the array lies inside the allocation.
                        return Ok(unsafe { self.arrays_start.add(index * self.max_entries) });
                    }
                    Err(now) => bits = now,
                }
            }
        }
        Err(Error::OutOfMemory)
    }

    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize) {
        debug_assert!(entries >= 1 && entries <= self.max_entries);
        let offset = chunk
            .addr()
            .get()
            .wrapping_sub(self.arrays_start.addr().get());
        let index = offset / self.stride();
        if offset % self.stride() != 0 || index >= self.arrays {
            debug_assert!(false, "ChunkPool::free of an array it did not hand out");
            return;
        }
        let bit = 1usize << (index % BITS);
        let before = self.word(index / BITS).fetch_and(!bit, Ordering::Release);
        debug_assert!(before & bit != 0, "ChunkPool::free of an array not in use");
    }
}
