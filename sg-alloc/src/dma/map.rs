//! Mapping a table for a device: `SgTable::map_dma` and the guard that
//! unmaps it.

use alloc::vec::Vec;
use core::fmt;
use core::ops::Deref;

use sg_core::{
    ChunkAllocator, DmaDirection, DmaLimits, DmaMapper, DmaRun, Error, HeapChunks, PageProvider,
    SgEntry, SgList,
};

use crate::SgTable;

/// The run of a data entry, or `None` for an entry without bytes (which is
/// neither mapped nor part of a segment).
#[inline]
fn run_of<Pg: Copy>(entry: &SgEntry<Pg>) -> Option<DmaRun<Pg>> {
    let page = entry.page()?;
    (entry.length() > 0).then_some(DmaRun {
        page,
        offset: u64::from(entry.offset()),
        len: entry.length(),
    })
}

/// Calls `visit(run, bus_address)` for every entry of `cpu` that has bytes,
/// in order, with the bus address its bytes have inside the segments that
/// the entries of `dma` hold.
///
/// The segments tile the entries with bytes: each is the bytes of one or
/// more consecutive entries, bus-contiguous, so an entry's address is its
/// segment's plus the lengths of the entries before it in the segment.
/// This is how unmapping and syncing find every address `map` returned
/// while walking the CPU entries (`orig_nents` of them), never the DMA
/// count.
fn for_each_mapping<P: PageProvider>(
    cpu: SgList<'_, P>,
    dma: SgList<'_, P>,
    mut visit: impl FnMut(DmaRun<P::Page>, u64),
) {
    let mut segments = dma
        .iter()
        .map(|entry| (entry.dma_address(), entry.dma_length()));
    let (mut address, mut length, mut used) = (0u64, 0u32, 0u32);
    for entry in cpu.iter() {
        let Some(run) = run_of(entry) else { continue };
        while used == length {
            let Some(next) = segments.next() else {
                debug_assert!(false, "the segments end before the entries");
                return;
            };
            (address, length, used) = (next.0, next.1, 0);
        }
        if run.len > length - used {
            debug_assert!(false, "an entry runs past its segment");
            return;
        }
        visit(run, address + u64::from(used));
        used += run.len;
    }
}

/// The DMA fields of a table before a mapping, to put back if it fails.
enum SavedFields {
    /// Every field was 0 (always so for tables that were never mapped, or
    /// were unmapped).
    Clear,
    /// Each entry's address and length, in order.
    Fields(Vec<(u64, u32)>),
}

impl SavedFields {
    /// Saves the fields of `list`'s entries: nothing when they are all 0.
    fn save<P: PageProvider>(list: SgList<'_, P>, entries: usize) -> Result<Self, Error> {
        let clear = list
            .iter()
            .all(|entry| entry.dma_address() == 0 && entry.dma_length() == 0);
        if clear {
            return Ok(SavedFields::Clear);
        }
        let mut fields = Vec::new();
        fields
            .try_reserve_exact(entries)
            .map_err(|_| Error::OutOfMemory)?;
        fields.extend(
            list.iter()
                .map(|entry| (entry.dma_address(), entry.dma_length())),
        );
        Ok(SavedFields::Fields(fields))
    }

    /// Puts the fields back.
    fn restore<P: PageProvider, C: ChunkAllocator<P::Page>>(self, table: &mut SgTable<P, C>) {
        match self {
            SavedFields::Clear => clear_fields(table),
            SavedFields::Fields(fields) => {
                for (mut entry, (address, length)) in table.entries_mut().zip(fields) {
                    entry.set_dma(address, length);
                }
            }
        }
    }
}

/// Sets every DMA field of the table to 0.
fn clear_fields<P: PageProvider, C: ChunkAllocator<P::Page>>(table: &mut SgTable<P, C>) {
    for mut entry in table.entries_mut() {
        entry.set_dma(0, 0);
    }
}

