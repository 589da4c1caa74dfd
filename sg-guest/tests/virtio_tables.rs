//! sg-dev writes virtio descriptor tables (split and packed) from
//! segments; a device model reads them back with sg-guest's chain
//! builder. Both ends must agree: the table built from what sg-dev wrote
//! is the table built from the segments themselves, byte for byte, for
//! reading and for writing.

use std::io::{Read, Write};

use quickcheck::{Gen, QuickCheck, TestResult};
use sg_core::SgEntry;
use sg_dev::{
    DmaVec, VirtqDesc, VirtqPackedDesc, packed_chain, split_chain, write_packed, write_split,
};
use sg_guest::{
    ChainTable, GuestPages, HeapGuestMemory, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE,
};

/// Two regions of 16 KiB (4 KiB under Miri, where every byte of the
/// pattern and of the read-back is interpreted; 16 slots still hold the
/// longest chain).
const REGION_LEN: usize = if cfg!(miri) { 0x1000 } else { 0x4000 };
const REGIONS: [(u64, usize); 2] = [(0, REGION_LEN), (0x10_0000, REGION_LEN)];
const SLOT: u64 = 512;
const QUEUE: usize = 16;

/// Descriptors that do not overlap (each in its own 512-byte slot of one
/// of two regions), the first `readable` of them read by the device, and
/// where the driver starts writing them in a queue of 16.
#[derive(Clone, Debug)]
struct Case {
    segments: Vec<(u64, u32)>,
    readable: usize,
    first: u16,
}

impl quickcheck::Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let slots_per_region = REGIONS[0].1 as u64 / SLOT;
        let mut slots: Vec<u64> = (0..2 * slots_per_region).collect();
        for index in (1..slots.len()).rev() {
            slots.swap(index, usize::arbitrary(g) % (index + 1));
        }
        let count = 1 + usize::arbitrary(g) % 12;
        let segments = slots[..count]
            .iter()
            .map(|&slot| {
                let region = REGIONS[(slot / slots_per_region) as usize].0;
                let len = 1 + u64::arbitrary(g) % SLOT;
                let offset = u64::arbitrary(g) % (SLOT - len + 1);
                (region + slot % slots_per_region * SLOT + offset, len as u32)
            })
            .collect();
        Case {
            segments,
            readable: usize::arbitrary(g) % (count + 1),
            first: (usize::arbitrary(g) % QUEUE) as u16,
        }
    }
}

impl Case {
    /// The chain as a driver means it: `(addr, len, flags)` in order.
    fn chain(&self) -> Vec<(u64, u32, u16)> {
        let count = self.segments.len();
        self.segments
            .iter()
            .enumerate()
            .map(|(index, &(address, len))| {
                let write = if index >= self.readable {
                    VIRTQ_DESC_F_WRITE
                } else {
                    0
                };
                let next = if index + 1 < count {
                    VIRTQ_DESC_F_NEXT
                } else {
                    0
                };
                (address, len, write | next)
            })
            .collect()
    }

    fn views(&self) -> (Vec<DmaVec>, Vec<DmaVec>) {
        let view = |part: &[(u64, u32)]| {
            part.iter()
                .map(|&(address, len)| DmaVec::new(address, u64::from(len)))
                .collect::<Vec<_>>()
        };
        (
            view(&self.segments[..self.readable]),
            view(&self.segments[self.readable..]),
        )
    }

    /// The split-queue table sg-dev writes for the chain: the readable
    /// part, then the writable part linked behind it.
    fn split_table(&self) -> ([VirtqDesc; QUEUE], u16) {
        let (readable, writable) = self.views();
        let mut table = [VirtqDesc::default(); QUEUE];
        let mut head = None;
        let mut at = self.first;
        if !readable.is_empty() {
            let (first, written) = write_split(&readable, &mut table, at, false).unwrap();
            head = Some(first);
            at = ((usize::from(first) + written) % QUEUE) as u16;
        }
        if !writable.is_empty() {
            let (first, _) = write_split(&writable, &mut table, at, true).unwrap();
            if head.is_some() {
                // Link the readable part's last descriptor to the writable head.
                let last = (usize::from(first) + QUEUE - 1) % QUEUE;
                let d = table[last];
                table[last] =
                    VirtqDesc::new(d.addr(), d.len(), d.flags() | VIRTQ_DESC_F_NEXT, first);
            }
            head.get_or_insert(first);
        }
        (table, head.unwrap())
    }

