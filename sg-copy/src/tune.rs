//! Which way of copying long runs suits the processor the program runs on.
//!
//! Two tricks of the linear fast path pay on some processors and cost on
//! others, so they are chosen from the processor's vendor
//! ([`sg_core::hint::memcpy_slow_across_offsets`]):
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
//! The third choice is the piece size for long runs whose ends lie at the
//! same offset in their cache lines (page-aligned buffers and pages).
//!
//! - On the AMD EPYC (32 MiB L3, glibc 2.36), whose `memcpy` uses
//!   `rep movsb` below 1 MiB and a slower vector loop from 1 MiB on, 64 MiB
//!   between page-aligned buffers ran at 13.3-14.0 GB/s in 4 KiB pieces,
//!   12.3-13.1 in 64 KiB and 11.3-12.3 in 1 MiB (16 MiB in cache: 24
//!   against 20-21.6); the kernel's page-by-page copy is the 4 KiB case.
//! - On the Intel Xeon (family 6 model 167, 2 MiB L2), 64 MiB between
//!   page-aligned buffers in pieces, against one `memcpy` of it in the
//!   same process: 4 KiB pieces 0.90-0.93, 16 KiB 0.96-0.98, 64 KiB
//!   0.985-0.99, 256 KiB 0.991-0.996, 1 MiB 0.993-0.999. There the pieces
//!   are 256 KiB: level with one `memcpy`, and well below the sizes at
//!   which glibc turns to non-temporal stores on any processor with a few
//!   MiB of cache.
//!
//! Everything else, and any target that is not x86_64 (or runs under Miri),
//! takes the plain path: one `memcpy` per run (in 256 KiB pieces when
//! aligned), no prefetch.

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
    /// Bytes per `memcpy` call for a long run whose ends lie at the same
    /// offset in their cache lines (at least 4 KiB).
    pub(crate) aligned_chunk: usize,
}

impl Tuning {
    /// The tuning for processors whose `memcpy` is slow across offsets.
    pub(crate) const LINES: Tuning = Tuning {
        lines_when_misaligned: true,
        prefetch_next_run: true,
        aligned_chunk: 4 << 10,
    };

    /// The plain path: one `memcpy` per run (per 256 KiB of an aligned
    /// one), no prefetch.
    pub(crate) const PLAIN: Tuning = Tuning {
        lines_when_misaligned: false,
        prefetch_next_run: false,
        aligned_chunk: 256 << 10,
    };
}

/// The tuning for this processor (one relaxed load once the vendor is
/// known).
#[inline]
pub(crate) fn tuning() -> Tuning {
    if sg_core::hint::memcpy_slow_across_offsets() {
        Tuning::LINES
    } else {
        Tuning::PLAIN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tuning follows the processor's vendor, and the two tunings
    /// differ in every choice; both copy aligned runs of up to a page
    /// with one `memcpy` (as `copy_tuned` does), and their piece
    /// sizes are whole pages.
    #[test]
    fn tuning_follows_the_vendor() {
        let expected = if sg_core::hint::memcpy_slow_across_offsets() {
            Tuning::LINES
        } else {
            Tuning::PLAIN
        };
        assert_eq!(tuning(), expected);
        assert_ne!(
            Tuning::PLAIN.lines_when_misaligned,
            Tuning::LINES.lines_when_misaligned
        );
        assert_ne!(
            Tuning::PLAIN.prefetch_next_run,
            Tuning::LINES.prefetch_next_run
        );
        assert_ne!(Tuning::PLAIN.aligned_chunk, Tuning::LINES.aligned_chunk);
        for tuning in [Tuning::PLAIN, Tuning::LINES] {
            assert!(tuning.aligned_chunk >= crate::runs::PAGE_CHUNK);
            // `RunCopy` keeps a flag in bit 0 of the piece size.
            assert_eq!(tuning.aligned_chunk % crate::runs::PAGE_CHUNK, 0);
        }
    }
}
