//! Mapping tables for a device: merging, the guard, failure at every
//! mapper call, bad input, the bounce pool for a 32-bit device, the DMA
//! page iterator over the mapped view, and the builders for a device.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::LazyLock;

use common::{Entry, entries, fill, raw};
use sg_alloc::{AppendPages, AppendTable, BounceMapper, DirectMapper, FromPages, SgTable};
use sg_core::{DmaDirection, DmaLimits, Error, Pages};
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

/// A table that owns its set of the mock's pages (which it frees none
/// of): writable.
type Table<'m, C = sg_core::HeapChunks> = SgTable<Pages<&'m TestPages, Vec<MockPage>>, C>;

/// The pages of `pfns`, added to `mock`, as a set that holds its handles.
fn added<'m>(mock: &'m TestPages, pfns: &[u64]) -> Pages<&'m TestPages, Vec<MockPage>> {
    let pages = mock.add_pages(pfns.iter().copied());
    // SAFETY: distinct pages just added to the mock, in no other set; the
    // tests reach their bytes otherwise only through the mock's own
    // `read`/`write`, standing in for the CPU and the device, which refuse
    // pages a live CPU mapping may reach.
    unsafe { Pages::from_raw(mock, pages) }
}

/// A table of one-page entries over `pfns` (each frame its own entry).
fn one_page_entries<'m>(mock: &'m TestPages, pfns: &[u64]) -> Table<'m> {
    let set = added(mock, pfns);
    let size = set.len() as u64 * PAGE;
    FromPages::new(set, 0, size)
        .max_segment_size(PAGE_U32)
        .build()
        .expect("table")
}

/// A table whose DMA fields hold `segments`: the DMA view of a mapping,
/// to walk with the DMA iterators (a mapped table itself is out of reach
/// while mapped: the guard lends segments, never the table).
fn dma_view<'m>(mock: &'m TestPages, segments: &[(u64, u32)]) -> SgTable<&'m TestPages> {
    let mut view = SgTable::new(mock, segments.len()).expect("table");
    for (mut entry, &(address, length)) in view.entries_mut().zip(segments) {
        entry.set_dma(address, length);
    }
    view
}

/// The bytes of the mock's pages `pfns`, in order, read straight from the
/// mock (not through the table, which a mapping holds).
fn page_bytes(mock: &TestPages, pfns: &[u64]) -> Vec<u8> {
    pfns.iter()
        .flat_map(|&pfn| mock.read(MockPage::new(pfn), 0, TEST_PAGE_SIZE))
        .collect()
}

/// Writes `bytes` over the mock's pages `pfns`, in order, as the CPU does
/// (straight into the mock: the mapped table lends no view to write).
fn write_pages(mock: &TestPages, pfns: &[u64], bytes: &[u8]) {
    for (&pfn, chunk) in pfns.iter().zip(bytes.chunks(TEST_PAGE_SIZE)) {
        mock.write(MockPage::new(pfn), 0, chunk);
    }
}

#[test]
fn direct_mapping_merges_physically_contiguous_entries() {
    let mock = TestPages::new();
    let mut table = one_page_entries(&mock, &[10, 11, 12, 20]);
    assert_eq!(table.orig_nents(), 4);

    // The segments live in the DMA fields of the first entries, which the
    // guard's `segments` reads (the table itself is out of reach while
    // mapped, so the cleared fields of the others show after the scope).
    table
        .with_dma_mapping(
            direct(),
            DmaDirection::ToDevice,
            &DmaLimits::unlimited(),
            |mapped| {
                assert_eq!(mapped.nents(), 2);
                assert_eq!(mapped.orig_nents(), 4);
                let segments: Vec<_> = mapped.segments().collect();
                assert_eq!(segments, [(10 * PAGE, 3 * PAGE_U32), (20 * PAGE, PAGE_U32)]);
                assert_eq!(mapped.segments().count(), 2);
            },
        )
        .expect("maps");
    assert_eq!(dma_fields(&entries(table.as_list())), [(0, 0); 4]);
    assert_eq!(table.nents(), 4);

    // Under each of the two limits below, frames 10-11 make one segment
    // and 12 starts the next (two pages at most, or a boundary at 12);
    // 20 stands alone.
    let expected = [
        (10 * PAGE, 2 * PAGE_U32),
        (12 * PAGE, PAGE_U32),
        (20 * PAGE, PAGE_U32),
    ];
    // At most two pages per segment.
    let limits = DmaLimits::new().with_max_segment_size(2 * PAGE_U32);
    let segments = table
        .with_dma_mapping(direct(), DmaDirection::ToDevice, &limits, |mapped| {
            mapped.segments().collect::<Vec<_>>()
        })
        .expect("maps");
    assert_eq!(segments, expected);

    // A boundary every 4 pages: frame 12 starts a window (12 = 3 * 4).
    let limits = DmaLimits::new()
        .with_max_segment_size(4 * PAGE_U32)
        .with_segment_boundary(Some(4 * PAGE));
    let counted = table.as_list().count_dma_segments(&limits);
    let (segments, nents) = table
        .with_dma_mapping(direct(), DmaDirection::ToDevice, &limits, |mapped| {
            (mapped.segments().collect::<Vec<_>>(), mapped.nents())
        })
        .expect("maps");
    assert_eq!(segments, expected);
    assert_eq!(counted, Ok(nents));
}

