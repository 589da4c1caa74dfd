//! The peers of `cargo xtask perf`: sg against what users would write
//! without it, over the same memory and in the same process.
//!
//! Peers: a hand loop over `Vec<&mut [u8]>` / `Vec<&[u8]>`, `std::io`
//! vectored reads and writes over `IoSlice`s, a `vm-memory` descriptor
//! chain (`read_slice` / `write_slice` over `(GuestAddress, len)` pairs, as
//! virtio device models do), and the floor: `memcpy` of the same segments,
//! in the same order, between the same buffers.
//!
//! Each peer workload runs every contender in one loop, in a new shuffled
//! order each repetition (`Turns`); a contender builds its views of the
//! memory before its timing starts and drops them after, so no two
//! contenders' views are alive at once. The rows go to standard output,
//! one per line, in the format of `measure::Row::to_line`, for `cargo
//! xtask perf` to merge into its table and `perf.json`:
//! `peer_<workload>_<peer>` has sg's figure as the value
//! and the peer's as the baseline, so its ratio is the peer's time over
//! sg's (1.0 or more: sg is as fast or faster); `floor_<workload>` has the
//! per-segment memcpy as the baseline (sg can only lose to it).
//!
//! Run by `cargo xtask perf` (`cargo run --release -p xtask --example
//! peers -- [--quick] [--reps N] [--only NAME]...`); dev-dependencies such
//! as vm-memory are visible to examples only, which is why this is one.

use std::hint::black_box;
use std::io::{IoSlice, IoSliceMut, Read as _, Write as _};

use sg_alloc::{FromPages, PageList, SgTable};
use sg_copy::{copy_from_slice, copy_to_slice};
use sg_core::{Pages, VIRT_PAGE_SIZE, VirtPage, VirtPages};
use vm_memory::{Bytes as _, GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

#[allow(dead_code, unreachable_pub)]
#[path = "../src/measure.rs"]
mod measure;

use measure::Row;

#[allow(unreachable_pub)]
#[path = "../src/workloads_guest.rs"]
mod workloads_guest;

const PAGE: usize = VIRT_PAGE_SIZE;
/// The block the lists describe: 16 MiB (order 12).
const BLOCK_ORDER: u32 = 12;
const BLOCK: usize = PAGE << BLOCK_ORDER;

/// A deterministic pseudo-random sequence (xorshift).
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for index in (1..items.len()).rev() {
            let other = (self.next() % (index as u64 + 1)) as usize;
            items.swap(index, other);
        }
    }
}

/// Which way a copy goes.
#[derive(Clone, Copy, PartialEq)]
enum Direction {
    /// Linear buffer -> list (`copy_from_slice`, `read_vectored`,
    /// `write_slice`).
    In,
    /// List -> linear buffer.
    Out,
}

/// One copy workload: segments of the block (offset, length) in list
/// order, and the bytes copied from `skip` on.
#[derive(Clone)]
struct Copy {
    name: &'static str,
    segments: Vec<(usize, usize)>,
    direction: Direction,
    skip: usize,
    len: usize,
    /// Copies per timed sample.
    calls: usize,
}

/// Everything a contender may touch: the block's memory (only through raw
/// pointers outside a contender's own timing), and two linear buffers.
struct Memory {
    pages: Pages<VirtPages>,
    source: Vec<u8>,
    target: Vec<u8>,
}

impl Memory {
    fn base(&self) -> *mut u8 {
        self.pages.handles()[0].as_ptr()
    }
}

/// The order in which a workload's contenders run in each repetition: a
/// new shuffle every time (from a fixed seed), so that no contender always
/// runs right after the same one. With a fixed rotation each contender
/// followed the same one in four repetitions of five, and what that one
/// left in the caches moved a row by several percent: sg over the
/// `memcpy` floor on the 4 KiB shuffled copy-out read 0.92-0.96 rotated
/// and 0.96-0.98 shuffled (same binary, same session).
struct Turns {
    order: Vec<usize>,
    random: Random,
}

