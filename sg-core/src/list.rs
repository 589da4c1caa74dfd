//! Borrowed views of chained lists: traversal, counting, byte-range slices.

use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::cursor::Cursor;
use crate::{Error, PageProvider, SgEntry};

/// "No value" for a view's byte counts: no list holds `u64::MAX` bytes (a
/// slice's end must fit a `u64`), so the value is free, and it keeps views
/// small enough to pass around in registers.
const NONE: u64 = u64::MAX;

/// A view's byte count as an `Option`.
#[inline]
fn known(bytes: u64) -> Option<u64> {
    (bytes != NONE).then_some(bytes)
}

/// A borrowed, read-only view of a chained scatter-gather list, or of a byte
/// range of one.
///
/// A view is a first data entry, how many data entries it may visit, and,
/// for a byte-range slice, how many bytes of the first entry to skip and how
/// many bytes it covers. Iteration follows chain links and stops at the end
/// mark, after the entry count, or after the byte range, whichever comes
/// first. The view also carries the [`PageProvider`] that maps its pages,
/// so every iterator and copy operation needs nothing else.
///
/// Views are `Copy`: hand them around freely. Writing the list's bytes takes
/// an [`SgListMut`] instead, which is exclusive.
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
///
/// let pages = VirtPages::new();
/// let page = pages.alloc_pages(0).unwrap();
/// let mut entries: [SgEntry<_>; 3] = Default::default();
/// sg_core::init_table(&mut entries).unwrap();
/// // SAFETY: bytes 0..160 of the page allocated above, in no other list.
/// unsafe {
///     entries[0].set_page(page, 100, 0);
///     entries[1].set_page(page, 50, 100);
///     entries[2].set_page(page, 10, 150);
/// }
///
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let list = unsafe { SgList::new(&entries, &pages) };
/// assert_eq!(list.count(), 3);
/// assert_eq!(list.byte_len(), 160);
/// assert_eq!(list.count_for_len(101), Ok(2));
/// let middle = list.slice(90, 20).unwrap(); // bytes 90..110
/// assert_eq!(middle.count(), 2);
/// // SAFETY: allocated above with order 0; the list is not used again.
/// unsafe { pages.free_pages(page, 0) };
/// ```
/// # Invariants
///
/// `head` (when some) is a cursor into live, initialised arrays that stay
/// valid and unwritten for `'a`, with links that obey
/// [`SgEntry::set_link`]'s contract; every entry the view visits makes a
/// claim ([`SgEntry::set_page`]) that holds for `provider` for `'a`, and
/// nothing writes those bytes during `'a` except through an [`SgListMut`]
/// this view was made from; `known_len`, when known, is the byte length of
/// the entries the view visits.
#[doc(alias = "sg_table")]
pub struct SgList<'a, P: PageProvider> {
    head: Option<Cursor<P::Page>>,
    entries: usize,
    skip: u32,
    /// The byte length of a slice, or [`NONE`] for a whole view.
    limit: u64,
    /// The byte length when known without walking, or [`NONE`].
    known_len: u64,
    provider: &'a P,
    _entries: PhantomData<&'a [SgEntry<P::Page>]>,
}

impl<P: PageProvider> Clone for SgList<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P: PageProvider> Copy for SgList<'_, P> {}

// SAFETY: a view only reads entries (shared access to `SgEntry`, which is
// `Sync` for these handles) and calls the provider through `&P`, so it may
// move to another thread when `&P` may.
unsafe impl<P: PageProvider + Sync> Send for SgList<'_, P> where P::Page: Send + Sync {}
// SAFETY: as for `Send`: everything reachable is shared and read-only.
unsafe impl<P: PageProvider + Sync> Sync for SgList<'_, P> where P::Page: Send + Sync {}

