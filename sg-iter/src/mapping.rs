//! The mapping iterators: a view's bytes, one mapped piece at a time.
//!
//! This is the crate's one module with raw pointers. Everything unsafe
//! rests on three facts:
//!
//! - the [`PageProvider`] contract: a pointer from `map(page)` reaches the
//!   bytes of that page the list describes, for reads and writes, until it
//!   is given to `unmap`; on a linear provider, it reaches the whole run of
//!   consecutive frames from that page;
//! - the views' contract: nothing writes the bytes of an [`SgList`] while
//!   the view lives, and nothing else touches the bytes of an [`SgListMut`]
//!   while the view lives;
//! - this module's invariant: at most one mapping is live per iterator, it
//!   is stored only in [`Core::live`], it is taken out of there before it is
//!   released, and the slice exposing it borrows the iterator mutably, so
//!   the slice is gone before anything can release the mapping.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use sg_core::{PageProvider, Segment, Segments, SgEntry, SgList, SgListMut, run_continues};

/// Longest slice a mapping exposes: a slice may not exceed `isize::MAX`
/// bytes (which only matters for linear runs on 32-bit targets).
const MAX_MAPPING: u64 = isize::MAX as u64;

/// How many bytes one mapping may cover.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Span {
    /// Up to the end of the page under the position, or of the entry.
    Page,
    /// Up to the end of the entry (linear providers only).
    Entry,
    /// Up to the end of the run of entries whose bytes follow each other in
    /// consecutive frames (linear providers only).
    Adjacent,
}

/// The part of the current entry not yet passed.
#[derive(Clone, Copy)]
struct Piece<Pg: Copy> {
    /// The entry's page.
    page: Pg,
    /// Offset of the first byte not passed, from the start of `page`.
    offset: u64,
    /// Bytes of the entry in the view not passed yet (0 when the entry is
    /// used up).
    left: u64,
}

impl<Pg: Copy> From<Segment<'_, Pg>> for Piece<Pg> {
    #[inline]
    fn from(segment: Segment<'_, Pg>) -> Self {
        Piece {
            page: segment.page,
            offset: segment.offset,
            left: u64::from(segment.len),
        }
    }
}

/// A live mapping.
///
/// # Invariants
///
/// `mapping` was returned by `provider.map(page)` and has not been given to
/// `unmap`. The `len` bytes from `mapping + start` are bytes of the view,
/// and lie in `page` or, on a linear provider, in the run of consecutive
/// frames that starts at `page` (the rest of one entry, whose pages are
/// consecutive frames, or following entries whose frames `follows` checked),
/// so the provider contract makes them valid until `unmap`. `len >= 1` and
/// `consumed <= len`.
struct Live<Pg: Copy> {
    page: Pg,
    mapping: NonNull<u8>,
    start: usize,
    len: usize,
    consumed: usize,
}

impl<Pg: Copy> Live<Pg> {
    /// The first exposed byte.
    #[inline]
    fn first_byte(&self) -> *mut u8 {
        // Wrapping: the page's first byte may lie outside the memory the
        // list describes (a buffer that starts mid-page), so only the result
        // is known to be in bounds; wrapping keeps the provenance.
        self.mapping.as_ptr().wrapping_add(self.start)
    }
}

impl<Pg: Copy + fmt::Debug> fmt::Debug for Live<Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapping")
            .field("page", &self.page)
            .field("start_in_page", &self.start)
            .field("len", &self.len)
            .field("consumed", &self.consumed)
            .finish()
    }
}

/// Releases a mapping when dropped, so that it is released even when a
/// provider's `flush_write` panics.
struct Unmap<'a, P: PageProvider> {
    provider: &'a P,
    page: P::Page,
    mapping: NonNull<u8>,
}

impl<P: PageProvider> Drop for Unmap<'_, P> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `mapping` came from `map(page)` on this provider (the
        // `Live` invariant) and the `Live` was taken out of `Core::live`
        // before this guard was made, so nothing else can release it. Every
        // slice over it borrowed the iterator mutably and is gone, since
        // releasing takes `&mut self`.
        unsafe { self.provider.unmap(self.page, self.mapping) }
    }
}

