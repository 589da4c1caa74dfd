//! Mapping a table for a device: `SgTable::map_dma` and
//! `SgTable::with_dma_mapping`.

use sg_core::{Access, ChunkAllocator, DmaDirection, DmaLimits, DmaMapper, Error, PageProvider};

use super::walk::{Mappings, Restore, SavedFields, run_of, unmap_all};
use super::{MapError, MappedTable};
use crate::SgTable;

/// Fills in the entry's index of a mapper's failure.
fn at_entry(error: Error, index: usize) -> Error {
    match error {
        Error::MapFailed { .. } => Error::MapFailed { index },
        other => other,
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> SgTable<P, C, A> {
    /// Maps the table for a device through `mapper`, for transfers in
    /// `direction`, under the device's `limits` (the kernel's
    /// `dma_map_sgtable`, FreeBSD's `bus_dmamap_load`), and returns the
    /// guard that owns the table while it is mapped.
    ///
    /// Each entry with bytes is mapped as one run; an entry of length 0 is
    /// skipped. Neighbouring entries whose bus addresses are contiguous
    /// merge into one segment as long as it stays within the maximum
    /// segment size and crosses no boundary ([`DmaLimits::merges`]). The
    /// segments are stored in the DMA fields of the first entries, one
    /// each, and [`nents`](Self::nents) becomes their count (at most
    /// [`orig_nents`](Self::orig_nents)); the other entries' DMA fields are
    /// cleared. Read them through the guard: [`MappedTable::segments`].
    ///
    /// The guard owns the table (and so, for a table that owns its
    /// [`Pages`](sg_core::Pages), the pages) and the mapper: forgetting it
    /// (`mem::forget`) leaks them with the mapping, so nothing a device may
    /// still use is ever freed or used again. [`MappedTable::unmap`] gives
    /// the table back. That is why the table and the mapper are `'static`
    /// here; a table that borrows its pages (or a borrowed mapper) maps
    /// with [`with_dma_mapping`](Self::with_dma_mapping), which unmaps
    /// when its closure returns.
    ///
    /// A read-only table ([`Read`](sg_core::Read)) maps for
    /// [`DmaDirection::ToDevice`] only: a device that writes needs a
    /// writable table.
    ///
    /// # Errors
    ///
    /// The table comes back in the [`MapError`], exactly as it was (DMA
    /// fields and `nents` included), with: [`Error::ReadOnly`] for a
    /// read-only table and a direction that lets the device write;
    /// [`Error::InvalidLimits`] for contradictory limits,
    /// [`Error::EmptyTable`] when the table holds no byte,
    /// [`Error::EntryNeedsSplit`] naming the first entry longer than the
    /// maximum segment size (a table from
    /// [`FromPages::limits`](crate::FromPages::limits) never has
    /// one), and [`Error::OutOfMemory`] when the DMA fields were not all 0
    /// and there is no memory to save them. Then, while mapping: what the
    /// mapper returns (with [`Error::MapFailed`] naming the entry);
    /// [`Error::EntryNeedsSplit`] naming an entry whose bus range crosses a
    /// segment boundary; [`Error::TooManySegments`] when the device's
    /// maximum number of segments is reached with entries left (`needed` is
    /// then a lower bound); and [`Error::Misaligned`] or
    /// [`Error::Unreachable`] if the mapper returned an address the limits
    /// do not allow. On every error, everything mapped so far is unmapped.
    ///
    /// If the mapper panics, everything mapped so far is unmapped and the
    /// table's DMA fields and `nents` are put back while the panic unwinds
    /// (the table, moved into this call, is then dropped).
    ///
    /// # Examples
    ///
    /// A device that takes segments of at most 8 KiB, on 8 KiB boundaries:
    ///
    /// ```
    /// use sg_alloc::{DirectMapper, FromPages};
    /// use sg_core::{DmaDirection, DmaLimits, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 3)?; // eight contiguous pages
    /// let limits = DmaLimits::new()
    ///     .with_max_segment_size(8192)
    ///     .with_segment_boundary(Some(8192));
    /// // Built for the device: entries end at its boundaries.
    /// let table = FromPages::new(pages, 0, 8 * 4096).limits(&limits).build()?;
    /// // SAFETY: no device is given the addresses; they are only read below.
    /// let direct = unsafe { DirectMapper::new() };
    /// let mapped = table.map_dma(direct, DmaDirection::FromDevice, &limits)?;
    /// assert!(mapped.nents() <= mapped.orig_nents());
    /// for (address, length) in mapped.segments() {
    ///     assert!(length <= 8192 && !limits.crosses_boundary(address, u64::from(length)));
    /// }
    /// let table = mapped.unmap();
    /// assert_eq!(table.nents(), table.orig_nents());
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    ///
    /// A table that borrows its pages cannot be handed to a guard that may
    /// be forgotten:
    ///
    /// ```compile_fail,E0597
    /// use sg_alloc::{DirectMapper, SgTable};
    /// use sg_core::{DmaDirection, DmaLimits, Pages, VirtPages};
    ///
    /// let mut pages = Pages::alloc(VirtPages::new(), 0).unwrap();
    /// let table = SgTable::from_pages(&mut pages, 0, 4096).unwrap();
    /// // SAFETY: no device is given the address.
    /// let direct = unsafe { DirectMapper::new() };
    /// // Rule: what a device may still touch is owned, not borrowed.
    /// let mapped = table.map_dma(direct, DmaDirection::FromDevice, &DmaLimits::new()).unwrap();
    /// std::mem::forget(mapped);
    /// drop(pages);
    /// ```
    #[doc(alias = "dma_map_sgtable")]
    #[doc(alias = "dma_map_sg")]
    #[doc(alias = "iommu_dma_map_sg")]
    #[doc(alias = "bus_dmamap_load")]
    pub fn map_dma<M>(
        mut self,
        mapper: M,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<MappedTable<Self, M>, MapError<Self, M>>
    where
        Self: 'static,
        M: DmaMapper<P> + 'static,
    {
        match self.map_in_place(&mapper, direction, limits) {
            // INVARIANT: mapped just now; the guard owns the table.
            Ok(()) => Ok(MappedTable::new(self, mapper, direction)),
            Err(error) => Err(MapError {
                error,
                table: self,
                mapper,
            }),
        }
    }

    /// Maps the table for a device (as [`map_dma`](Self::map_dma)), calls
    /// `f` with the guard, and unmaps when `f` returns or unwinds; returns
    /// what `f` returns.
    ///
    /// `f` receives the guard by shared reference: it can read the
    /// segments, hand them to a device, and sync, but cannot move the guard
    /// out, forget it or swap it with another, so the table is unmapped
    /// before this call returns, whatever `f` does. This is the form for
    /// tables that borrow their pages and for borrowed mappers.
    ///
    /// Whoever gives the segments to a device makes sure that the device
    /// has stopped using them before `f` returns or unwinds (see
    /// [`MappedTable`]).
    ///
    /// # Errors
    ///
    /// As [`map_dma`](Self::map_dma); `f` is then not called, and the table
    /// is as it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{DmaDirection, DmaLimits, Pages};
    /// use sg_testkit::{MockIommu, MockPages};
    ///
    /// let mock = MockPages::<4096>::new();
    /// let mut pages = Pages::alloc(&mock, 1)?;
    /// let mut table = SgTable::from_pages(&mut pages, 0, 8192)?;
    /// let iommu = MockIommu::new();
    /// let segments = table.with_dma_mapping(&iommu, DmaDirection::FromDevice, &DmaLimits::new(), |mapped| {
    ///     mapped.segments().count()
    /// })?;
    /// assert_eq!(segments, 1);
    /// assert_eq!(iommu.live_mappings(), 0); // unmapped on return
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "dma_map_sgtable")]
    #[doc(alias = "dma_unmap_sgtable")]
    pub fn with_dma_mapping<M: DmaMapper<P>, R>(
        &mut self,
        mapper: M,
        direction: DmaDirection,
        limits: &DmaLimits,
        f: impl FnOnce(&MappedTable<&mut Self, M>) -> R,
    ) -> Result<R, Error> {
        self.map_in_place(&mapper, direction, limits)?;
        // INVARIANT: mapped just now; the guard holds the table's exclusive
        // borrow, and `f` only gets a shared reference to the guard, so it
        // is dropped (and unmaps) here or while `f` unwinds.
        let guard = MappedTable::new(self, mapper, direction);
        Ok(f(&guard))
    }

    /// The checks and the mapping of both forms: on success the entries
    /// are mapped and the segments stored; on failure the table is as it
    /// was.
    fn map_in_place<M: DmaMapper<P>>(
        &mut self,
        mapper: &M,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<(), Error> {
        if direction.from_device() && !A::WRITES {
            return Err(Error::ReadOnly);
        }
        limits.validate()?;
        if self.byte_len() == 0 {
            return Err(Error::EmptyTable);
        }
        let max_length = limits.max_segment_size();
        if let Some((index, entry)) = self
            .as_list()
            .iter()
            .enumerate()
            .find(|(_, entry)| entry.len() > max_length)
        {
            return Err(Error::EntryNeedsSplit {
                index,
                len: entry.len(),
            });
        }
        let saved = SavedFields::save(self.as_list(), self.orig_nents())?;
        // Puts the fields and `nents` back on an error and while a panic
        // unwinds.
        let nents = self.nents();
        let restore = Restore::new(self, nents, saved);
        let segments = map_entries(&mut *restore.table, mapper, direction, limits)?;
        restore.table.set_nents(segments);
        restore.keep();
        Ok(())
    }
}

/// The runs `map_entries` has mapped so far: unmapped when dropped (on an
/// error, and while a mapper's panic unwinds) unless the mapping is done.
///
/// # Invariants
///
/// Unless `done`: every run among the table's first `entries` entries is
/// mapped through `mapper` for the table's provider and `direction`, and
/// nothing else; the first `segments` entries' DMA fields, followed by
/// `open` when there is one, are segments that tile exactly those runs, in
/// order; no address has left `map_entries`, so no device uses one.
struct Progress<'t, P: PageProvider, C: ChunkAllocator<P::Page>, A: Access, M: DmaMapper<P>> {
    table: &'t mut SgTable<P, C, A>,
    mapper: &'t M,
    direction: DmaDirection,
    /// Entries passed: the runs among them are mapped.
    entries: usize,
    /// Segments stored in the first entries' DMA fields.
    segments: usize,
    /// The segment being merged, stored when it closes.
    open: Option<(u64, u32)>,
    done: bool,
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access, M: DmaMapper<P>> Drop
    for Progress<'_, P, C, A, M>
{
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The open segment is stored too, so that the walk finds every
        // mapped run inside a segment.
        if let Some((address, length)) = self.open.take() {
            if let Some(mut entry) = self.table.entries_mut_inner().nth(self.segments) {
                entry.set_dma(address, length);
                self.segments += 1;
            }
        }
        let table = &*self.table;
        let mappings = Mappings::new(table.prefix(self.entries), table.prefix(self.segments));
        // SAFETY: the first `entries` entries' runs were mapped through
        // `mapper` for this provider and direction, with the addresses the
        // first `segments` segments hold (they tile those runs); the
        // addresses never left `map_entries`, so no device uses them; the
        // table is borrowed exclusively, so no reference to the bytes is
        // live.
        unsafe { unmap_all(mappings, table.provider(), self.mapper, self.direction) };
    }
}

/// Maps every entry with bytes and stores the merged segments in the
/// first entries' DMA fields; returns the segment count. On an error, and
/// if the mapper panics, unmaps what it mapped; the DMA fields are then
/// left to the caller to restore.
fn map_entries<P, C, A, M>(
    table: &mut SgTable<P, C, A>,
    mapper: &M,
    direction: DmaDirection,
    limits: &DmaLimits,
) -> Result<usize, Error>
where
    P: PageProvider,
    C: ChunkAllocator<P::Page>,
    A: Access,
    M: DmaMapper<P>,
{
    let max_segments = limits.max_segments();
    // INVARIANT: nothing is mapped yet, and no segment stored.
    let mut progress = Progress {
        table,
        mapper,
        direction,
        entries: 0,
        segments: 0,
        open: None,
        done: false,
    };
    let (mut fields, provider) = progress.table.dma_fields_and_provider();
    while let Some(entry) = fields.read() {
        let this = progress.entries;
        let run = run_of(entry);
        let Some(run) = run else {
            // INVARIANT: an entry without bytes is neither mapped nor in a
            // segment.
            progress.entries += 1;
            continue;
        };
        // SAFETY: the run is an entry's, a claim the table's entries make
        // (their contract), and the table is borrowed exclusively, so
        // nothing writes its bytes meanwhile.
        let mapped = unsafe { mapper.map(provider, run, direction, limits) };
        let address = mapped.map_err(|error| at_entry(error, this))?;
        // INVARIANT: the run is mapped now; it joins the open segment or
        // opens one below, before anything can return or panic.
        progress.entries += 1;
        let checked = limits.check_segment(this, address, run.len);
        if let (Ok(()), Some((start, length))) = (&checked, progress.open) {
            if limits.merges(start, length, address, run.len) {
                progress.open = Some((start, length + run.len));
                continue;
            }
        }
        // The run opens a segment of its own (also when refused, so that
        // `progress` finds it and unmaps it with the others).
        if let Some((start, length)) = progress.open.replace((address, run.len)) {
            let written = fields.write(start, length);
            debug_assert!(written, "a segment starts at or before its entry");
            progress.segments += 1;
        }
        checked?;
        if progress.segments == max_segments {
            return Err(Error::TooManySegments {
                needed: max_segments + 1,
                max: max_segments,
            });
        }
    }
    if let Some((start, length)) = progress.open.take() {
        let written = fields.write(start, length);
        debug_assert!(written, "the last segment starts at or before its entry");
        progress.segments += 1;
    }
    fields.clear_rest();
    progress.done = true;
    Ok(progress.segments)
}
