//! Mapping tables for a device: merging, the guard, failure at every
//! mapper call, bad input, the bounce pool for a 32-bit device, the DMA
//! page iterator over the mapped view, and the builders for a device.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::{Entry, entries, fill};
use sg_alloc::{AppendTable, BounceMapper, DirectMapper, SgTable};
use sg_core::{DmaDirection, DmaLimits, Error};
use sg_iter::DmaPageIter;
use sg_testkit::{CountingChunks, MockIommu, MockPage, TEST_PAGE_SIZE, TestPages};

const PAGE: u64 = TEST_PAGE_SIZE as u64;
const PAGE_U32: u32 = TEST_PAGE_SIZE as u32;

/// Frames from this one on are above 4 GiB.
const HIGH_PFN: u64 = (1 << 32) / PAGE;

/// The direct mapper, for tests that only read its addresses.
fn direct() -> DirectMapper {
    // SAFETY: no device is given the addresses.
    unsafe { DirectMapper::new() }
}

/// The entries' DMA fields.
fn dma_fields(snapshot: &[Entry]) -> Vec<(u64, u32)> {
    snapshot.iter().map(|entry| entry.dma).collect()
}

/// A table of one-page entries over `pfns` (each frame its own entry).
fn one_page_entries<'m>(mock: &'m TestPages, pfns: &[u64]) -> SgTable<&'m TestPages> {
    let pages = mock.add_pages(pfns.iter().copied());
    SgTable::from_pages_segment(mock, &pages, 0, pages.len() as u64 * PAGE, PAGE_U32)
        .expect("table")
}

#[test]
fn direct_mapping_merges_physically_contiguous_entries() {
    let mock = TestPages::new();
    let mut table = one_page_entries(&mock, &[10, 11, 12, 20]);
    assert_eq!(table.orig_nents(), 4);

    let mapped = table
        .map_dma(direct(), DmaDirection::ToDevice, &DmaLimits::unlimited())
        .expect("maps");
    assert_eq!(mapped.nents(), 2);
    let segments: Vec<_> = mapped.segments().collect();
    assert_eq!(segments, [(10 * PAGE, 3 * PAGE_U32), (20 * PAGE, PAGE_U32)]);
    // The segments live in the first entries; the others are cleared.
    assert_eq!(
        dma_fields(&entries(mapped.as_list())),
        [
            (10 * PAGE, 3 * PAGE_U32),
            (20 * PAGE, PAGE_U32),
            (0, 0),
            (0, 0)
        ]
    );
    assert_eq!(mapped.dma_list().count(), 2);
    drop(mapped);

    // At most two pages per segment.
    let limits = DmaLimits::new().max_segment_size(2 * PAGE_U32);
    let mapped = table
        .map_dma(direct(), DmaDirection::ToDevice, &limits)
        .expect("maps");
    let segments: Vec<_> = mapped.segments().collect();
    assert_eq!(
        segments,
        [
            (10 * PAGE, 2 * PAGE_U32),
            (12 * PAGE, PAGE_U32),
            (20 * PAGE, PAGE_U32)
        ]
    );
    drop(mapped);

    // A boundary every 4 pages: frame 12 starts a window (12 = 3 * 4).
    let limits = DmaLimits::new()
        .max_segment_size(4 * PAGE_U32)
        .segment_boundary(Some(4 * PAGE));
    let mapped = table
        .map_dma(direct(), DmaDirection::ToDevice, &limits)
        .expect("maps");
    let segments: Vec<_> = mapped.segments().collect();
    assert_eq!(
        segments,
        [
            (10 * PAGE, 2 * PAGE_U32),
            (12 * PAGE, PAGE_U32),
            (20 * PAGE, PAGE_U32)
        ]
    );
    assert_eq!(
        mapped.as_list().count_dma_segments(&limits),
        Ok(mapped.nents())
    );
}

