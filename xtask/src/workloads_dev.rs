//! The device-format workloads of `cargo xtask perf` (sg-dev): building an
//! NVMe PRP list for a 1 MiB request.

use std::hint::black_box;

use sg_dev::{DmaVec, build_prp};

use crate::measure::{Row, nanoseconds_per, repeat};
use crate::workloads::Sizes;

/// The controller's memory page size.
const PAGE: u64 = 4096;
/// Pages of a 1 MiB request.
const PAGES: usize = (1 << 20) / PAGE as usize;
/// Where the list page lies on the bus.
const LIST_BUS: u64 = 0xFEE0_0000;

/// The rows whose names `wanted` accepts.
pub fn run(sizes: &Sizes, wanted: impl Fn(&str) -> bool) -> Vec<Row> {
    let mut rows = Vec::new();
    // A one-step mapping of scattered pages: 256 one-page segments.
    let scattered: Vec<DmaVec> = (0..PAGES as u64)
        .map(|i| DmaVec::new(0x1_0000_0000 + ((i * 97) % PAGES as u64) * 2 * PAGE, PAGE))
        .collect();
    // The same request mapped into one IOVA range: one segment.
    let iova = [DmaVec::new(0x10_0000, 1 << 20)];
    for (name, view, note) in [
        (
            "prp_1m",
            &scattered[..],
            "PRP list of 256 one-page segments",
        ),
        ("prp_1m_iova", &iova[..], "PRP list of one 1 MiB segment"),
    ] {
        if wanted(name) {
            rows.push(prp(sizes, view, name, note));
        }
    }
    rows
}

/// Builds the PRP list of `view` into one list page, `builds` times per
/// repetition; nanoseconds per page of the request.
fn prp(sizes: &Sizes, view: &[DmaVec], name: &'static str, note: &str) -> Row {
    let builds = sizes.small_calls / 10;
    let mut list = vec![0u64; (PAGE / 8) as usize];
    let seconds = repeat(sizes.reps, || {
        for _ in 0..builds {
            let mut page = Some((&mut list[..], LIST_BUS));
            let prp = build_prp(black_box(view), PAGE, || page.take()).expect("a valid view");
            black_box(prp);
        }
        black_box(&list);
    });
    Row::new(
        name,
        "ns/page",
        nanoseconds_per(builds * PAGES, &seconds),
        note,
    )
}
