//! Mapping a table into one reserved IOVA range (the kernel's two-step DMA
//! API): `SgTable::with_iova_mapping` and its guard `IovaMappedTable`.
//!
//! The runs of the table's entries are laid out in the range one after
//! another: a run that starts a page and follows a run that ended a page
//! continues the bus segment; any other run starts the next free page of
//! the range at its own offset in the page (an IOMMU maps whole pages), and
//! so a new segment. The layout is a pure function of the entries, the
//! page size and the limits, so the guard recomputes the segments instead
//! of storing them, and the table's DMA fields are not touched.

use core::fmt;
use core::iter;

use sg_core::{
    Access, ChunkAllocator, DmaDirection, DmaLimits, DmaRun, Error, IovaMapper, IovaRange,
    PageProvider, SgList,
};

use super::walk::run_of;
use crate::SgTable;

/// Where the runs of a table go in a range: offsets from the range's
/// start.
#[derive(Clone, Copy, Debug)]
struct Layout {
    page: u64,
    /// Where a new segment may start: a multiple of the page and of the
    /// alignment.
    step: u64,
    /// The offset after the last byte placed; `None` before the first run.
    cursor: Option<u64>,
}

impl Layout {
    fn new(page: u64, limits: &DmaLimits) -> Self {
        Layout {
            page,
            step: page.max(limits.alignment()),
            cursor: None,
        }
    }

    /// The offset of `run`'s first byte in the range and whether it
    /// continues the previous run's segment; moves past it.
    fn place<Pg>(&mut self, run: &DmaRun<Pg>) -> (u64, bool) {
        let in_page = run.offset % self.page;
        let (offset, joins) = match self.cursor {
            Some(cursor) if in_page == 0 && cursor % self.page == 0 => (cursor, true),
            Some(cursor) => (cursor.next_multiple_of(self.step) + in_page, false),
            None => (in_page, false),
        };
        self.cursor = Some(offset + u64::from(run.len));
        (offset, joins)
    }

    /// Bytes of the range used so far.
    fn used(&self) -> u64 {
        self.cursor.unwrap_or(0)
    }
}

/// The runs of `list`'s entries with bytes, each with its offset in the
/// range and whether it continues the segment before it.
fn placed<'a, P: PageProvider>(
    list: SgList<'a, P>,
    mut layout: Layout,
) -> impl Iterator<Item = (DmaRun<P::Page>, u64, bool)> + use<'a, P> {
    list.iter().filter_map(run_of).map(move |run| {
        let (offset, joins) = layout.place(&run);
        (run, offset, joins)
    })
}

/// Cuts a span at `start` (a bus address) of `len` bytes into segments the
/// device accepts: at most the maximum segment size (rounded down to the
/// alignment, so every piece starts aligned), and no piece crossing a
/// boundary.
fn cut(limits: DmaLimits, mut start: u64, mut len: u64) -> impl Iterator<Item = (u64, u32)> {
    let alignment = limits.alignment();
    let longest = u64::from(limits.max_segment_size()) / alignment * alignment;
    iter::from_fn(move || {
        if len == 0 {
            return None;
        }
        let mut piece = len.min(longest);
        if let Some(boundary) = limits.segment_boundary() {
            piece = piece.min(boundary - start % boundary);
        }
        let segment = (start, piece as u32);
        start += piece;
        len -= piece;
        Some(segment)
    })
}

/// The DMA segments of a table laid out in a range at bus address `base`.
fn segments<'a, P: PageProvider>(
    list: SgList<'a, P>,
    layout: Layout,
    base: u64,
    limits: DmaLimits,
) -> impl Iterator<Item = (u64, u32)> + use<'a, P> {
    span_list(list, layout).flat_map(move |(offset, len)| cut(limits, base + offset, len))
}