impl<'a, P: PageProvider> SgList<'a, P> {
    /// A view of the list that starts at the first slot of `entries`,
    /// mapped through `provider`.
    ///
    /// The list ends at the first end-marked entry, or at the end of an
    /// array that has neither an end mark nor a link. Links made with
    /// [`chain`](crate::chain) are followed.
    ///
    /// Tables (sg-alloc) hand out views safely; this is for lists built by
    /// hand.
    ///
    /// # Safety
    ///
    /// The entries' claims ([`SgEntry::set_page`]) hold for `provider`, this
    /// very instance, for `'a`: every entry's bytes are initialised memory
    /// of pages `provider` holds valid, and nothing writes them during `'a`.
    pub unsafe fn new(entries: &'a [SgEntry<P::Page>], provider: &'a P) -> Self {
        // SAFETY: `entries` is a live, initialised array (the pointer is made
        // from the whole slice, so it may reach every slot); links in it obey
        // the contract of `set_link`, so the arrays they reach live as long
        // as the links, which are borrowed for `'a`.
        let head = unsafe { Cursor::first(NonNull::from(entries).cast(), entries.len()) };
        SgList {
            head,
            entries: usize::MAX,
            skip: 0,
            limit: NONE,
            known_len: NONE,
            provider,
            _entries: PhantomData,
        }
    }

    /// A view of a list owned elsewhere, such as a table's.
    ///
    /// It visits at most `entries` data entries. `byte_len`, when given, is
    /// the total length of those entries, which makes [`byte_len`](Self::byte_len)
    /// and [`slice`](Self::slice) cheaper.
    ///
    /// # Safety
    ///
    /// `first` points to an array of `slots` initialised entries; those and
    /// every array reached through their links stay valid and unwritten for
    /// `'a`; links obey the contract of [`SgEntry::set_link`]; `byte_len`,
    /// when given, is the sum of the lengths of the entries the view visits.
    pub unsafe fn from_raw(
        first: NonNull<SgEntry<P::Page>>,
        slots: usize,
        entries: usize,
        byte_len: Option<u64>,
        provider: &'a P,
    ) -> Self {
        SgList {
            // SAFETY: the caller's contract is the one `Cursor::first` needs.
            head: unsafe { Cursor::first(first, slots) },
            entries,
            skip: 0,
            limit: NONE,
            known_len: byte_len.unwrap_or(NONE),
            provider,
            _entries: PhantomData,
        }
    }

