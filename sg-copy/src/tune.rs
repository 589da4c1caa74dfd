//! Which way of copying long runs suits the processor the program runs on.
//!
//! Two tricks of the linear fast path pay on some processors and cost on
//! others, so they are chosen once per process from the processor's vendor:
//!
//! - On AMD (and Hygon) processors glibc's `memcpy` copies with `rep movsb`
//!   below 1 MiB, which runs at a third of the speed when source and target
//!   lie at different offsets in their cache lines; a loop of cache-line
//!   moves ([`copy_lines`](crate::runs)) runs at full speed there, and
//!   prefetching the start of the next run (entries in no particular page
//!   order) hides the stall of crossing into an unrelated page.
//! - On Intel processors (measured on a 2-core Xeon VM, glibc 2.36) the same
//!   `memcpy` is as fast for any offsets, the line loop ran list -> buffer
//!   copies at 0.84-0.86 of a hand loop of `copy_from_slice` calls, and the
//!   prefetch cost 1-3% more; plain `memcpy` per run is level with the
//!   hand loop.
//!
//! Everything else, and any target that is not x86_64 (or runs under Miri),
//! takes the plain path: one `memcpy` per run, no prefetch.

use core::sync::atomic::{AtomicU8, Ordering};

/// How the linear fast path copies long runs on this processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tuning {
    /// Runs longer than a short copy whose ends lie at different offsets
    /// in their cache lines are copied a cache line at a time rather than
    /// with one `memcpy`.
    pub(crate) lines_when_misaligned: bool,
    /// The first lines of the next run are prefetched before the current
    /// run is visited.
    pub(crate) prefetch_next_run: bool,
}

impl Tuning {
    /// The tuning for processors whose `memcpy` is slow across offsets.
    const LINES: Tuning = Tuning {
        lines_when_misaligned: true,
        prefetch_next_run: true,
    };

    /// The plain path: one `memcpy` per run, no prefetch.
    const PLAIN: Tuning = Tuning {
        lines_when_misaligned: false,
        prefetch_next_run: false,
    };
}

/// Not looked up yet.
const UNKNOWN: u8 = 0;
/// [`Tuning::PLAIN`].
const PLAIN: u8 = 1;
/// [`Tuning::LINES`].
const LINES: u8 = 2;

/// The tuning found by the first call (any thread may look it up; they all
/// find the same).
static FOUND: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The tuning for this processor: looked up once, then one relaxed load.
#[inline]
pub(crate) fn tuning() -> Tuning {
    let found = match FOUND.load(Ordering::Relaxed) {
        UNKNOWN => look_up(),
        found => found,
    };
    if found == LINES {
        Tuning::LINES
    } else {
        Tuning::PLAIN
    }
}

/// Reads the processor's vendor and records the tuning for it.
#[cold]
fn look_up() -> u8 {
    let found = if memcpy_slow_across_offsets() {
        LINES
    } else {
        PLAIN
    };
    FOUND.store(found, Ordering::Relaxed);
    found
}

/// Whether the processor is one whose `memcpy` is slow when source and
/// target lie at different offsets in their cache lines (AMD, Hygon).
fn memcpy_slow_across_offsets() -> bool {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // Leaf 0 names the vendor in EBX, EDX, ECX (12 ASCII bytes); every
        // x86_64 processor has the instruction.
        let leaf = core::arch::x86_64::__cpuid(0);
        let mut vendor = [0u8; 12];
        vendor[..4].copy_from_slice(&leaf.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf.edx.to_le_bytes());
        vendor[8..].copy_from_slice(&leaf.ecx.to_le_bytes());
        &vendor == b"AuthenticAMD" || &vendor == b"HygonGenuine"
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lookup gives the same answer every time, and the two tunings
    /// differ in both choices.
    #[test]
    fn tuning_is_stable() {
        let first = tuning();
        assert_eq!(tuning(), first);
        assert!(first == Tuning::PLAIN || first == Tuning::LINES);
        assert_ne!(FOUND.load(Ordering::Relaxed), UNKNOWN);
        assert_eq!(look_up() == LINES, memcpy_slow_across_offsets());
        assert_ne!(
            Tuning::PLAIN.lines_when_misaligned,
            Tuning::LINES.lines_when_misaligned
        );
        assert_ne!(
            Tuning::PLAIN.prefetch_next_run,
            Tuning::LINES.prefetch_next_run
        );
    }

    /// The vendor read from the processor is the one Linux reports, and
    /// picks the tuning: the cache-line loop and the prefetch on AMD and
    /// Hygon, the plain path elsewhere.
    #[cfg(all(target_os = "linux", target_arch = "x86_64", not(miri)))]
    #[test]
    fn the_vendor_is_the_one_linux_reports() {
        extern crate std;
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
            return;
        };
        let Some(vendor) = info
            .lines()
            .find_map(|line| line.strip_prefix("vendor_id"))
            .and_then(|rest| rest.split(':').nth(1))
            .map(str::trim)
        else {
            return;
        };
        let slow = vendor == "AuthenticAMD" || vendor == "HygonGenuine";
        assert_eq!(memcpy_slow_across_offsets(), slow, "{vendor}");
        let expected = if slow { Tuning::LINES } else { Tuning::PLAIN };
        assert_eq!(tuning(), expected);
    }
}
