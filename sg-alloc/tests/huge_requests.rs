//! Requests too large to serve get typed errors, never an abort or the
//! out-of-memory killer: entry counts whose arrays the address space could
//! not hold are refused before anything is allocated, a `PageList` asks its
//! provider for pages before spending memory on arrays for them, and under
//! a memory limit (`ulimit -v`, in a child process) every allocation that
//! fails is an error.

use sg_alloc::{PageList, SgTable};
use sg_core::{Error, VirtPages};
use sg_testkit::{CountingChunks, MockPages};

/// Set in the child process that runs [`huge_requests_in_the_child`].
const CHILD: &str = "SG_HUGE_REQUESTS_CHILD";

#[test]
fn a_provider_that_cannot_serve_fails_before_any_array_is_allocated() {
    let mock = MockPages::<4096>::new();
    mock.fail_alloc_always();
    let chunks = CountingChunks::new();
    // 1 GiB: 2^18 entries, whose arrays (8 MiB) would come first if the
    // list did not ask for a page before them.
    let result = PageList::builder(&mock, 1 << 30)
        .chainable(false)
        .chunk_allocator(&chunks)
        .build();
    assert_eq!(result.err(), Some(Error::PagesUnavailable { order: 0 }));
    assert_eq!((chunks.allocations(), mock.alloc_calls()), (0, 1));
}

#[test]
fn a_provider_that_runs_out_fails_having_spent_arrays_on_its_pages_only() {
    let mock = MockPages::<4096>::new();
    mock.fail_alloc_at(300);
    let chunks = CountingChunks::new();
    let result = PageList::builder(&mock, 1 << 30)
        .chainable(true)
        .chunk_allocator(&chunks)
        .build();
    assert_eq!(result.err(), Some(Error::PagesUnavailable { order: 0 }));
    // 300 pages fill arrays of 128 slots (a link in each full one): 3.
    assert_eq!(chunks.allocations(), 3);
    assert_eq!((chunks.live(), mock.live_allocations()), (0, 0));
}

#[test]
fn entry_counts_beyond_the_address_space_are_refused_up_front() {
    let mock = MockPages::<64>::new();
    let chunks = CountingChunks::new();
    for nents in [usize::MAX, isize::MAX as usize / 16] {
        let result = SgTable::new_in(&mock, nents, &chunks);
        assert!(
            matches!(result, Err(Error::Overflow { .. })),
            "{nents} entries: {:?}",
            result.err()
        );
    }
    // 2^58 pages of 64 bytes: 8 EiB of entries.
    let result = PageList::builder(&mock, u64::MAX)
        .chainable(false)
        .chunk_allocator(&chunks)
        .build();
    assert!(
        matches!(result, Err(Error::Overflow { .. })),
        "{:?}",
        result.err()
    );
    assert_eq!((chunks.allocations(), mock.alloc_calls()), (0, 0));
}

/// Runs [`huge_requests_in_the_child`] in a child process limited to 1 GiB
/// of address space with `ulimit -v`, and checks that it exits normally,
/// having passed: not killed by a signal (the out-of-memory killer, or an
/// abort on a failed allocation).
#[test]
#[cfg(unix)]
#[cfg_attr(miri, ignore = "runs a child process under a memory limit")]
fn huge_requests_under_a_memory_limit_return_errors_in_a_child_process() {
    use std::os::unix::process::ExitStatusExt;

    let test_binary = std::env::current_exe().expect("the test binary's path");
    let script = r#"ulimit -v 1048576 && exec "$0" huge_requests_in_the_child --exact --ignored --test-threads=1 --nocapture"#;
    let output = std::process::Command::new("sh")
        .args(["-c", script])
        .arg(test_binary)
        .env(CHILD, "1")
        .output()
        .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.signal(),
        None,
        "the child was killed:\n{stdout}\n{stderr}"
    );
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the child did not run the test:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("typed errors: "), "{stdout}");
}

/// The child's part: sizes that need far more memory than the limit.
/// Ignored unless run by the parent test with the variable set (without a
/// limit it would take the machine's memory).
#[test]
#[ignore = "run by huge_requests_under_a_memory_limit_return_errors_in_a_child_process"]
fn huge_requests_in_the_child() {
    if std::env::var_os(CHILD).is_none() {
        eprintln!("not under a memory limit: skipped");
        return;
    }
    let list = PageList::new(VirtPages::new(), u64::MAX).err();
    assert!(
        matches!(
            list,
            Some(Error::PagesUnavailable { order: 0 } | Error::OutOfMemory)
        ),
        "{list:?}"
    );
    let table = SgTable::new(VirtPages::new(), 1 << 40).err();
    assert_eq!(table, Some(Error::OutOfMemory));
    // Everything taken was given back: 64 MiB fit again.
    let again = PageList::new(VirtPages::new(), 64 << 20).expect("memory is back");
    assert_eq!(again.byte_len(), 64 << 20);
    println!("typed errors: {list:?}, {table:?}");
}