    /// The provider that maps this list's pages.
    #[inline]
    pub fn provider(&self) -> &'a P {
        self.provider
    }

    /// The same view limited to its first `n` data entries (the `nents`
    /// argument of the kernel's iterators).
    ///
    /// A view that knew its byte length forgets it when the limit is below
    /// its entry count, since it may no longer apply.
    #[inline]
    pub fn take_entries(&self, n: usize) -> Self {
        let mut view = *self;
        if n < view.entries {
            view.entries = n;
            view.known_len = NONE;
        }
        view
    }

    /// The data entries of the view, following chain links (the kernel's
    /// `sg_next` loop, `for_each_sg`).
    ///
    /// A byte-range slice yields the entries it touches, untrimmed; use
    /// [`segments`](Self::segments) for the bytes themselves.
    #[doc(alias = "sg_next")]
    #[doc(alias = "for_each_sg")]
    #[inline]
    pub fn iter(&self) -> Entries<'a, P::Page> {
        Entries { walk: self.walk() }
    }

    /// The pieces of bytes the view covers, one per entry with at least one
    /// byte in the view, trimmed to the view's byte range.
    #[inline]
    pub fn segments(&self) -> Segments<'a, P::Page> {
        Segments { walk: self.walk() }
    }

    /// The bytes of the view's first data entry, as
    /// [`segments`](Self::segments) would yield them, or `None` when the view
    /// has no entry or its first entry has no byte in it (a zero-length
    /// entry, say) — unlike `segments().next()`, it never looks further.
    ///
    /// A cheap first step for code with a fast path for lists of one entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0)?;
    /// let mut entries: [SgEntry<_>; 2] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: bytes 0..200 of the page allocated above, in no other list.
    /// unsafe {
    ///     entries[0].set_page(page, 100, 0);
    ///     entries[1].set_page(page, 100, 100);
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let list = unsafe { SgList::new(&entries, &pages) };
    /// let head = list.head_segment().unwrap();
    /// assert_eq!((head.offset, head.len), (0, 100));
    /// let tail = list.slice(150, 20)?.head_segment().unwrap();
    /// assert_eq!((tail.offset, tail.len), (150, 20));
    /// # // SAFETY: allocated above with order 0; the views are not used again.
    /// # unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[inline]
    pub fn head_segment(&self) -> Option<Segment<'a, P::Page>> {
        let cursor = self.head.filter(|_| self.entries > 0 && self.limit > 0)?;
        // SAFETY: the view's arrays are valid and unwritten for `'a`.
        let entry = unsafe { cursor.entry::<'a>() };
        // At most the entry's length, so it fits a u32.
        let len = u64::from(entry.length().saturating_sub(self.skip)).min(self.limit) as u32;
        if len == 0 {
            return None;
        }
        Some(Segment {
            entry,
            page: entry.page()?,
            offset: u64::from(entry.offset()) + u64::from(self.skip),
            len,
        })
    }

    /// The DMA address and length of each entry of the view, as a DMA
    /// mapper stored them (the kernel's `for_each_sg` over `sg_dma_address`
    /// and `sg_dma_len`); entries with DMA length 0 are skipped.
    pub fn dma_segments(&self) -> impl Iterator<Item = (u64, u32)> + use<'a, P> {
        self.iter()
            .filter(|entry| entry.dma_length() != 0)
            .map(|entry| (entry.dma_address(), entry.dma_length()))
    }

    /// The first data entry, if any.
    #[inline]
    pub fn first(&self) -> Option<&'a SgEntry<P::Page>> {
        self.iter().next()
    }

    /// Whether the view has no data entry.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.first().is_none()
    }

    /// Number of data entries in the view; links are not counted (the
    /// kernel's `sg_nents`).
    #[doc(alias = "sg_nents")]
    pub fn count(&self) -> usize {
        if self.skip != 0 || self.limit != NONE {
            return self.iter().count();
        }
        let Some(head) = self.head.filter(|_| self.entries > 0) else {
            return 0;
        };
        // SAFETY: the view's arrays are valid for `'a` (type invariant).
        unsafe { head.count_up_to(self.entries) }
    }

    /// The smallest number of leading entries whose lengths add up to at
    /// least `len` bytes; 0 when `len` is 0 (the kernel's `sg_nents_for_len`).
    ///
    /// # Errors
    ///
    /// [`Error::ListTooShort`] when the whole view holds fewer than `len`
    /// bytes.
    #[doc(alias = "sg_nents_for_len")]
    pub fn count_for_len(&self, len: u64) -> Result<usize, Error> {
        if len == 0 {
            return Ok(0);
        }
        let mut total = 0u64;
        let mut count = 0;
        let mut walk = self.walk();
        while let Some(step) = walk.next() {
            count += 1;
            total += u64::from(step.len);
            if total >= len {
                return Ok(count);
            }
        }
        Err(Error::ListTooShort {
            needed: len,
            available: total,
        })
    }

    /// The `n`-th data entry (counting from 1), which must be the last one:
    /// it must carry the end mark (the kernel's `sg_last`).
    ///
    /// # Errors
    ///
    /// [`Error::TooFewEntries`] when the view has fewer than `n` entries
    /// (or `n` is 0), [`Error::NotLast`] when the `n`-th entry has no end
    /// mark.
    #[doc(alias = "sg_last")]
    pub fn last(&self, n: usize) -> Result<&'a SgEntry<P::Page>, Error> {
        let mut entries = self.iter();
        let found = n.checked_sub(1).and_then(|index| entries.nth(index));
        let Some(entry) = found else {
            return Err(Error::TooFewEntries {
                requested: n,
                available: self.count(),
            });
        };
        if entry.is_last() {
            Ok(entry)
        } else {
            Err(Error::NotLast { index: n - 1 })
        }
    }

    /// Total bytes the view covers (FreeBSD's `sglist_length`).
    ///
    /// Known at once for tables and slices; other views are walked.
    #[doc(alias = "sglist_length")]
    pub fn byte_len(&self) -> u64 {
        match known(self.known_len) {
            Some(len) => len,
            None => self.segments().map(|segment| u64::from(segment.len)).sum(),
        }
    }

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
    ///     entries[0].set_page(page, 100, 0);
    ///     entries[1].set_page(page, 50, 100);
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
        let mut cursor = self.head?;
        let mut entries_left = self.entries;
        let mut skip_in_entry = self.skip;
        let mut position = 0u64;
        while entries_left > 0 {
            // SAFETY: the view's arrays are valid for `'a` (type invariant).
            let length = unsafe { cursor.entry::<'a>() }.length();
            let entry_end = position + u64::from(length.saturating_sub(skip_in_entry));
            if entry_end > skip {
                // Less than the entry's length, so it fits a u32.
                let into_entry = skip_in_entry + (skip - position) as u32;
                return Some((cursor, entries_left, into_entry));
            }
            position = entry_end;
            skip_in_entry = 0;
            entries_left -= 1;
            if entries_left > 0 {
                // SAFETY: as above; the slot after the entry is the view's,
                // since entries are left.
                cursor = unsafe { cursor.next() }?;
            }
        }
        None
    }

    #[inline]
    fn walk(&self) -> Walk<'a, P::Page> {
        Walk {
            cursor: if self.limit == 0 { None } else { self.head },
            entries_left: self.entries,
            skip: self.skip,
            bytes_left: self.limit,
            _entries: PhantomData,
        }
    }
}

