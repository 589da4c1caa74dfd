//! The copy workloads of PERF.md under criterion, each beside its
//! baseline: `cargo bench -p sg-copy`. `cargo xtask perf` runs the same
//! workloads interleaved with their baselines and prints the ratios.

use std::hint::black_box;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use sg_alloc::{FromPages, SgTable};
use sg_copy::{copy_from_slice, copy_to_slice, zero};
use sg_core::{PageProvider, Pages, SgList, VIRT_PAGE_SIZE, VirtPages};

const PAGE: usize = VIRT_PAGE_SIZE;
const BUFFER: usize = 64 << 20;

/// Pages of one allocation of the process-memory provider (at least
/// `bytes` bytes: the next power of two of pages), so that runs of them
/// merge and copies may cross from page to page. Dropping the set gives
/// them back.
fn memory(bytes: usize) -> Pages<VirtPages> {
    let order = bytes.div_ceil(PAGE).next_power_of_two().trailing_zeros();
    Pages::alloc(VirtPages::new(), order).expect("out of memory")
}

/// A table of one entry per page of `memory`, in `order`, set entry by
/// entry so that nothing merges.
fn page_table<'a>(
    provider: &'a VirtPages,
    memory: &Pages<VirtPages>,
    order: &[usize],
) -> SgTable<&'a VirtPages> {
    let mut table = SgTable::new(provider, order.len()).expect("table");
    for (mut entry, &index) in table.entries_mut().zip(order) {
        // SAFETY: a whole page of `memory`, allocated (and zero-filled) by
        // the process-memory provider, which every `VirtPages` is; the
        // benchmarks drop their tables before the pages, and run one at a
        // time, so no list reads bytes while another writes them.
        unsafe { entry.set_page(memory.handles()[index], 0, PAGE as u32) };
    }
    table
}

fn shuffled(count: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for index in (1..count).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        order.swap(index, (state % (index as u64 + 1)) as usize);
    }
    order
}

fn copies(c: &mut Criterion) {
    let provider = VirtPages::new();
    let memory = memory(BUFFER);
    let in_order: Vec<usize> = (0..BUFFER / PAGE).collect();
    let mut four_k = page_table(&provider, &memory, &in_order);
    let shuffled_table = page_table(&provider, &memory, &shuffled(BUFFER / PAGE));
    // The set's pages in their (frame) order; the table borrows the set
    // shared, so it only reads.
    let merged = FromPages::new(&memory, 0, BUFFER as u64)
        .max_segment_size(0xFFFF_F000)
        .build()
        .expect("merged");
    let source = vec![7u8; BUFFER];
    let mut target = vec![0u8; BUFFER];

    let mut group = c.benchmark_group("copy_64m");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(BUFFER as u64));
    group.bench_function("memcpy_64m", |b| {
        b.iter(|| target.copy_from_slice(black_box(&source)))
    });
    group.bench_function("copy_from_buf_4k", |b| {
        b.iter(|| copy_from_slice(four_k.as_list_mut(), 0, black_box(&source)))
    });
    /// A whole list copied out to `target`.
    fn copy_to_buf<P: PageProvider>(
        group: &mut BenchmarkGroup<'_, WallTime>,
        name: &str,
        list: SgList<'_, P>,
        target: &mut [u8],
    ) {
        group.bench_function(name, |b| {
            b.iter(|| copy_to_slice(list, 0, black_box(&mut *target)))
        });
    }
    copy_to_buf(&mut group, "copy_to_buf_4k", four_k.as_list(), &mut target);
    copy_to_buf(
        &mut group,
        "copy_to_buf_shuffled",
        shuffled_table.as_list(),
        &mut target,
    );
    // Its provider is the set it borrows (which forwards to `VirtPages`).
    copy_to_buf(
        &mut group,
        "copy_to_buf_merged",
        merged.as_list(),
        &mut target,
    );
    group.bench_function("memset_64m", |b| b.iter(|| black_box(&mut target).fill(0)));
    group.bench_function("zero_4k", |b| {
        b.iter(|| zero(four_k.as_list_mut(), 0, BUFFER as u64))
    });
    group.finish();

    let (skip, len) = ((32 << 20) + 100, 16 << 20);
    let mut group = c.benchmark_group("pcopy_16m");
    group
        .sample_size(10)
        .throughput(Throughput::Bytes(len as u64));
    group.bench_function("pcopy_to_buf_skip", |b| {
        b.iter(|| copy_to_slice(four_k.as_list(), skip, black_box(&mut target[..len])))
    });
    group.finish();
}

