//! The I/O workloads: a 64 MiB list of 4 KiB pages written to and read
//! from a file in the page cache (tmpfs when there is one), in batches of
//! vectored calls (`pwritev`/`preadv`), through io_uring (`WRITEV`/`READV`,
//! and the pages registered as fixed buffers), each measured alongside
//! one `pwrite`/`pread` of a contiguous buffer of the same size; and, for
//! pages that are each their own allocation, against the same pieces moved
//! by bare system calls and io_uring operations (the `floor_io_*` rows).
//!
//! Hooked into the perf run by one line in `workloads::run`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use sg_alloc::{FromPages, PageList, SgTable};
use sg_core::{PageProvider, Pages, SgList, SgListMut, VirtPages};

use crate::measure::{Row, gigabytes_per_second, interleave};
use crate::workloads::Sizes;

/// The workloads of one list layout, by name.
struct Names {
    write_vectored: &'static str,
    read_vectored: &'static str,
    write_uring: &'static str,
    read_uring: &'static str,
    write_fixed: &'static str,
    read_fixed: &'static str,
}

impl Names {
    fn all(&self) -> [&'static str; 6] {
        [
            self.write_vectored,
            self.read_vectored,
            self.write_uring,
            self.read_uring,
            self.write_fixed,
            self.read_fixed,
        ]
    }
}

/// 16384 entries of one 4 KiB page each, every page its own allocation
/// (a `PageList` of single pages): nothing joins, one piece per page.
const PAGES: Names = Names {
    write_vectored: "io_write_vectored",
    read_vectored: "io_read_vectored",
    write_uring: "io_write_uring",
    read_uring: "io_read_uring",
    write_fixed: "io_write_uring_fixed",
    read_fixed: "io_read_uring_fixed",
};

/// 16384 entries of one 4 KiB page each over one 64 MiB block of pages:
/// the provider's `is_next` joins them, so they go out as one piece.
const BLOCK: Names = Names {
    write_vectored: "io_write_vectored_block",
    read_vectored: "io_read_vectored_block",
    write_uring: "io_write_uring_block",
    read_uring: "io_read_uring_block",
    write_fixed: "io_write_uring_fixed_block",
    read_fixed: "io_read_uring_fixed_block",
};

/// A table the workloads write from and read into.
trait Lists {
    type Provider: PageProvider;
    fn list(&self) -> SgList<'_, Self::Provider>;
    fn list_mut(&mut self) -> SgListMut<'_, Self::Provider>;
}

impl Lists for PageList<VirtPages> {
    type Provider = VirtPages;
    fn list(&self) -> SgList<'_, VirtPages> {
        self.as_list()
    }
    fn list_mut(&mut self) -> SgListMut<'_, VirtPages> {
        self.as_list_mut()
    }
}

impl Lists for SgTable<Pages<VirtPages>> {
    type Provider = Pages<VirtPages>;
    fn list(&self) -> SgList<'_, Pages<VirtPages>> {
        self.as_list()
    }
    fn list_mut(&mut self) -> SgListMut<'_, Pages<VirtPages>> {
        self.as_list_mut()
    }
}

/// The floors of the page-per-allocation layout: sg's calls against the
/// same pieces moved by bare `pwritev`/`preadv` (in batches of 1024), by
/// bare io_uring `WRITE_FIXED`/`READ_FIXED` (one per page, over the same
/// registered pages) and by bare io_uring `WRITEV`/`READV` (1024 iovecs
/// per entry), with nothing of sg in between. A ratio near 1
/// says the time is the kernel's, not sg's.
const FLOORS: [&str; 6] = [
    "floor_io_write_vectored",
    "floor_io_read_vectored",
    "floor_io_write_uring_fixed",
    "floor_io_read_uring_fixed",
    "floor_io_write_uring",
    "floor_io_read_uring",
];

