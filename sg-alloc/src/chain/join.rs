//! Joining two chains: the second chain's arrays are linked after the
//! first chain's last array and change owner, without copying their
//! entries.
//!
//! A link needs a slot of its own at the end of an array, and the first
//! chain's last array may have none to spare. What happens depends on how
//! many of its slots are unused (see `Room`). Every array this needs is
//! allocated before anything changes, so a failed join leaves both chains
//! as they were.

use core::ptr::NonNull;

use sg_core::{ChunkAllocator, Error, SgEntry};

use super::{Chain, init_slots, link_target, write_link};

/// How the first chain's last array (its tail) makes room for the link,
/// with the new array each way needs.
enum Room<Pg: Copy> {
    /// Exactly one slot is unused, the last one: the link goes there.
    LastSlot,
    /// Every slot holds data: the last data entry moves to a new array of
    /// two slots (this one), itself and the link, and its old slot links to
    /// that array.
    Bridge(NonNull<SgEntry<Pg>>),
    /// Two or more slots are unused: the data entries (at most one array's
    /// worth) move to a new array (this one, of this many slots) of exactly
    /// their count plus the link, which replaces the tail. The old tail is
    /// given back (or, a caller's first array, just released).
    Refit(NonNull<SgEntry<Pg>>, usize),
}

impl<Pg: Copy> Room<Pg> {
    /// The array this way allocated, and its slots.
    fn array(&self) -> Option<(NonNull<SgEntry<Pg>>, usize)> {
        match *self {
            Room::LastSlot => None,
            Room::Bridge(array) => Some((array, 2)),
            Room::Refit(array, slots) => Some((array, slots)),
        }
    }
}

/// An array just allocated and not yet part of a chain: given back when
/// dropped (on an error, or while a panic unwinds) unless kept.
///
/// # Invariants
///
/// `array`, when there is one, came from `chunks.alloc` with that many
/// slots, and nothing else refers to it or frees it.
struct FreeOnDrop<'c, Pg: Copy, C: ChunkAllocator<Pg>> {
    chunks: &'c C,
    array: Option<(NonNull<SgEntry<Pg>>, usize)>,
}

impl<'c, Pg: Copy, C: ChunkAllocator<Pg>> FreeOnDrop<'c, Pg, C> {
    /// Guards `array`.
    ///
    /// # Safety
    ///
    /// `array` came from `chunks.alloc` with that many slots, and nothing
    /// else refers to it or frees it unless it is [kept](Self::keep).
    unsafe fn new(chunks: &'c C, array: Option<(NonNull<SgEntry<Pg>>, usize)>) -> Self {
        // INVARIANT: the caller's promise.
        FreeOnDrop { chunks, array }
    }