/// The state and steps shared by both iterators; `WRITE` says whether
/// mappings are flushed before they are released.
struct Core<'a, P: PageProvider, const WRITE: bool> {
    provider: &'a P,
    /// Segments after the current piece.
    segments: Segments<'a, P::Page>,
    piece: Option<Piece<P::Page>>,
    /// Bytes of the view passed before the live mapping's first byte (or
    /// before the piece's offset, when nothing is mapped).
    position: u64,
    span: Span,
    /// In `Span::Adjacent`, the view position where the last scanned run of
    /// adjacent entries ends; a mapping that starts before it may reach it
    /// without scanning again.
    run_end: u64,
    live: Option<Live<P::Page>>,
}

impl<'a, P: PageProvider, const WRITE: bool> Core<'a, P, WRITE> {
    #[inline]
    fn new(list: SgList<'a, P>) -> Self {
        let provider = list.provider();
        Core {
            provider,
            segments: list.segments(),
            piece: None,
            position: 0,
            span: if provider.is_linear() {
                Span::Entry
            } else {
                Span::Page
            },
            run_end: 0,
            live: None,
        }
    }

    /// Chooses how far mappings reach; wider spans only on linear providers.
    fn set_span(&mut self, span: Span) {
        if span == Span::Page || self.provider.is_linear() {
            self.span = span;
            self.run_end = 0;
        }
    }

    /// Bytes passed so far, counting the live mapping as consumed.
    #[inline]
    fn position(&self) -> u64 {
        self.position + self.live.as_ref().map_or(0, |live| live.consumed as u64)
    }

    /// Moves `bytes` forward without mapping; false when the view ends
    /// first (then everything is passed).
    #[inline]
    fn advance(&mut self, mut bytes: u64) -> bool {
        loop {
            if let Some(piece) = &mut self.piece {
                let step = bytes.min(piece.left);
                piece.offset += step;
                piece.left -= step;
                self.position += step;
                bytes -= step;
            }
            if bytes == 0 {
                return true;
            }
            match self.segments.next() {
                Some(segment) => self.piece = Some(segment.into()),
                None => {
                    self.piece = None;
                    return false;
                }
            }
        }
    }

    /// Releases the live mapping, if any: moves past its consumed bytes,
    /// flushes its pages when writing, and unmaps it.
    #[inline(always)]
    fn release(&mut self) {
        let Some(live) = self.live.take() else { return };
        let consumed = live.consumed as u64;
        match &mut self.piece {
            // The usual case: the mapping lay in the current piece.
            Some(piece) if consumed <= piece.left => {
                piece.offset += consumed;
                piece.left -= consumed;
                self.position += consumed;
            }
            _ => {
                self.advance(consumed);
            }
        }
        let guard = Unmap {
            provider: self.provider,
            page: live.page,
            mapping: live.mapping,
        };
        if WRITE {
            let pages = (live.start + live.len).div_ceil(P::PAGE_SIZE);
            self.provider.flush_write(live.page);
            for index in 1..pages {
                self.provider
                    .flush_write(self.provider.nth(live.page, index));
            }
        }
        drop(guard);
    }

    /// Releases the live mapping and maps the next piece of bytes.
    #[inline(always)]
    fn map_next(&mut self) -> Option<&Live<P::Page>> {
        self.release();
        let piece = match self.piece {
            Some(piece) if piece.left > 0 => piece,
            _ => {
                // Segments hold at least one byte each.
                let piece = Piece::from(self.segments.next()?);
                self.piece = Some(piece);
                piece
            }
        };
        let page_size = P::PAGE_SIZE as u64;
        // Offsets are below 2^33 and pages at least 64 bytes: the index fits
        // in 27 bits, the in-page offset below `PAGE_SIZE`.
        let index = (piece.offset / page_size) as usize;
        let start = (piece.offset % page_size) as usize;
        let page = if index == 0 {
            piece.page
        } else {
            self.provider.nth(piece.page, index)
        };
        let len = match self.span {
            Span::Page => piece.left.min(page_size - start as u64),
            Span::Entry => piece.left.min(MAX_MAPPING),
            Span::Adjacent => self.adjacent_len(piece),
        };
        let mapping = self.provider.map(page);
        Some(self.live.insert(Live {
            page,
            mapping,
            start,
            // At most `MAX_MAPPING` or a page, so it fits.
            len: len as usize,
            consumed: len as usize,
        }))
    }