/// `struct iovec`, as io_uring's buffer registration takes it.
#[repr(C)]
#[derive(Clone, Copy)]
struct RawIovec {
    base: *mut u8,
    len: usize,
}

/// The pieces of `list` as (address, length), in order.
fn raw_pieces<P: PageProvider>(list: SgList<'_, P>) -> Vec<RawIovec> {
    sg_copy::with_io_slices(list, |slices| {
        slices
            .iter()
            .map(|slice| RawIovec {
                base: slice.as_ptr().cast_mut(),
                len: slice.len(),
            })
            .collect()
    })
}

/// The floor rows (see [`FLOORS`]) of `table`, whose pieces the bare calls
/// move too.
fn floor_rows(
    sizes: &Sizes,
    wanted: &dyn Fn(&str) -> bool,
    file: &File,
    table: &mut PageList<VirtPages>,
    note: &str,
) -> Vec<Row> {
    use std::io::{IoSlice, IoSliceMut};

    let bytes = table.as_list().byte_len() as usize;
    let pieces = raw_pieces(table.as_list());
    let mut rows = Vec::new();
    if wanted(FLOORS[0]) {
        let (work, bare) = interleave(
            sizes.reps,
            || {
                let done = sg_copy::write_list_at(file, table.as_list(), 0).expect("pwritev");
                assert_eq!(done, bytes as u64);
            },
            || {
                // SAFETY: the pieces are the table's pages, alive and not
                // written while these slices live (the table is not used
                // meanwhile).
                let slices: Vec<IoSlice<'_>> = pieces
                    .iter()
                    .map(|piece| {
                        IoSlice::new(unsafe { std::slice::from_raw_parts(piece.base, piece.len) })
                    })
                    .collect();
                let mut at = 0;
                for batch in slices.chunks(1024) {
                    let done = rustix::io::pwritev(file, batch, at).expect("pwritev");
                    assert_eq!(done, batch.len() * 4096, "a short pwritev");
                    at += done as u64;
                }
            },
        );
        rows.push(row(FLOORS[0], bytes, &work, "bare_pwritev", &bare, note));
    }
    if wanted(FLOORS[1]) {
        let (work, bare) = interleave(
            sizes.reps,
            || {
                let done = sg_copy::read_list_at(file, table.as_list_mut(), 0).expect("preadv");
                assert_eq!(done, bytes as u64);
            },
            || {
                // SAFETY: as above, and nothing else reaches the pages
                // while these exclusive slices live.
                let mut slices: Vec<IoSliceMut<'_>> = pieces
                    .iter()
                    .map(|piece| {
                        IoSliceMut::new(unsafe {
                            std::slice::from_raw_parts_mut(piece.base, piece.len)
                        })
                    })
                    .collect();
                let mut at = 0;
                for batch in slices.chunks_mut(1024) {
                    let expected = batch.len() * 4096;
                    let done = rustix::io::preadv(file, batch, at).expect("preadv");
                    assert_eq!(done, expected, "a short preadv");
                    at += done as u64;
                }
            },
        );
        rows.push(row(FLOORS[1], bytes, &work, "bare_preadv", &bare, note));
    }
    #[cfg(target_os = "linux")]
    if wanted(FLOORS[2]) || wanted(FLOORS[3]) {
        rows.extend(fixed_floor_rows(sizes, wanted, file, table, &pieces, note));
    }
    #[cfg(target_os = "linux")]
    if wanted(FLOORS[4]) || wanted(FLOORS[5]) {
        rows.extend(uring_floor_rows(sizes, wanted, file, table, &pieces, note));
    }
    rows
}

/// sg's ring and a bare ring of the same size (256 entries), or `None`
/// where io_uring is not available, saying that `what` is skipped.
#[cfg(target_os = "linux")]
fn two_rings(what: &str) -> Option<(sg_copy::Ring, io_uring::IoUring)> {
    match (sg_copy::Ring::new(256), io_uring::IoUring::new(256)) {
        (Ok(ring), Ok(bare)) => Some((ring, bare)),
        _ => {
            eprintln!("perf: {what} skipped: no io_uring");
            None
        }
    }
}

