//! Whole-list vectored I/O makes no heap allocation: a list of 5000
//! entries goes to a file and comes back, and a list goes through a pipe,
//! each in one call of several batches, with the allocator counting; nor
//! do encoding through `BufMut` and decoding through `Buf`.
//!
//! The global allocator counts, per thread, the allocations of the
//! threads that ask it to (a thread-local switch), so the test harness's
//! threads and the other tests running meanwhile do not disturb a count.

#![cfg(all(unix, feature = "fs"))]

use sg_alloc::SliceTable;
use sg_copy::{read_list, read_list_at, write_list, write_list_at};
use sg_testkit::{CountingAllocator, TempFile};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Heap allocations made by this thread while `section` runs, and what it
/// returned.
fn allocations_in<R>(section: impl FnOnce() -> R) -> (usize, R) {
    CountingAllocator::allocations_in(section)
}

#[test]
fn the_counter_sees_allocations() {
    let (count, boxed) = allocations_in(|| Box::new(7u64));
    assert_eq!((count, *boxed), (1, 7));
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn five_thousand_entries_to_a_file_and_back_allocate_nothing() {
    let file = TempFile::new("vectored-no-alloc");
    let mut buffers: Vec<Vec<u8>> = (0..5000)
        .map(|index| vec![index as u8; 1 + index % 37])
        .collect();
    let expected = buffers.concat();
    let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    let len = expected.len() as u64;

    let (count, written) =
        allocations_in(|| write_list_at(&file.file, table.as_list(), 0).unwrap());
    assert_eq!((count, written), (0, len));
    let (count, written) = allocations_in(|| {
        write_list_at(&file.file, table.as_list().slice(10, len - 20).unwrap(), 10).unwrap()
    });
    assert_eq!((count, written), (0, len - 20));
    assert_eq!(sg_copy::zero(table.as_list_mut(), 0, len), len);
    let (count, read) =
        allocations_in(|| read_list_at(&file.file, table.as_list_mut(), 0).unwrap());
    assert_eq!((count, read), (0, len));
    drop(table);
    assert_eq!(buffers.concat(), expected);
}

#[test]
#[cfg_attr(miri, ignore = "pipes doing real I/O")]
fn a_list_through_a_pipe_allocates_nothing() {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    // 3000 entries of 1 to 16 bytes: under the pipe's default 64 KiB, so
    // one thread writes it all, then reads it all.
    let mut buffers: Vec<Vec<u8>> = (0..3000)
        .map(|index| vec![(index % 251) as u8; 1 + index % 16])
        .collect();
    let expected = buffers.concat();
    let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    let len = expected.len() as u64;
    let (count, written) = allocations_in(|| write_list(&writer, table.as_list()).unwrap());
    assert_eq!((count, written), (0, len));
    assert_eq!(sg_copy::zero(table.as_list_mut(), 0, len), len);
    let (count, read) = allocations_in(|| read_list(&reader, table.as_list_mut()).unwrap());
    assert_eq!((count, read), (0, len));
    drop(table);
    assert_eq!(buffers.concat(), expected);
}

#[test]
#[cfg(feature = "bytes")]
fn decoding_through_buf_and_encoding_through_buf_mut_allocate_nothing() {
    use bytes::{Buf, BufMut};

    let mut buffers: Vec<Vec<u8>> = (0..100).map(|index| vec![0u8; 1 + index % 5]).collect();
    let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    let (count, ()) = allocations_in(|| {
        let mut writer = sg_copy::ListBufMut::new(table.as_list_mut());
        while writer.remaining_mut() >= 4 {
            writer.put_u32(0xdead_beef);
        }
    });
    assert_eq!(count, 0);
    let (count, words) = allocations_in(|| {
        let mut reader = sg_copy::ListBuf::new(table.as_list());
        let mut words = 0;
        while reader.remaining() >= 4 {
            assert_eq!(reader.get_u32(), 0xdead_beef);
            words += 1;
        }
        words
    });
    assert_eq!((count, words), (0, table.as_list().byte_len() / 4));
}
