//! Which way of copying long runs suits the processor the program runs on.
//!
//! How long runs are copied, and whether the next run is prefetched, pay
//! on some processors and cost on others, and on some differ by direction
//! (into a list, through a view that writes, or out of one). They are
//! chosen from the processor's vendor and family
//! ([`sg_core::hint::memcpy_slow_across_offsets`],
//! [`sg_core::hint::string_copy_beats_memcpy`]):
//!
//! - On AMD processors before Zen 5 (and Hygon's) `rep movsb`, which
//!   glibc's `memcpy` uses for some lengths, runs at a third of the speed
//!   when source and target lie at different offsets in their cache lines;
//!   a loop of cache-line moves ([`copy_lines`](crate::runs)) runs at full
//!   speed there, and prefetching the start of the next run (entries in no
//!   particular page order) hides the stall of crossing into an unrelated
//!   page. Both ways.
//!
//!   With the ends at the same offset, one `rep movsb` per run beats
//!   `memcpy` in any piece size. On an AMD EPYC of family 0x19 (Zen 4,
//!   model 0x11; 2-core VM, 32 MiB L3, glibc 2.36, `memcpy` of 64 MiB at
//!   7-10 GB/s), 64 MiB between page-aligned buffers ran at 13-14 GB/s
//!   in one `rep movsb` against 10.8-11.3 in 4 KiB `memcpy` pieces,
//!   8.2-10.9 in 16 KiB to 1 MiB pieces and 8.5-8.6 in one `memcpy`
//!   (whose loop from 1 MiB on ran 4 MiB in cache at 20 GB/s against 45
//!   for `rep movsb`); in `cargo xtask perf` (5 alternated runs)
//!   `copy_to_buf_4k` went from 0.99 to 1.80 of one 64 MiB `memcpy`
//!   against 4 KiB pieces, `copy_to_buf_merged` from 1.03 to 1.75 and
//!   `copy_from_buf_4k` from 1.20 to 1.73. Ends at different offsets go
//!   through 32-byte moves up to 64 KiB where the processor has AVX2 (see
//!   [`copy_lines_apart`](crate::runs)).
//!
//!   A copy of 12 MiB or more in all ([`Direction::stream_from`]) writes
//!   with non-temporal stores (32-byte AVX2 moves, fenced at the end of
//!   each run): into a list every run past 2 KiB, out of one the runs of
//!   64 KiB or more ([`StreamedRuns`]). With the target and the source
//!   together about the size of the L3, plain stores first read each
//!   target line into the cache, and the processor's prefetcher does not
//!   follow pages in no order. In a C micro-benchmark on the EPYC above
//!   (a buffer 16 bytes off a page into shuffled 4 KiB pages, each way
//!   measured after three warm rounds of itself, `sfence` after every
//!   page), 16 MiB ran at 15.9 GB/s streamed against 10.9 for `memcpy`
//!   per page and 11.0 for `rep movsb`, 12 MiB at 16.5 against 15.1, but
//!   8 MiB at 16.7 against 26.2 (in cache): hence the bound. In `cargo
//!   xtask perf` (7 alternated runs each) the copy into 4096 shuffled pages
//!   went from 1.05 to 1.50 of a hand loop of `copy_from_slice` calls,
//!   into 256 shuffled 64 KiB segments from 1.13 to 1.72; of one 64 MiB
//!   `memcpy`, `copy_from_buf_4k` (one 64 MiB run) from 1.85 to 1.91,
//!   `copy_to_buf_4k` from 1.60 to 1.86, `copy_to_buf_merged` (one entry)
//!   from 1.73 to 1.89, `pcopy_to_buf_skip` (one 16 MiB run) from 1.35 to
//!   1.79. A streamed copy into a list prefetches nothing (the lines it
//!   would ask for are the target's); out of one it still prefetches the
//!   source's. Out of a list, runs of a page stay as they were: streamed,
//!   the copy out of 4096 shuffled pages into a `Vec` fell from 1.28 to
//!   0.85 of the hand loop and out of a 64 MiB `PageList` from 1.13 to
//!   0.83, while 64 KiB segments went from 2.08 to 2.42. Zeroing does not
//!   stream: 64 MiB of pages in order zeroed with streamed stores were
//!   level with one `memset` (`zero_4k` 1.17 against 1.16 of `memset_64m`).
//! - On AMD's Zen 5 (family 0x1A; measured on a 2-core EPYC VM, 32 MiB L3,
//!   glibc 2.36) `rep movsb` is fast for any offsets, but glibc's `memcpy`
//!   copies a few KiB with vector moves, which write into pages in no order
//!   at two thirds of its speed: one `rep movsb` per page copied a buffer
//!   into 4096 shuffled pages at 1.14-1.17 of a hand loop of
//!   `copy_from_slice` calls, `memcpy` per page at 0.96-1.02, the line
//!   loop with the prefetch (the tuning above) at 0.64-0.72. Into a list,
//!   every run past a short copy is one `rep movsb`, without prefetch
//!   (which cost 5-10% there).
//!
//!   Out of a list the next run is prefetched: 64 MiB out of 4 KiB pages
//!   in no order (`copy_to_buf_shuffled`) went from 0.63-0.73 to 0.73-0.84
//!   of one 64 MiB `memcpy`, and copies out of pages in cache stayed level.
//!   Into a buffer whose bytes lie at other offsets in their cache lines
//!   than the pages' (a `Vec`), runs up to 64 KiB are copied front to back
//!   with 32-byte moves where the processor has AVX2, which read pages in
//!   no order faster than either `memcpy` or `rep movsb` there: out of
//!   4096 shuffled pages that took sg from 0.96-0.97 to 1.00-1.08 of the
//!   hand loop, out of a 64 MiB `PageList` from 0.86-0.98 to 1.08-1.10,
//!   out of 1 MiB of pages at 7 MiB from 1.00-1.06 to 1.08-1.16. Longer
//!   runs, and runs between ends at the same offsets, stay with `rep
//!   movsb`, which copied 64 MiB runs out at 1.26-1.64 of one `memcpy`
//!   against 1.02-1.19 for the 32-byte loop.
//! - On Intel processors (measured on a 2-core Xeon VM, glibc 2.36) the same
//!   `memcpy` is as fast for any offsets, the line loop ran list -> buffer
//!   copies at 0.84-0.86 of a hand loop of `copy_from_slice` calls, and the
//!   prefetch cost 1-3% more; plain `memcpy` per run is level with the
//!   hand loop. Both ways.
//!
//! The last choice is the piece size for long runs whose ends lie at the
//! same offset in their cache lines (page-aligned buffers and pages).
//!
//! - On AMD, the string copy takes runs of any length whose ends lie at
//!   the same offset (above), so the piece size is not used there. On Zen
//!   5, 64 MiB of 4 KiB pages merged into one run copied out at 1.32-1.41
//!   of one `memcpy` of 64 MiB in the same process with one `rep movsb`,
//!   against 1.23-1.35 in 256 KiB `memcpy` pieces.
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

