//! Properties of DMA mapping over random page layouts and random device
//! limits: through the IOMMU mock, the direct mapper and the bounce
//! mapper, and of the builders for a device.

mod common;

use common::{Entry, entries, fill, raw};
use quickcheck::TestResult;
use sg_alloc::{BounceMapper, DirectMapper, FromPages, SgTable};
use sg_core::{DmaDirection, DmaLimits, Error, Pages};
use sg_testkit::{
    DeviceLimits, MockIommu, MockPage, PageLayout, TEST_PAGE_SIZE, TestPages, checker,
};

const PAGE: u64 = TEST_PAGE_SIZE as u64;

/// The direction picked by a seed.
fn direction(seed: u8) -> DmaDirection {
    [
        DmaDirection::ToDevice,
        DmaDirection::FromDevice,
        DmaDirection::Bidirectional,
    ][usize::from(seed % 3)]
}

/// Offset into the first page and size of the bytes, from seeds: the
/// offset is often 0 or a multiple of an eighth of a page, so that aligned
/// devices take the first entry.
fn cut(pages: usize, offset_seed: u16, size_seed: u32) -> (usize, u64) {
    let offset = match offset_seed % 4 {
        0 | 1 => 0,
        2 => usize::from(offset_seed / 4) * (TEST_PAGE_SIZE / 8) % TEST_PAGE_SIZE,
        _ => usize::from(offset_seed) % TEST_PAGE_SIZE,
    };
    let available = pages as u64 * PAGE - offset as u64;
    (offset, 1 + u64::from(size_seed) % available)
}

/// A table that owns a set over the test's (distinct) pages: writable.
type Table<'m> = SgTable<Pages<&'m TestPages, &'m [MockPage]>>;

/// Builds the table over the bytes of `pages` of `mock` that the seeds
/// [`cut`], for the device or with segments of `segment_pages` pages; or
/// gives the property's result when it cannot be built.
fn build<'m>(
    mock: &'m TestPages,
    pages: &'m [MockPage],
    (start, end): (u16, u32),
    limits: &DmaLimits,
    (for_device, segment_pages): (bool, u8),
) -> Result<Table<'m>, TestResult> {
    let (offset, size) = cut(pages.len(), start, end);
    let builder = FromPages::new(raw(mock, pages), offset, size);
    let built = if for_device {
        builder.limits(limits).build()
    } else {
        let segment = (1 + u32::from(segment_pages % 8)) * TEST_PAGE_SIZE as u32;
        builder.max_segment_size(segment).build()
    };
    // A refusal the limits explain is no finding: the case is discarded.
    built.map_err(|error| match error {
        error if for_device && refused_build(error, limits) => TestResult::discard(),
        error => TestResult::error(format!("build: {error}")),
    })
}

/// Whether a failed build for a device is one the limits explain.
fn refused_build(error: Error, limits: &DmaLimits) -> bool {
    match error {
        Error::SegmentTooSmall { .. } => limits.max_segment_size() < TEST_PAGE_SIZE as u32,
        Error::TooManySegments { max, .. } => max == limits.max_segments(),
        _ => false,
    }
}

/// Every segment obeys the limits: within the maximum size, no boundary
/// crossed, aligned, reachable; and there are at most the maximum number.
fn check_segments(segments: &[(u64, u32)], limits: &DmaLimits) -> Result<(), String> {
    if segments.len() > limits.max_segments() {
        return Err(format!("{} segments, more than allowed", segments.len()));
    }
    for &(address, length) in segments {
        let problem = if length == 0 {
            "empty"
        } else if length > limits.max_segment_size() {
            "too long"
        } else if limits.crosses_boundary(address, u64::from(length)) {
            "crosses a boundary"
        } else if address % limits.alignment() != 0 {
            "misaligned"
        } else if address + u64::from(length) - 1 > limits.highest_address() {
            "out of reach"
        } else {
            continue;
        };
        return Err(format!("segment {address:#x}+{length:#x} is {problem}"));
    }
    Ok(())
}

/// The entries with their DMA fields cleared, as an unmapped table has them.
fn cleared(snapshot: &[Entry]) -> Vec<Entry> {
    snapshot
        .iter()
        .map(|entry| Entry {
            dma: (0, 0),
            ..*entry
        })
        .collect()
}