fn small(c: &mut Criterion) {
    let provider = VirtPages::new();
    let memory = memory(3 * PAGE);
    let base = memory.handles()[0].as_ptr();
    let mut table = SgTable::new(&provider, 1).expect("table");
    if let Some(mut entry) = table.entries_mut().next() {
        // SAFETY: the first page of `memory`, allocated by the
        // process-memory provider and dropped after the table; nothing else
        // reaches its bytes.
        unsafe { entry.set_page(memory.handles()[0], 0, PAGE as u32) };
    }
    // The destination is 64-byte aligned and 2048 bytes from the source
    // modulo 4096, as in the C reference; both come from one pointer.
    // SAFETY: bytes `PAGE + PAGE / 2 ..` of the three pages, which the
    // table does not reach.
    let out = unsafe { std::slice::from_raw_parts_mut(base.add(PAGE + PAGE / 2), 512) };
    let mut group = c.benchmark_group("copy_small");
    group.throughput(Throughput::Bytes(512));
    group.bench_function("copy_small_512", |b| {
        b.iter(|| copy_to_slice(black_box(table.as_list()), 0, black_box(&mut *out)))
    });
    group.finish();
}

/// The fast paths of a few entries, of a long skip and of ends at different
/// offsets in a cache line: 512 bytes into a list of two 256-byte entries
/// in pages far apart (segment by segment, no run joining), 16 MiB of
/// shuffled one-page entries into a `Vec` (cache-line copies) and back
/// (streamed where the tuning streams long copies into a list), and 1 MiB
/// at 7 MiB of that list (the skip passes over 1792 entries array by
/// array).
fn fast_paths(c: &mut Criterion) {
    let provider = VirtPages::new();
    let memory = memory(16 << 20);
    let mut two = SgTable::new(&provider, 2).expect("table");
    for (mut entry, page) in two.entries_mut().zip([3, 1000]) {
        // SAFETY: 256 bytes in the middle of a page of `memory`, allocated
        // by the process-memory provider and dropped after the table; the
        // two entries are in different pages, and no other list of this
        // benchmark is used meanwhile.
        unsafe { entry.set_page(memory.handles()[page], 2048, 256) };
    }
    let source = vec![7u8; 1 << 20];
    let mut group = c.benchmark_group("fast_paths");
    group.throughput(Throughput::Bytes(512));
    group.bench_function("copy_in_2x256", |b| {
        b.iter(|| copy_from_slice(black_box(two.as_list_mut()), 0, black_box(&source[..512])))
    });
    drop(two);
    let mut shuffled_table = page_table(&provider, &memory, &shuffled((16 << 20) / PAGE));
    let mut out = vec![0u8; 1 << 20];
    group.throughput(Throughput::Bytes(1 << 20));
    group.bench_function("copy_in_1m_at_7m", |b| {
        b.iter(|| {
            copy_from_slice(
                black_box(shuffled_table.as_list_mut()),
                7 << 20,
                black_box(&source),
            )
        })
    });
    // A Vec of this size lies 16 bytes off a page: the runs are copied a
    // cache line at a time, not with memcpy.
    let mut vec_out = vec![0u8; 16 << 20];
    group.throughput(Throughput::Bytes(16 << 20));
    group.bench_function("copy_out_4k_shuffled_to_vec", |b| {
        b.iter(|| {
            copy_to_slice(
                black_box(shuffled_table.as_list()),
                0,
                black_box(&mut vec_out),
            )
        })
    });
    // 16 MiB into the list: on AMD before Zen 5 a copy this long writes
    // its runs with non-temporal stores.
    group.throughput(Throughput::Bytes(16 << 20));
    group.bench_function("copy_in_4k_shuffled_from_vec", |b| {
        b.iter(|| {
            copy_from_slice(
                black_box(shuffled_table.as_list_mut()),
                0,
                black_box(&vec_out),
            )
        })
    });
    group.throughput(Throughput::Bytes(1 << 20));
    group.bench_function("copy_out_1m_at_7m", |b| {
        b.iter(|| {
            copy_to_slice(
                black_box(shuffled_table.as_list()),
                7 << 20,
                black_box(&mut out),
            )
        })
    });
    group.finish();
}

/// sg's own cost per piece of a vectored write: 4096 shuffled pages in
/// batches of 1024 iovecs to `/dev/null`, which takes every byte without
/// copying, so what is timed is the walk, the mappings, the iovec arrays
/// and four system calls.
#[cfg(unix)]
fn vectored(c: &mut Criterion) {
    let provider = VirtPages::new();
    let memory = memory(16 << 20);
    let table = page_table(&provider, &memory, &shuffled((16 << 20) / PAGE));
    let null = std::fs::File::options()
        .write(true)
        .open("/dev/null")
        .expect("opening /dev/null");
    let mut group = c.benchmark_group("vectored");
    group.throughput(Throughput::Elements(((16 << 20) / PAGE) as u64));
    group.bench_function("write_4k_shuffled_to_null", |b| {
        b.iter(|| sg_copy::write_list_at(&null, black_box(table.as_list()), 0).expect("write"))
    });
    group.finish();
}

#[cfg(not(unix))]
fn vectored(_: &mut Criterion) {}

criterion_group!(benches, copies, small, fast_paths, vectored);
criterion_main!(benches);
