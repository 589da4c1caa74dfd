//! Lists through io_uring against real files and pipes: `WRITEV`/`READV`
//! round trips of a list of 5000 entries at several offsets (several
//! submission entries each), short reads at the end of the file, fixed
//! buffers, a provider mapped page by page, and short completions from a
//! trickling pipe resubmitted for the rest; the bytes equal the model's.
//! Skipped (with a message) where io_uring is not available.

#![cfg(all(target_os = "linux", feature = "io-uring"))]

use std::io::Write;
use std::os::fd::AsFd;

use sg_alloc::SliceTable;
use sg_copy::{Ring, RingError};
use sg_testkit::{BuiltList, Mapping, MockPage, MockPages, Model, TempFile};

/// A ring, or `None` (the test then passes vacuously) where io_uring is
/// not available.
fn ring() -> Option<Ring> {
    match Ring::new(64) {
        Ok(ring) => Some(ring),
        Err(RingError::Unavailable(error)) => {
            eprintln!("io_uring is not available here ({error}): skipped");
            None
        }
        Err(error) => panic!("{error}"),
    }
}

/// `count` buffers of 1 to 40 bytes with a pattern that depends on `seed`.
fn buffers(count: usize, seed: u8) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| {
            let len = 1 + (index * 11 + usize::from(seed)) % 40;
            (0..len)
                .map(|byte| (index as u8).wrapping_mul(7) ^ (byte as u8).wrapping_add(seed))
                .collect()
        })
        .collect()
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
fn five_thousand_entries_round_trip_at_several_offsets() {
    let Some(mut ring) = ring() else { return };
    for offset in [0u64, 1, 4095, 4096, (1 << 20) + 17] {
        let file = TempFile::new("uring-offsets");
        let mut out = buffers(5000, offset as u8);
        let model = Model::new(out.concat());
        let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        let table = SliceTable::new(&mut iov).unwrap();
        let mut back: Vec<Vec<u8>> = buffers(5000, 3)
            .into_iter()
            .map(|b| vec![0; b.len()])
            .collect();
        let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
        let mut into = SliceTable::new(&mut iov).unwrap();
        let capacity = into.as_list().byte_len();
        let (written, read) = ring.scope(|scope| {
            let written = scope
                .write_at(file.file.as_fd(), table.as_list(), offset)
                .unwrap()
                .wait()
                .unwrap();
            let read = scope
                .read_at(file.file.as_fd(), into.as_list_mut(), offset)
                .unwrap()
                .wait()
                .unwrap();
            (written, read)
        });
        assert_eq!(written, model.len() as u64);
        // Short at the end of the file when the second list is longer.
        assert_eq!(read, capacity.min(model.len() as u64));
        drop((table, into));
        let bytes = file.bytes();
        assert_eq!(bytes.len() as u64, offset + model.len() as u64);
        model.assert_eq_bytes(&bytes[offset as usize..]);
        assert_eq!(
            &back.concat()[..read as usize],
            &model.bytes()[..read as usize]
        );
    }
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
fn a_read_past_the_end_of_the_file_is_short_and_exact() {
    let Some(mut ring) = ring() else { return };
    let file = TempFile::new("uring-eof");
    let data: Vec<u8> = (0..10_000u32).map(|index| (index % 253) as u8).collect();
    std::fs::write(file.path(), &data).unwrap();
    for offset in [0u64, 9_000, 9_999, 10_000, 20_000] {
        let mut back = vec![vec![0xEEu8; 1500]; 8];
        let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
        let mut into = SliceTable::new(&mut iov).unwrap();
        let read = ring.scope(|scope| {
            scope
                .read_at(file.file.as_fd(), into.as_list_mut(), offset)
                .unwrap()
                .wait()
                .unwrap()
        });
        let expected = data.len().saturating_sub(offset as usize).min(12_000);
        assert_eq!(read, expected as u64, "at {offset}");
        drop(into);
        let back = back.concat();
        assert_eq!(
            &back[..expected],
            &data[data.len().min(offset as usize)..][..expected]
        );
        assert!(back[expected..].iter().all(|&byte| byte == 0xEE));
    }
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
fn fixed_buffers_round_trip_and_stop_at_the_end_of_the_file() {
    let Some(mut ring) = ring() else { return };
    let file = TempFile::new("uring-fixed");
    let mut out = buffers(300, 9);
    let model = Model::new(out.concat());
    let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();
    let written = ring.scope(|scope| {
        let fixed = scope.register(table.as_list_mut()).unwrap();
        assert_eq!(fixed.len(), 300);
        assert_eq!(fixed.byte_len(), model.len() as u64);
        scope
            .write_fixed_at(file.file.as_fd(), &fixed, 8)
            .unwrap()
            .wait()
            .unwrap()
    });
    assert_eq!(written, model.len() as u64);
    drop(table);
    model.assert_eq_bytes(&file.bytes()[8..]);

    // Read back from 100 bytes before the end: short, and only those bytes.
    let mut back = vec![vec![0u8; 64]; 4];
    let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
    let mut into = SliceTable::new(&mut iov).unwrap();
    let at = 8 + model.len() as u64 - 100;
    let read = ring.scope(|scope| {
        let fixed = scope.register(into.as_list_mut()).unwrap();
        // One registration per scope.
        assert!(matches!(
            scope.register(into_empty()),
            Err(RingError::Register(_))
        ));
        scope
            .read_fixed_at(file.file.as_fd(), &fixed, at)
            .unwrap()
            .wait()
            .unwrap()
    });
    assert_eq!(read, 100);
    drop(into);
    assert_eq!(&back.concat()[..100], &model.bytes()[model.len() - 100..]);
}

/// A writable list of one byte that lives as long as needed (leaked).
fn into_empty() -> sg_core::SgListMut<'static, sg_alloc::SlicePages> {
    let byte: &'static mut [u8] = Box::leak(Box::new([0u8; 1]));
    let iov: &'static mut [&'static mut [u8]] = Box::leak(Box::new([byte]));
    let table: &'static mut SliceTable<'static> =
        Box::leak(Box::new(SliceTable::new(iov).unwrap()));
    table.as_list_mut()
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
fn a_provider_mapped_page_by_page() {
    let Some(mut ring) = ring() else { return };
    for mode in [Mapping::Copied, Mapping::Direct] {
        let mock = MockPages::<4096>::with_mapping(mode);
        let run = mock.add_run(10, 2000);
        // 300 entries of 3 pages at offset 100: 4 pieces each.
        let entries: Vec<(MockPage, u32, u32)> = (0..300)
            .map(|index| (run[index * 3], 3 * 4096 - 200, 100))
            .collect();
        let built = BuiltList::new(&mock, &entries, &[]);
        mock.fill(5);
        let model = Model::from_list(&mock, built.list(&mock));
        let back_entries: Vec<(MockPage, u32, u32)> = entries
            .iter()
            .map(|&(page, len, offset)| (run[1000 + (page.pfn() - 10) as usize], len, offset))
            .collect();
        let mut back = BuiltList::new(&mock, &back_entries, &[3]);
        let file = TempFile::new("uring-pages");
        let (written, read) = ring.scope(|scope| {
            let written = scope
                .write_at(file.file.as_fd(), built.list(&mock), 0)
                .unwrap()
                .wait()
                .unwrap();
            // SAFETY: the entries lie on the mock's frames, share no byte,
            // and nothing else reaches them while the view is used.
            let view = unsafe { back.list_mut(&mock) };
            let read = scope
                .read_at(file.file.as_fd(), view, 0)
                .unwrap()
                .wait()
                .unwrap();
            (written, read)
        });
        assert_eq!((written, read), (model.len() as u64, model.len() as u64));
        model.assert_eq_bytes(&file.bytes());
        model.assert_eq_bytes(&mock.list_bytes(back.list(&mock)));
        assert_eq!(mock.live_mappings(), 0);
    }
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
fn short_completions_from_a_trickling_pipe_are_resubmitted() {
    let Some(mut ring) = ring() else { return };
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    let data: Vec<u8> = (0..3000u32).map(|index| (index * 7 % 256) as u8).collect();
    let sent = data.clone();
    let feed = std::thread::spawn(move || {
        let mut writer = std::fs::File::from(writer);
        for chunk in sent.chunks(5) {
            writer.write_all(chunk).unwrap();
            std::thread::yield_now();
        }
    });
    let mut back = vec![vec![0u8; 100]; 40];
    let mut iov: Vec<&mut [u8]> = back.iter_mut().map(Vec::as_mut_slice).collect();
    let mut into = SliceTable::new(&mut iov).unwrap();
    // Offsets are ignored on a pipe; a stream ends with a 0 completion.
    let read = ring.scope(|scope| {
        scope
            .read_at(reader.as_fd(), into.as_list_mut(), 0)
            .unwrap()
            .wait()
            .unwrap()
    });
    feed.join().unwrap();
    assert_eq!(read, 3000);
    drop(into);
    assert_eq!(&back.concat()[..3000], &data[..]);
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
#[allow(clippy::forget_non_drop)]
fn the_scope_waits_for_forgotten_ops_and_for_a_panic() {
    let Some(mut ring) = ring() else { return };
    let file = TempFile::new("uring-forget");
    let mut data = vec![b'x'; 100_000];
    let mut iov: [&mut [u8]; 1] = [&mut data];
    let table = SliceTable::new(&mut iov).unwrap();
    ring.scope(|scope| {
        let op = scope
            .write_at(file.file.as_fd(), table.as_list(), 0)
            .unwrap();
        std::mem::forget(op);
    });
    // The write completed before the scope returned.
    assert_eq!(file.bytes().len(), 100_000);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ring.scope(|scope| {
            let _op = scope
                .write_at(file.file.as_fd(), table.as_list(), 100_000)
                .unwrap();
            panic!("in the scope");
        })
    }));
    assert!(panicked.is_err());
    assert_eq!(file.bytes().len(), 200_000);
}