impl Turns {
    /// Orders of the contenders `0..contenders`.
    fn new(contenders: usize) -> Self {
        Turns {
            order: (0..contenders).collect(),
            random: Random(11),
        }
    }

    /// The next repetition's order.
    fn next(&mut self) -> &[usize] {
        self.random.shuffle(&mut self.order);
        &self.order
    }
}

/// Seconds taken by `calls` copies of `work`: `black_box` keeps each.
fn timed(calls: usize, mut work: impl FnMut() -> usize) -> f64 {
    measure::time(|| {
        for _ in 0..calls {
            black_box(work());
        }
    })
}

/// sg: a table of one entry per segment, made once; the copy through its
/// view, made per copy as a user does. `black_box` hides the table (a
/// reference), as it hides the peers' `Vec`s: hiding the view itself would
/// store and reload its seven words around every call, which no user pays
/// (and no peer does).
fn sg_copy(memory: &mut Memory, table: &mut SgTable<VirtPages>, work: &Copy) -> f64 {
    let (skip, len) = (work.skip as u64, work.len);
    match work.direction {
        Direction::In => {
            let source = &memory.source[..len];
            timed(work.calls, || {
                copy_from_slice(
                    black_box(&mut *table).as_list_mut(),
                    skip,
                    black_box(source),
                )
            })
        }
        Direction::Out => {
            let target = &mut memory.target[..len];
            timed(work.calls, || {
                copy_to_slice(black_box(&*table).as_list(), skip, black_box(&mut *target))
            })
        }
    }
}

/// The segments as slices of the block.
///
/// # Safety
///
/// The segments lie in the block and do not overlap; nothing else reaches
/// the block while the slices live.
unsafe fn slices<'a>(base: *mut u8, segments: &[(usize, usize)]) -> Vec<&'a mut [u8]> {
    segments
        .iter()
        // SAFETY: the caller's promise.
        .map(|&(offset, len)| unsafe { std::slice::from_raw_parts_mut(base.add(offset), len) })
        .collect()
}

/// A hand loop over `Vec<&mut [u8]>` (in) or `Vec<&[u8]>` (out): skip whole
/// segments, then copy piece by piece.
fn hand_copy(memory: &mut Memory, work: &Copy) -> f64 {
    // SAFETY: the workload's segments lie in the block without overlapping,
    // and no other view of it lives during this contender's run.
    let mut segments = unsafe { slices(memory.base(), &work.segments) };
    match work.direction {
        Direction::In => {
            let source = &memory.source[..work.len];
            timed(work.calls, || {
                let mut skip = work.skip;
                let mut rest = black_box(source);
                for segment in black_box(&mut segments).iter_mut() {
                    if skip >= segment.len() {
                        skip -= segment.len();
                        continue;
                    }
                    let segment = &mut segment[skip..];
                    skip = 0;
                    let count = segment.len().min(rest.len());
                    segment[..count].copy_from_slice(&rest[..count]);
                    rest = &rest[count..];
                    if rest.is_empty() {
                        break;
                    }
                }
                source.len() - rest.len()
            })
        }
        Direction::Out => {
            let segments: Vec<&[u8]> = segments.into_iter().map(|s| &*s).collect();
            let target = &mut memory.target[..work.len];
            timed(work.calls, || {
                let mut skip = work.skip;
                let mut done = 0;
                let target = black_box(&mut *target);
                for segment in black_box(&segments).iter() {
                    if skip >= segment.len() {
                        skip -= segment.len();
                        continue;
                    }
                    let segment = &segment[skip..];
                    skip = 0;
                    let count = segment.len().min(target.len() - done);
                    target[done..done + count].copy_from_slice(&segment[..count]);
                    done += count;
                    if done == target.len() {
                        break;
                    }
                }
                done
            })
        }
    }
}

