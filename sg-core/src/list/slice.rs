//! Byte-range slices of a view: finding the entry that holds a byte.

use core::marker::PhantomData;

use super::{SgList, known};
use crate::cursor::Cursor;
use crate::{Error, PageProvider};

impl<'a, P: PageProvider> SgList<'a, P> {
    /// A view of `len` bytes of this view starting `skip` bytes in,
    /// allocating nothing and leaving the entries untouched.
    ///
    /// The first and last entries are trimmed virtually. Slicing a slice
    /// works. When the view knows its length (tables and slices do), it
    /// costs a walk to the first entry of the range that only sums entry
    /// lengths, and nothing for an empty range; otherwise a walk to the
    /// end of the range.
    ///
    /// # Errors
    ///
    /// [`Error::ListTooShort`] when `skip + len` is past the end of the
    /// view, [`Error::Overflow`] when it overflows `u64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{Error, PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0)?;
    /// let mut entries: [SgEntry<_>; 2] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: bytes 0..150 of the page allocated above, in no other list.
    /// unsafe {
    ///     entries[0].set_page(page, 0, 100);
    ///     entries[1].set_page(page, 100, 50);
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let list = unsafe { SgList::new(&entries, &pages) };
    /// let middle = list.slice(90, 40)?; // bytes 90..130: 10 of one entry, 30 of the other
    /// let lengths: Vec<u32> = middle.segments().map(|segment| segment.len).collect();
    /// assert_eq!((lengths, middle.byte_len()), (vec![10, 30], 40));
    /// let inner = middle.slice(5, 10)?; // bytes 95..105 of the list
    /// assert_eq!(inner.segments().map(|segment| segment.offset).collect::<Vec<_>>(), [95, 100]);
    /// // A slice ends where its range ends, not where the list does.
    /// assert_eq!(middle.slice(30, 20).err(), Some(Error::ListTooShort { needed: 50, available: 40 }));
    /// # // SAFETY: allocated above with order 0; the views are not used again.
    /// # unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sglist_slice")]
    pub fn slice(&self, skip: u64, len: u64) -> Result<Self, Error> {
        let end = skip
            .checked_add(len)
            .ok_or(Error::Overflow { what: "slice end" })?;
        if let Some(total) = known(self.known_len) {
            if end > total {
                return Err(Error::ListTooShort {
                    needed: end,
                    available: total,
                });
            }
            // The range is inside the view: only its first entry is to be
            // found, and an empty range needs none.
            if len == 0 {
                return Ok(self.empty());
            }
            let Some((head, entries, skip_in_head)) = self.seek(skip) else {
                debug_assert!(false, "a view holds the bytes its known length says");
                return Err(Error::ListTooShort {
                    needed: end,
                    available: total,
                });
            };
            // INVARIANT: `seek` found the entry holding byte `skip` in the
            // view's arrays; the `len` bytes from it lie in the view, since
            // `end <= total`.
            return Ok(SgList {
                head: Some(head),
                entries,
                skip: skip_in_head,
                limit: len,
                known_len: len,
                provider: self.provider,
                _entries: PhantomData,
            });
        }
        let mut walk = self.walk();
        let mut position = 0u64;
        let mut start = None;
        loop {
            let before = walk;
            let Some(step) = walk.next() else { break };
            let step_end = position + u64::from(step.len);
            if start.is_none() && step_end > skip && len > 0 {
                start = Some((before, skip - position));
            }
            position = step_end;
            if position >= end && (start.is_some() || len == 0) {
                break;
            }
        }
        if position < end {
            return Err(Error::ListTooShort {
                needed: end,
                available: position,
            });
        }
        let Some((at, into_entry)) = start else {
            return Ok(self.empty());
        };
        // `into_entry` is less than the entry's remaining length, a u32.
        let skip_in_head = at.skip + into_entry as u32;
        // INVARIANT: `at` is a step of this view's walk, so its cursor is
        // in the view's arrays; the walk reached `end`, so the view holds
        // the `len` bytes from there.
        Ok(SgList {
            head: at.cursor,
            entries: at.entries_left,
            skip: skip_in_head,
            limit: len,
            known_len: len,
            provider: self.provider,
            _entries: PhantomData,
        })
    }

