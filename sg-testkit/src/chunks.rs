//! Chunk allocators that count, check and fail on demand.

use std::collections::HashMap;
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use sg_core::{ChunkAllocator, Error, HeapChunks, SgEntry};

/// Gives an array back to the inner allocator, its entry type erased.
type FreeErased<C> = unsafe fn(&C, NonNull<u8>, usize);

/// # Safety
///
/// The contract of `ChunkAllocator::free` for `SgEntry<Pg>` arrays.
unsafe fn free_erased<Pg: Copy, C: ChunkAllocator<Pg>>(
    inner: &C,
    array: NonNull<u8>,
    entries: usize,
) {
    // SAFETY: the caller's promise is `free`'s.
    unsafe { inner.free(array.cast::<SgEntry<Pg>>(), entries) }
}

/// # Safety
///
/// The contract of `ChunkAllocator::free_block` for `SgEntry<Pg>` blocks.
unsafe fn free_block_erased<Pg: Copy, C: ChunkAllocator<Pg>>(
    inner: &C,
    block: NonNull<u8>,
    entries: usize,
) {
    // SAFETY: the caller's promise is `free_block`'s.
    unsafe { inner.free_block(block.cast::<SgEntry<Pg>>(), entries) }
}

/// A live array or block: where it is, its entry count, which of the two
/// it is and how to free it.
struct LiveArray<C> {
    pointer: NonNull<u8>,
    entries: usize,
    block: bool,
    free: FreeErased<C>,
}

struct Counts<C> {
    /// Live arrays by address.
    live: HashMap<usize, LiveArray<C>>,
    allocations: usize,
    frees: usize,
    /// Sizes of every successful allocation, in order.
    sizes: Vec<usize>,
    calls: usize,
    /// Blocks given out since creation.
    blocks: usize,
}

impl<C> Default for Counts<C> {
    fn default() -> Self {
        Counts {
            live: HashMap::new(),
            allocations: 0,
            frees: 0,
            sizes: Vec::new(),
            calls: 0,
            blocks: 0,
        }
    }
}

/// A [`ChunkAllocator`] wrapper that counts live arrays and their sizes and
/// checks every free against an allocation of the same size.
///
/// Dropping it with arrays still live fails the test (unless the thread is
/// already panicking).
///
/// It serves no blocks ([`ChunkAllocator::alloc_block`]), so that a table
/// takes its arrays one at a time and each is counted, unless made with
/// [`serving_blocks`](Self::serving_blocks).
///
/// # Examples
///
/// ```
/// use sg_core::ChunkAllocator;
/// use sg_testkit::CountingChunks;
///
/// let chunks = CountingChunks::new();
/// let array = ChunkAllocator::<u64>::alloc(&chunks, 5).unwrap();
/// assert_eq!(chunks.live(), 1);
/// assert_eq!(chunks.live_entries(), 5);
/// // SAFETY: allocated above with 5 entries and not used again.
/// unsafe { ChunkAllocator::<u64>::free(&chunks, array, 5) };
/// chunks.assert_clean();
/// ```
pub struct CountingChunks<C = HeapChunks> {
    inner: C,
    counts: Mutex<Counts<C>>,
    fail_at: Option<usize>,
    serves_blocks: bool,
    check_on_drop: AtomicBool,
}

// SAFETY: the pointers in the counts are arrays owned by whoever allocated
// them; the counter only compares them and, on drop, frees leaked ones
// through `inner`, which may be sent.
unsafe impl<C: Send> Send for CountingChunks<C> {}
// SAFETY: all counter state is behind a mutex; `inner` is shared as `&C`.
unsafe impl<C: Sync> Sync for CountingChunks<C> {}

impl CountingChunks<HeapChunks> {
    /// Counting page-sized arrays from the global allocator.
    pub fn new() -> Self {
        Self::wrap(HeapChunks::new())
    }

    /// Counting arrays of at most `max_entries` entries.
    ///
    /// # Panics
    ///
    /// When `max_entries` is below 2.
    pub fn with_max_entries(max_entries: usize) -> Self {
        Self::wrap(
            HeapChunks::new()
                .with_max_entries(max_entries)
                .expect("max_entries of at least 2"),
        )
    }
}

