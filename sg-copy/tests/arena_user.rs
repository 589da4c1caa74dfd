//! A user's own provider, written as a user would: pages in one arena
//! allocation, frame number = index. Everything after the provider's
//! implementation is safe code: it builds tables from pages, copies in and
//! out, splits, slices, clones and maps a table for a device (through the
//! test kit's IOMMU mock), with no `unsafe`.

use std::ptr::NonNull;
use std::sync::Mutex;

use sg_alloc::{SgTable, split};
use sg_copy::{copy_from_slice, copy_to_slice, zero};
use sg_core::{DmaDirection, DmaLimits, Error, HeapChunks, PageProvider, Pages};
use sg_testkit::MockIommu;

const PAGE: usize = 256;

/// A page of the arena: its index.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct ArenaPage(usize);

/// `frames` pages of `PAGE` bytes in one zeroed allocation.
struct Arena {
    memory: NonNull<u8>,
    frames: usize,
    used: Mutex<Vec<bool>>,
}

// SAFETY: the arena's memory is reached only through mappings made under
// the `PageProvider` contract; its bookkeeping is behind a mutex.
unsafe impl Send for Arena {}
// SAFETY: as for `Send`.
unsafe impl Sync for Arena {}

impl Arena {
    fn new(frames: usize) -> Self {
        let memory: Box<[u8]> = vec![0u8; frames * PAGE].into_boxed_slice();
        let memory = NonNull::new(Box::into_raw(memory).cast::<u8>()).expect("a boxed slice");
        Arena {
            memory,
            frames,
            used: Mutex::new(vec![false; frames]),
        }
    }

    fn free_frames(&self) -> usize {
        self.used
            .lock()
            .unwrap()
            .iter()
            .filter(|&&used| !used)
            .count()
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let slice = std::ptr::slice_from_raw_parts_mut(self.memory.as_ptr(), self.frames * PAGE);
        // SAFETY: made by `Box::into_raw` of this length in `new`, freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
}

// SAFETY: a page is `PAGE` bytes of the arena's one allocation at its
// index, initialised (zeroed) from the start and valid until the arena is
// dropped, which no table outlives (tables hold the arena or a borrow of
// it through their `Pages`); frame numbers are indices, so `nth` adds to
// them; `alloc_pages` hands out runs of consecutive free frames, each to
// one owner until `free_pages`; the arena is not linear (each page maps on
// its own), and never touches mapped memory itself.
unsafe impl PageProvider for Arena {
    type Page = ArenaPage;
    type Pfn = usize;
    const PAGE_SIZE: usize = PAGE;

    fn pfn(&self, page: ArenaPage) -> usize {
        page.0
    }

    fn nth(&self, page: ArenaPage, n: usize) -> ArenaPage {
        ArenaPage(page.0 + n)
    }

    fn map(&self, page: ArenaPage) -> NonNull<u8> {
        assert!(page.0 < self.frames, "page {} is not in the arena", page.0);
        // SAFETY: `page.0 < frames`, so the offset is inside the allocation.
        unsafe { self.memory.add(page.0 * PAGE) }
    }

    unsafe fn unmap(&self, _page: ArenaPage, _mapping: NonNull<u8>) {}

    fn alloc_pages(&self, order: u32) -> Result<ArenaPage, Error> {
        let count = 1usize
            .checked_shl(order)
            .ok_or(Error::PagesUnavailable { order })?;
        let mut used = self.used.lock().unwrap();
        let start = (0..self.frames.saturating_sub(count - 1))
            .step_by(count)
            .find(|&start| used[start..start + count].iter().all(|&taken| !taken))
            .ok_or(Error::PagesUnavailable { order })?;
        used[start..start + count].fill(true);
        Ok(ArenaPage(start))
    }

