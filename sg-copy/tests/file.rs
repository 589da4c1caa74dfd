//! Positional vectored I/O against a real temporary file: a list over three
//! slices goes out in one `pwritev` at offset 4096 and comes back in one
//! `preadv` into a list over three other slices; byte-range views, lists
//! longer than one call takes, the end of the file, and overlapping
//! entries.

#![cfg(all(unix, feature = "fs"))]

use std::fs::File;
use std::io::ErrorKind;
use std::ptr::NonNull;

use sg_alloc::{SharedSliceTable, SliceTable};
use sg_copy::{MAX_IO_SLICES, read_at, read_exact_at, write_all_at, write_at};
use sg_core::{SgEntry, SgListMut, VirtPages};
use sg_testkit::TempFile;

/// `len` bytes of a pattern that differs from `seed` to `seed`.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|index| (index as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn three_slices_in_one_pwritev_at_4096_and_back_in_one_preadv() {
    let file = TempFile::new("three-slices");
    // Bytes that were there before: the write must leave them alone.
    let before = vec![b'p'; 4096];
    std::fs::write(file.path(), &before).unwrap();

    // Three slices: a header, a body that crosses page boundaries, a trailer.
    let mut header = pattern(16, 1);
    let mut body = pattern(9000, 2);
    let mut trailer = pattern(5, 3);
    let expected: Vec<u8> = [&header[..], &body[..], &trailer[..]].concat();
    let mut iov: [&mut [u8]; 3] = [&mut header, &mut body, &mut trailer];
    let table = SliceTable::new(&mut iov).unwrap();
    assert_eq!(table.orig_nents(), 3);

    // One call writes everything.
    let written = write_at(&file.file, table.as_list(), 4096).unwrap();
    assert_eq!(written, expected.len());
    drop(table);
    assert_eq!(file.bytes(), [&before[..], &expected[..]].concat());

    // One call reads it back into three slices of other lengths.
    let mut first = vec![0u8; 100];
    let mut second = vec![0u8; 4000];
    let mut third = vec![0u8; expected.len() - 4100];
    let mut iov: [&mut [u8]; 3] = [&mut first, &mut second, &mut third];
    let mut table = SliceTable::new(&mut iov).unwrap();
    let read = read_at(&file.file, table.as_list_mut(), 4096).unwrap();
    assert_eq!(read, expected.len());
    drop(table);
    assert_eq!(first, expected[..100]);
    assert_eq!(second, expected[100..4100]);
    assert_eq!(third, expected[4100..]);
    // The first buffers are untouched.
    assert_eq!(header, pattern(16, 1));
    assert_eq!(body, pattern(9000, 2));
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn writing_past_the_end_leaves_zeros_before() {
    let file = TempFile::new("hole");
    let parts: [&[u8]; 3] = [b"one,", b"two,", b"three"];
    let table = SharedSliceTable::new(&parts).unwrap();
    assert_eq!(write_at(&file.file, table.as_list(), 4096).unwrap(), 13);
    let bytes = file.bytes();
    assert_eq!(bytes.len(), 4096 + 13);
    assert!(bytes[..4096].iter().all(|&byte| byte == 0));
    assert_eq!(&bytes[4096..], b"one,two,three");
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn byte_range_views_write_and_read_their_range() {
    let file = TempFile::new("range");
    let mut buffers = [*b"abcdef", *b"ghijkl", *b"mnopqr"];
    let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(|buffer| &mut buffer[..]).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    // Bytes 4..14 of the list: "efghijklmn".
    let range = table.as_list().slice(4, 10).unwrap();
    assert_eq!(write_at(&file.file, range, 1).unwrap(), 10);
    assert_eq!(file.bytes(), b"\0efghijklmn");

    // Read "hij" back over bytes 0..3 of the list.
    let head = table.as_list_mut().into_slice(0, 3).unwrap();
    assert_eq!(read_at(&file.file, head, 4).unwrap(), 3);
    drop(table);
    assert_eq!(&buffers[0], b"hijdef");
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn lists_longer_than_one_call_takes_go_whole_with_the_all_forms() {
    let file = TempFile::new("long");
    let slices = MAX_IO_SLICES * 2 + 77;
    let mut buffers: Vec<Vec<u8>> = (0..slices)
        .map(|index| pattern(1 + index % 13, index as u8))
        .collect();
    let expected: Vec<u8> = buffers.iter().flatten().copied().collect();
    let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
    let table = SliceTable::new(&mut iov).unwrap();

    // One call takes at most `MAX_IO_SLICES` entries.
    let first: usize = expected.len().min(
        table
            .as_list()
            .iter()
            .take(MAX_IO_SLICES)
            .map(|entry| entry.len() as usize)
            .sum(),
    );
    assert_eq!(write_at(&file.file, table.as_list(), 0).unwrap(), first);
    write_all_at(&file.file, table.as_list(), 10).unwrap();
    drop(table);
    assert_eq!(&file.bytes()[10..], &expected[..]);

    let mut back = vec![0u8; expected.len()];
    let mut pieces: Vec<&mut [u8]> = back.chunks_mut(7).collect();
    let mut table = SliceTable::new(&mut pieces).unwrap();
    assert!(table.orig_nents() > 2 * MAX_IO_SLICES);
    read_exact_at(&file.file, table.as_list_mut(), 10).unwrap();
    drop(table);
    assert_eq!(back, expected);
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn reading_past_the_end_of_the_file_is_short_or_an_error() {
    let file = TempFile::new("end");
    std::fs::write(file.path(), b"0123456789").unwrap();
    let mut buffer = [b'.'; 8];
    let mut iov: [&mut [u8]; 1] = [&mut buffer];
    let mut table = SliceTable::new(&mut iov).unwrap();
    assert_eq!(read_at(&file.file, table.as_list_mut(), 6).unwrap(), 4);
    assert_eq!(read_at(&file.file, table.as_list_mut(), 10).unwrap(), 0);
    let error = read_exact_at(&file.file, table.as_list_mut(), 6).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
    drop(table);
    assert_eq!(&buffer, b"6789....");
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn overlapping_entries_are_not_read_into() {
    let file = TempFile::new("overlap");
    std::fs::write(file.path(), b"0123456789").unwrap();
    let mut buffer = [0u8; 8];
    let start = NonNull::from(&mut buffer).cast::<u8>();
    let mut entries: [SgEntry<_>; 2] = Default::default();
    sg_core::init_table(&mut entries).unwrap();
    // SAFETY: `buffer` outlives the list and is not touched while it is
    // used; the entries overlap, which `read_at` must refuse.
    unsafe {
        entries[0].set_buf(start, 6);
        entries[1].set_buf(start.add(4), 4);
    }
    let pages = VirtPages::new();
    // SAFETY: `buffer` outlives the view and is not touched while it is
    // used. The entries overlap, against `SgListMut::new`'s rule, on
    // purpose: safe code can no longer make such a view, and this checks
    // the library's own guard, which refuses the list before making any
    // slice, so no two `&mut` ever reach the same byte.
    let list = unsafe { SgListMut::new(&mut entries, &pages) };
    let error = read_at(&file.file, list, 0).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert_eq!(buffer, [0; 8]);
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn a_file_without_write_access_is_an_error() {
    let file = TempFile::new("read-only");
    let read_only = File::open(file.path()).unwrap();
    let parts: [&[u8]; 1] = [b"nope"];
    let table = SharedSliceTable::new(&parts).unwrap();
    assert!(write_at(&read_only, table.as_list(), 0).is_err());
    assert!(write_all_at(&read_only, table.as_list(), 0).is_err());
    assert!(file.bytes().is_empty());
}