#[test]
fn the_iommu_merges_page_aligned_runs_and_translates_back() {
    let mock = TestPages::new();
    let set = added(&mock, &[7, 3, 9]);
    let second_page = set.handles()[1];
    fill(&mock, [7, 3, 9], 5);
    let offset = PAGE / 4;
    let size = 3 * PAGE - offset - PAGE / 8;
    let mut table = SgTable::from_pages(set, offset as usize, size).expect("table");
    assert_eq!(table.orig_nents(), 3);
    let bytes = mock.list_bytes(table.as_list());
    let iommu = MockIommu::new();
    table
        .with_dma_mapping(
            &iommu,
            DmaDirection::Bidirectional,
            &DmaLimits::new(),
            |mapped| {
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
                assert_eq!((second.page, second.offset), (second_page, 0));
                assert_eq!(iommu.live_mappings(), 3);
            },
        )
        .expect("maps");
    assert_eq!(iommu.live_mappings(), 0);
    assert_eq!(iommu.unmap_calls(), 3);
}

#[test]
fn the_guard_unmaps_exactly_once_on_drop_unmap_and_panic() {
    // The owning guard takes a `'static` table and mapper: a mock and an
    // IOMMU in statics of this test (memory reachable from a static is no
    // leak to Miri).
    static MOCK: LazyLock<TestPages> = LazyLock::new(TestPages::new);
    static IOMMU: LazyLock<MockIommu> = LazyLock::new(MockIommu::new);
    let (mock, iommu): (&'static TestPages, &'static MockIommu) = (&MOCK, &IOMMU);
    let mut table = one_page_entries(mock, &[30, 31, 40, 41, 42, 50]);
    let before = entries(table.as_list());
    let limits = DmaLimits::new().with_max_segment_size(2 * PAGE_U32);
    let unmapped_like_before = |table: &Table<'_>| {
        table.nents() == table.orig_nents() && entries(table.as_list()) == before
    };

    // Dropped: the scoped guard, when its closure returns.
    table
        .with_dma_mapping(iommu, DmaDirection::ToDevice, &limits, |mapped| {
            assert_eq!(mapped.nents(), 3, "{mapped:?}");
            assert_eq!(iommu.live_mappings(), 6);
        })
        .expect("maps");
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 6));
    assert!(unmapped_like_before(&table));

    // Unmapped explicitly (the owning guard gives the table back), after
    // syncs that walk every CPU entry (six) rather than the DMA count
    // (three).
    let mapped = table
        .map_dma(iommu, DmaDirection::Bidirectional, &limits)
        .expect("maps");
    mapped.sync_for_device();
    mapped.sync_for_cpu();
    assert_eq!((iommu.syncs_for_device(), iommu.syncs_for_cpu()), (6, 6));
    let mut table = mapped.unmap();
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 12));
    assert!(unmapped_like_before(&table));

    // A panic while mapped: the scoped guard unmaps while unwinding, and
    // the table is as it was.
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        table.with_dma_mapping(iommu, DmaDirection::FromDevice, &limits, |mapped| {
            assert_eq!(mapped.nents(), 3);
            panic!("the driver fails while the table is mapped");
        })
    }));
    assert!(outcome.is_err());
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 18));
    assert!(unmapped_like_before(&table));

    // And the owning guard, dropped while unwinding, unmaps before the
    // table it owns goes.
    let outcome = catch_unwind(AssertUnwindSafe(move || {
        let mapped = table
            .map_dma(iommu, DmaDirection::FromDevice, &limits)
            .expect("maps");
        assert_eq!(mapped.nents(), 3);
        panic!("the driver fails while the table is mapped");
    }));
    assert!(outcome.is_err());
    assert_eq!((iommu.live_mappings(), iommu.unmap_calls()), (0, 24));
    iommu.assert_clean();
}

