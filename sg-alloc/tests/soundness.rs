//! Run-time regression tests for the soundness holes of issue #16 that the
//! sound API closes at run time (the others no longer compile: see the
//! `compile_fail` examples of the crate's documentation). Small sizes, so
//! that they run under Miri: 4 KiB pages, a few of them.

#[cfg(miri)]
use std::any::Any;
#[cfg(miri)]
use std::sync::Mutex;

use sg_alloc::{AppendPages, AppendTable, BounceMapper, DirectMapper, SgTable, SliceTable, split};
use sg_core::{DmaDirection, DmaLimits, Error, Pages, VirtPages};
use sg_testkit::{MockIommu, MockPages};

/// Values forgotten under Miri: see [`forget`].
#[cfg(miri)]
static PARKED: Mutex<Vec<Box<dyn Any + Send>>> = Mutex::new(Vec::new());

/// `mem::forget`: the value's destructor never runs. Under Miri the value
/// is parked in a static instead, which runs no destructor either: Miri's
/// leak check reports memory that no static reaches, and this leak is the
/// point of the test.
fn forget<T: Send + 'static>(value: T) {
    #[cfg(miri)]
    PARKED.lock().expect("not poisoned").push(Box::new(value));
    #[cfg(not(miri))]
    std::mem::forget(value);
}

/// The DMA fields and counts of a table: what a refused mapping must leave.
fn dma_state<P, C, A>(table: &SgTable<P, C, A>) -> (Vec<(u64, u32)>, usize, usize)
where
    P: sg_core::PageProvider,
    C: sg_core::ChunkAllocator<P::Page>,
    A: sg_core::Access,
{
    let fields = table
        .as_list()
        .iter()
        .map(|entry| (entry.dma_address(), entry.dma_len()))
        .collect();
    (fields, table.nents(), table.orig_nents())
}

#[test]
fn case_3_from_pages_cannot_reach_past_an_allocation() {
    // Rule: safe builders take a `Pages` set, and describe only bytes of its pages.
    let pages = Pages::alloc(VirtPages::new(), 0).expect("one page");
    assert_eq!(pages.len(), 1);
    let built = SgTable::from_pages(&pages, 0, 8192);
    assert!(
        matches!(built, Err(Error::SizeTooLarge { .. })),
        "{built:?}"
    );
    assert_eq!(
        built.map(drop),
        Err(Error::SizeTooLarge {
            size: 8192,
            available: 4096
        })
    );
    // The page itself is described, and no more.
    let table = SgTable::from_pages(&pages, 0, 4096).expect("table");
    assert_eq!(table.byte_len(), 4096);
}

#[test]
fn case_7_a_bounced_piece_of_a_slice_that_starts_mid_page_is_copied_within_its_bytes() {
    // Rule: copies through a page's mapping step to the run's bytes with wrapping arithmetic, never past the allocation.
    let mut buffer: Vec<u8> = (0..10_000).map(|index| (index % 251) as u8).collect();
    // From byte 100, or 101 should byte 100 start a page.
    let from = if (buffer.as_ptr().addr() + 100) % 4096 == 0 {
        101
    } else {
        100
    };
    let expected = buffer[from..].to_vec();
    let mut iov: [&mut [u8]; 1] = [&mut buffer[from..]];
    let table = SliceTable::new(&mut iov).expect("table");
    let list = table.as_list();
    assert_ne!(
        list.first().expect("an entry").offset(),
        0,
        "starts mid-page"
    );
    let pieces = split(list, 1000, &[3000, 5000]).expect("pieces");
    assert_eq!(pieces.len(), 2);
    // The pool, at bus addresses 0x1000 to 0x4fff, is all the device
    // reaches: every run is bounced into it (copied in, for a device that
    // reads), whatever the buffer's address.
    const POOL: usize = 16384;
    const POOL_BUS: u64 = 0x1000;
    let device = DmaLimits::new().with_highest_address(POOL_BUS + POOL as u64 - 1);
    // SAFETY: no device is given the addresses: the test reads the pool.
    let direct = unsafe { DirectMapper::new() };
    // SAFETY: as above.
    let bounce = unsafe { BounceMapper::with_pool_size(direct, POOL, POOL_BUS) }.expect("pool");
    let mut start = 1000;
    for mut piece in pieces {
        let first = piece.as_list().first().expect("an entry");
        let address = first.phys(piece.provider()).expect("an address");
        assert!(
            address > POOL_BUS + POOL as u64,
            "the buffer lies above the pool's bus addresses: {address:#x}"
        );
        let length = piece.byte_len() as usize;
        let seen = piece
            .with_dma_mapping(&bounce, DmaDirection::ToDevice, &device, |mapped| {
                let mut seen = Vec::new();
                for (address, length) in mapped.segments() {
                    assert!(bounce.is_bounced(address), "{address:#x}");
                    let mut out = vec![0; length as usize];
                    assert!(bounce.device_read(address, &mut out));
                    seen.extend(out);
                }
                seen
            })
            .expect("maps");
        assert_eq!(seen, expected[start..start + length]);
        assert_eq!(bounce.live_slots(), 0);
        start += length;
    }
    assert_eq!(bounce.stats().bounced, 2);
    assert_eq!(bounce.live_slots(), 0);
}