use sg_core::Access;

/// How runs longer than a short copy are copied, past the piece size for
/// aligned ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum LongCopy {
    /// Ends at the same offset in their cache lines: `memcpy` in pieces of
    /// the tuning's size; at different offsets: one `memcpy`.
    Memcpy = 0,
    /// Ends at the same offset in their cache lines: one string copy
    /// (`rep movsb`) for any length; at different offsets: a cache line
    /// at a time (32-byte moves up to 64 KiB where the processor has
    /// AVX2, `copy_lines_apart`).
    StringOrLines = 1,
    /// One string copy (`rep movsb`) for any offsets and length.
    String = 2,
    /// As [`LongCopy::String`], but ends at different offsets in their
    /// cache lines are copied front to back with 32-byte moves up to 64
    /// KiB (`copy_wide`).
    WideWhenMisaligned = 3,
}

/// How the linear fast path copies runs in one direction: into a list
/// (through a view that writes, from a linear buffer) or out of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Direction {
    /// How runs longer than a short copy are copied.
    pub(crate) long: LongCopy,
    /// The first lines of the next run are prefetched before the current
    /// run is visited (not in a copy into a list that streams: see
    /// [`Tuning::prefetches`]).
    pub(crate) prefetch_next_run: bool,
    /// Copies of at least this many bytes in all write the runs that
    /// [`streamed_runs`](Self::streamed_runs) names with non-temporal
    /// stores ([`NEVER`]: none do).
    pub(crate) stream_from: u64,
    /// Which runs of a copy that streams are streamed.
    pub(crate) streamed_runs: StreamedRuns,
}

