//! The IOMMU mock: where it places runs, how it honours limits, its
//! failure injection, misuse and leak checks.

use std::panic::{AssertUnwindSafe, catch_unwind};

use sg_core::{DmaDirection, DmaLimits, DmaMapper, DmaMapping, DmaRun, Error};
use sg_testkit::{MockIommu, MockPage, MockPages, Translation};

type Mock = MockPages<4096>;
const PAGE: u64 = 4096;

fn run(page: MockPage, offset: u64, len: u32) -> DmaRun<MockPage> {
    DmaRun { page, offset, len }
}

fn map(
    iommu: &MockIommu,
    mock: &Mock,
    run: DmaRun<MockPage>,
    limits: &DmaLimits,
) -> Result<u64, Error> {
    // SAFETY: every run of these tests is bytes of pages the mock has,
    // written by no one meanwhile.
    unsafe { iommu.map(mock, run, DmaDirection::Bidirectional, limits) }
}

fn unmap(iommu: &MockIommu, mock: &Mock, run: DmaRun<MockPage>, address: u64) {
    // SAFETY: the mock's device is the test, which is done with the address.
    unsafe { iommu.unmap(mock, mapping(run, address, DmaDirection::Bidirectional)) }
}

/// What `map` made: `run` at bus `address`, for `direction`.
fn mapping(run: DmaRun<MockPage>, address: u64, direction: DmaDirection) -> DmaMapping<MockPage> {
    DmaMapping {
        run,
        bus_address: address,
        direction,
    }
}

#[test]
fn runs_that_meet_at_page_boundaries_get_contiguous_addresses() {
    let mock = Mock::new();
    let pages = mock.add_pages([50, 8, 30]);
    let iommu = MockIommu::with_space(0x10_0000, 1 << 40);
    let limits = DmaLimits::new();
    let first = run(pages[0], 100, 4096 - 100);
    let second = run(pages[1], 0, 4096);
    let third = run(pages[2], 0, 10);
    let a = map(&iommu, &mock, first, &limits).unwrap();
    let b = map(&iommu, &mock, second, &limits).unwrap();
    let c = map(&iommu, &mock, third, &limits).unwrap();
    assert_eq!(a, 0x10_0000 + 100, "the offset in the page is kept");
    assert_eq!((b, c), (a + 3996, a + 3996 + 4096));
    // A run that ends inside a page leaves the rest of it reserved.
    let fourth = run(pages[2], 100, 10);
    let d = map(&iommu, &mock, fourth, &limits).unwrap();
    assert_eq!(d, c - c % PAGE + PAGE + 100);
    assert_eq!(iommu.live_mappings(), 4);
    assert_eq!(
        iommu.translate(b + 5),
        Some(Translation {
            page: pages[1],
            offset: 5,
            remaining: 4091
        })
    );
    assert_eq!(iommu.translate(c + 10), None, "past the run");
    assert_eq!(iommu.translate(a - 1), None, "before the run");
    for (run, address) in [(first, a), (second, b), (third, c), (fourth, d)] {
        unmap(&iommu, &mock, run, address);
    }
    iommu.assert_clean();
    // When the place after the last mapping does not do (here: out of
    // reach), the lowest free place is used.
    let low = DmaLimits::new().with_highest_address(0x10_0FFF);
    let again = map(&iommu, &mock, second, &low).unwrap();
    assert_eq!(again, 0x10_0000);
    unmap(&iommu, &mock, second, again);
}

#[test]
fn placement_honours_boundaries_alignment_and_reach() {
    let mock = Mock::new();
    let pages = mock.add_run(100, 4);
    let iommu = MockIommu::with_space(0xF000, 1 << 40);
    // Two pages that would cross 0x10000 from 0xF000: moved to 0x10000.
    let windows = DmaLimits::new()
        .with_max_segment_size(0x2000)
        .with_segment_boundary(Some(0x1_0000));
    let two = run(pages[0], 0, 0x2000);
    let address = map(&iommu, &mock, two, &windows).unwrap();
    assert_eq!(address, 0x1_0000);
    assert!(!windows.crosses_boundary(address, 0x2000));
    // A larger alignment than a page: the start is aligned.
    let aligned = DmaLimits::new().with_alignment(0x4000);
    let one = run(pages[2], 0, 0x1000);
    let b = map(&iommu, &mock, one, &aligned).unwrap();
    assert_eq!(b % 0x4000, 0);
    // An offset in the page that breaks the alignment cannot be fixed.
    let small = DmaLimits::new().with_alignment(512);
    assert!(matches!(
        map(&iommu, &mock, run(pages[3], 100, 8), &small),
        Err(Error::Misaligned { alignment: 512, .. })
    ));
    assert_eq!(
        map(&iommu, &mock, run(pages[3], 1024, 8), &small).map(|a| a % 4096),
        Ok(1024)
    );
    // The page below the first mapping is free and within reach.
    let low = DmaLimits::new().with_highest_address(0xFFFF);
    assert_eq!(map(&iommu, &mock, run(pages[3], 0, 8), &low), Ok(0xF000));
    // Out of reach: every free place is above the highest address.
    let lower = DmaLimits::new().with_highest_address(0xEFFF);
    assert_eq!(
        map(&iommu, &mock, run(pages[3], 8, 8), &lower),
        Err(Error::Unreachable {
            address: 0x1_2008,
            highest: 0xEFFF
        })
    );
    // Bytes that cannot fit a window from their offset: placed anyway,
    // crossing (the table then refuses the entry).
    let tight = DmaLimits::new()
        .with_max_segment_size(1024)
        .with_segment_boundary(Some(1024));
    let crossing = map(&iommu, &mock, run(pages[1], 1000, 100), &tight).unwrap();
    assert!(tight.crosses_boundary(crossing, 100));
    // Invalid limits are refused.
    assert!(matches!(
        map(
            &iommu,
            &mock,
            run(pages[1], 0, 8),
            &DmaLimits::new().with_alignment(3)
        ),
        Err(Error::InvalidLimits { .. })
    ));
    assert_eq!(iommu.live_mappings(), 5);
    iommu.skip_check_on_drop();
}

