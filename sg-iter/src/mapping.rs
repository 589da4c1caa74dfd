//! The mapping iterators: a view's bytes, one mapped piece at a time.
//!
//! The walk ([`walk`]) says where each mapping starts and how far it
//! reaches; sg-core's [`MappedBytes`] guard maps, exposes, flushes and
//! unmaps. This module only keeps the one live guard and lends its bytes:
//! at most one mapping is live per iterator, it is stored only in
//! [`MappingIter::live`], it is taken out of there before it is released,
//! and the slice exposing it borrows the iterator mutably, so the slice is
//! gone before anything can release the mapping.

mod walk;

use core::fmt;

use sg_core::{Access, Error, ListView, MappedBytes, PageProvider, Read, SgList, Write};

use walk::{Span, Walk};

/// The live mapping and how much of it counts as consumed.
struct Live<'a, P: PageProvider, A: Access> {
    mapped: MappedBytes<'a, P, A>,
    /// At most `mapped.len()`.
    consumed: usize,
}

/// Reads, or reads and writes, the bytes of a view one mapping at a time
/// (the kernel's `sg_mapping_iter`).
///
/// The access marker `A` comes from the view the iterator is made from: a
/// shared [`SgList`] gives a reading `MappingIter` (`A` = [`Read`], the
/// kernel's `SG_MITER_FROM_SG`), an exclusive
/// [`SgListMut`](sg_core::SgListMut) a [`MappingIterMut`] (`A` =
/// [`Write`], `SG_MITER_TO_SG`), whose mappings also hand out `&mut [u8]`
/// ([`next_slice_mut`](MappingIter::next_slice_mut)) and are flushed
/// through the provider's [`flush_write`](PageProvider::flush_write) for
/// every page they cover (the kernel's `flush_dcache_page`) before they
/// are unmapped.
///
/// Each step ([`next_slice`](Self::next_slice)) releases the previous
/// mapping, maps the page under the current position through the view's
/// provider, and exposes the bytes from the position to the end of that
/// page or of the entry, whichever comes first; never zero bytes. An entry
/// whose offset is a page or more is read from page `offset / PAGE_SIZE` of
/// its run, at in-page offset `offset % PAGE_SIZE`. Zero-length entries
/// are passed over.
///
/// The caller may [`consume`](Self::consume) less than the whole mapping;
/// the next step then resumes right after the consumed bytes, in the same
/// page. [`advance`](Self::advance) moves forward without mapping,
/// [`rewind`](Self::rewind) goes back to the start and
/// [`stop`](Self::stop) releases the mapping early. Every mapping is
/// released exactly once: by the next step, by `advance`, `rewind` or
/// `stop`, or when the iterator is dropped, also while a panic unwinds,
/// and also when the provider's `flush_write` panics. (Forgetting the
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
/// The slice a step returns borrows the iterator, so it is gone before the
/// mapping can be released; a writing iterator takes an exclusive view,
/// which is what makes handing out `&mut [u8]` sound. The kernel's
/// `SG_MITER_ATOMIC` has no counterpart: every mapping here is short-lived
/// and released before the iterator moves on. A mapping may be tied to its
/// thread (as the kernel's `kmap_local_page` is), so the iterator is
/// neither `Send` nor `Sync`.
///
/// A shared provider's bytes ([`PageProvider::SHARED`]: guest memory) are
/// never lent as slices: [`new`](Self::new) does not compile for a shared
/// provider; copy its bytes with sg-copy, which uses volatile accesses
/// there.
///
/// # Invariants
///
/// The provider is not shared (`P::SHARED` is `false`): `new` checks it
/// at compile time, and the caller of `new_unchecked` vouches for it.
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
/// while let Some(bytes) = reader.next_slice() {
///     text.extend_from_slice(bytes);
/// }
/// assert_eq!(text, b"scatter-gather");
/// assert_eq!(reader.position(), 14);
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_mapping_iter")]
#[doc(alias = "SG_MITER_FROM_SG")]
#[doc(alias = "SG_MITER_TO_SG")]
#[doc(alias = "SG_MITER_ATOMIC")]
pub struct MappingIter<'a, P: PageProvider, A: Access = Read> {
    walk: Walk<'a, P>,
    live: Option<Live<'a, P, A>>,
}

