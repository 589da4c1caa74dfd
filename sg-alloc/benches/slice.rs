//! What a byte-range slice costs: slicing a 1,048,576-entry table at its
//! start, middle and end, against walking the same table to the entry the
//! slice starts in (by bytes, as slicing must, and by entry count, the
//! kernel's `sg_next` loop). `cargo bench -p sg-alloc --bench slice`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sg_alloc::SgTable;
use sg_core::{PageProvider, SgList, VirtPages};

const ENTRIES: usize = 1 << 20;

/// The length of entry `index`: 512 to 4096 bytes.
fn length(index: usize) -> u32 {
    512 * (1 + (index % 8) as u32)
}

/// Where entry `index` starts, in bytes from the start of the table.
fn start_of(index: usize) -> u64 {
    (0..index).map(|index| u64::from(length(index))).sum()
}

/// The index of the entry holding byte `skip`, found by walking and summing
/// lengths: the walk a slice needs to find its first entry.
fn walk_to_byte(list: SgList<'_, &VirtPages>, skip: u64) -> Option<usize> {
    let mut position = 0u64;
    list.iter().position(|entry| {
        position += u64::from(entry.len());
        position > skip
    })
}

fn slice_against_walk(c: &mut Criterion) {
    let pages = VirtPages::new();
    let page = pages.alloc_pages(0).expect("a page");
    let mut table = SgTable::new(&pages, ENTRIES).expect("a table of 1M entries");
    for (index, mut entry) in table.entries_mut().enumerate() {
        // SAFETY: bytes of the page allocated above; the benchmark never
        // reads or writes them, it only walks the entries.
        unsafe { entry.set_page(page, 0, length(index)) };
    }
    let list = table.as_list();

    let mut group = c.benchmark_group("slice_1m");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for (name, index) in [("start", 0), ("middle", ENTRIES / 2), ("end", ENTRIES - 1)] {
        // 100 bytes from the second byte of the entry.
        let skip = start_of(index) + 1;
        let len = 100;
        assert_eq!(walk_to_byte(list, skip), Some(index));
        let slice = list.slice(skip, len).expect("inside");
        assert_eq!(slice.first().map(|entry| entry.len()), Some(length(index)));

        group.bench_function(format!("slice/{name}"), |b| {
            b.iter(|| black_box(black_box(list).slice(black_box(skip), len)).is_ok())
        });
        group.bench_function(format!("walk_bytes/{name}"), |b| {
            b.iter(|| walk_to_byte(black_box(list), black_box(skip)))
        });
        group.bench_function(format!("walk_count/{name}"), |b| {
            b.iter(|| {
                black_box(list)
                    .iter()
                    .nth(black_box(index))
                    .map(|entry| entry.len())
            })
        });
    }
    group.finish();
    drop(table);
    // SAFETY: allocated above with order 0; the table is gone.
    unsafe { pages.free_pages(page, 0) };
}

criterion_group!(benches, slice_against_walk);
criterion_main!(benches);
