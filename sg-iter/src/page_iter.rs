//! The page iterators: the pages a view's entries touch, and the bus
//! addresses of the pages of its DMA segments.
//!
//! Both only read entries and call [`PageProvider::nth`]; they never map a
//! page, so this module needs no `unsafe`.

#![forbid(unsafe_code)]

use core::fmt;
use core::iter::FusedIterator;
use core::ptr;

use sg_core::{Entries, PageProvider, Segment, Segments, SgEntry, SgList};

/// Iterator over the pages of a view's entries (the kernel's
/// `sg_page_iter` with `for_each_sg_page`), yielding page handles.
///
/// For each entry, in list order, it yields every page that the entry's
/// range `[0, offset + length)` touches, counting pages from the entry's
/// page: the handle of page `i` is `provider.nth(entry_page, i)`. An entry
/// whose offset is a page or more therefore also yields the pages before its
/// data, as the kernel does. Entries that touch no page (length and offset
/// 0, or no page) are skipped. Limit the view with
/// [`SgList::take_entries`] to visit the kernel's `nents` entries.
///
/// # Byte-range slices
///
/// A view made with [`SgList::slice`] visits the pages its bytes touch:
///
/// - the entry the slice starts in, when the slice starts after that
///   entry's first byte, from the page holding the slice's first byte
///   (not from the entry's page);
/// - the entry the slice ends in, up to the page holding the slice's last
///   byte;
/// - every other entry of the slice as above, including zero-length entries
///   between its first and last byte.
///
/// So a slice that starts and ends on entry boundaries visits exactly the
/// pages the whole list visits for those entries.
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
/// use sg_iter::PageIter;
///
/// let pages = VirtPages::new();
/// let run = pages.alloc_pages(2)?; // four contiguous pages
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: bytes of the pages allocated above, in no other list.
/// unsafe {
///     entries[0].set_page(run, 4000, 100); // touches pages 0 and 1
///     entries[1].set_page(pages.nth(run, 3), 0, 10); // touches its own page
/// }
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let list = unsafe { SgList::new(&entries, &pages) };
///
/// let visited: Vec<_> = PageIter::new(list, 0).collect();
/// assert_eq!(visited, [run, pages.nth(run, 1), pages.nth(run, 3)]);
/// // Starting one page in, and only over the first entry:
/// let visited: Vec<_> = PageIter::new(list.take_entries(1), 1).collect();
/// assert_eq!(visited, [pages.nth(run, 1)]);
/// # // SAFETY: allocated above with order 2; the list is not used again.
/// # unsafe { pages.free_pages(run, 2) };
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_page_iter")]
#[doc(alias = "for_each_sg_page")]
#[doc(alias = "sg_page_iter_page")]
pub struct PageIter<'a, P: PageProvider> {
    provider: &'a P,
    entries: Entries<'a, P::Page>,
    /// The view's trimmed bytes, walked in step with `entries` to learn how
    /// a slice trims its first and last entries.
    segments: Segments<'a, P::Page>,
    /// The next segment, read ahead of the entry it belongs to.
    pending: Option<Segment<'a, P::Page>>,
    /// The entry whose pages are being visited, and its page.
    current: Option<(&'a SgEntry<P::Page>, P::Page)>,
    /// Index (from the entry's page) of the next page to yield.
    next_index: usize,
    /// Index one past the last page of the current entry to yield.
    end_index: usize,
    /// Pages still to skip before the first one yielded.
    skip_pages: usize,
}

impl<'a, P: PageProvider> PageIter<'a, P> {
    /// An iterator over the pages of `list`, starting `pgoffset` pages in
    /// (the kernel's `__sg_page_iter_start`).
    ///
    /// `pgoffset` counts pages over the whole sequence the iterator would
    /// yield from the start, across entries. Nothing is walked until the
    /// first call to `next`.
    #[doc(alias = "__sg_page_iter_start")]
    #[must_use]
    pub fn new(list: SgList<'a, P>, pgoffset: usize) -> Self {
        PageIter {
            provider: list.provider(),
            entries: list.iter(),
            segments: list.segments(),
            pending: None,
            current: None,
            next_index: 0,
            end_index: 0,
            skip_pages: pgoffset,
        }
    }