/// The io_uring vectored floors: sg's `write_at`/`read_at` in a scope
/// against bare `WRITEV`/`READV` entries of the same pieces, 1024 iovecs
/// each (as sg's), all pushed and handed to the kernel in one call, on a
/// ring of the same size.
#[cfg(target_os = "linux")]
fn uring_floor_rows(
    sizes: &Sizes,
    wanted: &dyn Fn(&str) -> bool,
    file: &File,
    table: &mut PageList<VirtPages>,
    pieces: &[RawIovec],
    note: &str,
) -> Vec<Row> {
    use std::os::fd::{AsFd, AsRawFd};

    let bytes = pieces.iter().map(|piece| piece.len).sum::<usize>();
    let Some((mut ring, mut bare)) = two_rings("io_uring floors") else {
        return Vec::new();
    };
    let fd = io_uring::types::Fd(file.as_raw_fd());
    let batches: Vec<&[RawIovec]> = pieces.chunks(1024).collect();
    // One bare entry per batch, `write` or read, all pushed, then one call.
    let mut bare_pass = |write: bool| {
        let mut at = 0u64;
        for (index, batch) in batches.iter().enumerate() {
            let (iovecs, count) = (batch.as_ptr().cast(), batch.len() as u32);
            let entry = if write {
                io_uring::opcode::Writev::new(fd, iovecs, count)
                    .offset(at)
                    .build()
            } else {
                io_uring::opcode::Readv::new(fd, iovecs.cast_mut(), count)
                    .offset(at)
                    .build()
            }
            .user_data(index as u64);
            // SAFETY: the iovecs (`RawIovec` is laid out as `struct iovec`)
            // and the table's pages they describe stay alive, unmoved and
            // reached by nothing else until this pass has reaped every
            // completion; the queue holds every batch (16 of 256).
            unsafe { bare.submission().push(&entry) }.expect("room for every batch");
            at += batch.iter().map(|piece| piece.len as u64).sum::<u64>();
        }
        bare.submit_and_wait(batches.len())
            .expect("io_uring submit");
        let mut done = 0;
        while done < batches.len() {
            for completion in bare.completion() {
                let batch = batches[completion.user_data() as usize];
                let expected: usize = batch.iter().map(|piece| piece.len).sum();
                assert_eq!(completion.result(), expected as i32, "a short vectored op");
                done += 1;
            }
            if done < batches.len() {
                bare.submit_and_wait(1).expect("io_uring wait");
            }
        }
    };
    let mut rows = Vec::new();
    for (name, write, bare_name) in [
        (FLOORS[4], true, "bare_writev_uring"),
        (FLOORS[5], false, "bare_readv_uring"),
    ] {
        if !wanted(name) {
            continue;
        }
        let (work, floor) = interleave(
            sizes.reps,
            || {
                // A scope per call, as a user's: its lists are borrowed
                // until it ends.
                let done = ring.scope(|scope| {
                    let op = if write {
                        scope.write_at(file.as_fd(), table.as_list(), 0)
                    } else {
                        scope.read_at(file.as_fd(), table.as_list_mut(), 0)
                    };
                    op.and_then(sg_copy::Op::wait)
                });
                assert_eq!(done.expect("io_uring vectored op"), bytes as u64);
            },
            || bare_pass(write),
        );
        rows.push(row(name, bytes, &work, bare_name, &floor, note));
    }
    rows
}

