//! The walk under every iterator of a view, and the iterators over it.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;

use super::SgList;
use crate::cursor::Cursor;
use crate::{PageProvider, SgEntry};

impl<'a, P: PageProvider> SgList<'a, P> {
    /// A walk over the view's entries, trimmed to its byte range.
    #[inline]
    pub(super) fn walk(&self) -> Walk<'a, P::Page> {
        // INVARIANT: the cursor, entry count and byte range are the view's,
        // whose arrays are valid and unwritten for `'a` (its invariants).
        Walk {
            cursor: if self.limit == 0 { None } else { self.head },
            entries_left: self.entries,
            skip: self.skip,
            bytes_left: self.limit,
            _entries: PhantomData,
        }
    }
}

/// One step of a walk: an entry, the bytes of it skipped at the front, and
/// the bytes of it in the view after trimming both ends.
pub(super) struct Step<'a, Pg: Copy> {
    pub(super) entry: &'a SgEntry<Pg>,
    pub(super) skip: u32,
    pub(super) len: u32,
}

/// The walk under every iterator of a view.
///
/// # Invariants
///
/// `cursor` (when some) is a cursor into arrays that stay valid and
/// unwritten for `'a`, of which at least `entries_left` data entries may be
/// visited (those of the view the walk was made from).
#[derive(Clone, Copy)]
pub(super) struct Walk<'a, Pg: Copy> {
    pub(super) cursor: Option<Cursor<Pg>>,
    pub(super) entries_left: usize,
    pub(super) skip: u32,
    /// Bytes the view still covers; `u64::MAX` when it has no byte limit
    /// (no list holds that many bytes, so the count never runs out then).
    pub(super) bytes_left: u64,
    _entries: PhantomData<&'a [SgEntry<Pg>]>,
}

impl<'a, Pg: Copy> Walk<'a, Pg> {
    /// The next entry and the bytes of it in the view.
    #[inline]
    pub(super) fn next(&mut self) -> Option<Step<'a, Pg>> {
        if self.entries_left == 0 || self.bytes_left == 0 {
            return None;
        }
        let cursor = self.cursor?;
        // SAFETY: the walk's arrays are valid and unwritten for `'a` (type
        // invariant).
        let entry = unsafe { cursor.entry::<'a>() };
        self.entries_left -= 1;
        // Step only while entries are left: the slot after a view's last
        // entry need not be valid (a table's spare slot, say).
        self.cursor = if self.entries_left > 0 {
            // SAFETY: as above.
            unsafe { cursor.next() }
        } else {
            None
        };
        let skip = core::mem::take(&mut self.skip);
        // At most the entry's length, so it fits a u32.
        let len = u64::from(entry.len().saturating_sub(skip)).min(self.bytes_left) as u32;
        self.bytes_left -= u64::from(len);
        Some(Step { entry, skip, len })
    }
}

/// Declares an iterator over a walk: the struct, `Clone`, `Send`, `Sync`
/// and `FusedIterator` (a walk that ended stays ended).
macro_rules! walk_iterator {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<'a, Pg: Copy> {
            pub(super) walk: Walk<'a, Pg>,
        }

        impl<Pg: Copy> Clone for $name<'_, Pg> {
            fn clone(&self) -> Self {
                $name { walk: self.walk }
            }
        }

        // SAFETY: the iterator reads entries of a view, shared and
        // read-only, like `SgList` (which is `Send` and `Sync` under the
        // same bounds).
        unsafe impl<Pg: Copy + Send + Sync> Send for $name<'_, Pg> {}
        // SAFETY: as for `Send`; a shared reference allows nothing but
        // reading.
        unsafe impl<Pg: Copy + Send + Sync> Sync for $name<'_, Pg> {}

        impl<Pg: Copy> FusedIterator for $name<'_, Pg> {}
    };
}

walk_iterator! {
    /// Iterator over the data entries of a view: see [`SgList::iter`].
    Entries
}

walk_iterator! {
    /// Iterator over the byte pieces of a view: see [`SgList::segments`].
    Segments
}

impl<'a, Pg: Copy> Iterator for Entries<'a, Pg> {
    type Item = &'a SgEntry<Pg>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next().map(|step| step.entry)
    }
}

impl<Pg: Copy + fmt::Debug> fmt::Debug for Entries<'_, Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entries")
            .field("entries_left", &self.walk.entries_left)
            .finish_non_exhaustive()
    }
}

/// The bytes of one entry that lie in a view: see [`SgList::segments`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment<'a, Pg: Copy> {
    /// The whole, untrimmed entry.
    pub entry: &'a SgEntry<Pg>,
    /// The entry's page.
    pub page: Pg,
    /// Where the bytes start, counted from the start of `page`; a page or
    /// more when they start in a later page of the run.
    pub offset: u64,
    /// How many bytes, at least 1.
    pub len: u32,
}

impl<'a, Pg: Copy> Iterator for Segments<'a, Pg> {
    type Item = Segment<'a, Pg>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let step = self.walk.next()?;
            if step.len == 0 {
                continue;
            }
            let Some(page) = step.entry.page() else {
                continue;
            };
            return Some(Segment {
                entry: step.entry,
                page,
                offset: u64::from(step.entry.offset()) + u64::from(step.skip),
                len: step.len,
            });
        }
    }
}

impl<Pg: Copy + fmt::Debug> fmt::Debug for Segments<'_, Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segments")
            .field(
                "bytes_left",
                &Some(self.walk.bytes_left).filter(|&left| left != u64::MAX),
            )
            .finish_non_exhaustive()
    }
}
