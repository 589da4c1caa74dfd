//! Serving a request through a chain allocates nothing: counted by a
//! global allocator (the test kit's, which counts per thread).

use std::io::{Read, Write};

use sg_core::SgEntry;
use sg_guest::{ChainTable, GuestPages, HeapGuestMemory, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use sg_testkit::CountingAllocator;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn a_request_allocates_nothing() {
    let requests = if cfg!(miri) { 2 } else { 100 };
    // 64 KiB requests of 4 KiB descriptors, every other page of two
    // regions, then a status byte.
    let memory = HeapGuestMemory::new(&[(0, 0x20000), (0x100000, 0x20000)]).unwrap();
    let guest = GuestPages::new(&memory);
    let pages: Vec<u64> = (0..16u64)
        .map(|i| {
            if i < 8 {
                i * 0x2000
            } else {
                0x100000 + (i - 8) * 0x2000
            }
        })
        .collect();
    let mut entries: [SgEntry<u64>; 40] = core::array::from_fn(|_| SgEntry::default());
    let mut buffer = vec![0u8; 64 << 10];
    let reads: Vec<(u64, u32, u16)> = pages
        .iter()
        .map(|&a| (a, 4096, VIRTQ_DESC_F_NEXT))
        .chain([(0x1000, 1, VIRTQ_DESC_F_WRITE)])
        .collect();
    let writes: Vec<(u64, u32, u16)> = pages
        .iter()
        .map(|&a| (a, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE))
        .chain([(0x1000, 1, VIRTQ_DESC_F_WRITE)])
        .collect();
    let (count, ()) = CountingAllocator::allocations_in(|| {
        for round in 0..requests {
            let mut table =
                ChainTable::build(&guest, &mut entries, 256, reads.iter().copied()).unwrap();
            let (mut reader, mut writer) = table.reader_writer();
            reader.read_exact(&mut buffer).unwrap();
            writer.write_obj(round as u8).unwrap();
            let mut table =
                ChainTable::build(&guest, &mut entries, 256, writes.iter().copied()).unwrap();
            let mut writer = table.writer();
            writer.write_all(&buffer).unwrap();
            writer.write_obj(0u8).unwrap();
        }
    });
    assert_eq!(count, 0, "allocations during {requests} requests");
}
