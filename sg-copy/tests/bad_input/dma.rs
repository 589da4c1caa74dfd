//! Rows for DMA: mapping tables, the mappers, and the builders for a
//! device under limits that contradict each other.
//!
//! A table maps in two forms: `map_dma`, whose guard owns the table and so
//! needs a `'static` one (these rows' tables own their mock, inside their
//! set, and their chunk counter, which check themselves on drop), and the
//! scoped `with_dma_mapping`, for tables that borrow their mock and for
//! borrowed mappers.

use sg_alloc::{BounceMapper, DirectMapper, FromPages, SgTable};
use sg_core::{
    Access, ChunkAllocator, DmaDirection, DmaLimits, DmaMapper, DmaRun, Error, PageProvider, Pages,
    Read,
};
use sg_testkit::{CountingChunks, MockIommu, MockPage};

use crate::Row;
use crate::kit::{
    Builder, Mock, PAGE, PAGE_U64, SAMPLE_BYTES, SAMPLE_OFFSET, Set, bad_limits, counting,
    given_back, sample_pages, sample_table, set, table_snapshot,
};

pub(crate) fn rows() -> Vec<Row> {
    rows! {
        ZeroEntries {
            "SgTable::map_dma" => map_a_table_without_bytes,
            "SgTable::with_dma_mapping" => scoped_map_of_a_table_without_bytes,
        }
        SegmentBelowPage {
            "SgTable::map_dma" => map_entries_longer_than_a_segment,
            "SgTable::with_dma_mapping" => scoped_map_of_entries_longer_than_a_segment,
        }
        BadLimits {
            "FromPages::limits" => || build_under_bad_limits(Builder::ForDevice),
            "FromPages::build" => || build_under_bad_limits(Builder::ForDeviceIn),
            "AppendPages::limits" => || build_under_bad_limits(Builder::AppendForDevice),
            "SgTable::map_dma" => map_under_bad_limits,
            "SgTable::with_dma_mapping" => scoped_map_under_bad_limits,
            "DmaMapper::map" => mappers_under_bad_limits,
        }
        Failure {
            "SgTable::map_dma" => map_when_the_mapper_fails,
            "SgTable::with_dma_mapping" => scoped_map_when_the_mapper_fails,
            "BounceMapper::map" => bounce_when_the_pool_or_the_inner_mapper_fails,
        }
        Other {
            "SgTable::map_dma" => map_a_read_only_table_for_a_device_that_writes,
            "SgTable::with_dma_mapping" => scoped_map_of_a_read_only_table_for_a_device_that_writes,
        }
    }
}

/// The direct mapper, for rows that never give a device its addresses.
fn direct() -> DirectMapper {
    // SAFETY: no device is given the addresses.
    unsafe { DirectMapper::new() }
}

/// A table over the mock's pages, its arrays counted.
type Table<'m> = SgTable<Set<'m>, &'m CountingChunks>;

/// A table that owns all it uses, so that `map_dma`'s guard may own it:
/// its mock, inside its set, and its chunk counter. Both check on drop
/// that nothing is left (no page mapping, no array).
type OwnedTable = SgTable<Pages<Mock>, CountingChunks>;

/// The sample table (as [`sample`]) owning its mock and chunk counter.
fn owned_sample() -> OwnedTable {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    // SAFETY: pages the mock holds, whose memory is initialised and lives
    // as long as the mock, which the set owns; nothing but the table built
    // from the set reaches them, and each is named once.
    let set = unsafe { Pages::from_raw(mock, pages) };
    let mut table = FromPages::new(set, SAMPLE_OFFSET, SAMPLE_BYTES)
        .chunk_allocator(counting())
        .build()
        .unwrap();
    table.entries_mut().next().unwrap().set_dma(0x1234, 7);
    table
}

/// Drops an owned table's arrays and chunk counter (which checks that
/// every array came back), and gives back its provider, to check.
fn drop_owned<P: PageProvider, A: Access>(table: SgTable<P, CountingChunks, A>) -> P {
    table.into_provider()
}

/// The sample table, with DMA fields in its first entry (as a mapping
/// that failed must put back).
fn sample<'m>(mock: &'m Mock, chunks: &'m CountingChunks) -> Table<'m> {
    let pages = sample_pages(mock);
    let mut table = sample_table(mock, &pages, chunks);
    table.entries_mut().next().unwrap().set_dma(0x1234, 7);
    table
}

