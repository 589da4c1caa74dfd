//! A length-prefixed message decoded from a table through `bytes::Buf`:
//! three frames (a big-endian `u32` length, then that many bytes) are
//! written with `BufMut` into a table over five small buffers, so that
//! prefixes and bodies straddle the buffers, then decoded with `Buf`
//! straight out of the table: no copy into a contiguous buffer first.
//!
//! Run with `cargo run -p sg-examples --example buf_decode`.

use bytes::{Buf, BufMut};
use sg_alloc::SliceTable;
use sg_copy::{ListBuf, ListBufMut};

fn main() -> Result<(), sg_core::Error> {
    let mut buffers = [[0u8; 7]; 5];
    let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(|buffer| &mut buffer[..]).collect();
    let mut table = SliceTable::new(&mut iov)?;

    let messages: [&[u8]; 3] = [b"scatter", b"gather", b"!"];
    let mut writer = ListBufMut::new(table.as_list_mut());
    for message in messages {
        writer.put_u32(message.len() as u32);
        writer.put_slice(message);
    }
    println!(
        "encoded 3 frames; {} bytes of the table left",
        writer.remaining_mut()
    );
    drop(writer);

    let mut reader = ListBuf::new(table.as_list());
    println!("first chunk: {} bytes (one buffer)", reader.chunk().len());
    for expected in messages {
        // A parser reads straight out of the table: the length may be
        // split across two buffers, and so may the body.
        let len = reader.get_u32() as usize;
        let body = reader.copy_to_bytes(len);
        println!("frame of {len} bytes: {:?}", String::from_utf8_lossy(&body));
        assert_eq!(&body[..], expected);
    }
    println!("{} bytes after the frames", reader.remaining());
    Ok(())
}