#[test]
fn the_iommu_merges_page_aligned_runs_and_translates_back() {
    let mock = TestPages::new();
    let pages = mock.add_pages([7, 3, 9]);
    fill(&mock, [7, 3, 9], 5);
    let offset = PAGE / 4;
    let size = 3 * PAGE - offset - PAGE / 8;
    let mut table = SgTable::from_pages(&mock, &pages, offset as usize, size).expect("table");
    assert_eq!(table.orig_nents(), 3);
    let bytes = mock.list_bytes(table.as_list());
    let iommu = MockIommu::new();
    let mapped = table
        .map_dma(&iommu, DmaDirection::Bidirectional, &DmaLimits::new())
        .expect("maps");
    // Non-contiguous pages, one segment on the bus.
    let segments: Vec<_> = mapped.segments().collect();
    assert_eq!(segments.len(), 1, "{mapped:?}");
    let (address, length) = segments[0];
    assert_eq!(u64::from(length), size);
    assert_eq!(address % PAGE, offset, "the offset in the page is kept");
    assert_eq!(
        iommu.device_read(&mock, address, length as usize),
        Some(bytes)
    );
    let second = iommu.translate(address + PAGE - offset).expect("mapped");
    assert_eq!((second.page, second.offset), (pages[1], 0));
    assert_eq!(iommu.live_mappings(), 3);
    drop(mapped);
    assert_eq!(iommu.live_mappings(), 0);
    assert_eq!(iommu.unmap_calls(), 3);
}

#[test]
fn the_guard_unmaps_exactly_once_on_drop_unmap_and_panic() {
    let mock = TestPages::new();
    let mut table = one_page_entries(&mock, &[30, 31, 40, 41, 42, 50]);
    let before = entries(table.as_list());
    let limits = DmaLimits::new().max_segment_size(2 * PAGE_U32);
    let iommu = MockIommu::new();
    let unmapped_like_before = |table: &SgTable<&TestPages>| {
        table.nents() == table.orig_nents() && entries(table.as_list()) == before
    };

    // Dropped.
    let mapped = table
        .map_dma(&iommu, DmaDirection::ToDevice, &limits)
        .expect("maps");
    assert_eq!(mapped.nents(), 3, "{mapped:?}");
    assert_eq!(iommu.live_mappings(), 6);
    drop(mapped);
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 6));
    assert!(unmapped_like_before(&table));

    // Unmapped explicitly, after syncs that walk every CPU entry (six)
    // rather than the DMA count (three).
    let mut mapped = table
        .map_dma(&iommu, DmaDirection::Bidirectional, &limits)
        .expect("maps");
    mapped.sync_for_device();
    mapped.sync_for_cpu();
    assert_eq!((iommu.syncs_for_device(), iommu.syncs_for_cpu()), (6, 6));
    mapped.unmap();
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 12));
    assert!(unmapped_like_before(&table));

    // A panic while mapped.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mapped = table
            .map_dma(&iommu, DmaDirection::FromDevice, &limits)
            .expect("maps");
        assert_eq!(mapped.nents(), 3);
        panic!("the driver fails while the table is mapped");
    }));
    assert!(outcome.is_err());
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 18));
    assert!(unmapped_like_before(&table));
    iommu.assert_clean();
}

#[test]
fn the_dma_page_iterator_walks_the_mapped_view() {
    let mock = TestPages::new();
    let pages = mock.add_pages([5, 6, 7, 12, 13, 20]);
    // Entries: frames 5-7 from offset 30, 12-13, and 20 (partly).
    let mut table = SgTable::from_pages(&mock, &pages, 30, 6 * PAGE - 30 - 20).expect("table");
    assert_eq!(table.orig_nents(), 3);
    let limits = DmaLimits::new().max_segment_size(4 * PAGE_U32);
    let iommu = MockIommu::with_space(64 * PAGE, 1 << 40);
    let mapped = table
        .map_dma(&iommu, DmaDirection::ToDevice, &limits)
        .expect("maps");
    let segments: Vec<_> = mapped.segments().collect();
    // The first entry ends on a page boundary, so the IOMMU places the
    // second right after it, but together they are longer than 4 pages.
    assert_eq!(segments.len(), 2, "{mapped:?}");
    let expected: Vec<u64> = segments
        .iter()
        .flat_map(|&(address, length)| {
            let pages = (address % PAGE + u64::from(length)).div_ceil(PAGE);
            (0..pages).map(move |index| address + index * PAGE)
        })
        .collect();
    let walked: Vec<u64> = DmaPageIter::new(mapped.dma_list(), 0).collect();
    assert_eq!(walked, expected);
    assert_eq!(walked.len(), 3 + 3);
    let skipped: Vec<u64> = DmaPageIter::new(mapped.dma_list(), 4).collect();
    assert_eq!(skipped, expected[4..]);
}

