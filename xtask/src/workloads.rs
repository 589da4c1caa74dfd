//! The workloads of PERF.md, each measured with its baseline in one run.

use std::hint::black_box;
use std::ptr::NonNull;

use sg_alloc::{FromPages, SgTable};
use sg_copy::{copy_from_slice, copy_to_slice, zero};
use sg_core::{PageProvider, Pages, SgEntry, SgList, VIRT_PAGE_SIZE, VirtPage, VirtPages};
use sg_testkit::FramePages;

use crate::measure::{Row, gigabytes_per_second, interleave, nanoseconds_per, repeat};

const PAGE: usize = VIRT_PAGE_SIZE;

/// Sizes of one run: the full sizes of PERF.md, or small ones for a smoke
/// test.
pub struct Sizes {
    pub buffer: usize,
    pub skip: usize,
    pub skip_len: usize,
    pub small_calls: usize,
    pub small_tables: usize,
    pub big_entries: usize,
    pub pages: usize,
    pub page_builds: usize,
    pub walks: usize,
    pub reps: usize,
}

impl Sizes {
    pub fn full(reps: usize) -> Self {
        Sizes {
            buffer: 64 << 20,
            skip: (32 << 20) + 100,
            skip_len: 16 << 20,
            small_calls: 1_000_000,
            small_tables: 1000,
            big_entries: 1 << 20,
            pages: 1 << 18,
            page_builds: 20,
            walks: 10,
            reps,
        }
    }

    pub fn quick() -> Self {
        Sizes {
            buffer: 4 << 20,
            skip: (2 << 20) + 100,
            skip_len: 1 << 20,
            small_calls: 100_000,
            small_tables: 100,
            big_entries: 1 << 16,
            pages: 1 << 14,
            page_builds: 5,
            walks: 3,
            reps: 7,
        }
    }
}

/// Zero-filled pages from one allocation of the process-memory provider, so
/// that runs of them merge and copies may cross from page to page.
struct Block {
    pages: VirtPages,
    first: VirtPage,
    order: u32,
}

/// The order of an allocation of at least `bytes` bytes: the next power of
/// two of pages.
fn order_for(bytes: usize) -> u32 {
    bytes.div_ceil(PAGE).next_power_of_two().trailing_zeros()
}

impl Block {
    /// At least `bytes` bytes: the next power of two of pages.
    fn new(bytes: usize) -> Self {
        let pages = VirtPages::new();
        let order = order_for(bytes);
        let first = pages.alloc_pages(order).expect("out of memory");
        Block {
            pages,
            first,
            order,
        }
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the block owns `PAGE << order` zero-initialised bytes from
        // its first page on, reached through `&mut self` only.
        unsafe { std::slice::from_raw_parts_mut(self.first.as_ptr(), PAGE << self.order) }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this order; every table of the
        // workloads is dropped before its block.
        unsafe { self.pages.free_pages(self.first, self.order) }
    }
}

/// A deterministic pseudo-random sequence (xorshift), for patterns and
/// shuffles.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// A table of one entry per page of `memory`, in `order`, set entry by
/// entry so that nothing merges in the table itself.
fn page_list<'a>(
    pages: &'a VirtPages,
    memory: &Pages<VirtPages>,
    order: &[usize],
) -> SgTable<&'a VirtPages> {
    let mut table = SgTable::new(pages, order.len()).expect("table");
    for (mut entry, &index) in table.entries_mut().zip(order) {
        // SAFETY: a whole page of `memory`, allocated (and zero-filled) by
        // the process-memory provider, which every `VirtPages` is; the
        // workloads drop their tables before the pages, and use one list at
        // a time, so no list reads bytes while another writes them.
        unsafe { entry.set_page(memory.handles()[index], 0, PAGE as u32) };
    }
    table
}

/// A group of workloads measured together: the names of its rows, and
/// the function that measures them.
pub struct Group {
    pub names: &'static [&'static str],
    pub run: fn(&Sizes) -> Vec<Row>,
}

