//! A mapper or chunk allocator that panics at each of its calls in turn:
//! after the unwind nothing is mapped, nothing is reserved, no array or
//! page is left allocated beyond what the test holds, and every table
//! that survives reads as its accessors say.

mod common;

use std::cell::RefCell;
use std::sync::LazyLock;

use common::panic_at_every_chunk_call;
use sg_alloc::{AppendPages, AppendTable, BounceMapper, FirstChunk, FromPages, SgTable};
use sg_core::{DmaDirection, DmaLimits, PageProvider, Pages};
use sg_testkit::{
    CountingChunks, MockIommu, MockPage, PanicAt, TEST_PAGE_SIZE, TestPages, for_each_panic_point,
};

const PAGE: u32 = TEST_PAGE_SIZE as u32;

/// A writable table over frames of the mock, which it frees none of.
type Table<'m> = SgTable<Pages<&'m TestPages, Vec<MockPage>>>;

/// A table of one-page entries over the frames `pfns`, added to `mock`.
fn one_page_entries<'m>(mock: &'m TestPages, pfns: &[u64]) -> Table<'m> {
    let pages = mock.add_pages(pfns.iter().copied());
    let bytes = pages.len() as u64 * u64::from(PAGE);
    // SAFETY: distinct pages just added to the mock, in no other set; the
    // tests reach their bytes only through this set's table.
    let set = unsafe { Pages::from_raw(mock, pages) };
    FromPages::new(set, 0, bytes)
        .max_segment_size(PAGE)
        .build()
        .unwrap()
}

/// Stale DMA fields, as a table keeps after a caller wrote its own.
fn stale(index: usize) -> (u64, u32) {
    (0x7000 + 0x100 * index as u64, 9 + index as u32)
}

/// The table's DMA fields, every entry's.
fn fields<P: PageProvider>(table: &SgTable<P>) -> Vec<(u64, u32)> {
    table
        .as_list()
        .iter()
        .map(|entry| (entry.dma_address(), entry.dma_len()))
        .collect()
}

/// Writes stale DMA fields into every entry.
fn make_stale<P: PageProvider>(table: &mut SgTable<P>) {
    for (index, mut entry) in table.entries_mut().enumerate() {
        let (address, length) = stale(index);
        entry.set_dma(address, length);
    }
}

/// Issue 18, items 3 and 4, through the scoped form: a mapper that panics
/// while mapping (map #2 of 4, and every other call) leaves nothing mapped
/// and the DMA fields as they were; one that panics while unmapping still
/// unmaps every run and leaves the table unmapped (`nents == orig_nents`,
/// fields cleared), so the next mapping does not save stale fields.
#[test]
fn a_panicking_mapper_leaves_the_scoped_table_unmapped_and_truthful() {
    let mock = TestPages::new();
    let iommu = MockIommu::new();
    let table = RefCell::new(one_page_entries(&mock, &[3, 5, 7, 9]));
    make_stale(&mut table.borrow_mut());
    let before = fields(&table.borrow());
    // Segments of one page: the four never merge.
    let one_page = DmaLimits::new().with_max_segment_size(PAGE);
    let points = for_each_panic_point(
        |k| {
            let mut table = table.borrow_mut();
            make_stale(&mut table);
            let mapper = PanicAt::new(&iommu, k);
            table
                .with_dma_mapping(&mapper, DmaDirection::Bidirectional, &one_page, |mapped| {
                    assert_eq!(mapped.nents(), 4);
                    mapped.sync_for_device();
                    mapped.sync_for_cpu();
                })
                .unwrap();
        },
        |k| {
            let table = table.borrow();
            assert_eq!(iommu.live_mappings(), 0, "panic at call {k}");
            assert_eq!(table.nents(), table.orig_nents(), "panic at call {k}");
            if k < 4 {
                // The mapping never happened: the fields are as they were.
                assert_eq!(fields(&table), before, "panic at map call {k}");
            } else {
                // Mapped, then unmapped: the fields are cleared.
                assert_eq!(fields(&table), [(0, 0); 4], "panic at call {k}");
            }
        },
    );
    // 4 maps, 4 syncs each way, 4 unmaps.
    assert_eq!(points, 16);
    // The table maps again, and a failure then puts back the fields it had
    // (all 0 after the last unmap), not anything stale.
    let mut table = table.into_inner();
    iommu.fail_map_at(iommu.map_calls() + 2);
    let failed = table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &DmaLimits::new(), |_| ());
    assert!(failed.is_err());
    assert_eq!(fields(&table), [(0, 0); 4]);
    assert_eq!(table.nents(), 4);
    iommu.assert_clean();
}