impl<'a, P: PageProvider> IntoIterator for SgList<'a, P> {
    type Item = &'a SgEntry<P::Page>;
    type IntoIter = Entries<'a, P::Page>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, P: PageProvider> IntoIterator for &SgList<'a, P> {
    type Item = &'a SgEntry<P::Page>;
    type IntoIter = Entries<'a, P::Page>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<P: PageProvider> fmt::Debug for SgList<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("SgList");
        if self.skip != 0 || self.limit != NONE {
            out.field("skip_in_first", &self.skip)
                .field("byte_len", &known(self.limit));
        }
        out.field("entries", &DebugEntries(*self)).finish()
    }
}

/// Prints at most 16 entries, then how many more there are.
struct DebugEntries<'a, P: PageProvider>(SgList<'a, P>);

impl<P: PageProvider> fmt::Debug for DebugEntries<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let mut out = f.debug_list();
        let mut entries = self.0.iter();
        out.entries(entries.by_ref().take(SHOWN));
        let more = entries.count();
        if more > 0 {
            out.entry(&format_args!("... {more} more"));
        }
        out.finish()
    }
}

/// An exclusive view of a chained list: like [`SgList`], and also allows
/// writing the list's bytes.
///
/// Holding an `SgListMut` means nothing else reads or writes the list's
/// bytes through this list meanwhile, which is what lets iterators hand out
/// `&mut [u8]` slices of mapped pages. It is not `Copy`; get shared views
/// with [`as_list`](Self::as_list) and shorter exclusive ones with
/// [`reborrow`](Self::reborrow) or [`slice_mut`](Self::slice_mut).
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, SgEntry, SgListMut, VirtPages};
///
/// let pages = VirtPages::new();
/// let page = pages.alloc_pages(0).unwrap();
/// let mut entries: [SgEntry<_>; 1] = Default::default();
/// sg_core::init_table(&mut entries).unwrap();
/// // SAFETY: the whole page allocated above, in no other list.
/// unsafe { entries[0].set_page(page, 4096, 0) };
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let mut list = unsafe { SgListMut::new(&mut entries, &pages) };
/// let tail = list.slice_mut(4000, 96).unwrap();
/// assert_eq!(tail.as_list().byte_len(), 96);
/// // SAFETY: allocated above with order 0; the list is not used again.
/// unsafe { pages.free_pages(page, 0) };
/// ```
///
/// # Invariants
///
/// Those of [`SgList`] for `list`, and: no two entries the view visits
/// describe the same byte, and nothing but this view (and what it lends
/// out) reads or writes the bytes they describe during `'a`.
pub struct SgListMut<'a, P: PageProvider> {
    list: SgList<'a, P>,
    _exclusive: PhantomData<&'a mut [SgEntry<P::Page>]>,
}