impl Default for CountingChunks<HeapChunks> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C> CountingChunks<C> {
    /// Counting the arrays of `inner`.
    pub fn wrap(inner: C) -> Self {
        CountingChunks {
            inner,
            counts: Mutex::new(Counts::default()),
            fail_at: None,
            serves_blocks: false,
            check_on_drop: AtomicBool::new(true),
        }
    }

    /// The same counter, passing `alloc_block` on to the inner allocator:
    /// each block counts as a call (which [`fail_at`](Self::fail_at) may
    /// refuse) and as a live array until `free_block` gives it back.
    pub fn serving_blocks(mut self) -> Self {
        self.serves_blocks = true;
        self
    }

    /// Blocks given out since creation.
    pub fn blocks(&self) -> usize {
        self.counts().blocks
    }

    /// Blocks given out and not given back.
    pub fn live_blocks(&self) -> usize {
        self.counts()
            .live
            .values()
            .filter(|array| array.block)
            .count()
    }

    fn counts(&self) -> MutexGuard<'_, Counts<C>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts an allocation call; whether it is the one made to fail.
    fn next_call_fails(&self) -> bool {
        let mut counts = self.counts();
        counts.calls += 1;
        self.fail_at == Some(counts.calls - 1)
    }

    /// Arrays (and blocks) allocated and not freed.
    pub fn live(&self) -> usize {
        self.counts().live.len()
    }

    /// Entries in the arrays allocated and not freed.
    pub fn live_entries(&self) -> usize {
        self.counts().live.values().map(|array| array.entries).sum()
    }

    /// Successful allocations since creation.
    pub fn allocations(&self) -> usize {
        self.counts().allocations
    }

    /// Frees since creation.
    pub fn frees(&self) -> usize {
        self.counts().frees
    }

    /// Calls to `alloc`, failed ones included.
    pub fn calls(&self) -> usize {
        self.counts().calls
    }

    /// The entry counts of every successful allocation, in order.
    pub fn sizes(&self) -> Vec<usize> {
        self.counts().sizes.clone()
    }

    /// Turns off the leak check on drop (for tests that leak on purpose);
    /// leaked arrays are still given back to the inner allocator.
    pub fn skip_check_on_drop(&self) {
        self.check_on_drop.store(false, Ordering::Relaxed);
    }

    /// Fails the test if an array is live.
    ///
    /// # Panics
    ///
    /// When arrays were allocated and not freed.
    #[track_caller]
    pub fn assert_clean(&self) {
        let counts = self.counts();
        if !counts.live.is_empty() {
            let mut sizes: Vec<usize> = counts.live.values().map(|array| array.entries).collect();
            sizes.sort_unstable();
            drop(counts);
            panic!(
                "CountingChunks: {} array(s) not freed, of sizes {sizes:?}",
                sizes.len()
            );
        }
    }
}

impl<C> fmt::Debug for CountingChunks<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let counts = self.counts();
        f.debug_struct("CountingChunks")
            .field("live", &counts.live.len())
            .field("allocations", &counts.allocations)
            .field("frees", &counts.frees)
            .field("fail_at", &self.fail_at)
            .finish()
    }
}

impl<C> Drop for CountingChunks<C> {
    fn drop(&mut self) {
        let counts = self
            .counts
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let leaked: Vec<LiveArray<C>> = counts.live.drain().map(|(_, array)| array).collect();
        let live = leaked.len();
        for array in leaked {
            // The arrays' users are gone (they borrowed or owned this
            // allocator), so give the leaked arrays back before reporting.
            // SAFETY: the array is live, from `inner`, with this size and
            // the entry type its `free` was made for; nothing uses it now.
            unsafe { (array.free)(&self.inner, array.pointer, array.entries) };
        }
        if live > 0 && self.check_on_drop.load(Ordering::Relaxed) && !std::thread::panicking() {
            panic!("CountingChunks dropped with {live} array(s) not freed");
        }
    }
}

// SAFETY: arrays come from `inner`, which upholds the contract; this wrapper
// only records them and refuses some calls.
unsafe impl<Pg: Copy, C: ChunkAllocator<Pg>> ChunkAllocator<Pg> for CountingChunks<C> {
    fn max_entries(&self) -> usize {
        self.inner.max_entries()
    }