#[test]
fn the_dma_page_iterator_walks_the_mapped_view() {
    let mock = TestPages::new();
    let set = added(&mock, &[5, 6, 7, 12, 13, 20]);
    // Entries: frames 5-7 from offset 30, 12-13, and 20 (partly).
    let mut table = SgTable::from_pages(set, 30, 6 * PAGE - 30 - 20).expect("table");
    assert_eq!(table.orig_nents(), 3);
    let limits = DmaLimits::new().with_max_segment_size(4 * PAGE_U32);
    let iommu = MockIommu::with_space(64 * PAGE, 1 << 40);
    table
        .with_dma_mapping(&iommu, DmaDirection::ToDevice, &limits, |mapped| {
            walk_the_segments(&mock, mapped.segments().collect());
        })
        .expect("maps");
}

/// The DMA page iterator over the view of the mapping of
/// [`the_dma_page_iterator_walks_the_mapped_view`]: the segments copied
/// into DMA fields of a table of their own.
fn walk_the_segments(mock: &TestPages, segments: Vec<(u64, u32)>) {
    // The first entry ends on a page boundary, so the IOMMU places the
    // second right after it, but together they are longer than 4 pages.
    assert_eq!(segments.len(), 2, "{segments:?}");
    let view = dma_view(mock, &segments);
    let expected: Vec<u64> = segments
        .iter()
        .flat_map(|&(address, length)| {
            let pages = (address % PAGE + u64::from(length)).div_ceil(PAGE);
            (0..pages).map(move |index| address + index * PAGE)
        })
        .collect();
    let walked: Vec<u64> = DmaPageIter::new(view.dma_list(), 0).collect();
    assert_eq!(walked, expected);
    assert_eq!(walked.len(), 3 + 3);
    let skipped: Vec<u64> = DmaPageIter::new(view.dma_list(), 4).collect();
    assert_eq!(skipped, expected[4..]);
}

#[test]
fn bad_input_gets_typed_errors_before_any_mapping() {
    let mock = TestPages::new();
    let mut table = one_page_entries(&mock, &[1, 2, 4]);
    let iommu = MockIommu::new();
    let invalid = [
        DmaLimits::new().with_max_segment_size(0),
        DmaLimits::new().with_max_segments(0),
        DmaLimits::new().with_alignment(0),
        DmaLimits::new().with_alignment(3),
        DmaLimits::new().with_segment_boundary(Some(3 << 16)),
        DmaLimits::new().with_segment_boundary(Some(4096)),
    ];
    for limits in invalid {
        let outcome = table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &limits, |_| ());
        assert!(
            matches!(outcome, Err(Error::InvalidLimits { .. })),
            "{limits:?}: {outcome:?}"
        );
    }
    // An entry longer than a segment, named.
    let short = DmaLimits::new()
        .with_max_segment_size(PAGE_U32 / 2)
        .with_segment_boundary(Some(PAGE / 2));
    assert_eq!(
        table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &short, |_| ()),
        Err(Error::EntryNeedsSplit {
            index: 0,
            len: PAGE_U32
        })
    );
    assert_eq!(iommu.map_calls(), 0, "refused before mapping");

    // A table without a byte.
    let mut empty = SgTable::new(&mock, 3).expect("table");
    assert_eq!(
        empty.with_dma_mapping(&iommu, DmaDirection::ToDevice, &DmaLimits::new(), |_| ()),
        Err(Error::EmptyTable)
    );
    assert_eq!(iommu.map_calls(), 0);

    // The direct mapper: out of reach, misaligned, crossing a boundary.
    let low = DmaLimits::new().with_highest_address(2 * PAGE - 1);
    assert_eq!(
        table.with_dma_mapping(direct(), DmaDirection::ToDevice, &low, |_| ()),
        Err(Error::Unreachable {
            address: 2 * PAGE,
            highest: 2 * PAGE - 1
        })
    );
    let aligned = DmaLimits::new().with_alignment(2 * PAGE);
    assert_eq!(
        table.with_dma_mapping(direct(), DmaDirection::ToDevice, &aligned, |_| ()),
        Err(Error::Misaligned {
            address: PAGE,
            alignment: 2 * PAGE
        })
    );
    // Frames 1 and 2 are `table`'s: it goes before another set names them.
    drop(table);
    let handles = [MockPage::new(1), MockPage::new(2)];
    let pages = raw(&mock, &handles);
    let mut unaligned = SgTable::from_pages(&pages, 8, PAGE).expect("table");
    let windows = DmaLimits::new()
        .with_max_segment_size(PAGE_U32)
        .with_segment_boundary(Some(PAGE));
    assert_eq!(
        unaligned.with_dma_mapping(direct(), DmaDirection::ToDevice, &windows, |_| ()),
        Err(Error::EntryNeedsSplit {
            index: 0,
            len: PAGE_U32
        })
    );
    assert_eq!(
        unaligned.as_list().count_dma_segments(&windows),
        Err(Error::EntryNeedsSplit {
            index: 0,
            len: PAGE_U32
        })
    );
}