#[test]
fn bad_input_gets_typed_errors_before_any_mapping() {
    let mock = TestPages::new();
    let mut table = one_page_entries(&mock, &[1, 2, 4]);
    let iommu = MockIommu::new();
    let invalid = [
        DmaLimits::new().max_segment_size(0),
        DmaLimits::new().max_segments(0),
        DmaLimits::new().alignment(0),
        DmaLimits::new().alignment(3),
        DmaLimits::new().segment_boundary(Some(3 << 16)),
        DmaLimits::new().segment_boundary(Some(4096)),
    ];
    for limits in invalid {
        let outcome = table
            .map_dma(&iommu, DmaDirection::ToDevice, &limits)
            .map(drop);
        assert!(
            matches!(outcome, Err(Error::InvalidLimits { .. })),
            "{limits:?}: {outcome:?}"
        );
    }
    // An entry longer than a segment, named.
    let short = DmaLimits::new()
        .max_segment_size(PAGE_U32 / 2)
        .segment_boundary(Some(PAGE / 2));
    assert_eq!(
        table
            .map_dma(&iommu, DmaDirection::ToDevice, &short)
            .map(drop),
        Err(Error::EntryNeedsSplit {
            index: 0,
            length: PAGE_U32
        })
    );
    assert_eq!(iommu.map_calls(), 0, "refused before mapping");

    // A table without a byte.
    let mut empty = SgTable::new(&mock, 3).expect("table");
    assert_eq!(
        empty
            .map_dma(&iommu, DmaDirection::ToDevice, &DmaLimits::new())
            .map(drop),
        Err(Error::EmptyTable)
    );
    assert_eq!(iommu.map_calls(), 0);

    // The direct mapper: out of reach, misaligned, crossing a boundary.
    let low = DmaLimits::new().highest_address(2 * PAGE - 1);
    assert_eq!(
        table
            .map_dma(direct(), DmaDirection::ToDevice, &low)
            .map(drop),
        Err(Error::Unreachable {
            address: 2 * PAGE,
            highest: 2 * PAGE - 1
        })
    );
    let aligned = DmaLimits::new().alignment(2 * PAGE);
    assert_eq!(
        table
            .map_dma(direct(), DmaDirection::ToDevice, &aligned)
            .map(drop),
        Err(Error::Misaligned {
            address: PAGE,
            alignment: 2 * PAGE
        })
    );
    let mut unaligned =
        SgTable::from_pages(&mock, &[MockPage::new(1), MockPage::new(2)], 8, PAGE).expect("table");
    let windows = DmaLimits::new()
        .max_segment_size(PAGE_U32)
        .segment_boundary(Some(PAGE));
    assert_eq!(
        unaligned
            .map_dma(direct(), DmaDirection::ToDevice, &windows)
            .map(drop),
        Err(Error::EntryNeedsSplit {
            index: 0,
            length: PAGE_U32
        })
    );
    assert_eq!(
        unaligned.as_list().count_dma_segments(&windows),
        Err(Error::EntryNeedsSplit {
            index: 0,
            length: PAGE_U32
        })
    );
}