/// Every group of workloads, in report order. A new group is one line
/// here (the peers, which need xtask's dev-dependencies, run in
/// `examples/peers.rs` instead).
pub const GROUPS: &[Group] = &[
    Group {
        names: &[
            "memcpy_64m",
            "memset_64m",
            "copy_from_buf_4k",
            "copy_to_buf_4k",
            "copy_to_buf_shuffled",
            "copy_to_buf_merged",
            "pcopy_to_buf_skip",
            "zero_4k",
        ],
        run: copies,
    },
    Group {
        names: &PIECE_NAMES,
        run: pieces,
    },
    Group {
        names: &["copy_small_512"],
        run: |sizes| vec![small_copy(sizes)],
    },
    Group {
        names: &["alloc_free_4096"],
        run: |sizes| {
            vec![alloc_free(
                sizes,
                4096,
                sizes.small_tables,
                "alloc_free_4096",
            )]
        },
    },
    Group {
        names: &["alloc_free_1m"],
        run: |sizes| vec![alloc_free(sizes, sizes.big_entries, 2, "alloc_free_1m")],
    },
    Group {
        names: &["from_pages_contig"],
        run: |sizes| vec![from_pages(sizes, |index| index as u64, "from_pages_contig")],
    },
    Group {
        names: &["from_pages_scattered"],
        run: |sizes| {
            vec![from_pages(
                sizes,
                |index| 2 * index as u64,
                "from_pages_scattered",
            )]
        },
    },
    Group {
        names: &["from_pages_runs8"],
        run: |sizes| {
            vec![from_pages(
                sizes,
                |index| (index / 8 * 16 + index % 8) as u64,
                "from_pages_runs8",
            )]
        },
    },
    Group {
        names: &["walk_1m", "walk_1m_next"],
        run: walk,
    },
    Group {
        names: &["entry_bytes"],
        run: |_| {
            vec![Row::new(
                "entry_bytes",
                "bytes",
                vec![size_of::<SgEntry<VirtPage>>() as f64],
                "size of one entry",
            )]
        },
    },
];

/// Every workload of PERF.md, in its order; only those named in `only`
/// (and the baselines measured with them) when it is not empty.
pub fn run(sizes: &Sizes, only: &[String]) -> Vec<Row> {
    let wanted = |name: &str| only.is_empty() || only.iter().any(|wanted| wanted == name);
    let mut rows = Vec::new();
    for group in GROUPS {
        if group.names.iter().any(|name| wanted(name)) {
            rows.extend(
                (group.run)(sizes)
                    .into_iter()
                    .filter(|row| wanted(row.name) || row.baseline.is_none()),
            );
        }
    }
    #[cfg(unix)]
    rows.extend(crate::workloads_io::run(sizes, &wanted));
    rows.extend(crate::workloads_dev::run(sizes, wanted));
    rows
}

/// The baselines: a plain copy and a plain zeroing of the whole buffer.
struct Baseline {
    source: Block,
    target: Block,
}

impl Baseline {
    fn memcpy(&mut self) {
        let source = black_box(self.source.bytes().as_ptr());
        let bytes = self.target.bytes();
        // SAFETY: the two blocks are distinct allocations of the same size.
        unsafe { std::ptr::copy_nonoverlapping(source, bytes.as_mut_ptr(), bytes.len()) };
        black_box(bytes.as_ptr());
    }

    fn memset(&mut self) {
        self.target.bytes().fill(0);
        black_box(self.target.bytes().as_ptr());
    }
}