    /// Bytes from the position to the end of the run of entries whose bytes
    /// follow the current piece's in consecutive frames, at most
    /// `MAX_MAPPING`.
    fn adjacent_len(&mut self, piece: Piece<P::Page>) -> u64 {
        if self.position < self.run_end {
            return self.run_end - self.position;
        }
        let mut len = piece.left;
        let mut end_page = piece.page;
        let mut end_offset = piece.offset + piece.left;
        let mut ahead = self.segments.clone();
        while len < MAX_MAPPING {
            let Some(next) = ahead.next() else { break };
            // Only page boundaries join entries (see `run_continues`).
            if !run_continues(self.provider, end_page, end_offset, next.page, next.offset) {
                break;
            }
            len += u64::from(next.len);
            end_page = next.page;
            end_offset = next.offset + u64::from(next.len);
        }
        let len = len.min(MAX_MAPPING);
        self.run_end = self.position + len;
        len
    }

    /// Moves `bytes` forward from the position, releasing the live mapping
    /// first; false when the view ends first.
    #[inline]
    fn skip(&mut self, bytes: u64) -> bool {
        self.release();
        self.advance(bytes)
    }

    #[inline]
    fn consume(&mut self, bytes: usize) {
        if let Some(live) = &mut self.live {
            live.consumed = bytes.min(live.len);
        }
    }

    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("position", &self.position())
            .field("span", &self.span)
            .field("mapping", &self.live)
            .finish_non_exhaustive()
    }
}

impl<P: PageProvider, const WRITE: bool> Drop for Core<'_, P, WRITE> {
    #[inline]
    fn drop(&mut self) {
        self.release();
    }
}

/// Reads the bytes of a view one mapping at a time (the kernel's
/// `sg_mapping_iter` started with `SG_MITER_FROM_SG`).
///
/// Each call to [`next`](Self::next) releases the previous mapping, maps the
/// page under the current position through the view's provider, and
/// exposes the bytes from the position to the end of that page or of the
/// entry, whichever comes first; never zero bytes. An entry whose offset is
/// a page or more is read from page `offset / PAGE_SIZE` of its run, at
/// in-page offset `offset % PAGE_SIZE`. Zero-length entries are passed over.
///
/// The caller may [`consume`](Self::consume) less than the whole mapping;
/// the next step then resumes right after the consumed bytes, in the same
/// page. [`skip`](Self::skip) moves forward without mapping, and
/// [`stop`](Self::stop) releases the mapping early. Every mapping is
/// released exactly once: by the next step, by `skip` or `stop`, or when
/// the iterator is dropped, also while a panic unwinds. (Forgetting the
/// iterator with [`core::mem::forget`] leaks the mapping.)
///
/// # Linear providers
///
/// When the provider is linear ([`PageProvider::is_linear`]), a mapping
/// reaches from the position to the end of the entry, however many pages
/// that is: the page under the position is mapped once and the whole
/// contiguous run is exposed. [`merge_adjacent`](Self::merge_adjacent)
/// widens that to following entries that start the page right after the
/// previous entry's last one, and [`page_by_page`](Self::page_by_page) goes
/// back to one page per mapping.
///
/// # Safety model
///
/// The slice returned by `next` borrows the iterator, so it is gone before
/// the mapping can be released. The kernel's `SG_MITER_ATOMIC` has no
/// counterpart: every mapping here is short-lived and released before the
/// iterator moves on. A mapping may be tied to its thread (as the kernel's
/// `kmap_local_page` is), so the iterator is neither `Send` nor `Sync`.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgList, VirtPages};
/// use sg_iter::MappingIter;
///
/// let mut first = *b"scatter-";
/// let mut second = *b"gather";
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut first).cast(), 8);
///     entries[1].set_buf(NonNull::from(&mut second).cast(), 6);
/// }
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let mut reader = MappingIter::new(unsafe { SgList::new(&entries, &pages) });
///
/// let mut text = Vec::new();
/// while let Some(bytes) = reader.next() {
///     text.extend_from_slice(bytes);
/// }
/// assert_eq!(text, b"scatter-gather");
/// assert_eq!(reader.position(), 14);
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_mapping_iter")]
#[doc(alias = "SG_MITER_FROM_SG")]
#[doc(alias = "SG_MITER_ATOMIC")]
pub struct MappingIter<'a, P: PageProvider> {
    core: Core<'a, P, false>,
}