/// The contiguous spans (offset in the range, length) of the layout.
fn span_list<'a, P: PageProvider>(
    list: SgList<'a, P>,
    layout: Layout,
) -> impl Iterator<Item = (u64, u64)> + use<'a, P> {
    let mut runs = placed(list, layout).peekable();
    iter::from_fn(move || {
        let (run, start, _) = runs.next()?;
        let mut len = u64::from(run.len);
        while let Some((next, _, _)) = runs.next_if(|&(_, _, joins)| joins) {
            len += u64::from(next.len);
        }
        Some((start, len))
    })
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> SgTable<P, C, A> {
    /// Bytes of an IOVA range that mapping this table with
    /// [`with_iova_mapping`](Self::with_iova_mapping) under `limits` uses:
    /// reserve at least this much (a range can be reused for every request
    /// that fits).
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{DmaLimits, Pages};
    /// use sg_testkit::MockPages;
    ///
    /// let mock = MockPages::<4096>::new();
    /// let pages = Pages::alloc(&mock, 2)?;
    /// let table = SgTable::from_pages(&pages, 512, 8192)?;
    /// assert_eq!(table.iova_len(&DmaLimits::new()), 512 + 8192);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    pub fn iova_len(&self, limits: &DmaLimits) -> u64 {
        let mut layout = Layout::new(P::PAGE_SIZE as u64, limits);
        for run in self.as_list().iter().filter_map(run_of) {
            layout.place(&run);
        }
        layout.used()
    }

    /// Maps the table for a device into `range`, a range of bus addresses
    /// reserved with `mapper`'s [`try_alloc`](IovaMapper::try_alloc) (the
    /// kernel's `dma_iova_link` for each run, then one `dma_iova_sync`),
    /// calls `f` with the guard, and unlinks every run with one
    /// `dma_iova_unlink` when `f` returns or unwinds. The range stays
    /// reserved: map the next request into it.
    ///
    /// Runs that meet at page boundaries (each ends a page, the next starts
    /// one) become one bus segment whatever their physical addresses,
    /// cut only where the limits ask (the maximum segment size, rounded
    /// down to the alignment, and the segment boundary); a run that starts
    /// or follows a partial page starts a new segment at the next page (or
    /// alignment step) of the range. [`iova_len`](Self::iova_len) is the
    /// room this takes.
    ///
    /// # Errors
    ///
    /// Before anything is linked: [`Error::ReadOnly`] for a read-only
    /// table and a direction that lets the device write,
    /// [`Error::InvalidLimits`], [`Error::EmptyTable`],
    /// [`Error::SizeTooLarge`] when the range is smaller than
    /// [`iova_len`](Self::iova_len), [`Error::Misaligned`] when a segment
    /// would start at an offset in its page that the alignment refuses,
    /// [`Error::Unreachable`] when the range reaches past the highest
    /// address, and [`Error::TooManySegments`]. Then what the mapper's
    /// `link` or `sync` returns ([`Error::MapFailed`] naming the entry for
    /// `link`); everything linked is then unlinked (also if the mapper
    /// panics), with one call.
    ///
    /// # Examples
    ///
    /// Four pages scattered in memory, one segment on the bus:
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{DmaDirection, DmaLimits, IovaMapper, Pages};
    /// use sg_testkit::{MockIommu, MockPages};
    ///
    /// let mock = MockPages::<4096>::new();
    /// // SAFETY: the mock's pages, in no other set.
    /// let mut pages = unsafe { Pages::from_raw(&mock, mock.add_pages([9, 2, 7, 4])) };
    /// let mut table = SgTable::from_pages(&mut pages, 0, 4 * 4096)?;
    /// assert_eq!(table.orig_nents(), 4);
    /// let iommu = MockIommu::new();
    /// let limits = DmaLimits::unlimited();
    /// let mut range = IovaMapper::<&MockPages<4096>>::try_alloc(&iommu, 1 << 20, &limits)?;
    /// for _ in 0..2 { // the same range for two requests
    ///     let segments = table.with_iova_mapping(&iommu, &mut range, DmaDirection::FromDevice, &limits, |mapped| {
    ///         mapped.segments().collect::<Vec<_>>()
    ///     })?;
    ///     assert_eq!(segments, [(range.start(), 4 * 4096)]);
    /// }
    /// assert_eq!(iommu.tlb_flushes(), 4); // one sync and one unlink per request
    /// // SAFETY: reserved above, nothing linked any more.
    /// unsafe { IovaMapper::<&MockPages<4096>>::free(&iommu, range) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    ///
    /// A range serves one request at a time: a second table cannot be
    /// linked into it while the first is mapped.
    ///
    /// ```compile_fail,E0499
    /// use sg_alloc::SgTable;
    /// use sg_core::{DmaDirection, DmaLimits, IovaMapper, Pages};
    /// use sg_testkit::{MockIommu, MockPages};
    ///
    /// let mock = MockPages::<4096>::new();
    /// let mut a = Pages::alloc(&mock, 0).unwrap();
    /// let mut b = Pages::alloc(&mock, 0).unwrap();
    /// let mut first = SgTable::from_pages(&mut a, 0, 4096).unwrap();
    /// let mut second = SgTable::from_pages(&mut b, 0, 4096).unwrap();
    /// let iommu = MockIommu::new();
    /// let limits = DmaLimits::new();
    /// let mut range = IovaMapper::<&MockPages<4096>>::try_alloc(&iommu, 4096, &limits).unwrap();
    /// let direction = DmaDirection::ToDevice;
    /// // Rule: the range is borrowed exclusively while a table is linked in it.
    /// first.with_iova_mapping(&iommu, &mut range, direction, &limits, |_| {
    ///     second.with_iova_mapping(&iommu, &mut range, direction, &limits, |_| ())
    /// });
    /// ```
    #[doc(alias = "dma_iova_link")]
    #[doc(alias = "dma_iova_sync")]
    #[doc(alias = "dma_iova_unlink")]
    pub fn with_iova_mapping<M: IovaMapper<P>, R>(
        &mut self,
        mapper: M,
        range: &mut IovaRange,
        direction: DmaDirection,
        limits: &DmaLimits,
        f: impl FnOnce(&IovaMappedTable<'_, P, C, A, M>) -> R,
    ) -> Result<R, Error> {
        if direction.from_device() && !A::WRITES {
            return Err(Error::ReadOnly);
        }
        limits.validate()?;
        if self.byte_len() == 0 {
            return Err(Error::EmptyTable);
        }
        let range = &*range;
        let layout = Layout::new(P::PAGE_SIZE as u64, limits);
        check_layout(self.as_list(), layout, range, limits)?;
        let used = link_all(self, &mapper, range, direction, layout)?;
        // INVARIANT: every run is linked and synced just now, and `used`
        // bytes from the range's start hold them all.
        let guard = IovaMappedTable {
            table: self,
            mapper,
            range,
            used,
            direction,
            limits: *limits,
            layout,
        };
        Ok(f(&guard))
    }
}

