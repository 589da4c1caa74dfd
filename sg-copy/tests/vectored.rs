//! Whole-list vectored I/O against real files and pipes: lists of 5000
//! entries in one call each (several batches of `MAX_IO_SLICES`), short
//! transfers through a pipe with a small buffer and through a writer that
//! sends a few bytes at a time, `WouldBlock` with the progress so far; the
//! bytes always equal the model's.

#![cfg(all(unix, feature = "fs"))]

use std::io::{ErrorKind, Read, Write};
use std::os::fd::OwnedFd;

use sg_alloc::SliceTable;
use sg_copy::{MAX_IO_SLICES, read_list, read_list_at, write_list, write_list_at};
use sg_core::PageProvider;
use sg_testkit::{Mapping, MockPage, MockPages, Model, TempFile};

/// `count` buffers of 1 to 40 bytes (lengths vary with the index), filled
/// with a pattern that depends on `seed`.
fn buffers(count: usize, seed: u8) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| {
            let len = 1 + (index * 7 + usize::from(seed)) % 40;
            (0..len)
                .map(|byte| (index as u8).wrapping_mul(13) ^ (byte as u8).wrapping_add(seed))
                .collect()
        })
        .collect()
}

/// The model of the bytes of `buffers`, in order.
fn model_of(buffers: &[Vec<u8>]) -> Model {
    Model::new(buffers.concat())
}