/// Maps `table` with the mapper failing at every call in turn: each
/// attempt fails naming the entry whose map call failed, leaves nothing
/// mapped and the table exactly as it was; the attempt after the last call
/// maps. Returns the number of failure points.
fn fail_at_every_call(table: &mut Table<'_, CountingChunks>, limits: &DmaLimits) -> usize {
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
        let outcome =
            table.with_dma_mapping(&iommu, DmaDirection::Bidirectional, limits, |mapped| {
                mapped.nents()
            });
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
    // Arrays of 4 slots, so the entries are chained over several arrays.
    let chunks = CountingChunks::with_max_entries(4);
    let mut table = FromPages::new(added(&mock, &pfns), 16, pfns.len() as u64 * PAGE - 40)
        .max_segment_size(2 * PAGE_U32)
        .chunk_allocator(chunks)
        .build()
        .expect("table");
    assert!(table.arrays() > 1);
    let limits = DmaLimits::new().with_max_segment_size(3 * PAGE_U32);
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
        .with_dma_mapping(&iommu, DmaDirection::ToDevice, &limits, |mapped| {
            mapped.nents()
        })
        .expect("maps");
    assert!(needed > 2);
    for max in 1..needed {
        let few = limits.with_max_segments(max);
        let outcome = table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &few, |_| ());
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
fn a_failed_owning_mapping_gives_the_table_back_as_it_was() {
    // The owning form hands the table back in the error: a `'static` table
    // (over a mock in a static) and a `'static` IOMMU.
    static MOCK: LazyLock<TestPages> = LazyLock::new(TestPages::new);
    let mock: &'static TestPages = &MOCK;
    let mut table = one_page_entries(mock, &[3, 4, 5, 9, 20, 22]);
    for (index, mut entry) in table.entries_mut().enumerate() {
        // Stale fields come back too.
        entry.set_dma(0xE000 + index as u64, 3);
    }
    let before = entries(table.as_list());
    let limits = DmaLimits::new().with_max_segment_size(2 * PAGE_U32);
    for k in 0.. {
        static IOMMUS: LazyLock<[MockIommu; 7]> =
            LazyLock::new(|| std::array::from_fn(|_| MockIommu::new()));
        let iommu: &'static MockIommu = &IOMMUS[k];
        iommu.fail_map_at(k);
        match table.map_dma(iommu, DmaDirection::Bidirectional, &limits) {
            Ok(mapped) => {
                assert_eq!(k, 6, "mapped although call {k} failed");
                // Six pages, two per segment on the IOMMU's bus.
                assert_eq!(mapped.nents(), 3);
                let back = mapped.unmap();
                assert_eq!(iommu.live_mappings(), 0);
                // Unmapping clears the fields, stale or not.
                assert!(
                    entries(back.as_list())
                        .iter()
                        .all(|entry| entry.dma == (0, 0))
                );
                break;
            }
            Err(failed) => {
                assert_eq!(failed.error(), Error::MapFailed { index: k }, "call {k}");
                assert_eq!(iommu.map_calls(), k + 1);
                assert_eq!(iommu.live_mappings(), 0, "call {k}");
                table = failed.into_table();
                assert_eq!(entries(table.as_list()), before, "call {k}");
                assert_eq!(table.nents(), table.orig_nents(), "call {k}");
            }
        }
    }
}

#[test]
fn a_full_bounce_pool_is_a_typed_error_and_nothing_stays_mapped() {
    let mock = TestPages::new();
    let set = added(&mock, &[HIGH_PFN + 1, HIGH_PFN + 3, HIGH_PFN + 5]);
    let mut table = SgTable::from_pages(set, 0, 3 * PAGE).expect("table");
    let before = entries(table.as_list());
    let pool = 2 * TEST_PAGE_SIZE + TEST_PAGE_SIZE / 2;
    // SAFETY: no device is given the addresses.
    let bounce =
        unsafe { BounceMapper::with_pool_size(direct(), pool, 0x1000_0000) }.expect("pool");
    let device = DmaLimits::new().with_highest_address(u64::from(u32::MAX));
    let outcome = table.with_dma_mapping(&bounce, DmaDirection::ToDevice, &device, |_| ());
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
        table.with_dma_mapping(&far, DmaDirection::ToDevice, &device, |_| ()),
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

/// The frames of [`mixed_table`], in table order.
const MIXED: [u64; 5] = [10, 11, HIGH_PFN + 5, HIGH_PFN + 6, HIGH_PFN + 9];

/// A table over two pages below 4 GiB and three above (two runs), filled.
fn mixed_table(mock: &TestPages) -> Table<'_> {
    let set = added(mock, &MIXED);
    fill(mock, MIXED, 9);
    let table = SgTable::from_pages(set, 0, 5 * PAGE).expect("table");
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
    let device = DmaLimits::new().with_highest_address(u64::from(u32::MAX));
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
        // While mapped, the CPU's side is the mock's pages, read and written
        // straight (the guard lends no view of the table's bytes).
        let cpu_high = |mock: &TestPages| page_bytes(mock, &MIXED[2..]);
        let cpu_new = pattern(total, 1);
        let device_last = pattern(3 * TEST_PAGE_SIZE, 3);
        let stats_before_unmap = table
            .with_dma_mapping(&bounce, direction, &device, |mapped| {
                let segments: Vec<(u64, u32)> = mapped.segments().collect();
                // The low run is used where it is; the two high runs are
                // bounced to contiguous slots, which merge.
                assert_eq!(segments.len(), 2, "{direction:?}: {mapped:?}");
                assert_eq!(segments[0], (10 * PAGE, 2 * PAGE_U32));
                assert!(bounce.is_bounced(segments[1].0));
                assert!(segments[1].0 + u64::from(segments[1].1) <= 1 << 32);
                assert_eq!(bounce.stats().bounced, 2);
                let high = segments[1];

                // Right after mapping: the device sees the CPU's bytes only
                // when it reads.
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

                // The CPU writes; the device sees it after sync-for-device,
                // when it reads.
                write_pages(&mock, &MIXED, &cpu_new);
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

                // The device writes the pool; the CPU sees it after
                // sync-for-CPU, when the device writes.
                let device_new = pattern(3 * TEST_PAGE_SIZE, 2);
                assert!(bounce.device_write(high.0, &device_new));
                assert_eq!(
                    cpu_high(&mock),
                    cpu_new[2 * TEST_PAGE_SIZE..],
                    "not before the sync"
                );
                mapped.sync_for_cpu();
                if direction.from_device() {
                    assert_eq!(cpu_high(&mock), device_new);
                } else {
                    assert_eq!(
                        cpu_high(&mock),
                        cpu_new[2 * TEST_PAGE_SIZE..],
                        "{direction:?} copied back"
                    );
                }

                // The device writes again; unmapping (the end of the scope)
                // brings it back, when it writes.
                assert!(bounce.device_write(high.0, &device_last));
                bounce.stats()
            })
            .expect("maps");
        let cpu_high = mock.list_bytes(table.as_list())[2 * TEST_PAGE_SIZE..].to_vec();
        if direction.from_device() {
            assert_eq!(cpu_high, device_last);
        } else {
            assert_eq!(cpu_high, cpu_new[2 * TEST_PAGE_SIZE..]);
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
        drop(table);
        mock.assert_clean();
    }
}

#[test]
fn misaligned_runs_are_bounced_too() {
    let mock = TestPages::new();
    let set = added(&mock, &[10, 11]);
    fill(&mock, [10, 11], 4);
    let mut table = SgTable::from_pages(set, 8, 2 * PAGE - 8).expect("table");
    let bytes = mock.list_bytes(table.as_list());
    // SAFETY: no device is given the addresses.
    let bounce = unsafe { BounceMapper::with_pool_size(direct(), 4 * TEST_PAGE_SIZE, 0x1000_0000) }
        .expect("pool");
    let limits = DmaLimits::new().with_alignment(32);
    let seen = table
        .with_dma_mapping(&bounce, DmaDirection::ToDevice, &limits, |mapped| {
            let (address, length) = mapped.segments().next().expect("a segment");
            assert!(bounce.is_bounced(address) && address % 32 == 0);
            let mut seen = vec![0; length as usize];
            assert!(bounce.device_read(address, &mut seen));
            seen
        })
        .expect("maps");
    assert_eq!(seen, bytes);
    assert_eq!(bounce.live_slots(), 0);
}

#[test]
fn tables_for_a_device_end_entries_at_its_boundaries() {
    let mock = TestPages::new();
    let pages = mock.add_run(2, 10); // frames 2 to 11
    // The tables below are over the same pages at once: they share the set
    // and only read (a read-only table maps for a device that reads).
    let set = raw(&mock, &pages);
    let limits = DmaLimits::new()
        .with_max_segment_size(4 * PAGE_U32)
        .with_segment_boundary(Some(4 * PAGE));
    let table = FromPages::new(&set, 0, 10 * PAGE)
        .limits(&limits)
        .build()
        .expect("table");
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
    let nents = table
        .with_dma_mapping(direct(), DmaDirection::ToDevice, &limits, |mapped| {
            mapped.nents()
        })
        .expect("maps");
    assert_eq!(nents, 3);

    // Appending merges into the last entry up to the boundary only.
    let mut append = AppendTable::new(&set);
    append
        .append_pages(AppendPages::new(0..1, PAGE).limits(&limits).left_pages(9))
        .expect("append");
    append
        .append_pages(AppendPages::new(1..10, 9 * PAGE).limits(&limits))
        .expect("append");
    let appended = append.finish().expect("table");
    assert_eq!(
        common::spans(appended.as_list()),
        common::spans(table.as_list())
    );

    // Bad limits, too small a segment, too many segments.
    let bad = DmaLimits::new().with_segment_boundary(Some(PAGE));
    assert!(matches!(
        FromPages::new(&set, 0, PAGE).limits(&bad).build().map(drop),
        Err(Error::InvalidLimits { .. })
    ));
    let tiny = DmaLimits::new().with_max_segment_size(PAGE_U32 - 1);
    assert_eq!(
        FromPages::new(&set, 0, PAGE)
            .limits(&tiny)
            .build()
            .map(drop),
        Err(Error::SegmentTooSmall {
            max_segment: PAGE_U32 - 1,
            page_size: TEST_PAGE_SIZE
        })
    );
    let few = limits.with_max_segments(2);
    assert_eq!(
        FromPages::new(&set, 0, 10 * PAGE)
            .limits(&few)
            .build()
            .map(drop),
        Err(Error::TooManySegments { needed: 3, max: 2 })
    );
    let mut append = AppendTable::new(&set);
    append
        .append_pages(AppendPages::new(0..6, 6 * PAGE).limits(&few).left_pages(4))
        .expect("two entries");
    let before = common::spans(append.as_list());
    assert_eq!(
        append.append_pages(AppendPages::new(6..10, 4 * PAGE).limits(&few)),
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
    let device = DmaLimits::new().with_highest_address(u64::from(u32::MAX));
    for k in 0.. {
        // Room for two pages below 4 GiB: the other runs are bounced.
        let iommu = MockIommu::with_space((1 << 32) - 2 * PAGE, 1 << 40);
        iommu.fail_map_at(k);
        // SAFETY: no device is given the addresses.
        let bounce =
            unsafe { BounceMapper::with_pool_size(&iommu, 8 * TEST_PAGE_SIZE, 0x1000_0000) }
                .expect("pool");
        let outcome =
            table.with_dma_mapping(&bounce, DmaDirection::Bidirectional, &device, |mapped| {
                (mapped.nents(), bounce.live_slots())
            });
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
