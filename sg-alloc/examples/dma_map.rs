//! Maps a table for a device that takes segments of at most 64 KiB that
//! never cross a 64 KiB boundary, and prints the segments: first with bus
//! address = physical address, then through an IOMMU, which merges
//! scattered pages.
//!
//! The pages are mock pages with chosen frame numbers, so the output is the
//! same on every machine; a driver implements `PageProvider` for its pinned
//! memory instead.
//!
//! Run with `cargo run -p sg-alloc --example dma_map`.

use sg_alloc::{DirectMapper, FromPages, SgTable};
use sg_core::{DmaDirection, DmaLimits, Error, PageProvider, Pages};
use sg_testkit::{MockIommu, MockPages};

fn main() -> Result<(), Error> {
    let device = DmaLimits::new()
        .with_max_segment_size(64 * 1024)
        .with_segment_boundary(Some(64 * 1024));
    let memory = MockPages::<4096>::new();
    // A run of 40 pages from frame 0x1c (physical 0x1c000, which crosses
    // 64 KiB boundaries at 0x20000, 0x30000 and 0x40000), then three lone
    // pages.
    let mut frames: Vec<u64> = (0x1c..0x1c + 40).collect();
    frames.extend([0x90, 0x75, 0x102]);
    let pages = memory.add_pages(frames.iter().copied());
    let size = pages.len() as u64 * 4096 - 512;
    // SAFETY: distinct pages the mock holds, which nothing else uses while
    // the set lives.
    let set = unsafe { Pages::from_raw(&memory, &pages[..]) };

    // A plain table has one entry per run of pages: its first entry could
    // only be mapped by splitting it. Both tables borrow the set shared, so
    // they only read: they map for a device that reads.
    let mut plain = SgTable::from_pages(&set, 0, size)?;
    // SAFETY: no device is given the addresses: this example prints them.
    let direct = unsafe { DirectMapper::new() };
    match plain.with_dma_mapping(direct, DmaDirection::ToDevice, &device, |mapped| {
        mapped.nents()
    }) {
        Err(error) => println!("a plain table: {error}"),
        Ok(nents) => println!("a plain table mapped in {nents} segments"),
    }

    // Built for the device, entries end at its boundaries.
    let mut table = FromPages::new(&set, 0, size).limits(&device).build()?;
    println!(
        "\nbuilt for the device: {} entries, {} bytes",
        table.orig_nents(),
        table.byte_len()
    );
    for (index, entry) in table.as_list().iter().enumerate() {
        let page = entry.page().expect("a data entry");
        println!(
            "  entry {index}: frame {:#x}, {} bytes",
            memory.pfn(page),
            entry.len()
        );
    }

    // Mapped for the length of the closure, then unmapped.
    table.with_dma_mapping(direct, DmaDirection::ToDevice, &device, |mapped| {
        println!(
            "\nbus address = physical address: {} segments",
            mapped.nents()
        );
        print_segments(mapped.segments(), &device);
    })?;

    let iommu = MockIommu::with_space(0x8000_0000, 0x1_0000_0000);
    table.with_dma_mapping(&iommu, DmaDirection::ToDevice, &device, |mapped| {
        println!("\nthrough an IOMMU: {} segments", mapped.nents());
        print_segments(mapped.segments(), &device);
    })?;
    println!("\nunmapped: {} live IOMMU mappings", iommu.live_mappings());
    Ok(())
}

/// Prints each segment, checking it against the device's limits.
fn print_segments(segments: impl Iterator<Item = (u64, u32)>, device: &DmaLimits) {
    for (index, (address, length)) in segments.enumerate() {
        assert!(device.accepts(address, u64::from(length)));
        println!(
            "  segment {index}: {address:#010x}..{:#010x} ({length} bytes)",
            address + u64::from(length)
        );
    }
}
