//! The fast path for linear providers: a view's bytes as a few contiguous
//! runs, each mapped once.
//!
//! On a linear provider the bytes of an entry are one range, and so are the
//! bytes of neighbouring entries that continue each other across a page
//! boundary ([`run_continues`]). Copying and zeroing then take one call per
//! run instead of one per page, with none of the bookkeeping a mapping
//! iterator needs to hand out slices. (A long walk joins runs only when
//! its first segments do; pages in no order go one call per segment,
//! without the question: see `walk_runs`.) Each run is mapped through
//! sg-core's [`MappedBytes`] guard, which flushes written pages and unmaps
//! even when the visitor or a flush panics.

use sg_core::{
    Access, ListView, MappedBytes, PageProvider, Segment, Segments, SgList, run_continues,
};

use crate::moves::{copy_string, copy_wide, try_copy_stream, try_copy_wide};
use crate::tune::{LongCopy, StreamedRuns, Tuning};

/// Longest range handed to a visitor at once: a slice may not exceed
/// `isize::MAX` bytes (which only matters on 32-bit targets); longer runs
/// are visited in pieces.
const MAX_PIECE: u64 = isize::MAX as u64;

/// What [`for_each_run`] hands its visitor: one mapped run, readable, and
/// writable when the view was exclusive.
pub(crate) type Run<'a, 'v, V> =
    MappedBytes<'a, <V as ListView<'v>>::Provider, <V as ListView<'v>>::Access>;

/// How a visitor of [`for_each_run`] copies the run it is handed; each
/// way copies the same bytes, and only the speed differs.
///
/// Either [`copy_chunked`] ([`RunCopy::CHUNKED`]), for the few entries of
/// a short copy or the one entry a copy lies in, where the length alone
/// decides most copies and the tuning is read only for long ones; or
/// [`copy_tuned`] with the processor's tuning, read once for a walk over
/// many runs rather than once per run ([`RunCopy::tuned`]).
///
/// One word, so that it stays in a register across the walk: the tuning's
/// piece size (a multiple of 4 KiB) with the [`LongCopy`] of the copy's
/// direction in bits 0 and 1 and the [`StreamedRuns`] of a copy that
/// streams in bits 2 and 3, or 0 for [`copy_chunked`]. (As an enum of a
/// tuning, the compiler copied it through the stack for every run.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RunCopy(usize);

impl RunCopy {
    /// Copies with [`copy_chunked`].
    pub(crate) const CHUNKED: RunCopy = RunCopy(0);

    /// Copies with [`copy_tuned`] and `tuning`, in the direction of a
    /// view of access `A` ([`Tuning::direction`]), for the runs of a copy
    /// of `budget` bytes in all (which decides whether they stream).
    #[inline(always)]
    pub(crate) fn tuned<A: Access>(tuning: Tuning, budget: u64) -> RunCopy {
        let direction = tuning.direction::<A>();
        let streamed = if direction.streams(budget) {
            (direction.streamed_runs as usize) << STREAMED_SHIFT
        } else {
            0
        };
        // A nonzero multiple of 4 KiB leaves bits 0 to 3 free (checked by
        // `tuning_follows_the_processor` and the tests below), so `|` here
        // is `^` too.
        RunCopy(tuning.aligned_chunk | direction.long as usize | streamed)
    }

    /// The tuning's piece size and long copy, and which runs stream
    /// (`None`: none); `None` for [`copy_chunked`].
    #[inline(always)]
    fn tuning(self) -> Option<(usize, LongCopy, Option<StreamedRuns>)> {
        let long = match self.0 & LONG_BITS {
            0 => LongCopy::Memcpy,
            1 => LongCopy::StringOrLines,
            2 => LongCopy::String,
            _ => LongCopy::WideWhenMisaligned,
        };
        let streamed = match (self.0 & STREAMED_BITS) >> STREAMED_SHIFT {
            0 => None,
            1 => Some(StreamedRuns::PastShort),
            _ => Some(StreamedRuns::Long),
        };
        let chunk = self.0 & !(LONG_BITS | STREAMED_BITS);
        (self.0 != 0).then_some((chunk, long, streamed))
    }

    /// Copies `source` into `target` (the same length) this way.
    #[inline(always)]
    pub(crate) fn copy(self, source: &[u8], target: &mut [u8]) {
        match self.tuning() {
            None => copy_chunked(source, target),
            Some((aligned_chunk, long, streamed)) => {
                copy_tuned(source, target, aligned_chunk, long, streamed)
            }
        }
    }
}

/// The bits of a [`RunCopy`] that hold its [`LongCopy`].
const LONG_BITS: usize = 3;

/// The bits of a [`RunCopy`] that hold the [`StreamedRuns`] of a copy
/// that streams (0 when it does not).
const STREAMED_BITS: usize = 3 << STREAMED_SHIFT;

/// Where [`STREAMED_BITS`] start.
const STREAMED_SHIFT: u32 = 2;

