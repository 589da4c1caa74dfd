//! Descriptor chains over multi-region guest memory, against sg-testkit's
//! `Model` and the backends' own `read`/`write` (vm-memory's
//! `read_slice`/`write_slice` for `GuestMemoryMmap`); every bad chain is a
//! typed error. The heap backend's tests run under Miri.

use std::io::{Read, Write};

use quickcheck::{Gen, QuickCheck, TestResult};
use sg_core::{Error, PageProvider, SgEntry};
use sg_guest::{
    ChainTable, Descriptor, GuestError, GuestPages, GuestRegions, HeapGuestMemory,
    VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
};
use sg_testkit::Model;

/// Reads and writes guest memory by address: the oracle.
trait Oracle: GuestRegions {
    fn get(&self, address: u64, buffer: &mut [u8]);
    fn put(&self, address: u64, buffer: &[u8]);
}

impl Oracle for HeapGuestMemory {
    fn get(&self, address: u64, buffer: &mut [u8]) {
        self.read(address, buffer).unwrap();
    }
    fn put(&self, address: u64, buffer: &[u8]) {
        self.write(address, buffer).unwrap();
    }
}

#[cfg(feature = "vm-memory")]
impl Oracle for vm_memory::GuestMemoryMmap<()> {
    fn get(&self, address: u64, buffer: &mut [u8]) {
        use vm_memory::Bytes;
        self.read_slice(buffer, vm_memory::GuestAddress(address))
            .unwrap();
    }
    fn put(&self, address: u64, buffer: &[u8]) {
        use vm_memory::Bytes;
        self.write_slice(buffer, vm_memory::GuestAddress(address))
            .unwrap();
    }
}

/// A random case: regions (guest address, bytes), descriptors that do
/// not overlap, how many are readable, and an operation.
#[derive(Clone, Debug)]
struct Case {
    regions: Vec<(u64, usize)>,
    chain: Vec<(u64, u32)>,
    readable: usize,
    skip: u64,
    data: Vec<u8>,
}

impl quickcheck::Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Self {
        let pick = |g: &mut Gen, n: u64| u64::arbitrary(g) % n;

        let mut regions = Vec::new();
        let mut address = pick(g, 4) * 4096;
        for _ in 0..1 + pick(g, 4) {
            // Under Miri, which interprets every byte, smaller memory.
            let pages = 1 + pick(g, if cfg!(miri) { 2 } else { 4 }) as usize;
            regions.push((address, pages * 4096));
            // Regions that meet (gap 0) make descriptors that span both.
            address += (pages as u64 + pick(g, 3)) * 4096;
        }
        // Non-overlapping descriptors, in address order, inside runs of
        // regions that meet.
        let mut chain = Vec::new();
        for &(start, len) in &regions {
            let mut at = start + pick(g, 256);
            let end = start + len as u64;
            while at < end && chain.len() < 8 {
                let len = 1 + pick(g, (end - at).min(5000));
                chain.push((at, len as u32));
                at += len + pick(g, 300);
            }
        }
        // Descriptors across the seam of regions that meet.
        for pair in regions.windows(2) {
            let seam = pair[0].0 + pair[0].1 as u64;
            if seam == pair[1].0 && bool::arbitrary(g) {
                chain.retain(|&(a, l)| a + u64::from(l) <= seam - 100 || a >= seam + 100);
                chain.push((seam - 100, 200));
            }
        }
        chain.sort();
        let total: u64 = chain.iter().map(|&(_, l)| u64::from(l)).sum();
        Case {
            readable: pick(g, chain.len() as u64 + 1) as usize,
            skip: pick(g, total + 2),
            data: (0..pick(g, total + 10))
                .map(|index| index as u8 ^ u8::arbitrary(g))
                .take(if cfg!(miri) { 1000 } else { usize::MAX })
                .collect(),
            regions,
            chain,
        }
    }
}

/// The bytes at the descriptors, through the oracle.
fn gather<M: Oracle>(memory: &M, chain: &[(u64, u32)]) -> Vec<u8> {
    let mut bytes = Vec::new();
    for &(address, len) in chain {
        let mut piece = vec![0; len as usize];
        memory.get(address, &mut piece);
        bytes.extend_from_slice(&piece);
    }
    bytes
}