/// A [`Direction::stream_from`] no copy reaches.
pub(crate) const NEVER: u64 = u64::MAX;

/// Which runs of a copy that streams ([`Direction::stream_from`]) are
/// written with non-temporal stores; the others are copied as the
/// direction's long copy says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub(crate) enum StreamedRuns {
    /// Every run longer than a short copy.
    PastShort = 1,
    /// Runs of at least 64 KiB (`STREAMED_LONG_RUN`).
    Long = 2,
}

/// How the linear fast path copies long runs on this processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Tuning {
    /// Copies into a list.
    pub(crate) into_list: Direction,
    /// Copies out of a list.
    pub(crate) out_of_list: Direction,
    /// Bytes per `memcpy` call for a long run whose ends lie at the same
    /// offset in their cache lines (at least 4 KiB), where the long copy
    /// is [`LongCopy::Memcpy`]; the others copy such runs with one string
    /// copy.
    pub(crate) aligned_chunk: usize,
}

impl Tuning {
    /// The tuning for processors whose `memcpy` is slow across offsets:
    /// one string copy for aligned runs, lines for others.
    pub(crate) const LINES: Tuning = Tuning {
        into_list: Direction {
            stream_from: STREAM_FROM,
            ..Direction::LINES
        },
        out_of_list: Direction {
            stream_from: STREAM_FROM,
            streamed_runs: StreamedRuns::Long,
            ..Direction::LINES
        },
        aligned_chunk: 256 << 10,
    };

    /// The plain path: one `memcpy` per run (per 256 KiB of an aligned
    /// one), no prefetch.
    pub(crate) const PLAIN: Tuning = Tuning {
        into_list: Direction::PLAIN,
        out_of_list: Direction::PLAIN,
        aligned_chunk: 256 << 10,
    };

    /// The tuning for processors whose string copy beats `memcpy`: one
    /// string copy per long run into a list, no prefetch; out of a list,
    /// 32-byte moves for misaligned runs up to 64 KiB (the string copy
    /// otherwise), and the next run prefetched.
    pub(crate) const STRING: Tuning = Tuning {
        into_list: Direction {
            long: LongCopy::String,
            prefetch_next_run: false,
            stream_from: NEVER,
            streamed_runs: StreamedRuns::PastShort,
        },
        out_of_list: Direction {
            long: LongCopy::WideWhenMisaligned,
            prefetch_next_run: true,
            stream_from: NEVER,
            streamed_runs: StreamedRuns::PastShort,
        },
        aligned_chunk: 256 << 10,
    };

    /// Whether a copy of `budget` bytes in all through a view of access `A`
    /// prefetches the next run, as its direction says, except a streamed
    /// copy into a list: its stores do not read the target's lines, so
    /// prefetching them would only fill the cache. (Out of a list the
    /// prefetched lines are the source's, read either way.)
    #[inline(always)]
    pub(crate) fn prefetches<A: Access>(self, budget: u64) -> bool {
        let direction = self.direction::<A>();
        direction.prefetch_next_run && !(A::WRITES && direction.streams(budget))
    }

    /// The direction of a copy through a view of access `A`: into the list
    /// when it writes, out of it when it reads.
    #[inline(always)]
    pub(crate) fn direction<A: Access>(self) -> Direction {
        if A::WRITES {
            self.into_list
        } else {
            self.out_of_list
        }
    }
}

impl Direction {
    /// A string copy for aligned ends, cache lines across offsets, and the
    /// next run prefetched.
    const LINES: Direction = Direction {
        long: LongCopy::StringOrLines,
        prefetch_next_run: true,
        stream_from: NEVER,
        streamed_runs: StreamedRuns::PastShort,
    };

    /// `memcpy`, no prefetch.
    const PLAIN: Direction = Direction {
        long: LongCopy::Memcpy,
        prefetch_next_run: false,
        stream_from: NEVER,
        streamed_runs: StreamedRuns::PastShort,
    };

    /// Whether a copy of `budget` bytes in all streams its runs.
    #[inline(always)]
    pub(crate) fn streams(self, budget: u64) -> bool {
        budget >= self.stream_from
    }
}

/// Copies of at least this many bytes stream on AMD before Zen 5 (see the
/// module doc).
const STREAM_FROM: u64 = 12 << 20;