    /// The packed ring sg-dev writes for the chain, likewise.
    fn packed_ring(&self) -> [VirtqPackedDesc; QUEUE] {
        let (readable, writable) = self.views();
        let mut ring = [VirtqPackedDesc::default(); QUEUE];
        let (mut at, mut wrap) = (self.first, true);
        if !readable.is_empty() {
            (at, wrap) = write_packed(&readable, &mut ring, at, wrap, 9, false).unwrap();
        }
        if !writable.is_empty() {
            if !readable.is_empty() {
                let last = (usize::from(at) + QUEUE - 1) % QUEUE;
                let d = ring[last];
                ring[last] =
                    VirtqPackedDesc::new(d.addr(), d.len(), d.id(), d.flags() | VIRTQ_DESC_F_NEXT);
            }
            write_packed(&writable, &mut ring, at, wrap, 9, true).unwrap();
        }
        ring
    }
}

/// What a device sees through a table built from `chain`: the readable
/// bytes, and the guest memory after writing `fill` through the writable
/// part, with the table's part lengths and entry counts.
fn serve(chain: &[(u64, u32, u16)]) -> (u64, u64, (usize, usize), Vec<u8>, Vec<u8>) {
    let memory = HeapGuestMemory::new(&REGIONS).unwrap();
    for &(base, len) in &REGIONS {
        let pattern: Vec<u8> = (0..len)
            .map(|index| (index * 7 + (base >> 12) as usize) as u8)
            .collect();
        memory.write(base, &pattern).unwrap();
    }
    let guest = GuestPages::new(&memory);
    let mut entries: [SgEntry<u64>; QUEUE] = Default::default();
    let mut table =
        ChainTable::build(&guest, &mut entries, QUEUE as u16, chain.iter().copied()).unwrap();
    let lengths = (
        table.readable_len(),
        table.writable_len(),
        table.entry_counts(),
    );
    let mut read = vec![0; table.readable_len() as usize];
    table.reader().read_exact(&mut read).unwrap();
    let fill: Vec<u8> = (0..table.writable_len())
        .map(|index| !(index as u8))
        .collect();
    table.writer().write_all(&fill).unwrap();
    let mut after = Vec::new();
    for &(base, len) in &REGIONS {
        let mut bytes = vec![0; len];
        memory.read(base, &mut bytes).unwrap();
        after.extend(bytes);
    }
    (lengths.0, lengths.1, lengths.2, read, after)
}

fn tests() -> u64 {
    if cfg!(miri) { 4 } else { 300 }
}

#[test]
fn split_tables_read_back_as_the_same_table() {
    fn property(case: Case) -> TestResult {
        let (table, head) = case.split_table();
        let mut walk = split_chain(&table, head);
        let chain: Vec<_> = walk.by_ref().collect();
        assert_eq!(walk.error(), None);
        assert_eq!(chain, case.chain());
        TestResult::from_bool(serve(&chain) == serve(&case.chain()))
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(property as fn(Case) -> TestResult);
}

#[test]
fn packed_rings_read_back_as_the_same_table() {
    fn property(case: Case) -> TestResult {
        let ring = case.packed_ring();
        // A device keeps the flags that describe the buffer; AVAIL and USED
        // are the ring's own.
        let keep = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_INDIRECT;
        let chain: Vec<_> = packed_chain(&ring, case.first)
            .map(|(address, len, flags)| (address, len, flags & keep))
            .collect();
        assert_eq!(chain, case.chain());
        TestResult::from_bool(serve(&chain) == serve(&case.chain()))
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(property as fn(Case) -> TestResult);
}