/// Checks, before anything is linked, that the layout fits the range and
/// gives segments the device accepts.
fn check_layout<P: PageProvider>(
    list: SgList<'_, P>,
    layout: Layout,
    range: &IovaRange,
    limits: &DmaLimits,
) -> Result<(), Error> {
    let mut used = 0;
    let mut count = 0usize;
    for (offset, len) in span_list(list, layout) {
        let address = range.start().wrapping_add(offset);
        if address % limits.alignment() != 0 {
            return Err(Error::Misaligned {
                address,
                alignment: limits.alignment(),
            });
        }
        used = offset + len;
        count = count.saturating_add(cut(*limits, address, len).count());
    }
    if used > range.len() {
        return Err(Error::SizeTooLarge {
            size: used,
            available: range.len(),
        });
    }
    let last = range.start().saturating_add(used.max(1) - 1);
    if last > limits.highest_address() {
        return Err(Error::Unreachable {
            address: last,
            highest: limits.highest_address(),
        });
    }
    if count > limits.max_segments() {
        return Err(Error::TooManySegments {
            needed: count,
            max: limits.max_segments(),
        });
    }
    Ok(())
}

/// The runs linked so far: unlinked with one call when dropped (on an
/// error, and while a mapper's panic unwinds) unless the mapping is done.
///
/// # Invariants
///
/// Unless `done`: every run linked into `range` lies in its first
/// `reached` bytes (a run whose `link` was called and did not return
/// counts, since it may be partly linked), and none of them has reached a
/// device.
struct Linking<'a, P: PageProvider, M: IovaMapper<P>> {
    provider: &'a P,
    mapper: &'a M,
    range: &'a IovaRange,
    direction: DmaDirection,
    reached: u64,
    done: bool,
}