/// The bandwidth workloads and their baselines.
fn copies(sizes: &Sizes) -> Vec<Row> {
    let n = sizes.buffer;
    let pages = VirtPages::new();
    let mut baseline = Baseline {
        source: Block::new(n),
        target: Block::new(n),
    };
    let list_memory = Pages::alloc(VirtPages::new(), order_for(n)).expect("out of memory");
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    // The linear buffers are page-aligned, as the C reference's are: a copy
    // between page-aligned pages and a buffer at another offset in its
    // cache lines measures the `memcpy` at that offset, not the list.
    let mut data_block = Block::new(n);
    let data: &mut [u8] = &mut data_block.bytes()[..n];
    data.fill_with(|| random.next() as u8);
    let data: &[u8] = data;
    baseline.source.bytes().copy_from_slice(data);
    baseline.target.bytes().fill(1);
    let mut out_block = Block::new(n);
    let out: &mut [u8] = &mut out_block.bytes()[..n];
    out.fill(1);

    let in_order: Vec<usize> = (0..n / PAGE).collect();
    let mut shuffled = in_order.clone();
    for index in (1..shuffled.len()).rev() {
        let other = (random.next() % (index as u64 + 1)) as usize;
        shuffled.swap(index, other);
    }
    let mut four_k = page_list(&pages, &list_memory, &in_order);
    let shuffled_list = page_list(&pages, &list_memory, &shuffled);
    // The set's pages in their (frame) order; the table borrows the set
    // shared, so it only reads.
    let merged = FromPages::new(&list_memory, 0, n as u64)
        .max_segment_size(0xFFFF_F000)
        .build()
        .expect("merged");
    assert_eq!(merged.orig_nents(), 1, "contiguous pages make one entry");

    // Check the lists before timing them.
    assert_eq!(copy_from_slice(four_k.as_list_mut(), 0, data), n);
    out.fill(0);
    assert_eq!(copy_to_slice(four_k.as_list(), 0, out), n);
    assert!(out == data, "a list in page order holds the bytes in order");
    out.fill(0);
    assert_eq!(copy_to_slice(merged.as_list(), 0, out), n);
    assert!(out == data, "a merged list holds the bytes in order");
    assert_eq!(copy_to_slice(shuffled_list.as_list(), 0, out), n);
    for (position, &index) in shuffled.iter().enumerate().step_by(97) {
        assert_eq!(out[position * PAGE..][..PAGE], data[index * PAGE..][..PAGE]);
    }

    let mut rows = Vec::new();
    let baselines: [(_, fn(&mut Baseline), _); 2] = [
        (
            "memcpy_64m",
            Baseline::memcpy,
            "memcpy between two pre-touched buffers",
        ),
        (
            "memset_64m",
            Baseline::memset,
            "memset to 0 of a pre-touched buffer",
        ),
    ];
    for (name, run, note) in baselines {
        let seconds = repeat(sizes.reps, || run(&mut baseline));
        rows.push(Row::new(
            name,
            "GB/s",
            gigabytes_per_second(n, &seconds),
            note,
        ));
    }

    let (work, base) = interleave(
        sizes.reps,
        || {
            black_box(copy_from_slice(four_k.as_list_mut(), 0, black_box(data)));
        },
        || baseline.memcpy(),
    );
    rows.push(bandwidth(
        "copy_from_buf_4k",
        n,
        &work,
        n,
        &base,
        "linear -> list of one-page entries",
    ));

    rows.push(copy_to_buf(
        sizes,
        "copy_to_buf_4k",
        four_k.as_list(),
        out,
        &mut baseline,
        "list of one-page entries -> linear",
    ));
    rows.push(copy_to_buf(
        sizes,
        "copy_to_buf_shuffled",
        shuffled_list.as_list(),
        out,
        &mut baseline,
        "one-page entries in shuffled page order -> linear",
    ));
    // Its provider is the set it borrows (which forwards to `VirtPages`).
    rows.push(copy_to_buf(
        sizes,
        "copy_to_buf_merged",
        merged.as_list(),
        out,
        &mut baseline,
        "one merged entry (from-pages builder) -> linear",
    ));

    let (work, base) = interleave(
        sizes.reps,
        || {
            let copied = copy_to_slice(
                four_k.as_list(),
                sizes.skip as u64,
                black_box(&mut out[..sizes.skip_len]),
            );
            black_box(copied + out[copied / 2] as usize);
        },
        || baseline.memcpy(),
    );
    assert!(out[..sizes.skip_len] == data[sizes.skip..][..sizes.skip_len]);
    rows.push(bandwidth(
        "pcopy_to_buf_skip",
        sizes.skip_len,
        &work,
        n,
        &base,
        "skip 32 MiB + 100 B, copy 16 MiB; baseline is a 64 MiB memcpy",
    ));

    let (work, base) = interleave(
        sizes.reps,
        || {
            black_box(zero(four_k.as_list_mut(), 0, n as u64));
        },
        || baseline.memset(),
    );
    rows.push(
        Row::new(
            "zero_4k",
            "GB/s",
            gigabytes_per_second(n, &work),
            "zero a list of one-page entries",
        )
        .with_baseline("memset_64m", gigabytes_per_second(n, &base)),
    );
    out.fill(1);
    assert_eq!(copy_to_slice(four_k.as_list(), 0, out), n);
    assert!(out.iter().all(|&byte| byte == 0), "zero wrote zeros");
    rows
}

