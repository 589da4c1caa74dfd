//! The fast path for linear providers: a view's bytes as a few contiguous
//! runs, each mapped once.
//!
//! On a linear provider the bytes of an entry are one range, and so are the
//! bytes of neighbouring entries that continue each other across a page
//! boundary ([`run_continues`]). Copying and zeroing then take one call per
//! run instead of one per page, with none of the bookkeeping a mapping
//! iterator needs to hand out slices. This is the only module of the crate
//! that handles raw pointers.

use core::ptr::NonNull;

use sg_core::{PageProvider, Segment, Segments, SgList, run_continues};

/// Longest range handed to a visitor at once: a range may not exceed
/// `isize::MAX` bytes (which only matters on 32-bit targets); longer runs
/// are visited in pieces.
const MAX_PIECE: u64 = isize::MAX as u64;

/// Releases a mapping when dropped, after flushing the pages a writer
/// touched, so that a panicking flush or visitor still unmaps.
struct Mapped<'a, P: PageProvider> {
    provider: &'a P,
    page: P::Page,
    mapping: NonNull<u8>,
    /// Pages to flush before unmapping (0 for readers).
    flush_pages: usize,
}

impl<P: PageProvider> Drop for Mapped<'_, P> {
    #[inline]
    fn drop(&mut self) {
        for index in 0..self.flush_pages {
            self.provider
                .flush_write(self.provider.nth(self.page, index));
        }
        // SAFETY: `mapping` came from `map(page)` on this provider and this
        // guard is its only owner, dropped once; the raw range the visitor
        // got is not used after the visitor returned.
        unsafe { self.provider.unmap(self.page, self.mapping) };
    }
}

/// Calls `visit(pointer, len)` for each contiguous run of up to `budget`
/// bytes of `list` from `skip` on, on a linear provider; returns the bytes
/// visited: the smaller of `budget` and the bytes after `skip`.
///
/// The `len` bytes from `pointer` (never null) are the view's bytes, valid
/// (for writes too, when `write`) until `visit` returns; when `write`, every page of the
/// run is flushed before the run is released.
///
/// # Safety
///
/// `list.provider().is_linear()`, and, when `write`, `list` comes from an
/// exclusive view (`SgListMut`) that nothing else uses meanwhile.
#[inline]
pub(crate) unsafe fn for_each_run<P: PageProvider>(
    list: SgList<'_, P>,
    skip: u64,
    budget: u64,
    write: bool,
    mut visit: impl FnMut(*mut u8, usize),
) -> u64 {
    debug_assert!(list.provider().is_linear());
    // The common case of small copies: the bytes wanted lie in the first
    // entry, found without preparing a walk.
    if let Some(first) = list.head_segment() {
        let len = u64::from(first.len);
        if skip < len && budget <= len - skip {
            // SAFETY: the caller's promise; `budget` bytes of the entry.
            unsafe {
                visit_run(
                    list.provider(),
                    first.page,
                    first.offset + skip,
                    budget,
                    write,
                    &mut visit,
                )
            };
            return budget;
        }
    }
    // SAFETY: the caller's promise.
    unsafe { walk_runs(list, skip, budget, write, &mut visit) }
}

/// [`for_each_run`] when the bytes do not all lie in the first entry: finds
/// the entry where they start, then visits the runs from there. Kept out of
/// line so that the one-entry case stays small.
///
/// # Safety
///
/// As for [`for_each_run`].
#[inline(never)]
unsafe fn walk_runs<P: PageProvider>(
    list: SgList<'_, P>,
    mut skip: u64,
    budget: u64,
    write: bool,
    visit: &mut impl FnMut(*mut u8, usize),
) -> u64 {
    let provider = list.provider();
    let mut segments = list.segments();
    let first = loop {
        let Some(segment) = segments.next() else {
            return 0;
        };
        let len = u64::from(segment.len);
        if skip < len {
            break Segment {
                offset: segment.offset + skip,
                len: (len - skip) as u32,
                ..segment
            };
        }
        skip -= len;
    };
    // SAFETY: the caller's promise.
    unsafe { visit_runs(provider, segments, first, budget, write, visit) }
}

/// The runs of [`for_each_run`] from its first (trimmed) segment on.
///
/// # Safety
///
/// As for [`for_each_run`]; `first` and `segments` come from its view.
#[inline]
unsafe fn visit_runs<'a, P: PageProvider>(
    provider: &P,
    mut segments: Segments<'a, P::Page>,
    mut first: Segment<'a, P::Page>,
    mut budget: u64,
    write: bool,
    visit: &mut impl FnMut(*mut u8, usize),
) -> u64 {
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
            if !run_continues(provider, end_page, end_offset, segment.page, segment.offset) {
                following = Some(segment);
                break;
            }
            len += u64::from(segment.len);
            (end_page, end_offset) = (segment.page, segment.offset + u64::from(segment.len));
        }
        let len = len.min(budget);
        if let Some(next) = &following {
            if budget > len {
                prefetch_run(provider, next.page, next.offset);
            }
        }
        // SAFETY: the caller's promise; `len` bytes of a run of entries that
        // continue each other.
        unsafe { visit_run(provider, first.page, first.offset, len, write, visit) };
        done += len;
        budget -= len;
        match following {
            Some(segment) if budget > 0 => first = segment,
            _ => return done,
        }
    }
}

