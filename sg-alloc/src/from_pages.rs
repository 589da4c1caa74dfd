//! Building tables from pages: one entry per run of physically consecutive
//! pages, with a segment limit, in one pass; and appending to a table with
//! merging into its last entry.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;

use sg_core::{
    Access, ChunkAllocator, DmaLimits, DmaRun, Error, HeapChunks, PageProvider, PageSet,
    PageSource, SgEntry, SgList, Write,
};

use crate::SgTable;
use crate::chain::{Appender, Chain};

/// When a run of pages ends: the one rule every builder from pages applies,
/// page by page, both when starting entries and when merging into the last
/// entry of a table.
///
/// A run continues while the next page has the next frame number, the run
/// stays within the segment limit, and, for a device with a segment
/// boundary, the run's physical addresses stay between two multiples of
/// the boundary. The rule also caps the table's entries, for a device that
/// takes a limited number of segments.
#[derive(Clone, Copy, Debug)]
struct RunRule {
    /// Pages a run may hold: the segment limit in whole pages, at least 1.
    max_pages: usize,
    /// The segment boundary, a power of two of at least one page, if any.
    boundary: Option<u64>,
    /// Entries the table may hold.
    max_entries: usize,
}

impl RunRule {
    /// The rule for a segment limit of `max_segment` bytes, rounded down to
    /// whole pages.
    fn new<P: PageProvider>(max_segment: u32) -> Result<Self, Error> {
        // A page is at most 2^31 bytes, so `usize` holds the count.
        let max_pages = (u64::from(max_segment) / P::PAGE_SIZE as u64) as usize;
        if max_pages == 0 {
            return Err(Error::SegmentTooSmall {
                max_segment,
                page_size: P::PAGE_SIZE,
            });
        }
        Ok(RunRule {
            max_pages,
            boundary: None,
            max_entries: usize::MAX,
        })
    }

    /// The rule for a device's limits: runs within its maximum segment
    /// size (rounded down to whole pages) and its segment boundary, and at
    /// most its maximum number of segments.
    fn for_device<P: PageProvider>(limits: &DmaLimits) -> Result<Self, Error> {
        limits.validate()?;
        let rule = RunRule::new::<P>(limits.get_max_segment_size())?;
        // Valid limits put the boundary at or above the maximum segment
        // size, which is at least a page here: both are powers of two, so
        // boundaries fall between pages.
        Ok(RunRule {
            boundary: limits.get_segment_boundary(),
            max_entries: limits.get_max_segments(),
            ..rule
        })
    }

    /// Whether the run of `run_pages` pages from `first` takes `next` as its
    /// next page.
    #[inline(always)]
    fn continues<P: PageProvider>(
        &self,
        provider: &P,
        first: P::Page,
        run_pages: usize,
        next: P::Page,
    ) -> bool {
        run_pages < self.max_pages
            && provider.is_next(first, run_pages, next)
            && self
                .boundary
                .is_none_or(|boundary| Self::within(provider, first, run_pages, boundary))
    }

    /// Whether the page `run_pages` pages after `first` starts between the
    /// same two multiples of `boundary` as `first`, judged on physical
    /// addresses (frame number times page size). Since boundaries fall
    /// between pages, the whole grown run then stays between them.
    #[inline]
    fn within<P: PageProvider>(
        provider: &P,
        first: P::Page,
        run_pages: usize,
        boundary: u64,
    ) -> bool {
        let start = DmaRun {
            page: first,
            offset: 0,
            len: 0,
        }
        .phys(provider);
        let next = start.and_then(|start| {
            (run_pages as u64)
                .checked_mul(P::PAGE_SIZE as u64)
                .and_then(|bytes| start.checked_add(bytes))
        });
        match (start, next) {
            (Some(start), Some(next)) => start / boundary == next / boundary,
            // Beyond 64-bit addresses: end the run.
            _ => false,
        }
    }
}