#[test]
fn a_full_space_fails_and_the_kth_call_fails_on_demand() {
    let mock = Mock::new();
    let pages = mock.add_run(1, 3);
    let iommu = MockIommu::with_space(0, 2 * PAGE);
    let limits = DmaLimits::new();
    let a = map(&iommu, &mock, run(pages[0], 0, 4096), &limits).unwrap();
    let b = map(&iommu, &mock, run(pages[1], 0, 4096), &limits).unwrap();
    assert_eq!(
        map(&iommu, &mock, run(pages[2], 0, 1), &limits),
        Err(Error::MapFailed { index: 0 })
    );
    unmap(&iommu, &mock, run(pages[0], 0, 4096), a);
    unmap(&iommu, &mock, run(pages[1], 0, 4096), b);

    iommu.fail_map_at(4);
    let c = map(&iommu, &mock, run(pages[0], 0, 8), &limits).unwrap();
    assert_eq!(
        map(&iommu, &mock, run(pages[1], 0, 8), &limits),
        Err(Error::MapFailed { index: 0 })
    );
    assert_eq!(iommu.live_mappings(), 1, "a failed call maps nothing");
    let d = map(&iommu, &mock, run(pages[1], 0, 8), &limits).unwrap();
    assert_eq!(iommu.map_calls(), 6);
    unmap(&iommu, &mock, run(pages[0], 0, 8), c);
    unmap(&iommu, &mock, run(pages[1], 0, 8), d);
    assert_eq!(iommu.unmap_calls(), 4);
    iommu.assert_clean();
}

#[test]
fn the_device_reads_and_writes_through_the_mappings() {
    let mock = Mock::new();
    let pages = mock.add_pages([9, 4]);
    mock.write(pages[0], 4090, b"abcdef");
    mock.write(pages[1], 0, b"ghij");
    let iommu = MockIommu::new();
    let limits = DmaLimits::new();
    let first = run(pages[0], 4090, 6);
    let second = run(pages[1], 0, 4);
    let a = map(&iommu, &mock, first, &limits).unwrap();
    let b = map(&iommu, &mock, second, &limits).unwrap();
    assert_eq!(b, a + 6);
    assert_eq!(
        iommu.device_read(&mock, a + 2, 7).as_deref(),
        Some(&b"cdefghi"[..])
    );
    assert_eq!(iommu.device_read(&mock, a, 11), None, "past the last run");
    assert!(iommu.device_write(&mock, a + 4, b"XYZ"));
    assert_eq!(mock.read(pages[0], 4090, 6), b"abcdXY");
    assert_eq!(mock.read(pages[1], 0, 4), b"Zhij");
    unmap(&iommu, &mock, first, a);
    unmap(&iommu, &mock, second, b);
    assert!(!iommu.device_write(&mock, a, b"x"), "nothing mapped");
}

/// A call that should panic.
type Attempt<'a> = Box<dyn Fn() + 'a>;

#[test]
fn misuse_fails_the_test() {
    let mock = Mock::new();
    let page = mock.add_pages([1])[0];
    let iommu = MockIommu::new();
    let limits = DmaLimits::new();
    let mapped = run(page, 0, 8);
    let address = map(&iommu, &mock, mapped, &limits).unwrap();
    let attempts: [(&str, Attempt<'_>); 4] = [
        (
            "another run",
            Box::new(|| unmap(&iommu, &mock, run(page, 0, 4), address)),
        ),
        (
            "an address not mapped",
            Box::new(|| unmap(&iommu, &mock, mapped, address + 1)),
        ),
        (
            "another direction",
            // SAFETY: the mock only checks the call.
            Box::new(|| unsafe {
                iommu.unmap(&mock, mapping(mapped, address, DmaDirection::ToDevice))
            }),
        ),
        (
            "a sync of an address not mapped",
            // SAFETY: the mock only checks the call.
            Box::new(|| unsafe {
                iommu.sync_for_cpu(
                    &mock,
                    mapping(mapped, address + 8, DmaDirection::Bidirectional),
                )
            }),
        ),
    ];
    for (what, attempt) in attempts {
        assert!(
            catch_unwind(AssertUnwindSafe(attempt)).is_err(),
            "{what} is misuse"
        );
    }
    assert_eq!(iommu.live_mappings(), 1);
    unmap(&iommu, &mock, mapped, address);
    assert!(catch_unwind(AssertUnwindSafe(|| unmap(&iommu, &mock, mapped, address))).is_err());
    iommu.assert_clean();
}

#[test]
#[should_panic(expected = "MockIommu dropped with 1 live mapping")]
fn a_mapping_left_behind_fails_on_drop() {
    let mock = Mock::new();
    let page = mock.add_pages([1])[0];
    let iommu = MockIommu::new();
    map(&iommu, &mock, run(page, 0, 8), &DmaLimits::new()).unwrap();
    assert!(iommu.check().is_err());
}
