//! A virtio-blk style device serving requests from a file through
//! descriptor chains in a `GuestMemoryMmap` of several regions.
//!
//! Each request is a chain: a device-readable header (type, sector), data
//! descriptors (device-writable for a read, device-readable for a write),
//! and a device-writable status byte. The device builds a table of the
//! chain in a reused entry array, reads the header, moves the data
//! between the file and guest memory with one `preadv`/`pwritev`, and
//! writes the status.
//!
//! Run: `cargo run -p sg-guest --features vm-memory --example virtio_blk`

use std::fs::File;
use std::io::Write as _;

use sg_core::SgEntry;
use sg_guest::{ChainTable, GuestPages, Pod, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// `struct virtio_blk_outhdr`.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
struct BlkHeader {
    kind: u32,
    reserved: u32,
    sector: u64,
}

// SAFETY: two `u32`s and a `u64`, `repr(C)`: no padding, any bytes valid.
unsafe impl Pod for BlkHeader {}

const VIRTIO_BLK_T_IN: u32 = 0;
const VIRTIO_BLK_T_OUT: u32 = 1;
const VIRTIO_BLK_S_OK: u8 = 0;
const VIRTIO_BLK_S_IOERR: u8 = 1;
const VIRTIO_BLK_S_UNSUPP: u8 = 2;
const SECTOR: u64 = 512;

/// Serves one request; returns the bytes moved.
fn serve(
    guest: &GuestPages<&GuestMemoryMmap>,
    entries: &mut [SgEntry<u64>],
    disk: &File,
    chain: &[(u64, u32, u16)],
) -> Result<usize, Box<dyn std::error::Error>> {
    let mut table = ChainTable::build(guest, entries, 256, chain.iter().copied())?;
    let (mut reader, mut writer) = table.reader_writer();
    let header: BlkHeader = reader.read_obj()?;
    let status_at = writer
        .available_bytes()
        .checked_sub(1)
        .ok_or("no status byte")?;
    let mut status = writer.split_at(status_at)?;
    let offset = header.sector * SECTOR;
    let (moved, code) = match header.kind {
        VIRTIO_BLK_T_IN => {
            let mut done = 0;
            while writer.available_bytes() > 0 {
                let at = offset + done as u64;
                match writer.read_from_at(disk, writer.available_bytes(), at)? {
                    0 => break,
                    n => done += n,
                }
            }
            (
                done,
                if writer.available_bytes() == 0 {
                    VIRTIO_BLK_S_OK
                } else {
                    VIRTIO_BLK_S_IOERR
                },
            )
        }
        VIRTIO_BLK_T_OUT => {
            let mut done = 0;
            while reader.available_bytes() > 0 {
                done += reader.write_to_at(disk, reader.available_bytes(), offset + done as u64)?;
            }
            (done, VIRTIO_BLK_S_OK)
        }
        _ => (0, VIRTIO_BLK_S_UNSUPP),
    };
    status.write_obj(code)?;
    Ok(moved)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Three regions: two that meet at 0x10000, one far away.
    let memory = GuestMemoryMmap::<()>::from_ranges(&[
        (GuestAddress(0), 0x10000),
        (GuestAddress(0x10000), 0x10000),
        (GuestAddress(0x100000), 0x10000),
    ])?;
    let guest = GuestPages::new(&memory);

    // A 64 KiB disk image.
    let path = std::env::temp_dir().join(format!("sg-guest-blk-{}", std::process::id()));
    let mut disk = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)?;
    let image: Vec<u8> = (0..0x10000u32).map(|i| (i % 251) as u8).collect();
    disk.write_all(&image)?;

    // The driver's side: a read of 12 KiB at sector 8, the data in three
    // descriptors (one across the seam of the first two regions).
    let header = BlkHeader {
        kind: VIRTIO_BLK_T_IN,
        reserved: 0,
        sector: 8,
    };
    memory.write_obj(header.kind, GuestAddress(0x1000))?;
    memory.write_obj(header.sector, GuestAddress(0x1008))?;
    let data = [(0xF000u64, 0x2000u32), (0x100000, 0x1000)];
    let status = 0x10F000u64;
    let chain = [
        (0x1000, 16, VIRTQ_DESC_F_NEXT),
        (data[0].0, data[0].1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT),
        (data[1].0, data[1].1, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT),
        (status, 1, VIRTQ_DESC_F_WRITE),
    ];

    // The device's side, with one entry array for every request.
    let mut entries: [SgEntry<u64>; 16] = Default::default();
    let moved = serve(&guest, &mut entries, &disk, &chain)?;
    let mut got = vec![0u8; 0x3000];
    memory.read_slice(&mut got[..0x2000], GuestAddress(data[0].0))?;
    memory.read_slice(&mut got[0x2000..], GuestAddress(data[1].0))?;
    assert_eq!(got, image[8 * 512..8 * 512 + 0x3000]);
    assert_eq!(
        memory.read_obj::<u8>(GuestAddress(status))?,
        VIRTIO_BLK_S_OK
    );
    println!("read request: {moved} bytes from the file into 3 guest regions, status OK");

    // A write request: the same buffers, now device-readable, to sector 0.
    memory.write_obj(VIRTIO_BLK_T_OUT, GuestAddress(0x1000))?;
    memory.write_obj(0u64, GuestAddress(0x1008))?;
    let chain = [
        (0x1000, 16, VIRTQ_DESC_F_NEXT),
        (data[0].0, data[0].1, VIRTQ_DESC_F_NEXT),
        (data[1].0, data[1].1, VIRTQ_DESC_F_NEXT),
        (status, 1, VIRTQ_DESC_F_WRITE),
    ];
    let moved = serve(&guest, &mut entries, &disk, &chain)?;
    let written = std::fs::read(&path)?;
    assert_eq!(written[..0x3000], image[8 * 512..8 * 512 + 0x3000]);
    println!("write request: {moved} bytes from guest memory to the file, status OK");
    std::fs::remove_file(&path)?;
    Ok(())
}