fn check<M: Oracle>(memory: &M, case: &Case) -> TestResult {
    if case.chain.is_empty() {
        return TestResult::discard();
    }
    // Fill memory with a pattern through the oracle.
    for (index, &(address, len)) in case.regions.iter().enumerate() {
        let pattern: Vec<u8> = (0..len).map(|i| (i * 7 + index * 13) as u8).collect();
        memory.put(address, &pattern);
    }
    let (readable, writable) = case.chain.split_at(case.readable);
    let flags = |index: usize| {
        let mut flags = if index < case.readable {
            0
        } else {
            VIRTQ_DESC_F_WRITE
        };
        if index + 1 < case.chain.len() {
            flags |= VIRTQ_DESC_F_NEXT;
        }
        flags
    };
    let descriptors = case
        .chain
        .iter()
        .enumerate()
        .map(|(index, &(address, len))| (address, len, flags(index)));
    let guest = GuestPages::new(memory);
    let mut entries: [SgEntry<u64>; 32] = Default::default();
    let mut table = ChainTable::build(&guest, &mut entries, 256, descriptors).unwrap();
    let read_model = Model::new(gather(memory, readable));
    let mut write_model = Model::new(gather(memory, writable));
    assert_eq!(table.readable_len(), read_model.len() as u64);
    assert_eq!(table.writable_len(), write_model.len() as u64);

    // Read from `skip` on through the table.
    let (mut reader, mut writer) = table.reader_writer();
    let skip = (case.skip as usize).min(reader.available_bytes());
    let mut rest = reader.split_at(skip).unwrap();
    assert_eq!(reader.available_bytes(), skip);
    let mut got = Vec::new();
    rest.read_to_end(&mut got).unwrap();
    let mut expected = vec![0; got.len()];
    assert_eq!(
        read_model.copy_to_slice(skip as u64, &mut expected),
        got.len()
    );
    assert_eq!(got, expected);
    assert_eq!(got.len(), read_model.len() - skip);

    // Write from `skip` on through the table.
    let skip = (case.skip as usize).min(writer.available_bytes());
    let mut tail = writer.split_at(skip).unwrap();
    let written = tail.write(&case.data).unwrap();
    assert_eq!(
        written,
        write_model.copy_from_slice(skip as u64, &case.data)
    );
    assert_eq!(tail.bytes_written(), written);
    write_model.assert_eq_bytes(&gather(memory, writable));
    // The readable bytes are untouched.
    read_model.assert_eq_bytes(&gather(memory, readable));
    TestResult::passed()
}

fn tests() -> u64 {
    if cfg!(miri) { 2 } else { 300 }
}