/// A pipe whose buffer holds one page (the smallest the kernel allows).
fn small_pipe() -> (OwnedFd, OwnedFd) {
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    rustix::pipe::fcntl_setpipe_size(&writer, 4096).unwrap();
    (reader, writer)
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn five_thousand_entries_out_in_one_call_and_back_in_one_call() {
    let file = TempFile::new("vectored-5000");
    let mut out = buffers(5000, 3);
    let model = model_of(&out);
    let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let table = SliceTable::new(&mut iov).unwrap();
    assert!(table.as_list().count() > 4 * MAX_IO_SLICES);
    let written = write_list_at(&file.file, table.as_list(), 100).unwrap();
    assert_eq!(written, model.len() as u64);
    drop(table);
    let bytes = file.bytes();
    assert_eq!(&bytes[..100], &[0u8; 100][..]);
    model.assert_eq_bytes(&bytes[100..]);

    // Back into 5000 buffers of other lengths, in one call.
    let mut back: Vec<Vec<u8>> = buffers(5000, 9)
        .into_iter()
        .map(|b| vec![0; b.len()])
        .collect();
    let back_len: usize = back.iter().map(Vec::len).sum();
    let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    let read = read_list_at(&file.file, table.as_list_mut(), 100).unwrap();
    assert_eq!(read, back_len.min(model.len()) as u64);
    drop(table);
    let back = back.concat();
    assert_eq!(&back[..read as usize], &model.bytes()[..read as usize]);
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn a_byte_range_and_the_end_of_the_file() {
    let file = TempFile::new("vectored-range");
    let mut out = buffers(3000, 5);
    let model = model_of(&out);
    let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let table = SliceTable::new(&mut iov).unwrap();
    let range = table.as_list().slice(1001, 40_000).unwrap();
    assert_eq!(write_list_at(&file.file, range, 0).unwrap(), 40_000);
    drop(table);
    assert_eq!(Some(&file.bytes()[..]), model.range(1001, 40_000));

    // Reading past the end of the file stops there, exactly.
    let mut back = vec![vec![0u8; 4097]; 20];
    let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    assert_eq!(
        read_list_at(&file.file, table.as_list_mut(), 333).unwrap(),
        40_000 - 333
    );
    drop(table);
    assert_eq!(
        &back.concat()[..40_000 - 333],
        &model.bytes()[1001 + 333..1001 + 40_000]
    );
}

/// Pieces of a list on a provider mapped page by page: an entry of many
/// pages makes many pieces, and batches end inside entries.
#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn page_by_page_pieces_past_iov_max() {
    for mode in [Mapping::Copied, Mapping::Direct] {
        let mock = MockPages::<4096>::with_mapping(mode);
        let run = mock.add_run(10, 4000);
        // 400 entries of 5 pages each, offset 100 into their first page:
        // 6 pieces per entry, 2400 pieces in all.
        let entries: Vec<(MockPage, u32, u32)> = (0..400)
            .map(|index| (run[index * 5], 5 * 4096 - 200, 100))
            .collect();
        let built = sg_testkit::BuiltList::new(&mock, &entries, &[]);
        mock.fill(42);
        let model = Model::from_list(&mock, built.list(&mock));
        let file = TempFile::new("vectored-pages");
        let written = write_list_at(&file.file, built.list(&mock), 0).unwrap();
        assert_eq!(written, model.len() as u64);
        model.assert_eq_bytes(&file.bytes());
        assert_eq!(mock.live_mappings(), 0);

        // Read them back, into a list over the other half of the frames.
        let back_entries: Vec<(MockPage, u32, u32)> = entries
            .iter()
            .map(|&(page, len, offset)| (mock.nth(page, 2000), len, offset))
            .collect();
        let mut back = sg_testkit::BuiltList::new(&mock, &back_entries, &[7]);
        // SAFETY: the entries lie on frames of `mock`, no two share a byte,
        // and nothing else reaches them while the view is used.
        let view = unsafe { back.list_mut(&mock) };
        assert_eq!(
            read_list_at(&file.file, view, 0).unwrap(),
            model.len() as u64
        );
        model.assert_eq_bytes(&mock.list_bytes(back.list(&mock)));
        assert_eq!(mock.live_mappings(), 0);
    }
}

#[test]
#[cfg_attr(miri, ignore = "pipes and threads doing real I/O")]
fn short_writes_into_a_small_pipe_resume_at_the_right_byte() {
    let (reader, writer) = small_pipe();
    let mut out = buffers(5000, 1);
    let model = model_of(&out);
    // The reader takes at most 7 bytes at a time, slowly at first, so
    // that the writer's calls come back short, mid-piece.
    let drain = std::thread::spawn(move || {
        let mut reader = std::fs::File::from(reader);
        let mut got = Vec::new();
        let mut chunk = [0u8; 7];
        loop {
            match reader.read(&mut chunk).unwrap() {
                0 => return got,
                count => got.extend_from_slice(&chunk[..count]),
            }
        }
    });
    let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let table = SliceTable::new(&mut iov).unwrap();
    assert_eq!(
        write_list(&writer, table.as_list()).unwrap(),
        model.len() as u64
    );
    drop(writer);
    model.assert_eq_bytes(&drain.join().unwrap());
}

#[test]
#[cfg_attr(miri, ignore = "pipes and threads doing real I/O")]
fn short_writes_into_a_non_blocking_pipe_drained_meanwhile_resume_at_the_right_byte() {
    let (reader, writer) = small_pipe();
    rustix::fs::fcntl_setfl(&writer, rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut out = buffers(5000, 2);
    let model = model_of(&out);
    // The reader drains 7 bytes at a time while the writer writes, so
    // that `writev` takes whatever room there is: short counts, mid-piece,
    // each resumed inside the call, and `WouldBlock` when the pipe is full.
    // The reader starts once the writer has met a full pipe (or given up:
    // the sender dropped), so that `WouldBlock` comes however the threads
    // are scheduled.
    let (blocked_once, wait_for_block) = std::sync::mpsc::channel::<()>();
    let drain = std::thread::spawn(move || {
        let _ = wait_for_block.recv();
        let mut reader = std::fs::File::from(reader);
        let mut got = Vec::new();
        let mut chunk = [0u8; 7];
        loop {
            match reader.read(&mut chunk).unwrap() {
                0 => return got,
                count => got.extend_from_slice(&chunk[..count]),
            }
        }
    });
    let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let table = SliceTable::new(&mut iov).unwrap();
    let list = table.as_list();
    let (mut done, mut blocked) = (0, 0);
    while done < list.byte_len() {
        match write_list(&writer, list.slice(done, list.byte_len() - done).unwrap()) {
            Ok(count) => done += count,
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::WouldBlock);
                blocked += 1;
                let _ = blocked_once.send(());
                done += error.done();
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    }
    drop(blocked_once);
    drop(writer);
    assert!(blocked > 0);
    assert_eq!(done, model.len() as u64);
    model.assert_eq_bytes(&drain.join().unwrap());
}

#[test]
#[cfg_attr(miri, ignore = "pipes and threads doing real I/O")]
fn short_reads_from_a_trickling_writer_resume_at_the_right_byte() {
    let (reader, writer) = small_pipe();
    let model = model_of(&buffers(2000, 4));
    let bytes = model.bytes().to_vec();
    // The writer sends 3 bytes per call.
    let feed = std::thread::spawn(move || {
        let mut writer = std::fs::File::from(writer);
        for chunk in bytes.chunks(3) {
            writer.write_all(chunk).unwrap();
        }
    });
    let mut back: Vec<Vec<u8>> = buffers(5000, 8)
        .into_iter()
        .map(|b| vec![0; b.len()])
        .collect();
    let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    let capacity = table.as_list().byte_len();
    assert!(capacity > model.len() as u64);
    // Until the writer closes: every byte, then the end of the stream.
    assert_eq!(
        read_list(&reader, table.as_list_mut()).unwrap(),
        model.len() as u64
    );
    feed.join().unwrap();
    drop(table);
    model.assert_eq_bytes(&back.concat()[..model.len()]);
}

#[test]
#[cfg_attr(miri, ignore = "pipes doing real I/O")]
fn would_block_comes_back_with_the_bytes_done_and_the_rest_resumes() {
    let (reader, writer) = small_pipe();
    rustix::fs::fcntl_setfl(&writer, rustix::fs::OFlags::NONBLOCK).unwrap();
    let mut out = buffers(3000, 6);
    let model = model_of(&out);
    let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let table = SliceTable::new(&mut iov).unwrap();
    let list = table.as_list();
    let mut reader = std::fs::File::from(reader);
    let mut got = Vec::new();
    let mut done = 0;
    let mut blocked = 0;
    while done < list.byte_len() {
        match write_list(&writer, list.slice(done, list.byte_len() - done).unwrap()) {
            Ok(count) => done += count,
            Err(error) => {
                assert_eq!(error.kind(), ErrorKind::WouldBlock);
                blocked += 1;
                done += error.done();
                // What the pipe holds is exactly the bytes done so far.
                let mut chunk = vec![0u8; 65536];
                let count = reader.read(&mut chunk).unwrap();
                got.extend_from_slice(&chunk[..count]);
            }
        }
        assert!(got.len() as u64 <= done);
    }
    drop(writer);
    reader.read_to_end(&mut got).unwrap();
    assert!(blocked > 0);
    model.assert_eq_bytes(&got);
}

#[test]
#[cfg_attr(miri, ignore = "real file I/O: Miri's isolation has no file system")]
fn overlapping_entries_are_refused_for_reading() {
    let file = TempFile::new("vectored-overlap");
    std::fs::write(file.path(), [1u8; 64]).unwrap();
    let mock = MockPages::<4096>::with_mapping(Mapping::Linear);
    let run = mock.add_run(1, 1);
    // Two entries over the same 32 bytes.
    // SAFETY: the entries lie on the mock's frame; the view only reads
    // through `read_list_at`, which refuses the overlap before writing.
    let mut built =
        unsafe { sg_testkit::BuiltList::new_unchecked(&[(run[0], 32, 0), (run[0], 32, 16)], &[]) };
    // SAFETY: as above: nothing takes a slice of overlapping bytes.
    let view = unsafe { built.list_mut(&mock) };
    let error = read_list_at(&file.file, view, 0).unwrap_err();
    assert_eq!((error.kind(), error.done()), (ErrorKind::InvalidInput, 0));
}