/// Maps `table` through `mapper` with the scoped form and checks that it
/// fails with `expected` and leaves the table exactly as it was.
#[track_caller]
fn refused<P, A, M>(
    table: &mut SgTable<P, &CountingChunks, A>,
    mapper: M,
    limits: &DmaLimits,
    expected: Error,
) where
    P: PageProvider<Page = MockPage>,
    A: Access,
    M: DmaMapper<P>,
{
    let before = table_snapshot(table);
    let found = table.with_dma_mapping(mapper, DmaDirection::Bidirectional, limits, |_| {
        panic!("mapped")
    });
    assert_eq!(found.map(drop), Err(expected), "{limits:?}");
    assert_eq!(table_snapshot(table), before, "{limits:?}");
}

/// Maps `table` through `mapper` for transfers in `direction` with the
/// owning guard, checks that it fails with `expected` and gives the table
/// back exactly as it was, and returns it.
#[track_caller]
fn refused_owned<P, C, A, M>(
    table: SgTable<P, C, A>,
    mapper: M,
    direction: DmaDirection,
    limits: &DmaLimits,
    expected: Error,
) -> SgTable<P, C, A>
where
    P: PageProvider<Page = MockPage> + 'static,
    C: ChunkAllocator<MockPage> + 'static,
    A: Access,
    M: DmaMapper<P> + 'static,
{
    let before = table_snapshot(&table);
    let Err(refused) = table.map_dma(mapper, direction, limits) else {
        panic!("mapped under {limits:?}");
    };
    assert_eq!(refused.error(), expected, "{limits:?}");
    let table = refused.into_table();
    assert_eq!(table_snapshot(&table), before, "{limits:?}");
    table
}

fn map_a_table_without_bytes() {
    let mut table = SgTable::new_in(Mock::new(), 3, counting()).unwrap();
    let limits = DmaLimits::new();
    let direction = DmaDirection::Bidirectional;
    // An IOMMU given by value checks on drop that nothing is left mapped.
    table = refused_owned(
        table,
        MockIommu::new(),
        direction,
        &limits,
        Error::EmptyTable,
    );
    table = refused_owned(table, direct(), direction, &limits, Error::EmptyTable);
    drop_owned(table).assert_clean();
}

fn scoped_map_of_a_table_without_bytes() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = SgTable::new_in(mock, 3, &chunks).unwrap();
    let iommu = MockIommu::new();
    refused(&mut table, &iommu, &DmaLimits::new(), Error::EmptyTable);
    refused(&mut table, direct(), &DmaLimits::new(), Error::EmptyTable);
    assert_eq!(iommu.map_calls(), 0);
    given_back(table, &chunks, mock);
}

/// Segment sizes below the sample table's first entry, and the error.
fn segments_below_the_first_entry() -> Vec<(DmaLimits, Error)> {
    let first = 2 * PAGE as u32 - SAMPLE_OFFSET as u32;
    [1, PAGE as u32 / 2, PAGE as u32, first - 1]
        .into_iter()
        .map(|max| {
            let expected = Error::EntryNeedsSplit {
                index: 0,
                len: first,
            };
            (DmaLimits::new().with_max_segment_size(max), expected)
        })
        .collect()
}

fn map_entries_longer_than_a_segment() {
    let mut table = owned_sample();
    let direction = DmaDirection::Bidirectional;
    for (limits, expected) in segments_below_the_first_entry() {
        table = refused_owned(table, MockIommu::new(), direction, &limits, expected);
        table = refused_owned(table, direct(), direction, &limits, expected);
    }
    drop_owned(table).provider().assert_clean();
}

fn scoped_map_of_entries_longer_than_a_segment() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    let iommu = MockIommu::new();
    for (limits, expected) in segments_below_the_first_entry() {
        refused(&mut table, &iommu, &limits, expected);
        refused(&mut table, direct(), &limits, expected);
    }
    assert_eq!(iommu.map_calls(), 0);
    given_back(table, &chunks, mock);
}

fn build_under_bad_limits(builder: Builder) {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    for (limits, reason) in bad_limits() {
        let expected = Error::InvalidLimits { reason };
        builder.refuses_with(&mock, &pages, 0, PAGE_U64, u32::MAX, &limits, expected);
    }
}

