//! Building the NVMe PRP list and the SGL of a 1 MiB request: mapped into
//! one IOVA range (one segment), and page by page (256 scattered
//! segments). `cargo bench -p sg-dev --bench prp`; the per-page figure is
//! the time divided by 256.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sg_dev::{DmaVec, SglDescriptor, SglOptions, build_prp, build_sgl};

const PAGE: u64 = 4096;
const PAGES: u64 = (1 << 20) / PAGE;

fn views() -> [(&'static str, Vec<DmaVec>); 2] {
    [
        ("one_segment", vec![DmaVec::new(0x10_0000, 1 << 20)]),
        (
            "scattered_pages",
            (0..PAGES)
                .map(|i| DmaVec::new(0x1_0000_0000 + ((i * 97) % PAGES) * 2 * PAGE, PAGE))
                .collect(),
        ),
    ]
}

fn prp_1m(c: &mut Criterion) {
    let mut group = c.benchmark_group("prp_1m");
    group.throughput(Throughput::Elements(PAGES));
    group.measurement_time(Duration::from_secs(2));
    let mut list = vec![0u64; (PAGE / 8) as usize];
    for (name, view) in views() {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut page = Some((&mut list[..], 0xFEE0_0000u64));
                black_box(build_prp(black_box(&view), PAGE, || page.take()))
            });
        });
    }
    group.finish();
}

fn sgl_1m(c: &mut Criterion) {
    let mut group = c.benchmark_group("sgl_1m");
    group.throughput(Throughput::Elements(PAGES));
    group.measurement_time(Duration::from_secs(2));
    let mut segment = vec![SglDescriptor::default(); 256];
    let mut next = vec![SglDescriptor::default(); 256];
    for (name, view) in views() {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut pages = [
                    (&mut segment[..], 0xFEF0_0000u64),
                    (&mut next[..], 0xFEF0_1000),
                ]
                .into_iter();
                black_box(build_sgl(black_box(&view), SglOptions::default(), || {
                    pages.next()
                }))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, prp_1m, sgl_1m);
criterion_main!(benches);