/// The fixed-buffer floors: sg's `write_fixed_at`/`read_fixed_at` against
/// one bare `WRITE_FIXED`/`READ_FIXED` per piece on a ring of the same
/// size, each over the pages registered on its own ring.
#[cfg(target_os = "linux")]
fn fixed_floor_rows(
    sizes: &Sizes,
    wanted: &dyn Fn(&str) -> bool,
    file: &File,
    table: &mut PageList<VirtPages>,
    pieces: &[RawIovec],
    note: &str,
) -> Vec<Row> {
    use std::os::fd::{AsFd, AsRawFd};

    let bytes = pieces.iter().map(|piece| piece.len).sum::<usize>();
    let Some((mut ring, mut bare)) = two_rings("fixed-buffer floors") else {
        return Vec::new();
    };
    // SAFETY: the pieces are the table's pages, which stay allocated and
    // are reached by nothing else than the two rings' operations until the
    // ring `bare` is dropped at the end of this function (which releases
    // the registration); `RawIovec` is laid out as `struct iovec`.
    let registered = unsafe {
        bare.submitter()
            .register_buffers(std::slice::from_raw_parts(
                pieces.as_ptr().cast(),
                pieces.len(),
            ))
    };
    if let Err(error) = registered {
        eprintln!("perf: fixed-buffer floors skipped: {error}");
        return Vec::new();
    }
    let fd = io_uring::types::Fd(file.as_raw_fd());
    let capacity = bare.params().cq_entries() as usize;
    // One bare op per piece, `write` or read, all in flight that fit.
    let mut bare_pass = |write: bool| {
        let (mut next, mut done, mut in_flight, mut at) = (0, 0, 0, 0u64);
        while done < pieces.len() {
            while next < pieces.len() && in_flight < capacity {
                let piece = pieces[next];
                let entry = if write {
                    io_uring::opcode::WriteFixed::new(fd, piece.base, piece.len as u32, next as u16)
                        .offset(at)
                        .build()
                } else {
                    io_uring::opcode::ReadFixed::new(fd, piece.base, piece.len as u32, next as u16)
                        .offset(at)
                        .build()
                };
                // SAFETY: the buffer is a registered page (see above), kept
                // until this pass has reaped every completion.
                if unsafe { bare.submission().push(&entry) }.is_err() {
                    break;
                }
                next += 1;
                in_flight += 1;
                at += piece.len as u64;
            }
            bare.submit_and_wait(1).expect("io_uring submit");
            for completion in bare.completion() {
                assert_eq!(completion.result(), 4096, "a short fixed op");
                done += 1;
                in_flight -= 1;
            }
        }
    };
    let rows = ring.scope(|scope| {
        let buffers = scope
            .register(table.as_list_mut())
            .expect("registering the pages");
        let mut rows = Vec::new();
        for (name, write, bare_name) in [
            (FLOORS[2], true, "bare_write_fixed"),
            (FLOORS[3], false, "bare_read_fixed"),
        ] {
            if !wanted(name) {
                continue;
            }
            let (work, floor) = interleave(
                sizes.reps,
                || {
                    let op = if write {
                        scope.write_fixed_at(file.as_fd(), &buffers, 0)
                    } else {
                        scope.read_fixed_at(file.as_fd(), &buffers, 0)
                    };
                    let done = op.and_then(sg_copy::Op::wait).expect("io_uring fixed op");
                    assert_eq!(done, bytes as u64);
                },
                || bare_pass(write),
            );
            rows.push(row(name, bytes, &work, bare_name, &floor, note));
        }
        rows
    });
    drop(bare);
    rows
}

