//! Two-step (IOVA range) mapping through the IOMMU mock: one segment for a
//! table of whole pages (or the fewest the limits allow), the table's bytes
//! in order behind it, one IOTLB flush to map and one to unmap, a range
//! reused across requests, and nothing linked after a failure or a panic
//! at any call of the mapper.

mod common;

use common::{fill, raw};
use quickcheck::TestResult;
use sg_alloc::{FromPages, SgTable};
use sg_core::{DmaDirection, DmaLimits, Error, IovaMapper, IovaRange, Pages};
use sg_testkit::{
    DeviceLimits, MockIommu, MockPage, PageLayout, TEST_PAGE_SIZE, TestPages, checker,
    for_each_panic_point,
};

const PAGE: u64 = TEST_PAGE_SIZE as u64;

type Table<'m> = SgTable<Pages<&'m TestPages, &'m [MockPage]>>;
type Iommu = MockIommu<MockPage>;

/// The mapper's two-step methods, for the mock's provider type.
fn reserve(iommu: &Iommu, len: u64, limits: &DmaLimits) -> Result<IovaRange, Error> {
    IovaMapper::<&TestPages>::try_alloc(iommu, len, limits)
}

fn release(iommu: &Iommu, range: IovaRange) {
    // SAFETY: every caller frees a range it reserved, with nothing linked.
    unsafe { IovaMapper::<&TestPages>::free(iommu, range) };
}

/// Offset into the first page and size, from seeds.
fn cut_seeds(pages: usize, offset_seed: u16, size_seed: u32) -> (u64, u64) {
    let offset = match offset_seed % 3 {
        0 => 0,
        1 => u64::from(offset_seed / 3) * (PAGE / 8) % PAGE,
        _ => u64::from(offset_seed) % PAGE,
    };
    let available = pages as u64 * PAGE - offset;
    (offset, 1 + u64::from(size_seed) % available)
}

/// The segments a device accepts for `len` bytes at `start`, cut the
/// simplest way: at most the maximum size rounded down to the alignment,
/// never across a boundary.
fn expected_pieces(limits: &DmaLimits, mut start: u64, mut len: u64) -> Vec<(u64, u32)> {
    let longest = u64::from(limits.max_segment_size()) / limits.alignment() * limits.alignment();
    let mut out = Vec::new();
    while len > 0 {
        let mut piece = len.min(longest);
        if let Some(boundary) = limits.segment_boundary() {
            piece = piece.min(boundary - start % boundary);
        }
        out.push((start, piece as u32));
        start += piece;
        len -= piece;
    }
    out
}

fn build<'m>(
    mock: &'m TestPages,
    pages: &'m [MockPage],
    offset: u64,
    size: u64,
    segment_pages: u8,
) -> Table<'m> {
    let segment = (1 + u32::from(segment_pages % 8)) * TEST_PAGE_SIZE as u32;
    FromPages::new(raw(mock, pages), offset as usize, size)
        .max_segment_size(segment)
        .build()
        .expect("the seeds give a valid cut")
}

