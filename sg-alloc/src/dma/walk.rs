//! What mapping, syncing and unmapping share: the runs of a table's
//! entries, the walk that finds each run's bus address inside the
//! segments, unmapping that finishes when a mapper panics, and putting a
//! table's DMA state back.

use alloc::vec::Vec;

use sg_core::{
    Access, ChunkAllocator, DmaDirection, DmaMapper, DmaMapping, DmaRun, Entries, Error,
    PageProvider, SgEntry, SgList,
};

use crate::SgTable;
use crate::unwind::Finish;

/// The run of a data entry, or `None` for an entry without bytes (which is
/// neither mapped nor part of a segment).
#[inline]
pub(super) fn run_of<Pg: Copy>(entry: &SgEntry<Pg>) -> Option<DmaRun<Pg>> {
    let page = entry.page()?;
    (!entry.is_empty()).then_some(DmaRun {
        page,
        offset: u64::from(entry.offset()),
        len: entry.len(),
    })
}

/// Every entry of a CPU view that has bytes, in order, with the bus
/// address its bytes have inside the segments of a DMA view.
///
/// The segments tile the entries with bytes: each is the bytes of one or
/// more consecutive entries, bus-contiguous, so an entry's address is its
/// segment's plus the lengths of the entries before it in the segment.
/// This is how unmapping and syncing find every address `map` returned
/// while walking the CPU entries (`orig_nents` of them), never the DMA
/// count.
pub(super) struct Mappings<'a, Pg: Copy> {
    cpu: Entries<'a, Pg>,
    dma: Entries<'a, Pg>,
    /// The current segment's address and length, and the bytes of it
    /// that entries before this one took.
    segment: (u64, u32, u32),
}

impl<'a, Pg: Copy> Mappings<'a, Pg> {
    /// The runs of `cpu` inside the segments of `dma`.
    pub(super) fn new<P: PageProvider<Page = Pg>>(cpu: SgList<'a, P>, dma: SgList<'a, P>) -> Self {
        Mappings {
            cpu: cpu.iter(),
            dma: dma.iter(),
            segment: (0, 0, 0),
        }
    }
}

impl<Pg: Copy> Iterator for Mappings<'_, Pg> {
    type Item = (DmaRun<Pg>, u64);

    fn next(&mut self) -> Option<(DmaRun<Pg>, u64)> {
        let run = self.cpu.by_ref().find_map(run_of)?;
        let (mut address, mut length, mut used) = self.segment;
        while used == length {
            let Some(next) = self.dma.next() else {
                debug_assert!(false, "the segments end before the entries");
                return None;
            };
            (address, length, used) = (next.dma_address(), next.dma_len(), 0);
        }
        if run.len > length - used {
            debug_assert!(false, "an entry runs past its segment");
            return None;
        }
        self.segment = (address, length, used + run.len);
        Some((run, address + u64::from(used)))
    }
}

/// Unmaps every run that `mappings` yields through `mapper`, each once;
/// if the mapper panics, the runs after the one that panicked are
/// unmapped while the panic unwinds.
///
/// # Safety
///
/// Each run yielded is mapped through `mapper` for `provider` and
/// `direction` at the address yielded with it, that mapping is released
/// by no one else, no device uses it any more, and no reference to the
/// runs' bytes is live during the call.
pub(super) unsafe fn unmap_all<P: PageProvider, M: DmaMapper<P>>(
    mappings: Mappings<'_, P::Page>,
    provider: &P,
    mapper: &M,
    direction: DmaDirection,
) {
    Finish::new(mappings, |mappings| {
        let Some((run, bus_address)) = mappings.next() else {
            return false;
        };
        let mapping = DmaMapping {
            run,
            bus_address,
            direction,
        };
        // SAFETY: the caller's promise, for a run the walk has moved past,
        // so it is unmapped once even if this call panics.
        unsafe { mapper.unmap(provider, mapping) };
        true
    })
    .run();
}

/// The DMA fields of a table before a mapping, to put back if it fails.
pub(super) enum SavedFields {
    /// Every field was 0 (always so for tables that were never mapped, or
    /// were unmapped).
    Clear,
    /// Each entry's address and length, in order.
    Fields(Vec<(u64, u32)>),
}

impl SavedFields {
    /// Saves the fields of `list`'s entries: nothing when they are all 0.
    pub(super) fn save<P: PageProvider>(
        list: SgList<'_, P>,
        entries: usize,
    ) -> Result<Self, Error> {
        let clear = list
            .iter()
            .all(|entry| entry.dma_address() == 0 && entry.dma_len() == 0);
        if clear {
            return Ok(SavedFields::Clear);
        }
        let mut fields = Vec::new();
        fields
            .try_reserve_exact(entries)
            .map_err(|_| Error::OutOfMemory)?;
        fields.extend(
            list.iter()
                .map(|entry| (entry.dma_address(), entry.dma_len())),
        );
        Ok(SavedFields::Fields(fields))
    }
}

/// Puts a table's `nents` and DMA fields back when dropped (on an error,
/// and while a panic unwinds), unless [`keep`](Self::keep) says the new
/// state stays: what makes a table read truthfully after a failed or
/// panicking map, and unmapped after a panicking unmap.
///
/// No unsafe code relies on it: the fields it writes are plain numbers,
/// and `nents` is capped by the table's own views.
pub(super) struct Restore<'t, P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> {
    pub(super) table: &'t mut SgTable<P, C, A>,
    nents: usize,
    saved: Option<SavedFields>,
}

impl<'t, P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> Restore<'t, P, C, A> {
    /// Puts `nents` and `saved` back into `table` when dropped.
    pub(super) fn new(table: &'t mut SgTable<P, C, A>, nents: usize, saved: SavedFields) -> Self {
        Restore {
            table,
            nents,
            saved: Some(saved),
        }
    }

    /// The table as it is now stays.
    pub(super) fn keep(mut self) {
        self.saved = None;
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> Drop for Restore<'_, P, C, A> {
    fn drop(&mut self) {
        let Some(saved) = self.saved.take() else {
            return;
        };
        self.table.set_nents(self.nents);
        let mut fields = match &saved {
            SavedFields::Clear => None,
            SavedFields::Fields(fields) => Some(fields.iter()),
        };
        for mut entry in self.table.entries_mut_inner() {
            let (address, length) = fields
                .as_mut()
                .and_then(Iterator::next)
                .copied()
                .unwrap_or((0, 0));
            entry.set_dma(address, length);
        }
    }
}
