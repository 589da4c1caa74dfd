//! The chain walker: the one place that follows raw links between arrays.
//!
//! A [`Cursor`] is a data entry of a chained list together with the number of
//! slots that follow it in its array. Knowing the array bounds keeps every
//! step inside memory the list owns, even when an array lacks its end mark.

use core::ptr::NonNull;

use crate::SgEntry;

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
