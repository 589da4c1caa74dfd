//! Blocks: one allocation ([`ChunkAllocator::alloc_block`]) that holds many
//! of a chain's arrays back to back, for a table built all at once.
//!
//! A block starts with a header (`Header`, in its first slots, never read
//! as entries) that records its size and the next block the chain owns, so
//! that a chain that takes over another's arrays in a join takes over its
//! blocks with them, without allocating. The arrays in a block are never
//! given back one by one; `Drop` gives the blocks back after every array.

use core::mem::{align_of, size_of};
use core::ptr::NonNull;

use sg_core::{ChunkAllocator, SgEntry};

use super::Chain;

/// Tables of at least this many arrays take them from one block when the
/// allocator gives one: below it, the arrays of a table fit in the
/// default allocator's per-thread cache (`CachedGlobal::CACHED_BLOCKS`).
pub(super) const BLOCK_FROM_ARRAYS: usize = 64;

/// Bytes left empty after each array in a block. Arrays of a page laid a
/// page apart would put every link at the same offset in its page (and in
/// the same few cache sets), and a walk that follows the links (`count`,
/// a skip) missed the cache on each: `walk_1m` ran at 0.22-0.29 ns per
/// entry against 0.08 for arrays from the heap, which places them 16 bytes
/// further each (its chunk header). With this gap the walk is level with
/// separate arrays: alternated on a Zen 4 EPYC, medians 0.105 ns against
/// 0.121, where a 32-byte gap gave 0.146 and 64 bytes 0.125.
pub(super) const GAP_BYTES: usize = 16;

/// The slots a block takes for `arrays` arrays of `slots` slots in all,
/// their gaps included; `None` on overflow.
pub(super) fn block_slots<Pg: Copy>(slots: usize, arrays: usize) -> Option<usize> {
    let gaps = arrays
        .checked_mul(GAP_BYTES)?
        .div_ceil(size_of::<SgEntry<Pg>>());
    slots.checked_add(gaps)
}

/// Where the array after `array` (of `slots` slots) starts in a block.
///
/// # Safety
///
/// `array` and the `slots` slots and gap after it lie in one block (its
/// end may be the block's end).
pub(super) unsafe fn after<Pg: Copy>(
    array: NonNull<SgEntry<Pg>>,
    slots: usize,
) -> NonNull<SgEntry<Pg>> {
    const {
        assert!(GAP_BYTES % align_of::<SgEntry<Pg>>() == 0);
    }
    // SAFETY: the caller's promise; the gap keeps the alignment of
    // entries (asserted above).
    unsafe { array.add(slots).byte_add(GAP_BYTES) }
}

/// What a block records of itself, in its first slots.
#[derive(Clone, Copy)]
struct Header<Pg: Copy> {
    /// The next block of the same chain.
    next: Option<NonNull<SgEntry<Pg>>>,
    /// The block's size in entries, its header's slots included (what
    /// `alloc_block` was given).
    entries: usize,
}

/// The slots a block's header takes.
const fn header_slots<Pg: Copy>() -> usize {
    size_of::<Header<Pg>>().div_ceil(size_of::<SgEntry<Pg>>())
}

/// The header at the start of `block`.
///
/// # Safety
///
/// `block` is a block of a chain (its header written by
/// [`Chain::alloc_block`]) that has not been given back.
unsafe fn header<Pg: Copy>(block: NonNull<SgEntry<Pg>>) -> Header<Pg> {
    // SAFETY: the caller's promise: the header was written there, aligned
    // (see `Chain::alloc_block`), and the block is still allocated.
    unsafe { block.cast::<Header<Pg>>().read() }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Chain<Pg, C> {
    /// A block with room for `slots` slots of arrays (their gaps included:
    /// [`block_slots`]),
    /// owned by the chain from now on (given back by `Drop`); where its
    /// first array slot is. Its slots are zero bytes: empty entries. `None`
    /// when the allocator gives no block.
    pub(super) fn alloc_block(&mut self, slots: usize) -> Option<NonNull<SgEntry<Pg>>> {
        const {
            assert!(align_of::<Header<Pg>>() <= align_of::<SgEntry<Pg>>());
        }
        let entries = slots.checked_add(header_slots::<Pg>())?;
        let block = self.chunks.alloc_block(entries)?;
        // SAFETY: `alloc_block` gave a block of `entries` entries, aligned
        // for entries and so for the header (asserted above), which fits
        // in its first `header_slots` slots; the block is the chain's.
        unsafe {
            block.cast::<Header<Pg>>().write(Header {
                next: self.blocks,
                entries,
            });
        }
        self.blocks = Some(block);
        // SAFETY: the header's slots are within the block.
        Some(unsafe { block.add(header_slots::<Pg>()) })
    }

    /// Whether `array` lies in one of the chain's blocks.
    pub(super) fn in_blocks(&self, array: NonNull<SgEntry<Pg>>) -> bool {
        let address = array.as_ptr().addr();
        let mut next = self.blocks;
        while let Some(block) = next {
            // SAFETY: a block the chain owns, not given back.
            let header = unsafe { header(block) };
            let start = block.as_ptr().addr();
            // The block is one allocation: its end does not overflow.
            let end = start + header.entries * size_of::<SgEntry<Pg>>();
            if (start..end).contains(&address) {
                return true;
            }
            next = header.next;
        }
        false
    }

    /// Gives back the first of the chain's blocks; `false` when none is
    /// left. The chain moves past the block before the allocator is
    /// called. Only for dropping, once no array is left.
    pub(super) fn free_first_block(&mut self) -> bool {
        debug_assert_eq!(self.arrays, 0, "blocks go after every array");
        let Some(block) = self.blocks else {
            return false;
        };
        // SAFETY: a block the chain owns, not given back.
        let header = unsafe { header(block) };
        self.blocks = header.next;
        // SAFETY: the block came from `chunks.alloc_block(entries)` (or an
        // allocator whose blocks `chunks` may free, for a block a join took
        // over); no array of the chain is left to reach it, and the chain
        // no longer lists it, so it is given back once.
        unsafe { self.chunks.free_block(block, header.entries) };
        true
    }

    /// Takes over `other`'s blocks (with its arrays, which a join has just
    /// taken over); `other` is left with none.
    pub(super) fn take_blocks(&mut self, other: &mut Self) {
        let Some(theirs) = other.blocks.take() else {
            return;
        };
        let Some(mut last) = self.blocks else {
            self.blocks = Some(theirs);
            return;
        };
        loop {
            // SAFETY: a block the chain owns, not given back.
            let header = unsafe { header(last) };
            match header.next {
                Some(next) => last = next,
                None => {
                    // SAFETY: as above; only the header's `next` changes,
                    // through `&mut self`.
                    unsafe {
                        last.cast::<Header<Pg>>().write(Header {
                            next: Some(theirs),
                            ..header
                        });
                    }
                    return;
                }
            }
        }
    }
}
