//! Building tables from pages: one entry per run of physically consecutive
//! pages, under a device's limits, in one pass ([`FromPages`]); and
//! appending to a table with merging into its last entry
//! ([`AppendTable`]). Both go through `AppendTable::append_pages`.

mod builder;
mod rule;

pub use builder::{AppendPages, FromPages};
use rule::RunRule;

use core::fmt;
use core::marker::PhantomData;
use core::ops::Range;

use sg_core::{
    Access, ChunkAllocator, Error, HeapChunks, PageSet, PageSource, SgEntry, SgList, Write,
};

use crate::SgTable;
use crate::chain::{Appender, Chain};

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
/// ([`AppendPages::left_pages`]), so that arrays are sized to leave room for them; the
/// last call passes 0. A call that fails leaves the table exactly as it
/// was.
///
/// # Examples
///
/// ```
/// use sg_alloc::{AppendPages, AppendTable};
/// use sg_core::{Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
/// let mut append = AppendTable::new(&pages);
/// append.append_pages(AppendPages::new(0..2, 8192).left_pages(2))?;
/// append.append_pages(AppendPages::new(2..4, 8000))?;
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
/// use sg_alloc::{AppendPages, AppendTable};
/// use sg_core::{Error, Pages, VirtPages};
///
/// let mut pages = Pages::alloc(VirtPages::new(), 1)?;
/// let mut append = AppendTable::new(&mut pages);
/// append.append_pages(AppendPages::new(0..1, 4096).left_pages(1))?;
/// assert_eq!(
///     append.append_pages(AppendPages::new(0..2, 8192)),
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

    /// Appends bytes of the set's pages as `append` says (the kernel's
    /// `sg_alloc_append_table_from_pages`; FreeBSD's `bus_dmamap_load` with
    /// a `bus_dma` tag when [`AppendPages::limits`] are a device's): `size`
    /// bytes starting `offset` bytes into the first page of the positions
    /// `pages`, one entry per run of pages with consecutive frame numbers.
    ///
    /// Under the limits, no entry is longer than the maximum segment size
    /// rounded down to whole pages, no entry's physical addresses (frame
    /// number times page size plus offset) cross a multiple of the segment
    /// boundary, and the table holds at most the maximum number of
    /// segments: so every entry maps as one segment, and with a
    /// [`DirectMapper`](crate::DirectMapper) the table maps whenever its
    /// pages are within the device's reach and alignment (which the
    /// builder does not check: an IOMMU or a bounce mapper takes care of
    /// those).
    ///
    /// When the table's last entry ends at the end of a page and the first
    /// new page has the next frame number, new pages merge into that entry
    /// under the same rule. Pages beyond the ones `size` needs are not used
    /// (a later call may use them). [`left_pages`](AppendPages::left_pages)
    /// is how many pages later calls will still append (0 for the last
    /// call, which also puts the end mark on the last entry); arrays are
    /// sized to leave room for them.
    ///
    /// # Errors
    ///
    /// Checked before anything changes: [`Error::NoPages`] for an empty
    /// range, [`Error::NotInSet`] for a range past the set's end,
    /// [`Error::PageReused`] for a range that starts before
    /// [`next_page`](Self::next_page), [`Error::InvalidLimits`] for
    /// contradictory limits (a maximum segment size of 0 included),
    /// [`Error::SegmentTooSmall`] when the maximum segment size is below
    /// one page, [`Error::AppendOffset`] for a
    /// non-zero offset when the table has entries,
    /// [`Error::OffsetTooLarge`] for an offset of a page or more,
    /// [`Error::ZeroLength`] for a size of 0, [`Error::SizeTooLarge`] when
    /// the pages hold fewer than `size` bytes after the offset,
    /// [`Error::Overflow`] when the table's byte length would overflow,
    /// [`Error::PartialPage`] when a page the bytes lie in has a handle that
    /// stands for part of its page only ([`PageProvider::is_whole_page`](sg_core::PageProvider::is_whole_page)),
    /// and [`Error::ChunkTooLarge`] when the chunk allocator serves arrays
    /// of fewer than 2 slots. Then [`Error::TooManySegments`] when the
    /// table would hold more entries than the maximum number of segments
    /// (with `needed` a lower bound), and what the chunk allocator returns
    /// when an array cannot be had; the table is then left exactly as it
    /// was before the call (also when the allocator or the provider
    /// panics).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::{AppendPages, AppendTable};
    /// use sg_core::{Error, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 1)?;
    /// let mut append = AppendTable::new(&pages);
    /// append.append_pages(AppendPages::new(0..1, 96).offset(100).left_pages(1))?;
    /// // Only the first call of an empty table may start inside a page.
    /// let refused = append.append_pages(AppendPages::new(1..2, 8).offset(8));
    /// assert_eq!(refused, Err(Error::AppendOffset { offset: 8 }));
    /// assert_eq!(append.as_list().byte_len(), 96);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    ///
    /// For a device:
    ///
    /// ```
    /// use sg_alloc::{AppendPages, AppendTable};
    /// use sg_core::{DmaLimits, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
    /// let limits = DmaLimits::new().with_max_segment_size(8192);
    /// let mut append = AppendTable::new(&pages);
    /// append.append_pages(AppendPages::new(0..1, 4096).limits(&limits).left_pages(3))?;
    /// append.append_pages(AppendPages::new(1..4, 3 * 4096).limits(&limits))?;
    /// let table = append.finish()?;
    /// let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    /// assert_eq!(lengths, [8192, 8192]);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_alloc_append_table_from_pages")]
    #[doc(alias = "append_pages_for_device")]
    #[doc(alias = "bus_dmamap_load")]
    pub fn append_pages(&mut self, append: AppendPages) -> Result<(), Error> {
        self.check_range(&append.pages)?;
        let rule = RunRule::new::<P>(&append.limits)?;
        self.append_runs(append, rule)
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
    fn append_runs(&mut self, append: AppendPages, rule: RunRule) -> Result<(), Error> {
        let AppendPages {
            pages: range,
            offset,
            size,
            left_pages,
            ..
        } = append;
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
        let capacity = self.chain.chunk_allocator().max_entries();
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
        // One branch-free pass over the pages (which vectorizes for cheap
        // checks); the page at fault is looked for only when there is one.
        let all_whole = pages
            .iter()
            .fold(true, |all, &page| all & self.provider.is_whole_page(page));
        if let Some(index) = (!all_whole)
            .then(|| {
                pages
                    .iter()
                    .position(|&page| !self.provider.is_whole_page(page))
            })
            .flatten()
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
            let end = u64::from(last.offset()) + u64::from(last.len());
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
            // The common case first: runs of whole pages (no offset left,
            // all their bytes wanted) under a rule without a boundary, each
            // an entry of `run` pages, with none of the trimming below. A
            // run that reaches the pages that are not whole is left to the
            // general loop, which may grow it into them.
            if offset == 0 && !rule.has_boundary() {
                // Pages `index..whole_end` lie entirely within `left`.
                let whole_end = usize::try_from(left / page_size).map_or(pages.len(), |whole| {
                    index.saturating_add(whole).min(pages.len())
                });
                let max_pages = rule.max_pages();
                // Scattered pages first: when no page of the next `usable`
                // continues the one before it, each is an entry of its own,
                // written without the run loop's per-page bookkeeping; then
                // the runs, from the first page that continues its
                // predecessor. Both out of line, so that each loop keeps
                // its values in registers.
                let open_end = whole_end < pages.len();
                let whole = &pages[index..whole_end];
                let singles = single_pages(provider, whole, usable, open_end, slots);
                let (runs, used) = if singles < usable && singles < whole.len() {
                    whole_page_runs(
                        provider,
                        &whole[singles..],
                        usable - singles,
                        max_pages,
                        open_end,
                        // SAFETY: `singles < usable`: within the slots.
                        unsafe { slots.add(singles) },
                    )
                } else {
                    (0, 0)
                };
                written = singles + runs;
                index += singles + used;
                bytes = (singles + used) as u64 * page_size;
                left -= bytes;
            }
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
                unsafe { entry.set_page(first, offset as u32, length as u32) };
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

/// Writes one entry per whole page of `pages` into the slots from `slots`,
/// from the first page on, as long as no page continues the run of the page
/// before it and at most `usable` (and, when `open_end`, never the last
/// page of `pages`, which the caller may grow into partial pages). Returns
/// the entries written, one page each: a page that the next one continues
/// is left to the caller's run loop, as is everything after it.
///
/// This is the whole build for pages that merge nothing, one check and one
/// entry per page; out of line, so that its loop gets registers of its own
/// (inlined into the run loop, both spilled).
#[inline(never)]
fn single_pages<P: sg_core::PageProvider>(
    provider: &P,
    pages: &[P::Page],
    usable: usize,
    open_end: bool,
    slots: core::ptr::NonNull<SgEntry<P::Page>>,
) -> usize {
    let Some(last) = pages.len().checked_sub(1) else {
        return 0;
    };
    // Pages with a next page to check (`..last`), and then, with a closed
    // end, the last page, which nothing after it can continue.
    let paired = usable.min(last);
    let length = P::PAGE_SIZE as u32;
    let write = |position: usize, page: P::Page| {
        let mut entry = SgEntry::new();
        // SAFETY: as in `append_runs`: one whole page of the set the table
        // keeps, used once; `PAGE_SIZE` fits a u32 (the run rule's maximum
        // segment size, a u32, holds at least a page).
        unsafe { entry.set_page(page, 0, length) };
        // SAFETY: `position < usable`, a slot `room` offered.
        unsafe { slots.add(position).write(entry) };
    };
    let mut written = 0;
    while written < paired {
        let page = pages[written];
        if provider.is_next(page, 1, pages[written + 1]) {
            return written;
        }
        write(written, page);
        written += 1;
    }
    if written == last && written < usable && !open_end {
        write(written, pages[last]);
        written += 1;
    }
    written
}

/// Writes one entry per run of whole pages of `pages` (consecutive frames,
/// at most `max_pages` long) into the slots from `slots`, at most `usable`;
/// a run that reaches the end of `pages` when `open_end` is left to the
/// caller (it may grow into partial pages). Returns the entries written and
/// the pages they hold.
#[inline(never)]
fn whole_page_runs<P: sg_core::PageProvider>(
    provider: &P,
    pages: &[P::Page],
    usable: usize,
    max_pages: usize,
    open_end: bool,
    slots: core::ptr::NonNull<SgEntry<P::Page>>,
) -> (usize, usize) {
    let page_size = P::PAGE_SIZE as u64;
    let mut written = 0;
    let mut index = 0;
    while written < usable && index < pages.len() {
        let first = pages[index];
        let mut run = 1;
        while index + run < pages.len()
            && run < max_pages
            && provider.is_next(first, run, pages[index + run])
        {
            run += 1;
        }
        if open_end && index + run == pages.len() {
            break;
        }
        // At most `max_pages` pages, so within the maximum segment: a u32.
        let length = run as u64 * page_size;
        let mut entry = SgEntry::new();
        // SAFETY: the entry describes `run` whole pages of the set the table
        // keeps (owned or borrowed for its whole life), which vouches for
        // them with its provider; each page of the set is used once
        // (positions only grow, `next_page`), and the set holds no page
        // twice, so for a table that writes no two entries share a byte.
        unsafe { entry.set_page(first, 0, length as u32) };
        // SAFETY: `written < usable`, a slot the caller's `room` offered.
        unsafe { slots.add(written).write(entry) };
        written += 1;
        index += run;
    }
    (written, index)
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