/// A table being built from the pages of a set over several calls (the
/// kernel's `struct sg_append_table`): each
/// [`append_pages`](Self::append_pages) adds entries for the next pages of
/// the set, merging the first of them into the last entry when they
/// continue its physical run; [`finish`](Self::finish) hands out the
/// [`SgTable`].
///
/// The table keeps its set as [`SgTable`] does (owned, or borrowed shared
/// for a read-only table or exclusively for a writable one), and each page
/// of the set is used at most once: a call names a range of the set's
/// positions that starts at or after the end of the pages earlier calls
/// used ([`next_page`](Self::next_page)), so entries never overlap.
///
/// Tell each call how many pages later calls will still append
/// (`left_pages`), so that arrays are sized to leave room for them; the
/// last call passes 0. A call that fails leaves the table exactly as it
/// was.
///
/// # Examples
///
/// ```
/// use sg_alloc::AppendTable;
/// use sg_core::{Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
/// let mut append = AppendTable::new(&pages);
/// append.append_pages(0..2, 0, 8192, u32::MAX, 2)?;
/// append.append_pages(2..4, 0, 8000, u32::MAX, 0)?;
/// let table = append.finish()?;
/// // The second call continued the run of the first: one entry.
/// assert_eq!(table.orig_nents(), 1);
/// assert_eq!(table.byte_len(), 16192);
/// # Ok::<(), sg_core::Error>(())
/// ```
///
/// A page is never appended twice:
///
/// ```
/// use sg_alloc::AppendTable;
/// use sg_core::{Error, Pages, VirtPages};
///
/// let mut pages = Pages::alloc(VirtPages::new(), 1)?;
/// let mut append = AppendTable::new(&mut pages);
/// append.append_pages(0..1, 0, 4096, u32::MAX, 1)?;
/// assert_eq!(
///     append.append_pages(0..2, 0, 8192, u32::MAX, 0),
///     Err(Error::PageReused { index: 0, next: 1 })
/// );
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_append_table")]
pub struct AppendTable<P: PageSet, C: ChunkAllocator<P::Page> = HeapChunks, A: Access = Write> {
    chain: Chain<P::Page, C>,
    provider: P,
    /// The first position of the set that no entry uses yet.
    next_page: usize,
    access: PhantomData<A>,
}

impl<P: PageSet, A: Access> AppendTable<P, HeapChunks, A> {
    /// An empty table over the pages of `pages` (a [`Pages`](sg_core::Pages)
    /// set by value, `&mut` or `&`), whose arrays will be page-sized, from
    /// the heap.
    pub fn new<S: PageSource<Set = P, Access = A>>(pages: S) -> Self {
        Self::new_in(pages, HeapChunks::new())
    }
}

impl<P: PageSet, C: ChunkAllocator<P::Page>, A: Access> AppendTable<P, C, A> {
    /// An empty table over the pages of `pages`, whose arrays will come from
    /// `chunks`, of at most `chunks.max_entries()` slots. Nothing is
    /// allocated yet.
    pub fn new_in<S: PageSource<Set = P, Access = A>>(pages: S, chunks: C) -> Self {
        AppendTable {
            chain: Chain::new(chunks),
            provider: pages.into_set(),
            next_page: 0,
            access: PhantomData,
        }
    }