    /// The entry of the page last yielded (the kernel's `piter->sg`), or
    /// `None` before the first page.
    ///
    /// ```
    /// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
    /// use sg_iter::PageIter;
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0)?;
    /// let mut entries: [SgEntry<_>; 2] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: bytes of the page allocated above, in no other list.
    /// unsafe {
    ///     entries[0].set_page(page, 0, 0); // touches no page: skipped
    ///     entries[1].set_page(page, 16, 8);
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let mut visit = PageIter::new(unsafe { SgList::new(&entries, &pages) }, 0);
    /// assert!(visit.entry().is_none());
    /// assert_eq!(visit.next(), Some(page));
    /// assert_eq!(visit.entry().map(|entry| entry.offset()), Some(16));
    /// # // SAFETY: allocated above with order 0; the list is not used again.
    /// # unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[inline]
    pub fn entry(&self) -> Option<&'a SgEntry<P::Page>> {
        self.current.map(|(entry, _)| entry)
    }

    /// The range of page indices (from the entry's page) to visit for
    /// `entry`, as described on the type.
    fn page_range(&mut self, entry: &'a SgEntry<P::Page>) -> (usize, usize) {
        if self.pending.is_none() {
            self.pending = self.segments.next();
        }
        let page_size = P::PAGE_SIZE as u64;
        match self.pending {
            Some(segment) if ptr::eq(segment.entry, entry) => {
                self.pending = None;
                let first = if segment.offset > u64::from(entry.offset()) {
                    segment.offset / page_size
                } else {
                    0
                };
                let end = (segment.offset + u64::from(segment.len)).div_ceil(page_size);
                // Offsets are below 2^33 and pages at least 64 bytes, so page
                // indices fit in 27 bits.
                (first as usize, end as usize)
            }
            // The view holds no byte of this entry: it is a zero-length
            // entry (the walk never yields other empty entries). It still
            // touches the pages below its offset, as in the kernel.
            _ if entry.page().is_some() => {
                let end = u64::from(entry.offset()).div_ceil(page_size);
                (0, end as usize)
            }
            _ => (0, 0),
        }
    }
}

impl<P: PageProvider> Iterator for PageIter<'_, P> {
    type Item = P::Page;

    #[inline]
    fn next(&mut self) -> Option<P::Page> {
        loop {
            if let Some((_, page)) = self.current {
                if self.next_index < self.end_index {
                    let index = self.next_index;
                    self.next_index += 1;
                    return Some(if index == 0 {
                        page
                    } else {
                        self.provider.nth(page, index)
                    });
                }
            }
            let Some(entry) = self.entries.next() else {
                self.current = None;
                return None;
            };
            let (first, end) = self.page_range(entry);
            let count = end.saturating_sub(first);
            if self.skip_pages >= count {
                self.skip_pages -= count;
                continue;
            }
            let Some(page) = entry.page() else { continue };
            self.current = Some((entry, page));
            self.next_index = first + self.skip_pages;
            self.end_index = end;
            self.skip_pages = 0;
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let in_entry = if self.current.is_some() {
            self.end_index.saturating_sub(self.next_index)
        } else {
            0
        };
        (in_entry, None)
    }
}

impl<P: PageProvider> FusedIterator for PageIter<'_, P> {}

impl<P: PageProvider> Clone for PageIter<'_, P> {
    fn clone(&self) -> Self {
        PageIter {
            provider: self.provider,
            entries: self.entries.clone(),
            segments: self.segments.clone(),
            pending: self.pending,
            current: self.current,
            next_index: self.next_index,
            end_index: self.end_index,
            skip_pages: self.skip_pages,
        }
    }
}

impl<P: PageProvider> fmt::Debug for PageIter<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageIter")
            .field("entry", &self.entry())
            .field("next_index", &self.next_index)
            .field("end_index", &self.end_index)
            .field("skip_pages", &self.skip_pages)
            .finish_non_exhaustive()
    }
}