impl<P: PageProvider, M: IovaMapper<P>> Drop for Linking<'_, P, M> {
    fn drop(&mut self) {
        if self.done || self.reached == 0 {
            return;
        }
        // SAFETY: the range is the caller's, reserved through this mapper;
        // what is linked lies in its first `reached` bytes and no device
        // has its addresses; the table is borrowed exclusively, so no
        // reference to the bytes is live.
        unsafe {
            self.mapper
                .unlink(self.provider, self.range, 0, self.reached, self.direction)
        };
    }
}

/// Links every run of the table into the range and syncs once; returns the
/// bytes of the range used. On an error, and if the mapper panics,
/// unlinks what it linked.
fn link_all<P, C, A, M>(
    table: &mut SgTable<P, C, A>,
    mapper: &M,
    range: &IovaRange,
    direction: DmaDirection,
    layout: Layout,
) -> Result<u64, Error>
where
    P: PageProvider,
    C: ChunkAllocator<P::Page>,
    A: Access,
    M: IovaMapper<P>,
{
    let table = &*table;
    // INVARIANT: nothing linked yet.
    let mut linking = Linking {
        provider: table.provider(),
        mapper,
        range,
        direction,
        reached: 0,
        done: false,
    };
    let mut index = 0;
    let mut runs = table
        .as_list()
        .iter()
        .enumerate()
        .filter_map(|(at, entry)| {
            index = at;
            run_of(entry)
        });
    let mut layout = layout;
    while let Some(run) = runs.next() {
        let (offset, _) = layout.place(&run);
        let before = linking.reached;
        // INVARIANT: counted before the call, which may link part of it
        // and panic.
        linking.reached = offset + u64::from(run.len);
        // SAFETY: the run is an entry's, a claim the table's entries make,
        // and the table is borrowed exclusively; the range is reserved by
        // this mapper (the caller's) and `check_layout` found the layout
        // inside it; `place` keeps the run's offset in its page and gives
        // each run pages of its own: a run that continues the previous one
        // starts a fresh page, any other starts past the last page used.
        let linked = unsafe { mapper.link(linking.provider, range, offset, run, direction) };
        if let Err(error) = linked {
            // INVARIANT: a failed link linked nothing.
            linking.reached = before;
            drop(runs);
            return Err(match error {
                Error::MapFailed { .. } => Error::MapFailed { index },
                other => other,
            });
        }
    }
    drop(runs);
    let used = layout.used();
    // SAFETY: the range is reserved by this mapper.
    unsafe { mapper.sync(range, 0, used) }?;
    linking.done = true;
    Ok(used)
}

/// A table mapped into an IOVA range: the guard that
/// [`SgTable::with_iova_mapping`] lends its closure.
///
/// It exposes segments, never bytes, and unlinks every run with one call
/// when the scope ends (also while a panic unwinds). Whoever gives the
/// segments to a device makes it stop using them before then.
///
/// Syncing a non-coherent device's caches is not offered here: the
/// two-step mapping is for devices behind an IOMMU that snoops, as the
/// kernel's (use [`SgTable::with_dma_mapping`] otherwise).
///
/// # Invariants
///
/// Every run of the table is linked into the first `used` bytes of
/// `range` through `mapper` for `direction`, as `layout` places it, and
/// synced; the guard holds the table's exclusive borrow and lends nothing
/// that reaches the bytes.
pub struct IovaMappedTable<
    't,
    P: PageProvider,
    C: ChunkAllocator<P::Page>,
    A: Access,
    M: IovaMapper<P>,