// A table of whole pages (first and last may be partial) maps into one
// bus span whatever its pages' frames; cut by the limits into the fewest
// segments; the device reads the table's bytes in order; one flush maps
// and one unmaps; nothing stays linked.
#[test]
fn prop_one_span_covers_the_bytes_with_two_flushes() {
    fn property(
        layout: PageLayout,
        limits: DeviceLimits,
        seeds: (u16, u32, u8),
        unlimited: bool,
    ) -> TestResult {
        if layout.is_empty() {
            return TestResult::discard();
        }
        let limits = if unlimited {
            DmaLimits::unlimited()
        } else {
            limits.scaled(TEST_PAGE_SIZE)
        };
        let mock = TestPages::new();
        let pages = layout.add_to(&mock);
        fill(&mock, layout.pfns(), u64::from(seeds.1));
        let (offset, size) = cut_seeds(pages.len(), seeds.0, seeds.1);
        let mut table = build(&mock, &pages, offset, size, seeds.2);
        let bytes = mock.list_bytes(table.as_list());
        let iommu = MockIommu::with_space(16 * PAGE, 1 << 40);
        let needed = table.iova_len(&limits);
        if needed != offset + size {
            return TestResult::error(format!("iova_len {needed}, expected {}", offset + size));
        }
        let mut range = match reserve(&iommu, needed, &limits) {
            Ok(range) => range,
            Err(Error::Unreachable { .. }) => return TestResult::discard(),
            Err(error) => return TestResult::error(format!("try_alloc: {error}")),
        };
        let expected = expected_pieces(&limits, range.start() + offset, size);
        let flushes = iommu.tlb_flushes();
        let result = table.with_iova_mapping(
            &iommu,
            &mut range,
            DmaDirection::FromDevice,
            &limits,
            |mapped| {
                let segments: Vec<(u64, u32)> = mapped.segments().collect();
                if segments != expected {
                    return Err(format!("segments {segments:?}, expected {expected:?}"));
                }
                if iommu.tlb_flushes() != flushes + 1 {
                    return Err(format!("{} flushes to map", iommu.tlb_flushes() - flushes));
                }
                let mut seen = Vec::new();
                for &(address, length) in &segments {
                    seen.extend(
                        iommu
                            .device_read(&mock, address, length as usize)
                            .ok_or_else(|| format!("{address:#x} is not mapped"))?,
                    );
                }
                if seen != bytes {
                    return Err("the segments do not lead to the table's bytes in order".into());
                }
                Ok(())
            },
        );
        let misaligned = (range.start() + offset) % limits.alignment() != 0;
        let outcome = match result {
            Ok(Ok(())) if misaligned => Err("mapped at a misaligned start".to_string()),
            Ok(Ok(())) if iommu.tlb_flushes() != flushes + 2 => {
                Err(format!("{} flushes in all", iommu.tlb_flushes() - flushes))
            }
            Ok(Ok(())) => Ok(()),
            Ok(Err(problem)) => Err(problem),
            Err(Error::Misaligned { .. }) if misaligned => Ok(()),
            Err(Error::TooManySegments { needed, max })
                if needed == expected.len() && max == limits.max_segments() && needed > max =>
            {
                Ok(())
            }
            Err(error) => Err(format!("with_iova_mapping: {error}")),
        };
        let clean = iommu.linked_runs() == 0;
        release(&iommu, range);
        match outcome {
            Err(problem) => TestResult::error(problem),
            Ok(()) if !clean => TestResult::error("runs left linked"),
            Ok(()) => TestResult::passed(),
        }
    }
    checker(300)
        .quickcheck(property as fn(PageLayout, DeviceLimits, (u16, u32, u8), bool) -> TestResult);
}

/// The runs of a three-page table go into a range reused for several
/// requests; each request costs exactly two flushes.
#[test]
fn a_range_serves_request_after_request() {
    let mock = TestPages::new();
    let pages = mock.add_pages([30, 10, 20]);
    let iommu = Iommu::new();
    let limits = DmaLimits::unlimited();
    let mut range = reserve(&iommu, 8 * PAGE, &limits).unwrap();
    for (round, offset) in [0u64, 8, PAGE / 2].into_iter().enumerate() {
        let mut table = FromPages::new(raw(&mock, &pages), offset as usize, 2 * PAGE)
            .build()
            .unwrap();
        let segments = table
            .with_iova_mapping(
                &iommu,
                &mut range,
                DmaDirection::ToDevice,
                &limits,
                |mapped| {
                    assert_eq!(iommu.linked_runs(), if offset == 0 { 2 } else { 3 });
                    mapped.segments().collect::<Vec<_>>()
                },
            )
            .unwrap();
        assert_eq!(segments, [(range.start() + offset, 2 * PAGE as u32)]);
        assert_eq!(iommu.tlb_flushes(), 2 * (round + 1));
        assert_eq!(iommu.linked_runs(), 0);
    }
    assert_eq!(iommu.reserved_ranges(), 1);
    release(&iommu, range);
    iommu.assert_clean();
}

/// A range too small for the table is refused before anything is linked.
#[test]
fn a_small_range_is_refused() {
    let mock = TestPages::new();
    let pages = mock.add_pages([3, 4]);
    let iommu = Iommu::new();
    let limits = DmaLimits::new();
    let mut range = reserve(&iommu, PAGE, &limits).unwrap();
    let mut table = FromPages::new(raw(&mock, &pages), 0, 2 * PAGE)
        .build()
        .unwrap();
    let result =
        table.with_iova_mapping(&iommu, &mut range, DmaDirection::ToDevice, &limits, |_| ());
    assert_eq!(
        result,
        Err(Error::SizeTooLarge {
            size: 2 * PAGE,
            available: PAGE
        })
    );
    assert_eq!((iommu.link_calls(), iommu.tlb_flushes()), (0, 0));
    release(&iommu, range);
}

/// The pages of a table of `n` pages, scattered.
fn scattered(mock: &TestPages, n: u64) -> Vec<MockPage> {
    mock.add_pages((0..n).map(|i| 1000 - 7 * i))
}