// Through the IOMMU mock, a mapping's segments obey the limits and lead
// back to exactly the table's bytes in order; or a typed error leaves
// nothing mapped and the table as it was.
#[test]
fn prop_iommu_segments_obey_limits_and_cover_the_bytes() {
    fn property(
        layout: PageLayout,
        limits: DeviceLimits,
        seeds: (u16, u32, u8),
        for_device: bool,
        segment_pages: u8,
    ) -> TestResult {
        let limits = limits.scaled(TEST_PAGE_SIZE);
        let mock = TestPages::new();
        let pages = layout.add_to(&mock);
        fill(&mock, layout.pfns(), u64::from(seeds.1));
        let how = (for_device, segment_pages);
        let mut table = match build(&mock, &pages, (seeds.0, seeds.1), &limits, how) {
            Ok(table) => table,
            Err(result) => return result,
        };
        let before = entries(table.as_list());
        let bytes = mock.list_bytes(table.as_list());
        let iommu = MockIommu::with_space(16 * PAGE, 1 << 40);
        let outcome = table.with_dma_mapping(&iommu, direction(seeds.2), &limits, |mapped| {
            let segments: Vec<(u64, u32)> = mapped.segments().collect();
            check_segments(&segments, &limits)?;
            if mapped.nents() != segments.len() || mapped.nents() > mapped.orig_nents() {
                return Err(format!("nents {} for {segments:?}", mapped.nents()));
            }
            let mut seen = Vec::new();
            for &(address, length) in &segments {
                let piece = iommu
                    .device_read(&mock, address, length as usize)
                    .ok_or_else(|| format!("{address:#x} is not mapped"))?;
                seen.extend(piece);
            }
            if seen != bytes {
                return Err("the segments do not lead to the table's bytes in order".into());
            }
            Ok(())
        });
        let expected_after = match outcome {
            Ok(Err(problem)) => return TestResult::error(problem),
            // Unmapped at the end of the scope: DMA fields cleared.
            Ok(Ok(())) => cleared(&before),
            Err(error) => {
                let typed = matches!(
                    error,
                    Error::EntryNeedsSplit { .. }
                        | Error::TooManySegments { .. }
                        | Error::Unreachable { .. }
                        | Error::Misaligned { .. }
                );
                if !typed {
                    return TestResult::error(format!("unexpected {error:?}"));
                }
                if let Error::EntryNeedsSplit { index, len: length } = error {
                    if before.get(index).map(|entry| entry.length) != Some(length) {
                        return TestResult::error(format!("{error:?} names another entry"));
                    }
                }
                if let Error::TooManySegments { needed, max } = error {
                    if max != limits.max_segments() || needed <= max {
                        return TestResult::error(format!("{error:?}"));
                    }
                }
                // Left exactly as it was once the scoped mapping returned
                // its error.
                before.clone()
            }
        };
        let restored = iommu.live_mappings() == 0
            && table.nents() == table.orig_nents()
            && entries(table.as_list()) == expected_after;
        TestResult::from_bool(restored)
    }
    checker(300).quickcheck(
        property as fn(PageLayout, DeviceLimits, (u16, u32, u8), bool, u8) -> TestResult,
    );
}

// A direct mapping has exactly the segments the counting helper counts,
// and fails with the error it gives (or on the maximum number of segments).
#[test]
fn prop_direct_mapping_has_the_counted_segments() {
    fn property(
        layout: PageLayout,
        limits: DeviceLimits,
        seeds: (u16, u32),
        for_device: bool,
        segment_pages: u8,
    ) -> TestResult {
        let limits = limits.scaled(TEST_PAGE_SIZE);
        let mock = TestPages::new();
        let pages = layout.add_to(&mock);
        let how = (for_device, segment_pages);
        let mut table = match build(&mock, &pages, (seeds.0, seeds.1), &limits, how) {
            Ok(table) => table,
            Err(result) => return result,
        };
        let counted = table.as_list().count_dma_segments(&limits);
        let first_phys = table.as_list().first().and_then(|entry| entry.phys(&mock));
        // SAFETY: no device is given the addresses.
        let direct = unsafe { DirectMapper::new() };
        let mapped = table.with_dma_mapping(direct, DmaDirection::ToDevice, &limits, |mapped| {
            (
                mapped.segments().collect::<Vec<(u64, u32)>>(),
                mapped.nents(),
            )
        });
        let agree = match (&counted, &mapped) {
            (Ok(count), Ok((segments, nents))) => {
                if let Err(problem) = check_segments(segments, &limits) {
                    return TestResult::error(problem);
                }
                // Bus addresses are physical ones.
                count == nents && segments.first().map(|segment| segment.0) == first_phys
            }
            (Ok(count), Err(Error::TooManySegments { needed, max })) => {
                count > max && count >= needed
            }
            (Err(_), Err(Error::TooManySegments { .. })) => true,
            (Err(counted), Err(mapped)) => counted == mapped,
            _ => false,
        };
        if !agree {
            return TestResult::error(format!(
                "counted {counted:?}, mapped {:?}",
                mapped.map(|(_, nents)| nents)
            ));
        }
        TestResult::passed()
    }
    checker(300)
        .quickcheck(property as fn(PageLayout, DeviceLimits, (u16, u32), bool, u8) -> TestResult);
}

