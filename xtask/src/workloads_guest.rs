//! Guest-memory workloads (sg-guest): requests of 4 KiB descriptors copied
//! through a descriptor chain table, against two peers over the same
//! descriptors: vm-memory's `read_slice` / `write_slice` (`guest_*` rows),
//! and virtio-queue's `Reader` / `Writer` (`guest_queue_*` rows).
//!
//! Each request of ours builds the chain table (checking virtio's rules,
//! in a reused entry array) and copies through its `Reader` or `Writer`.
//! The vm-memory baseline only copies, one `read_slice`/`write_slice` per
//! descriptor, with no chain to check. The virtio-queue baseline does what
//! a device model does per request: its `Reader::new`/`Writer::new` walks
//! the chain (a clone of one `DescriptorChain` over a mock split queue in
//! the same guest memory, made once) and collects its buffers, then copies.
//! Descriptors are every other page of two regions of a `GuestMemoryMmap`,
//! so nothing merges.
//!
//! vm-memory is a peer, so a dev-dependency of xtask: this file is a
//! module of the `peers` example (`examples/peers.rs`), not of the xtask
//! binary.

use std::cell::RefCell;
use std::hint::black_box;
use std::io::{Read, Write};

use sg_core::SgEntry;
use sg_guest::{ChainTable, GuestPages, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use virtio_queue::desc::RawDescriptor;
use virtio_queue::desc::split::Descriptor as SplitDescriptor;
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Reader, Writer};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::measure::{Row, gigabytes_per_second, interleave};

const PAGE: usize = 4096;
const REGION: usize = 4 << 20;
const SECOND_REGION: u64 = 1 << 32;
/// Where the mock queue of the virtio-queue peer lies: past every
/// descriptor's page in the first region.
const QUEUE_AT: u64 = 3 << 20;
/// The mock queue's size: room for the longest chain.
const QUEUE_SIZE: u16 = 256;

/// Which peer a row measures sg against.
#[derive(Clone, Copy, PartialEq)]
enum Peer {
    /// vm-memory's `read_slice`/`write_slice`, one per descriptor.
    Slices,
    /// virtio-queue's `Reader`/`Writer`, made per request from the chain.
    Queue,
}

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
    // Every guest page written once before any row runs: a page of fresh
    // anonymous memory that is only read maps the kernel's one zero page,
    // which stays in cache, so a read row that ran before any write row
    // measured that page (45-49 GB/s for 1 MiB reads, against 22-25 once
    // the pages were real), as a guest's memory never is.
    let pattern = vec![0x5au8; REGION];
    for start in [0, SECOND_REGION] {
        memory
            .write_slice(&pattern, GuestAddress(start))
            .expect("filling the guest memory");
    }
    let mut rows = Vec::new();
    // (name, baseline, bytes, writes, peer)
    let cases: [(&'static str, &'static str, usize, bool, Peer); 8] = [
        (
            "guest_read_64k",
            "vm_read_slice_64k",
            64 << 10,
            false,
            Peer::Slices,
        ),
        (
            "guest_write_64k",
            "vm_write_slice_64k",
            64 << 10,
            true,
            Peer::Slices,
        ),
        (
            "guest_read_1m",
            "vm_read_slice_1m",
            1 << 20,
            false,
            Peer::Slices,
        ),
        (
            "guest_write_1m",
            "vm_write_slice_1m",
            1 << 20,
            true,
            Peer::Slices,
        ),
        (
            "guest_queue_read_64k",
            "vq_reader_64k",
            64 << 10,
            false,
            Peer::Queue,
        ),
        (
            "guest_queue_write_64k",
            "vq_writer_64k",
            64 << 10,
            true,
            Peer::Queue,
        ),
        (
            "guest_queue_read_1m",
            "vq_reader_1m",
            1 << 20,
            false,
            Peer::Queue,
        ),
        (
            "guest_queue_write_1m",
            "vq_writer_1m",
            1 << 20,
            true,
            Peer::Queue,
        ),
    ];
    for (name, baseline, bytes, writes, peer) in cases {
        if wanted(name) {
            rows.push(request(&memory, sizes, bytes, writes, peer, name, baseline));
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
    peer: Peer,
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
    // One buffer, page-aligned, for every contender: `memcpy` and the
    // volatile copies run at different speeds at different offsets in a
    // cache line, and a buffer's place against the guest pages decides
    // which cache sets a copy contends for (two separate buffers gave sg
    // 24 or 45 GB/s on the same 1 MiB reads, depending on which rows ran
    // before).
    let mut storage = vec![0u8; bytes + PAGE];
    page_aligned(&mut storage, bytes)
        .iter_mut()
        .enumerate()
        .for_each(|(index, byte)| *byte = index as u8);
    let storage = RefCell::new(storage);
    let requests = (sizes.buffer / bytes).max(1);
    // The virtio-queue peer's chain: the same descriptors in a mock split
    // queue's table in the same guest memory, popped once and cloned per
    // request.
    let queue = MockSplitQueue::create(memory, GuestAddress(QUEUE_AT), QUEUE_SIZE);
    let descriptors: Vec<RawDescriptor> = chain
        .iter()
        .map(|&(address, len, flags)| {
            RawDescriptor::from(SplitDescriptor::new(address, len, flags, 0))
        })
        .collect();
    let queue_chain = queue.build_desc_chain(&descriptors).expect("a mock chain");
    let (work, base) = interleave(
        sizes.reps,
        || {
            let mut storage = storage.borrow_mut();
            let buffer = page_aligned(&mut storage, bytes);
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
            let mut storage = storage.borrow_mut();
            let base_buffer = page_aligned(&mut storage, bytes);
            if peer == Peer::Queue {
                for _ in 0..requests {
                    if writes {
                        let mut writer =
                            Writer::new(memory, black_box(&queue_chain).clone()).expect("writer");
                        writer.write_all(black_box(&*base_buffer)).expect("room");
                    } else {
                        let mut reader =
                            Reader::new(memory, black_box(&queue_chain).clone()).expect("reader");
                        reader
                            .read_exact(black_box(&mut *base_buffer))
                            .expect("bytes");
                    }
                }
                black_box(&mut *base_buffer);
                return;
            }
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