impl<'a, P: PageProvider> MappingIter<'a, P> {
    /// A reading iterator over the bytes of `list`, positioned at its first
    /// byte (the kernel's `sg_miter_start` with `SG_MITER_FROM_SG`).
    ///
    /// Limit the view with [`SgList::take_entries`] for the kernel's
    /// `nents`, or [`SgList::slice`] for a byte range. Nothing is walked or
    /// mapped until the first step.
    #[doc(alias = "sg_miter_start")]
    #[must_use]
    #[inline]
    pub fn new(list: SgList<'a, P>) -> Self {
        MappingIter {
            core: Core::new(list),
        }
    }

    /// Maps one page at a time even on a linear provider, as the kernel
    /// does.
    ///
    /// Applies from the next step on.
    #[must_use]
    pub fn page_by_page(mut self) -> Self {
        self.core.set_span(Span::Page);
        self
    }

    /// On a linear provider, lets one mapping also cover the following
    /// entries whose bytes directly follow across a page boundary: the
    /// previous entry ends at the end of a page and the next one starts at
    /// the start of the page with the next frame number. Mappings then no
    /// longer end at such entry boundaries (entries that meet inside a page
    /// stay separate mappings, since they may describe separate
    /// allocations). Has no effect on other providers.
    ///
    /// Applies from the next step on.
    #[must_use]
    pub fn merge_adjacent(mut self) -> Self {
        self.core.set_span(Span::Adjacent);
        self
    }

    /// Releases the current mapping and maps the next piece of bytes (the
    /// kernel's `sg_miter_next`); `None` at the end of the view.
    ///
    /// The slice starts at the position (right after the bytes the previous
    /// mapping consumed) and holds at least one byte. It counts as consumed
    /// entirely unless [`consume`](Self::consume) says otherwise.
    #[doc(alias = "sg_miter_next")]
    #[allow(clippy::should_implement_trait)] // Lends: the slice borrows the iterator.
    #[inline(always)]
    pub fn next(&mut self) -> Option<&[u8]> {
        let live = self.core.map_next()?;
        // SAFETY: the `Live` invariant: the `len` bytes from the first
        // exposed byte are bytes of the view, which the provider keeps valid
        // and initialised until `unmap`; the view's contract keeps them
        // unwritten while the list is borrowed for `'a`. The returned slice
        // borrows `self`, and only `&mut self` or dropping the iterator can
        // release the mapping.
        Some(unsafe { core::slice::from_raw_parts(live.first_byte(), live.len) })
    }

    /// Says that only the first `bytes` bytes of the current mapping were
    /// used, so that the next step starts right after them (the kernel's
    /// `miter->consumed`).
    ///
    /// Each call replaces the previous count; counts above the mapping's
    /// length mean all of it. Does nothing when no mapping is live.
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use sg_core::{SgEntry, SgList, VirtPages};
    /// use sg_iter::MappingIter;
    ///
    /// let mut buffer = *b"abcdef";
    /// let mut entry = SgEntry::new();
    /// // SAFETY: `buffer` outlives the list and is not touched meanwhile.
    /// unsafe { entry.init_one(NonNull::from(&mut buffer).cast(), 6) };
    /// let pages = VirtPages::new();
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let mut reader = MappingIter::new(unsafe { SgList::new(core::slice::from_ref(&entry), &pages) });
    /// assert_eq!(reader.next(), Some(&b"abcdef"[..]));
    /// reader.consume(2);
    /// assert_eq!(reader.position(), 2);
    /// assert_eq!(reader.next(), Some(&b"cdef"[..]));
    /// ```
    #[inline]
    pub fn consume(&mut self, bytes: usize) {
        self.core.consume(bytes);
    }