/// Writes (and reads) the bytes of a view one mapping at a time: a
/// [`MappingIter`] made from an exclusive [`SgListMut`](sg_core::SgListMut)
/// (the kernel's `sg_mapping_iter` started with `SG_MITER_TO_SG`).
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
/// while let Some(bytes) = writer.next_slice_mut() {
///     for byte in bytes {
///         *byte = next;
///         next += 1;
///     }
/// }
/// drop(writer);
/// assert_eq!(&buffer, b"4567890123");
/// # Ok::<(), sg_core::Error>(())
/// ```
pub type MappingIterMut<'a, P> = MappingIter<'a, P, Write>;

impl<'a, P: PageProvider, A: Access> MappingIter<'a, P, A> {
    /// An iterator over the bytes of `list`, positioned at its first byte
    /// (the kernel's `sg_miter_start`): reading from an
    /// [`SgList`], writing from an [`SgListMut`](sg_core::SgListMut).
    ///
    /// Limit the view with [`SgList::take_entries`] for the kernel's
    /// `nents`, or [`SgList::slice`] for a byte range. Nothing is walked or
    /// mapped until the first step.
    ///
    /// Does not compile for a shared provider ([`PageProvider::SHARED`]),
    /// whose bytes must not be lent as slices.
    #[doc(alias = "sg_miter_start")]
    #[must_use]
    #[inline]
    pub fn new<V: ListView<'a, Provider = P, Access = A>>(list: V) -> Self {
        const {
            assert!(
                !P::SHARED,
                "a mapping iterator lends slices: not of a shared provider"
            )
        };
        // SAFETY: the provider is not shared, as checked just above.
        unsafe { Self::new_unchecked(list) }
    }

    /// [`new`](Self::new) without its compile-time refusal of shared
    /// providers, for code that is instantiated for every provider but
    /// makes iterators only for private ones (it branches on
    /// [`PageProvider::SHARED`], which folds away, as sg-copy's copies do).
    ///
    /// # Safety
    ///
    /// The provider is not shared: `P::SHARED` is `false`.
    #[must_use]
    #[inline]
    pub unsafe fn new_unchecked<V: ListView<'a, Provider = P, Access = A>>(list: V) -> Self {
        debug_assert!(!P::SHARED, "a mapping iterator over a shared provider");
        // INVARIANT: the caller vouches that the provider is not shared.
        MappingIter {
            walk: Walk::new(list.into_list()),
            live: None,
        }
    }

    /// Maps one page at a time even on a linear provider, as the kernel
    /// does.
    ///
    /// Applies from the next step on.
    #[must_use]
    pub fn page_by_page(mut self) -> Self {
        self.walk.set_span(Span::Page);
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
        self.walk.set_span(Span::Adjacent);
        self
    }

    /// Releases the live mapping, if any: moves past its consumed bytes,
    /// then drops its guard, which flushes (when writing) and unmaps, and
    /// unmaps even if a flush panics.
    #[inline(always)]
    fn release(&mut self) {
        let Some(live) = self.live.take() else { return };
        self.walk.pass_run(live.consumed as u64);
        drop(live);
    }

    /// Releases the live mapping and maps the next piece of bytes.
    #[inline(always)]
    fn map_next(&mut self) -> Option<&mut Live<'a, P, A>> {
        self.release();
        let run = self.walk.next_run()?;
        // SAFETY: `next_run` returns bytes of the view in `run.page` or, on
        // a linear provider, in a run of consecutive frames that one
        // mapping reaches, at most `isize::MAX` of them; the view's
        // contract keeps them valid and unwritten for `'a` (a shared view)
        // or reachable only through this iterator (an exclusive view, the
        // only way to make a `Write` iterator), and the iterator holds one
        // mapping at a time.
        let mapped =
            unsafe { MappedBytes::new(self.walk.list().provider(), run.page, run.start, run.len) };
        Some(self.live.insert(Live {
            mapped,
            consumed: run.len,
        }))
    }

    /// Releases the current mapping and maps the next piece of bytes (the
    /// kernel's `sg_miter_next`); `None` at the end of the view.
    ///
    /// The slice starts at the position (right after the bytes the previous
    /// mapping consumed) and holds at least one byte. It counts as consumed
    /// entirely unless [`consume`](Self::consume) says otherwise. It
    /// borrows the iterator, which is why this is not an [`Iterator`].
    #[doc(alias = "sg_miter_next")]
    #[doc(alias = "next")]
    #[inline(always)]
    pub fn next_slice(&mut self) -> Option<&[u8]> {
        // SAFETY: the provider is not shared (the type invariant).
        self.map_next()
            .map(|live| unsafe { live.mapped.bytes_unchecked() })
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
    /// assert_eq!(reader.next_slice(), Some(&b"abcdef"[..]));
    /// reader.consume(2);
    /// assert_eq!(reader.position(), 2);
    /// assert_eq!(reader.next_slice(), Some(&b"cdef"[..]));
    /// ```
    #[inline]
    pub fn consume(&mut self, bytes: usize) {
        if let Some(live) = &mut self.live {
            live.consumed = bytes.min(live.mapped.len());
        }
    }

    /// Releases the current mapping and moves `bytes` further (the kernel's
    /// `sg_miter_skip`), without mapping anything.
    ///
    /// Moving 0 bytes, or exactly to the end, succeeds.
    ///
    /// # Errors
    ///
    /// [`Error::ListTooShort`] when the view ends before `bytes` bytes were
    /// passed (`needed` is the position asked for, `available` the view's
    /// length); the iterator is then at the end.
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use sg_core::{Error, SgEntry, SgList, VirtPages};
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
    /// reader.advance(4)?;
    /// assert_eq!(reader.next_slice(), Some(&b"ef"[..]));
    /// assert_eq!(reader.advance(1), Err(Error::ListTooShort { needed: 7, available: 6 }));
    /// assert_eq!(reader.next_slice(), None);
    /// # Ok::<(), Error>(())
    /// ```
    #[doc(alias = "sg_miter_skip")]
    #[doc(alias = "skip")]
    #[inline]
    pub fn advance(&mut self, bytes: u64) -> Result<(), Error> {
        self.release();
        let start = self.walk.position();
        if self.walk.pass(bytes) {
            Ok(())
        } else {
            Err(Error::ListTooShort {
                needed: start.saturating_add(bytes),
                available: self.walk.position(),
            })
        }
    }

    /// Releases the current mapping and goes back to the view's first
    /// byte, as a new iterator over the same view with the same span would
    /// be.
    pub fn rewind(&mut self) {
        self.release();
        self.walk.rewind();
    }

    /// Releases the current mapping (flushing it, when writing), if any
    /// (the kernel's `sg_miter_stop`).
    ///
    /// The iterator stays usable: the next step resumes after the bytes
    /// the mapping consumed. Dropping the iterator also releases.
    #[doc(alias = "sg_miter_stop")]
    #[inline]
    pub fn stop(&mut self) {
        self.release();
    }

    /// Bytes of the view passed so far: consumed (the live mapping counts
    /// as consumed as far as [`consume`](Self::consume) says, all of it by
    /// default) or skipped.
    #[inline]
    pub fn position(&self) -> u64 {
        self.walk.position() + self.live.as_ref().map_or(0, |live| live.consumed as u64)
    }

    /// The page the live mapping was made from (the kernel's
    /// `miter->page`): the page holding its first byte. `None` when no
    /// mapping is live.
    #[inline]
    pub fn page(&self) -> Option<P::Page> {
        self.live.as_ref().map(|live| live.mapped.page())
    }

    /// The provider that maps the view's pages.
    #[inline]
    pub fn provider(&self) -> &'a P {
        self.walk.list().provider()
    }
}