/// The tuning for this processor (one relaxed load once the processor is
/// known).
#[inline]
pub(crate) fn tuning() -> Tuning {
    if sg_core::hint::memcpy_slow_across_offsets() {
        Tuning::LINES
    } else if sg_core::hint::string_copy_beats_memcpy() {
        Tuning::STRING
    } else {
        Tuning::PLAIN
    }
}

#[cfg(test)]
mod tests {
    use sg_core::{Read, Write};

    use super::*;

    /// The tuning follows the processor, and the tunings differ in their
    /// long copies each way; their piece sizes are whole pages. A view that
    /// writes copies into its list, one that reads out of it.
    #[test]
    fn tuning_follows_the_processor() {
        let expected = if sg_core::hint::memcpy_slow_across_offsets() {
            Tuning::LINES
        } else if sg_core::hint::string_copy_beats_memcpy() {
            Tuning::STRING
        } else {
            Tuning::PLAIN
        };
        assert_eq!(tuning(), expected);
        let all = [Tuning::PLAIN, Tuning::LINES, Tuning::STRING];
        for (index, tuning) in all.iter().enumerate() {
            for other in &all[index + 1..] {
                assert_ne!(tuning.into_list.long, other.into_list.long);
                assert_ne!(tuning.out_of_list.long, other.out_of_list.long);
            }
            assert_eq!(tuning.direction::<Write>(), tuning.into_list);
            assert_eq!(tuning.direction::<Read>(), tuning.out_of_list);
        }
        // Only the string copy's tuning copies long runs out of a list
        // otherwise.
        let differ = all.map(|tuning| tuning.into_list.long != tuning.out_of_list.long);
        assert_eq!(differ, [false, false, true]);
        // The line copy prefetches both ways, the string copy's out only.
        let prefetching = all.map(|tuning| {
            (
                tuning.into_list.prefetch_next_run,
                tuning.out_of_list.prefetch_next_run,
            )
        });
        assert_eq!(prefetching, [(false, false), (true, true), (false, true)]);
        // Only the line copy's tuning streams, both ways.
        let streaming = all.map(|tuning| {
            (
                tuning.into_list.stream_from != NEVER,
                tuning.out_of_list.stream_from != NEVER,
            )
        });
        assert_eq!(streaming, [(false, false), (true, true), (false, false)]);
        for tuning in all {
            assert!(tuning.aligned_chunk >= crate::runs::PAGE_CHUNK);
            // `RunCopy` keeps the long copy in bits 0 and 1 of the piece
            // size, and the runs it streams in bits 2 and 3.
            assert_eq!(tuning.aligned_chunk % crate::runs::PAGE_CHUNK, 0);
        }
    }

    /// A copy streams from its direction's bound on. One that streams
    /// into a list prefetches nothing; one out of a list prefetches as its
    /// direction says, and so does any copy below the bound.
    #[test]
    fn a_streamed_copy_into_a_list_prefetches_nothing() {
        let lines = Tuning::LINES;
        let from = lines.into_list.stream_from;
        assert_eq!(from, STREAM_FROM);
        assert_eq!(lines.out_of_list.stream_from, STREAM_FROM);
        for direction in [lines.into_list, lines.out_of_list] {
            assert!(!direction.streams(0) && !direction.streams(from - 1));
            assert!(direction.streams(from) && direction.streams(u64::MAX - 1));
        }
        assert_eq!(lines.into_list.streamed_runs, StreamedRuns::PastShort);
        assert_eq!(lines.out_of_list.streamed_runs, StreamedRuns::Long);
        assert!(lines.prefetches::<Write>(from - 1));
        assert!(!lines.prefetches::<Write>(from));
        assert!(lines.prefetches::<Read>(from - 1));
        assert!(lines.prefetches::<Read>(from));
        for tuning in [Tuning::PLAIN, Tuning::STRING] {
            for budget in [0, u64::MAX - 1] {
                assert!(!tuning.into_list.streams(budget));
                assert!(!tuning.out_of_list.streams(budget));
                assert_eq!(
                    tuning.prefetches::<Write>(budget),
                    tuning.into_list.prefetch_next_run
                );
                assert_eq!(
                    tuning.prefetches::<Read>(budget),
                    tuning.out_of_list.prefetch_next_run
                );
            }
        }
    }
}