fn map_under_bad_limits() {
    let mut table = owned_sample();
    let direction = DmaDirection::Bidirectional;
    for (limits, reason) in bad_limits() {
        let expected = Error::InvalidLimits { reason };
        table = refused_owned(table, MockIommu::new(), direction, &limits, expected);
        table = refused_owned(table, direct(), direction, &limits, expected);
        // SAFETY: no device is given an address.
        let bounce = unsafe { BounceMapper::with_pool_size(direct(), 4 * PAGE, 0) }.unwrap();
        table = refused_owned(table, bounce, direction, &limits, expected);
    }
    drop_owned(table).provider().assert_clean();
}

fn scoped_map_under_bad_limits() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    let iommu = MockIommu::new();
    // SAFETY: no device is given an address.
    let bounce = unsafe { BounceMapper::with_pool_size(direct(), 4 * PAGE, 0) }.unwrap();
    for (limits, reason) in bad_limits() {
        let expected = Error::InvalidLimits { reason };
        refused(&mut table, &iommu, &limits, expected);
        refused(&mut table, direct(), &limits, expected);
        refused(&mut table, &bounce, &limits, expected);
    }
    assert_eq!((iommu.map_calls(), bounce.live_slots()), (0, 0));
    given_back(table, &chunks, mock);
}

fn mappers_under_bad_limits() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let run = DmaRun {
        page: pages[0],
        offset: 0,
        len: 8,
    };
    let iommu = MockIommu::new();
    // SAFETY: no device is given an address.
    let bounce = unsafe { BounceMapper::with_pool_size(direct(), 4 * PAGE, 0) }.unwrap();
    let direction = DmaDirection::ToDevice;
    for (limits, reason) in bad_limits() {
        let expected = Err(Error::InvalidLimits { reason });
        // SAFETY: the run is 8 bytes of a page the mock holds, which
        // nothing writes during the calls; each call fails, so nothing is
        // mapped.
        unsafe {
            assert_eq!(direct().map(&mock, run, direction, &limits), expected);
            assert_eq!(bounce.map(&mock, run, direction, &limits), expected);
            assert_eq!(iommu.map(&mock, run, direction, &limits), expected);
        }
    }
    assert_eq!((iommu.live_mappings(), bounce.live_slots()), (0, 0));
    mock.assert_clean();
}

fn map_when_the_mapper_fails() {
    let mut table = owned_sample();
    let limits = DmaLimits::new();
    let entries = table.orig_nents();
    for call in 0..entries {
        // Dropped with the refusal: it checks that nothing is left mapped.
        let iommu = MockIommu::new();
        iommu.fail_map_at(call);
        let expected = Error::MapFailed { index: call };
        let direction = DmaDirection::Bidirectional;
        table = refused_owned(table, iommu, direction, &limits, expected);
    }
    // With no failure, the table maps and unmaps.
    let mapped = match table.map_dma(MockIommu::new(), DmaDirection::ToDevice, &limits) {
        Ok(mapped) => mapped,
        Err(refused) => panic!("{refused:?}"),
    };
    assert_eq!(mapped.mapper().live_mappings(), entries);
    assert_eq!(mapped.orig_nents(), entries);
    let table = mapped.unmap();
    assert_eq!(table.nents(), entries);
    drop_owned(table).provider().assert_clean();
}

fn scoped_map_when_the_mapper_fails() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    let limits = DmaLimits::new();
    let entries = table.orig_nents();
    for call in 0..entries {
        let iommu = MockIommu::new();
        iommu.fail_map_at(call);
        refused(
            &mut table,
            &iommu,
            &limits,
            Error::MapFailed { index: call },
        );
        assert_eq!(iommu.map_calls(), call + 1);
        iommu.assert_clean();
    }
    // With no failure, the table maps, and unmaps when the scope ends.
    let iommu = MockIommu::new();
    let live = table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &limits, |_| {
        iommu.live_mappings()
    });
    assert_eq!(live, Ok(entries));
    iommu.assert_clean();
    given_back(table, &chunks, mock);
}