    /// Releases the current mapping and moves `bytes` further (the kernel's
    /// `sg_miter_skip`), without mapping anything.
    ///
    /// Returns false when the view ends before `bytes` bytes were passed;
    /// the iterator is then at the end. Skipping 0 bytes, or exactly to the
    /// end, returns true.
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use sg_core::{SgEntry, SgList, VirtPages};
    /// use sg_iter::MappingIter;
    ///
    /// let mut buffer = *b"abcdef";
    /// let mut entry = SgEntry::new();
    /// // SAFETY: `buffer` outlives the list and is not touched meanwhile.
    /// unsafe { entry.init_one(NonNull::from(&mut buffer).cast(), 6) };
    /// let pages = VirtPages::new();
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let mut reader = MappingIter::new(unsafe { SgList::new(core::slice::from_ref(&entry), &pages) });
    /// assert!(reader.skip(4));
    /// assert_eq!(reader.next(), Some(&b"ef"[..]));
    /// assert!(!reader.skip(1));
    /// assert_eq!(reader.next(), None);
    /// ```
    #[doc(alias = "sg_miter_skip")]
    #[inline]
    pub fn skip(&mut self, bytes: u64) -> bool {
        self.core.skip(bytes)
    }

    /// Releases the current mapping, if any (the kernel's `sg_miter_stop`).
    ///
    /// The iterator stays usable: the next step resumes after the bytes
    /// the mapping consumed. Dropping the iterator also releases.
    #[doc(alias = "sg_miter_stop")]
    #[inline]
    pub fn stop(&mut self) {
        self.core.release();
    }

    /// Bytes of the view passed so far: consumed (the live mapping counts
    /// as consumed as far as [`consume`](Self::consume) says, all of it by
    /// default) or skipped.
    #[inline]
    pub fn position(&self) -> u64 {
        self.core.position()
    }

    /// The page the live mapping was made from (the kernel's
    /// `miter->page`): the page holding its first byte. `None` when no
    /// mapping is live.
    #[inline]
    pub fn page(&self) -> Option<P::Page> {
        self.core.live.as_ref().map(|live| live.page)
    }

    /// The provider that maps the view's pages.
    #[inline]
    pub fn provider(&self) -> &'a P {
        self.core.provider
    }
}

impl<P: PageProvider> fmt::Debug for MappingIter<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("MappingIter", f)
    }
}

/// Writes (and reads) the bytes of a view one mapping at a time (the
/// kernel's `sg_mapping_iter` started with `SG_MITER_TO_SG`, or with both
/// directions).
///
/// It walks like [`MappingIter`] and exposes each mapping as `&mut [u8]`.
/// Before a mapping is released it calls the provider's
/// [`flush_write`](PageProvider::flush_write) for every page the mapping
/// covers (the kernel's `flush_dcache_page`), then unmaps it.
///
/// It takes an exclusive [`SgListMut`], which is what makes handing out
/// `&mut [u8]` sound: nothing else reaches the list's bytes while the
/// iterator lives, and at most one mapping is live, exposed through a slice
/// that borrows the iterator.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgListMut, VirtPages};
/// use sg_iter::MappingIterMut;
///
/// let mut buffer = [0u8; 10];
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// let start = NonNull::from(&mut buffer).cast::<u8>();
/// // SAFETY: `buffer` outlives the list and is not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(start.add(6), 4); // the list's first bytes are
///     entries[1].set_buf(start, 6); // the buffer's last ones
/// }
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let mut writer = MappingIterMut::new(unsafe { SgListMut::new(&mut entries, &pages) });
/// let mut next = b'0';
/// while let Some(bytes) = writer.next() {
///     for byte in bytes {
///         *byte = next;
///         next += 1;
///     }
/// }
/// drop(writer);
/// assert_eq!(&buffer, b"4567890123");
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_mapping_iter")]
#[doc(alias = "SG_MITER_TO_SG")]
#[doc(alias = "SG_MITER_ATOMIC")]
pub struct MappingIterMut<'a, P: PageProvider> {
    core: Core<'a, P, true>,
    _exclusive: PhantomData<&'a mut [SgEntry<P::Page>]>,
}