/// Every I/O workload wanted (by name) in this run.
pub fn run(sizes: &Sizes, wanted: &dyn Fn(&str) -> bool) -> Vec<Row> {
    let floors_wanted = FLOORS.iter().any(|name| wanted(name));
    let pages_wanted = floors_wanted || PAGES.all().iter().any(|name| wanted(name));
    let block_wanted = BLOCK.all().iter().any(|name| wanted(name));
    if !pages_wanted && !block_wanted {
        return Vec::new();
    }
    let bytes = sizes.buffer;
    let path = file_path();
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("creating the I/O workloads' file");
    // Page-aligned, as a storage program's buffers are (and as the list's
    // pages are): the kernel copies at a different speed when the user
    // buffer sits at another offset in its cache lines than the page cache.
    let mut storage = vec![0x5au8; bytes + 4096];
    let contiguous = page_aligned(&mut storage, bytes);
    file.write_all_at(contiguous, 0).expect("writing the file");
    let directory = path
        .parent()
        .map_or("?".into(), |dir| dir.display().to_string());
    let mut rows = Vec::new();
    if pages_wanted {
        let mut table = PageList::new(VirtPages::new(), bytes as u64).expect("out of memory");
        let _ = sg_copy::copy_from_slice(table.as_list_mut(), 0, contiguous);
        let note = format!(
            "{} pages of 4 KiB, each its own allocation, file on {directory}",
            table.nents()
        );
        rows.extend(layout_rows(
            sizes, wanted, &PAGES, &file, &mut table, contiguous, &note,
        ));
        if floors_wanted {
            rows.extend(floor_rows(sizes, wanted, &file, &mut table, &note));
        }
    }
    if block_wanted {
        let order = (bytes as u64 / 4096).next_power_of_two().trailing_zeros();
        let pages = Pages::alloc(VirtPages::new(), order).expect("out of memory");
        let mut table = FromPages::new(pages, 0, bytes as u64)
            .max_segment_size(4096)
            .build()
            .expect("out of memory");
        let _ = sg_copy::copy_from_slice(table.as_list_mut(), 0, contiguous);
        let note = format!(
            "{} entries of 4 KiB over one block of pages, file on {directory}",
            table.as_list().into_iter().count()
        );
        rows.extend(layout_rows(
            sizes, wanted, &BLOCK, &file, &mut table, contiguous, &note,
        ));
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    rows
}

/// The workloads of one layout.
fn layout_rows<T: Lists>(
    sizes: &Sizes,
    wanted: &dyn Fn(&str) -> bool,
    names: &Names,
    file: &File,
    table: &mut T,
    contiguous: &mut [u8],
    note: &str,
) -> Vec<Row> {
    let bytes = contiguous.len();
    let mut rows = Vec::new();
    let pwrite = |contiguous: &[u8]| file.write_all_at(contiguous, 0).expect("pwrite");
    let pread = |contiguous: &mut [u8]| file.read_exact_at(contiguous, 0).expect("pread");

    if wanted(names.write_vectored) {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                assert_eq!(
                    sg_copy::write_list_at(file, table.list(), 0).expect("pwritev"),
                    bytes as u64
                )
            },
            || pwrite(contiguous),
        );
        rows.push(row(
            names.write_vectored,
            bytes,
            &work,
            "pwrite_64m",
            &baseline,
            note,
        ));
    }
    if wanted(names.read_vectored) {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                assert_eq!(
                    sg_copy::read_list_at(file, table.list_mut(), 0).expect("preadv"),
                    bytes as u64
                )
            },
            || pread(contiguous),
        );
        rows.push(row(
            names.read_vectored,
            bytes,
            &work,
            "pread_64m",
            &baseline,
            note,
        ));
    }
    #[cfg(target_os = "linux")]
    rows.extend(uring(sizes, wanted, names, file, table, contiguous, note));
    rows
}

