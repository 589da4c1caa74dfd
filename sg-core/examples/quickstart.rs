//! Builds a chained list by hand over process memory and prints its layout.
//!
//! Run with `cargo run --release --example quickstart`.

use std::ptr::NonNull;

use sg_core::{Error, PageProvider, SgEntry, SgList, VirtPage, VirtPages};

fn main() -> Result<(), Error> {
    let pages = VirtPages::new();
    // Four contiguous pages, and one more page somewhere else.
    let run = pages.alloc_pages(2)?;
    let lone = pages.alloc_pages(0)?;

    // Two arrays: the last slot of the first links to the second.
    let mut tail: [SgEntry<VirtPage>; 2] = Default::default();
    sg_core::init_table(&mut tail)?;
    // SAFETY: the bytes lie in the pages allocated above, which only this
    // list reaches.
    unsafe {
        tail[0].set_page(pages.nth(run, 2), 8192, 0); // pages 2 and 3 of the run
        tail[1].set_page(lone, 100, 50);
    }

    let mut head: [SgEntry<VirtPage>; 3] = Default::default();
    sg_core::init_table(&mut head)?;
    // SAFETY: as above.
    unsafe {
        head[0].set_page(run, 4096, 0);
        head[1].set_page(run, 1000, 5000); // offset past the first page
    }
    // SAFETY: `tail` outlives `head`'s link and is not touched while linked.
    unsafe { sg_core::chain(&mut head, NonNull::from(&mut tail[..]))? };

    let list = SgList::new(&head, &pages);
    println!(
        "{} entries, {} bytes; 6000 bytes need {} entries",
        list.count(),
        list.byte_len(),
        list.count_for_len(6000)?
    );
    for (index, entry) in list.iter().enumerate() {
        let page = entry.page().expect("data entries have pages");
        let first = pages.pfn(page) + entry.offset() as usize / 4096;
        let last = pages.pfn(page) + (entry.offset() + entry.length() - 1) as usize / 4096;
        println!(
            "  entry {index}: frames {first:#x}..={last:#x}, offset {:>4}, length {:>5}{}",
            entry.offset(),
            entry.length(),
            if entry.is_last() { "  (end)" } else { "" }
        );
    }
    println!("bytes 4090..4100 of the list:");
    for segment in list.slice(4090, 10)?.segments() {
        println!(
            "  {} bytes at offset {} of {:?}",
            segment.len, segment.offset, segment.page
        );
    }

    // SAFETY: allocated above with these orders; the list is not used again.
    unsafe {
        pages.free_pages(run, 2);
        pages.free_pages(lone, 0);
    }
    Ok(())
}