// A table built for a device has entries within the maximum segment size
// that cross no boundary on physical addresses, at most the maximum number
// of them, over the pages' bytes in order; the direct mapper maps it
// whole when its pages are reachable and aligned.
#[test]
fn prop_tables_for_a_device_map_without_splitting() {
    fn property(layout: PageLayout, limits: DeviceLimits, seeds: (u16, u32)) -> TestResult {
        let limits = limits
            .scaled(TEST_PAGE_SIZE)
            .with_highest_address(u64::MAX)
            .with_alignment(1);
        let mock = TestPages::new();
        let pages = layout.add_to(&mock);
        fill(&mock, layout.pfns(), u64::from(seeds.1));
        let (offset, size) = cut(pages.len(), seeds.0, seeds.1);
        let mut table = match FromPages::new(raw(&mock, &pages), offset, size)
            .limits(&limits)
            .build()
        {
            Ok(table) => table,
            Err(error) if refused_build(error, &limits) => return TestResult::discard(),
            Err(error) => return TestResult::error(format!("build: {error}")),
        };
        if table.orig_nents() > limits.max_segments() {
            return TestResult::error(format!("{} entries", table.orig_nents()));
        }
        for (index, entry) in table.as_list().iter().enumerate() {
            let start = entry.phys(&mock).expect("small frames");
            if entry.len() > limits.max_segment_size()
                || limits.crosses_boundary(start, u64::from(entry.len()))
            {
                return TestResult::error(format!("entry {index} {entry:?} breaks the limits"));
            }
        }
        let expected = common::page_bytes(&mock, &pages, offset, size);
        if mock.list_bytes(table.as_list()) != expected {
            return TestResult::error("the entries do not cover the bytes in order");
        }
        let counted = table.as_list().count_dma_segments(&limits);
        // SAFETY: no device is given the addresses.
        let direct = unsafe { DirectMapper::new() };
        match table.with_dma_mapping(direct, DmaDirection::Bidirectional, &limits, |mapped| {
            mapped.nents()
        }) {
            Ok(nents) => TestResult::from_bool(counted == Ok(nents)),
            Err(error) => TestResult::error(format!("{error:?}")),
        }
    }
    checker(300).quickcheck(property as fn(PageLayout, DeviceLimits, (u16, u32)) -> TestResult);
}

/// The bytes a device sees at `address`: in the bounce pool, or else at
/// the physical address (the direct mapper's).
fn device_view(bounce: &Bounce, mock: &TestPages, address: u64, len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    if bounce.device_read(address, &mut out) {
        return out;
    }
    mock.read(MockPage::new(address / PAGE), address % PAGE, len)
}

/// Writes `bytes` where the device writes at `address`.
fn device_write(bounce: &Bounce, mock: &TestPages, address: u64, bytes: &[u8]) {
    if !bounce.device_write(address, bytes) {
        mock.write(MockPage::new(address / PAGE), address % PAGE, bytes);
    }
}

type Bounce = BounceMapper<DirectMapper>;

/// Frames from this one on are above 4 GiB.
const HIGH_PFN: u64 = (1 << 32) / PAGE;