// SAFETY: the view reads entries and calls the provider through `&P`; data
// bytes are reached only through the provider's mappings, and exclusivity
// of this view makes those accesses unshared.
unsafe impl<P: PageProvider + Sync> Send for SgListMut<'_, P> where P::Page: Send + Sync {}
// SAFETY: through `&SgListMut` only a shared `SgList` can be had.
unsafe impl<P: PageProvider + Sync> Sync for SgListMut<'_, P> where P::Page: Send + Sync {}

impl<'a, P: PageProvider> SgListMut<'a, P> {
    /// An exclusive view of the list that starts at the first slot of
    /// `entries` (see [`SgList::new`]).
    ///
    /// # Safety
    ///
    /// The entries' claims hold for `provider` for `'a` (as for
    /// [`SgList::new`]); no two entries of the list describe the same byte;
    /// and nothing but this view reads or writes the bytes they describe
    /// during `'a` (no other list, table, reference or device).
    pub unsafe fn new(entries: &'a mut [SgEntry<P::Page>], provider: &'a P) -> Self {
        SgListMut {
            // SAFETY: the caller's contract includes `SgList::new`'s.
            list: unsafe { SgList::new(entries, provider) },
            _exclusive: PhantomData,
        }
    }

    /// An exclusive view of a list owned elsewhere, such as a table's.
    ///
    /// # Safety
    ///
    /// The contract of [`SgList::from_raw`], and nothing else reads or
    /// writes the bytes of the list's pages through this list during `'a`.
    pub unsafe fn from_raw(
        first: NonNull<SgEntry<P::Page>>,
        slots: usize,
        entries: usize,
        byte_len: Option<u64>,
        provider: &'a P,
    ) -> Self {
        SgListMut {
            // SAFETY: the caller's contract includes `SgList::from_raw`'s.
            list: unsafe { SgList::from_raw(first, slots, entries, byte_len, provider) },
            _exclusive: PhantomData,
        }
    }

    /// An exclusive view of the list a shared view shows.
    ///
    /// For types that own an exclusive view and keep shared copies of parts
    /// of it (a cursor that remembers where it is), to write through one of
    /// them again.
    ///
    /// # Safety
    ///
    /// Nothing else reads or writes the bytes of `list`'s pages during
    /// `'a`, except through the returned view: in particular `list` was
    /// made from an exclusive view that its owner no longer uses
    /// meanwhile, and no other view made this way is used at the same
    /// time.
    #[inline]
    pub unsafe fn from_list(list: SgList<'a, P>) -> Self {
        SgListMut {
            list,
            _exclusive: PhantomData,
        }
    }