/// Fills in the entry's index of a mapper's failure.
fn at_entry(error: Error, index: usize) -> Error {
    match error {
        Error::MapFailed { .. } => Error::MapFailed { index },
        other => other,
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>> SgTable<P, C> {
    /// Maps the table for a device through `mapper`, for transfers in
    /// `direction`, under the device's `limits` (the kernel's
    /// `dma_map_sgtable`, FreeBSD's `bus_dmamap_load`), and returns the
    /// guard that unmaps it.
    ///
    /// Each entry with bytes is mapped as one run; an entry of length 0 is
    /// skipped. Neighbouring entries whose bus addresses are contiguous
    /// merge into one segment as long as it stays within the maximum
    /// segment size and crosses no boundary ([`DmaLimits::merges`]). The
    /// segments are stored in the DMA fields of the first entries, one
    /// each, and [`nents`](Self::nents) becomes their count (at most
    /// [`orig_nents`](Self::orig_nents)); the other entries' DMA fields are
    /// cleared. Read them through the guard: [`MappedTable::segments`], or
    /// the DMA view ([`dma_list`](Self::dma_list)) that `sg_iter`'s
    /// `DmaPageIter` walks.
    ///
    /// While the guard lives the table cannot change: it holds the table's
    /// exclusive borrow and lends only shared views. Sync with
    /// [`MappedTable::sync_for_cpu`] and [`MappedTable::sync_for_device`];
    /// unmap by dropping the guard or with [`MappedTable::unmap`].
    ///
    /// Pass the mapper by reference (`&mapper`) to keep using it, or by
    /// value for the guard to own it.
    ///
    /// # Errors
    ///
    /// Before anything is mapped: [`Error::InvalidLimits`] for
    /// contradictory limits, [`Error::EmptyTable`] when the table holds no
    /// byte, [`Error::EntryNeedsSplit`] naming the first entry longer than
    /// the maximum segment size, and [`Error::OutOfMemory`] when the DMA
    /// fields were not all 0 and there is no memory to save them. Then,
    /// while mapping: what the mapper returns (with [`Error::MapFailed`]
    /// naming the entry); [`Error::EntryNeedsSplit`] naming an entry whose
    /// bus range crosses a segment boundary; [`Error::TooManySegments`]
    /// when the device's maximum number of segments is reached with
    /// entries left (`needed` is then a lower bound); and
    /// [`Error::Misaligned`] or [`Error::Unreachable`] if the mapper
    /// returned an address the limits do not allow. On every error,
    /// everything mapped so far is unmapped, and the table is left exactly
    /// as it was: DMA fields and `nents` included.
    ///
    /// If the mapper panics, the mappings made so far are not unmapped
    /// (which is safe: they leak).
    ///
    /// # Examples
    ///
    /// A device that takes segments of at most 8 KiB, on 8 KiB boundaries:
    ///
    /// ```
    /// use sg_alloc::{DirectMapper, SgTable};
    /// use sg_core::{DmaDirection, DmaLimits, PageProvider, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let run = pages.alloc_pages(3)?; // eight contiguous pages
    /// let handles: Vec<_> = (0..8).map(|index| pages.nth(run, index)).collect();
    /// let limits = DmaLimits::new()
    ///     .max_segment_size(8192)
    ///     .segment_boundary(Some(8192));
    /// // Built for the device: entries end at its boundaries.
    /// let mut table = SgTable::from_pages_for_device(&pages, &handles, 0, 8 * 4096, &limits)?;
    /// // SAFETY: no device is given the addresses; they are only read below.
    /// let direct = unsafe { DirectMapper::new() };
    /// let mapped = table.map_dma(direct, DmaDirection::FromDevice, &limits)?;
    /// assert!(mapped.nents() <= mapped.orig_nents());
    /// for (address, length) in mapped.segments() {
    ///     assert!(length <= 8192 && !limits.crosses_boundary(address, u64::from(length)));
    /// }
    /// mapped.unmap();
    /// assert_eq!(table.nents(), table.orig_nents());
    /// drop(table);
    /// // SAFETY: allocated above with order 3; the table is gone.
    /// unsafe { pages.free_pages(run, 3) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "dma_map_sgtable")]
    #[doc(alias = "dma_map_sg")]
    #[doc(alias = "iommu_dma_map_sg")]
    #[doc(alias = "bus_dmamap_load")]
    pub fn map_dma<M: DmaMapper<P>>(
        &mut self,
        mapper: M,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<MappedTable<'_, P, M, C>, Error> {
        limits.validate()?;
        if self.byte_len() == 0 {
            return Err(Error::EmptyTable);
        }
        let max_length = limits.get_max_segment_size();
        if let Some((index, entry)) = self
            .as_list()
            .iter()
            .enumerate()
            .find(|(_, entry)| entry.length() > max_length)
        {
            return Err(Error::EntryNeedsSplit {
                index,
                length: entry.length(),
            });
        }
        let saved = SavedFields::save(self.as_list(), self.orig_nents())?;
        match self.map_entries(&mapper, direction, limits) {
            Ok(segments) => {
                self.set_nents(segments);
                Ok(MappedTable {
                    table: self,
                    mapper,
                    direction,
                    mapped: true,
                })
            }
            Err(error) => {
                saved.restore(self);
                Err(error)
            }
        }
    }

    /// Maps every entry with bytes and stores the merged segments in the
    /// first entries' DMA fields; returns the segment count. On failure,
    /// unmaps what it mapped and returns the error; the DMA fields are
    /// then left to the caller to restore.
    fn map_entries<M: DmaMapper<P>>(
        &mut self,
        mapper: &M,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<usize, Error> {
        let max_segments = limits.get_max_segments();
        let (mut fields, provider) = self.dma_fields_and_provider();
        let mut index = 0;
        let mut segments = 0;
        let mut current: Option<(u64, u32)> = None;
        let mut failure = None;
        while let Some(entry) = fields.read() {
            let this = index;
            index += 1;
            let Some(run) = run_of(entry) else { continue };
            // SAFETY: the run is an entry's, a claim the table's entries
            // make (their contract), and the table is borrowed exclusively,
            // so nothing writes its bytes meanwhile.
            let mapped = unsafe { mapper.map(provider, run, direction, limits) };
            let address = match mapped {
                Ok(address) => address,
                Err(error) => {
                    failure = Some((this, at_entry(error, this)));
                    break;
                }
            };
            let checked = limits.check_segment(this, address, run.len);
            if let (Ok(()), Some((start, length))) = (&checked, current) {
                if limits.merges(start, length, address, run.len) {
                    current = Some((start, length + run.len));
                    continue;
                }
            }
            let refused = match checked {
                Err(error) => Some(error),
                Ok(()) if segments == max_segments => Some(Error::TooManySegments {
                    needed: segments + 1,
                    max: max_segments,
                }),
                Ok(()) => None,
            };
            if let Some(error) = refused {
                // SAFETY: mapped just above by this mapper, for this
                // provider, run and direction; the address never left this
                // function, so no device uses it; the table is borrowed
                // exclusively, so no reference to the run's bytes is live.
                unsafe { mapper.unmap(provider, run, address, direction) };
                failure = Some((this, error));
                break;
            }
            if let Some((start, length)) = current {
                let written = fields.write(start, length);
                debug_assert!(written, "segment {segments} starts at or before its entry");
            }
            segments += 1;
            current = Some((address, run.len));
        }
        if let Some((start, length)) = current {
            let written = fields.write(start, length);
            debug_assert!(written, "the last segment starts at or before its entry");
        }
        let Some((mapped_entries, error)) = failure else {
            fields.clear_rest();
            return Ok(segments);
        };
        // `fields` is not used again: the table is read through views now.
        // The segments written so far tile the entries before the one
        // that failed (which holds no mapping).
        let (cpu, dma) = (self.prefix(mapped_entries), self.prefix(segments));
        let provider = self.provider();
        for_each_mapping(cpu, dma, |run, address| {
            // SAFETY: the walk yields each run mapped above with the address
            // `map` returned for it (see `for_each_mapping`), each once; the
            // addresses never left this function; the table is borrowed
            // exclusively, so no reference to the runs' bytes is live.
            unsafe { mapper.unmap(provider, run, address, direction) };
        });
        Err(error)
    }
}

/// A table mapped for a device: the guard that
/// [`SgTable::map_dma`] returns.
///
/// It holds the table's exclusive borrow, so the table's entries cannot
/// change while it is mapped, and lends it out shared only (it derefs to
/// the [`SgTable`]): read the segments with [`segments`](Self::segments)
/// or the DMA view [`SgTable::dma_list`], and the bytes through
/// [`SgTable::as_list`]. Syncing is explicit:
/// [`sync_for_cpu`](Self::sync_for_cpu) before the CPU reads what the
/// device wrote, [`sync_for_device`](Self::sync_for_device) before the
/// device reads what the CPU wrote. The guard unmaps every entry exactly
/// once, when it is dropped (also while a panic unwinds) or with
/// [`unmap`](Self::unmap); the table then has `nents == orig_nents` and
/// cleared DMA fields again.
///
/// Unmapping and syncing walk the table's CPU entries
/// ([`orig_nents`](SgTable::orig_nents) of them), never the DMA count,
/// finding each entry's bus address inside the segments.
///
/// # Handing the addresses to a device
///
/// Giving the segments' bus addresses to a device is where the unsafe
/// promise of DMA lies: whoever programs the device with them makes sure
/// the device stops using them before the guard unmaps them (before it is
/// dropped, including by a panic, or [`unmap`](Self::unmap) is called),
/// and does not read bytes the device is still writing. The guard cannot
/// see the device; forgetting it (`mem::forget`) leaks the mapping, which
/// is safe.
///
/// # Examples
///
/// ```
/// use sg_alloc::{DirectMapper, SgTable};
/// use sg_core::{DmaDirection, DmaLimits, PageProvider, VirtPages};
///
/// let pages = VirtPages::new();
/// let page = pages.alloc_pages(0)?;
/// let mut table = SgTable::from_pages(&pages, &[page], 0, 4096)?;
/// // SAFETY: no device is given the address.
/// let direct = unsafe { DirectMapper::new() };
/// let mut mapped = table.map_dma(direct, DmaDirection::Bidirectional, &DmaLimits::new())?;
/// assert_eq!(mapped.segments().next(), Some((page.addr() as u64, 4096)));
/// mapped.sync_for_device(); // the CPU's writes reach the device
/// // ... the device reads and writes ...
/// mapped.sync_for_cpu(); // the device's writes reach the CPU
/// drop(mapped); // unmaps
/// assert_eq!(table.as_list().first().map(|entry| entry.dma_length()), Some(0));
/// drop(table);
/// // SAFETY: allocated above with order 0; the table is gone.
/// unsafe { pages.free_pages(page, 0) };
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "dma_unmap_sgtable")]
#[doc(alias = "bus_dmamap_unload")]
#[must_use = "dropping the guard unmaps the table at once"]
pub struct MappedTable<
    't,
    P: PageProvider,
    M: DmaMapper<P>,
    C: ChunkAllocator<P::Page> = HeapChunks,
> {
    /// Its first `nents` entries hold the segments; its entries and DMA
    /// fields stay as `map_dma` left them while `mapped`.
    table: &'t mut SgTable<P, C>,
    mapper: M,
    direction: DmaDirection,
    /// Whether the entries are still mapped: cleared before unmapping, so
    /// that they are unmapped once.
    mapped: bool,
}

impl<P: PageProvider, M: DmaMapper<P>, C: ChunkAllocator<P::Page>> MappedTable<'_, P, M, C> {
    /// The direction the table is mapped for.
    #[inline]
    pub fn direction(&self) -> DmaDirection {
        self.direction
    }

    /// The mapper the table is mapped through.
    #[inline]
    pub fn mapper(&self) -> &M {
        &self.mapper
    }

    /// The DMA segments, in order: bus address and length of each of the
    /// first [`nents`](SgTable::nents) entries (the kernel's
    /// `for_each_sgtable_dma_sg` with `sg_dma_address` and `sg_dma_len`).
    #[doc(alias = "for_each_sgtable_dma_sg")]
    pub fn segments(&self) -> impl Iterator<Item = (u64, u32)> + use<'_, P, M, C> {
        self.table
            .dma_list()
            .iter()
            .map(|entry| (entry.dma_address(), entry.dma_length()))
    }

    /// Makes what the device wrote visible to the CPU (the kernel's
    /// `dma_sync_sgtable_for_cpu`, FreeBSD's `bus_dmamap_sync` with
    /// `POSTREAD`): through a bounce buffer, the device's bytes are copied
    /// back when the direction lets the device write.
    ///
    /// It takes `&mut self` since it may write the pages' bytes: no slice
    /// of them borrowed from the guard may be live.
    ///
    /// The device must not be writing the table's memory meanwhile (see
    /// the type's documentation).
    #[doc(alias = "dma_sync_sgtable_for_cpu")]
    #[doc(alias = "dma_sync_sg_for_cpu")]
    pub fn sync_for_cpu(&mut self) {
        let (mapper, direction) = (&self.mapper, self.direction);
        let provider = self.table.provider();
        for_each_mapping(
            self.table.as_list(),
            self.table.dma_list(),
            |run, address| {
                // SAFETY: the guard's invariant: the walk yields each run
                // `map_dma` mapped through this mapper for the table's provider
                // and this direction, with the address `map` returned, still
                // mapped; `&mut self` keeps every reference into the pages'
                // bytes that the guard lent out dead during the call.
                unsafe { mapper.sync_for_cpu(provider, run, address, direction) };
            },
        );
    }

    /// Makes what the CPU wrote visible to the device (the kernel's
    /// `dma_sync_sgtable_for_device`, FreeBSD's `bus_dmamap_sync` with
    /// `PREWRITE`): through a bounce buffer, the CPU's bytes are copied in
    /// when the direction lets the device read.
    #[doc(alias = "dma_sync_sgtable_for_device")]
    #[doc(alias = "dma_sync_sg_for_device")]
    pub fn sync_for_device(&mut self) {
        let (mapper, direction) = (&self.mapper, self.direction);
        let provider = self.table.provider();
        for_each_mapping(
            self.table.as_list(),
            self.table.dma_list(),
            |run, address| {
                // SAFETY: as in `sync_for_cpu`; the bytes are only read.
                unsafe { mapper.sync_for_device(provider, run, address, direction) };
            },
        );
    }

    /// Unmaps the table now (the kernel's `dma_unmap_sgtable`); dropping
    /// the guard does the same. For a device that writes, its bytes reach
    /// the CPU by then.
    #[doc(alias = "dma_unmap_sgtable")]
    #[doc(alias = "dma_unmap_sg")]
    pub fn unmap(mut self) {
        self.release();
    }

    /// Unmaps every entry once, then restores `nents` and clears the DMA
    /// fields.
    fn release(&mut self) {
        if !core::mem::replace(&mut self.mapped, false) {
            return;
        }
        let (mapper, direction) = (&self.mapper, self.direction);
        let provider = self.table.provider();
        for_each_mapping(
            self.table.as_list(),
            self.table.dma_list(),
            |run, address| {
                // SAFETY: as in `sync_for_cpu`; `mapped` was set until now and
                // is cleared before the walk, so each mapping is released once,
                // even if a mapper panics midway.
                unsafe { mapper.unmap(provider, run, address, direction) };
            },
        );
        let orig_nents = self.table.orig_nents();
        self.table.set_nents(orig_nents);
        clear_fields(self.table);
    }
}