#[test]
fn case_8_a_forgotten_owning_guard_leaks_the_table_and_its_pages() {
    // Rule: `map_dma` moves the table (and the pages it owns) into a guard with `'static` parts, so forgetting the guard leaks them and frees nothing.
    let mock: &'static MockPages<4096> = Box::leak(Box::new(MockPages::new()));
    let iommu: &'static MockIommu = Box::leak(Box::new(MockIommu::new()));
    let pages = Pages::alloc(mock, 0).expect("a page");
    assert_eq!(mock.live_allocations(), 1);
    let table = SgTable::from_pages(pages, 0, 4096).expect("table");
    let mapped = table
        .map_dma(iommu, DmaDirection::FromDevice, &DmaLimits::new())
        .expect("maps");
    assert_eq!(mapped.segments().count(), 1);
    assert_eq!(iommu.live_mappings(), 1);
    forget(mapped);
    // Nothing was unmapped or freed: the device may still use the page.
    assert_eq!(iommu.live_mappings(), 1);
    assert_eq!(iommu.unmap_calls(), 0);
    assert_eq!(mock.live_allocations(), 1);
    // Leaked with the guard: never dropped, so never checked.
    mock.skip_check_on_drop();
    iommu.skip_check_on_drop();
}

#[test]
fn read_only_table_is_refused_a_device_that_writes() {
    // Rule: a read-only table maps for `DmaDirection::ToDevice` only (`Error::ReadOnly`).
    let mock = MockPages::<4096>::new();
    let pages = Pages::alloc(&mock, 1).expect("two pages");
    let mut table = SgTable::from_pages(&pages, 0, 8192).expect("table");
    let before = dma_state(&table);
    let iommu = MockIommu::new();
    for direction in [DmaDirection::FromDevice, DmaDirection::Bidirectional] {
        assert_eq!(
            table.with_dma_mapping(&iommu, direction, &DmaLimits::new(), |_| ()),
            Err(Error::ReadOnly),
            "{direction:?}"
        );
        assert_eq!(iommu.map_calls(), 0, "refused before mapping");
        assert_eq!(dma_state(&table), before, "{direction:?}");
    }
    // A device that reads is fine.
    let segments = table
        .with_dma_mapping(
            &iommu,
            DmaDirection::ToDevice,
            &DmaLimits::new(),
            |mapped| mapped.segments().count(),
        )
        .expect("maps");
    assert_eq!(segments, 1);
    assert_eq!(iommu.live_mappings(), 0);

    // The owning form gives the refused table back as it was.
    let owned = SgTable::from_pages(Pages::alloc(VirtPages::new(), 0).expect("a page"), 0, 4096)
        .expect("table")
        .into_read_only();
    let before = dma_state(&owned);
    // SAFETY: no device is given the addresses.
    let direct = unsafe { DirectMapper::new() };
    let failed = owned
        .map_dma(direct, DmaDirection::FromDevice, &DmaLimits::new())
        .expect_err("a read-only table");
    assert_eq!(failed.error(), Error::ReadOnly);
    let owned = failed.into_table();
    assert_eq!(dma_state(&owned), before);
}

#[test]
fn append_table_refuses_a_page_twice_and_pages_past_the_set() {
    // Rule: an append takes a range of the set's positions at or after `next_page` and within the set, so no page is described twice.
    let mut pages = Pages::alloc(VirtPages::new(), 1).expect("two pages");
    let mut append = AppendTable::new(&mut pages);
    append
        .append_pages(AppendPages::new(0..1, 4096).left_pages(1))
        .expect("first page");
    assert_eq!(append.next_page(), 1);
    assert_eq!(
        append.append_pages(AppendPages::new(0..2, 8192)),
        Err(Error::PageReused { index: 0, next: 1 })
    );
    assert_eq!(
        append.append_pages(AppendPages::new(1..3, 4096)),
        Err(Error::NotInSet { end: 3, pages: 2 })
    );
    // Both refused calls left the table as it was.
    assert_eq!((append.orig_nents(), append.byte_len()), (1, 4096));
    assert_eq!(append.next_page(), 1);
    append
        .append_pages(AppendPages::new(1..2, 4096))
        .expect("second page");
    let table = append.finish().expect("table");
    // The two contiguous pages, each once: one entry.
    assert_eq!((table.orig_nents(), table.byte_len()), (1, 8192));
}
