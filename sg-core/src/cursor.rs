//! The chain walker: the one place that follows raw links between arrays.
//!
//! A [`Cursor`] is a data entry of a chained list together with the number of
//! slots that follow it in its array. Knowing the array bounds keeps every
//! step inside memory the list owns, even when an array lacks its end mark.

use core::ptr::NonNull;

use crate::SgEntry;
use crate::hint::prefetch;

/// Entries [`Cursor::seek`] and [`Cursor::count_up_to`] pass over per
/// step in the middle of an array.
const SEEK_BLOCK: usize = 8;

/// Whether a link or an end mark is among `slots`: one test of their
/// or-ed flags.
#[inline]
fn any_stop<Pg: Copy>(slots: &[SgEntry<Pg>]) -> bool {
    slots.iter().fold(0, |bits, slot| bits | slot.stop_bits()) != 0
}

/// Cache lines of the next array to prefetch when a walk enters an array.
const LOOKAHEAD_LINES: usize = 4;

/// A data entry of a chained list and the slots after it in its array.
///
/// # Invariants
///
/// `entry` points to an initialised data entry (not a link) followed by
/// `after` initialised slots in the same array; the arrays reached through
/// links stay valid and unwritten for the lifetime the owner of the cursor
/// hands out (the contract of [`SgEntry::set_link`]).
pub(crate) struct Cursor<Pg: Copy> {
    entry: NonNull<SgEntry<Pg>>,
    after: usize,
}

impl<Pg: Copy> Clone for Cursor<Pg> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Pg: Copy> Copy for Cursor<Pg> {}

impl<Pg: Copy> Cursor<Pg> {
    /// The first data entry at or after `slot`, an array of `slots` slots,
    /// following links; `None` when there is none.
    ///
    /// # Safety
    ///
    /// `slot` points to `slots` initialised entries, and every link reached
    /// from them satisfies the contract of [`SgEntry::set_link`].
    #[inline]
    pub(crate) unsafe fn first(mut slot: NonNull<SgEntry<Pg>>, mut slots: usize) -> Option<Self> {
        loop {
            if slots == 0 {
                return None;
            }
            // SAFETY: `slots >= 1`, so `slot` points to an initialised entry.
            let entry = unsafe { slot.as_ref() };
            match entry.link() {
                Some(target) => {
                    slot = target.cast();
                    slots = target.len();
                }
                None => {
                    // INVARIANT: `slot` is a data entry of an array of
                    // `slots` initialised slots (the caller's promise, or a
                    // link target, which `set_link`'s contract makes so).
                    return Some(Cursor {
                        entry: slot,
                        after: slots - 1,
                    });
                }
            }
        }
    }

    /// The entry under the cursor.
    ///
    /// # Safety
    ///
    /// The arrays of the list stay valid and unwritten for `'a`.
    #[inline]
    pub(crate) unsafe fn entry<'a>(self) -> &'a SgEntry<Pg> {
        // SAFETY: the type invariant makes `entry` valid; the caller makes it
        // live for `'a`.
        unsafe { self.entry.as_ref() }
    }

    /// The slots of the cursor's array from its entry to the array's end,
    /// at most `limit` of them (at least 1 when `limit` is).
    ///
    /// # Safety
    ///
    /// As for [`entry`](Self::entry).
    #[inline]
    pub(crate) unsafe fn slots<'a>(self, limit: usize) -> &'a [SgEntry<Pg>] {
        // SAFETY: the entry and the `after` slots following it are
        // initialised slots of one array (type invariant), valid and
        // unwritten for `'a` (the caller's promise).
        unsafe { core::slice::from_raw_parts(self.entry.as_ptr(), (self.after + 1).min(limit)) }
    }

