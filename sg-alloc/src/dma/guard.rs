//! The guard of a mapped table: [`MappedTable`], what it may hold
//! ([`MapTarget`]), and the failure that gives a table back ([`MapError`]).

use core::cell::Cell;
use core::fmt;
use core::marker::PhantomData;
use core::mem::ManuallyDrop;

use sg_core::{
    Access, ChunkAllocator, DmaDirection, DmaMapper, DmaMapping, Error, PageProvider, SgList,
};

use super::walk::{Mappings, Restore, SavedFields, unmap_all};
use crate::SgTable;

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

/// A table by value and a table by exclusive borrow hold it alike.
macro_rules! map_targets {
    ($($target:ty),*) => {$(
        impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> sealed::Sealed for $target {}

        impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> MapTarget for $target {
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
    )*};
}

map_targets!(SgTable<P, C, A>, &mut SgTable<P, C, A>);

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
/// assert_eq!(table.as_list().first().map(|entry| entry.dma_len()), Some(0));
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
    pub(super) fn new(table: T, mapper: M, direction: DmaDirection) -> Self {
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
            .map(|entry| (entry.dma_address(), entry.dma_len()))
    }

    /// Makes what the device wrote visible to the CPU (the kernel's
    /// `dma_sync_sgtable_for_cpu`, FreeBSD's `bus_dmamap_sync` with
    /// `POSTREAD`): through a bounce buffer, the device's bytes are copied
    /// back when the direction lets the device write.
    ///
    /// The device must not be writing the table's memory meanwhile (see
    /// the type's documentation). If the mapper panics, the table stays
    /// mapped, and the guard unmaps it when dropped.
    #[doc(alias = "dma_sync_sgtable_for_cpu")]
    #[doc(alias = "dma_sync_sg_for_cpu")]
    pub fn sync_for_cpu(&self) {
        self.for_each_mapping(|mapper, provider, mapping| {
            // SAFETY: see `for_each_mapping`.
            unsafe { mapper.sync_for_cpu(provider, mapping) }
        });
    }

    /// Makes what the CPU wrote visible to the device (the kernel's
    /// `dma_sync_sgtable_for_device`, FreeBSD's `bus_dmamap_sync` with
    /// `PREWRITE`): through a bounce buffer, the CPU's bytes are copied in
    /// when the direction lets the device read.
    #[doc(alias = "dma_sync_sgtable_for_device")]
    #[doc(alias = "dma_sync_sg_for_device")]
    pub fn sync_for_device(&self) {
        self.for_each_mapping(|mapper, provider, mapping| {
            // SAFETY: see `for_each_mapping`; the bytes are only read.
            unsafe { mapper.sync_for_device(provider, mapping) }
        });
    }

    /// Calls `sync` with every mapping the table holds: each run, its bus
    /// address and the direction.
    ///
    /// By the type invariants each run is mapped through this mapper for
    /// the table's provider and this direction, with the address `map`
    /// returned, and still mapped; the guard lends no view of the table's
    /// bytes, and it is not `Sync`, so no reference into them is live
    /// during a call: what the mapper's syncs ask of their caller.
    fn for_each_mapping(
        &self,
        mut sync: impl FnMut(&M, &T::Provider, DmaMapping<<T::Provider as PageProvider>::Page>),
    ) {
        let table = self.table.table();
        for (run, bus_address) in Mappings::new(table.as_list(), table.dma_list()) {
            let mapping = DmaMapping {
                run,
                bus_address,
                direction: self.direction,
            };
            sync(&self.mapper, table.provider(), mapping);
        }
    }

    /// Unmaps the table now (the kernel's `dma_unmap_sgtable`) and gives it
    /// back (for the scoped form, the borrow); dropping the guard unmaps
    /// too. For a device that writes, its bytes reach the CPU by then.
    ///
    /// If the mapper panics while unmapping, every other run is still
    /// unmapped and the table reset (`nents == orig_nents`, DMA fields 0)
    /// while the panic unwinds; the table and the mapper are then dropped.
    #[doc(alias = "dma_unmap_sgtable")]
    #[doc(alias = "dma_unmap_sg")]
    pub fn unmap(mut self) -> T {
        // Dropped normally if this panics: `release` then finds nothing
        // left to do, and the table and the mapper go.
        self.release();
        let this = ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again, so the table and
        // the mapper are each moved out exactly once.
        let (table, mapper) =
            unsafe { (core::ptr::read(&this.table), core::ptr::read(&this.mapper)) };
        drop(mapper);
        table
    }

    /// Unmaps every entry once, then restores `nents` and clears the DMA
    /// fields, also when the mapper panics midway.
    fn release(&mut self) {
        if !core::mem::replace(&mut self.mapped, false) {
            return;
        }
        let (mapper, direction) = (&self.mapper, self.direction);
        let table = self.table.table_mut();
        let orig_nents = table.orig_nents();
        // Resets the table after the unmaps, even if one panics.
        let unmapped = Restore::new(table, orig_nents, SavedFields::Clear);
        let table = &*unmapped.table;
        let mappings = Mappings::new(table.as_list(), table.dma_list());
        // SAFETY: as in `for_each_mapping`; `mapped` was set until now and
        // is cleared before the walk, and `unmap_all` unmaps each run
        // once, so each mapping is released once, even if the mapper
        // panics; the caller of the guard has stopped the device (the
        // type's contract).
        unsafe { unmap_all(mappings, table.provider(), mapper, direction) };
        drop(unmapped);
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
    pub(super) error: Error,
    pub(super) table: T,
    pub(super) mapper: M,
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