/// `std::io`: `Read::read_vectored` from a `&[u8]` into `IoSliceMut`s (in),
/// `Write::write_vectored` of `IoSlice`s into a `&mut [u8]` (out), after
/// `advance_slices` past the skip.
fn io_copy(memory: &mut Memory, work: &Copy) -> f64 {
    // SAFETY: as in `hand_copy`.
    let segments = unsafe { slices(memory.base(), &work.segments) };
    match work.direction {
        Direction::In => {
            let mut slices: Vec<IoSliceMut<'_>> =
                segments.into_iter().map(IoSliceMut::new).collect();
            let source = &memory.source[..work.len];
            timed(work.calls, || {
                let mut slices = &mut black_box(&mut slices)[..];
                // The workloads' skips fall on segment boundaries, so this
                // drops whole slices and leaves the others as they were.
                IoSliceMut::advance_slices(&mut slices, work.skip);
                let mut reader = black_box(source);
                reader.read_vectored(slices).unwrap_or(0)
            })
        }
        Direction::Out => {
            let mut slices: Vec<IoSlice<'_>> =
                segments.into_iter().map(|s| IoSlice::new(s)).collect();
            let target = &mut memory.target[..work.len];
            timed(work.calls, || {
                let mut slices = &mut black_box(&mut slices)[..];
                IoSlice::advance_slices(&mut slices, work.skip);
                let mut writer = black_box(&mut *target);
                writer.write_vectored(slices).unwrap_or(0)
            })
        }
    }
}

/// vm-memory: a descriptor chain of `(GuestAddress, len)` pairs over guest
/// memory that is the block itself.
fn vmm_copy(memory: &mut Memory, guest: &GuestMemoryMmap, work: &Copy) -> f64 {
    let chain: Vec<(GuestAddress, usize)> = work
        .segments
        .iter()
        .map(|&(offset, len)| (GuestAddress(offset as u64), len))
        .collect();
    match work.direction {
        Direction::In => {
            let source = &memory.source[..work.len];
            timed(work.calls, || {
                let mut skip = work.skip;
                let mut done = 0;
                for &(address, len) in black_box(&chain).iter() {
                    if skip >= len {
                        skip -= len;
                        continue;
                    }
                    let count = (len - skip).min(source.len() - done);
                    let at = GuestAddress(address.0 + skip as u64);
                    if guest.write_slice(&source[done..done + count], at).is_err() {
                        break;
                    }
                    skip = 0;
                    done += count;
                    if done == source.len() {
                        break;
                    }
                }
                done
            })
        }
        Direction::Out => {
            let target = &mut memory.target[..work.len];
            timed(work.calls, || {
                let mut skip = work.skip;
                let mut done = 0;
                for &(address, len) in black_box(&chain).iter() {
                    if skip >= len {
                        skip -= len;
                        continue;
                    }
                    let count = (len - skip).min(target.len() - done);
                    let at = GuestAddress(address.0 + skip as u64);
                    if guest
                        .read_slice(&mut target[done..done + count], at)
                        .is_err()
                    {
                        break;
                    }
                    skip = 0;
                    done += count;
                    if done == target.len() {
                        break;
                    }
                }
                done
            })
        }
    }
}