#[test]
fn heap_chain_bytes_match_the_model() {
    fn property(case: Case) -> TestResult {
        let memory = HeapGuestMemory::new(&case.regions).unwrap();
        check(&memory, &case)
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(property as fn(Case) -> TestResult);
}

#[cfg(feature = "vm-memory")]
#[test]
#[cfg_attr(miri, ignore = "mmap")]
fn mmap_chain_bytes_match_read_slice_and_write_slice() {
    fn property(case: Case) -> TestResult {
        let ranges: Vec<_> = case
            .regions
            .iter()
            .map(|&(address, len)| (vm_memory::GuestAddress(address), len))
            .collect();
        let memory = vm_memory::GuestMemoryMmap::<()>::from_ranges(&ranges).unwrap();
        check(&memory, &case)
    }
    QuickCheck::new()
        .tests(tests())
        .quickcheck(property as fn(Case) -> TestResult);
}

fn build(chain: &[(u64, u32, u16)], queue: u16, entries: usize) -> Result<(u64, u64), GuestError> {
    let memory = HeapGuestMemory::new(&[(0, 0x4000), (0x4000, 0x1000), (0x10000, 0x2000)]).unwrap();
    let guest = GuestPages::new(&memory);
    let mut slots: Vec<SgEntry<u64>> = (0..entries).map(|_| SgEntry::default()).collect();
    let table = ChainTable::build(&guest, &mut slots, queue, chain.iter().copied())?;
    Ok((table.readable_len(), table.writable_len()))
}

const N: u16 = VIRTQ_DESC_F_NEXT;
const W: u16 = VIRTQ_DESC_F_WRITE;

#[test]
fn every_bad_chain_is_a_typed_error() {
    assert_eq!(build(&[(0, 8, N), (0x10, 8, 0)], 8, 4), Ok((16, 0)));
    assert_eq!(
        build(&[(0, 8, N | W), (0x10, 8, 0)], 8, 4),
        Err(GuestError::ReadableAfterWritable { index: 1 })
    );
    assert_eq!(
        build(&[(0, 8, N), (0x10, 0, W)], 8, 4),
        Err(GuestError::ZeroLength { index: 1 })
    );
    assert_eq!(
        build(&[(0x10, 8, N), (0, u32::MAX, W)], 8, 4),
        Err(GuestError::LengthOverflow { index: 1 })
    );
    assert_eq!(
        build(&[(u64::MAX - 2, 8, 0)], 8, 4),
        Err(GuestError::LengthOverflow { index: 0 })
    );
    let long = [(0u64, 1u32, N); 9];
    assert_eq!(
        build(&long, 8, 16),
        Err(GuestError::ChainTooLong { queue_size: 8 })
    );
    assert_eq!(build(&[(0, 8, N)], 8, 4), Err(GuestError::Unterminated));
    assert_eq!(build(&[], 8, 4), Err(GuestError::Empty));
    assert_eq!(
        build(&[(0, 8, VIRTQ_DESC_F_INDIRECT)], 8, 4),
        Err(GuestError::Indirect { index: 0 })
    );
    assert_eq!(
        build(&[(0, 8, N), (8, 8, N), (16, 8, 0)], 8, 2),
        Err(GuestError::TooManyEntries { capacity: 2 })
    );
    assert_eq!(
        build(&[(0, 8, 0)], 8, 0),
        Err(GuestError::TooManyEntries { capacity: 0 })
    );
    // The chain ends at the first descriptor without NEXT.
    assert_eq!(build(&[(0, 8, 0), (0x10, 0, 0)], 8, 4), Ok((8, 0)));
}

#[test]
fn a_hole_is_a_typed_error_not_a_panic() {
    // 0x5000..0x10000 is a hole.
    assert_eq!(
        build(&[(0x6000, 8, W)], 8, 4),
        Err(GuestError::Hole { address: 0x6000 })
    );
    // A descriptor that runs off the end of a region into the hole.
    assert_eq!(
        build(&[(0x4ff0, 0x20, 0)], 8, 4),
        Err(GuestError::Hole { address: 0x5000 })
    );
    // Past the last region.
    assert_eq!(
        build(&[(0x12000, 1, 0)], 8, 4),
        Err(GuestError::Hole { address: 0x12000 })
    );
    // Regions that meet: one descriptor over the seam is two entries.
    assert_eq!(build(&[(0x3ff0, 0x20, 0)], 8, 4), Ok((0x20, 0)));
    assert_eq!(
        build(&[(0x3ff0, 0x20, 0)], 8, 1),
        Err(GuestError::TooManyEntries { capacity: 1 })
    );
    // At map time, the provider's fallible map says so too.
    let memory = HeapGuestMemory::new(&[(0, 0x1000)]).unwrap();
    let guest = GuestPages::new(&memory);
    assert_eq!(guest.try_map(5), Err(Error::OutsideMemory { frame: 5 }));
    assert_eq!(
        guest.try_map(u64::MAX),
        Err(Error::OutsideMemory { frame: u64::MAX })
    );
}

#[test]
fn a_page_shared_by_two_regions_is_a_typed_error() {
    let memory = HeapGuestMemory::new(&[(0, 0x1800), (0x1800, 0x800)]).unwrap();
    let guest = GuestPages::new(&memory);
    let mut entries: [SgEntry<u64>; 4] = Default::default();
    assert_eq!(
        ChainTable::build(&guest, &mut entries, 8, [(0x1900, 8, 0)]).unwrap_err(),
        GuestError::SharedPage {
            index: 0,
            address: 0x1900
        }
    );
}

#[test]
fn headers_and_short_chains() {
    let memory = HeapGuestMemory::new(&[(0, 0x2000)]).unwrap();
    memory.write(0x10, &[1, 0, 0, 0, 2, 0, 0, 0]).unwrap();
    let guest = GuestPages::new(&memory);
    let mut entries: [SgEntry<u64>; 4] = Default::default();
    let chain = [
        Descriptor {
            addr: 0x10,
            len: 8,
            flags: N,
        },
        Descriptor {
            addr: 0x100,
            len: 3,
            flags: W,
        },
    ];
    let mut table = ChainTable::build(&guest, &mut entries, 8, chain).unwrap();
    let (mut reader, mut writer) = table.reader_writer();
    let header: [u32; 2] = reader.read_obj().unwrap();
    assert_eq!(header, [1u32.to_le(), 2u32.to_le()]);
    assert_eq!(reader.bytes_read(), 8);
    assert_eq!(
        reader.read_obj::<u8>(),
        Err(GuestError::ShortChain {
            needed: 1,
            available: 0
        })
    );
    assert_eq!(
        writer.write_obj(7u32),
        Err(GuestError::ShortChain {
            needed: 4,
            available: 3
        })
    );
    writer.write_obj(0xABu8).unwrap();
    let mut status = [0u8];
    memory.read(0x100, &mut status).unwrap();
    assert_eq!(status, [0xAB]);
    // sg-copy's zero and copy_list take the volatile path for guest memory.
    let written = sg_copy::zero(table.writable().unwrap(), 0, 100);
    assert_eq!(written, 3);
    memory.read(0x100, &mut status).unwrap();
    assert_eq!(status, [0]);
}

#[test]
fn copy_list_between_chains_is_volatile_and_exact() {
    let memory = HeapGuestMemory::new(&[(0, 0x2000), (0x2000, 0x2000)]).unwrap();
    let source: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    memory.write(0x1f00, &source).unwrap();
    let guest = GuestPages::new(&memory);
    let mut from_entries: [SgEntry<u64>; 4] = Default::default();
    let from = ChainTable::build(&guest, &mut from_entries, 8, [(0x1f00, 300, 0)]).unwrap();
    assert_eq!(from.entry_counts(), (2, 0)); // the seam at 0x2000 splits it
    let mut to_entries: [SgEntry<u64>; 4] = Default::default();
    let chain = [(0x3000, 100, W | N), (0x3800, 250, W)];
    let mut to = ChainTable::build(&guest, &mut to_entries, 8, chain).unwrap();
    let copied = sg_copy::copy_list(to.writable().unwrap(), 0, from.readable().unwrap(), 0, 1000);
    assert_eq!(copied, 300);
    let mut got = vec![0; 100];
    memory.read(0x3000, &mut got).unwrap();
    assert_eq!(got, source[..100]);
    let mut got = vec![0; 200];
    memory.read(0x3800, &mut got).unwrap();
    assert_eq!(got, source[100..]);
}

#[cfg(all(feature = "vm-memory", target_os = "linux"))]
#[test]
#[cfg_attr(miri, ignore = "mmap")]
fn a_read_only_vm_memory_region_is_a_hole() {
    use vm_memory::{GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};
    let region = MmapRegion::build(None, 0x1000, 1, 0x22).unwrap(); // PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS
    let region = GuestRegionMmap::new(region, GuestAddress(0)).unwrap();
    let memory = GuestMemoryMmap::<()>::from_regions(vec![region]).unwrap();
    let guest = GuestPages::new(&memory);
    let mut entries: [SgEntry<u64>; 1] = Default::default();
    assert_eq!(
        ChainTable::build(&guest, &mut entries, 8, [(0x10, 8, W)]).unwrap_err(),
        GuestError::Hole { address: 0x10 }
    );
}
