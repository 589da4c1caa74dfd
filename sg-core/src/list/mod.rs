//! Borrowed views of chained lists: traversal, counting, byte-range slices.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::cursor::Cursor;
use crate::{Error, PageProvider, SgEntry};

mod exclusive;
mod slice;
mod walk;

pub use exclusive::SgListMut;
pub use walk::{Entries, Segment, Segments};

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
///     entries[0].set_page(page, 0, 100);
///     entries[1].set_page(page, 100, 50);
///     entries[2].set_page(page, 150, 10);
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
///
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
    /// of pages `provider` holds valid, and nothing writes them during `'a`
    /// (on a shared provider, [`PageProvider::SHARED`], others may write
    /// them: its bytes are only reached with volatile copies).
    pub unsafe fn new(entries: &'a [SgEntry<P::Page>], provider: &'a P) -> Self {
        // SAFETY: `entries` is a live, initialised array (the pointer is made
        // from the whole slice, so it may reach every slot); links in it obey
        // the contract of `set_link`, so the arrays they reach live as long
        // as the links, which are borrowed for `'a`.
        let head = unsafe { Cursor::first(NonNull::from(entries).cast(), entries.len()) };
        // INVARIANT: the arrays and claims are the caller's promise; the
        // length is not known.
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
        // INVARIANT: the caller's contract, `byte_len` included.
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
        // INVARIANT: fewer entries of the same arrays; the length, which
        // may no longer be theirs, is forgotten.
        if n < view.entries {
            view.entries = n;
            view.known_len = NONE;
        }
        view
    }

    /// The data entries of the view, following chain links (the kernel's
    /// `sg_next` loop, `for_each_sg`).
    ///
    /// **On a byte-range [`slice`](Self::slice), the entries are untrimmed**:
    /// they are the whole entries the range touches, so the first may
    /// start before the range and the last end after it, and their lengths
    /// add up to more than [`byte_len`](Self::byte_len). For exactly the
    /// bytes of the view (trimmed to the slice), use
    /// [`segments`](Self::segments).
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
    ///     entries[0].set_page(page, 0, 100);
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
        let len = u64::from(entry.len().saturating_sub(self.skip)).min(self.limit) as u32;
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

    /// The view's first slots as they lie in its first array, when the view
    /// is not trimmed to a byte range: the slots from its first data entry
    /// to the end of that array, at most as many as the view has entries;
    /// `None` for a view with no entry, or one trimmed to a byte range (any
    /// [`slice`](Self::slice), or a [`skip_bytes`](Self::skip_bytes) that
    /// ends inside an entry), whose first or last entry may be only partly
    /// in it: use [`segments`](Self::segments) there.
    ///
    /// The view's data entries begin with these slots and go on to the
    /// first link among them (a slot for which [`SgEntry::is_chain`] holds,
    /// which continues the list in another array and is not an entry) or
    /// end with the first slot marked [`is_last`](SgEntry::is_last). A
    /// cheap way into a list of a few entries, for code that handles the
    /// link itself (by going on with [`segments`](Self::segments), say).
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
    /// let slots = list.head_slots().unwrap();
    /// assert_eq!(slots.iter().map(SgEntry::len).collect::<Vec<_>>(), [100, 100, 100]);
    /// assert!(slots[2].is_last());
    /// assert_eq!(list.take_entries(2).head_slots().unwrap().len(), 2);
    /// assert!(list.skip_bytes(10).head_slots().is_none());
    /// # // SAFETY: allocated above with order 0; the views are not used again.
    /// # unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[inline]
    pub fn head_slots(&self) -> Option<&'a [SgEntry<P::Page>]> {
        if self.skip != 0 || self.limit != NONE || self.entries == 0 {
            return None;
        }
        let head = self.head?;
        // SAFETY: the view's arrays are valid and unwritten for `'a` (type
        // invariant).
        Some(unsafe { head.slots(self.entries) })
    }

    /// The DMA address and length of each entry of the view, as a DMA
    /// mapper stored them (the kernel's `for_each_sg` over `sg_dma_address`
    /// and `sg_dma_len`); entries with DMA length 0 are skipped.
    pub fn dma_segments(&self) -> impl Iterator<Item = (u64, u32)> + use<'a, P> {
        self.iter()
            .filter(|entry| entry.dma_len() != 0)
            .map(|entry| (entry.dma_address(), entry.dma_len()))
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
    pub fn last_of(&self, n: usize) -> Result<&'a SgEntry<P::Page>, Error> {
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