/// The floor: the same pieces, in the same order, as a prepared list of
/// `memcpy` calls between the same buffers.
fn floor_copy(memory: &mut Memory, work: &Copy) -> f64 {
    let base = memory.base();
    let mut pieces = Vec::new();
    let (mut skip, mut done) = (work.skip, 0);
    for &(offset, len) in &work.segments {
        if skip >= len {
            skip -= len;
            continue;
        }
        let count = (len - skip).min(work.len - done);
        pieces.push((offset + skip, done, count));
        skip = 0;
        done += count;
        if done == work.len {
            break;
        }
    }
    let (from, to): (*const u8, *mut u8) = match work.direction {
        Direction::In => (memory.source.as_ptr(), base),
        Direction::Out => (base, memory.target.as_mut_ptr()),
    };
    timed(work.calls, || {
        for &(list_at, linear_at, count) in black_box(&pieces).iter() {
            let (from, to) = match work.direction {
                // SAFETY: each piece is `count` bytes of one segment of the
                // block and of the linear buffer, which are distinct
                // allocations; no other view of either lives meanwhile.
                Direction::In => unsafe { (from.add(linear_at), to.add(list_at)) },
                // SAFETY: as above.
                Direction::Out => unsafe { (from.add(list_at), to.add(linear_at)) },
            };
            // SAFETY: as above: in bounds and not overlapping.
            unsafe { std::ptr::copy_nonoverlapping(from, to, count) };
        }
        done
    })
}

/// A table of one entry per segment of the block.
fn table_over(memory: &Memory, segments: &[(usize, usize)]) -> SgTable<VirtPages> {
    let mut table = SgTable::new(VirtPages::new(), segments.len()).expect("table");
    for (mut entry, &(offset, len)) in table.entries_mut().zip(segments) {
        let page = memory.pages.handles()[offset / PAGE];
        // SAFETY: bytes of the block, allocated (zero-filled) by the
        // process-memory provider and outliving the table; every segment
        // starts in its page and stays in the block, whose handle reaches
        // it (the provider is linear); the table is only used by sg's
        // contender, while no other view of the block lives.
        unsafe { entry.set_page(page, (offset % PAGE) as u32, len as u32) };
    }
    table
}

/// Runs contender `contender` (0 for sg, then `PEERS`) on `work`.
fn contend(
    memory: &mut Memory,
    guest: &GuestMemoryMmap,
    table: &mut SgTable<VirtPages>,
    work: &Copy,
    contender: usize,
) -> f64 {
    match contender {
        0 => sg_copy(memory, table, work),
        1 => hand_copy(memory, work),
        2 => io_copy(memory, work),
        3 => vmm_copy(memory, guest, work),
        _ => floor_copy(memory, work),
    }
}

/// The contenders of a copy workload, in report order after sg.
const PEERS: [&str; 4] = ["hand", "io", "vmm", "memcpy"];

fn run_copy(memory: &mut Memory, guest: &GuestMemoryMmap, work: &Copy, reps: usize) -> Vec<Row> {
    let mut table = table_over(memory, &work.segments);
    // Check every contender's bytes once before timing: the copy's bytes
    // must be the linear buffer's (in) or the list's (out) at the skip.
    let mut random = Random(7);
    for contender in 0..=PEERS.len() {
        for byte in memory.source.iter_mut().chain(memory.target.iter_mut()) {
            *byte = random.next() as u8;
        }
        // The list's bytes: random too (through sg, in list order).
        let pattern = memory.source.clone();
        assert_eq!(
            copy_from_slice(table.as_list_mut(), 0, &pattern),
            table.as_list().byte_len() as usize
        );
        if work.direction == Direction::In {
            memory
                .source
                .iter_mut()
                .for_each(|byte| *byte = byte.wrapping_add(1));
        }
        let single = Copy {
            calls: 1,
            ..work.clone()
        };
        contend(memory, guest, &mut table, &single, contender);
        let mut list_bytes = vec![0u8; work.len];
        assert_eq!(
            copy_to_slice(table.as_list(), work.skip as u64, &mut list_bytes),
            work.len
        );
        let linear = match work.direction {
            Direction::In => &memory.source[..work.len],
            Direction::Out => &memory.target[..work.len],
        };
        assert!(
            list_bytes == linear,
            "{}: contender {contender} copied wrong bytes",
            work.name
        );
    }
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); 1 + PEERS.len()];
    let mut turns = Turns::new(1 + PEERS.len());
    for rep in 0..=reps {
        for &contender in turns.next() {
            let took = contend(memory, guest, &mut table, work, contender);
            // The first round warms up.
            if rep > 0 {
                seconds[contender].push(took);
            }
        }
    }
    rows(work.name, work.len * work.calls, seconds, "GB/s", 1e-9)
}