    /// The number of data entries from this one on, at most `limit`
    /// (at least 1): the count stops after an end-marked entry and at the
    /// end of an array without a link, like repeated [`next`](Self::next),
    /// but walks each array with one load per entry, and counts an array
    /// whose link carries its byte count ([`SgEntry::array_bytes`]) from
    /// that link alone.
    ///
    /// # Safety
    ///
    /// As for [`entry`](Self::entry).
    #[inline]
    pub(crate) unsafe fn count_up_to(self, limit: usize) -> usize {
        let (mut entry, mut after) = (self.entry, self.after);
        let mut count = 0;
        loop {
            // SAFETY: `after` slots follow `entry` in its array.
            let last = unsafe { entry.add(after).as_ref() };
            if count + after < limit && last.array_bytes().is_some() {
                // A link with its array's byte count: by that count's
                // contract, every slot before it is a data entry without
                // the end mark, so the `after` slots from `entry` on are
                // counted at once (wherever in the array the walk starts).
                count += after;
                // SAFETY: the link is an initialised slot of the array;
                // links obey `set_link`'s contract.
                match unsafe { Cursor::first(entry.add(after), 1) } {
                    Some(next) => (entry, after) = (next.entry, next.after),
                    None => return count,
                }
                continue;
            }
            // Look ahead: when this array ends in a link, start fetching the
            // next array now, so that the walk does not stall there (memory
            // prefetchers stop at page boundaries, and arrays are separate
            // allocations).
            if let Some(next) = last.link() {
                let first = next.cast::<u8>().as_ptr().cast_const();
                // The first lines of the next array; the processor's own
                // prefetcher takes over from there.
                for line in 0..LOOKAHEAD_LINES {
                    prefetch(first.wrapping_add(line * 64));
                }
            }
            // The data entries of this array from `entry` on, then the slot
            // that ends the walk or links onwards: first in blocks that end
            // before the array's last slot and the limit, with one test of
            // their or-ed flags each.
            let mut index = 0;
            while index + SEEK_BLOCK <= after && count + SEEK_BLOCK < limit {
                // SAFETY: `index + SEEK_BLOCK <= after`, so the slots lie in
                // the array, which the caller keeps valid.
                let block =
                    unsafe { core::slice::from_raw_parts(entry.add(index).as_ptr(), SEEK_BLOCK) };
                if any_stop(block) {
                    break;
                }
                count += SEEK_BLOCK;
                index += SEEK_BLOCK;
            }
            loop {
                // SAFETY: `index <= after`, so the slot lies in the array
                // (the type invariant), which the caller keeps valid.
                let slot = unsafe { entry.add(index).as_ref() };
                if slot.is_chain_or_last() {
                    break;
                }
                count += 1;
                if count == limit || index == after {
                    return count;
                }
                index += 1;
            }
            // SAFETY: as above.
            let slot = unsafe { entry.add(index) };
            // SAFETY: as above; the slot is initialised.
            if unsafe { slot.as_ref() }.is_last() {
                return count + 1;
            }
            // A link: continue with the first data entry it leads to.
            // SAFETY: the slot and the `after - index` slots after it are in
            // the array; links obey `set_link`'s contract.
            match unsafe { Cursor::first(slot, after - index + 1) } {
                Some(next) => (entry, after) = (next.entry, next.after),
                None => return count,
            }
        }
    }