/// Maps `table` with the mapper failing at every call in turn: each
/// attempt fails naming the entry whose map call failed, leaves nothing
/// mapped and the table exactly as it was; the attempt after the last call
/// maps. Returns the number of failure points.
fn fail_at_every_call(
    table: &mut SgTable<&TestPages, CountingChunks>,
    limits: &DmaLimits,
) -> usize {
    let before = entries(table.as_list());
    let nents = table.nents();
    let mappable: Vec<usize> = before
        .iter()
        .enumerate()
        .filter(|(_, entry)| entry.length > 0)
        .map(|(index, _)| index)
        .collect();
    for k in 0.. {
        let iommu = MockIommu::new();
        iommu.fail_map_at(k);
        let outcome = table
            .map_dma(&iommu, DmaDirection::Bidirectional, limits)
            .map(|mapped| mapped.nents());
        match outcome {
            Ok(segments) => {
                assert_eq!(k, mappable.len(), "mapped although call {k} failed");
                assert!(segments <= mappable.len());
                assert_eq!(iommu.live_mappings(), 0);
                return k;
            }
            Err(error) => {
                assert_eq!(error, Error::MapFailed { index: mappable[k] }, "call {k}");
                assert_eq!(iommu.map_calls(), k + 1);
                assert_eq!(
                    iommu.live_mappings(),
                    0,
                    "call {k}: {}",
                    iommu.check().unwrap_err()
                );
                assert_eq!(entries(table.as_list()), before, "call {k}");
                assert_eq!(table.nents(), nents, "call {k}");
            }
        }
    }
    unreachable!()
}

#[test]
fn a_mapper_failing_at_any_call_leaves_nothing_mapped_and_the_table_as_it_was() {
    let mock = TestPages::new();
    let pfns = [3, 4, 5, 9, 10, 20, 22, 23, 24, 25, 40];
    let pages = mock.add_pages(pfns);
    // Arrays of 4 slots, so the entries are chained over several arrays.
    let chunks = CountingChunks::with_max_entries(4);
    let mut table = SgTable::from_pages_in(
        &mock,
        &pages,
        16,
        pfns.len() as u64 * PAGE - 40,
        2 * PAGE_U32,
        chunks,
    )
    .expect("table");
    assert!(table.arrays() > 1);
    let limits = DmaLimits::new().max_segment_size(3 * PAGE_U32);
    let points = fail_at_every_call(&mut table, &limits);
    assert_eq!(points, table.orig_nents());

    // Stale DMA fields (a mapping forgotten, or fields set by hand) come
    // back exactly too.
    for (index, mut entry) in table.entries_mut().enumerate() {
        entry.set_dma(0xD000 + index as u64, 7);
    }
    fail_at_every_call(&mut table, &limits);

    // Too many segments, at every maximum below what is needed.
    let before = entries(table.as_list());
    let iommu = MockIommu::new();
    let needed = table
        .map_dma(&iommu, DmaDirection::ToDevice, &limits)
        .expect("maps")
        .nents();
    assert!(needed > 2);
    for max in 1..needed {
        let outcome = table
            .map_dma(&iommu, DmaDirection::ToDevice, &limits.max_segments(max))
            .map(drop);
        assert_eq!(
            outcome,
            Err(Error::TooManySegments {
                needed: max + 1,
                max
            })
        );
        assert_eq!(iommu.live_mappings(), 0);
        assert_eq!(entries(table.as_list()), before);
    }
}

#[test]
fn a_full_bounce_pool_is_a_typed_error_and_nothing_stays_mapped() {
    let mock = TestPages::new();
    let pages = mock.add_pages([HIGH_PFN + 1, HIGH_PFN + 3, HIGH_PFN + 5]);
    let mut table = SgTable::from_pages(&mock, &pages, 0, 3 * PAGE).expect("table");
    let before = entries(table.as_list());
    let pool = 2 * TEST_PAGE_SIZE + TEST_PAGE_SIZE / 2;
    // SAFETY: no device is given the addresses.
    let bounce =
        unsafe { BounceMapper::with_pool_size(direct(), pool, 0x1000_0000) }.expect("pool");
    let device = DmaLimits::new().highest_address(u64::from(u32::MAX));
    let outcome = table
        .map_dma(&bounce, DmaDirection::ToDevice, &device)
        .map(drop);
    assert_eq!(
        outcome,
        Err(Error::BouncePoolExhausted {
            requested: TEST_PAGE_SIZE,
            available: TEST_PAGE_SIZE / 2
        })
    );
    assert_eq!(bounce.live_slots(), 0);
    assert_eq!(bounce.free_bytes(), pool);
    assert_eq!(entries(table.as_list()), before);
    // A pool the device cannot reach either.
    // SAFETY: as above.
    let far = unsafe { BounceMapper::with_pool_size(direct(), 4 * TEST_PAGE_SIZE, 1 << 33) }
        .expect("pool");
    assert!(matches!(
        table
            .map_dma(&far, DmaDirection::ToDevice, &device)
            .map(drop),
        Err(Error::Unreachable { .. })
    ));
    assert_eq!(far.live_slots(), 0);
    // Bad pools.
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            BounceMapper::with_pool_size(direct(), 0, 0).map(drop),
            Err(Error::ZeroLength)
        );
        assert!(matches!(
            BounceMapper::with_pool_size(direct(), 64, u64::MAX - 10).map(drop),
            Err(Error::Overflow { .. })
        ));
    }
}