impl<P: PageProvider, M: DmaMapper<P>, C: ChunkAllocator<P::Page>> Deref
    for MappedTable<'_, P, M, C>
{
    type Target = SgTable<P, C>;

    #[inline]
    fn deref(&self) -> &SgTable<P, C> {
        self.table
    }
}

impl<P: PageProvider, M: DmaMapper<P>, C: ChunkAllocator<P::Page>> Drop
    for MappedTable<'_, P, M, C>
{
    fn drop(&mut self) {
        self.release();
    }
}

impl<P: PageProvider, M: DmaMapper<P>, C: ChunkAllocator<P::Page>> fmt::Debug
    for MappedTable<'_, P, M, C>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedTable")
            .field("direction", &self.direction)
            .field("nents", &self.table.nents())
            .field("orig_nents", &self.table.orig_nents())
            .field("segments", &DebugSegments(self.table.dma_list()))
            .finish_non_exhaustive()
    }
}

/// Prints the segments of a DMA view in hex, at most 16.
struct DebugSegments<'a, P: PageProvider>(SgList<'a, P>);

impl<P: PageProvider> fmt::Debug for DebugSegments<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        let mut out = f.debug_list();
        let mut segments = self.0.dma_segments();
        for (address, length) in segments.by_ref().take(SHOWN) {
            out.entry(&format_args!("{address:#x}+{length:#x}"));
        }
        let more = segments.count();
        if more > 0 {
            out.entry(&format_args!("... {more} more"));
        }
        out.finish()
    }
}