    /// The data entry holding byte `skip` of a walk that starts at this
    /// entry, with `skip_in_entry` bytes of it already skipped, and visits
    /// at most `entries` data entries: that entry, the entries left from
    /// it on (itself included), and how far into it the byte is; `None`
    /// when the walk ends first (after an end-marked entry, at the end of
    /// an array without a link, or after `entries` entries).
    ///
    /// Like repeated [`next`](Self::next) while summing lengths, but walks
    /// each array in a tight loop, one flags and one length load per entry.
    ///
    /// # Safety
    ///
    /// As for [`entry`](Self::entry).
    #[inline]
    pub(crate) unsafe fn seek(
        self,
        skip_in_entry: u32,
        skip: u64,
        mut entries: usize,
    ) -> Option<(Self, usize, u32)> {
        let (mut entry, mut after) = (self.entry, self.after);
        // Count from the start of the first entry, with the bytes already
        // skipped in it (at most its length) added to the target: then every
        // entry counts its whole length, with no subtraction per entry.
        // SAFETY: the cursor's entry is valid (type invariant), and the
        // caller keeps it so.
        let first_len = unsafe { entry.as_ref() }.len();
        let skip_in_entry = skip_in_entry.min(first_len);
        let target = skip + u64::from(skip_in_entry);
        let mut position = 0u64;
        // Whether `entry` is the first slot of its array: true after
        // following a link (which leads to an array's first slot), not for
        // the cursor the seek starts from.
        let mut array_start = false;
        loop {
            // The slots of this array the walk may visit: up to its last
            // slot, and no more than the entries left.
            let span = (after + 1).min(entries);
            if array_start && span == after + 1 {
                // The whole array is in the view: when its link carries the
                // array's byte count and the target lies past those bytes,
                // pass the array in one step, reading that slot alone.
                // SAFETY: the `after` slots after the entry lie in its
                // array, which the caller keeps valid.
                let last = unsafe { entry.add(after).as_ref() };
                let past = last
                    .array_bytes()
                    .and_then(|bytes| position.checked_add(bytes))
                    .filter(|&end| end <= target);
                if let Some(end) = past {
                    // `array_bytes`' contract: the `after` slots before the
                    // link are data entries without the end mark, whose
                    // lengths sum to the count.
                    position = end;
                    entries -= after;
                    // SAFETY: the link is an initialised slot of the array;
                    // links obey `set_link`'s contract.
                    match unsafe { Cursor::first(entry.add(after), 1) } {
                        Some(next) => (entry, after) = (next.entry, next.after),
                        None => return None,
                    }
                    continue;
                }
            }
            let mut index = 0;
            // A block of data entries at a time while the target lies
            // beyond it: one test of their summed lengths and or-ed flags.
            while index + SEEK_BLOCK <= span {
                // SAFETY: `index + SEEK_BLOCK <= span <= after + 1`, so the
                // slots lie in the array, which the caller keeps valid.
                let block =
                    unsafe { core::slice::from_raw_parts(entry.add(index).as_ptr(), SEEK_BLOCK) };
                let end = position + block.iter().map(|slot| u64::from(slot.len())).sum::<u64>();
                if end > target || any_stop(block) {
                    break;
                }
                position = end;
                index += SEEK_BLOCK;
            }
            // Then one at a time: the block holding the target, a link or
            // an end mark, and the last few slots.
            while index < span {
                // SAFETY: `index <= after`, so the slot lies in the array
                // (the type invariant), which the caller keeps valid.
                let slot = unsafe { entry.add(index).as_ref() };
                // One test of the flags for the common case of a data
                // entry in the middle of an array.
                let stop = slot.is_chain_or_last();
                if stop && slot.is_chain() {
                    break;
                }
                let end = position + u64::from(slot.len());
                if end > target {
                    // INVARIANT: a data entry (not a link) of the array,
                    // followed by the `after - index` slots of the array.
                    let cursor = Cursor {
                        // SAFETY: as above.
                        entry: unsafe { entry.add(index) },
                        after: after - index,
                    };
                    // Less than the entry's length, so it fits a u32.
                    let into_entry = (target - position) as u32;
                    return Some((cursor, entries - index, into_entry));
                }
                if stop {
                    // The end mark: the walk ends here.
                    return None;
                }
                position = end;
                index += 1;
            }
            if index == span {
                // The array ended without a link, or no entry is left.
                return None;
            }
            entries -= index;
            // A link at `index`: continue with the first data entry it
            // leads to.
            // SAFETY: the slot and the `after - index` slots after it are in
            // the array; links obey `set_link`'s contract.
            match unsafe { Cursor::first(entry.add(index), after - index + 1) } {
                Some(next) => (entry, after) = (next.entry, next.after),
                None => return None,
            }
            array_start = true;
        }
    }

    /// The next data entry (the kernel's `sg_next`): none after an
    /// end-marked entry or at the end of an array without a link.
    ///
    /// # Safety
    ///
    /// As for [`entry`](Self::entry).
    #[inline]
    pub(crate) unsafe fn next(self) -> Option<Self> {
        // SAFETY: the caller keeps the arrays valid.
        if unsafe { self.entry.as_ref() }.is_last() || self.after == 0 {
            return None;
        }
        // SAFETY: `after >= 1`, so the following slot lies in the same array.
        let slot = unsafe { self.entry.add(1) };
        // SAFETY: `slot` starts the `after` slots that the invariant says are
        // initialised; links reached from them obey `set_link`'s contract.
        unsafe { Cursor::first(slot, self.after) }
    }
}