    /// Appends the bytes of the set's pages at positions `pages` (the
    /// kernel's `sg_alloc_append_table_from_pages`): `size` bytes starting
    /// `offset` bytes into the first page, one entry per run of pages with
    /// consecutive frame numbers, no entry longer than `max_segment`
    /// rounded down to whole pages.
    ///
    /// When the table's last entry ends at the end of a page and the first
    /// new page has the next frame number, new pages merge into that entry
    /// as long as it stays within the limit. Pages beyond the ones `size`
    /// needs are not used (a later call may use them). `left_pages` is how
    /// many pages later calls will still append (0 for the last call, which
    /// also puts the end mark on the last entry); arrays are sized to leave
    /// room for them.
    ///
    /// # Errors
    ///
    /// Checked before anything changes: [`Error::NoPages`] for an empty
    /// range, [`Error::NotInSet`] for a range past the set's end,
    /// [`Error::PageReused`] for a range that starts before
    /// [`next_page`](Self::next_page), [`Error::SegmentTooSmall`] when
    /// `max_segment` is below one page, [`Error::AppendOffset`] for a
    /// non-zero offset when the table has entries,
    /// [`Error::OffsetTooLarge`] for an offset of a page or more,
    /// [`Error::ZeroLength`] for a size of 0, [`Error::SizeTooLarge`] when
    /// the pages hold fewer than `size` bytes after the offset,
    /// [`Error::Overflow`] when the table's byte length would overflow,
    /// [`Error::PartialPage`] when a page the bytes lie in has a handle that
    /// stands for part of its page only ([`PageProvider::is_whole_page`]),
    /// and [`Error::ChunkTooLarge`] when the chunk allocator serves arrays
    /// of fewer than 2 slots. Then what the chunk allocator returns when an
    /// array cannot be had; the table is then left exactly as it was
    /// before the call.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::AppendTable;
    /// use sg_core::{Error, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 1)?;
    /// let mut append = AppendTable::new(&pages);
    /// append.append_pages(0..1, 100, 96, u32::MAX, 1)?;
    /// // Only the first call of an empty table may start inside a page.
    /// let refused = append.append_pages(1..2, 8, 8, u32::MAX, 0);
    /// assert_eq!(refused, Err(Error::AppendOffset { offset: 8 }));
    /// assert_eq!(append.as_list().byte_len(), 96);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_alloc_append_table_from_pages")]
    pub fn append_pages(
        &mut self,
        pages: Range<usize>,
        offset: usize,
        size: u64,
        max_segment: u32,
        left_pages: usize,
    ) -> Result<(), Error> {
        self.check_range(&pages)?;
        let rule = RunRule::new::<P>(max_segment)?;
        self.append_runs(pages, offset, size, rule, left_pages)
    }

    /// As [`append_pages`](Self::append_pages), for a device with `limits`
    /// (FreeBSD's `bus_dmamap_load` with a `bus_dma` tag): no entry is
    /// longer than the maximum segment size rounded down to whole pages,
    /// no entry's physical addresses (frame number times page size plus
    /// offset) cross a multiple of the segment boundary, and the table
    /// holds at most the maximum number of segments.
    ///
    /// Pages merge into the last entry under the same rule. So every entry
    /// maps as one segment, and with a [`DirectMapper`](crate::DirectMapper)
    /// the table maps whenever its pages are within the device's reach and
    /// alignment (which the builder does not check: an IOMMU or a bounce
    /// mapper takes care of those).
    ///
    /// # Errors
    ///
    /// As [`append_pages`](Self::append_pages), with
    /// [`Error::InvalidLimits`] for contradictory limits,
    /// [`Error::SegmentTooSmall`] when the maximum segment size is below
    /// one page, and [`Error::TooManySegments`] when the table would hold
    /// more entries than the device's maximum number of segments (with
    /// `needed` a lower bound); the table is then left as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::AppendTable;
    /// use sg_core::{DmaLimits, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
    /// let limits = DmaLimits::new().max_segment_size(8192);
    /// let mut append = AppendTable::new(&pages);
    /// append.append_pages_for_device(0..1, 0, 4096, &limits, 3)?;
    /// append.append_pages_for_device(1..4, 0, 3 * 4096, &limits, 0)?;
    /// let table = append.finish()?;
    /// let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.length()).collect();
    /// assert_eq!(lengths, [8192, 8192]);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_alloc_append_table_from_pages")]
    #[doc(alias = "bus_dmamap_load")]
    pub fn append_pages_for_device(
        &mut self,
        pages: Range<usize>,
        offset: usize,
        size: u64,
        limits: &DmaLimits,
        left_pages: usize,
    ) -> Result<(), Error> {
        self.check_range(&pages)?;
        let rule = RunRule::for_device::<P>(limits)?;
        self.append_runs(pages, offset, size, rule, left_pages)
    }

    /// Refuses an empty range, one past the set's end, and one that starts
    /// on a page the table already uses.
    fn check_range(&self, pages: &Range<usize>) -> Result<(), Error> {
        if pages.start >= pages.end {
            return Err(Error::NoPages);
        }
        let len = self.provider.pages().len();
        if pages.end > len {
            return Err(Error::NotInSet {
                end: pages.end,
                pages: len,
            });
        }
        if pages.start < self.next_page {
            return Err(Error::PageReused {
                index: pages.start,
                next: self.next_page,
            });
        }
        Ok(())
    }

