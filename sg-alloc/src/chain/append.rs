//! Appending entries to a chain, all or nothing.

use core::ptr::NonNull;

use crate::unwind::Finish;
use sg_core::{ChunkAllocator, Error, SgEntry};

use super::{Chain, init_slots, link_target};

/// What an [`Appender`] restores when it is not committed.
struct Saved<Pg: Copy> {
    arrays: usize,
    tail: NonNull<SgEntry<Pg>>,
    tail_slots: usize,
    tail_used: usize,
    entries: usize,
    byte_len: u64,
    tail_bytes: u64,
    /// A bitwise copy of the last data entry before the append. Never
    /// handed out; it only goes back into its slot.
    last: Option<SgEntry<Pg>>,
}

/// Entries being added at the end of a chain, all or nothing.
///
/// New arrays are allocated as entries need them, sized by how many entries
/// may still come. Dropping the appender without [`commit`](Self::commit)
/// puts the chain back exactly as it was: the arrays it allocated are given
/// back, the slots it wrote in the old tail are emptied again, and the old
/// last entry gets its length and end mark back.
pub(crate) struct Appender<'c, Pg: Copy, C: ChunkAllocator<Pg>> {
    chain: &'c mut Chain<Pg, C>,
    capacity: usize,
    saved: Saved<Pg>,
    committed: bool,
}

impl<'c, Pg: Copy, C: ChunkAllocator<Pg>> Appender<'c, Pg, C> {
    /// Starts appending to `chain` with arrays of at most `capacity` slots
    /// (at least 2). The last entry loses its end mark until the commit.
    pub(crate) fn begin(chain: &'c mut Chain<Pg, C>, capacity: usize) -> Self {
        debug_assert!(capacity >= 2 && capacity <= chain.chunks.max_entries());
        let last = if chain.arrays == 0 {
            None
        } else {
            // SAFETY: the tail's slot `tail_used - 1` is an initialised data
            // entry; the copy is plain data (not a link) and only ever
            // written back into that slot.
            Some(unsafe { chain.tail.add(chain.tail_used - 1).read() })
        };
        let saved = Saved {
            arrays: chain.arrays,
            tail: chain.tail,
            tail_slots: chain.tail_slots,
            tail_used: chain.tail_used,
            entries: chain.entries,
            byte_len: chain.byte_len,
            tail_bytes: chain.tail_bytes,
            last,
        };
        if let Some(entry) = chain.last_mut() {
            entry.unmark_end();
        }
        Appender {
            chain,
            capacity,
            saved,
            committed: false,
        }
    }

    /// The last data entry so far.
    #[inline]
    pub(crate) fn last(&self) -> Option<&SgEntry<Pg>> {
        self.chain.last()
    }

    /// Makes the last data entry `bytes` longer (merging pages into it).
    ///
    /// # Errors
    ///
    /// [`Error::Overflow`] when its length would not fit a `u32`, and
    /// [`Error::EmptyTable`] when there is no entry.
    pub(crate) fn grow_last(&mut self, bytes: u64) -> Result<(), Error> {
        let entry = self.chain.last_mut().ok_or(Error::EmptyTable)?;
        let page = entry.page().ok_or(Error::EmptyTable)?;
        let length = u64::from(entry.len())
            .checked_add(bytes)
            .and_then(|length| u32::try_from(length).ok())
            .ok_or(Error::Overflow {
                what: "entry length",
            })?;
        let offset = entry.offset();
        // SAFETY: the builder only grows the last entry over the pages an
        // append was given (which continue its run), whose bytes the
        // provider's handles vouch for.
        unsafe { entry.set_page(page, offset, length) };
        // The last entry is the tail's.
        self.chain.byte_len += bytes;
        self.chain.tail_bytes += bytes;
        Ok(())
    }

    /// Room for data entries at the end of the chain: the first free slot
    /// of the tail and how many data entries may be written from it.
    ///
    /// `needed` is how many entries may still be added by this append and
    /// later ones (an upper bound, at least 1): a new array gets room for
    /// that many, and the last free slot of an array is offered for data
    /// only when all of them fit (otherwise it is kept for a link). The
    /// slots offered may be uninitialised; write them, then report them
    /// with [`filled`](Self::filled).
    ///
    /// # Errors
    ///
    /// What the chunk allocator returns when a new array is needed.
    #[inline]
    pub(crate) fn room(&mut self, needed: usize) -> Result<(NonNull<SgEntry<Pg>>, usize), Error> {
        let mut free = self.chain.tail_slots - self.chain.tail_used;
        // Twice at most: with arrays of 2 slots, a full tail's last entry
        // moves to the new array and fills all but its link slot.
        while free == 0 || (free == 1 && needed > 1) {
            self.grow(needed)?;
            free = self.chain.tail_slots - self.chain.tail_used;
        }
        // At least 1: `free >= 2`, or `free == 1` with `needed <= 1`.
        let usable = if needed <= free { free } else { free - 1 };
        // SAFETY: `tail_used <= tail_slots`, so the slot is within the tail
        // or one past its end (never written then: `usable` is 0).
        let slot = unsafe { self.chain.tail.add(self.chain.tail_used) };
        Ok((slot, usable))
    }