fn bounce_when_the_pool_is_full() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    // Every page is above what the device reaches, so every entry
    // bounces; the pool holds the first two entries, not the third.
    let device = DmaLimits::new().with_highest_address(PAGE_U64 * 10 - 1);
    // SAFETY: no device is given an address.
    let bounce = unsafe { BounceMapper::with_pool_size(direct(), 3 * PAGE, 0) }.unwrap();
    let third = PAGE - SAMPLE_OFFSET;
    let expected = Error::BouncePoolExhausted {
        requested: third,
        available: SAMPLE_OFFSET,
    };
    for direction in [
        DmaDirection::ToDevice,
        DmaDirection::FromDevice,
        DmaDirection::Bidirectional,
    ] {
        let before = table_snapshot(&table);
        let found = table.with_dma_mapping(&bounce, direction, &device, |_| ());
        assert_eq!(found, Err(expected), "{direction:?}");
        assert_eq!(table_snapshot(&table), before);
        assert_eq!(bounce.live_slots(), 0);
        mock.assert_clean();
    }
    drop(table);
    chunks.assert_clean();
}

fn bounce_when_the_pool_or_the_inner_mapper_fails() {
    bounce_when_the_pool_is_full();
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    let limits = DmaLimits::new();
    for call in 0..table.orig_nents() {
        let iommu = MockIommu::new();
        iommu.fail_map_at(call);
        // SAFETY: the pool's bus range is below the IOMMU's space, so the
        // IOMMU never returns an address inside it; no device is given an
        // address.
        let bounce = unsafe { BounceMapper::with_pool_size(&iommu, 4 * PAGE, 0) }.unwrap();
        refused(
            &mut table,
            &bounce,
            &limits,
            Error::MapFailed { index: call },
        );
        assert_eq!(bounce.live_slots(), 0);
        iommu.assert_clean();
    }
    given_back(table, &chunks, mock);
}

/// The directions in which a device writes the table's bytes.
const DEVICE_WRITES: [DmaDirection; 2] = [DmaDirection::FromDevice, DmaDirection::Bidirectional];

fn map_a_read_only_table_for_a_device_that_writes() {
    let mut table = owned_sample().into_read_only();
    let limits = DmaLimits::new();
    for direction in DEVICE_WRITES {
        table = refused_owned(table, MockIommu::new(), direction, &limits, Error::ReadOnly);
        table = refused_owned(table, direct(), direction, &limits, Error::ReadOnly);
    }
    // A device that only reads may have it.
    let mapped = match table.map_dma(MockIommu::new(), DmaDirection::ToDevice, &limits) {
        Ok(mapped) => mapped,
        Err(refused) => panic!("{refused:?}"),
    };
    assert_eq!(mapped.mapper().live_mappings(), mapped.orig_nents());
    drop_owned(mapped.unmap()).provider().assert_clean();
}

fn scoped_map_of_a_read_only_table_for_a_device_that_writes() {
    /// Refuses every direction in which the device writes, then maps for
    /// a device that only reads.
    fn check<P: PageProvider<Page = MockPage>>(table: &mut SgTable<P, &CountingChunks, Read>) {
        let iommu = MockIommu::new();
        let limits = DmaLimits::new();
        for direction in DEVICE_WRITES {
            let before = table_snapshot(table);
            let found = table.with_dma_mapping(&iommu, direction, &limits, |_| ());
            assert_eq!(found, Err(Error::ReadOnly), "{direction:?}");
            assert_eq!(table_snapshot(table), before);
            let found = table.with_dma_mapping(direct(), direction, &limits, |_| ());
            assert_eq!(found, Err(Error::ReadOnly), "{direction:?}");
        }
        assert_eq!(iommu.map_calls(), 0);
        let mapped = table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &limits, |mapped| {
            (
                mapped.orig_nents(),
                mapped.byte_len(),
                iommu.live_mappings(),
            )
        });
        assert_eq!(mapped, Ok((3, SAMPLE_BYTES, 3)));
        iommu.assert_clean();
    }

    // A writable table given up for a read-only one.
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks).into_read_only();
    check(&mut table);
    drop(table);
    // A table that borrows its set shared, on a mock of its own.
    let other = Mock::new();
    let pages = sample_pages(&other);
    let shared = set(&other, &pages);
    let mut table = FromPages::new(&shared, SAMPLE_OFFSET, SAMPLE_BYTES)
        .chunk_allocator(&chunks)
        .build()
        .unwrap();
    check(&mut table);
    given_back(table, &chunks, mock);
    other.assert_clean();
}