/// Calls `visit` with each contiguous run of up to `budget` bytes of `list`
/// from `skip` on (with the bytes visited before it and the way to copy
/// it), when the provider is linear; returns the bytes visited (the
/// smaller of `budget` and the bytes after `skip`), or `None` without
/// visiting anything when the provider is not linear.
///
/// Each run is mapped once, for reads through a shared view and for writes
/// too through an exclusive one; written runs are flushed when released.
#[inline(always)]
pub(crate) fn for_each_run<'v, V: ListView<'v>>(
    list: V,
    skip: u64,
    budget: u64,
    mut visit: impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> Option<u64> {
    let list = list.into_list();
    let provider = list.provider();
    if !provider.is_linear() {
        return None;
    }
    // The common case of small copies: the bytes wanted lie in the first
    // entry, found without preparing a walk.
    if let Some(first) = list.head_segment() {
        let len = u64::from(first.len);
        if skip < len && budget <= len - skip {
            // SAFETY: the provider is linear and these are `budget` bytes
            // of one entry of the view, which was exclusive when `V` is
            // `Write`.
            unsafe {
                visit_run::<V>(
                    provider,
                    first.page,
                    first.offset + skip,
                    budget,
                    0,
                    RunCopy::CHUNKED,
                    &mut visit,
                )
            };
            return Some(budget);
        }
    }
    // Small copies from the start of a view of a few entries: the slots
    // of its first array, read directly (no walk to prepare).
    if skip == 0 && budget <= SHORT_COPY {
        if let Some(slots) = list.head_slots() {
            // SAFETY: the provider is linear; the slots are the view's.
            return Some(unsafe { visit_slots::<V>(list, slots, budget, &mut visit) });
        }
    }
    // Whole entries (and arrays of them) before the skip are passed over
    // by summing their lengths, a whole array per step where its link
    // carries its byte count.
    let rest = if skip > 0 {
        skip_bytes(list, skip)
    } else {
        list
    };
    // A short copy over a few entries: each segment on its own, without
    // joining runs or prefetching, which cost more than they save here.
    if budget <= SHORT_COPY {
        // SAFETY: the provider is linear; `rest` is part of `V`'s view.
        return Some(unsafe {
            visit_segments::<V>(
                rest.segments(),
                provider,
                0,
                budget,
                0,
                RunCopy::CHUNKED,
                &mut visit,
            )
        });
    }
    // SAFETY: the provider is linear; `rest` is part of `V`'s view.
    Some(unsafe {
        walk_runs::<V>(
            rest.segments(),
            provider,
            budget,
            crate::tune::tuning(),
            &mut visit,
        )
    })
}

/// `list.skip_bytes(skip)`, out of line: a skip costs a walk anyway, and
/// the path without one stays small.
#[inline(never)]
fn skip_bytes<P: PageProvider>(list: SgList<'_, P>, skip: u64) -> SgList<'_, P> {
    list.skip_bytes(skip)
}

/// Budgets up to which [`for_each_run`] visits segment by segment.
const SHORT_COPY: u64 = 4096;

/// [`for_each_run`] for a short budget from the start of an untrimmed view:
/// visits the entries among `slots` (the view's
/// [`head_slots`](SgList::head_slots)) one by one, and goes on through the
/// view's segments should a link come before the budget is done.
///
/// # Safety
///
/// As for [`walk_runs`], with `list` the view of kind `V` and `slots` its
/// head slots.
#[inline(always)]
unsafe fn visit_slots<'v, V: ListView<'v>>(
    list: SgList<'_, V::Provider>,
    slots: &[sg_core::SgEntry<<V::Provider as PageProvider>::Page>],
    budget: u64,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    let provider = list.provider();
    let mut done = 0;
    for slot in slots {
        // One test for an entry in the middle of an array.
        let stop = slot.is_chain_or_last();
        if stop && slot.is_chain() {
            // SAFETY: the caller's promise.
            return unsafe { visit_after_link::<V>(list, done, budget, visit) };
        }
        if let Some(page) = slot.page() {
            let count = u64::from(slot.len()).min(budget - done);
            if count > 0 {
                // SAFETY: the caller's promise; `count` bytes of one entry.
                unsafe {
                    visit_run::<V>(
                        provider,
                        page,
                        u64::from(slot.offset()),
                        count,
                        done,
                        RunCopy::CHUNKED,
                        visit,
                    )
                };
                done += count;
                if done == budget {
                    break;
                }
            }
        }
        if stop {
            break;
        }
    }
    done
}

/// The rest of [`visit_slots`] once a link is reached: the view's segments
/// after the `done` bytes already visited.
///
/// # Safety
///
/// As for [`visit_slots`].
#[cold]
#[inline(never)]
unsafe fn visit_after_link<'v, V: ListView<'v>>(
    list: SgList<'_, V::Provider>,
    done: u64,
    budget: u64,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    // SAFETY: the caller's promise.
    let more = unsafe {
        visit_segments::<V>(
            list.segments(),
            list.provider(),
            done,
            budget - done,
            done,
            RunCopy::CHUNKED,
            visit,
        )
    };
    done + more
}

/// [`for_each_run`] for a short budget (and [`walk_each`]'s loop): skips
/// `skip` bytes, then visits each segment (trimmed to the budget) on its
/// own, to be copied `how`, with `before` added to the bytes done it tells
/// the visitor; returns the bytes it visited.
///
/// # Safety
///
/// As for [`walk_runs`].
#[inline(always)]
unsafe fn visit_segments<'v, V: ListView<'v>>(
    segments: Segments<'_, <V::Provider as PageProvider>::Page>,
    provider: &V::Provider,
    mut skip: u64,
    mut budget: u64,
    before: u64,
    how: RunCopy,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    let mut done = 0;
    for segment in segments {
        let len = u64::from(segment.len);
        if skip >= len {
            skip -= len;
            continue;
        }
        let count = (len - skip).min(budget);
        // SAFETY: the caller's promise; `count` bytes of one entry.
        unsafe {
            visit_run::<V>(
                provider,
                segment.page,
                segment.offset + skip,
                count,
                before + done,
                how,
                visit,
            )
        };
        skip = 0;
        done += count;
        budget -= count;
        if budget == 0 {
            break;
        }
    }
    done
}

/// [`for_each_run`] for a copy longer than a short one: visits the runs
/// of `segments` up to `budget` bytes. Kept out of line so that the
/// one-entry case stays small.
///
/// Runs are joined ([`visit_runs`]) only when one of the first three
/// segments continues the one before it ([`runs_at_start`]); otherwise the
/// pages lie in no order, and each segment is visited on its own. Joining
/// only saves `memcpy` calls, so both give the same bytes; but asking of
/// every segment whether it continues the run, on pages in no order,
/// where the answer is always no, cost the copy out of 4096 shuffled
/// 4 KiB pages 3-4% against a hand loop (0.95-0.98 asking, 0.99-1.0 not;
/// the Intel Xeon of [`crate::tune`]). A list that starts scattered and
/// turns contiguous later is copied segment by segment: the same bytes,
/// in more calls.
///
/// Segment by segment, the loop looks one segment ahead only where the
/// tuning prefetches the next run ([`walk_runs_as`] without joining);
/// elsewhere [`walk_each`] carries nothing across a copy but the walk
/// itself: about 72 instructions a segment against 80 (callgrind), and
/// copies out of pages in no order went from 0.992 to 0.998 of a hand
/// loop (4 KiB shuffled), from 1.012 to 1.046 (1 MiB at 7 MiB) and from
/// 0.958 to 1.012 (a 64 MiB `PageList`), medians of 8-12 alternated runs.
///
/// The walk copies as `tuning` says (the processor's, [`crate::tune`];
/// tests pass others).
///
/// # Safety
///
/// `provider` is linear, and `segments` are those of a view of kind `V`
/// (exclusive when `V` writes) over it, not used otherwise meanwhile.
#[inline(never)]
unsafe fn walk_runs<'v, V: ListView<'v>>(
    segments: Segments<'_, <V::Provider as PageProvider>::Page>,
    provider: &V::Provider,
    budget: u64,
    tuning: Tuning,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    if runs_at_start(provider, segments.clone()) {
        // SAFETY: the caller's promise.
        unsafe { walk_runs_as::<V, true>(segments, provider, budget, tuning, visit) }
    } else if tuning.prefetches::<V::Access>(budget) {
        // SAFETY: the caller's promise.
        unsafe { walk_runs_as::<V, false>(segments, provider, budget, tuning, visit) }
    } else {
        // SAFETY: the caller's promise.
        unsafe { walk_each::<V>(segments, provider, budget, tuning, visit) }
    }
}

/// [`walk_runs`] over pages in no order where the tuning prefetches
/// nothing: each segment is visited on its own, and nothing but the walk
/// itself is carried across its copy.
///
/// # Safety
///
/// As for [`walk_runs`].
#[inline(never)]
unsafe fn walk_each<'v, V: ListView<'v>>(
    segments: Segments<'_, <V::Provider as PageProvider>::Page>,
    provider: &V::Provider,
    budget: u64,
    tuning: Tuning,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    let how = RunCopy::tuned::<V::Access>(tuning, budget);
    // SAFETY: the caller's promise.
    unsafe { visit_segments::<V>(segments, provider, 0, budget, 0, how, visit) }
}

/// Whether one of the first three of `segments` continues the one before
/// it: whether a walk from there joins runs at all (see [`walk_runs`]).
fn runs_at_start<P: PageProvider>(provider: &P, mut segments: Segments<'_, P::Page>) -> bool {
    let Some(mut last) = segments.next() else {
        return false;
    };
    for next in segments.take(2) {
        let end = last.offset + u64::from(last.len);
        if run_continues(provider, last.page, end, next.page, next.offset) {
            return true;
        }
        last = next;
    }
    false
}

/// [`walk_runs`], joining runs when `JOIN` and visiting each segment on
/// its own otherwise: two copies of the loop, so that the one that does
/// not join has nothing of the question in it.
///
/// # Safety
///
/// As for [`walk_runs`].
#[inline(never)]
unsafe fn walk_runs_as<'v, V: ListView<'v>, const JOIN: bool>(
    mut segments: Segments<'_, <V::Provider as PageProvider>::Page>,
    provider: &V::Provider,
    budget: u64,
    tuning: Tuning,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    let Some(first) = segments.next() else {
        return 0;
    };
    // SAFETY: the caller's promise.
    unsafe { visit_runs::<V, JOIN>(provider, segments, first, budget, tuning, visit) }
}

/// The runs of [`for_each_run`] from its first segment on, joined when
/// `JOIN` (see [`walk_runs`]).
///
/// # Safety
///
/// As for [`walk_runs`]; `first` and `segments` come from the view.
#[inline(always)]
unsafe fn visit_runs<'v, 's, V: ListView<'v>, const JOIN: bool>(
    provider: &V::Provider,
    mut segments: Segments<'s, <V::Provider as PageProvider>::Page>,
    mut first: Segment<'s, <V::Provider as PageProvider>::Page>,
    mut budget: u64,
    tuning: Tuning,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) -> u64 {
    let prefetch = tuning.prefetches::<V::Access>(budget);
    let how = RunCopy::tuned::<V::Access>(tuning, budget);
    let mut done = 0u64;
    loop {
        // Grow the run while the following segments continue it.
        let mut len = u64::from(first.len);
        let (mut end_page, mut end_offset) = (first.page, first.offset + len);
        let mut following = None;
        while len < budget {
            let Some(segment) = segments.next() else {
                break;
            };
            if !JOIN || !run_continues(provider, end_page, end_offset, segment.page, segment.offset)
            {
                following = Some(segment);
                break;
            }
            len += u64::from(segment.len);
            (end_page, end_offset) = (segment.page, segment.offset + u64::from(segment.len));
        }
        let len = len.min(budget);
        if let Some(next) = &following {
            // Only the bytes of the next run that will be copied: never a
            // line past the end of the budget.
            let ahead = (budget - len).min(u64::from(next.len));
            if prefetch && ahead >= PREFETCH_MIN {
                prefetch_run(provider, next.page, next.offset, ahead);
            }
        }
        // SAFETY: the caller's promise; `len` bytes of a run of entries that
        // continue each other.
        unsafe { visit_run::<V>(provider, first.page, first.offset, len, done, how, visit) };
        done += len;
        budget -= len;
        match following {
            Some(segment) if budget > 0 => first = segment,
            _ => return done,
        }
    }
}

/// Cache lines at the start of the next run to ask for before visiting
/// the current one (at most).
const PREFETCH_LINES: u64 = 16;

/// Bytes of the next run below which it is not prefetched: a short copy
/// is over before a prefetch would pay for mapping the page.
const PREFETCH_MIN: u64 = 1024;

/// Asks the processor to start loading the first lines of the run at
/// `offset` from `page`, so that a run elsewhere in memory (entries in no
/// particular page order) does not start with a stall: the processor's
/// own prefetcher does not cross into an unrelated page.
///
/// Asks for the lines holding the first `bytes` bytes of the run (at most
/// [`PREFETCH_LINES`] lines), and never one past them.
#[inline]
fn prefetch_run<P: PageProvider>(provider: &P, page: P::Page, offset: u64, bytes: u64) {
    let (page, start) = page_under(provider, page, offset);
    let mapping = provider.map(page);
    for at in prefetch_offsets(start, bytes) {
        sg_core::hint::prefetch(mapping.as_ptr().wrapping_add(at));
    }
    // SAFETY: `mapping` came from `map(page)` just above, is released once,
    // and nothing was read through it (a prefetch only hints at addresses).
    unsafe { provider.unmap(page, mapping) };
}

/// The offsets (from the mapping's first byte) of the cache lines that
/// hold bytes `start..start + bytes`, the first [`PREFETCH_LINES`] of
/// them: never a line past the last byte.
fn prefetch_offsets(start: usize, bytes: u64) -> core::iter::StepBy<core::ops::Range<usize>> {
    let first_line = start / LINE;
    let end_line = (start as u64 + bytes).div_ceil(LINE as u64);
    let lines = (end_line - first_line as u64).min(PREFETCH_LINES) as usize;
    (first_line * LINE..(first_line + lines) * LINE).step_by(LINE)
}

/// The page that holds the byte `offset` bytes from the start of `page`,
/// and the byte's offset in it.
///
/// For offsets in an entry or a run of entries, which stay below 2^33:
/// with pages of at least 64 bytes the page index fits a usize, and the
/// in-page offset always does.
#[inline(always)]
pub(crate) fn page_under<P: PageProvider>(
    provider: &P,
    page: P::Page,
    offset: u64,
) -> (P::Page, usize) {
    let page_size = P::PAGE_SIZE as u64;
    let index = (offset / page_size) as usize;
    (provider.nth(page, index), (offset % page_size) as usize)
}

/// Maps the run of `len` bytes at `offset` from `page`, visits it (to be
/// copied `how`), and releases it (flushing it when `V` writes).
///
/// # Safety
///
/// As for [`walk_runs`], and the bytes are bytes of the view (one entry,
/// or entries that continue each other across page boundaries).
#[inline(always)]
unsafe fn visit_run<'v, V: ListView<'v>>(
    provider: &V::Provider,
    page: <V::Provider as PageProvider>::Page,
    offset: u64,
    len: u64,
    done: u64,
    how: RunCopy,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) {
    if len > MAX_PIECE {
        // SAFETY: the caller's promise.
        return unsafe { visit_in_pieces::<V>(provider, page, offset, len, done, how, visit) };
    }
    // The provider is linear, so the mapping of `page` reaches the whole
    // run, however far into it `offset` lies: no page to step to (as the
    // kernel's `sg_virt` adds the offset to its page's address). Only an
    // offset past a usize (on 32-bit targets) maps the page under it.
    let (first, start) = match usize::try_from(offset) {
        Ok(start) => (page, start),
        Err(_) => page_under(provider, page, offset),
    };
    // SAFETY: the caller's promise: the provider is linear, so mapping
    // `first` reaches the rest of the run; the bytes are the view's,
    // exclusive when `V` writes; `len` is at most `isize::MAX`, so the cast
    // keeps it.
    let mut mapped = unsafe { MappedBytes::new(provider, first, start, len as usize) };
    visit(&mut mapped, done, how);
}

/// Visits a run longer than a slice may be in pieces of at most
/// `MAX_PIECE` bytes, each mapped on its own (only on 32-bit targets).
///
/// # Safety
///
/// As for [`visit_run`].
#[cold]
unsafe fn visit_in_pieces<'v, V: ListView<'v>>(
    provider: &V::Provider,
    page: <V::Provider as PageProvider>::Page,
    mut offset: u64,
    mut len: u64,
    mut done: u64,
    how: RunCopy,
    visit: &mut impl FnMut(&mut Run<'_, 'v, V>, u64, RunCopy),
) {
    while len > 0 {
        let piece = len.min(MAX_PIECE);
        // SAFETY: the caller's promise, for the first `piece` bytes.
        unsafe { visit_run::<V>(provider, page, offset, piece, done, how, visit) };
        done += piece;
        offset += piece;
        len -= piece;
    }
}

/// A page, the common case of a list of pages: every tuning's
/// [`aligned_chunk`](crate::tune::Tuning) is a multiple of it (so that
/// [`RunCopy`] keeps a flag in bit 0), and aligned runs up to it are one
/// `memcpy` on every processor. The tests set their lengths around it.
#[cfg(test)]
pub(crate) const PAGE_CHUNK: usize = 4 << 10;

/// Cache line bytes: the unit of [`copy_lines`] and of "the same offset".
const LINE: usize = 64;

/// Copies `source` into `target`, which has the same length: up to a short
/// copy with one `memcpy`; past it as the processor's tuning says (see
/// [`crate::tune`]): on AMD, ends at the same offset in a cache line with
/// one string copy, and at different offsets with [`copy_lines`] before
/// Zen 5; elsewhere, when both start at the same offset in a cache line,
/// with `memcpy` in pieces of the tuning's
/// [`aligned_chunk`](crate::tune::Tuning) bytes, and with one `memcpy`
/// otherwise.
#[inline(always)]
pub(crate) fn copy_chunked(source: &[u8], target: &mut [u8]) {
    // The length alone decides short copies (the segments of small lists):
    // the offsets are looked at only past it.
    if source.len() <= SHORT_MEMCPY {
        target.copy_from_slice(source);
    } else {
        copy_past_short(source, target);
    }
}

/// [`copy_chunked`] past [`SHORT_MEMCPY`] bytes: [`copy_tuned`] with the
/// processor's tuning, read here. Out of line and cold, so that the short
/// copies of lists of a few entries fall through to their `memcpy`
/// instead of jumping around this code and back. Inline, 512
/// bytes into two 256-byte entries took 10.2 ns against 8.9 ns out of
/// line, and the peer row of that copy rose from 0.715 to 0.731 of a hand
/// loop (the Intel Xeon of [`crate::tune`]). A call costs nothing against
/// a copy of more than 2 KiB. These copies are few (one entry, or a short
/// copy over a few) and take the tuning's copy into a list whichever way
/// they go; only the walks over many runs tell the directions apart. The
/// run is the whole copy, so it streams when its own length is enough
/// ([`crate::tune::Direction::stream_from`]): one entry of 64 MiB is as
/// long a copy as 16384 entries of 4 KiB.
#[cold]
#[inline(never)]
fn copy_past_short(source: &[u8], target: &mut [u8]) {
    let tuning = crate::tune::tuning();
    let into = tuning.into_list;
    let streamed = into
        .streams(source.len() as u64)
        .then_some(into.streamed_runs);
    copy_tuned(source, target, tuning.aligned_chunk, into.long, streamed);
}

/// Runs up to this long, with ends at different offsets in their cache
/// lines, go through [`copy_wide`] where the tuning asks for it
/// ([`LongCopy::WideWhenMisaligned`]; longer ones take the string copy)
/// and through its loop in [`copy_lines_apart`] (longer ones take
/// [`copy_lines`]).
const WIDE_RUN: usize = 64 << 10;

/// Runs of at least this many bytes stream in a copy that streams long
/// runs only ([`StreamedRuns::Long`]).
const STREAMED_LONG_RUN: usize = 64 << 10;

/// Copies up to this many bytes are one `memcpy` wherever their ends lie:
/// below about 2 KiB glibc copies with vector moves whatever the offsets
/// (its `rep movsb` threshold is 2112 bytes on the machine above).
const SHORT_MEMCPY: usize = 2 << 10;

/// [`copy_chunked`] with the tuning already read, for the runs of a walk
/// over many: the copies that are one `memcpy` (all of them on the plain
/// tuning, up to 256 KiB aligned) are made here, inline, and only pieces
/// and line copies go out of line.
///
/// Inline, one `memcpy` per run keeps a walk over pages scattered in memory
/// level with a hand loop of `copy_from_slice` calls; through
/// [`copy_chunked`]'s out-of-line call, on the Intel Xeon of
/// [`crate::tune`], a 64 MiB list of separately allocated pages copied out
/// at 0.90-0.92 of that loop.
///
/// `aligned_chunk` and `long` are the tuning's fields of those names;
/// `streamed` says which runs of the copy stream (`None`: none; see
/// [`crate::tune::Direction::stream_from`]).
#[inline(always)]
pub(crate) fn copy_tuned(
    source: &[u8],
    target: &mut [u8],
    aligned_chunk: usize,
    long: LongCopy,
    streamed: Option<StreamedRuns>,
) {
    match tuned_way(source, target, aligned_chunk, long, streamed) {
        Way::Memcpy => target.copy_from_slice(source),
        Way::Pieces => copy_pieces(source, target, aligned_chunk),
        Way::Lines => copy_lines_apart(source, target),
        Way::String => copy_string(source, target),
        Way::Wide => copy_wide(source, target),
        Way::Stream => copy_stream(source, target, aligned_chunk, long),
    }
}

/// How [`copy_tuned`] copies a run; each way gives the same bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Way {
    /// One `memcpy`.
    Memcpy,
    /// One `memcpy` per piece of the tuning's size.
    Pieces,
    /// [`copy_lines`].
    Lines,
    /// [`copy_string`].
    String,
    /// [`copy_wide`].
    Wide,
    /// [`copy_stream`].
    Stream,
}