    /// The first position of the set that no entry uses yet: where the next
    /// call's range may start at the earliest.
    #[inline]
    pub fn next_page(&self) -> usize {
        self.next_page
    }

    /// The body of the appends, after the pages and the limits are checked.
    fn append_runs(
        &mut self,
        range: Range<usize>,
        offset: usize,
        size: u64,
        rule: RunRule,
        left_pages: usize,
    ) -> Result<(), Error> {
        let page_size = P::PAGE_SIZE as u64;
        let pages = &self.provider.pages()[range.clone()];
        if offset != 0 && self.chain.entries() != 0 {
            return Err(Error::AppendOffset { offset });
        }
        if offset >= P::PAGE_SIZE {
            return Err(Error::OffsetTooLarge {
                offset,
                page_size: P::PAGE_SIZE,
            });
        }
        if size == 0 {
            return Err(Error::ZeroLength);
        }
        let available = (pages.len() as u64)
            .checked_mul(page_size)
            .map_or(u64::MAX, |bytes| bytes - offset as u64);
        if size > available {
            return Err(Error::SizeTooLarge { size, available });
        }
        if self.chain.byte_len().checked_add(size).is_none() {
            return Err(Error::Overflow {
                what: "table byte length",
            });
        }
        let capacity = self.chain.chunks().max_entries();
        if capacity < 2 {
            return Err(Error::ChunkTooLarge {
                requested: 2,
                max: capacity,
            });
        }

        // Only the pages that hold the `size` bytes: at most `pages.len()`,
        // since `size` fits in them (with a zero-sized page handle, their
        // byte count may overflow a u64, and then so may this end).
        let end = (offset as u64).checked_add(size).ok_or(Error::Overflow {
            what: "offset plus size",
        })?;
        let used = usize::try_from(end.div_ceil(page_size))
            .map_or(pages.len(), |used| used.min(pages.len()));
        let pages = &pages[..used];
        if let Some(index) = pages
            .iter()
            .position(|&page| !self.provider.is_whole_page(page))
        {
            return Err(Error::PartialPage {
                index: range.start + index,
            });
        }
        let provider = &self.provider;
        let mut entries = self.chain.entries();
        let mut append = Appender::begin(&mut self.chain, capacity);
        let mut left = size;
        let mut index = 0;

        // Merge the first pages into the last entry while its run goes on.
        if let Some((first, mut run)) = append.last().and_then(|last| {
            let end = u64::from(last.offset()) + u64::from(last.length());
            let page = last.page()?;
            (end % page_size == 0).then_some((page, (end / page_size) as usize))
        }) {
            let mut grown = 0;
            while index < pages.len() && rule.continues(provider, first, run, pages[index]) {
                let bytes = left.min(page_size);
                grown += bytes;
                left -= bytes;
                run += 1;
                index += 1;
            }
            if grown > 0 {
                append.grow_last(grown)?;
            }
        }

        // One entry per run of the remaining pages, written straight into
        // the free slots of the tail, as many as it offers at a time.
        let mut offset = offset as u64;
        while index < pages.len() {
            if entries == rule.max_entries {
                // Dropping the appender puts the table back as it was.
                return Err(Error::TooManySegments {
                    needed: entries + 1,
                    max: rule.max_entries,
                });
            }
            // Every entry still to come takes at least one page.
            let needed = (pages.len() - index).saturating_add(left_pages);
            let (slots, usable) = append.room(needed)?;
            let usable = usable.min(rule.max_entries - entries);
            let mut written = 0;
            let mut bytes = 0;
            while written < usable && index < pages.len() {
                let first = pages[index];
                let mut run = 1;
                while index + run < pages.len()
                    && rule.continues(provider, first, run, pages[index + run])
                {
                    run += 1;
                }
                // At most `max_pages` pages, so within `max_segment`: a u32.
                let length = left.min(run as u64 * page_size - offset);
                let mut entry = SgEntry::new();
                // SAFETY: the entry describes bytes of pages of the set the
                // table keeps (owned or borrowed for its whole life), which
                // vouches for them with its provider; each page of the set
                // is used once (positions only grow, `next_page`), and the
                // set holds no page twice, so for a table that writes no
                // two entries share a byte.
                unsafe { entry.set_page(first, length as u32, offset as u32) };
                // SAFETY: `written < usable`, a slot `room` offered.
                unsafe { slots.add(written).write(entry) };
                written += 1;
                bytes += length;
                left -= length;
                offset = 0;
                index += run;
            }
            entries += written;
            // SAFETY: `written` slots from `slots` now hold data entries of
            // `bytes` bytes in all; the appender was not used meanwhile.
            unsafe { append.filled(written, bytes) };
        }
        debug_assert_eq!(left, 0);
        append.commit(left_pages == 0);
        self.next_page = range.start + used;
        Ok(())
    }

