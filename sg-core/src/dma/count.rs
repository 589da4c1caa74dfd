//! Counting the segments a list needs, by length or under a device's
//! limits.

use core::ptr;

use crate::{DmaLimits, DmaRun, Error, PageProvider, Segment, SgList};

impl<P: PageProvider> SgList<'_, P> {
    /// The number of segments the view needs when each entry is cut into
    /// pieces of at most `max_len` bytes (the kernel's `sg_nents_for_dma`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimits`] when `max_len` is 0, and
    /// [`Error::Overflow`] when the count does not fit a `usize` (on
    /// 32-bit targets, for lists of more than 4 GiB in small pieces).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let run = pages.alloc_pages(2)?;
    /// let mut entries: [SgEntry<_>; 2] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: both describe bytes of the four pages allocated above.
    /// unsafe {
    ///     entries[0].set_page(run, 0, 10_000); // 3 pieces of at most 4096
    ///     entries[1].set_page(run, 0, 4096); // 1 piece
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// assert_eq!(unsafe { SgList::new(&entries, &pages) }.count_for_dma(4096), Ok(4));
    /// # // SAFETY: allocated above with order 2; the list is not used again.
    /// # unsafe { pages.free_pages(run, 2) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_nents_for_dma")]
    pub fn count_for_dma(&self, max_len: u32) -> Result<usize, Error> {
        if max_len == 0 {
            return Err(Error::InvalidLimits {
                reason: "the maximum segment size is 0",
            });
        }
        self.segments()
            .try_fold(0usize, |count, segment| {
                usize::try_from(segment.len.div_ceil(max_len))
                    .ok()
                    .and_then(|pieces| count.checked_add(pieces))
            })
            .ok_or(Error::Overflow {
                what: "segment count",
            })
    }

    /// The number of DMA segments a direct mapping of the view under
    /// `limits` makes: bus address = physical address (frame number times
    /// page size plus offset), neighbouring entries merged by
    /// [`DmaLimits::merges`], as the kernel's `sg_nents_for_dma` counts the
    /// segments a list needs.
    ///
    /// This is the `nents` that sg-alloc's direct mapper gives a table, and
    /// the error it refuses the table with, except that the maximum number
    /// of segments is not checked: the answer is what a device would need
    /// to accept. Entries of length 0 make no segment. For a byte-range
    /// slice, the trimmed bytes are counted; entry indices in errors count
    /// from the view's first entry.
    ///
    /// # Errors
    ///
    /// As a direct mapping: [`Error::InvalidLimits`] when the limits
    /// contradict each other, [`Error::EntryNeedsSplit`] for the first
    /// entry longer than the maximum segment size, then the errors of
    /// [`DmaLimits::check_segment`] for the first entry that a direct
    /// mapping cannot take whole (misaligned, out of reach, or crossing a
    /// boundary), and [`Error::Overflow`] when a physical address does not
    /// fit a `u64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{DmaLimits, Error, PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let run = pages.alloc_pages(2)?; // four contiguous pages
    /// let mut entries: [SgEntry<_>; 3] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: bytes of the pages allocated above, in no other list.
    /// unsafe {
    ///     entries[0].set_page(run, 0, 4096);
    ///     entries[1].set_page(pages.nth(run, 1), 0, 4096); // right after: merges
    ///     entries[2].set_page(pages.nth(run, 3), 0, 100); // after a gap
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let list = unsafe { SgList::new(&entries, &pages) };
    /// assert_eq!(list.count_dma_segments(&DmaLimits::new()), Ok(2));
    /// let small = DmaLimits::new().with_max_segment_size(4096);
    /// assert_eq!(list.count_dma_segments(&small), Ok(3));
    /// let tiny = DmaLimits::new().with_max_segment_size(2048);
    /// assert_eq!(
    ///     list.count_dma_segments(&tiny),
    ///     Err(Error::EntryNeedsSplit { index: 0, len: 4096 })
    /// );
    /// # // SAFETY: allocated above with order 2; the list is not used again.
    /// # unsafe { pages.free_pages(run, 2) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_nents_for_dma")]
    #[doc(alias = "dma_segments_needed")]
    pub fn count_dma_segments(&self, limits: &DmaLimits) -> Result<usize, Error> {
        limits.validate()?;
        // As a mapping does, refuse an entry too long for a segment before
        // looking at addresses.
        let max_length = limits.max_segment_size();
        if let Some((index, segment)) = self
            .indexed_segments()
            .find(|(_, segment)| segment.len > max_length)
        {
            return Err(Error::EntryNeedsSplit {
                index,
                len: segment.len,
            });
        }
        let mut count = 0;
        let mut current: Option<(u64, u32)> = None;
        for (index, segment) in self.indexed_segments() {
            let run = DmaRun {
                page: segment.page,
                offset: segment.offset,
                len: segment.len,
            };
            let address = run.phys(self.provider()).ok_or(Error::Overflow {
                what: "physical address",
            })?;
            limits.check_segment(index, address, segment.len)?;
            current = match current {
                Some((start, length)) if limits.merges(start, length, address, segment.len) => {
                    Some((start, length + segment.len))
                }
                _ => {
                    count += 1;
                    Some((address, segment.len))
                }
            };
        }
        Ok(count)
    }

    /// The view's segments, each with the index of its entry among the
    /// view's entries (the walk of segments skips entries without bytes,
    /// the walk of entries does not).
    fn indexed_segments(&self) -> impl Iterator<Item = (usize, Segment<'_, P::Page>)> {
        let mut entries = self.iter().enumerate();
        self.segments().map(move |segment| {
            let index = entries
                .by_ref()
                .find(|(_, entry)| ptr::eq(*entry, segment.entry))
                .map_or(0, |(index, _)| index);
            (index, segment)
        })
    }
}