/// The way [`copy_tuned`] copies `source` into `target` with the tuning's
/// `aligned_chunk` and `long` (see [`LongCopy`]): up to a short copy with
/// one `memcpy`; past it, streamed when `streamed` takes the run in (the
/// runs of long copies on some processors), otherwise as `long` says: the
/// string copy for any ends,
/// or for ends at the same offset in their cache lines, with ends at
/// different offsets either in the wide loop up to [`WIDE_RUN`] bytes
/// (the string copy past it) or a line at a time; or `memcpy`, in pieces
/// of `aligned_chunk` for ends at the same offset past it.
#[inline(always)]
fn tuned_way(
    source: &[u8],
    target: &[u8],
    aligned_chunk: usize,
    long: LongCopy,
    streamed: Option<StreamedRuns>,
) -> Way {
    if source.len() <= SHORT_MEMCPY {
        return Way::Memcpy;
    }
    match streamed {
        Some(StreamedRuns::PastShort) => return Way::Stream,
        Some(StreamedRuns::Long) if source.len() >= STREAMED_LONG_RUN => return Way::Stream,
        _ => {}
    }
    let same_offset = (source.as_ptr() as usize ^ target.as_ptr() as usize) % LINE == 0;
    match long {
        LongCopy::String => Way::String,
        LongCopy::WideWhenMisaligned if !same_offset && source.len() <= WIDE_RUN => Way::Wide,
        LongCopy::WideWhenMisaligned => Way::String,
        LongCopy::StringOrLines if same_offset => Way::String,
        LongCopy::StringOrLines => Way::Lines,
        LongCopy::Memcpy if same_offset && source.len() > aligned_chunk => Way::Pieces,
        LongCopy::Memcpy => Way::Memcpy,
    }
}