/// Iterator over the pages of a view's DMA segments (the kernel's
/// `sg_dma_page_iter` with `for_each_sg_dma_page` and
/// `sg_page_iter_dma_address`), yielding bus addresses.
///
/// Give it the DMA view of a table: the view limited to the table's `nents`
/// entries with [`SgList::take_entries`]. For each entry in list order whose
/// DMA length is not 0, it yields `dma_address + i * PAGE_SIZE` for every
/// page `i` of the DMA segment, that is for `i` below
/// `(dma_address % PAGE_SIZE + dma_length).div_ceil(PAGE_SIZE)`, the pages
/// the segment's bus addresses touch. Entries with DMA length 0 hold no
/// segment and are skipped. Addresses wrap around at `u64::MAX`.
///
/// This differs from the kernel, which counts the entry's CPU offset
/// instead of the bus address's in-page offset: the counts agree whenever
/// the offset is below one page and the mapper kept it as the address's
/// in-page offset (the usual case), and where they differ the kernel yields
/// addresses past the end of the segment.
///
/// DMA fields belong to whole entries, so a byte-range slice visits the
/// whole segments of the entries it touches.
///
/// # Examples
///
/// ```
/// use sg_core::{SgEntry, SgList, VirtPages};
/// use sg_iter::DmaPageIter;
///
/// let pages = VirtPages::new();
/// let mut entries: [SgEntry<_>; 3] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// entries[0].set_dma(0x10_0000, 8192); // two pages
/// entries[1].set_dma(0x20_0800, 4096); // starts mid-page: touches two
/// // entries[2] was not mapped (DMA length 0).
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let dma_view = unsafe { SgList::new(&entries, &pages) }.take_entries(2); // nents = 2
///
/// let addresses: Vec<u64> = DmaPageIter::new(dma_view, 1).collect();
/// assert_eq!(addresses, [0x10_1000, 0x20_0800, 0x20_1800]);
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_dma_page_iter")]
#[doc(alias = "for_each_sg_dma_page")]
#[doc(alias = "sg_page_iter_dma_address")]
pub struct DmaPageIter<'a, P: PageProvider> {
    entries: Entries<'a, P::Page>,
    /// The entry whose segment is being visited.
    current: Option<&'a SgEntry<P::Page>>,
    /// Bus address of the current segment.
    base: u64,
    /// Index of the next page of the segment to yield.
    next_index: u64,
    /// Pages of the current segment.
    end_index: u64,
    /// Pages still to skip before the first one yielded.
    skip_pages: u64,
}

impl<'a, P: PageProvider> DmaPageIter<'a, P> {
    /// An iterator over the pages of the DMA segments of `list`, starting
    /// `pgoffset` pages in (the kernel's `__sg_page_iter_start` on a
    /// `sg_dma_page_iter`).
    ///
    /// `pgoffset` counts pages across segments.
    #[doc(alias = "__sg_page_iter_start")]
    #[must_use]
    pub fn new(list: SgList<'a, P>, pgoffset: usize) -> Self {
        DmaPageIter {
            entries: list.iter(),
            current: None,
            base: 0,
            next_index: 0,
            end_index: 0,
            skip_pages: pgoffset as u64,
        }
    }

    /// The entry of the address last yielded, or `None` before the first.
    #[inline]
    pub fn entry(&self) -> Option<&'a SgEntry<P::Page>> {
        self.current
    }
}

impl<P: PageProvider> Iterator for DmaPageIter<'_, P> {
    type Item = u64;

    #[inline]
    fn next(&mut self) -> Option<u64> {
        let page_size = P::PAGE_SIZE as u64;
        loop {
            if self.next_index < self.end_index {
                let index = self.next_index;
                self.next_index += 1;
                return Some(self.base.wrapping_add(index * page_size));
            }
            let Some(entry) = self.entries.next() else {
                self.current = None;
                return None;
            };
            let length = entry.dma_len();
            if length == 0 {
                continue;
            }
            let address = entry.dma_address();
            let count = (address % page_size + u64::from(length)).div_ceil(page_size);
            if self.skip_pages >= count {
                self.skip_pages -= count;
                continue;
            }
            self.current = Some(entry);
            self.base = address;
            self.next_index = self.skip_pages;
            self.end_index = count;
            self.skip_pages = 0;
        }
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        let in_segment = self.end_index.saturating_sub(self.next_index);
        (usize::try_from(in_segment).unwrap_or(usize::MAX), None)
    }
}

impl<P: PageProvider> FusedIterator for DmaPageIter<'_, P> {}

impl<P: PageProvider> Clone for DmaPageIter<'_, P> {
    fn clone(&self) -> Self {
        DmaPageIter {
            entries: self.entries.clone(),
            current: self.current,
            base: self.base,
            next_index: self.next_index,
            end_index: self.end_index,
            skip_pages: self.skip_pages,
        }
    }
}

impl<P: PageProvider> fmt::Debug for DmaPageIter<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmaPageIter")
            .field("entry", &self.current)
            .field("base", &format_args!("{:#x}", self.base))
            .field("next_index", &self.next_index)
            .field("end_index", &self.end_index)
            .field("skip_pages", &self.skip_pages)
            .finish()
    }
}