/// Piece sizes for copying long runs, and their rows.
const PIECES: [usize; 5] = [4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20];
const PIECE_NAMES: [&str; 5] = [
    "memcpy_pieces_4k",
    "memcpy_pieces_16k",
    "memcpy_pieces_64k",
    "memcpy_pieces_256k",
    "memcpy_pieces_1m",
];

/// The whole buffer copied in pieces of each size of `PIECES` (what
/// sg-copy does with a long aligned run in its plain tuning, in 256 KiB
/// pieces; on AMD it takes one `rep movsb`), each interleaved with one
/// whole memcpy: which piece size wins on this machine.
fn pieces(sizes: &Sizes) -> Vec<Row> {
    let n = sizes.buffer;
    let mut baseline = Baseline {
        source: Block::new(n),
        target: Block::new(n),
    };
    baseline.source.bytes().fill(3);
    baseline.target.bytes().fill(1);
    PIECES
        .iter()
        .zip(PIECE_NAMES)
        .map(|(&piece, name)| {
            // Raw pointers from the blocks' handles, used only while no
            // slice of the blocks lives (the baseline makes its own).
            let (source, target) = (
                baseline.source.first.as_ptr(),
                baseline.target.first.as_ptr(),
            );
            let (work, base) = interleave(
                sizes.reps,
                || {
                    let source = black_box(source);
                    for start in (0..n).step_by(piece) {
                        // SAFETY: two distinct blocks of at least `n` bytes;
                        // each piece lies below `n` in both.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                source.add(start),
                                target.add(start),
                                piece.min(n - start),
                            );
                        }
                    }
                    black_box(target);
                },
                || baseline.memcpy(),
            );
            bandwidth(
                name,
                n,
                &work,
                n,
                &base,
                "the buffer memcpy'd in pieces of this size",
            )
        })
        .collect()
}

/// A whole list copied out to `out`, interleaved with the memcpy baseline.
fn copy_to_buf<P: PageProvider>(
    sizes: &Sizes,
    name: &'static str,
    list: SgList<'_, P>,
    out: &mut [u8],
    baseline: &mut Baseline,
    note: &str,
) -> Row {
    let n = sizes.buffer;
    let (work, base) = interleave(
        sizes.reps,
        || {
            let copied = copy_to_slice(list, 0, black_box(&mut *out));
            black_box(copied + out[copied / 2] as usize);
        },
        || baseline.memcpy(),
    );
    bandwidth(name, n, &work, n, &base, note)
}