    fn alloc(&self, entries: usize) -> Result<NonNull<SgEntry<Pg>>, Error> {
        if self.next_call_fails() {
            return Err(Error::OutOfMemory);
        }
        let array = self.inner.alloc(entries)?;
        let mut counts = self.counts();
        counts.allocations += 1;
        counts.sizes.push(entries);
        counts.live.insert(
            array.as_ptr() as usize,
            LiveArray {
                pointer: array.cast(),
                entries,
                block: false,
                free: free_erased::<Pg, C>,
            },
        );
        Ok(array)
    }

    unsafe fn free(&self, chunk: NonNull<SgEntry<Pg>>, entries: usize) {
        let mut counts = self.counts();
        match counts.live.remove(&(chunk.as_ptr() as usize)) {
            Some(array) if array.block => {
                counts.live.insert(chunk.as_ptr() as usize, array);
                drop(counts);
                panic!("CountingChunks: a block given back as an array");
            }
            Some(array) if array.entries == entries => {}
            Some(array) => {
                let allocated = array.entries;
                counts.live.insert(chunk.as_ptr() as usize, array);
                drop(counts);
                panic!("CountingChunks: array of {allocated} entries freed as {entries}");
            }
            None => {
                drop(counts);
                panic!("CountingChunks: free of an array that is not live (double free?)");
            }
        }
        counts.frees += 1;
        drop(counts);
        // SAFETY: the array was live, from `inner`, with this size.
        unsafe { self.inner.free(chunk, entries) }
    }

    fn alloc_block(&self, entries: usize) -> Option<NonNull<SgEntry<Pg>>> {
        if !self.serves_blocks {
            return None;
        }
        if self.next_call_fails() {
            return None;
        }
        let block = self.inner.alloc_block(entries)?;
        let mut counts = self.counts();
        counts.blocks += 1;
        counts.live.insert(
            block.as_ptr() as usize,
            LiveArray {
                pointer: block.cast(),
                entries,
                block: true,
                free: free_block_erased::<Pg, C>,
            },
        );
        Some(block)
    }

    unsafe fn free_block(&self, block: NonNull<SgEntry<Pg>>, entries: usize) {
        let mut counts = self.counts();
        match counts.live.remove(&(block.as_ptr() as usize)) {
            Some(live) if live.block && live.entries == entries => {}
            Some(live) => {
                counts.live.insert(block.as_ptr() as usize, live);
                drop(counts);
                panic!("CountingChunks: free_block of an array, or of another size");
            }
            None => {
                drop(counts);
                panic!("CountingChunks: free_block of a block that is not live");
            }
        }
        drop(counts);
        // SAFETY: the block was live, from `inner`, with this size.
        unsafe { self.inner.free_block(block, entries) }
    }
}

/// A [`CountingChunks`] made to fail: its allocation call with index `k`
/// (counting from 0) returns [`Error::OutOfMemory`]. Make one with
/// [`FailingChunks::at`] or [`CountingChunks::fail_at`].
///
/// # Examples
///
/// ```
/// use sg_core::{ChunkAllocator, Error};
/// use sg_testkit::FailingChunks;
///
/// let chunks = FailingChunks::at(1);
/// let first = ChunkAllocator::<u64>::alloc(&chunks, 2).unwrap();
/// assert_eq!(ChunkAllocator::<u64>::alloc(&chunks, 2), Err(Error::OutOfMemory));
/// // SAFETY: allocated above with 2 entries and not used again.
/// unsafe { ChunkAllocator::<u64>::free(&chunks, first, 2) };
/// ```
pub type FailingChunks<C = HeapChunks> = CountingChunks<C>;

impl CountingChunks<HeapChunks> {
    /// Page-sized arrays from the global allocator, failing call `k`.
    pub fn at(k: usize) -> Self {
        CountingChunks::new().fail_at(k)
    }
}

impl<C> CountingChunks<C> {
    /// The same counter, failing its allocation call with index `k`.
    pub fn fail_at(mut self, k: usize) -> Self {
        self.fail_at = Some(k);
        self
    }
}