    /// Data entries so far.
    #[inline]
    pub fn orig_nents(&self) -> usize {
        self.chain.entries()
    }

    /// Bytes so far.
    #[inline]
    pub fn byte_len(&self) -> u64 {
        self.chain.byte_len()
    }

    /// Whether nothing was appended yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.chain.entries() == 0
    }

    /// Arrays of entries so far.
    #[inline]
    pub fn arrays(&self) -> usize {
        self.chain.arrays()
    }

    /// The provider that maps the table's pages.
    #[inline]
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// A view of the entries so far.
    #[inline]
    pub fn as_list(&self) -> SgList<'_, P> {
        self.chain.list(usize::MAX, &self.provider)
    }

    /// The finished table; its last entry carries the end mark (whatever
    /// the last call's `left_pages` said).
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] when nothing was appended.
    pub fn finish(self) -> Result<SgTable<P, C, A>, Error> {
        let AppendTable {
            mut chain,
            provider,
            ..
        } = self;
        let last = chain.last_mut().ok_or(Error::NoEntries)?;
        last.mark_end();
        // INVARIANT: every entry describes bytes of the set's pages, each
        // page used once; the set travels with the table.
        Ok(SgTable::from_chain(chain, provider))
    }
}

impl<P: PageSet, C: ChunkAllocator<P::Page>, A: Access> fmt::Debug for AppendTable<P, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppendTable")
            .field("writes", &A::WRITES)
            .field("next_page", &self.next_page)
            .field("orig_nents", &self.orig_nents())
            .field("byte_len", &self.byte_len())
            .field("arrays", &self.arrays())
            .field("entries", &self.as_list())
            .finish()
    }
}

impl<P: PageSet, A: Access> SgTable<P, HeapChunks, A> {
    /// A table over `size` bytes of the pages of a set, starting `offset`
    /// bytes into its first page, one entry per run of pages with
    /// consecutive frame numbers (the kernel's `sg_alloc_table_from_pages`,
    /// whose entries are limited only by `u32::MAX`); arrays come from the
    /// heap.
    ///
    /// `pages` is a [`Pages`](sg_core::Pages) set: by value (the table owns
    /// the pages, gives them back on drop, and may write them), by `&mut`
    /// (the table borrows them exclusively and may write them) or by `&`
    /// (the table borrows them shared and only reads them, [`Read`](sg_core::Read)).
    /// The pages are laid out in the set's order; the ones `size` does not
    /// need are not described.
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages`]. A set passed by value is dropped
    /// then (its pages given back); pass `&mut` to keep it.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{Pages, VirtPages};
    ///
    /// let mut pages = Pages::alloc(VirtPages::new(), 1)?; // two contiguous pages
    /// pages.swap(0, 1); // second page first: two runs
    /// let table = SgTable::from_pages(&mut pages, 96, 6000)?;
    /// let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.length()).collect();
    /// assert_eq!(lengths, [4000, 2000]);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    ///
    /// Two writable tables over one set do not compile:
    ///
    /// ```compile_fail,E0499
    /// use sg_alloc::SgTable;
    /// use sg_core::{Pages, VirtPages};
    ///
    /// let mut pages = Pages::alloc(VirtPages::new(), 0).unwrap();
    /// let mut a = SgTable::from_pages(&mut pages, 0, 4096).unwrap();
    /// // Rule: a writable table borrows its pages exclusively.
    /// let mut b = SgTable::from_pages(&mut pages, 0, 4096).unwrap();
    /// let _ = (a.as_list_mut(), b.as_list_mut());
    /// ```
    #[doc(alias = "sg_alloc_table_from_pages")]
    pub fn from_pages<S: PageSource<Set = P, Access = A>>(
        pages: S,
        offset: usize,
        size: u64,
    ) -> Result<Self, Error> {
        Self::from_pages_in(pages, offset, size, u32::MAX, HeapChunks::new())
    }