    /// A shared view, usable while this one is borrowed.
    #[inline]
    pub fn as_list(&self) -> SgList<'_, P> {
        self.list
    }

    /// A shorter-lived exclusive view of the same bytes.
    #[inline]
    pub fn reborrow(&mut self) -> SgListMut<'_, P> {
        SgListMut {
            list: self.list,
            _exclusive: PhantomData,
        }
    }

    /// Gives up exclusivity for the rest of `'a`.
    #[inline]
    pub fn into_list(self) -> SgList<'a, P> {
        self.list
    }

    /// An exclusive view of `len` bytes starting `skip` bytes in (see
    /// [`SgList::slice`]).
    ///
    /// # Errors
    ///
    /// As [`SgList::slice`].
    #[doc(alias = "sglist_slice")]
    pub fn slice_mut(&mut self, skip: u64, len: u64) -> Result<SgListMut<'_, P>, Error> {
        self.reborrow().into_slice(skip, len)
    }

    /// Turns this view into an exclusive view of `len` bytes starting
    /// `skip` bytes in (see [`SgList::slice`]).
    ///
    /// # Errors
    ///
    /// As [`SgList::slice`].
    #[doc(alias = "sglist_slice")]
    pub fn into_slice(self, skip: u64, len: u64) -> Result<SgListMut<'a, P>, Error> {
        Ok(SgListMut {
            list: self.list.slice(skip, len)?,
            _exclusive: PhantomData,
        })
    }
}

impl<P: PageProvider> fmt::Debug for SgListMut<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SgListMut").field(&self.list).finish()
    }
}

/// One step of a walk: an entry, the bytes of it skipped at the front, and
/// the bytes of it in the view after trimming both ends.
struct Step<'a, Pg: Copy> {
    entry: &'a SgEntry<Pg>,
    skip: u32,
    len: u32,
}

/// The walk under every iterator of a view.
struct Walk<'a, Pg: Copy> {
    cursor: Option<Cursor<Pg>>,
    entries_left: usize,
    skip: u32,
    /// Bytes the view still covers; `u64::MAX` when it has no byte limit
    /// (no list holds that many bytes, so the count never runs out then).
    bytes_left: u64,
    _entries: PhantomData<&'a [SgEntry<Pg>]>,
}

impl<Pg: Copy> Clone for Walk<'_, Pg> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<Pg: Copy> Copy for Walk<'_, Pg> {}

impl<'a, Pg: Copy> Walk<'a, Pg> {
    #[inline]
    fn next(&mut self) -> Option<Step<'a, Pg>> {
        if self.entries_left == 0 || self.bytes_left == 0 {
            return None;
        }
        let cursor = self.cursor?;
        // SAFETY: the walk was made from a view whose arrays are valid and
        // unwritten for `'a`.
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
        let len = u64::from(entry.length().saturating_sub(skip)).min(self.bytes_left) as u32;
        self.bytes_left -= u64::from(len);
        Some(Step { entry, skip, len })
    }
}

/// Iterator over the data entries of a view: see [`SgList::iter`].
pub struct Entries<'a, Pg: Copy> {
    walk: Walk<'a, Pg>,
}

impl<Pg: Copy> Clone for Entries<'_, Pg> {
    fn clone(&self) -> Self {
        Entries { walk: self.walk }
    }
}

// SAFETY: the iterator reads entries of a view, shared and read-only, like
// `SgList` (which is `Send` and `Sync` under the same bounds).
unsafe impl<Pg: Copy + Send + Sync> Send for Entries<'_, Pg> {}
// SAFETY: as for `Send`; `&Entries` allows nothing but reading.
unsafe impl<Pg: Copy + Send + Sync> Sync for Entries<'_, Pg> {}

impl<'a, Pg: Copy> Iterator for Entries<'a, Pg> {
    type Item = &'a SgEntry<Pg>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.walk.next().map(|step| step.entry)
    }
}

impl<Pg: Copy> FusedIterator for Entries<'_, Pg> {}

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

/// Iterator over the byte pieces of a view: see [`SgList::segments`].
pub struct Segments<'a, Pg: Copy> {
    walk: Walk<'a, Pg>,
}

impl<Pg: Copy> Clone for Segments<'_, Pg> {
    fn clone(&self) -> Self {
        Segments { walk: self.walk }
    }
}

// SAFETY: as for `Entries`.
unsafe impl<Pg: Copy + Send + Sync> Send for Segments<'_, Pg> {}
// SAFETY: as for `Entries`.
unsafe impl<Pg: Copy + Send + Sync> Sync for Segments<'_, Pg> {}

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

impl<Pg: Copy> FusedIterator for Segments<'_, Pg> {}

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