    /// An empty view with this view's provider.
    #[inline]
    fn empty(&self) -> Self {
        // INVARIANT: no cursor, no entry, no byte.
        SgList {
            head: None,
            entries: 0,
            skip: 0,
            limit: 0,
            known_len: 0,
            provider: self.provider,
            _entries: PhantomData,
        }
    }

    /// The entry holding byte `skip` of the view, the entries left from it
    /// on (itself included), and how far into it that byte is; `None` when
    /// the view ends first.
    ///
    /// This is the walk of a slice of a view that knows its length, with
    /// nothing done per entry but summing its length. Only for `skip`
    /// below that length: the view's own byte limit (a slice's) then never
    /// ends the view before the byte, so it need not be counted.
    #[inline]
    fn seek(&self, skip: u64) -> Option<(Cursor<P::Page>, usize, u32)> {
        // SAFETY: the view's arrays are valid for `'a` (type invariant),
        // and its cursor may visit `entries` data entries.
        unsafe { self.head?.seek(self.skip, skip, self.entries) }
    }

    /// The view from byte `skip` on: this view without its first `skip`
    /// bytes, or an empty view when it holds no byte past them.
    ///
    /// Unlike [`slice`](Self::slice), it needs no length and never fails:
    /// it finds the entry holding byte `skip` by summing lengths, and the
    /// view it returns covers the rest of this one. Copies from a skip
    /// start here. An array whose link carries the array's byte count
    /// ([`SgEntry::array_bytes`](crate::SgEntry::array_bytes), as on every
    /// table of `sg-alloc`) is passed in one step, by reading that link
    /// alone; other entries cost a load or two each, summed eight at a time
    /// in the middle of an array.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0)?;
    /// let mut entries: [SgEntry<_>; 3] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: bytes 0..300 of the page allocated above, in no other list.
    /// unsafe {
    ///     entries[0].set_page(page, 0, 100);
    ///     entries[1].set_page(page, 100, 100);
    ///     entries[2].set_page(page, 200, 100);
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let list = unsafe { SgList::new(&entries, &pages) };
    /// let rest = list.skip_bytes(150);
    /// let pieces: Vec<(u64, u32)> = rest.segments().map(|s| (s.offset, s.len)).collect();
    /// assert_eq!(pieces, [(150, 50), (200, 100)]);
    /// assert_eq!(rest.byte_len(), 150);
    /// assert!(list.skip_bytes(300).is_empty());
    /// # // SAFETY: allocated above with order 0; the views are not used again.
    /// # unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[must_use]
    pub fn skip_bytes(&self, skip: u64) -> Self {
        if skip == 0 {
            return *self;
        }
        // The byte limit (a slice's) ends the view before byte `skip`
        // exactly when it is at most `skip`; below it, the walk to the
        // byte never reaches the limit, so `seek` need not count it.
        if known(self.limit).is_some_and(|limit| limit <= skip) {
            return self.empty();
        }
        let Some((head, entries, skip_in_head)) = self.seek(skip) else {
            return self.empty();
        };
        // INVARIANT: `seek` found the entry holding byte `skip` in the
        // view's arrays, with the entries left from it; the bytes from
        // there to the view's end are the view's (limit and known length
        // less the bytes skipped, when they are counts).
        SgList {
            head: Some(head),
            entries,
            skip: skip_in_head,
            limit: known(self.limit).map_or(self.limit, |limit| limit - skip),
            known_len: known(self.known_len).map_or(self.known_len, |len| len.saturating_sub(skip)),
            provider: self.provider,
            _entries: PhantomData,
        }
    }
}
