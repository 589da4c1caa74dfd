//! The I/O workloads: a 64 MiB list of 4 KiB pages written to and read
//! from a file in the page cache (tmpfs when there is one), in batches of
//! vectored calls (`pwritev`/`preadv`), through io_uring (`WRITEV`/`READV`,
//! and the pages registered as fixed buffers), each measured alongside
//! one `pwrite`/`pread` of a contiguous buffer of the same size.
//!
//! Hooked into the perf run by one line in `workloads::run`.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use sg_alloc::PageList;
use sg_core::VirtPages;

use crate::measure::{Row, gigabytes_per_second, interleave};
use crate::workloads::Sizes;

/// Every I/O workload wanted (by name) in this run.
pub fn run(sizes: &Sizes, wanted: &dyn Fn(&str) -> bool) -> Vec<Row> {
    let names = [
        "io_write_vectored",
        "io_read_vectored",
        "io_write_uring",
        "io_read_uring",
        "io_write_uring_fixed",
        "io_read_uring_fixed",
    ];
    if !names.iter().any(|name| wanted(name)) {
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
    let mut contiguous = vec![0x5au8; bytes];
    let mut table = PageList::new(VirtPages::new(), bytes as u64).expect("out of memory");
    let _ = sg_copy::copy_from_slice(table.as_list_mut(), 0, &contiguous);
    // Into the page cache before anything is timed.
    file.write_all_at(&contiguous, 0).expect("writing the file");
    let note = format!(
        "{} pages of 4 KiB, file on {}",
        table.nents(),
        path.parent()
            .map_or("?".into(), |dir| dir.display().to_string())
    );
    let mut rows = Vec::new();
    let pwrite = |contiguous: &[u8]| file.write_all_at(contiguous, 0).expect("pwrite");
    let pread = |contiguous: &mut [u8]| file.read_exact_at(contiguous, 0).expect("pread");

    if wanted("io_write_vectored") {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                assert_eq!(
                    sg_copy::write_list_at(&file, table.as_list(), 0).expect("pwritev"),
                    bytes as u64
                )
            },
            || pwrite(&contiguous),
        );
        rows.push(row(
            "io_write_vectored",
            bytes,
            &work,
            "pwrite_64m",
            &baseline,
            &note,
        ));
    }
    if wanted("io_read_vectored") {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                assert_eq!(
                    sg_copy::read_list_at(&file, table.as_list_mut(), 0).expect("preadv"),
                    bytes as u64
                )
            },
            || pread(&mut contiguous),
        );
        rows.push(row(
            "io_read_vectored",
            bytes,
            &work,
            "pread_64m",
            &baseline,
            &note,
        ));
    }
    #[cfg(target_os = "linux")]
    rows.extend(uring(
        sizes,
        wanted,
        &file,
        &mut table,
        &mut contiguous,
        &note,
    ));
    drop(file);
    let _ = std::fs::remove_file(&path);
    rows
}

/// The io_uring workloads, or none (with a message) where io_uring is not
/// available.
#[cfg(target_os = "linux")]
fn uring(
    sizes: &Sizes,
    wanted: &dyn Fn(&str) -> bool,
    file: &File,
    table: &mut PageList<VirtPages>,
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
    if wanted("io_write_uring") {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                let done = ring.scope(|scope| {
                    scope
                        .write_at(file.as_fd(), table.as_list(), 0)
                        .and_then(sg_copy::Op::wait)
                });
                assert_eq!(done.expect("io_uring writev"), bytes as u64);
            },
            || file.write_all_at(contiguous, 0).expect("pwrite"),
        );
        rows.push(row(
            "io_write_uring",
            bytes,
            &work,
            "pwrite_64m",
            &baseline,
            note,
        ));
    }
    if wanted("io_read_uring") {
        let (work, baseline) = interleave(
            sizes.reps,
            || {
                let done = ring.scope(|scope| {
                    scope
                        .read_at(file.as_fd(), table.as_list_mut(), 0)
                        .and_then(sg_copy::Op::wait)
                });
                assert_eq!(done.expect("io_uring readv"), bytes as u64);
            },
            || file.read_exact_at(contiguous, 0).expect("pread"),
        );
        rows.push(row(
            "io_read_uring",
            bytes,
            &work,
            "pread_64m",
            &baseline,
            note,
        ));
    }
    if wanted("io_write_uring_fixed") || wanted("io_read_uring_fixed") {
        // Registered once; every repetition reuses the registration.
        let mut contiguous_copy = contiguous.to_vec();
        let fixed_rows = ring.scope(|scope| {
            let buffers = match scope.register(table.as_list_mut()) {
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
                || file.write_all_at(&contiguous_copy, 0).expect("pwrite"),
            );
            rows.push(row(
                "io_write_uring_fixed",
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
                || file.read_exact_at(&mut contiguous_copy, 0).expect("pread"),
            );
            rows.push(row(
                "io_read_uring_fixed",
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