/// The io_uring workloads of one layout (none, with a note, where
/// io_uring is not available).
#[cfg(target_os = "linux")]
fn uring<T: Lists>(
    sizes: &Sizes,
    wanted: &dyn Fn(&str) -> bool,
    names: &Names,
    file: &File,
    table: &mut T,
    contiguous: &mut [u8],
    note: &str,
) -> Vec<Row> {
    use std::os::fd::AsFd;

    let bytes = contiguous.len();
    let mut ring = match sg_copy::Ring::new(256) {
        Ok(ring) => ring,
        Err(error) => {
            eprintln!("perf: io_uring workloads skipped: {error}");
            return Vec::new();
        }
    };
    let mut rows = Vec::new();
    if wanted(names.write_uring) {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                let done = ring.scope(|scope| {
                    scope
                        .write_at(file.as_fd(), table.list(), 0)
                        .and_then(sg_copy::Op::wait)
                });
                assert_eq!(done.expect("io_uring writev"), bytes as u64);
            },
            || file.write_all_at(contiguous, 0).expect("pwrite"),
        );
        rows.push(row(
            names.write_uring,
            bytes,
            &work,
            "pwrite_64m",
            &baseline,
            note,
        ));
    }
    if wanted(names.read_uring) {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                let done = ring.scope(|scope| {
                    scope
                        .read_at(file.as_fd(), table.list_mut(), 0)
                        .and_then(sg_copy::Op::wait)
                });
                assert_eq!(done.expect("io_uring readv"), bytes as u64);
            },
            || file.read_exact_at(contiguous, 0).expect("pread"),
        );
        rows.push(row(
            names.read_uring,
            bytes,
            &work,
            "pread_64m",
            &baseline,
            note,
        ));
    }
    if wanted(names.write_fixed) || wanted(names.read_fixed) {
        // Registered once; every repetition reuses the registration.
        let mut copy_storage = vec![0u8; bytes + 4096];
        let contiguous_copy = page_aligned(&mut copy_storage, bytes);
        contiguous_copy.copy_from_slice(contiguous);
        let fixed_rows = ring.scope(|scope| {
            let buffers = match scope.register(table.list_mut()) {
                Ok(buffers) => buffers,
                Err(error) => {
                    eprintln!("perf: fixed-buffer workloads skipped: {error}");
                    return Vec::new();
                }
            };
            let mut rows = Vec::new();
            let (work, baseline) = interleave(
                sizes.reps,
                || {
                    let done = scope
                        .write_fixed_at(file.as_fd(), &buffers, 0)
                        .and_then(sg_copy::Op::wait);
                    assert_eq!(done.expect("io_uring write_fixed"), bytes as u64);
                },
                || file.write_all_at(contiguous_copy, 0).expect("pwrite"),
            );
            rows.push(row(
                names.write_fixed,
                bytes,
                &work,
                "pwrite_64m",
                &baseline,
                note,
            ));
            let (work, baseline) = interleave(
                sizes.reps,
                || {
                    let done = scope
                        .read_fixed_at(file.as_fd(), &buffers, 0)
                        .and_then(sg_copy::Op::wait);
                    assert_eq!(done.expect("io_uring read_fixed"), bytes as u64);
                },
                || file.read_exact_at(contiguous_copy, 0).expect("pread"),
            );
            rows.push(row(
                names.read_fixed,
                bytes,
                &work,
                "pread_64m",
                &baseline,
                note,
            ));
            rows
        });
        rows.extend(fixed_rows.into_iter().filter(|row| wanted(row.name)));
    }
    rows
}

/// A row of GB/s with its baseline.
fn row(
    name: &'static str,
    bytes: usize,
    work: &[f64],
    baseline_name: &'static str,
    baseline: &[f64],
    note: &str,
) -> Row {
    Row::new(name, "GB/s", gigabytes_per_second(bytes, work), note)
        .with_baseline(baseline_name, gigabytes_per_second(bytes, baseline))
}

/// A file in tmpfs (`/dev/shm`) when there is one, else in the temporary
/// directory.
fn file_path() -> PathBuf {
    let shm = PathBuf::from("/dev/shm");
    let directory = if shm.is_dir() {
        shm
    } else {
        std::env::temp_dir()
    };
    directory.join(format!("sg-perf-io-{}", std::process::id()))
}

/// The `bytes` bytes of `storage` (at least a page longer) from its first
/// page boundary on.
fn page_aligned(storage: &mut [u8], bytes: usize) -> &mut [u8] {
    let start = storage.as_ptr().align_offset(4096);
    &mut storage[start..start + bytes]
}