    /// As [`from_pages`](Self::from_pages), with no entry longer than
    /// `max_segment` bytes rounded down to whole pages (the kernel's
    /// `sg_alloc_table_from_pages_segment`).
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages`].
    #[doc(alias = "sg_alloc_table_from_pages_segment")]
    pub fn from_pages_segment<S: PageSource<Set = P, Access = A>>(
        pages: S,
        offset: usize,
        size: u64,
        max_segment: u32,
    ) -> Result<Self, Error> {
        Self::from_pages_in(pages, offset, size, max_segment, HeapChunks::new())
    }

    /// A table over `size` bytes of the pages of a set starting `offset`
    /// bytes into its first page, built for a device with `limits`; arrays
    /// come from the heap.
    ///
    /// One entry per run of pages with consecutive frame numbers, and a run
    /// also ends at the device's maximum segment size (rounded down to
    /// whole pages) and where its physical addresses (frame number times
    /// page size plus offset) would cross a multiple of the segment
    /// boundary; the table holds at most the maximum number of segments.
    /// So every entry maps as one segment ([`SgTable::map_dma`] never
    /// refuses it with [`Error::EntryNeedsSplit`]), and with a
    /// [`DirectMapper`](crate::DirectMapper) the table maps whenever its
    /// pages are within the device's reach and alignment.
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages_for_device`].
    ///
    /// # Examples
    ///
    /// Sixteen contiguous pages for a device with 64 KiB segments on 64 KiB
    /// boundaries: the entries end wherever the addresses cross a multiple
    /// of 64 KiB.
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{DmaLimits, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 4)?;
    /// let limits = DmaLimits::new()
    ///     .max_segment_size(64 * 1024)
    ///     .segment_boundary(Some(64 * 1024));
    /// let table = SgTable::from_pages_for_device(&pages, 0, 16 * 4096, &limits)?;
    /// for entry in table.as_list() {
    ///     let start = entry.phys(&pages).unwrap();
    ///     assert!(!limits.crosses_boundary(start, u64::from(entry.length())));
    /// }
    /// assert_eq!(table.byte_len(), 16 * 4096);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_alloc_table_from_pages_segment")]
    #[doc(alias = "bus_dmamap_load")]
    pub fn from_pages_for_device<S: PageSource<Set = P, Access = A>>(
        pages: S,
        offset: usize,
        size: u64,
        limits: &DmaLimits,
    ) -> Result<Self, Error> {
        Self::from_pages_for_device_in(pages, offset, size, limits, HeapChunks::new())
    }
}

impl<P: PageSet, C: ChunkAllocator<P::Page>, A: Access> SgTable<P, C, A> {
    /// As [`from_pages_for_device`](SgTable::from_pages_for_device), with
    /// arrays from `chunks`.
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages_for_device`].
    #[doc(alias = "bus_dmamap_load")]
    pub fn from_pages_for_device_in<S: PageSource<Set = P, Access = A>>(
        pages: S,
        offset: usize,
        size: u64,
        limits: &DmaLimits,
        chunks: C,
    ) -> Result<Self, Error> {
        let mut append = AppendTable::new_in(pages, chunks);
        let all = 0..append.provider.pages().len();
        append.append_pages_for_device(all, offset, size, limits, 0)?;
        append.finish()
    }

    /// As [`from_pages_segment`](SgTable::from_pages_segment), with arrays
    /// from `chunks`: the append form with nothing to come.
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages`].
    #[doc(alias = "sg_alloc_table_from_pages_segment")]
    pub fn from_pages_in<S: PageSource<Set = P, Access = A>>(
        pages: S,
        offset: usize,
        size: u64,
        max_segment: u32,
        chunks: C,
    ) -> Result<Self, Error> {
        let mut append = AppendTable::new_in(pages, chunks);
        let all = 0..append.provider.pages().len();
        append.append_pages(all, offset, size, max_segment, 0)?;
        append.finish()
    }
}
