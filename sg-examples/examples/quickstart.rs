//! A tour of `sg` in one run: tables over process memory, tables built
//! from a set of pages (`Pages`: borrowed shared, borrowed exclusively,
//! then owned) whose runs merge under a segment limit, a message copied in
//! and out, the layout of a chained table (entries, frame ranges, chain
//! links), and copy throughput over a large list. No `unsafe`: the pages
//! come from `Pages::alloc`, and the borrow checker keeps them alive and
//! unshared for as long as a table uses them.
//!
//! Run with `cargo run --release -p sg-examples --example quickstart`.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use sg_alloc::{FromPages, PageList, SgTable, SliceTable};
use sg_copy::{copy_from_slice, copy_to_slice};
use sg_core::{Error, HeapChunks, PageProvider, Pages, SgList, VirtPage, VirtPages};

/// Bytes in a page of process memory.
const PAGE: usize = 4096;

fn main() -> Result<(), Error> {
    heading("1. Tables over process memory");
    // A list that owns its pages, allocated from the heap (the kernel's
    // `sgl_alloc`): one entry per page.
    let owned = PageList::new(VirtPages::new(), 10_000)?;
    println!(
        "PageList::new(10_000 bytes): {} entries, {} bytes",
        owned.nents(),
        owned.byte_len()
    );
    // A table over buffers you already have, borrowed, not copied: the
    // buffers of an iovec.
    let mut header = *b"GET /index.html\r\n";
    let mut body = vec![0u8; 6000];
    let mut iov: [&mut [u8]; 2] = [&mut header, &mut body];
    let borrowed = SliceTable::new(&mut iov)?;
    println!(
        "SliceTable::new(2 slices): {} entries, {} bytes, no byte copied",
        borrowed.orig_nents(),
        borrowed.byte_len()
    );
    drop(borrowed);

    heading("2. A table from pages: runs of consecutive frames merge");
    // Eight contiguous pages, allocated through the provider: the set owns
    // them and gives them back when it is dropped (or the table owning it).
    let mut pages = Pages::alloc(VirtPages::new(), 3)?;
    let base = lowest_frame(&pages);
    // Pages 0-4 in order, then 6, 7, then 5: three runs. A set may be put
    // in any order, but never holds a page twice.
    // A builder walks the set in its order and merges a page into the
    // entry before it only when its frame follows that entry's last frame.
    arrange(&mut pages, &[0, 1, 2, 3, 4, 6, 7, 5])?;
    let size = (pages.len() * PAGE - 100) as u64; // 100 bytes short of the end
    // Built from `&pages`: the table borrows the set shared, so it only
    // reads (any number of such tables may exist at once).
    let merged = SgTable::from_pages(&pages, 0, size)?;
    println!("8 pages, no segment limit (a read-only table):");
    print_entries(merged.as_list(), base);
    drop(merged);
    // Built from `&mut pages`: the table borrows the set exclusively, so it
    // may write the bytes; no other table reaches them while it lives.
    let mut limited = FromPages::new(&mut pages, 0, size)
        .max_segment_size(2 * PAGE as u32)
        .build()?;
    println!("the same pages, no entry over 8 KiB (a device's max segment):");
    print_entries(limited.as_list(), base);

    heading("3. A message in and out, across entry boundaries");
    let message = b"scatter-gather lists describe bytes spread over pages";
    let skip = 2 * PAGE as u64 - 20; // ends in the next entry
    let written = copy_from_slice(limited.as_list_mut(), skip, message);
    let mut back = vec![0u8; message.len()];
    let read = copy_to_slice(limited.as_list(), skip, &mut back);
    println!(
        "wrote {written} bytes at byte {skip}, read {read} back: {:?}",
        String::from_utf8_lossy(&back)
    );
    assert_eq!(&back, message);
    let entries_touched = limited.as_list().slice(skip, message.len() as u64)?.count();
    println!("the message lies in {entries_touched} entries");
    drop(limited); // the set is ours again

    heading("4. The layout of a chained table");
    // Every other page, so nothing merges, in arrays of four slots: three
    // entries and a link to the next array in each full array.
    arrange(&mut pages, &[0, 2, 4, 6, 1, 3, 5, 7])?;
    let chunks = HeapChunks::new().with_max_entries(4)?;
    // Built from the set by value: the table owns the pages now.
    let chained = FromPages::new(pages, 64, 8 * PAGE as u64 - 64)
        .chunk_allocator(chunks)
        .build()?;
    println!(
        "{} entries in {} arrays of at most 4 slots (the table owns the pages):",
        chained.orig_nents(),
        chained.arrays()
    );
    print_layout(chained.as_list(), base);
    drop(chained); // gives the eight pages back

    heading("5. Copy throughput");
    throughput()?;
    Ok(())
}

fn heading(title: &str) {
    println!("\n{title}");
}

/// The lowest frame number of the set's pages: frames are printed
/// relative to it.
fn lowest_frame(pages: &Pages<VirtPages>) -> usize {
    let frames = pages.handles().iter().map(|&page| pages.pfn(page));
    frames.min().unwrap_or(0)
}

/// The set's frames in its order, relative to `base`.
fn set_frames(pages: &Pages<VirtPages>, base: usize) -> Vec<usize> {
    let frames = pages.handles().iter().map(|&page| pages.pfn(page) - base);
    frames.collect()
}

/// The runs of consecutive frames in `frames`, in order: `0..=4, 6..=7,
/// 5..=5` for `[0, 1, 2, 3, 4, 6, 7, 5]`.
fn runs(frames: &[usize]) -> String {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &frame in frames {
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == frame => *last = frame,
            _ => runs.push((frame, frame)),
        }
    }
    let runs: Vec<String> = runs
        .iter()
        .map(|(first, last)| format!("{first}..={last}"))
        .collect();
    runs.join(", ")
}