impl<'a, P: PageProvider> MappingIterMut<'a, P> {
    /// A writing iterator over the bytes of `list`, positioned at its first
    /// byte (the kernel's `sg_miter_start` with `SG_MITER_TO_SG`).
    ///
    /// Limit the view with [`SgListMut::into_slice`] for a byte range.
    /// Nothing is walked or mapped until the first step.
    #[doc(alias = "sg_miter_start")]
    #[must_use]
    #[inline]
    pub fn new(list: SgListMut<'a, P>) -> Self {
        MappingIterMut {
            core: Core::new(list.into_list()),
            _exclusive: PhantomData,
        }
    }

    /// Maps one page at a time even on a linear provider (see
    /// [`MappingIter::page_by_page`]).
    #[must_use]
    pub fn page_by_page(mut self) -> Self {
        self.core.set_span(Span::Page);
        self
    }

    /// On a linear provider, lets one mapping cover following entries whose
    /// bytes directly follow (see [`MappingIter::merge_adjacent`]).
    #[must_use]
    pub fn merge_adjacent(mut self) -> Self {
        self.core.set_span(Span::Adjacent);
        self
    }

    /// Releases the current mapping (flushing it) and maps the next piece
    /// of bytes (the kernel's `sg_miter_next`); `None` at the end of the
    /// view.
    ///
    /// As [`MappingIter::next`], with write access.
    #[doc(alias = "sg_miter_next")]
    #[allow(clippy::should_implement_trait)] // Lends: the slice borrows the iterator.
    #[inline(always)]
    pub fn next(&mut self) -> Option<&mut [u8]> {
        let live = self.core.map_next()?;
        // SAFETY: as in `MappingIter::next`, and the bytes may be written:
        // the view is exclusive for `'a` (`SgListMut`), so nothing else
        // reads or writes them, and this slice, borrowing `self` mutably, is
        // the only reference to them until the iterator is used again.
        Some(unsafe { core::slice::from_raw_parts_mut(live.first_byte(), live.len) })
    }

    /// Says that only the first `bytes` bytes of the current mapping were
    /// used (see [`MappingIter::consume`]).
    #[inline]
    pub fn consume(&mut self, bytes: usize) {
        self.core.consume(bytes);
    }

    /// Releases the current mapping (flushing it) and moves `bytes`
    /// further (see [`MappingIter::skip`]); false when the view ends first.
    #[doc(alias = "sg_miter_skip")]
    #[inline]
    pub fn skip(&mut self, bytes: u64) -> bool {
        self.core.skip(bytes)
    }

    /// Flushes and releases the current mapping, if any (the kernel's
    /// `sg_miter_stop`). The iterator stays usable; dropping it also
    /// releases.
    #[doc(alias = "sg_miter_stop")]
    #[inline]
    pub fn stop(&mut self) {
        self.core.release();
    }

    /// Bytes of the view passed so far (see [`MappingIter::position`]).
    #[inline]
    pub fn position(&self) -> u64 {
        self.core.position()
    }

    /// The page the live mapping was made from; `None` when no mapping is
    /// live.
    #[inline]
    pub fn page(&self) -> Option<P::Page> {
        self.core.live.as_ref().map(|live| live.page)
    }

    /// The provider that maps the view's pages.
    #[inline]
    pub fn provider(&self) -> &'a P {
        self.core.provider
    }
}

impl<P: PageProvider> fmt::Debug for MappingIterMut<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.core.debug("MappingIterMut", f)
    }
}
