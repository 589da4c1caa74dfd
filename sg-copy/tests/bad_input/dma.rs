//! Rows for DMA: mapping tables, the mappers, and the builders for a
//! device under limits that contradict each other.

use sg_alloc::{BounceMapper, DirectMapper, SgTable};
use sg_core::{DmaDirection, DmaLimits, DmaMapper, DmaRun, Error};
use sg_testkit::{CountingChunks, MockIommu};

use crate::kit::{
    Builder, Mock, PAGE, PAGE_U64, SAMPLE_OFFSET, bad_limits, counting, sample_pages, sample_table,
    table_snapshot,
};
use crate::{Case, Row};

pub(crate) fn rows() -> Vec<Row> {
    vec![
        Row::new(
            Case::ZeroEntries,
            "SgTable::map_dma",
            map_a_table_without_bytes,
        ),
        Row::new(
            Case::SegmentBelowPage,
            "SgTable::map_dma",
            map_entries_longer_than_a_segment,
        ),
        Row::new(Case::BadLimits, "SgTable::from_pages_for_device", || {
            build_under_bad_limits(Builder::ForDevice)
        }),
        Row::new(Case::BadLimits, "SgTable::from_pages_for_device_in", || {
            build_under_bad_limits(Builder::ForDeviceIn)
        }),
        Row::new(
            Case::BadLimits,
            "AppendTable::append_pages_for_device",
            || build_under_bad_limits(Builder::AppendForDevice),
        ),
        Row::new(Case::BadLimits, "SgTable::map_dma", map_under_bad_limits),
        Row::new(Case::BadLimits, "DmaMapper::map", mappers_under_bad_limits),
        Row::new(Case::Failure, "SgTable::map_dma", map_when_the_mapper_fails),
        Row::new(
            Case::Failure,
            "BounceMapper::map",
            bounce_when_the_pool_or_the_inner_mapper_fails,
        ),
    ]
}

/// The direct mapper, for rows that never give a device its addresses.
fn direct() -> DirectMapper {
    // SAFETY: no device is given the addresses.
    unsafe { DirectMapper::new() }
}

/// The sample table, with DMA fields in its first entry (as a mapping
/// that failed must put back).
fn sample<'m>(mock: &'m Mock, chunks: &'m CountingChunks) -> SgTable<&'m Mock, &'m CountingChunks> {
    let pages = sample_pages(mock);
    let mut table = sample_table(mock, &pages, chunks);
    table.entries_mut().next().unwrap().set_dma(0x1234, 7);
    table
}

/// Maps `table` through `mapper` and checks that it fails with `expected`
/// and leaves the table exactly as it was.
#[track_caller]
fn refused<'m, M: DmaMapper<&'m Mock>>(
    table: &mut SgTable<&'m Mock, &CountingChunks>,
    mapper: M,
    limits: &DmaLimits,
    expected: Error,
) {
    let before = table_snapshot(table);
    let found = table
        .map_dma(mapper, DmaDirection::Bidirectional, limits)
        .map(drop);
    assert_eq!(found, Err(expected), "{limits:?}");
    assert_eq!(table_snapshot(table), before, "{limits:?}");
}

fn map_a_table_without_bytes() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = SgTable::new_in(mock, 3, &chunks).unwrap();
    let iommu = MockIommu::new();
    refused(&mut table, &iommu, &DmaLimits::new(), Error::EmptyTable);
    refused(&mut table, direct(), &DmaLimits::new(), Error::EmptyTable);
    assert_eq!(iommu.map_calls(), 0);
    drop(table);
    chunks.assert_clean();
    mock.assert_clean();
}

fn map_entries_longer_than_a_segment() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    let iommu = MockIommu::new();
    let first = 2 * PAGE as u32 - SAMPLE_OFFSET as u32;
    for max in [1, PAGE as u32 / 2, PAGE as u32, first - 1] {
        let limits = DmaLimits::new().max_segment_size(max);
        let expected = Error::EntryNeedsSplit {
            index: 0,
            length: first,
        };
        refused(&mut table, &iommu, &limits, expected);
        refused(&mut table, direct(), &limits, expected);
    }
    assert_eq!(iommu.map_calls(), 0);
    drop(table);
    chunks.assert_clean();
    mock.assert_clean();
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
    drop(table);
    chunks.assert_clean();
    mock.assert_clean();
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
    // With no failure, the table maps and unmaps.
    let iommu = MockIommu::new();
    let mapped = table
        .map_dma(&iommu, DmaDirection::ToDevice, &limits)
        .unwrap();
    assert_eq!(iommu.live_mappings(), entries);
    drop(mapped);
    iommu.assert_clean();
    drop(table);
    chunks.assert_clean();
    mock.assert_clean();
}

fn bounce_when_the_pool_is_full() {
    let (mock, chunks) = (&Mock::new(), counting());
    let mut table = sample(mock, &chunks);
    // Every page is above what the device reaches, so every entry
    // bounces; the pool holds the first two entries, not the third.
    let device = DmaLimits::new().highest_address(PAGE_U64 * 10 - 1);
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
        let found = table.map_dma(&bounce, direction, &device).map(drop);
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
    drop(table);
    chunks.assert_clean();
    mock.assert_clean();
}