fn bandwidth(
    name: &'static str,
    bytes: usize,
    work: &[f64],
    baseline_bytes: usize,
    baseline: &[f64],
    note: &str,
) -> Row {
    Row::new(name, "GB/s", gigabytes_per_second(bytes, work), note)
        .with_baseline("memcpy_64m", gigabytes_per_second(baseline_bytes, baseline))
}

/// 512 bytes out of a one-entry list per call. The source page and the
/// destination share one block: the destination is 64-byte aligned and
/// 2048 bytes from the source modulo 4096, as in the C reference, so that
/// placement does not move the figure from run to run.
fn small_copy(sizes: &Sizes) -> Row {
    let pages = VirtPages::new();
    // Three pages, page-aligned: a plain vector, over-allocated by a page.
    let mut memory = vec![0u8; 4 * PAGE];
    let start = memory.as_ptr().align_offset(PAGE);
    let block = &mut memory[start..start + 3 * PAGE];
    let mut random = Random(99);
    for byte in &mut block[..PAGE] {
        *byte = random.next() as u8;
    }
    let source: Vec<u8> = block[..512].to_vec();
    let (page, rest) = block.split_at_mut(PAGE + PAGE / 2);
    let mut table = SgTable::new(&pages, 1).expect("table");
    if let Some(mut entry) = table.entries_mut().next() {
        // SAFETY: the first page of `memory` (its page-aligned start),
        // which outlives the table and is reached only through it (the
        // destination below lies in other bytes of the vector).
        unsafe {
            let (handle, offset) = VirtPage::containing(NonNull::from(&mut page[..PAGE]).cast());
            entry.set_page(handle, offset, PAGE as u32);
        }
    }
    let out = &mut rest[..512];
    assert_eq!(copy_to_slice(table.as_list(), 0, out), 512);
    assert_eq!(out, &source[..]);
    let list = table.as_list();
    let seconds = repeat(sizes.reps, || {
        for _ in 0..sizes.small_calls {
            black_box(copy_to_slice(black_box(list), 0, black_box(&mut *out)));
        }
    });
    Row::new(
        "copy_small_512",
        "ns/call",
        nanoseconds_per(sizes.small_calls, &seconds),
        "512 B out of a one-entry list, per call",
    )
}

/// Builds and drops a chained table of `entries` entries, `tables` times per
/// repetition.
///
/// The baseline, measured alongside: the same bytes (one entry's size per
/// entry) allocated zeroed and freed in arrays of a page, as a table's
/// arrays are, with nothing else done.
fn alloc_free(sizes: &Sizes, entries: usize, tables: usize, name: &'static str) -> Row {
    let frames = FramePages::<PAGE>;
    let arrays = (entries * size_of::<SgEntry<u64>>()).div_ceil(PAGE);
    let (seconds, bare) = interleave(
        sizes.reps,
        || {
            for _ in 0..tables {
                let table = SgTable::new(&frames, entries).expect("table");
                black_box(table.as_list().first());
                drop(black_box(table));
            }
        },
        || {
            for _ in 0..tables {
                let memory: Vec<Vec<u8>> = (0..arrays).map(|_| vec![0u8; PAGE]).collect();
                drop(black_box(memory));
            }
        },
    );
    Row::new(
        name,
        "ns/entry",
        nanoseconds_per(entries * tables, &seconds),
        "allocate + free a chained table",
    )
    .with_baseline("bare_alloc", nanoseconds_per(entries * tables, &bare))
}