/// [`copy_in_pieces`] out of line, for [`copy_tuned`]: its arguments are
/// scalars, so the tuning stays in registers.
#[inline(never)]
fn copy_pieces(source: &[u8], target: &mut [u8], chunk: usize) {
    copy_in_pieces(source, target, chunk);
}

/// A copy longer than [`SHORT_MEMCPY`] whose ends lie at different offsets
/// in their cache lines, where the processor's tuning asks for lines: up
/// to [`WIDE_RUN`] bytes in [`copy_wide`]'s loop of 32-byte moves where
/// the processor has AVX2, otherwise with [`copy_lines`]. Out of line, for
/// [`copy_tuned`].
///
/// On the AMD EPYC of family 0x19 of [`crate::tune`] the 32-byte loop
/// copied a `Vec` into 4096 shuffled pages at 1.04-1.10 of a hand loop of
/// `copy_from_slice` calls (0.94-0.98 with the 16-byte moves of
/// [`copy_lines`]), and 256 shuffled 64 KiB segments out into a `Vec` at
/// 2.2-2.5 (1.9-2.0); but through 64 MiB of contiguous bytes (a C
/// micro-benchmark, ends 1, 8 or 16 bytes apart, both ways) 16-byte moves
/// ran at 10.6-12.7 GB/s against 9.4-11.3.
#[inline(never)]
fn copy_lines_apart(source: &[u8], target: &mut [u8]) {
    if source.len() > WIDE_RUN || !try_copy_wide(source, target) {
        copy_lines(source, target);
    }
}

/// A run of a copy that streams ([`crate::tune::Direction::stream_from`]):
/// with [`try_copy_stream`]'s non-temporal stores where the processor has
/// AVX2, otherwise as [`copy_tuned`] copies without streaming. Out of line,
/// for [`copy_tuned`].
#[inline(never)]
fn copy_stream(source: &[u8], target: &mut [u8], aligned_chunk: usize, long: LongCopy) {
    if !try_copy_stream(source, target) {
        copy_tuned(source, target, aligned_chunk, long, None);
    }
}

/// Copies `source` into `target` (the same length) with one `memcpy` per
/// `chunk` bytes.
#[inline(always)]
fn copy_in_pieces(source: &[u8], target: &mut [u8], chunk: usize) {
    for (from, to) in source.chunks(chunk).zip(target.chunks_mut(chunk)) {
        to.copy_from_slice(from);
    }
}