/// The same through the owning form: the guard and the table it owns are
/// dropped while unwinding, and nothing they held stays mapped or
/// allocated.
#[test]
fn a_panicking_mapper_leaks_nothing_through_the_owning_guard() {
    static MOCK: LazyLock<TestPages> = LazyLock::new(TestPages::new);
    static IOMMU: LazyLock<MockIommu> = LazyLock::new(MockIommu::new);
    static CHUNKS: LazyLock<CountingChunks> = LazyLock::new(CountingChunks::new);
    let (mock, iommu, chunks): (
        &'static TestPages,
        &'static MockIommu,
        &'static CountingChunks,
    ) = (&MOCK, &IOMMU, &CHUNKS);
    let points = for_each_panic_point(
        |k| {
            let pages = Pages::alloc(mock, 2).unwrap();
            let limits = DmaLimits::new().with_max_segment_size(PAGE);
            let table = FromPages::new(pages, 0, 4 * u64::from(PAGE))
                .limits(&limits)
                .chunk_allocator(chunks)
                .build();
            let table = table.unwrap();
            let mapped = table
                .map_dma(
                    PanicAt::new(iommu, k),
                    DmaDirection::FromDevice,
                    &DmaLimits::new(),
                )
                .map_err(|failed| failed.error())
                .unwrap();
            mapped.sync_for_device();
            mapped.sync_for_cpu();
            let table = mapped.unmap();
            assert_eq!(table.nents(), table.orig_nents());
        },
        |k| {
            assert_eq!(iommu.live_mappings(), 0, "panic at call {k}");
            assert_eq!(chunks.live(), 0, "panic at call {k}");
            assert_eq!(mock.live_allocations(), 0, "panic at call {k}");
        },
    );
    assert!(points >= 4, "{points}");
    iommu.assert_clean();
}

/// A bounce mapper over an inner mapper that panics: no slot of the pool
/// stays reserved.
#[test]
fn a_panicking_inner_mapper_leaves_no_bounce_slot_reserved() {
    let mock = TestPages::new();
    let table = RefCell::new(one_page_entries(&mock, &[3, 5, 7]));
    // Two pages of bus addresses below 4 GiB, the rest above: the third
    // run is refused by the IOMMU and bounces.
    let iommu = MockIommu::with_space((1 << 32) - 2 * u64::from(PAGE), 1 << 40);
    let device = DmaLimits::new().with_highest_address(u64::from(u32::MAX));
    let points = for_each_panic_point(
        |k| {
            // SAFETY: no device is given the addresses; the pool is read
            // only through the mapper.
            let bounce =
                unsafe { BounceMapper::with_pool_size(PanicAt::new(&iommu, k), 4096, 0x10_0000) }
                    .unwrap();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                table.borrow_mut().with_dma_mapping(
                    &bounce,
                    DmaDirection::Bidirectional,
                    &device,
                    |mapped| {
                        mapped.sync_for_device();
                        mapped.sync_for_cpu();
                    },
                )
            }));
            assert_eq!(bounce.live_slots(), 0, "panic at call {k}");
            if let Err(payload) = outcome {
                std::panic::resume_unwind(payload);
            }
        },
        |k| {
            let table = table.borrow();
            assert_eq!(iommu.live_mappings(), 0, "panic at call {k}");
            assert_eq!(table.nents(), table.orig_nents(), "panic at call {k}");
            assert_eq!(fields(&table), [(0, 0); 3], "panic at call {k}");
        },
    );
    assert!(points >= 3, "{points}");
}

