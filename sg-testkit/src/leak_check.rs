//! What the mocks share about leaks: a lock that survives a panicking test,
//! `assert_clean`'s panic, and the same check on drop unless turned off.

use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, also when a panicking test poisoned it: a mock's state
/// stays usable, and its leak check still runs.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Panics with what a mock's check found, naming the mock.
#[track_caller]
pub(crate) fn assert_clean<E: Display>(mock: &str, found: Result<(), E>) {
    if let Err(found) = found {
        panic!("{mock}: {found}");
    }
}

/// Whether a mock checks for leaks when dropped (on until a test that
/// leaks on purpose turns it off).
#[derive(Debug)]
pub(crate) struct DropCheck(AtomicBool);

impl DropCheck {
    /// A check that is on.
    pub(crate) const fn new() -> Self {
        DropCheck(AtomicBool::new(true))
    }

    /// Turns the check off.
    pub(crate) fn skip(&self) {
        self.0.store(false, Ordering::Relaxed);
    }

    /// Panics with what the mock's check found, when the check is on and
    /// the thread is not already panicking (a second panic would abort).
    pub(crate) fn on_drop<E: Display>(&self, mock: &str, found: Result<(), E>) {
        if let Err(found) = found {
            if self.0.load(Ordering::Relaxed) && !std::thread::panicking() {
                panic!("{mock} dropped with {found}");
            }
        }
    }
}
