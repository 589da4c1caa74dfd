//! readv/writev/preadv/pwritev straight between a file and a chain.
#![cfg(all(feature = "fs", unix))]

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};

use sg_core::SgEntry;
use sg_guest::{
    ChainTable, GuestPages, HeapGuestMemory, MAX_IOVECS, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE,
};

fn temp_file(name: &str, bytes: &[u8]) -> (File, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!("sg-guest-{name}-{}", std::process::id()));
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.write_all(bytes).unwrap();
    (file, path)
}

#[test]
#[cfg_attr(miri, ignore = "file system calls")]
fn vectored_file_io_through_a_chain_over_several_regions() {
    let memory = HeapGuestMemory::new(&[(0, 0x4000), (0x4000, 0x4000), (0x20000, 0x4000)]).unwrap();
    let guest = GuestPages::new(&memory);
    let image: Vec<u8> = (0..0x20000u32).map(|i| (i % 253) as u8).collect();
    let (mut file, path) = temp_file("fd", &image);
    // 70 writable descriptors of 100 bytes (more than one call's worth),
    // the first across the seam at 0x4000, then one in the far region.
    let mut chain: Vec<(u64, u32, u16)> = (0..70u64)
        .map(|i| {
            (
                0x3fc0 + i * 128,
                100,
                VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
            )
        })
        .collect();
    chain.push((0x20010, 500, VIRTQ_DESC_F_WRITE));
    let mut entries: [SgEntry<u64>; 80] = core::array::from_fn(|_| SgEntry::default());
    let mut table = ChainTable::build(&guest, &mut entries, 256, chain.iter().copied()).unwrap();
    let total = table.writable_len() as usize;
    let mut writer = table.writer();
    let first = writer.read_from_at(&file, total, 1000).unwrap();
    // One call takes at most MAX_IOVECS pieces; the seam descriptor is two.
    assert_eq!(first, 100 * (MAX_IOVECS - 1));
    let mut done = first;
    while done < total {
        done += writer
            .read_from_at(&file, total, 1000 + done as u64)
            .unwrap();
    }
    // Every byte equals the file's, read back by address.
    let mut offset = 1000;
    for &(address, len, _) in &chain {
        let mut got = vec![0; len as usize];
        memory.read(address, &mut got).unwrap();
        assert_eq!(got, image[offset..offset + len as usize]);
        offset += len as usize;
    }

    // Now the same buffers as readable descriptors, out with writev.
    let readable: Vec<_> = chain
        .iter()
        .map(|&(a, l, f)| (a, l, f & !VIRTQ_DESC_F_WRITE))
        .collect();
    let table = ChainTable::build(&guest, &mut entries, 256, readable.iter().copied()).unwrap();
    let mut reader = table.reader();
    let (mut out, out_path) = temp_file("fd-out", &[]);
    let mut sent = 0;
    while reader.available_bytes() > 0 {
        sent += reader.write_to(&out, usize::MAX).unwrap();
    }
    assert_eq!(sent, total);
    out.seek(SeekFrom::Start(0)).unwrap();
    assert_eq!(std::fs::read(&out_path).unwrap(), image[1000..1000 + total]);
    let mut reader = table.reader();
    assert_eq!(reader.write_to_at(&file, 10, 0).unwrap(), 10);
    file.flush().unwrap();
    std::fs::remove_file(path).unwrap();
    std::fs::remove_file(out_path).unwrap();
}