/// Puts the set's pages in the order of `frames` (relative to its lowest
/// frame): a permutation, which the set checks. Prints the new order and
/// its runs of consecutive frames, which builders merge.
fn arrange(pages: &mut Pages<VirtPages>, frames: &[usize]) -> Result<(), Error> {
    let base = lowest_frame(pages);
    let now = set_frames(pages, base);
    // A frame the set does not hold gets a position past its end: refused.
    let position = |frame: &usize| now.iter().position(|now| now == frame);
    let order: Vec<usize> = frames
        .iter()
        .map(|frame| position(frame).unwrap_or(now.len()))
        .collect();
    pages.permute(&order)?;
    let order = set_frames(pages, base);
    println!("pages in set order (frames): {order:?}");
    println!(
        "runs of consecutive frames, in that order: {}",
        runs(&order)
    );
    Ok(())
}

/// An entry's frames (relative to `base`), offset and length, or `None`
/// for a link.
fn describe<P: PageProvider<Page = VirtPage, Pfn = usize>>(
    pages: &P,
    entry: &sg_core::SgEntry<VirtPage>,
    base: usize,
) -> Option<String> {
    let page = entry.page()?;
    let (offset, length) = (entry.offset(), entry.len());
    let first = pages.pfn(page) + offset as usize / PAGE;
    let last = pages.pfn(page) + (offset as usize + length.max(1) as usize - 1) / PAGE;
    let end = if entry.is_last() { " (end)" } else { "" };
    Some(format!(
        "frames {}..={}, offset {offset:>4}, {length:>5} bytes{end}",
        first - base,
        last - base
    ))
}

/// One line per entry: its frames (relative to `base`), offset and length.
fn print_entries<P: PageProvider<Page = VirtPage, Pfn = usize>>(list: SgList<'_, P>, base: usize) {
    for (index, entry) in list.iter().enumerate() {
        if let Some(text) = describe(list.provider(), entry, base) {
            println!("  entry {index}: {text}");
        }
    }
}

/// The entries with the arrays they sit in: where the next entry is not in
/// the slot right after the previous one, the slot in between is a chain
/// link to another array. Slots are numbered within their array (the
/// arrays' addresses change from run to run, so they are not printed).
fn print_layout<P: PageProvider<Page = VirtPage, Pfn = usize>>(list: SgList<'_, P>, base: usize) {
    let slot = size_of::<sg_core::SgEntry<VirtPage>>();
    let mut array = 0;
    // The address of the array's first slot, and of the previous entry.
    let mut start = 0;
    let mut previous: Option<usize> = None;
    for (index, entry) in list.iter().enumerate() {
        let address = std::ptr::from_ref(entry).addr();
        match previous {
            None => {
                start = address;
                println!("  array {array}:");
            }
            Some(previous) if address != previous + slot => {
                println!(
                    "    slot {}: link -> array {}",
                    (previous + slot - start) / slot,
                    array + 1
                );
                array += 1;
                start = address;
                println!("  array {array}:");
            }
            Some(_) => {}
        }
        let text = describe(list.provider(), entry, base).expect("a data entry");
        println!(
            "    slot {}: entry {index}: {text}",
            (address - start) / slot
        );
        previous = Some(address);
    }
}

/// Copies a buffer into a 64 MiB list of single pages and back, over and
/// over for about two seconds, and prints the rate of each direction
/// beside a plain `memcpy` of the same bytes.
fn throughput() -> Result<(), Error> {
    const BYTES: usize = 64 << 20;
    let mut list = PageList::new(VirtPages::new(), BYTES as u64)?;
    let source = vec![0x5au8; BYTES];
    let mut target = vec![0u8; BYTES];
    println!(
        "a list of {} single pages ({} MiB), copied for about a second each way:",
        list.nents(),
        BYTES >> 20
    );
    let into = measure("into the list", || {
        copy_from_slice(list.as_list_mut(), 0, &source) == BYTES
    });
    let out = measure("out of the list", || {
        copy_to_slice(list.as_list(), 0, &mut target) == BYTES
    });
    assert_eq!(target, source);
    let mut plain = vec![0u8; BYTES];
    let memcpy = measure("memcpy, for comparison", || {
        plain.copy_from_slice(&source);
        std::hint::black_box(&plain);
        true
    });
    println!("  into the list:   {into:>5.1} GB/s");
    println!("  out of the list: {out:>5.1} GB/s");
    println!("  memcpy:          {memcpy:>5.1} GB/s (one contiguous buffer)");
    Ok(())
}

/// Runs `copy` (which copies 64 MiB and says whether it copied them all)
/// for about a second, with a progress line on stderr when stderr is a
/// terminal, and returns GB/s.
fn measure(what: &str, mut copy: impl FnMut() -> bool) -> f64 {
    const BYTES: f64 = (64 << 20) as f64;
    const TIME: Duration = Duration::from_millis(800);
    assert!(copy(), "{what}: a short copy"); // warm up: touch every page
    let start = Instant::now();
    let mut copies = 0u32;
    let mut shown = start;
    let progress = std::io::stderr().is_terminal();
    while start.elapsed() < TIME {
        assert!(copy(), "{what}: a short copy");
        copies += 1;
        if progress && shown.elapsed() > Duration::from_millis(100) {
            shown = Instant::now();
            let done = start.elapsed().as_secs_f64() / TIME.as_secs_f64();
            eprint!("\r  {what}: {:>3.0}% ", (done * 100.0).min(100.0));
            let _ = std::io::stderr().flush();
        }
    }
    if progress {
        eprint!("\r{:60}\r", "");
    }
    f64::from(copies) * BYTES / start.elapsed().as_secs_f64() / 1e9
}
