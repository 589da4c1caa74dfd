//! Mapping a table for a device: `SgTable::map_dma` and the guard that
//! unmaps it.

use alloc::vec::Vec;
use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use sg_core::{
    Access, ChunkAllocator, DmaDirection, DmaLimits, DmaMapper, DmaRun, Error, PageProvider,
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
    fn restore<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access>(
        self,
        table: &mut SgTable<P, C, A>,
    ) {
        match self {
            SavedFields::Clear => clear_fields(table),
            SavedFields::Fields(fields) => {
                for (mut entry, (address, length)) in table.entries_mut_inner().zip(fields) {
                    entry.set_dma(address, length);
                }
            }
        }
    }
}

/// Sets every DMA field of the table to 0.
fn clear_fields<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access>(
    table: &mut SgTable<P, C, A>,
) {
    for mut entry in table.entries_mut_inner() {
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
    /// [`from_pages_for_device`](SgTable::from_pages_for_device) never has
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
    /// If the mapper panics, the mappings made so far are not unmapped
    /// (which is safe: they leak, with the table).
    ///
    /// # Examples
    ///
    /// A device that takes segments of at most 8 KiB, on 8 KiB boundaries:
    ///
    /// ```
    /// use sg_alloc::{DirectMapper, SgTable};
    /// use sg_core::{DmaDirection, DmaLimits, Pages, VirtPages};
    ///
    /// let pages = Pages::alloc(VirtPages::new(), 3)?; // eight contiguous pages
    /// let limits = DmaLimits::new()
    ///     .max_segment_size(8192)
    ///     .segment_boundary(Some(8192));
    /// // Built for the device: entries end at its boundaries.
    /// let table = SgTable::from_pages_for_device(pages, 0, 8 * 4096, &limits)?;
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
        match self.map_entries(mapper, direction, limits) {
            Ok(segments) => {
                self.set_nents(segments);
                Ok(())
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

mod sealed {
    /// Only tables and exclusive borrows of them are held by guards.
    pub trait Sealed {}
}

/// What a [`MappedTable`] holds: a table by value (from
/// [`SgTable::map_dma`]) or by exclusive borrow (inside
/// [`SgTable::with_dma_mapping`]). Sealed.
pub trait MapTarget: sealed::Sealed {
    /// The table's provider.
    type Provider: PageProvider;
    /// The table's chunk allocator.
    type Chunks: ChunkAllocator<<Self::Provider as PageProvider>::Page>;
    /// The table's access.
    type Access: Access;

    /// The table.
    #[doc(hidden)]
    fn table(&self) -> &SgTable<Self::Provider, Self::Chunks, Self::Access>;

    /// The table, for unmapping it.
    #[doc(hidden)]
    fn table_mut(&mut self) -> &mut SgTable<Self::Provider, Self::Chunks, Self::Access>;
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> sealed::Sealed for SgTable<P, C, A> {}
impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> sealed::Sealed
    for &mut SgTable<P, C, A>
{
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> MapTarget for SgTable<P, C, A> {
    type Provider = P;
    type Chunks = C;
    type Access = A;

    #[inline]
    fn table(&self) -> &SgTable<P, C, A> {
        self
    }

    #[inline]
    fn table_mut(&mut self) -> &mut SgTable<P, C, A> {
        self
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> MapTarget for &mut SgTable<P, C, A> {
    type Provider = P;
    type Chunks = C;
    type Access = A;

    #[inline]
    fn table(&self) -> &SgTable<P, C, A> {
        self
    }

    #[inline]
    fn table_mut(&mut self) -> &mut SgTable<P, C, A> {
        self
    }
}

/// A table mapped for a device: the guard that [`SgTable::map_dma`]
/// returns (owning the table) and [`SgTable::with_dma_mapping`] lends (over
/// an exclusive borrow).
///
/// It exposes segments, never bytes: read them with
/// [`segments`](Self::segments). The table's entries and bytes cannot be
/// reached through it, so nothing reads bytes a device is writing, and no
/// slice of the pages is live while a sync copies through a bounce buffer.
/// Syncing is explicit: [`sync_for_cpu`](Self::sync_for_cpu) before the
/// CPU reads what the device wrote (after unmapping, or after the scope of
/// [`with_dma_mapping`](SgTable::with_dma_mapping)),
/// [`sync_for_device`](Self::sync_for_device) after the CPU wrote and
/// before the device reads. The guard unmaps every entry exactly once,
/// when it is dropped (also while a panic unwinds) or with
/// [`unmap`](Self::unmap), which gives the table back; the table then has
/// `nents == orig_nents` and cleared DMA fields again.
///
/// Unmapping and syncing walk the table's CPU entries
/// ([`orig_nents`](SgTable::orig_nents) of them), never the DMA count,
/// finding each entry's bus address inside the segments.
///
/// The guard is not `Sync`: its syncs copy bytes, so they run one at a
/// time.
///
/// # Invariants
///
/// While `mapped`, the table's entries are mapped through `mapper` for
/// `direction`, segment `j` is in entry `j`'s DMA fields (`nents` of them)
/// and the segments tile the entries with bytes in order; nothing changes
/// the entries or DMA fields (the guard owns the table or its exclusive
/// borrow and lends neither).
///
/// # Handing the addresses to a device
///
/// Giving the segments' bus addresses to a device is where the unsafe
/// promise of DMA lies (the `unsafe` constructors of mappers that reach
/// hardware, such as [`DirectMapper::new`](crate::DirectMapper::new)):
/// whoever programs the device with them makes sure the device stops using
/// them before the guard unmaps them (before it is dropped, including by a
/// panic, or [`unmap`](Self::unmap) is called, or the scope of
/// [`with_dma_mapping`](SgTable::with_dma_mapping) ends), and that it
/// writes only where the direction allows. Forgetting an owning guard
/// (`mem::forget`) leaks the mapping with the table and its pages, which is
/// safe: nothing the device may still use is freed.
///
/// # Examples
///
/// ```
/// use sg_alloc::{DirectMapper, SgTable};
/// use sg_core::{DmaDirection, DmaLimits, Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 0)?;
/// let first = pages.handles()[0];
/// let table = SgTable::from_pages(pages, 0, 4096)?;
/// // SAFETY: no device is given the address.
/// let direct = unsafe { DirectMapper::new() };
/// let mapped = table.map_dma(direct, DmaDirection::Bidirectional, &DmaLimits::new())?;
/// assert_eq!(mapped.segments().next(), Some((first.addr() as u64, 4096)));
/// mapped.sync_for_device(); // the CPU's writes reach the device
/// // ... the device reads and writes ...
/// mapped.sync_for_cpu(); // the device's writes reach the CPU
/// let table = mapped.unmap();
/// assert_eq!(table.as_list().first().map(|entry| entry.dma_length()), Some(0));
/// # Ok::<(), sg_core::Error>(())
/// ```
///
/// The table is out of reach while mapped:
///
/// ```compile_fail,E0382
/// use sg_alloc::{DirectMapper, SgTable};
/// use sg_core::{DmaDirection, DmaLimits, Pages, VirtPages};
///
/// let table = SgTable::from_pages(Pages::alloc(VirtPages::new(), 0).unwrap(), 0, 4096).unwrap();
/// // SAFETY: no device is given the address.
/// let direct = unsafe { DirectMapper::new() };
/// let mapped = table.map_dma(direct, DmaDirection::FromDevice, &DmaLimits::new()).unwrap();
/// // Rule: a mapped guard owns its table and exposes segments, never bytes.
/// let _ = table.as_list();
/// # drop(mapped);
/// ```
#[doc(alias = "dma_unmap_sgtable")]
#[doc(alias = "bus_dmamap_unload")]
#[must_use = "dropping the guard unmaps the table at once"]
pub struct MappedTable<T: MapTarget, M: DmaMapper<T::Provider>> {
    table: T,
    mapper: M,
    direction: DmaDirection,
    /// Whether the entries are still mapped: cleared before unmapping, so
    /// that they are unmapped once.
    mapped: bool,
    /// Syncs copy bytes through `&self`: one thread at a time.
    not_sync: PhantomData<Cell<()>>,
}

impl<T: MapTarget, M: DmaMapper<T::Provider>> MappedTable<T, M> {
    /// The guard of a table that was just mapped through `mapper` for
    /// `direction` (the caller's part of the type invariants).
    fn new(table: T, mapper: M, direction: DmaDirection) -> Self {
        MappedTable {
            table,
            mapper,
            direction,
            mapped: true,
            not_sync: PhantomData,
        }
    }

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

    /// How many segments the mapping has (the kernel's `nents`).
    #[inline]
    pub fn nents(&self) -> usize {
        self.table.table().nents()
    }

    /// How many data entries the table has (the kernel's `orig_nents`).
    #[inline]
    pub fn orig_nents(&self) -> usize {
        self.table.table().orig_nents()
    }

    /// Bytes the mapping covers.
    #[inline]
    pub fn byte_len(&self) -> u64 {
        self.table.table().byte_len()
    }

    /// The DMA segments, in order: bus address and length of each of the
    /// first [`nents`](SgTable::nents) entries (the kernel's
    /// `for_each_sgtable_dma_sg` with `sg_dma_address` and `sg_dma_len`).
    #[doc(alias = "for_each_sgtable_dma_sg")]
    pub fn segments(&self) -> impl Iterator<Item = (u64, u32)> + use<'_, T, M> {
        self.table
            .table()
            .dma_list()
            .iter()
            .map(|entry| (entry.dma_address(), entry.dma_length()))
    }

    /// Makes what the device wrote visible to the CPU (the kernel's
    /// `dma_sync_sgtable_for_cpu`, FreeBSD's `bus_dmamap_sync` with
    /// `POSTREAD`): through a bounce buffer, the device's bytes are copied
    /// back when the direction lets the device write.
    ///
    /// The device must not be writing the table's memory meanwhile (see
    /// the type's documentation).
    #[doc(alias = "dma_sync_sgtable_for_cpu")]
    #[doc(alias = "dma_sync_sg_for_cpu")]
    pub fn sync_for_cpu(&self) {
        let (mapper, direction) = (&self.mapper, self.direction);
        let table = self.table.table();
        let provider = table.provider();
        for_each_mapping(table.as_list(), table.dma_list(), |run, address| {
            // SAFETY: the type invariants: the walk yields each run the
            // table mapped through this mapper for its provider and this
            // direction, with the address `map` returned, still mapped; the
            // guard lends no view of the table's bytes, and it is not
            // `Sync`, so no reference into them is live during the call.
            unsafe { mapper.sync_for_cpu(provider, run, address, direction) };
        });
    }

    /// Makes what the CPU wrote visible to the device (the kernel's
    /// `dma_sync_sgtable_for_device`, FreeBSD's `bus_dmamap_sync` with
    /// `PREWRITE`): through a bounce buffer, the CPU's bytes are copied in
    /// when the direction lets the device read.
    #[doc(alias = "dma_sync_sgtable_for_device")]
    #[doc(alias = "dma_sync_sg_for_device")]
    pub fn sync_for_device(&self) {
        let (mapper, direction) = (&self.mapper, self.direction);
        let table = self.table.table();
        let provider = table.provider();
        for_each_mapping(table.as_list(), table.dma_list(), |run, address| {
            // SAFETY: as in `sync_for_cpu`; the bytes are only read.
            unsafe { mapper.sync_for_device(provider, run, address, direction) };
        });
    }

    /// Unmaps the table now (the kernel's `dma_unmap_sgtable`) and gives it
    /// back (for the scoped form, the borrow); dropping the guard unmaps
    /// too. For a device that writes, its bytes reach the CPU by then.
    ///
    /// If the mapper panics while unmapping, the table and the mapper are
    /// leaked with the mappings left (safe: nothing is freed that a device
    /// may use).
    #[doc(alias = "dma_unmap_sgtable")]
    #[doc(alias = "dma_unmap_sg")]
    pub fn unmap(self) -> T {
        let mut this = ManuallyDrop::new(self);
        this.release();
        // SAFETY: `this` is never used or dropped again, so the table and
        // the mapper are each moved out exactly once.
        let (table, mapper) =
            unsafe { (core::ptr::read(&this.table), core::ptr::read(&this.mapper)) };
        drop(mapper);
        table
    }

    /// Unmaps every entry once, then restores `nents` and clears the DMA
    /// fields.
    fn release(&mut self) {
        if !core::mem::replace(&mut self.mapped, false) {
            return;
        }
        let (mapper, direction) = (&self.mapper, self.direction);
        let table = self.table.table_mut();
        {
            let provider = table.provider();
            for_each_mapping(table.as_list(), table.dma_list(), |run, address| {
                // SAFETY: as in `sync_for_cpu`; `mapped` was set until now
                // and is cleared before the walk, so each mapping is
                // released once, even if a mapper panics midway.
                unsafe { mapper.unmap(provider, run, address, direction) };
            });
        }
        let orig_nents = table.orig_nents();
        table.set_nents(orig_nents);
        clear_fields(table);
    }
}

impl<T: MapTarget, M: DmaMapper<T::Provider>> Drop for MappedTable<T, M> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<T: MapTarget, M: DmaMapper<T::Provider>> fmt::Debug for MappedTable<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = self.table.table();
        f.debug_struct("MappedTable")
            .field("direction", &self.direction)
            .field("nents", &table.nents())
            .field("orig_nents", &table.orig_nents())
            .field("segments", &DebugSegments(table.dma_list()))
            .finish_non_exhaustive()
    }
}

/// A mapping that did not happen: why, and the table and the mapper, given
/// back as they were.
///
/// `?` turns it into the [`Error`] (the table and the mapper are then
/// dropped).
pub struct MapError<T, M> {
    error: Error,
    table: T,
    mapper: M,
}

impl<T, M> MapError<T, M> {
    /// Why the table was not mapped.
    #[inline]
    pub fn error(&self) -> Error {
        self.error
    }

    /// The table, as it was before the call.
    #[inline]
    pub fn into_table(self) -> T {
        self.table
    }

    /// The table and the mapper, as they were before the call.
    #[inline]
    pub fn into_parts(self) -> (T, M) {
        (self.table, self.mapper)
    }
}

impl<T, M> fmt::Debug for MapError<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T, M> fmt::Display for MapError<T, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot map the table: {}", self.error)
    }
}

impl<T, M> core::error::Error for MapError<T, M> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl<T, M> From<MapError<T, M>> for Error {
    #[inline]
    fn from(failed: MapError<T, M>) -> Error {
        failed.error
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