/// Copies `source` into `target` (the same length) a cache line at a time
/// with unaligned vector loads and stores, for ends at different offsets
/// in their cache lines.
///
/// There glibc's `memcpy` is slow on some machines: on an AMD EPYC before
/// Zen 5 (see [`crate::tune`]), its `rep movsb` (below 1 MiB) ran 4 KiB pieces
/// at 3.1-3.4 GB/s with the ends 1 or 8 bytes apart modulo 64 and 7.5-9.6
/// GB/s at 16 or 48, and its 1 MiB vector loop at 10.3-11.8 GB/s, where
/// this loop ran at 12.7-14.4 GB/s (64 MiB; 19-23 against 17-22 GB/s for
/// 16 MiB in cache).
#[inline]
fn copy_lines(source: &[u8], target: &mut [u8]) {
    let mut to = target.chunks_exact_mut(LINE);
    let mut from = source.chunks_exact(LINE);
    for (to, from) in (&mut to).zip(&mut from) {
        to.copy_from_slice(from);
    }
    to.into_remainder().copy_from_slice(from.remainder());
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;
    use crate::tune::{LongCopy, StreamedRuns, Tuning};

    /// The entries of a table over `layout`, (page, offset, length) per
    /// entry, end-marked.
    ///
    /// # Safety
    ///
    /// Each triple names bytes of the mock's frames that lists made of the
    /// entries may reach, as [`sg_core::SgEntry::set_page`] asks.
    unsafe fn entries_of(
        layout: &[(sg_testkit::MockPage, u32, u32)],
    ) -> Vec<sg_core::SgEntry<sg_testkit::MockPage>> {
        let mut entries: Vec<_> = layout.iter().map(|_| sg_core::SgEntry::default()).collect();
        sg_core::init_table(&mut entries).unwrap();
        for (entry, &(page, offset, len)) in entries.iter_mut().zip(layout) {
            // SAFETY: the caller's promise.
            unsafe { entry.set_page(page, offset, len) };
        }
        entries
    }

    /// The mock the walk tests lay their lists over: a run of four pages
    /// (frames 10 to 13) and two pages apart (frames 50 and 70), filled
    /// from `seed`.
    fn walk_pages(
        seed: u64,
    ) -> (
        sg_testkit::MockPages<4096>,
        Vec<sg_testkit::MockPage>,
        Vec<sg_testkit::MockPage>,
    ) {
        let pages = sg_testkit::MockPages::<4096>::linear();
        let run = pages.add_run(10, 4);
        let apart = pages.add_pages([50, 70]);
        pages.fill(seed);
        (pages, run, apart)
    }

    /// Which loop of a long walk [`walk_out`] runs.
    #[derive(Clone, Copy, Debug)]
    enum Loop {
        /// `walk_runs`, which picks one of the others.
        Chosen,
        /// `walk_runs_as` joining runs.
        Joining,
        /// `walk_runs_as` without joining, looking a segment ahead.
        Ahead,
        /// `walk_each`.
        Each,
    }

    /// Copies `budget` bytes out of `list` (over `pages`) with one loop of
    /// a long walk and `tuning`; returns the bytes and the mappings made.
    fn walk_out<const PAGE: usize>(
        list: sg_core::SgList<'_, sg_testkit::MockPages<PAGE>>,
        pages: &sg_testkit::MockPages<PAGE>,
        budget: u64,
        tuning: Tuning,
        walk: Loop,
    ) -> (Vec<u8>, usize) {
        type View<'a, const PAGE: usize> = sg_core::SgList<'a, sg_testkit::MockPages<PAGE>>;
        let mut out = vec![0u8; budget as usize];
        let mut visit = |run: &mut Run<'_, '_, View<'_, PAGE>>, done: u64, how: RunCopy| {
            let done = done as usize;
            how.copy(run.bytes(), &mut out[done..done + run.len()]);
        };
        let before = pages.total_mappings();
        let (segments, provider) = (list.segments(), list.provider());
        // SAFETY: the provider is linear and the segments are those of a
        // shared view, only read.
        let got = unsafe {
            match walk {
                Loop::Chosen => {
                    walk_runs::<View<'_, PAGE>>(segments, provider, budget, tuning, &mut visit)
                }
                Loop::Joining => walk_runs_as::<View<'_, PAGE>, true>(
                    segments, provider, budget, tuning, &mut visit,
                ),
                Loop::Ahead => walk_runs_as::<View<'_, PAGE>, false>(
                    segments, provider, budget, tuning, &mut visit,
                ),
                Loop::Each => {
                    walk_each::<View<'_, PAGE>>(segments, provider, budget, tuning, &mut visit)
                }
            }
        };
        assert_eq!(got, budget, "{walk:?}");
        (out, pages.total_mappings() - before)
    }

    /// Copies the first `budget` bytes of `source` into `list` (over
    /// `pages`) with the loop that looks a segment ahead and `tuning`;
    /// returns the mappings made.
    fn walk_in<const PAGE: usize>(
        list: sg_core::SgListMut<'_, sg_testkit::MockPages<PAGE>>,
        pages: &sg_testkit::MockPages<PAGE>,
        source: &[u8],
        budget: u64,
        tuning: Tuning,
    ) -> usize {
        type View<'a, const PAGE: usize> = sg_core::SgListMut<'a, sg_testkit::MockPages<PAGE>>;
        let mut visit = |run: &mut Run<'_, '_, View<'_, PAGE>>, done: u64, how: RunCopy| {
            let done = done as usize;
            how.copy(&source[done..done + run.len()], run.bytes_mut());
        };
        let before = pages.total_mappings();
        let list = list.into_list();
        let (segments, provider) = (list.segments(), list.provider());
        // SAFETY: the provider is linear and the segments are those of an
        // exclusive view, written only through the visitor.
        let got = unsafe {
            walk_runs_as::<View<'_, PAGE>, false>(segments, provider, budget, tuning, &mut visit)
        };
        assert_eq!(got, budget);
        pages.total_mappings() - before
    }

    /// The prefetched lines are exactly those holding the bytes asked for,
    /// up to the bound, and never one past the last byte.
    #[test]
    fn prefetch_stays_within_the_bytes() {
        let offsets_of = |start: usize, bytes: u64| {
            let (first, last) = (start / LINE, (start + bytes as usize - 1) / LINE);
            let lines = first..(last + 1).min(first + PREFETCH_LINES as usize);
            lines.map(|line| line * LINE).collect::<Vec<_>>()
        };
        for start in [0, 1, 63, 64, 100, 4000, 4095] {
            for bytes in [1u64, 2, 63, 64, 65, 128, 1000, 1024, 4096, 1 << 20] {
                assert_eq!(
                    prefetch_offsets(start, bytes).collect::<Vec<_>>(),
                    offsets_of(start, bytes),
                    "{start} {bytes}"
                );
            }
        }
        let offsets = |start, bytes| prefetch_offsets(start, bytes).collect::<Vec<_>>();
        assert_eq!(offsets(100, 1), [64]);
        assert_eq!(offsets(60, 10), [0, 64]);
        assert_eq!(offsets(128, 1 << 20).len(), PREFETCH_LINES as usize);
        assert_eq!(offsets(128, 1 << 20)[0], 128);
    }

    /// A prefetch maps the page under the run's first byte, once, and
    /// releases it; `page_under` finds that page and the offset in it.
    #[test]
    fn prefetch_maps_the_page_under_the_run_once() {
        let pages = sg_testkit::MockPages::<4096>::linear();
        let run = pages.add_run(10, 3);
        assert_eq!(page_under(&pages, run[0], 2 * 4096 + 100), (run[2], 100));
        assert_eq!(page_under(&pages, run[1], 4095), (run[1], 4095));
        assert_eq!(page_under(&pages, run[0], 4096), (run[1], 0));
        prefetch_run(&pages, run[0], 2 * 4096 + 100, 64);
        assert_eq!(pages.total_mappings(), 1);
        assert_eq!(pages.live_mappings(), 0);
        pages.assert_clean();
    }

    /// A walk joins runs when one of the first three segments continues
    /// the one before it, and visits each segment on its own otherwise:
    /// joined, a run is mapped once. Either way every byte is copied.
    #[test]
    fn a_walk_joins_runs_only_when_its_start_has_one() {
        use sg_core::SgList;
        use sg_testkit::MockPage;
        const PAGE: usize = 4096;
        let (pages, run, apart) = walk_pages(9);
        // (page, offset, len) per entry, and whether the walk joins.
        type Layout = Vec<(MockPage, u32, u32)>;
        let full = PAGE as u32;
        let cases: [(Layout, bool); 5] = [
            (
                vec![(run[0], 0, full), (run[1], 0, full), (run[2], 0, full)],
                true,
            ),
            (
                vec![(apart[0], 0, full), (apart[1], 0, full), (run[0], 0, full)],
                false,
            ),
            // A header elsewhere, then pages that follow each other.
            (
                vec![(apart[0], 100, 200), (run[0], 0, full), (run[1], 0, full)],
                true,
            ),
            // The first pair that continues is the third and fourth.
            (
                vec![
                    (apart[0], 0, full),
                    (apart[1], 0, full),
                    (run[0], 0, full),
                    (run[1], 0, full),
                ],
                false,
            ),
            (vec![(run[3], 0, full), (run[0], 0, full)], false),
        ];
        for (layout, joins) in cases {
            // SAFETY: bytes of the mock's frames, only read below.
            let entries = unsafe { entries_of(&layout) };
            // SAFETY: the entries describe bytes of the mock's frames, only
            // read while the view is used.
            let list = unsafe { SgList::new(&entries, &pages) };
            assert_eq!(runs_at_start(&pages, list.segments()), joins, "{layout:?}");
            let bytes = list.byte_len();
            // The processor's tuning copies the bytes; one that prefetches
            // nothing counts the mappings.
            let mut out = vec![0u8; bytes as usize];
            assert_eq!(crate::copy_to_slice(list, 0, &mut out), bytes as usize);
            assert_eq!(out, pages.list_bytes(list));
            let (out, mappings) = walk_out(list, &pages, bytes, Tuning::PLAIN, Loop::Chosen);
            assert_eq!(out, pages.list_bytes(list));
            // Joined, the pages that follow each other are one mapping.
            let joined = layout
                .windows(2)
                .filter(|pair| {
                    pair[0].2 == full && pair[1].1 == 0 && {
                        let (first, next) = (pair[0].0, pair[1].0);
                        run.iter().position(|&page| page == first).map(|at| at + 1)
                            == run.iter().position(|&page| page == next)
                    }
                })
                .count();
            let expected = layout.len() - if joins { joined } else { 0 };
            assert_eq!(mappings, expected, "{layout:?}");
        }
        pages.assert_clean();
    }

    /// Each of the three loops of a long walk (joining, not joining with
    /// the lookahead a prefetch needs, and one segment at a time) copies
    /// the bytes of the list up to the budget, whatever the layout; only
    /// the joining loop maps a run of pages once. A tuning that prefetches
    /// maps each next segment once more, when at least `PREFETCH_MIN` of
    /// its bytes are still to copy.
    #[test]
    fn every_loop_of_a_walk_copies_the_same_bytes() {
        use sg_core::SgList;
        use sg_testkit::MockPage;
        const PAGE: usize = 4096;
        let (pages, run, apart) = walk_pages(3);
        let (pages_in, _, _) = walk_pages(3);
        let full = PAGE as u32;
        let layouts: [Vec<(MockPage, u32, u32)>; 3] = [
            vec![(run[0], 0, full), (run[1], 0, full), (run[2], 0, full)],
            vec![(apart[1], 8, 4000), (run[2], 0, full), (apart[0], 0, 100)],
            vec![
                (apart[0], 100, 200),
                (run[0], 0, full),
                (run[1], 0, full),
                (apart[1], 0, full),
                (run[3], 4000, 96),
            ],
        ];
        for layout in &layouts {
            // SAFETY: bytes of the mock's frames, only read below.
            let entries = unsafe { entries_of(layout) };
            // SAFETY: the entries describe bytes of the mock's frames, only
            // read while the view is used.
            let list = unsafe { SgList::new(&entries, &pages) };
            let whole = pages.list_bytes(list);
            let total = whole.len() as u64;
            let first = u64::from(layout[0].2);
            // Where each segment starts in the list's bytes.
            let starts: Vec<u64> = layout
                .iter()
                .scan(0u64, |before, &(_, _, len)| {
                    let starts = *before;
                    *before += u64::from(len);
                    Some(starts)
                })
                .collect();
            // Budgets around each threshold: the first segment's end, the
            // list's end, and `PREFETCH_MIN` bytes into the second segment.
            let budgets = [
                1,
                first,
                first + 1,
                first + PREFETCH_MIN - 1,
                first + PREFETCH_MIN,
                total - 1,
                total,
            ];
            for budget in budgets.into_iter().filter(|&budget| budget <= total) {
                // Without joining, one mapping per segment reached.
                let reached = starts.iter().filter(|&&at| at < budget).count();
                for walk in [Loop::Joining, Loop::Ahead, Loop::Each] {
                    let (out, mappings) = walk_out(list, &pages, budget, Tuning::PLAIN, walk);
                    assert_eq!(
                        out,
                        whole[..budget as usize],
                        "{layout:?} {budget} {walk:?}"
                    );
                    if let Loop::Joining = walk {
                        assert!(mappings <= reached, "{layout:?} {budget}");
                        // Three pages that follow each other: one run.
                        if layout.len() == 3 && layout[1].0 == run[1] && budget == total {
                            assert_eq!(mappings, 1);
                        }
                    } else {
                        assert_eq!(mappings, reached, "{layout:?} {budget} {walk:?}");
                    }
                }
                // With the prefetch: each later segment reached, with at
                // least `PREFETCH_MIN` of its bytes to copy, once more.
                let prefetched = starts
                    .iter()
                    .zip(layout)
                    .skip(1)
                    .filter(|&(&at, &(_, _, len))| {
                        at < budget && (budget - at).min(u64::from(len)) >= PREFETCH_MIN
                    })
                    .count();
                let (out, mappings) = walk_out(list, &pages, budget, Tuning::LINES, Loop::Ahead);
                assert_eq!(out, whole[..budget as usize], "{layout:?} {budget}");
                assert_eq!(mappings, reached + prefetched, "{layout:?} {budget}");
                // Copies that stream every run (here from the list's last
                // byte on) give the same bytes. Out of the list they still
                // prefetch (the source's lines); into it they prefetch
                // nothing.
                let direction = crate::tune::Direction {
                    stream_from: total,
                    streamed_runs: StreamedRuns::PastShort,
                    ..Tuning::LINES.out_of_list
                };
                let streaming = Tuning {
                    into_list: direction,
                    out_of_list: direction,
                    ..Tuning::LINES
                };
                let (out, mappings) = walk_out(list, &pages, budget, streaming, Loop::Ahead);
                assert_eq!(out, whole[..budget as usize], "{layout:?} {budget}");
                assert_eq!(mappings, reached + prefetched, "{layout:?} {budget}");
                // Into the same layout over a second mock with the same
                // frames, which only this part writes.
                // SAFETY: bytes of the second mock's frames, written only
                // below.
                let mut into = unsafe { entries_of(layout) };
                // SAFETY: the entries describe bytes of the second mock's
                // frames, which nothing else reaches while the view is used.
                let list_in = unsafe { sg_core::SgListMut::new(&mut into, &pages_in) };
                let source: Vec<u8> = whole.iter().map(|byte| byte ^ (budget as u8)).collect();
                let mappings = walk_in(list_in, &pages_in, &source, budget, streaming);
                let expected = if budget == total {
                    reached
                } else {
                    reached + prefetched
                };
                assert_eq!(mappings, expected, "{layout:?} {budget}");
                // SAFETY: as above; only read now.
                let written = pages_in.list_bytes(unsafe { SgList::new(&into, &pages_in) });
                assert_eq!(written[..budget as usize], source[..budget as usize]);
            }
        }
        pages.assert_clean();
        pages_in.assert_clean();
    }

    /// Copies long enough to stream on processors whose tuning streams
    /// (into pages in no order from a buffer 16 bytes off a cache line,
    /// out of them, and both ways through pages that follow each other)
    /// give the same bytes, flush every page written once per copy, and
    /// leave every mapping released; on the other processors they are
    /// ordinary long copies, with the same outcome.
    #[test]
    fn copies_long_enough_to_stream_give_the_same_bytes() {
        use sg_core::SgListMut;
        const PAGE: usize = 4096;
        if cfg!(miri) {
            // 12 MiB of pages and bytes: too slow there, and Miri never
            // streams.
            return;
        }
        let count = (Tuning::LINES.into_list.stream_from as usize).div_ceil(PAGE) + 3;
        let pages = sg_testkit::MockPages::<PAGE>::linear();
        // Frames two apart: no two pages continue each other.
        let mut order = pages.add_pages((0..count as u64).map(|index| 2 * index + 100));
        // A fixed shuffle: every page goes to the slot 7919 places on.
        order = (0..count)
            .map(|index| order[index * 7919 % count])
            .collect();
        let layout: Vec<_> = order.iter().map(|&page| (page, 0, PAGE as u32)).collect();
        // SAFETY: whole pages of the mock, reached only through the list.
        let mut entries = unsafe { entries_of(&layout) };
        let bytes = count * PAGE;
        let source: Vec<u8> = (0..bytes + 16).map(|index| (index % 251) as u8).collect();
        // SAFETY: the entries describe bytes of the mock's frames, which
        // nothing else reaches while the view is used.
        let list = unsafe { SgListMut::new(&mut entries, &pages) };
        assert_eq!(crate::copy_from_slice(list, 0, &source[16..]), bytes);
        for &page in &order {
            assert_eq!(pages.flushes_of(page), 1);
        }
        // SAFETY: as above; only read now.
        let list = unsafe { sg_core::SgList::new(&entries, &pages) };
        assert!(pages.list_bytes(list) == source[16..]);
        // Out of it into a buffer 16 bytes off: runs of a page, none
        // streamed.
        let mut out = vec![0u8; bytes + 16];
        assert_eq!(crate::copy_to_slice(list, 0, &mut out[16..]), bytes);
        assert!(out[16..] == source[16..]);
        // Pages that follow each other, as one entry (one run, copied as
        // the copy of one entry is) and as an entry per page (runs joined
        // by the walk): long runs, streamed both ways where copies stream.
        let run = pages.add_run(1 << 20, count as u64);
        let one = [(run[0], 0, bytes as u32)];
        let each: Vec<_> = run.iter().map(|&page| (page, 0, PAGE as u32)).collect();
        for (layout, seed) in [(&one[..], 7), (&each[..], 11)] {
            let source: Vec<u8> = (0..bytes + 16).map(|index| (index % seed) as u8).collect();
            // SAFETY: whole pages of the mock, reached only through the
            // list.
            let mut entries = unsafe { entries_of(layout) };
            // SAFETY: as above.
            let list = unsafe { SgListMut::new(&mut entries, &pages) };
            assert_eq!(crate::copy_from_slice(list, 0, &source[16..]), bytes);
            // SAFETY: as above; only read now.
            let list = unsafe { sg_core::SgList::new(&entries, &pages) };
            assert!(pages.list_bytes(list) == source[16..]);
            out.fill(0);
            assert_eq!(crate::copy_to_slice(list, 0, &mut out[16..]), bytes);
            assert!(out[16..] == source[16..]);
        }
        for &page in &run {
            assert_eq!(pages.flushes_of(page), 2);
        }
        pages.assert_clean();
    }

    /// A run is mapped from its entry's page however far into the run its
    /// bytes start, and a write flushes the pages its bytes lie in, each
    /// once, and no other: not the pages of the run before them.
    #[test]
    fn a_write_flushes_the_pages_of_its_bytes_only() {
        use sg_core::SgListMut;
        use sg_testkit::{MockPage, MockPages};
        const PAGE: usize = 4096;
        let pages = MockPages::<PAGE>::linear();
        let run = pages.add_run(10, 6);
        let full = PAGE as u32;
        // (entries, pages written by a copy of all their bytes)
        type Layout = Vec<(MockPage, u32, u32)>;
        let cases: [(Layout, Vec<usize>); 3] = [
            // Bytes 5000..9000 of the run: its second and third pages.
            (vec![(run[0], 5000, 4000)], vec![1, 2]),
            // A run joined across entries, starting in its second page.
            (
                vec![(run[0], PAGE as u32 + 100, full - 100), (run[2], 0, full)],
                vec![1, 2],
            ),
            // Two entries, each a page into its own run of pages.
            (
                vec![(run[3], PAGE as u32, 10), (run[0], 2 * PAGE as u32 + 1, 50)],
                vec![4, 2],
            ),
        ];
        for (layout, written) in cases {
            // SAFETY: bytes of the mock's frames, written only below.
            let mut entries = unsafe { entries_of(&layout) };
            let before: Vec<usize> = run.iter().map(|&page| pages.flushes_of(page)).collect();
            // SAFETY: the entries describe bytes of the mock's frames, which
            // nothing else reaches while the view is used.
            let list = unsafe { SgListMut::new(&mut entries, &pages) };
            let bytes = list.as_list().byte_len() as usize;
            let source: Vec<u8> = (0..bytes).map(|index| index as u8 ^ 0x5A).collect();
            assert_eq!(crate::copy_from_slice(list, 0, &source), bytes);
            for (index, &page) in run.iter().enumerate() {
                let expected = usize::from(written.contains(&index));
                assert_eq!(
                    pages.flushes_of(page) - before[index],
                    expected,
                    "{layout:?}: page {index}"
                );
            }
            // SAFETY: as above; only read now.
            let list = unsafe { sg_core::SgList::new(&entries, &pages) };
            assert_eq!(pages.list_bytes(list), source);
        }
        pages.assert_clean();
    }

    /// A guard flushes only when it was written through and holds bytes,
    /// and then the pages its bytes lie in: a read guard and an empty write
    /// guard flush nothing. It reports the page it mapped and where in it
    /// the bytes start.
    #[test]
    fn only_a_written_guard_with_bytes_flushes() {
        use sg_core::{Read, Write};
        use sg_testkit::MockPages;
        let pages = MockPages::<4096>::linear();
        let run = pages.add_run(10, 2);
        let flushes = || (pages.flushes_of(run[0]), pages.flushes_of(run[1]));
        // SAFETY: bytes of the mock's run, which nothing else reaches
        // meanwhile; no slice is taken (the same for each guard below).
        let read = unsafe { MappedBytes::<_, Read>::new(&pages, run[0], 4196, 10) };
        assert_eq!((read.page(), read.start(), read.len()), (run[0], 4196, 10));
        drop(read);
        // SAFETY: as above.
        drop(unsafe { MappedBytes::<_, Write>::new(&pages, run[0], 100, 0) });
        assert_eq!(flushes(), (0, 0));
        // SAFETY: as above.
        drop(unsafe { MappedBytes::<_, Write>::new(&pages, run[0], 4196, 10) });
        assert_eq!(flushes(), (0, 1));
        pages.assert_clean();
    }

    /// A tuning read once keeps its piece size and the long copy of the
    /// view's direction (into a list for views that write, out of it for
    /// views that read), and is told apart from `copy_chunked`.
    #[test]
    fn run_copy_keeps_the_tuning() {
        use sg_core::{Read, Write};

        assert_eq!(RunCopy::CHUNKED.tuning(), None);
        for tuning in [Tuning::PLAIN, Tuning::LINES, Tuning::STRING] {
            assert_eq!(
                RunCopy::tuned::<Write>(tuning, 0).tuning(),
                Some((tuning.aligned_chunk, tuning.into_list.long, None))
            );
            assert_eq!(
                RunCopy::tuned::<Read>(tuning, 0).tuning(),
                Some((tuning.aligned_chunk, tuning.out_of_list.long, None))
            );
        }
        // The line copy's tuning streams from its bound on: every run
        // into a list, long runs out of one.
        let from = Tuning::LINES.into_list.stream_from;
        let lines = |budget| {
            (
                RunCopy::tuned::<Write>(Tuning::LINES, budget).tuning(),
                RunCopy::tuned::<Read>(Tuning::LINES, budget).tuning(),
            )
        };
        let (chunk, long) = (Tuning::LINES.aligned_chunk, LongCopy::StringOrLines);
        assert_eq!(
            lines(from - 1),
            (Some((chunk, long, None)), Some((chunk, long, None)))
        );
        for budget in [from, u64::MAX - 1] {
            assert_eq!(
                lines(budget),
                (
                    Some((chunk, long, Some(StreamedRuns::PastShort))),
                    Some((chunk, long, Some(StreamedRuns::Long)))
                )
            );
        }
        // Each pair of choices survives with other piece sizes too.
        let longs = [
            LongCopy::Memcpy,
            LongCopy::StringOrLines,
            LongCopy::String,
            LongCopy::WideWhenMisaligned,
        ];
        let direction = |long, stream_from, streamed_runs| crate::tune::Direction {
            long,
            prefetch_next_run: false,
            stream_from,
            streamed_runs,
        };
        for aligned_chunk in [4 << 10, 8 << 10, 1 << 20] {
            for into in longs {
                for out in longs {
                    // Into the list every run streams from 100 bytes on,
                    // out of it long runs from 200.
                    let tuning = Tuning {
                        into_list: direction(into, 100, StreamedRuns::PastShort),
                        out_of_list: direction(out, 200, StreamedRuns::Long),
                        aligned_chunk,
                    };
                    let (past_short, long) =
                        (Some(StreamedRuns::PastShort), Some(StreamedRuns::Long));
                    for (budget, into_streams, out_streams) in [
                        (99, None, None),
                        (100, past_short, None),
                        (200, past_short, long),
                    ] {
                        let copies = (
                            RunCopy::tuned::<Write>(tuning, budget).tuning(),
                            RunCopy::tuned::<Read>(tuning, budget).tuning(),
                        );
                        assert_eq!(
                            copies,
                            (
                                Some((aligned_chunk, into, into_streams)),
                                Some((aligned_chunk, out, out_streams))
                            )
                        );
                    }
                }
            }
        }
    }

    /// A walk's copy of a run: one `memcpy` for any short run; past it,
    /// with `memcpy`, one call for aligned ends up to the piece size,
    /// pieces past it, one call for misaligned ends; with lines, one
    /// string copy for aligned ends and lines for misaligned ones; with
    /// the string copy, one string copy for every run.
    #[test]
    fn tuned_way_follows_offsets_length_and_tuning() {
        let buffer = vec![0u8; 3 * PAGE_CHUNK + 2 * LINE];
        // Offsets from a line's start: `at(0)` and `at(LINE)` share an
        // offset in their lines, `at(1)` and `at(0)` do not.
        let base = buffer.as_ptr().align_offset(LINE);
        let at = |offset: usize, len: usize| &buffer[base + offset..base + offset + len];
        let chunk = PAGE_CHUNK;
        for long in [LongCopy::Memcpy, LongCopy::StringOrLines] {
            let way = |source: usize, target: usize, len: usize| {
                tuned_way(at(source, len), at(target, len), chunk, long, None)
            };
            assert_eq!(way(0, LINE, 1), Way::Memcpy);
            assert_eq!(way(0, LINE, SHORT_MEMCPY), Way::Memcpy);
            assert_eq!(way(0, 1, SHORT_MEMCPY), Way::Memcpy);
            assert_eq!(way(1, 0, 1), Way::Memcpy);
            let (aligned, pieces, misaligned) = if long == LongCopy::Memcpy {
                (Way::Memcpy, Way::Pieces, Way::Memcpy)
            } else {
                (Way::String, Way::String, Way::Lines)
            };
            assert_eq!(way(0, LINE, SHORT_MEMCPY + 1), aligned, "{long:?}");
            assert_eq!(way(0, LINE, chunk), aligned, "{long:?}");
            assert_eq!(way(0, LINE, chunk + 1), pieces, "{long:?}");
            assert_eq!(way(LINE, 0, 2 * chunk), pieces, "{long:?}");
            // The same offset in their lines, though not at a line's start.
            assert_eq!(way(1, LINE + 1, chunk + 1), pieces, "{long:?}");
            assert_eq!(way(0, 1, SHORT_MEMCPY + 1), misaligned, "{long:?}");
            assert_eq!(way(LINE - 1, 0, 2 * chunk), misaligned, "{long:?}");
        }
        let way = |source: usize, target: usize, len: usize| {
            tuned_way(
                at(source, len),
                at(target, len),
                chunk,
                LongCopy::String,
                None,
            )
        };
        assert_eq!(way(0, LINE, SHORT_MEMCPY), Way::Memcpy);
        assert_eq!(way(0, 1, SHORT_MEMCPY), Way::Memcpy);
        assert_eq!(way(1, 0, 1), Way::Memcpy);
        assert_eq!(way(0, LINE, SHORT_MEMCPY + 1), Way::String);
        assert_eq!(way(0, 1, SHORT_MEMCPY + 1), Way::String);
        assert_eq!(way(0, LINE, 2 * chunk), Way::String);
        assert_eq!(way(LINE - 1, 0, 2 * chunk), Way::String);
        // The wide loop only for misaligned ends up to its bound.
        let way = |source: usize, target: usize, len: usize| {
            tuned_way(
                at(source, len),
                at(target, len),
                chunk,
                LongCopy::WideWhenMisaligned,
                None,
            )
        };
        assert_eq!(way(0, 1, SHORT_MEMCPY), Way::Memcpy);
        assert_eq!(way(0, LINE, SHORT_MEMCPY + 1), Way::String);
        assert_eq!(way(0, LINE, 2 * chunk), Way::String);
        assert_eq!(way(0, 1, SHORT_MEMCPY + 1), Way::Wide);
        assert_eq!(way(LINE - 1, 0, 2 * chunk), Way::Wide);
        let long = vec![0u8; WIDE_RUN + 2 * LINE];
        let base = long.as_ptr().align_offset(LINE);
        let at = |offset: usize, len: usize| &long[base + offset..base + offset + len];
        let way = |len: usize| {
            tuned_way(
                at(1, len),
                at(0, len),
                chunk,
                LongCopy::WideWhenMisaligned,
                None,
            )
        };
        assert_eq!(way(WIDE_RUN), Way::Wide);
        assert_eq!(way(WIDE_RUN + 1), Way::String);
        // A copy that streams every run does so past a short copy, one
        // that streams long runs from their bound on, whatever the long
        // copy and the offsets; shorter runs go the long copy's way.
        for long in [
            LongCopy::Memcpy,
            LongCopy::StringOrLines,
            LongCopy::String,
            LongCopy::WideWhenMisaligned,
        ] {
            for (source, target) in [(0, LINE), (1, 0), (0, 16)] {
                let way = |len: usize, streamed| {
                    tuned_way(at(source, len), at(target, len), chunk, long, streamed)
                };
                for streamed in [StreamedRuns::PastShort, StreamedRuns::Long] {
                    assert_eq!(way(1, Some(streamed)), Way::Memcpy, "{long:?}");
                    assert_eq!(way(SHORT_MEMCPY, Some(streamed)), Way::Memcpy);
                    assert_eq!(way(STREAMED_LONG_RUN, Some(streamed)), Way::Stream);
                    assert_eq!(way(WIDE_RUN + 1, Some(streamed)), Way::Stream);
                }
                let past_short = Some(StreamedRuns::PastShort);
                assert_eq!(way(SHORT_MEMCPY + 1, past_short), Way::Stream);
                assert_eq!(way(2 * chunk, past_short), Way::Stream);
                let long_runs = Some(StreamedRuns::Long);
                for len in [SHORT_MEMCPY + 1, 2 * chunk, STREAMED_LONG_RUN - 1] {
                    assert_eq!(way(len, long_runs), way(len, None), "{long:?} {len}");
                }
            }
        }
    }

    /// Every way of copying a run (one memcpy, pieces of each tuning's
    /// size, cache lines, the string copy, the wide loop; through
    /// `copy_chunked` or a tuning read once, in and out of a list)
    /// gives the source's bytes, for ends at the same
    /// and at different offsets in a cache line and lengths around each
    /// threshold.
    #[test]
    fn copy_chunked_copies_every_byte_at_every_offset() {
        // Under Miri (a thousand times slower) one length on each side of
        // each threshold, and two offsets of each kind; outside it, also
        // runs of several of the plain tuning's pieces.
        let lengths: &[usize] = if cfg!(miri) {
            &[0, 65, SHORT_MEMCPY + 1, PAGE_CHUNK + 1]
        } else {
            &[
                0,
                1,
                63,
                64,
                65,
                200,
                SHORT_MEMCPY,
                SHORT_MEMCPY + 1,
                PAGE_CHUNK - 1,
                PAGE_CHUNK,
                PAGE_CHUNK + 1,
                2 * PAGE_CHUNK + 100,
                WIDE_RUN,
                WIDE_RUN + 1,
                Tuning::PLAIN.aligned_chunk,
                2 * Tuning::PLAIN.aligned_chunk + 100,
            ]
        };
        let offsets: &[usize] = if cfg!(miri) {
            &[0, 16]
        } else {
            &[0, 1, 16, 63]
        };
        let longest = lengths.iter().max().copied().unwrap_or(0);
        let source: Vec<u8> = (0..longest + LINE)
            .map(|index| (index * 7 + 3) as u8)
            .collect();
        // Only as many bytes as the longest copy reaches are filled and
        // checked (against `untouched` with slice comparisons, which Miri
        // runs far faster than a loop over the bytes).
        let mut target = vec![0u8; longest + 2 * LINE];
        let untouched = vec![0xEEu8; target.len()];
        for &from in offsets {
            for &to in offsets {
                for &len in lengths {
                    // This processor's choice, then each tuning on its own,
                    // read once (as a walk does), for a copy out of a list,
                    // and directly.
                    for way in 0..16 {
                        target.fill(0xEE);
                        let (from_bytes, to_bytes) =
                            (&source[from..from + len], &mut target[to..to + len]);
                        let tuning = [Tuning::PLAIN, Tuning::LINES, Tuning::STRING][way % 3];
                        match way {
                            0 => RunCopy::CHUNKED.copy(from_bytes, to_bytes),
                            1..=3 => RunCopy::tuned::<sg_core::Write>(tuning, 0)
                                .copy(from_bytes, to_bytes),
                            4..=6 => RunCopy::tuned::<sg_core::Read>(tuning, 0)
                                .copy(from_bytes, to_bytes),
                            // Streamed, as long copies are on some
                            // processors: every run into the list, long
                            // runs out of it.
                            10..=15 => {
                                let streaming = |direction| crate::tune::Direction {
                                    stream_from: 0,
                                    ..direction
                                };
                                let streaming = Tuning {
                                    into_list: crate::tune::Direction {
                                        streamed_runs: StreamedRuns::PastShort,
                                        ..streaming(tuning.into_list)
                                    },
                                    out_of_list: crate::tune::Direction {
                                        streamed_runs: StreamedRuns::Long,
                                        ..streaming(tuning.out_of_list)
                                    },
                                    ..tuning
                                };
                                let how = if way < 13 {
                                    RunCopy::tuned::<sg_core::Write>(streaming, 0)
                                } else {
                                    RunCopy::tuned::<sg_core::Read>(streaming, 0)
                                };
                                how.copy(from_bytes, to_bytes)
                            }
                            _ => {
                                let same = (from_bytes.as_ptr() as usize
                                    ^ to_bytes.as_ptr() as usize)
                                    % LINE
                                    == 0;
                                if same {
                                    copy_in_pieces(from_bytes, to_bytes, tuning.aligned_chunk);
                                } else if tuning.into_list.long == LongCopy::StringOrLines {
                                    copy_lines_apart(from_bytes, to_bytes);
                                } else {
                                    to_bytes.copy_from_slice(from_bytes);
                                }
                            }
                        }
                        assert_eq!(
                            &target[to..to + len],
                            &source[from..from + len],
                            "{from} {to} {len} {way}"
                        );
                        assert!(target[..to] == untouched[..to], "nothing before");
                        assert!(target[to + len..] == untouched[to + len..], "nothing after");
                    }
                }
            }
        }
    }
}