// Through a bounce pool over the direct mapper, a 32-bit device sees the
// CPU's bytes after mapping and after sync-for-device when it reads, its
// writes reach the CPU after sync-for-CPU and unmap when it writes,
// whichever pages are above 4 GiB or misaligned, and nothing is copied in
// a direction not asked for.
#[test]
fn prop_bounced_bytes_follow_the_direction() {
    fn property(
        layout: PageLayout,
        high: Vec<bool>,
        limits: DeviceLimits,
        seeds: (u16, u32, u8),
    ) -> TestResult {
        let limits = limits
            .scaled(TEST_PAGE_SIZE)
            .with_highest_address(u64::from(u32::MAX))
            .with_max_segments(usize::MAX);
        // Some runs above 4 GiB.
        let mut pfns = Vec::new();
        for (index, run) in split_runs(&layout).into_iter().enumerate() {
            let lift = if high.get(index).copied().unwrap_or(false) {
                HIGH_PFN
            } else {
                0
            };
            pfns.extend(run.into_iter().map(|pfn| pfn + lift));
        }
        let mock = TestPages::new();
        let pages = mock.add_pages(pfns.iter().copied());
        fill(&mock, pfns.iter().copied(), u64::from(seeds.1));
        let (offset, size) = cut(pages.len(), seeds.0, seeds.1);
        let Ok(mut table) = FromPages::new(raw(&mock, &pages), offset, size)
            .limits(&limits)
            .build()
        else {
            return TestResult::discard();
        };
        let cpu_before = mock.list_bytes(table.as_list());
        let total = cpu_before.len();
        // Where the table's bytes are, for the CPU's side while the table
        // is mapped (the guard lends no view of them): read and written
        // straight in the mock.
        let runs: Vec<(MockPage, u64, u32)> = table
            .as_list()
            .segments()
            .map(|segment| (segment.page, segment.offset, segment.len))
            .collect();
        // Room for every run, with slack for alignment and boundaries.
        let pool_size = 2 * total + 4 * table.orig_nents() * TEST_PAGE_SIZE;
        // SAFETY: no device is given the addresses: the test reads the pool.
        let bounce = unsafe { Bounce::with_pool_size(DirectMapper::new(), pool_size, 0x1000_0000) }
            .expect("pool");
        let direction = direction(seeds.2);
        let cpu_new: Vec<u8> = (0..total).map(|index| (index * 5 + 1) as u8).collect();
        let expected = if direction.from_device() {
            (0..total).map(|index| (index * 7 + 3) as u8).collect()
        } else {
            cpu_new.clone()
        };
        let checked = table.with_dma_mapping(&bounce, direction, &limits, |mapped| {
            let segments: Vec<(u64, u32)> = mapped.segments().collect();
            check_segments(&segments, &limits)?;
            let view = || -> Vec<u8> {
                segments
                    .iter()
                    .flat_map(|&(address, length)| {
                        device_view(&bounce, &mock, address, length as usize)
                    })
                    .collect()
            };
            if direction.to_device() && view() != cpu_before {
                return Err("the device does not see the CPU's bytes after mapping".to_string());
            }
            // The CPU writes, then hands the memory to the device.
            cpu_write(&mock, &runs, &cpu_new);
            mapped.sync_for_device();
            if direction.to_device() && view() != cpu_new {
                return Err("the device does not see the CPU's bytes after the sync".to_string());
            }
            // The device writes: everywhere when it may, else only into the
            // pool (bytes the CPU must never see).
            let written: Vec<u8> = (0..total).map(|index| (index * 7 + 3) as u8).collect();
            let mut done = 0;
            for &(address, length) in &segments {
                let bytes = &written[done..done + length as usize];
                if direction.from_device() {
                    device_write(&bounce, &mock, address, bytes);
                } else {
                    bounce.device_write(address, bytes);
                }
                done += length as usize;
            }
            mapped.sync_for_cpu();
            if cpu_read(&mock, &runs) != expected {
                return Err("after sync-for-CPU the CPU sees the wrong bytes".to_string());
            }
            Ok(())
        });
        match checked {
            Ok(Ok(())) => {}
            Ok(Err(problem)) => return TestResult::error(problem),
            Err(error) => return TestResult::error(format!("{error:?}")),
        }
        let stats = bounce.stats();
        let copied_as_asked = (direction.to_device() || stats.to_device_copies == 0)
            && (direction.from_device() || stats.from_device_copies == 0)
            && bounce.live_slots() == 0
            && bounce.free_bytes() == pool_size;
        if !copied_as_asked {
            return TestResult::error(format!("{direction:?}: {stats:?}"));
        }
        TestResult::from_bool(mock.list_bytes(table.as_list()) == expected)
    }
    checker(200).quickcheck(
        property as fn(PageLayout, Vec<bool>, DeviceLimits, (u16, u32, u8)) -> TestResult,
    );
}

/// Writes `bytes` over the table's bytes at `runs` (page, offset, length),
/// as the CPU does, straight into the mock.
fn cpu_write(mock: &TestPages, runs: &[(MockPage, u64, u32)], bytes: &[u8]) {
    let mut done = 0;
    for &(page, offset, length) in runs {
        mock.write(page, offset, &bytes[done..done + length as usize]);
        done += length as usize;
    }
}

/// The table's bytes at `runs`, as the CPU reads them, straight from the
/// mock.
fn cpu_read(mock: &TestPages, runs: &[(MockPage, u64, u32)]) -> Vec<u8> {
    runs.iter()
        .flat_map(|&(page, offset, length)| mock.read(page, offset, length as usize))
        .collect()
}

/// The frame numbers of each run of a layout.
fn split_runs(layout: &PageLayout) -> Vec<Vec<u64>> {
    let pfns = layout.pfns();
    let mut out = Vec::new();
    let mut at = 0;
    for run in layout.runs() {
        out.push(pfns[at..at + run.frames as usize].to_vec());
        at += run.frames as usize;
    }
    out
}
