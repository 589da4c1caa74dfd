//! The table workloads of PERF.md under criterion: building and dropping
//! chained tables, building from pages, and walking a big table.
//! `cargo bench -p sg-alloc --bench build`; `cargo xtask perf` runs the
//! same workloads beside the C reference's figures.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sg_alloc::{FromPages, SgTable};
use sg_core::{Pages, VirtPage, VirtPages};
use sg_testkit::FramePages;

/// Pages without memory: the builders and walks never touch bytes.
const FRAMES: FramePages<4096> = FramePages;

fn alloc_free(c: &mut Criterion) {
    let mut group = c.benchmark_group("alloc_free");
    for (name, entries) in [("alloc_free_4096", 4096usize), ("alloc_free_1m", 1 << 20)] {
        group.throughput(Throughput::Elements(entries as u64));
        if entries > 4096 {
            group.sample_size(10);
        }
        group.bench_function(name, |b| {
            b.iter(|| drop(black_box(SgTable::new(&FRAMES, entries).expect("table"))))
        });
    }
    group.finish();
}

/// A pattern of frames: a name, and the frame of page `index`.
type Pattern = (&'static str, fn(usize) -> u64);

fn from_pages(c: &mut Criterion) {
    const PAGES: usize = 1 << 18;
    let patterns: [Pattern; 3] = [
        ("from_pages_contig", |index| index as u64),
        ("from_pages_scattered", |index| 2 * index as u64),
        ("from_pages_runs8", |index| {
            (index / 8 * 16 + index % 8) as u64
        }),
    ];
    let mut group = c.benchmark_group("from_pages");
    group
        .throughput(Throughput::Elements(PAGES as u64))
        .sample_size(20);
    for (name, frame) in patterns {
        let handles: Vec<u64> = (0..PAGES).map(|index| (1 << 28) + frame(index)).collect();
        let size = (PAGES * 4096) as u64;
        // SAFETY: distinct frames of `FramePages`, which never maps a page,
        // so no byte is reached; borrowing the handles allocates nothing.
        let mut pages = unsafe { Pages::from_raw(&FRAMES, &handles[..]) };
        group.bench_function(name, |b| {
            b.iter(|| {
                let table = FromPages::new(black_box(&mut pages), 0, size)
                    .max_segment_size(0xFFFF_F000)
                    .build()
                    .expect("from pages");
                black_box(table.orig_nents())
            })
        });
    }
    group.finish();
}

/// The peers' build: 4096 process pages that merge nothing (every other
/// page of a block), the whole-page path for pages that continue nothing,
/// against which `cargo xtask perf` puts a `Vec<IoSlice>` push.
fn from_virt_pages(c: &mut Criterion) {
    const PAGES: usize = 4096;
    let block = Pages::alloc(VirtPages::new(), 13).expect("out of memory");
    let handles: Vec<VirtPage> = (0..PAGES).map(|index| block.handles()[2 * index]).collect();
    let size = (PAGES * 4096) as u64;
    let mut group = c.benchmark_group("from_pages");
    group.throughput(Throughput::Elements(PAGES as u64));
    group.bench_function("from_virt_pages_scattered_4096", |b| {
        b.iter(|| {
            // SAFETY: distinct whole pages of `block`, which outlives every
            // table; the tables are only counted, never read or written.
            let pages = unsafe { Pages::from_raw(VirtPages::new(), black_box(&handles[..])) };
            let table = FromPages::new(pages, 0, size).build().expect("from pages");
            black_box(table.orig_nents())
        })
    });
    group.finish();
}

fn walk(c: &mut Criterion) {
    let table = SgTable::new(&FRAMES, 1 << 20).expect("table");
    let mut group = c.benchmark_group("walk");
    group
        .throughput(Throughput::Elements(1 << 20))
        .sample_size(20);
    group.bench_function("walk_1m", |b| b.iter(|| black_box(table.as_list()).count()));
    group.finish();
}

criterion_group!(benches, alloc_free, from_pages, from_virt_pages, walk);
criterion_main!(benches);