    unsafe fn free_pages(&self, page: ArenaPage, order: u32) {
        let mut used = self.used.lock().unwrap();
        used[page.0..page.0 + (1 << order)].fill(false);
    }
}

/// The bytes `0, 1, 2, ...` (mod 251) of a message of `len` bytes.
fn message(len: usize) -> Vec<u8> {
    (0..len).map(|index| (index % 251) as u8).collect()
}

/// Build, copy in and out, zero, slice, split for writing and reading, and
/// clone, over the arena's pages, all in safe code.
#[test]
fn arena_tables_copy_split_slice_and_clone_safely() -> Result<(), Error> {
    let arena = Arena::new(16);
    let mut pages = Pages::alloc(&arena, 2)?; // four pages
    pages.alloc_more(1)?; // two more, elsewhere in the arena
    pages.swap(0, 5); // an order of the user's choosing, never a page twice
    assert_eq!(arena.free_frames(), 10);

    let bytes = message(1000);
    {
        let mut table = SgTable::from_pages(&mut pages, 10, 1000)?;
        assert_eq!(copy_from_slice(table.as_list_mut(), 0, &bytes), 1000);
        let mut out = vec![0; 1000];
        assert_eq!(copy_to_slice(table.as_list(), 0, &mut out), 1000);
        assert_eq!(out, bytes);

        // A view of a byte range, and writable pieces that share no byte.
        let middle = table.as_list().slice(300, 200)?;
        let mut seen = vec![0; 200];
        assert_eq!(copy_to_slice(middle, 0, &mut seen), 200);
        assert_eq!(seen, bytes[300..500]);
        {
            let mut pieces = split(table.as_list_mut(), 100, &[100, 100])?;
            assert_eq!(zero(pieces[1].as_list_mut(), 0, 100), 100);
            assert_eq!(copy_from_slice(pieces[0].as_list_mut(), 0, &[7; 100]), 100);
        }
        let mut expected = bytes.clone();
        expected[100..200].fill(7);
        expected[200..300].fill(0);
        let mut out = vec![0; 1000];
        assert_eq!(copy_to_slice(table.as_list(), 0, &mut out), 1000);
        assert_eq!(out, expected);

        // Read-only pieces and a read-only clone borrow the table.
        let halves = split(table.as_list(), 0, &[500, 500])?;
        let copy = table.clone_in(HeapChunks::new())?;
        let mut again = vec![0; 1000];
        assert_eq!(copy_to_slice(copy.as_list(), 0, &mut again), 1000);
        assert_eq!(again, expected);
        let mut half = vec![0; 500];
        assert_eq!(copy_to_slice(halves[1].as_list(), 0, &mut half), 500);
        assert_eq!(half, expected[500..]);
    }
    drop(pages);
    assert_eq!(arena.free_frames(), 16, "the set gave its pages back");
    Ok(())
}

/// Several read-only tables over one set may live at once.
#[test]
fn arena_read_only_tables_share_a_set() -> Result<(), Error> {
    let arena = Arena::new(4);
    let pages = Pages::alloc(&arena, 1)?;
    let first = SgTable::from_pages(&pages, 0, 300)?;
    let second = SgTable::from_pages(&pages, 0, 512)?;
    assert_eq!(first.byte_len() + second.byte_len(), 812);
    Ok(())
}

/// Mapped for a device through the IOMMU mock: scoped (the table borrows
/// its pages) and owning (the table owns its pages and the arena).
#[test]
fn arena_tables_map_for_a_device() -> Result<(), Error> {
    let limits = DmaLimits::new();
    let arena = Arena::new(8);
    let mut pages = Pages::alloc(&arena, 2)?;
    let handles = pages.handles().to_vec();
    let mut table = SgTable::from_pages(&mut pages, 0, 4 * PAGE as u64)?;
    let iommu = MockIommu::new();
    let covered = table.with_dma_mapping(&iommu, DmaDirection::FromDevice, &limits, |mapped| {
        let mut covered = Vec::new();
        for (address, length) in mapped.segments() {
            for at in 0..u64::from(length) {
                let to = iommu.translate(address + at).expect("mapped");
                covered.push((to.page, to.offset));
            }
        }
        covered
    })?;
    assert_eq!(iommu.live_mappings(), 0);
    // The device reaches the table's bytes, in order.
    let expected: Vec<_> = (0..4 * PAGE as u64).map(|at| (handles[0], at)).collect();
    let translated: Vec<_> = covered
        .iter()
        .map(|&(page, offset)| {
            (
                handles[0],
                (page.0 - handles[0].0) as u64 * PAGE as u64 + offset,
            )
        })
        .collect();
    assert_eq!(translated, expected);

    // The owning form: the table owns the set, which owns the arena.
    let owned = SgTable::from_pages(Pages::alloc(Arena::new(4), 1)?, 0, 2 * PAGE as u64)?;
    let mapped = owned
        .map_dma(MockIommu::new(), DmaDirection::Bidirectional, &limits)
        .map_err(|failed| failed.error())?;
    assert_eq!(mapped.mapper().live_mappings(), 1);
    mapped.sync_for_device();
    mapped.sync_for_cpu();
    let owned = mapped.unmap();
    assert_eq!(owned.nents(), owned.orig_nents());
    Ok(())
}