    /// Takes in the `count` data entries written at the slot
    /// [`room`](Self::room) gave, holding `bytes` bytes in all.
    ///
    /// # Safety
    ///
    /// `count` is at most what `room` offered, those slots were written with
    /// data entries since (no end mark) describing `bytes` bytes of pages
    /// the builder was given, and nothing else changed the chain meanwhile.
    #[inline]
    pub(crate) unsafe fn filled(&mut self, count: usize, bytes: u64) {
        debug_assert!(self.chain.tail_used + count <= self.chain.tail_slots);
        self.chain.tail_used += count;
        self.chain.entries += count;
        self.chain.byte_len += bytes;
        self.chain.tail_bytes += bytes;
    }

    /// Allocates the next array and links it in; when the tail is full,
    /// its last data entry moves to the new array to make room for the
    /// link.
    #[cold]
    fn grow(&mut self, needed: usize) -> Result<(), Error> {
        let chain = &mut *self.chain;
        let relocate = chain.arrays > 0 && chain.tail_used == chain.tail_slots;
        let slots = needed
            .max(1)
            .saturating_add(usize::from(relocate))
            .min(self.capacity);
        // The new slots stay uninitialised until written: data entries by
        // the builder, the link by the next `attach`, the rest by `commit`.
        // A rollback reads only the links.
        let array = chain.chunks.alloc(slots)?;
        let (moved, moved_bytes) = if relocate {
            // SAFETY: the full tail's last slot is an initialised data
            // entry; it is moved, and its slot becomes the link just below.
            let entry = unsafe { chain.tail.add(chain.tail_slots - 1).read() };
            let bytes = u64::from(entry.len());
            // SAFETY: the new array has `slots >= 2` slots (capacity >= 2).
            unsafe { array.write(entry) };
            (1, bytes)
        } else {
            (0, 0)
        };
        // The moved entry's bytes leave the old tail for the new one.
        chain.tail_bytes -= moved_bytes;
        // SAFETY: the array came from `chain.chunks` with `slots`; its slots
        // are initialised before the appender lets go of the chain (see
        // above); the old tail's last slot is free or was moved above, its
        // other slots are the data entries the append filled (`room` grows
        // only a full tail, or one with just the link slot left), none
        // end-marked (`begin` took the mark off), and `tail_bytes` sums
        // them.
        unsafe { chain.attach(array, slots, false) };
        chain.tail_used = moved;
        chain.tail_bytes = moved_bytes;
        Ok(())
    }

    /// Keeps what was appended; `end` puts the end mark on the last entry.
    pub(crate) fn commit(mut self, end: bool) {
        let chain = &mut *self.chain;
        if chain.arrays > 0 {
            // SAFETY: the tail has `tail_slots` slots; those from `tail_used`
            // on are not data (maybe never written), and become empty
            // entries, restoring the chain's invariant.
            unsafe {
                init_slots(
                    chain.tail.add(chain.tail_used),
                    chain.tail_slots - chain.tail_used,
                );
            }
        }
        if end {
            if let Some(entry) = self.chain.last_mut() {
                entry.mark_end();
            }
        }
        self.committed = true;
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Drop for Appender<'_, Pg, C> {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        let saved = &mut self.saved;
        let chain = &mut *self.chain;
        let new_arrays = chain.arrays - saved.arrays;
        // The first array this append allocated, found before the old
        // tail's last slot (its link) is restored below.
        let first = if new_arrays == 0 {
            None
        } else if saved.arrays == 0 {
            Some(NonNull::slice_from_raw_parts(chain.head, chain.head_slots))
        } else {
            // SAFETY: the old tail's last slot became the link to the first
            // new array when it was attached.
            unsafe { link_target(saved.tail.add(saved.tail_slots - 1)) }
        };
        debug_assert!(
            new_arrays == 0 || first.is_some(),
            "a new array is reachable by its link"
        );
        if saved.arrays == 0 {
            chain.head = NonNull::dangling();
            chain.head_slots = 0;
        } else {
            // SAFETY: the old tail is still allocated and owned by the
            // chain; its slots from `tail_used` on were empty before the
            // append, and the old last entry goes back into its slot.
            unsafe {
                init_slots(
                    saved.tail.add(saved.tail_used),
                    saved.tail_slots - saved.tail_used,
                );
                if let Some(last) = saved.last.take() {
                    saved.tail.add(saved.tail_used - 1).write(last);
                }
            }
        }
        chain.arrays = saved.arrays;
        chain.tail = saved.tail;
        chain.tail_slots = saved.tail_slots;
        chain.tail_used = saved.tail_used;
        chain.entries = saved.entries;
        chain.byte_len = saved.byte_len;
        chain.tail_bytes = saved.tail_bytes;
        // The chain is as before the append and reaches none of the new
        // arrays: they go back, every one even if the allocator panics.
        let chunks = &chain.chunks;
        let free_next = |(next, left): &mut (Option<NonNull<[SgEntry<Pg>]>>, usize)| {
            let Some(array) = next.take().filter(|_| *left > 0) else {
                return false;
            };
            *left -= 1;
            let (start, slots) = (array.cast::<SgEntry<Pg>>(), array.len());
            if *left > 0 {
                // SAFETY: a non-tail new array's last slot is a link
                // written by `attach`; read before the array is freed.
                *next = unsafe { link_target(start.add(slots - 1)) };
            }
            // SAFETY: allocated by this appender from `chain.chunks` with
            // `slots` (the count its link records), unreachable from the
            // chain, and freed once: `next` has moved past it.
            unsafe { chunks.free(start, slots) };
            true
        };
        Finish::new((first, new_arrays), free_next).run();
    }
}
