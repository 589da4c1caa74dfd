//! When a run of pages ends: the rule every builder from pages applies.

use sg_core::{DmaLimits, DmaRun, Error, PageProvider};

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
pub(super) struct RunRule {
    /// Pages a run may hold: the segment limit in whole pages, at least 1.
    max_pages: usize,
    /// The segment boundary, a power of two of at least one page, if any.
    boundary: Option<u64>,
    /// Entries the table may hold.
    pub(super) max_entries: usize,
}

impl RunRule {
    /// The rule for a device's limits: runs within its maximum segment
    /// size (rounded down to whole pages) and its segment boundary, and at
    /// most its maximum number of segments.
    pub(super) fn new<P: PageProvider>(limits: &DmaLimits) -> Result<Self, Error> {
        limits.validate()?;
        let max_segment = limits.max_segment_size();
        // A page is at most 2^31 bytes, so `usize` holds the count.
        let max_pages = (u64::from(max_segment) / P::PAGE_SIZE as u64) as usize;
        if max_pages == 0 {
            return Err(Error::SegmentTooSmall {
                max_segment,
                page_size: P::PAGE_SIZE,
            });
        }
        // Valid limits put the boundary at or above the maximum segment
        // size, which is at least a page here: both are powers of two, so
        // boundaries fall between pages.
        Ok(RunRule {
            max_pages,
            boundary: limits.segment_boundary(),
            max_entries: limits.max_segments(),
        })
    }

    /// Pages a run may hold.
    #[inline(always)]
    pub(super) fn max_pages(&self) -> usize {
        self.max_pages
    }

    /// Whether runs must also stay between multiples of a segment
    /// boundary; without one, [`continues`](Self::continues) is the page
    /// limit and `is_next` alone.
    #[inline(always)]
    pub(super) fn has_boundary(&self) -> bool {
        self.boundary.is_some()
    }

    /// Whether the run of `run_pages` pages from `first` takes `next` as its
    /// next page.
    #[inline(always)]
    pub(super) fn continues<P: PageProvider>(
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
