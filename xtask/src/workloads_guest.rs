//! Guest-memory workloads (sg-guest): requests of 4 KiB descriptors copied
//! through a descriptor chain table, against vm-memory's `read_slice` /
//! `write_slice` over the same descriptors.
//!
//! Each request of ours builds the chain table (checking virtio's rules,
//! in a reused entry array) and copies through its `Reader` or `Writer`;
//! the baseline only copies, one `read_slice`/`write_slice` per
//! descriptor. Descriptors are every other page of two regions of a
//! `GuestMemoryMmap`, so nothing merges.
//!
//! vm-memory is a peer, so a dev-dependency of xtask: this file is a
//! module of the `peers` example (`examples/peers.rs`), not of the xtask
//! binary.

use std::hint::black_box;
use std::io::{Read, Write};

use sg_core::SgEntry;
use sg_guest::{ChainTable, GuestPages, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::measure::{Row, gigabytes_per_second, interleave};

const PAGE: usize = 4096;
const REGION: usize = 4 << 20;
const SECOND_REGION: u64 = 1 << 32;

/// The sizes of one run.
pub struct Sizes {
    /// Bytes copied per timing.
    pub buffer: usize,
    /// Timings per contender.
    pub reps: usize,
}

/// The workloads, each with its vm-memory baseline; only those `wanted`.
pub fn run(sizes: &Sizes, wanted: impl Fn(&str) -> bool) -> Vec<Row> {
    let memory = GuestMemoryMmap::<()>::from_ranges(&[
        (GuestAddress(0), REGION),
        (GuestAddress(SECOND_REGION), REGION),
    ])
    .expect("guest memory of two regions");
    let mut rows = Vec::new();
    let cases: [(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        usize,
    ); 2] = [
        (
            "guest_read_64k",
            "guest_write_64k",
            "vm_read_slice_64k",
            "vm_write_slice_64k",
            64 << 10,
        ),
        (
            "guest_read_1m",
            "guest_write_1m",
            "vm_read_slice_1m",
            "vm_write_slice_1m",
            1 << 20,
        ),
    ];
    for (read, write, read_base, write_base, bytes) in cases {
        if wanted(read) {
            rows.push(request(&memory, sizes, bytes, false, read, read_base));
        }
        if wanted(write) {
            rows.push(request(&memory, sizes, bytes, true, write, write_base));
        }
    }
    rows
}

/// Guest addresses of `count` descriptors of a page: every other page,
/// half in each region.
fn descriptor_addresses(count: usize) -> Vec<u64> {
    (0..count)
        .map(|index| {
            let region = if index % 2 == 0 { 0 } else { SECOND_REGION };
            region + (index / 2 * 2 * PAGE) as u64
        })
        .collect()
}

/// Requests of `bytes` copied out of (or, when `writes`, into) guest
/// memory, `sizes.buffer` bytes per timing.
fn request(
    memory: &GuestMemoryMmap,
    sizes: &Sizes,
    bytes: usize,
    writes: bool,
    name: &'static str,
    baseline_name: &'static str,
) -> Row {
    let count = bytes / PAGE;
    let addresses = descriptor_addresses(count);
    let flags = if writes { VIRTQ_DESC_F_WRITE } else { 0 };
    let chain: Vec<(u64, u32, u16)> = addresses
        .iter()
        .enumerate()
        .map(|(index, &address)| {
            let next = if index + 1 < count {
                VIRTQ_DESC_F_NEXT
            } else {
                0
            };
            (address, PAGE as u32, flags | next)
        })
        .collect();
    let guest = GuestPages::new(memory);
    let mut entries: Vec<SgEntry<u64>> = (0..count).map(|_| SgEntry::default()).collect();
    // Both contenders' buffers start on a page boundary: `memcpy` and the
    // volatile copies run at different speeds at different offsets in a
    // cache line, and two allocations need not share one.
    let mut storage = vec![0u8; bytes + PAGE];
    let mut base_storage = storage.clone();
    let buffer = page_aligned(&mut storage, bytes);
    buffer
        .iter_mut()
        .enumerate()
        .for_each(|(index, byte)| *byte = index as u8);
    let base_buffer = page_aligned(&mut base_storage, bytes);
    base_buffer.copy_from_slice(buffer);
    let requests = (sizes.buffer / bytes).max(1);
    let (work, base) = interleave(
        sizes.reps,
        || {
            for _ in 0..requests {
                let mut table =
                    ChainTable::build(&guest, &mut entries, 1024, chain.iter().copied())
                        .expect("a valid chain");
                if writes {
                    table.writer().write_all(black_box(&*buffer)).expect("room");
                } else {
                    table
                        .reader()
                        .read_exact(black_box(&mut *buffer))
                        .expect("bytes");
                }
            }
            black_box(&mut *buffer);
        },
        || {
            for _ in 0..requests {
                for (piece, &address) in base_buffer.chunks_mut(PAGE).zip(&addresses) {
                    if writes {
                        memory
                            .write_slice(black_box(piece), GuestAddress(address))
                            .expect("room");
                    } else {
                        memory
                            .read_slice(black_box(piece), GuestAddress(address))
                            .expect("bytes");
                    }
                }
            }
            black_box(&mut *base_buffer);
        },
    );
    let moved = requests * bytes;
    let note = format!(
        "{} of {count} x 4 KiB descriptors, table built per request",
        if writes {
            "write into guest"
        } else {
            "read from guest"
        }
    );
    Row::new(name, "GB/s", gigabytes_per_second(moved, &work), note)
        .with_baseline(baseline_name, gigabytes_per_second(moved, &base))
}

/// The `bytes` bytes of `storage` (at least a page longer) from its first
/// page boundary on.
fn page_aligned(storage: &mut [u8], bytes: usize) -> &mut [u8] {
    let start = storage.as_ptr().align_offset(PAGE);
    &mut storage[start..start + bytes]
}
