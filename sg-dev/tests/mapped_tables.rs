//! From a table to what the controller reads: random tables over random
//! page layouts, mapped through the IOMMU mock (into one IOVA range, and
//! run by run), written as PRPs and as an SGL; the controller's walk,
//! read through the IOMMU, gives exactly the table's bytes.

use quickcheck::TestResult;
use sg_alloc::FromPages;
use sg_core::{DmaDirection, DmaLimits, IovaMapper, Pages};
use sg_dev::{
    DmaVec, SglDescriptor, SglOptions, build_prp, build_sgl, extend_segments, walk_prp, walk_sgl,
};
use sg_testkit::{MockIommu, MockPages, PageLayout, checker};

/// NVMe's smallest memory page, which the mock's pages match here.
const PAGE: u64 = 4096;
/// The longest segment of the one-step mapping: 16 KiB, so that segments
/// are cut inside pages when the table starts inside one.
const ONE_STEP_SEGMENT: u32 = 16 * 1024;

fn read_through(iommu: &MockIommu, mock: &MockPages<4096>, ranges: &[DmaVec]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    for range in ranges {
        out.extend(iommu.device_read(mock, range.addr, range.len as usize)?);
    }
    Some(out)
}

/// PRP and SGL of `view`, walked back and read through the IOMMU.
fn check_formats(
    iommu: &MockIommu,
    mock: &MockPages<4096>,
    view: &[DmaVec],
    bytes: &[u8],
) -> Result<(), String> {
    let len: u64 = view.iter().map(|s| s.len).sum();
    let mut lists = vec![vec![0u64; 512]; 4];
    let prp = {
        let mut free = lists
            .iter_mut()
            .enumerate()
            .map(|(i, page)| (&mut page[..], 0xE000_0000 + i as u64 * PAGE));
        build_prp(view, PAGE, || free.next()).map_err(|e| format!("prp: {e}"))?
    };
    let walked = walk_prp(prp.prp1, prp.prp2, len, PAGE, |address| {
        lists
            .get(((address - 0xE000_0000) / PAGE) as usize)
            .map(Vec::as_slice)
    })
    .map_err(|e| format!("walk prp: {e}"))?;
    if read_through(iommu, mock, &walked).as_deref() != Some(bytes) {
        return Err("the PRP walk does not read the table's bytes".into());
    }
    let mut segments = vec![vec![SglDescriptor::default(); 256]; 4];
    let sgl1 = {
        let mut free = segments
            .iter_mut()
            .enumerate()
            .map(|(i, page)| (&mut page[..], 0xD000_0000 + i as u64 * PAGE));
        build_sgl(view, SglOptions::default(), || free.next()).map_err(|e| format!("sgl: {e}"))?
    };
    let walked = walk_sgl(sgl1, |address, count| {
        segments
            .get(((address - 0xD000_0000) / PAGE) as usize)
            .map(|s| &s[..count])
    })
    .map_err(|e| format!("walk sgl: {e}"))?;
    if read_through(iommu, mock, &walked).as_deref() != Some(bytes) {
        return Err("the SGL walk does not read the table's bytes".into());
    }
    Ok(())
}

#[test]
fn prop_iova_mapped_tables_become_prps_and_sgls() {
    fn property(layout: PageLayout, offset: u16, size: u32) -> TestResult {
        if layout.is_empty() {
            return TestResult::discard();
        }
        let mock = MockPages::<4096>::new();
        let handles = layout.add_to(&mock);
        mock.fill(u64::from(size));
        let offset = u64::from(offset % 1024) * 4; // dword aligned
        let available = handles.len() as u64 * PAGE - offset;
        let size = 1 + u64::from(size) % available;
        // SAFETY: the mock's pages, in no other set.
        let mut pages = unsafe { Pages::from_raw(&mock, &handles[..]) };
        let mut table = FromPages::new(&mut pages, offset as usize, size)
            .max_segment_size(ONE_STEP_SEGMENT)
            .build()
            .unwrap();
        let bytes = mock.list_bytes(table.as_list());
        let iommu = MockIommu::new();
        let limits = DmaLimits::unlimited();
        let mut range =
            IovaMapper::<&MockPages<4096>>::try_alloc(&iommu, table.iova_len(&limits), &limits)
                .unwrap();
        let outcome = table
            .with_iova_mapping(
                &iommu,
                &mut range,
                DmaDirection::ToDevice,
                &limits,
                |mapped| {
                    let mut view = Vec::new();
                    extend_segments(&mut view, mapped.nents(), mapped.segments()).unwrap();
                    if view.len() != 1 {
                        return Err(format!("{} segments", view.len()));
                    }
                    check_formats(&iommu, &mock, &view, &bytes)
                },
            )
            .unwrap();
        // One-step, run by run: the same checks, on however many segments.
        let one_step = table
            .with_dma_mapping(
                &iommu,
                DmaDirection::ToDevice,
                &DmaLimits::new().with_max_segment_size(ONE_STEP_SEGMENT),
                |mapped| {
                    let mut view = Vec::new();
                    extend_segments(&mut view, mapped.nents(), mapped.segments()).unwrap();
                    check_formats(&iommu, &mock, &view, &bytes)
                },
            )
            .unwrap();
        // SAFETY: reserved above, nothing linked.
        unsafe { IovaMapper::<&MockPages<4096>>::free(&iommu, range) };
        match outcome.and(one_step) {
            Ok(()) => TestResult::passed(),
            Err(problem) => TestResult::error(problem),
        }
    }
    checker(if cfg!(miri) { 2 } else { 100 })
        .quickcheck(property as fn(PageLayout, u16, u32) -> TestResult);
}