// A failure at every call of the mapper (each link, the sync) leaves
// nothing linked, and names the entry whose link failed.
#[test]
fn failure_at_every_mapper_call_leaves_nothing_linked() {
    let n = if cfg!(miri) { 3 } else { 6 };
    let mock = TestPages::new();
    let pages = scattered(&mock, n);
    let limits = DmaLimits::unlimited();
    let mut points = 0;
    loop {
        let iommu = Iommu::new();
        let mut range = reserve(&iommu, n * PAGE, &limits).unwrap();
        iommu.fail_iova_at(iommu.iova_calls() + points);
        let mut table = FromPages::new(raw(&mock, &pages), 0, n * PAGE)
            .max_segment_size(PAGE as u32)
            .build()
            .unwrap();
        let result =
            table.with_iova_mapping(&iommu, &mut range, DmaDirection::ToDevice, &limits, |m| {
                m.nents()
            });
        assert_eq!(iommu.linked_runs(), 0, "failure point {points}");
        release(&iommu, range);
        iommu.assert_clean();
        match result {
            Ok(nents) => {
                assert_eq!(nents, 1);
                break;
            }
            Err(Error::MapFailed { index }) => {
                // A link failed (calls 0..n) and names its entry, or the
                // sync (call n), which is no entry's.
                if (points as u64) < n {
                    assert_eq!(index, points, "failure point {points}");
                }
            }
            Err(error) => panic!("failure point {points}: {error}"),
        }
        points += 1;
    }
    // n links and one sync can fail.
    assert_eq!(points as u64, n + 1);
}

// A panic at every call of the mapper (each link, the sync, the unlink)
// leaves nothing linked.
#[test]
fn panic_at_every_mapper_call_leaves_nothing_linked() {
    let n = if cfg!(miri) { 3 } else { 5 };
    let mock = TestPages::new();
    let pages = scattered(&mock, n);
    let limits = DmaLimits::unlimited();
    let iommu = Iommu::new();
    let mut range = reserve(&iommu, n * PAGE, &limits).unwrap();
    let points = for_each_panic_point(
        |k| {
            iommu.stop_failing_iova();
            iommu.panic_iova_at(iommu.iova_calls() + k);
            let mut table = FromPages::new(raw(&mock, &pages), 0, n * PAGE)
                .max_segment_size(PAGE as u32)
                .build()
                .unwrap();
            let nents = table
                .with_iova_mapping(&iommu, &mut range, DmaDirection::FromDevice, &limits, |m| {
                    m.nents()
                })
                .unwrap();
            assert_eq!(nents, 1);
        },
        |k| assert_eq!(iommu.linked_runs(), 0, "panic point {k}"),
    );
    // n links, one sync, one unlink.
    assert_eq!(points as u64, n + 2);
    iommu.stop_failing_iova();
    release(&iommu, range);
    iommu.assert_clean();
}

// Over random tables and limits: a failure, and a panic, at every call of
// the mapper (each link, the sync, and for panics the unlink) leaves
// nothing linked; the mapping that finally succeeds is one span.
#[test]
fn prop_failure_and_panic_at_every_call_leave_nothing_linked() {
    fn property(layout: PageLayout, limits: DeviceLimits, seeds: (u16, u32, u8)) -> TestResult {
        if layout.is_empty() {
            return TestResult::discard();
        }
        let limits = limits.scaled(TEST_PAGE_SIZE);
        let mock = TestPages::new();
        let pages = layout.add_to(&mock);
        let (offset, size) = cut_seeds(pages.len(), seeds.0, seeds.1);
        let iommu = MockIommu::with_space(16 * PAGE, 1 << 40);
        let table = build(&mock, &pages, offset, size, seeds.2);
        let Ok(mut range) = reserve(&iommu, table.iova_len(&limits), &limits) else {
            return TestResult::discard();
        };
        drop(table);
        let map = |range: &mut IovaRange| {
            let mut table = build(&mock, &pages, offset, size, seeds.2);
            table.with_iova_mapping(&iommu, range, DmaDirection::ToDevice, &limits, |m| {
                m.nents()
            })
        };
        // Failures: until the mapping succeeds (or is refused before any
        // call, for these limits).
        let mut k = 0;
        loop {
            iommu.fail_iova_at(iommu.iova_calls() + k);
            let result = map(&mut range);
            iommu.stop_failing_iova();
            if iommu.linked_runs() != 0 {
                return TestResult::error(format!("failure point {k}: runs left linked"));
            }
            match result {
                Err(Error::MapFailed { .. }) => k += 1,
                _ => break,
            }
        }
        // Panics: at every call, the unlink included.
        for_each_panic_point(
            |k| {
                iommu.panic_iova_at(iommu.iova_calls() + k);
                let _ = map(&mut range);
                iommu.stop_failing_iova();
            },
            |k| assert_eq!(iommu.linked_runs(), 0, "panic point {k}"),
        );
        release(&iommu, range);
        match iommu.check() {
            Ok(()) => TestResult::passed(),
            Err(problem) => TestResult::error(problem),
        }
    }
    checker(100).quickcheck(property as fn(PageLayout, DeviceLimits, (u16, u32, u8)) -> TestResult);
}