/// Issue 18, item 5: a chunk allocator that panics at its second
/// allocation of a join (the copy of the other table's first chunk, after
/// the bridge or the refit array) frees the first; and a panic at any
/// other call of building, joining or dropping leaks no array either.
#[test]
fn a_panicking_chunk_allocator_leaks_no_array_in_a_join() {
    let mock = TestPages::new();
    let pages = mock.add_run(10, 12);
    // (first table's entries, its first chunk's slots): 3 of 3 ends full
    // (a bridge), 2 of 8 leaves room to refit.
    for first_count in [3, 2] {
        let chunks = CountingChunks::with_max_entries(4);
        let points = panic_at_every_chunk_call(&chunks, |allocator| {
            let mut full = FirstChunk::<MockPage, 3>::new();
            let mut roomy = FirstChunk::<MockPage, 8>::new();
            let mut other_chunk = FirstChunk::<MockPage, 4>::new();
            let mut first = if first_count == 3 {
                SgTable::with_first_chunk_in(&mock, 3, &mut full, allocator).unwrap()
            } else {
                SgTable::with_first_chunk_in(&mock, 2, &mut roomy, allocator).unwrap()
            };
            let mut other =
                SgTable::with_first_chunk_in(&mock, 2, &mut other_chunk, allocator).unwrap();
            let entries = first.entries_mut().chain(other.entries_mut());
            for (index, mut entry) in entries.enumerate() {
                // SAFETY: 8 bytes of a frame of the mock, each entry its
                // own frame.
                unsafe { entry.set_page(pages[index], 0, 8) };
            }
            first.join(other).map_err(|failed| failed.reason()).unwrap();
            assert_eq!(first.orig_nents(), first_count + 2);
            assert_eq!(first.byte_len(), 8 * (first_count as u64 + 2));
        });
        assert!(points >= 4, "{first_count} entries: {points}");
    }
}

/// A join that replaces the first table's last array (a refit: the array
/// has two or more unused slots) gives the old array back only once both
/// tables are whole: an allocator that panics in that `free`, or at any
/// other call, leaves no table naming an array it gave back (which the
/// counter would see freed twice) and leaks none.
#[test]
fn a_refitting_join_survives_a_panicking_allocator() {
    let mock = TestPages::new();
    let handles = mock.add_pages([1, 3, 5, 7, 9, 11, 13, 15]);
    // SAFETY: distinct frames the mock holds, in no other set.
    let set = unsafe { Pages::from_raw(&mock, &handles[..]) };
    let page = u64::from(PAGE);
    // (pages of the first table, in one call each): one page, so one
    // array; four pages, so two arrays. Both promise pages that never
    // come, so their last array has room to spare.
    for first_pages in [1, 4] {
        let chunks = CountingChunks::with_max_entries(4);
        let points = panic_at_every_chunk_call(&chunks, |allocator| {
            let append = |range: std::ops::Range<usize>, left| {
                let size = (range.end - range.start) as u64 * page;
                let mut table = AppendTable::new_in(&set, allocator);
                let call = AppendPages::new(range, size).left_pages(left);
                table.append_pages(call).unwrap();
                table.finish().unwrap()
            };
            let mut first = append(0..first_pages, 3);
            let other = append(first_pages..first_pages + 2, 0);
            first.join(other).map_err(|failed| failed.reason()).unwrap();
            assert_eq!(first.orig_nents(), first_pages + 2);
            assert_eq!(first.byte_len(), (first_pages as u64 + 2) * page);
        });
        assert!(points >= 6, "{first_pages} pages: {points}");
    }
}