/// The rows of one workload from the seconds of each contender (sg first,
/// then `PEERS`): rates of `items` per sample, scaled by `scale`.
fn rows(
    name: &str,
    items: usize,
    seconds: Vec<Vec<f64>>,
    unit: &'static str,
    scale: f64,
) -> Vec<Row> {
    let rate = |seconds: &Vec<f64>| -> Vec<f64> {
        seconds.iter().map(|&s| items as f64 / s * scale).collect()
    };
    let sg = rate(&seconds[0]);
    let mut rows = Vec::new();
    for (peer, peer_seconds) in PEERS.iter().zip(&seconds[1..]) {
        if peer_seconds.is_empty() {
            continue;
        }
        let (row_name, note) = if *peer == "memcpy" {
            (
                format!("floor_{name}"),
                "sg over memcpy of the same segments (<= 1)".to_owned(),
            )
        } else {
            (
                format!("peer_{name}_{peer}"),
                format!("sg over {peer}: peer time / sg time"),
            )
        };
        let row_name: &'static str = Box::leak(row_name.into_boxed_str());
        let baseline: &'static str = Box::leak(format!("{peer}_{name}").into_boxed_str());
        rows.push(
            Row::new(row_name, unit, sg.clone(), note).with_baseline(baseline, rate(peer_seconds)),
        );
    }
    rows
}

/// Building a list over 4096 page addresses that merge nothing (every
/// other page of a block): sg's builder from pages against a
/// `Vec<IoSlice>` push and a `Vec<(GuestAddress, usize)>` push.
fn run_build(reps: usize, builds: usize) -> Vec<Row> {
    const PAGES: usize = 4096;
    let block = Pages::alloc(VirtPages::new(), 13).expect("out of memory");
    let handles: Vec<VirtPage> = (0..PAGES).map(|index| block.handles()[2 * index]).collect();
    let provider = VirtPages::new();
    let size = (PAGES * PAGE) as u64;
    let sg = || sg_build(&provider, &handles, size);
    assert_eq!(sg(), PAGES, "no two pages merge");
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); 1 + PEERS.len()];
    let mut turns = Turns::new(3);
    for rep in 0..=reps {
        for &contender in turns.next() {
            let took = match contender {
                0 => timed(builds, sg),
                1 => timed(builds, || {
                    let mut slices = Vec::with_capacity(PAGES);
                    for page in black_box(&handles).iter() {
                        // SAFETY: a whole page of `block`, zero-filled and
                        // only read here (nothing writes it meanwhile).
                        let bytes = unsafe { std::slice::from_raw_parts(page.as_ptr(), PAGE) };
                        slices.push(IoSlice::new(bytes));
                    }
                    black_box(&slices);
                    slices.len()
                }),
                _ => timed(builds, || {
                    let mut chain = Vec::with_capacity(PAGES);
                    for page in black_box(&handles).iter() {
                        chain.push((GuestAddress(page.addr() as u64), PAGE));
                    }
                    black_box(&chain);
                    chain.len()
                }),
            };
            if rep > 0 {
                // The peers as in `PEERS`: io at 2, vmm at 3.
                seconds[[0, 2, 3][contender]].push(took);
            }
        }
    }
    rows("build_4096_pages", PAGES * builds, seconds, "Mpage/s", 1e-6)
}

