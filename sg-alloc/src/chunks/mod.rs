//! Where a table's arrays of entries come from: the heap (the default), a
//! pool that allocates nothing after its creation, and a caller's first
//! array.

mod first;
#[cfg(target_has_atomic = "ptr")]
mod pool;

pub(crate) use first::chain_with_first;
pub use first::{FirstChunk, WithFirstChunk};
#[cfg(target_has_atomic = "ptr")]
pub use pool::ChunkPool;

pub use sg_core::full_chunk_entries;

/// How many arrays a table of `entries` data entries takes with arrays of
/// at most `max_entries` slots: every array but the last holds
/// `max_entries - 1` data entries and a link. Use it to size a
/// [`ChunkPool`].
///
/// `None` when `max_entries` is below 2 and one array is not enough (the
/// entries cannot be chained).
///
/// # Examples
///
/// ```
/// assert_eq!(sg_alloc::arrays_needed(128, 128), Some(1));
/// assert_eq!(sg_alloc::arrays_needed(129, 128), Some(2));
/// assert_eq!(sg_alloc::arrays_needed(1 << 20, 128), Some(8257));
/// assert_eq!(sg_alloc::arrays_needed(0, 128), Some(0));
/// ```
pub fn arrays_needed(entries: usize, max_entries: usize) -> Option<usize> {
    crate::chain::arrays_for(entries, max_entries, max_entries)
}