/// Cache lines at the start of the next run to ask for before visiting
/// the current one.
const PREFETCH_LINES: usize = 16;

/// Asks the processor to start loading the first lines of the run at
/// `offset` from `page`, so that a run elsewhere in memory (entries in no
/// particular page order) does not start with a stall: the processor's
/// own prefetcher does not cross into an unrelated page.
#[inline]
fn prefetch_run<P: PageProvider>(provider: &P, page: P::Page, offset: u64) {
    let page_size = P::PAGE_SIZE as u64;
    // As in `visit_run`: the page index fits a usize, the offset a page.
    let page = provider.nth(page, (offset / page_size) as usize);
    let start = (offset % page_size) as usize;
    let mapping = provider.map(page);
    for line in 0..PREFETCH_LINES {
        sg_core::hint::prefetch(mapping.as_ptr().wrapping_add(start + line * 64));
    }
    // SAFETY: `mapping` came from `map(page)` just above, is released once,
    // and nothing was read through it (a prefetch only hints at addresses).
    unsafe { provider.unmap(page, mapping) };
}

/// Maps the run of `len` bytes at `offset` from `page`, visits it, flushes
/// it when `write`, and releases it.
///
/// # Safety
///
/// As for [`for_each_run`], and the bytes are bytes of the view (one entry,
/// or entries that continue each other across page boundaries).
#[inline]
unsafe fn visit_run<P: PageProvider>(
    provider: &P,
    page: P::Page,
    offset: u64,
    len: u64,
    write: bool,
    visit: &mut impl FnMut(*mut u8, usize),
) {
    let page_size = P::PAGE_SIZE as u64;
    // Offsets stay below 2^33 and pages are at least 64 bytes, so the page
    // index fits a usize and the in-page offset a page.
    let page = provider.nth(page, (offset / page_size) as usize);
    let start = (offset % page_size) as usize;
    let mapped = Mapped {
        provider,
        page,
        mapping: provider.map(page),
        flush_pages: if write {
            (start as u64 + len).div_ceil(page_size) as usize
        } else {
            0
        },
    };
    if len <= MAX_PIECE {
        // The run's first byte, `start` bytes into the mapped page; the
        // linear contract makes the mapping reach the whole run from there.
        // Wrapping: the page's own first byte may lie before the memory the
        // list describes (a buffer that starts mid-page), so only the result
        // is known to be in bounds; wrapping keeps the provenance.
        let pointer = mapped.mapping.as_ptr().wrapping_add(start);
        // At most `MAX_PIECE`, so it fits a usize.
        visit(pointer, len as usize);
    } else {
        visit_in_pieces(mapped.mapping, start, len, visit);
    }
}

/// Visits a run longer than a range may be in pieces of at most
/// `MAX_PIECE` bytes (only on 32-bit targets).
#[cold]
fn visit_in_pieces(
    mapping: NonNull<u8>,
    start: usize,
    len: u64,
    visit: &mut impl FnMut(*mut u8, usize),
) {
    let mut at = start as u64;
    while at < start as u64 + len {
        let piece = (start as u64 + len - at).min(MAX_PIECE);
        // As in `visit_run`: `at..at + piece` lies in the run's bytes, which
        // the mapping of its first page reaches.
        let pointer = mapping.as_ptr().wrapping_add(at as usize);
        // At most `MAX_PIECE`, so it fits a usize.
        visit(pointer, piece as usize);
        at += piece;
    }
}

/// Bytes copied per `memcpy` call when copying a long run.
///
/// A single copy of many megabytes makes the C library switch to stores
/// that bypass the cache, which is slower when the destination is read
/// soon after (or fits in the cache); copies of this size stay below that
/// switch on common machines while the per-call cost stays negligible.
pub(crate) const COPY_CHUNK: usize = 1 << 20;

/// Copies `len` bytes from `source` to `target` in pieces of at most
/// [`COPY_CHUNK`] bytes.
///
/// # Safety
///
/// `source` is valid for reads and `target` for writes of `len` bytes, and
/// the two ranges do not overlap.
#[inline]
pub(crate) unsafe fn copy_chunked(source: *const u8, target: *mut u8, len: usize) {
    if len <= COPY_CHUNK {
        // SAFETY: as the caller vouches.
        unsafe { core::ptr::copy_nonoverlapping(source, target, len) };
        return;
    }
    let mut done = 0;
    while done < len {
        let piece = (len - done).min(COPY_CHUNK);
        // SAFETY: `done + piece <= len` bytes of each range, as the caller
        // vouches; the ranges do not overlap.
        unsafe { core::ptr::copy_nonoverlapping(source.add(done), target.add(done), piece) };
        done += piece;
    }
}