#[test]
#[cfg_attr(miri, ignore = "io_uring: Miri has no such system call")]
fn overlapping_entries_are_refused_for_reading_and_registering() {
    let Some(mut ring) = ring() else { return };
    let file = TempFile::new("uring-overlap");
    std::fs::write(file.path(), [1u8; 64]).unwrap();
    let mock = MockPages::<4096>::with_mapping(Mapping::Linear);
    let run = mock.add_run(1, 1);
    // SAFETY: two entries over some of the same bytes of the mock's frame;
    // the views below refuse the overlap before any slice or submission.
    let mut built = unsafe { BuiltList::new_unchecked(&[(run[0], 32, 16), (run[0], 32, 0)], &[]) };
    ring.scope(|scope| {
        // SAFETY: as above.
        let error = scope
            .read_at(file.file.as_fd(), unsafe { built.list_mut(&mock) }, 0)
            .unwrap_err();
        assert_eq!(
            (error.kind(), error.done()),
            (std::io::ErrorKind::InvalidInput, 0)
        );
    });
    ring.scope(|scope| {
        // SAFETY: as above.
        let error = scope
            .register(unsafe { built.list_mut(&mock) })
            .unwrap_err();
        assert!(matches!(error, RingError::Register(_)), "{error}");
    });
    assert_eq!(mock.live_mappings(), 0);
}