/// Builds and drops a table from `sizes.pages` fake pages whose frames
/// `frame(index)` gives, with max_segment 0xFFFFF000 as the C reference.
fn from_pages(sizes: &Sizes, frame: impl Fn(usize) -> u64, name: &'static str) -> Row {
    let frames = FramePages::<PAGE>;
    let base = 1u64 << 28;
    let handles: Vec<u64> = (0..sizes.pages).map(|index| base + frame(index)).collect();
    let size = (sizes.pages * PAGE) as u64;
    // SAFETY: `FramePages` pages are bare frame numbers, valid by
    // construction and never mapped (mapping panics), and the frames are
    // distinct (`frame` is strictly increasing); the table is never written.
    let table = FromPages::new(unsafe { Pages::from_raw(&frames, &handles[..]) }, 0, size)
        .max_segment_size(0xFFFF_F000)
        .build()
        .expect("from pages");
    assert_eq!(table.byte_len(), size);
    // glibc gives the top of its heap back to the system when a free leaves
    // more than 128 KiB free there, and the next build faults it all back
    // in: whether a freed table lies at the top depends on what the process
    // allocated before (this figure went from 3 to 12 ns/page with the order
    // of the workloads, all of it page faults). An allocation made while
    // the first table is alive lies above it, so the timed builds reuse its
    // memory below, as in a program with other live allocations, and the
    // figure measures the builder. (`alloc_free_*` keep glibc's behaviour,
    // which PERF.md's reference includes.)
    let fence = black_box(vec![0u8; 64 << 10]);
    drop(table);
    let seconds = repeat(sizes.reps, || {
        for _ in 0..sizes.page_builds {
            // SAFETY: as above: the same distinct frames, never mapped, and
            // a table that is never written. A borrowed set allocates nothing.
            let table = FromPages::new(
                unsafe { Pages::from_raw(&frames, black_box(&handles[..])) },
                0,
                size,
            )
            .max_segment_size(0xFFFF_F000)
            .build()
            .expect("from pages");
            black_box(table.orig_nents());
        }
    });
    drop(fence);
    Row::new(
        name,
        "ns/page",
        nanoseconds_per(sizes.pages * sizes.page_builds, &seconds),
        "build + free timed together",
    )
}

/// Counts the entries of a chained table with `sizes.big_entries` entries
/// (`walk_1m`: `count`, which passes each array by its link's byte count on
/// a table of `sg-alloc`), and walks them one by one with the iterator's
/// `next` (`walk_1m_next`: what any walk over the entries costs), each
/// against a bare sequential read of as many bytes as the entries take.
fn walk(sizes: &Sizes) -> Vec<Row> {
    let frames = FramePages::<PAGE>;
    let table = SgTable::new(&frames, sizes.big_entries).expect("table");
    assert_eq!(table.as_list().count(), sizes.big_entries);
    assert_eq!(table.as_list().iter().count(), sizes.big_entries);
    // The baseline: a bare sequential read of as many bytes as the
    // entries take, from a buffer of their size.
    let words = vec![1u64; sizes.big_entries * size_of::<SgEntry<u64>>() / 8];
    let bare_read = || {
        for _ in 0..sizes.walks {
            let sum = black_box(&words[..])
                .iter()
                .fold(0u64, |sum, &word| sum.wrapping_add(word));
            black_box(sum);
        }
    };
    let entries = sizes.walks * sizes.big_entries;
    let (counted, bare) = interleave(
        sizes.reps,
        || {
            let mut total = 0;
            for _ in 0..sizes.walks {
                total += black_box(table.as_list()).count();
            }
            assert_eq!(total, entries);
        },
        bare_read,
    );
    let (walked, bare_next) = interleave(
        sizes.reps,
        || {
            let mut total = 0;
            for _ in 0..sizes.walks {
                total += black_box(table.as_list()).iter().count();
            }
            assert_eq!(total, entries);
        },
        bare_read,
    );
    vec![
        Row::new(
            "walk_1m",
            "ns/entry",
            nanoseconds_per(entries, &counted),
            "count() of a chained table (each array by its link)",
        )
        .with_baseline("bare_read", nanoseconds_per(entries, &bare)),
        Row::new(
            "walk_1m_next",
            "ns/entry",
            nanoseconds_per(entries, &walked),
            "the entries one by one with next() (no target)",
        )
        .with_baseline("bare_read", nanoseconds_per(entries, &bare_next)),
    ]
}