/// Copy-out of a `PageList` of `bytes` bytes into a linear buffer: the
/// quickstart's list, one entry per separately allocated page (pages of
/// no run, far apart), so the copy is bound by memory and each page starts
/// cold. sg against a hand loop over the pages' slices, `write_vectored`
/// of `IoSlice`s over them, and `memcpy` of each page (the floor); no
/// vm-memory, whose guest memory is one region, not pages apart.
fn run_page_list(reps: usize, bytes: usize) -> Vec<Row> {
    let mut list = PageList::new(VirtPages::new(), bytes as u64).expect("out of memory");
    let mut random = Random(5);
    let pattern: Vec<u8> = (0..bytes).map(|_| random.next() as u8).collect();
    assert_eq!(copy_from_slice(list.as_list_mut(), 0, &pattern), bytes);
    let list = list;
    // From here on the list's bytes are only read (sg's copy takes a
    // shared view), and the list outlives the slices (declared first).
    let pages: Vec<&[u8]> = list
        .as_list()
        .segments()
        .map(|segment| {
            // SAFETY: `len` initialised bytes of a page the list holds,
            // from `offset` in it, only read while the slices live.
            unsafe {
                std::slice::from_raw_parts(
                    segment.page.as_ptr().add(segment.offset as usize),
                    segment.len as usize,
                )
            }
        })
        .collect();
    let mut target = vec![0u8; bytes];
    let contend = |contender: usize, target: &mut [u8]| -> f64 {
        match contender {
            0 => timed(1, || {
                copy_to_slice(black_box(&list).as_list(), 0, black_box(&mut *target))
            }),
            1 => timed(1, || {
                let mut done = 0;
                for page in black_box(&pages).iter() {
                    target[done..done + page.len()].copy_from_slice(page);
                    done += page.len();
                }
                done
            }),
            2 => {
                let slices: Vec<IoSlice<'_>> =
                    pages.iter().map(|page| IoSlice::new(page)).collect();
                timed(1, || {
                    let mut writer = black_box(&mut *target);
                    writer.write_vectored(black_box(&slices)).unwrap_or(0)
                })
            }
            _ => timed(1, || {
                let (mut to, mut done) = (target.as_mut_ptr(), 0);
                for page in black_box(&pages).iter() {
                    // SAFETY: `page.len()` bytes of a page into the target
                    // at `done`; the pages fill the target exactly, and
                    // the two are distinct allocations.
                    unsafe {
                        std::ptr::copy_nonoverlapping(page.as_ptr(), to, page.len());
                        to = to.add(page.len());
                    }
                    done += page.len();
                }
                done
            }),
        }
    };
    // Every contender's bytes, once, before timing.
    for contender in 0..4 {
        target.fill(0);
        contend(contender, &mut target);
        assert!(
            target == pattern,
            "copy_out_page_list: contender {contender} copied wrong bytes"
        );
    }
    let mut seconds: Vec<Vec<f64>> = vec![Vec::new(); 1 + PEERS.len()];
    let mut turns = Turns::new(4);
    for rep in 0..=reps {
        for &contender in turns.next() {
            let took = contend(contender, &mut target);
            if rep > 0 {
                // The peers as in `PEERS`: hand at 1, io at 2, memcpy at 4.
                seconds[[0, 1, 2, 4][contender]].push(took);
            }
        }
    }
    rows("copy_out_page_list", bytes, seconds, "GB/s", 1e-9)
}

/// sg's build over the pages `handles` (out of line, so that profilers
/// such as callgrind see it as one function).
#[inline(never)]
fn sg_build(provider: &VirtPages, handles: &[VirtPage], size: u64) -> usize {
    // SAFETY: distinct whole pages of a block that outlives the table; the
    // table is only read (its length), never its bytes.
    let pages = unsafe { Pages::from_raw(provider, black_box(handles)) };
    let table = FromPages::new(pages, 0, size).build().expect("build");
    table.orig_nents()
}

