//! Work that must finish even when a callback panics midway.
//!
//! Releasing a list of resources (a chain's arrays, a page list's pages,
//! a table's DMA mappings) calls a user's callback once per resource, and
//! any call may panic. The rule of the crate is that a panic leaves
//! nothing allocated or mapped beyond what the caller holds, so the
//! releases after the one that panicked must still happen: [`Finish`]
//! runs them while the panic unwinds.

/// Steps through a release one resource at a time: [`run`](Self::run)
/// calls `step` until it returns `false`, and if a step panics, dropping
/// the `Finish` (while the panic unwinds) calls the steps that are left.
///
/// `step` moves its state past a resource before handing it to the
/// callback, so a resource whose callback panicked is never released
/// twice. A second panic, while unwinding, aborts the process (Rust's
/// rule for a panic in a destructor during a panic).
pub(crate) struct Finish<T, F: FnMut(&mut T) -> bool> {
    state: T,
    step: F,
}

impl<T, F: FnMut(&mut T) -> bool> Finish<T, F> {
    /// A release over `state`, one `step` at a time.
    #[inline]
    pub(crate) fn new(state: T, step: F) -> Self {
        Finish { state, step }
    }

    /// Runs every step: on return (or unwind) `step` has returned `false`.
    #[inline]
    pub(crate) fn run(mut self) {
        while (self.step)(&mut self.state) {}
        // Dropping `self` now calls `step` once more, which finds nothing.
    }
}

impl<T, F: FnMut(&mut T) -> bool> Drop for Finish<T, F> {
    fn drop(&mut self) {
        while (self.step)(&mut self.state) {}
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::Finish;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    #[test]
    fn the_steps_after_a_panic_still_run() {
        let mut released = [false; 4];
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            Finish::new(0, |next: &mut usize| {
                let Some(slot) = released.get_mut(*next) else {
                    return false;
                };
                *next += 1;
                *slot = true;
                assert!(*next != 2, "the second release panics");
                true
            })
            .run();
        }));
        assert!(outcome.is_err());
        assert_eq!(released, [true; 4]);
    }
}
