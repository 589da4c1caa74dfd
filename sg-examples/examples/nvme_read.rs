//! A 1 MiB NVMe read into 256 pages scattered in memory: the table is
//! mapped through an IOMMU (sg-testkit's mock) into one IOVA range, so the
//! device sees one bus segment, then written as a PRP list and as an SGL,
//! each walked back the way the controller walks it. The "controller"
//! then writes the data through the IOMMU, and the table's pages hold it.
//!
//! Run with `cargo run --release -p sg-examples --features mock-iommu
//! --example nvme_read`.

use sg_alloc::SgTable;
use sg_core::{DmaDirection, DmaLimits, IovaMapper, Pages};
use sg_dev::{
    DmaVec, SglDescriptor, SglOptions, build_prp, build_sgl, extend_segments, walk_prp, walk_sgl,
};
use sg_testkit::{MockIommu, MockPages};

/// The controller's memory page size (`CC.MPS = 0`).
const PAGE: u64 = 4096;
/// The request: 1 MiB.
const REQUEST: u64 = 1 << 20;
/// Where the PRP list page and the SGL segment live on the bus (a real
/// driver takes them from a DMA pool).
const LIST_BUS: u64 = 0xFEE0_0000;
const SEGMENT_BUS: u64 = 0xFEF0_0000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pages_needed = REQUEST / PAGE;
    let mock = MockPages::<4096>::new();
    // Frames 1000.., shuffled: no two neighbours in the table are
    // neighbours in memory.
    let frames: Vec<u64> = (0..pages_needed)
        .map(|i| 1000 + (i * 97) % pages_needed)
        .collect();
    // SAFETY: the mock's pages, in no other set.
    let mut pages = unsafe { Pages::from_raw(&mock, mock.add_pages(frames)) };
    let mut table = SgTable::from_pages(&mut pages, 0, REQUEST)?;
    println!(
        "table: {} entries over {} scattered pages",
        table.orig_nents(),
        pages_needed
    );

    let iommu = MockIommu::new();
    // An NVMe controller takes segments of any length through PRPs.
    let limits = DmaLimits::unlimited();
    // The queue's range, reserved once and reused for every request.
    let mut range = IovaMapper::<&MockPages<4096>>::try_alloc(&iommu, REQUEST, &limits)?;

    let mut view: Vec<DmaVec> = Vec::new();
    table.with_iova_mapping(
        &iommu,
        &mut range,
        DmaDirection::FromDevice,
        &limits,
        |mapped| {
            extend_segments(&mut view, mapped.nents(), mapped.segments())?;
            println!(
                "IOVA range {:?}: {} segment(s), {} link calls, {} IOTLB flush(es) to map",
                mapped.range(),
                view.len(),
                iommu.link_calls(),
                iommu.tlb_flushes()
            );

            // PRP: PRP1, and PRP2 pointing to one list page of 255 entries.
            let mut list = vec![0u64; (PAGE / 8) as usize];
            let mut free = Some((&mut list[..], LIST_BUS));
            let prp = build_prp(&view, PAGE, || free.take())?;
            println!(
                "PRP1 {:#x}, PRP2 {:#x} (a list of {} entries in {} page)",
                prp.prp1,
                prp.prp2,
                pages_needed - 1,
                prp.list_pages
            );
            let walked = walk_prp(prp.prp1, prp.prp2, REQUEST, PAGE, |address| {
                (address == LIST_BUS).then_some(&list[..])
            })?;
            assert_eq!(
                walked, view,
                "the controller reaches exactly the mapped bytes"
            );

            // SGL: one data block, since the mapping is one segment.
            let mut segment = [SglDescriptor::default(); 256];
            let mut free = Some((&mut segment[..], SEGMENT_BUS));
            let sgl1 = build_sgl(&view, SglOptions::default(), || free.take())?;
            println!("SGL1: {sgl1:?}");
            let walked = walk_sgl(sgl1, |address, count| {
                (address == SEGMENT_BUS).then(|| &segment[..count])
            })?;
            assert_eq!(walked, view);

            // The controller writes the data where the PRPs lead.
            let data: Vec<u8> = (0..REQUEST).map(|i| (i % 251) as u8).collect();
            let mut at = 0;
            for piece in &walked {
                let len = piece.len as usize;
                assert!(iommu.device_write(&mock, piece.addr, &data[at..at + len]));
                at += len;
            }
            Ok::<(), Box<dyn std::error::Error>>(())
        },
    )??;
    println!(
        "unmapped: {} linked run(s) left, {} IOTLB flushes in all",
        iommu.linked_runs(),
        iommu.tlb_flushes()
    );

    // The bytes landed in the scattered pages, in the request's order.
    let bytes = mock.list_bytes(table.as_list());
    assert!(bytes.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    println!("the 1 MiB read landed in order in the table's pages");

    // For comparison, the one-step path: every run mapped and unmapped on
    // its own, each with its IOTLB flush.
    let before = iommu.tlb_flushes();
    let segments = table.with_dma_mapping(&iommu, DmaDirection::FromDevice, &limits, |mapped| {
        mapped.segments().count()
    })?;
    println!(
        "one-step mapping of the same table: {segments} segment(s), {} IOTLB flushes",
        iommu.tlb_flushes() - before
    );

    // SAFETY: reserved above; nothing is linked in it any more.
    unsafe { IovaMapper::<&MockPages<4096>>::free(&iommu, range) };
    Ok(())
}