    /// The array is used after all: nothing is freed.
    fn keep(mut self) {
        self.array = None;
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Drop for FreeOnDrop<'_, Pg, C> {
    fn drop(&mut self) {
        if let Some((array, slots)) = self.array.take() {
            // SAFETY: allocated from `chunks` with `slots`, and nothing
            // else refers to it or frees it (type invariant), since it was
            // not kept.
            unsafe { self.chunks.free(array, slots) };
        }
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Chain<Pg, C> {
    /// Appends the arrays of `other` to this chain; `other` is left empty.
    ///
    /// The end mark of this chain's last entry goes; `other`'s stays. The
    /// entries of `other` stay in its arrays, which this chain now frees,
    /// with the exception of a borrowed first array of `other` (a caller's
    /// first chunk), which this chain must never free: its slots move to a
    /// new array, and the borrowed array is cleared and released.
    ///
    /// The caller promises that arrays allocated by `other.chunks` may be
    /// given back to `self.chunks` (see `SameSource`).
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] when the counts of the joined chain overflow,
    /// and what the allocator returns when a new array cannot be had (a
    /// borrowed first array of `other` larger than the allocator serves
    /// gives [`Error::ChunkTooLarge`]). Both chains are then unchanged.
    pub(crate) fn join(&mut self, other: &mut Self) -> Result<(), Error> {
        if other.arrays == 0 {
            return Ok(());
        }
        if self.arrays == 0 {
            // Nothing to link from: this chain becomes `other`. A borrowed
            // head stays the head, so it stays borrowed and unfreed.
            core::mem::swap(self, other);
            return Ok(());
        }
        let overflow = Error::Overflow {
            what: "joined table",
        };
        let entries = self.entries.checked_add(other.entries).ok_or(overflow)?;
        let byte_len = self.byte_len.checked_add(other.byte_len).ok_or(overflow)?;
        let arrays = self
            .arrays
            .checked_add(other.arrays)
            .and_then(|arrays| arrays.checked_add(1))
            .ok_or(overflow)?;
        debug_assert!(self.tail_used >= 1 && self.tail_used <= self.tail_slots);

        // Every allocation first; nothing has changed if one fails.
        let room = match self.tail_slots - self.tail_used {
            0 => Room::Bridge(self.chunks.alloc(2)?),
            1 => Room::LastSlot,
            _ => {
                let slots = self.tail_used + 1;
                Room::Refit(self.chunks.alloc(slots)?, slots)
            }
        };
        let head_copy = if other.borrowed_head {
            // The room's array goes back if this allocation fails or the
            // allocator panics in it.
            // SAFETY: the room's array was allocated just above from
            // `self.chunks` with the slots `array` gives, and nothing refers
            // to it yet.
            let room_array = unsafe { FreeOnDrop::new(&self.chunks, room.array()) };
            let copy = self.chunks.alloc(other.head_slots)?;
            room_array.keep();
            Some(copy)
        } else {
            None
        };

        if let Some(copy) = head_copy {
            // SAFETY: `copy` has room for `head_slots` entries and is not
            // the borrowed head; the head's slots are initialised. The copy
            // takes over the head's entries and its link (whose target is
            // unchanged); the borrowed array is then emptied, so it holds no
            // stale link, and released (the promise of `with_first_array`
            // ends with `other`'s ownership of it, which ends here).
            unsafe {
                copy.copy_from_nonoverlapping(other.head, other.head_slots);
                init_slots(other.head, other.head_slots);
            }
            if other.arrays == 1 {
                other.tail = copy;
            }
            other.head = copy;
            other.borrowed_head = false;
        }

        let target = NonNull::slice_from_raw_parts(other.head, other.head_slots);
        // An old tail that a refit replaces, given back only once both
        // chains are consistent again: an allocator that panics in `free`
        // then leaves no chain that still reaches the array.
        let mut retired = None;
        match room {
            Room::LastSlot => {
                if let Some(last) = self.last_mut() {
                    last.unmark_end();
                }
                // SAFETY: the tail's last slot is unused (`tail_used ==
                // tail_slots - 1`) and the others are its data entries.
                // `target` is `other`'s first array, initialised and owned
                // by this chain from now on; `other`'s arrays are not this
                // chain's, so there is no cycle.
                unsafe { write_link(self.tail, self.tail_slots, target, Some(self.tail_bytes)) };
            }
            Room::Bridge(bridge) => {
                // SAFETY: the full tail's last slot is an initialised data
                // entry; it moves to the bridge's first slot and its own
                // slot becomes the link to the bridge, which is initialised
                // by then, owned by the chain from now on (allocated from
                // `self.chunks` with 2 slots, the count its link records).
                // The bridge links to `other`'s first array as above.
                unsafe {
                    let mut moved = self.tail.add(self.tail_slots - 1).read();
                    moved.unmark_end();
                    let moved_bytes = u64::from(moved.len());
                    bridge.write(moved);
                    write_link(bridge, 2, target, Some(moved_bytes));
                    let to_bridge = NonNull::slice_from_raw_parts(bridge, 2);
                    let rest = self.tail_bytes - moved_bytes;
                    write_link(self.tail, self.tail_slots, to_bridge, Some(rest));
                }
                self.arrays += 1;
            }
            Room::Refit(array, slots) => {
                let used = self.tail_used;
                // SAFETY: `array` has room for `used + 1` entries; the
                // tail's first `used` slots are initialised data entries,
                // which move there, the last of them losing its end mark;
                // the last slot links to `other`'s first array as above.
                unsafe {
                    array.copy_from_nonoverlapping(self.tail, used);
                    array.add(used - 1).as_mut().unmark_end();
                    write_link(array, used + 1, target, Some(self.tail_bytes));
                }
                let (old, old_slots) = (self.tail, self.tail_slots);
                if self.arrays == 1 {
                    if self.borrowed_head {
                        // SAFETY: the borrowed head is this chain's to use
                        // while it exists; emptied so that it holds no stale
                        // data, and from now on no longer part of the chain.
                        unsafe { init_slots(old, old_slots) };
                    } else {
                        retired = Some((old, old_slots));
                    }
                    self.head = array;
                    self.head_slots = slots;
                    self.borrowed_head = false;
                } else {
                    let (previous, previous_slots) = self.array_before_tail();
                    let to_array = NonNull::slice_from_raw_parts(array, slots);
                    // SAFETY: the previous array's last slot is the link to
                    // the old tail, after its data entries; it now links to
                    // the replacement, owned by the chain (allocated from
                    // `self.chunks` with `slots`).
                    unsafe { write_link(previous, previous_slots, to_array, None) };
                    // Not borrowed: only a head can be.
                    retired = Some((old, old_slots));
                }
            }
        }

        self.tail = other.tail;
        self.tail_slots = other.tail_slots;
        self.tail_used = other.tail_used;
        self.arrays += other.arrays;
        debug_assert!(self.arrays <= arrays);
        self.entries = entries;
        self.byte_len = byte_len;
        self.tail_bytes = other.tail_bytes;
        // `other` gives up its arrays: they belong to this chain now.
        other.head = NonNull::dangling();
        other.head_slots = 0;
        other.tail = NonNull::dangling();
        other.tail_slots = 0;
        other.tail_used = 0;
        other.arrays = 0;
        other.entries = 0;
        other.byte_len = 0;
        other.tail_bytes = 0;
        self.take_blocks(other);
        if let Some((old, old_slots)) = retired {
            if !self.in_blocks(old) {
                // SAFETY: the old tail, neither borrowed nor in a block,
                // came from `self.chunks` (or an allocator whose arrays it
                // may free) with `old_slots` slots, and neither chain
                // reaches it any more.
                unsafe { self.chunks.free(old, old_slots) };
            }
            // One in a block goes back with the block.
        }
        Ok(())
    }

    /// The array whose last slot links to the tail, and its slot count
    /// (a walk over the links, one step per array; no entry is read).
    fn array_before_tail(&self) -> (NonNull<SgEntry<Pg>>, usize) {
        debug_assert!(self.arrays >= 2);
        let mut array = self.head;
        let mut slots = self.head_slots;
        for _ in 2..self.arrays {
            // SAFETY: arrays before the tail end with an initialised link
            // (type invariant).
            let Some(next) = (unsafe { link_target(array.add(slots - 1)) }) else {
                debug_assert!(false, "a non-tail array ends in a link");
                break;
            };
            array = next.cast();
            slots = next.len();
        }
        (array, slots)
    }
}