/// A table over two pages below 4 GiB and three above (two runs), filled.
fn mixed_table(mock: &TestPages) -> SgTable<&TestPages> {
    let pfns = [10, 11, HIGH_PFN + 5, HIGH_PFN + 6, HIGH_PFN + 9];
    let pages = mock.add_pages(pfns);
    fill(mock, pfns, 9);
    let table = SgTable::from_pages(mock, &pages, 0, 5 * PAGE).expect("table");
    assert_eq!(table.orig_nents(), 3);
    table
}

/// What the device sees at `address`: the pool, or memory at the
/// physical address.
fn device_view(
    bounce: &BounceMapper<DirectMapper>,
    mock: &TestPages,
    (address, length): (u64, u32),
) -> Vec<u8> {
    let mut out = vec![0; length as usize];
    if bounce.device_read(address, &mut out) {
        return out;
    }
    mock.read(
        MockPage::new(address / PAGE),
        address % PAGE,
        length as usize,
    )
}

/// `length` bytes of a pattern that differs with `seed`.
fn pattern(length: usize, seed: u8) -> Vec<u8> {
    (0..length)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn the_bounce_pool_carries_a_32_bit_devices_bytes_as_the_direction_asks() {
    let device = DmaLimits::new().highest_address(u64::from(u32::MAX));
    for direction in [
        DmaDirection::ToDevice,
        DmaDirection::FromDevice,
        DmaDirection::Bidirectional,
    ] {
        let mock = TestPages::new();
        let mut table = mixed_table(&mock);
        let total = 5 * TEST_PAGE_SIZE;
        // SAFETY: no device is given the addresses: the test reads the pool.
        let bounce =
            unsafe { BounceMapper::with_pool_size(direct(), 4 * TEST_PAGE_SIZE, 0x1000_0000) }
                .expect("pool");
        let cpu_at_map = mock.list_bytes(table.as_list());
        let mut mapped = table.map_dma(&bounce, direction, &device).expect("maps");
        let segments: Vec<(u64, u32)> = mapped.segments().collect();
        // The low run is used where it is; the two high runs are bounced
        // to contiguous slots, which merge.
        assert_eq!(segments.len(), 2, "{direction:?}: {mapped:?}");
        assert_eq!(segments[0], (10 * PAGE, 2 * PAGE_U32));
        assert!(bounce.is_bounced(segments[1].0));
        assert!(segments[1].0 + u64::from(segments[1].1) <= 1 << 32);
        assert_eq!(bounce.stats().bounced, 2);
        let high = segments[1];
        let cpu_high = |mock: &TestPages, table: &SgTable<&TestPages>| {
            mock.list_bytes(table.as_list())[2 * TEST_PAGE_SIZE..].to_vec()
        };

        // Right after mapping: the device sees the CPU's bytes only when it reads.
        if direction.to_device() {
            assert_eq!(
                device_view(&bounce, &mock, high),
                cpu_at_map[2 * TEST_PAGE_SIZE..]
            );
            assert_eq!(bounce.stats().to_device_copies, 2);
        } else {
            assert_eq!(
                device_view(&bounce, &mock, high),
                vec![0; 3 * TEST_PAGE_SIZE]
            );
            assert_eq!(bounce.stats().to_device_copies, 0);
        }

        // The CPU writes; the device sees it after sync-for-device, when it reads.
        let cpu_new = pattern(total, 1);
        mock.set_list_bytes(mapped.as_list(), &cpu_new);
        let stale = device_view(&bounce, &mock, high);
        assert_ne!(stale, cpu_new[2 * TEST_PAGE_SIZE..], "not before the sync");
        mapped.sync_for_device();
        if direction.to_device() {
            assert_eq!(
                device_view(&bounce, &mock, high),
                cpu_new[2 * TEST_PAGE_SIZE..]
            );
        } else {
            assert_eq!(
                device_view(&bounce, &mock, high),
                stale,
                "{direction:?} copied in"
            );
        }

        // The device writes the pool; the CPU sees it after sync-for-CPU,
        // when the device writes.
        let device_new = pattern(3 * TEST_PAGE_SIZE, 2);
        assert!(bounce.device_write(high.0, &device_new));
        assert_eq!(
            cpu_high(&mock, &mapped),
            cpu_new[2 * TEST_PAGE_SIZE..],
            "not before the sync"
        );
        mapped.sync_for_cpu();
        if direction.from_device() {
            assert_eq!(cpu_high(&mock, &mapped), device_new);
        } else {
            assert_eq!(
                cpu_high(&mock, &mapped),
                cpu_new[2 * TEST_PAGE_SIZE..],
                "{direction:?} copied back"
            );
        }

        // The device writes again; unmapping brings it back, when it writes.
        let device_last = pattern(3 * TEST_PAGE_SIZE, 3);
        assert!(bounce.device_write(high.0, &device_last));
        let stats_before_unmap = bounce.stats();
        mapped.unmap();
        if direction.from_device() {
            assert_eq!(cpu_high(&mock, &table), device_last);
        } else {
            assert_eq!(cpu_high(&mock, &table), cpu_new[2 * TEST_PAGE_SIZE..]);
        }
        // The low pages were never copied: the device reached them directly.
        assert_eq!(
            mock.list_bytes(table.as_list())[..2 * TEST_PAGE_SIZE],
            cpu_new[..2 * TEST_PAGE_SIZE]
        );

        // Counted: two bounced runs, copied only in the directions asked.
        let stats = bounce.stats();
        let bytes = 3 * PAGE;
        let (to_copies, to_bytes) = if direction.to_device() {
            (4, 2 * bytes)
        } else {
            (0, 0)
        };
        let (from_copies, from_bytes) = if direction.from_device() {
            (4, 2 * bytes)
        } else {
            (0, 0)
        };
        assert_eq!(
            (stats.to_device_copies, stats.to_device_bytes),
            (to_copies, to_bytes),
            "{direction:?}"
        );
        assert_eq!(
            (stats.from_device_copies, stats.from_device_bytes),
            (from_copies, from_bytes),
            "{direction:?}"
        );
        assert_eq!(
            stats.to_device_copies, stats_before_unmap.to_device_copies,
            "unmap never copies in"
        );
        assert_eq!(bounce.live_slots(), 0);
        mock.assert_clean();
    }
}

#[test]
fn misaligned_runs_are_bounced_too() {
    let mock = TestPages::new();
    let pages = mock.add_pages([10, 11]);
    fill(&mock, [10, 11], 4);
    let mut table = SgTable::from_pages(&mock, &pages, 8, 2 * PAGE - 8).expect("table");
    let bytes = mock.list_bytes(table.as_list());
    // SAFETY: no device is given the addresses.
    let bounce = unsafe { BounceMapper::with_pool_size(direct(), 4 * TEST_PAGE_SIZE, 0x1000_0000) }
        .expect("pool");
    let limits = DmaLimits::new().alignment(32);
    let mapped = table
        .map_dma(&bounce, DmaDirection::ToDevice, &limits)
        .expect("maps");
    let (address, length) = mapped.segments().next().expect("a segment");
    assert!(bounce.is_bounced(address) && address % 32 == 0);
    let mut seen = vec![0; length as usize];
    assert!(bounce.device_read(address, &mut seen));
    assert_eq!(seen, bytes);
}

#[test]
fn tables_for_a_device_end_entries_at_its_boundaries() {
    let mock = TestPages::new();
    let pages = mock.add_run(2, 10); // frames 2 to 11
    let limits = DmaLimits::new()
        .max_segment_size(4 * PAGE_U32)
        .segment_boundary(Some(4 * PAGE));
    let table =
        SgTable::from_pages_for_device(&mock, &pages, 0, 10 * PAGE, &limits).expect("table");
    let spans: Vec<(u64, u32)> = common::spans(table.as_list())
        .into_iter()
        .map(|(pfn, _, length)| (pfn, length))
        .collect();
    assert_eq!(
        spans,
        [(2, 2 * PAGE_U32), (4, 4 * PAGE_U32), (8, 4 * PAGE_U32)]
    );
    // Every entry maps as one segment, with nothing merged across windows.
    let mut table = table;
    let mapped = table
        .map_dma(direct(), DmaDirection::ToDevice, &limits)
        .expect("maps");
    assert_eq!(mapped.nents(), 3);
    drop(mapped);

    // Appending merges into the last entry up to the boundary only.
    let mut append = AppendTable::new(&mock);
    append
        .append_pages_for_device(&pages[..1], 0, PAGE, &limits, 9)
        .expect("append");
    append
        .append_pages_for_device(&pages[1..], 0, 9 * PAGE, &limits, 0)
        .expect("append");
    let appended = append.finish().expect("table");
    assert_eq!(
        common::spans(appended.as_list()),
        common::spans(table.as_list())
    );

    // Bad limits, too small a segment, too many segments.
    let bad = DmaLimits::new().segment_boundary(Some(PAGE));
    assert!(matches!(
        SgTable::from_pages_for_device(&mock, &pages, 0, PAGE, &bad).map(drop),
        Err(Error::InvalidLimits { .. })
    ));
    let tiny = DmaLimits::new().max_segment_size(PAGE_U32 - 1);
    assert_eq!(
        SgTable::from_pages_for_device(&mock, &pages, 0, PAGE, &tiny).map(drop),
        Err(Error::SegmentTooSmall {
            max_segment: PAGE_U32 - 1,
            page_size: TEST_PAGE_SIZE
        })
    );
    let few = limits.max_segments(2);
    assert_eq!(
        SgTable::from_pages_for_device(&mock, &pages, 0, 10 * PAGE, &few).map(drop),
        Err(Error::TooManySegments { needed: 3, max: 2 })
    );
    let mut append = AppendTable::new(&mock);
    append
        .append_pages_for_device(&pages[..6], 0, 6 * PAGE, &few, 4)
        .expect("two entries");
    let before = common::spans(append.as_list());
    assert_eq!(
        append.append_pages_for_device(&pages[6..], 0, 4 * PAGE, &few, 0),
        Err(Error::TooManySegments { needed: 3, max: 2 })
    );
    assert_eq!(common::spans(append.as_list()), before, "left as it was");
    assert_eq!(append.byte_len(), 6 * PAGE);
}

#[test]
fn a_bounce_pool_over_a_failing_iommu_leaves_nothing_mapped() {
    let mock = TestPages::new();
    let mut table = one_page_entries(&mock, &[3, 5, 7, 9, 11]);
    let before = entries(table.as_list());
    let device = DmaLimits::new().highest_address(u64::from(u32::MAX));
    for k in 0.. {
        // Room for two pages below 4 GiB: the other runs are bounced.
        let iommu = MockIommu::with_space((1 << 32) - 2 * PAGE, 1 << 40);
        iommu.fail_map_at(k);
        // SAFETY: no device is given the addresses.
        let bounce =
            unsafe { BounceMapper::with_pool_size(&iommu, 8 * TEST_PAGE_SIZE, 0x1000_0000) }
                .expect("pool");
        let outcome = table
            .map_dma(&bounce, DmaDirection::Bidirectional, &device)
            .map(|mapped| (mapped.nents(), bounce.live_slots()));
        assert_eq!(iommu.live_mappings(), 0, "call {k}");
        assert_eq!(bounce.live_slots(), 0, "call {k}");
        assert_eq!(entries(table.as_list()), before, "call {k}");
        match outcome {
            Ok((nents, bounced)) => {
                assert_eq!(k, 5, "every call was a failure point");
                // Two pages through the IOMMU (contiguous), three bounced
                // into contiguous slots.
                assert_eq!((nents, bounced), (2, 3));
                break;
            }
            Err(error) => assert_eq!(error, Error::MapFailed { index: k }),
        }
    }
}