impl<'a, P: PageProvider> MappingIter<'a, P, Read> {
    /// The view read.
    #[inline]
    pub fn list(&self) -> SgList<'a, P> {
        self.walk.list()
    }
}

impl<P: PageProvider> MappingIter<'_, P, Write> {
    /// Releases the current mapping (flushing it) and maps the next piece
    /// of bytes, writable (the kernel's `sg_miter_next`); `None` at the end
    /// of the view.
    ///
    /// As [`next_slice`](Self::next_slice), with write access.
    #[doc(alias = "sg_miter_next")]
    #[doc(alias = "next")]
    #[inline(always)]
    pub fn next_slice_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: the provider is not shared (the type invariant).
        self.map_next()
            .map(|live| unsafe { live.mapped.bytes_mut_unchecked() })
    }
}

impl<P: PageProvider, A: Access> Drop for MappingIter<'_, P, A> {
    #[inline]
    fn drop(&mut self) {
        self.release();
    }
}

impl<P: PageProvider, A: Access> fmt::Debug for MappingIter<'_, P, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(if A::WRITES {
            "MappingIterMut"
        } else {
            "MappingIter"
        })
        .field("position", &self.position())
        .field("span", &self.walk.span())
        .field("mapping", &self.live.as_ref().map(|live| &live.mapped))
        .finish_non_exhaustive()
    }
}