fn main() {
    let mut quick = false;
    let mut reps = 11;
    let mut only = Vec::new();
    let mut arguments = std::env::args().skip(1);
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--quick" => quick = true,
            "--reps" => {
                reps = arguments
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(reps)
            }
            "--only" => only.extend(arguments.next()),
            _ => {}
        }
    }
    if quick {
        reps = 3;
    }
    let scale = if quick { 8 } else { 1 };
    let wanted =
        |name: &str| only.is_empty() || only.iter().any(|wanted| name.contains(wanted.as_str()));

    let pages = Pages::alloc(VirtPages::new(), BLOCK_ORDER).expect("out of memory");
    let mut memory = Memory {
        pages,
        source: vec![1; BLOCK],
        target: vec![1; BLOCK],
    };
    // SAFETY: the block is BLOCK bytes of readable and writable process
    // memory (from the global allocator, page-aligned), alive until the end
    // of `main`; vm-memory reaches it only with volatile accesses, during
    // its contender's runs, while no other view of the block lives.
    let region =
        unsafe { MmapRegion::<()>::build_raw(memory.base(), BLOCK, 0x1 | 0x2, 0x02 | 0x20) }
            .expect("guest region over the block");
    let guest = GuestMemoryMmap::from_regions(vec![
        GuestRegionMmap::new(region, GuestAddress(0)).expect("guest region"),
    ])
    .expect("guest memory");

    let mut random = Random(0x5EED);
    let mut pages_4k: Vec<usize> = (0..BLOCK / PAGE).collect();
    random.shuffle(&mut pages_4k);
    let four_k: Vec<(usize, usize)> = pages_4k.iter().map(|&page| (page * PAGE, PAGE)).collect();
    let mut segments_64k: Vec<usize> = (0..BLOCK / (64 << 10)).collect();
    random.shuffle(&mut segments_64k);
    let sixty_four_k: Vec<(usize, usize)> = segments_64k
        .iter()
        .map(|&segment| (segment << 16, 64 << 10))
        .collect();
    // Two 256-byte entries in two pages far apart, mid-page.
    let two = vec![(3 * PAGE + 2048, 256), (1000 * PAGE + 1024, 256)];
    let copies = [
        ("copy_in_4k_shuffled", &four_k, Direction::In, 0, BLOCK, 4),
        ("copy_out_4k_shuffled", &four_k, Direction::Out, 0, BLOCK, 4),
        (
            "copy_in_64k_shuffled",
            &sixty_four_k,
            Direction::In,
            0,
            BLOCK,
            4,
        ),
        (
            "copy_out_64k_shuffled",
            &sixty_four_k,
            Direction::Out,
            0,
            BLOCK,
            4,
        ),
        (
            "copy_in_2x256",
            &two,
            Direction::In,
            0,
            512,
            200_000 / scale,
        ),
        (
            "copy_in_1m_at_7m",
            &four_k,
            Direction::In,
            7 << 20,
            1 << 20,
            32,
        ),
        (
            "copy_out_1m_at_7m",
            &four_k,
            Direction::Out,
            7 << 20,
            1 << 20,
            32,
        ),
    ];
    let mut all = Vec::new();
    for (name, segments, direction, skip, len, calls) in copies {
        if !wanted(name) {
            continue;
        }
        eprintln!("peers: {name}");
        let work = Copy {
            name,
            segments: segments.clone(),
            direction,
            skip,
            len,
            calls,
        };
        all.extend(run_copy(&mut memory, &guest, &work, reps));
    }
    if wanted("build_4096_pages") {
        eprintln!("peers: build_4096_pages");
        all.extend(run_build(reps, 2000 / scale));
    }
    if wanted("copy_out_page_list") {
        eprintln!("peers: copy_out_page_list");
        all.extend(run_page_list(reps, if quick { 8 << 20 } else { 64 << 20 }));
    }
    drop(guest);
    let guest_sizes = workloads_guest::Sizes {
        buffer: if quick { 4 << 20 } else { 64 << 20 },
        reps,
    };
    all.extend(workloads_guest::run(&guest_sizes, wanted));
    for row in &all {
        println!("{}", row.to_line());
    }
}