> {
    table: &'t mut SgTable<P, C, A>,
    mapper: M,
    range: &'t IovaRange,
    used: u64,
    direction: DmaDirection,
    limits: DmaLimits,
    layout: Layout,
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access, M: IovaMapper<P>>
    IovaMappedTable<'_, P, C, A, M>
{
    /// The DMA segments, in order: bus address and length. One for the
    /// whole table when its runs meet at page boundaries and the limits
    /// allow; otherwise the fewest the pages and the limits allow.
    pub fn segments(&self) -> impl Iterator<Item = (u64, u32)> + use<'_, P, C, A, M> {
        segments(
            self.table.as_list(),
            self.layout,
            self.range.start(),
            self.limits,
        )
    }

    /// How many segments [`segments`](Self::segments) yields.
    pub fn nents(&self) -> usize {
        self.segments().count()
    }

    /// Bytes the mapping covers.
    #[inline]
    pub fn byte_len(&self) -> u64 {
        self.table.byte_len()
    }

    /// Bytes of the range the mapping uses, from its start.
    #[inline]
    pub fn used(&self) -> u64 {
        self.used
    }

    /// The range the table is mapped into.
    #[inline]
    pub fn range(&self) -> &IovaRange {
        self.range
    }

    /// The direction the table is mapped for.
    #[inline]
    pub fn direction(&self) -> DmaDirection {
        self.direction
    }

    /// The mapper.
    #[inline]
    pub fn mapper(&self) -> &M {
        &self.mapper
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access, M: IovaMapper<P>> Drop
    for IovaMappedTable<'_, P, C, A, M>
{
    fn drop(&mut self) {
        // SAFETY: by the type invariants every run is linked in the first
        // `used` bytes of the range, through this mapper for this
        // direction; the guard is dropped once, when the scope of
        // `with_iova_mapping` ends, after whoever programmed the device
        // stopped it (the guard's contract); no reference to the bytes is
        // live (the guard lends none).
        unsafe {
            self.mapper.unlink(
                self.table.provider(),
                self.range,
                0,
                self.used,
                self.direction,
            )
        };
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access, M: IovaMapper<P>> fmt::Debug
    for IovaMappedTable<'_, P, C, A, M>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IovaMappedTable")
            .field("range", self.range)
            .field("used", &self.used)
            .field("direction", &self.direction)
            .field("nents", &self.nents())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::{Layout, cut};
    use sg_core::{DmaLimits, DmaRun};

    fn run(offset: u64, len: u32) -> DmaRun<u64> {
        DmaRun {
            page: 0,
            offset,
            len,
        }
    }

    #[test]
    fn runs_that_meet_at_page_ends_continue_and_others_take_the_next_page() {
        let mut layout = Layout::new(4096, &DmaLimits::new());
        assert_eq!(layout.place(&run(512, 3584)), (512, false)); // first: keeps its offset
        assert_eq!(layout.place(&run(0, 4096)), (4096, true)); // continues
        assert_eq!(layout.place(&run(0, 100)), (8192, true)); // continues, ends mid-page
        assert_eq!(layout.place(&run(0, 8)), (12288, false)); // next page
        assert_eq!(layout.place(&run(4096 + 40, 8)), (16384 + 40, false)); // own offset
        assert_eq!(layout.used(), 16384 + 48);
        // An alignment above the page moves new segments to its multiples.
        let mut aligned = Layout::new(4096, &DmaLimits::new().with_alignment(16384));
        assert_eq!(aligned.place(&run(0, 100)), (0, false));
        assert_eq!(aligned.place(&run(0, 100)), (16384, false));
    }

    #[test]
    fn spans_are_cut_at_the_limits() {
        let limits = DmaLimits::new()
            .with_max_segment_size(12288)
            .with_segment_boundary(Some(16384))
            .with_alignment(8192);
        let pieces: alloc::vec::Vec<_> = cut(limits, 8192, 40000).collect();
        assert_eq!(
            pieces,
            [
                (8192, 8192),
                (16384, 8192),
                (24576, 8192),
                (32768, 8192),
                (40960, 7232)
            ]
        );
    }
}
