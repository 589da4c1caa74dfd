//! Running an operation once for every point at which an allocation can
//! fail.

use sg_core::{Error, ErrorKind};

use crate::{CountingChunks, FailingChunks, MockPages};

/// Stops a runaway search: no operation under test allocates this often.
const MAX_FAILURE_POINTS: usize = 1 << 20;

/// Runs `attempt(k)` for k = 0, 1, 2, ... until it succeeds and returns
/// that k, which is the number of failure points the operation has.
///
/// `attempt` sets up its own injector to fail at call `k` and checks what
/// it must; the kit's injectors ([`MockPages`], [`CountingChunks`]) fail
/// the test on drop if anything leaked, so building them inside `attempt`
/// checks every k for leaks.
///
/// # Panics
///
/// When an attempt fails with an error that is not out-of-memory (the
/// injected failure must be what surfaces), or after 2^20 failures.
///
/// # Examples
///
/// ```
/// use sg_core::{ChunkAllocator, Error};
/// use sg_testkit::{FailingChunks, for_each_failure_point};
///
/// // An "operation" that takes three arrays and gives them back.
/// let points = for_each_failure_point(|k| {
///     let chunks = FailingChunks::at(k);
///     let mut taken = Vec::new();
///     let mut result = Ok(());
///     for _ in 0..3 {
///         match ChunkAllocator::<u64>::alloc(&chunks, 4) {
///             Ok(array) => taken.push(array),
///             Err(error) => { result = Err(error); break; }
///         }
///     }
///     for array in taken {
///         // SAFETY: allocated above with 4 entries.
///         unsafe { ChunkAllocator::<u64>::free(&chunks, array, 4) };
///     }
///     result
/// });
/// assert_eq!(points, 3);
/// ```
#[track_caller]
pub fn for_each_failure_point(mut attempt: impl FnMut(usize) -> Result<(), Error>) -> usize {
    for k in 0..MAX_FAILURE_POINTS {
        match attempt(k) {
            Ok(()) => return k,
            Err(error) => assert_eq!(
                error.kind(),
                ErrorKind::OutOfMemory,
                "failure point {k}: the operation failed with {error:?}, not the injected failure"
            ),
        }
    }
    panic!("more than {MAX_FAILURE_POINTS} failure points: the operation never succeeds");
}

/// Runs `attempt` with a [`FailingChunks`] failing at call k, for every k
/// until it succeeds; checks at each k that every array was given back and
/// that the failure was injected (not some other error). Returns the number
/// of failure points.
///
/// `max_entries` sets the arrays' size limit (`None`: one page).
///
/// # Panics
///
/// When an array leaks, or an attempt fails without its allocator failing.
#[track_caller]
pub fn for_each_chunk_failure(
    max_entries: Option<usize>,
    mut attempt: impl FnMut(&FailingChunks) -> Result<(), Error>,
) -> usize {
    for_each_failure_point(|k| {
        let chunks = match max_entries {
            Some(max) => CountingChunks::with_max_entries(max),
            None => CountingChunks::new(),
        }
        .fail_at(k);
        let result = attempt(&chunks);
        chunks.assert_clean();
        assert_out_of_memory_was_injected(k, &result, chunks.calls() > k, "allocator");
        result
    })
}

/// At failure point `k`: an attempt that ran out of memory must have
/// `reached` the call of its `source` (allocator or provider) made to fail,
/// not failed of itself.
#[track_caller]
fn assert_out_of_memory_was_injected(
    k: usize,
    result: &Result<(), Error>,
    reached: bool,
    source: &str,
) {
    let out_of_memory = result
        .as_ref()
        .is_err_and(|error| error.kind() == ErrorKind::OutOfMemory);
    assert!(
        !out_of_memory || reached,
        "failure point {k}: the operation failed but the {source} never failed"
    );
}

/// Runs `attempt` with a fresh mock from `setup` whose `alloc_pages` call
/// k fails, for every k until it succeeds; checks at each k that every page
/// and mapping was given back. Returns the number of failure points.
///
/// # Panics
///
/// When a page or mapping leaks, or an attempt fails without its provider
/// failing.
#[track_caller]
pub fn for_each_page_failure<const PAGE_SIZE: usize>(
    mut setup: impl FnMut() -> MockPages<PAGE_SIZE>,
    mut attempt: impl FnMut(&MockPages<PAGE_SIZE>) -> Result<(), Error>,
) -> usize {
    for_each_failure_point(|k| {
        let mock = setup();
        mock.fail_alloc_at(mock.alloc_calls() + k);
        let calls_before = mock.alloc_calls();
        let result = attempt(&mock);
        mock.assert_clean();
        let reached = mock.alloc_calls() > calls_before + k;
        assert_out_of_memory_was_injected(k, &result, reached, "provider");
        result
    })
}

/// The payload of a panic that a kit injector raises on purpose
/// (`panic_at`): [`for_each_panic_point`] catches these and lets any other
/// panic through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InjectedPanic {
    /// The index of the call that panicked (counting from 0).
    pub call: usize,
}

/// Raises an [`InjectedPanic`] for call `call`: what a kit injector does
/// when a test asked it to panic there.
#[track_caller]
pub fn inject_panic(call: usize) -> ! {
    std::panic::panic_any(InjectedPanic { call })
}

/// Keeps the panic hook from printing injected panics (thousands of them
/// in a test); every other panic is printed as before.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<InjectedPanic>().is_none() {
                previous(info);
            }
        }));
    });
}

/// Runs `attempt(k)` for k = 0, 1, 2, ... under `catch_unwind` until it
/// returns without panicking, and returns that k: the number of points at
/// which the operation under test can panic.
///
/// `attempt` sets up injectors that panic at their call `k` (for example
/// `MockPages::panic_at`) and, after the operation, checks what must hold
/// even when a callback panics; the checks after the unwind belong in
/// `check(k)`, which runs for every k once the attempt has returned or
/// unwound. Only [`InjectedPanic`] payloads are caught: an assertion that
/// fails inside `attempt` still fails the test.
///
/// # Panics
///
/// When `attempt` panics with anything but an [`InjectedPanic`], or after
/// 2^20 panics.
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
/// use sg_testkit::{for_each_panic_point, inject_panic};
///
/// // An "operation" that makes three calls and undoes them all even when
/// // one of them panics.
/// let live = Cell::new(0);
/// let points = for_each_panic_point(
///     |k| {
///         struct Undo<'a>(&'a Cell<i32>, i32);
///         impl Drop for Undo<'_> {
///             fn drop(&mut self) { self.0.set(self.0.get() - self.1) }
///         }
///         let mut undo = Undo(&live, 0);
///         for call in 0..3 {
///             if call == k { inject_panic(call) }
///             live.set(live.get() + 1);
///             undo.1 += 1;
///         }
///     },
///     |_| assert_eq!(live.get(), 0),
/// );
/// assert_eq!(points, 3);
/// ```
#[track_caller]
pub fn for_each_panic_point(mut attempt: impl FnMut(usize), mut check: impl FnMut(usize)) -> usize {
    quiet_injected_panics();
    for k in 0..MAX_FAILURE_POINTS {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| attempt(k)));
        check(k);
        match outcome {
            Ok(()) => return k,
            Err(payload) => {
                if payload.downcast_ref::<InjectedPanic>().is_none() {
                    std::panic::resume_unwind(payload);
                }
            }
        }
    }
    panic!("more than {MAX_FAILURE_POINTS} panic points: the operation never completes");
}
