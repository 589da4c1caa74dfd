//! The builders from pages on random page layouts.
//!
//! Each input is a layout of pages (runs of consecutive frames, gaps,
//! descending runs), an offset, a size, a segment limit or a device's DMA
//! limits, and cuts of the pages into append calls. The target checks:
//!
//! - the outcome: the exact error for bad input (no pages, a segment limit
//!   below a page, contradictory limits, an offset past the first page,
//!   size 0 or past the pages, more segments than the device takes);
//! - coverage: the entries' bytes are the pages' bytes from the offset, in
//!   order, over consecutive frames, with the end mark on the last entry;
//! - limits: no entry is longer than the limit rounded down to pages or
//!   crosses a segment boundary, and the device's segment count holds;
//! - maximal merging: no entry could have taken the next one's first page;
//! - appending the same pages in pieces gives the same entries;
//!
//! and that every array and mapping is given back.

#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sg_alloc::{AppendPages, AppendTable, FromPages};
use sg_core::{DmaLimits, Error, PageProvider, Pages, SgList};
use sg_testkit::{CountingChunks, MockPage, MockPages};

/// Small pages: many of them in little memory.
const PAGE: usize = 256;
const PAGE_U64: u64 = PAGE as u64;

type Mock = MockPages<PAGE>;

#[derive(Arbitrary, Debug)]
struct Run {
    frames: u8,
    gap: u8,
    reversed: bool,
}

#[derive(Arbitrary, Debug)]
struct Device {
    max_segment_size: u32,
    boundary: Option<u8>,
    max_segments: Option<u8>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    runs: Vec<Run>,
    offset: u16,
    /// `None`: every byte after the offset; otherwise this many bytes.
    size: Option<u16>,
    max_segment: u32,
    device: Option<Device>,
    /// Where the pages are cut into append calls.
    cuts: Vec<u8>,
    /// Slots of the arrays, less 2.
    slots: u8,
}

/// A segment limit from raw input: often unlimited, often a few pages,
/// sometimes below one page.
fn segment_limit(raw: u32) -> u32 {
    match raw % 4 {
        0 => u32::MAX,
        1 => raw >> 2,
        _ => (raw >> 2) % (12 * PAGE as u32),
    }
}

/// The frame numbers of the layout's pages, in order.
fn frames(runs: &[Run]) -> Vec<u64> {
    let mut pfns = Vec::new();
    let mut next = 16u64;
    for run in runs.iter().take(24) {
        let count = 1 + u64::from(run.frames % 8);
        let first = next + u64::from(run.gap % 4);
        let run_frames = first..first + count;
        if run.reversed {
            pfns.extend(run_frames.rev());
        } else {
            pfns.extend(run_frames);
        }
        next = first + count;
    }
    pfns
}

/// When a run of pages ends: the builders' rule, written out again.
#[derive(Clone, Copy, Debug)]
struct Rule {
    max_pages: u64,
    boundary: Option<u64>,
    max_entries: usize,
}

impl Rule {
    /// Whether a run of `run` pages from frame `first` takes frame `next`.
    fn continues(&self, first: u64, run: u64, next: u64) -> bool {
        run < self.max_pages
            && next == first + run
            && self.boundary.is_none_or(|boundary| {
                (first * PAGE_U64) / boundary == ((first + run) * PAGE_U64) / boundary
            })
    }
}

/// What the builders must make of `pfns`: the entries as (first frame,
/// offset, length), or the error.
fn expected(
    pfns: &[u64],
    offset: usize,
    size: u64,
    rule: Result<Rule, Error>,
) -> Result<Vec<(u64, u32, u32)>, Error> {
    if pfns.is_empty() {
        return Err(Error::NoPages);
    }
    let rule = rule?;
    if offset >= PAGE {
        return Err(Error::OffsetTooLarge {
            offset,
            page_size: PAGE,
        });
    }
    if size == 0 {
        return Err(Error::ZeroLength);
    }
    let available = pfns.len() as u64 * PAGE_U64 - offset as u64;
    if size > available {
        return Err(Error::SizeTooLarge { size, available });
    }
    let used = (offset as u64 + size).div_ceil(PAGE_U64) as usize;
    let mut entries = Vec::new();
    let mut left = size;
    let mut start_offset = offset as u64;
    let mut index = 0;
    while index < used {
        let first = pfns[index];
        let mut run = 1;
        while index + run < used && rule.continues(first, run as u64, pfns[index + run]) {
            run += 1;
        }
        if entries.len() == rule.max_entries {
            return Err(Error::TooManySegments {
                needed: rule.max_entries + 1,
                max: rule.max_entries,
            });
        }
        let length = left.min(run as u64 * PAGE_U64 - start_offset);
        entries.push((first, start_offset as u32, length as u32));
        left -= length;
        start_offset = 0;
        index += run;
    }
    Ok(entries)
}

/// The entries of a view as (frame, offset, length), checking the end mark
/// is on the last one only.
fn entries<P: PageProvider<Page = MockPage>>(list: SgList<'_, P>) -> Vec<(u64, u32, u32)> {
    let count = list.count();
    list.iter()
        .enumerate()
        .map(|(index, entry)| {
            assert_eq!(
                entry.is_last(),
                index + 1 == count,
                "end mark of entry {index}"
            );
            let page = entry.page().expect("a data entry has a page");
            (page.pfn(), entry.offset(), entry.len())
        })
        .collect()
}

/// Checks the entries against the rule without the oracle: consecutive
/// frames in the order of the pages, within the limit and the boundary,
/// and no entry that could have taken the next one's first page.
fn check_shape(found: &[(u64, u32, u32)], pfns: &[u64], rule: Rule) {
    let mut page_index = 0;
    for (index, &(pfn, offset, length)) in found.iter().enumerate() {
        assert!(length > 0, "entry {index} is empty");
        let pages = (u64::from(offset) + u64::from(length)).div_ceil(PAGE_U64);
        assert!(pages <= rule.max_pages, "entry {index} spans {pages} pages");
        for step in 0..pages {
            assert_eq!(
                pfns[page_index + step as usize],
                pfn + step,
                "entry {index}"
            );
        }
        if let Some(boundary) = rule.boundary {
            let start = pfn * PAGE_U64 + u64::from(offset);
            let last = start + u64::from(length) - 1;
            assert_eq!(start / boundary, last / boundary, "entry {index} crosses");
        }
        if let Some(&(next, _, _)) = found.get(index + 1) {
            assert!(
                !rule.continues(pfn, pages, next),
                "entry {index} could have taken frame {next}"
            );
        }
        page_index += pages as usize;
    }
    assert!(found.len() <= rule.max_entries);
}

fuzz_target!(|input: Input| {
    let pfns = frames(&input.runs);
    let mock = Mock::new();
    let pages = mock.add_pages(pfns.iter().copied());
    mock.fill(u64::from(input.slots));
    // SAFETY: pages the mock holds, alive as long as it, each once (the
    // layout's frames are distinct); the tables built from the set borrow
    // it shared, so they only read.
    let set = unsafe { Pages::from_raw(&mock, &pages[..]) };
    let chunks = CountingChunks::with_max_entries(2 + usize::from(input.slots % 8));
    let offset = usize::from(input.offset) % (PAGE + 16);
    let held = pages.len() as u64 * PAGE_U64;
    let size = match input.size {
        None => held.saturating_sub(offset as u64),
        Some(size) => u64::from(size),
    };

    // The rule and the table, by segment limit or by device.
    let (rule, built, limits) = match &input.device {
        None => {
            let max_segment = segment_limit(input.max_segment);
            let max_pages = u64::from(max_segment) / PAGE_U64;
            let rule = if max_segment == 0 {
                // No device has segments of 0 bytes: contradictory limits.
                Err(Error::InvalidLimits {
                    reason: "the maximum segment size is 0",
                })
            } else if max_pages == 0 {
                Err(Error::SegmentTooSmall {
                    max_segment,
                    page_size: PAGE,
                })
            } else {
                Ok(Rule {
                    max_pages,
                    boundary: None,
                    max_entries: usize::MAX,
                })
            };
            let built = FromPages::new(&set, offset, size)
                .max_segment_size(max_segment)
                .chunk_allocator(&chunks)
                .build();
            (rule, built, Err(max_segment))
        }
        Some(device) => {
            let limits = DmaLimits::new()
                .with_max_segment_size(segment_limit(device.max_segment_size))
                .with_segment_boundary(device.boundary.map(|shift| 1u64 << (8 + shift % 12)))
                .with_max_segments(device.max_segments.map_or(usize::MAX, usize::from));
            let max_pages = u64::from(limits.max_segment_size()) / PAGE_U64;
            let rule = match limits.validate() {
                Err(error) => Err(error),
                Ok(()) if max_pages == 0 => Err(Error::SegmentTooSmall {
                    max_segment: limits.max_segment_size(),
                    page_size: PAGE,
                }),
                Ok(()) => Ok(Rule {
                    max_pages,
                    boundary: limits.segment_boundary(),
                    max_entries: limits.max_segments(),
                }),
            };
            let built = FromPages::new(&set, offset, size)
                .limits(&limits)
                .chunk_allocator(&chunks)
                .build();
            (rule, built, Ok(limits))
        }
    };

    let want = expected(&pfns, offset, size, rule);
    let table = match (built, want) {
        (Err(error), Err(wanted)) => {
            assert_eq!(error, wanted);
            return;
        }
        (Ok(table), Ok(wanted)) => {
            assert_eq!(entries(table.as_list()), wanted);
            table
        }
        (built, wanted) => panic!("built {:?}, expected {wanted:?}", built.map(|_| ())),
    };
    let found = entries(table.as_list());
    check_shape(&found, &pfns, rule.expect("the build succeeded"));
    assert_eq!(table.byte_len(), size);
    assert_eq!(
        (table.orig_nents(), table.nents()),
        (found.len(), found.len())
    );

    // Coverage: the table's bytes are the pages' bytes from the offset.
    let mut page_bytes = Vec::new();
    for &page in &pages {
        page_bytes.extend(mock.read(page, 0, PAGE));
    }
    let start = offset;
    assert!(mock.list_bytes(table.as_list()) == page_bytes[start..start + size as usize]);

    // The same pages appended in pieces make the same entries: every call
    // but the last takes whole pages, the next positions of the set.
    let used = (offset as u64 + size).div_ceil(PAGE_U64) as usize;
    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .take(6)
        .map(|&cut| usize::from(cut) % used)
        .filter(|&cut| cut > 0)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    cuts.push(used);
    let mut append = AppendTable::new_in(&set, &chunks);
    let mut from = 0;
    let mut left = size;
    for &to in &cuts {
        let call_offset = if from == 0 { offset } else { 0 };
        let whole = (to - from) as u64 * PAGE_U64 - call_offset as u64;
        let call_size = if to == used { left } else { whole };
        let pieces = from..to;
        let left_pages = used - to;
        match &limits {
            Ok(limits) => append
                .append_pages(
                    AppendPages::new(pieces, call_size)
                        .offset(call_offset)
                        .limits(limits)
                        .left_pages(left_pages),
                )
                .expect("an append of what a build took"),
            Err(max_segment) => append
                .append_pages(
                    AppendPages::new(pieces, call_size)
                        .offset(call_offset)
                        .max_segment_size(*max_segment)
                        .left_pages(left_pages),
                )
                .expect("an append of what a build took"),
        }
        // A page is never appended twice.
        assert_eq!(
            append.append_pages(AppendPages::new(from..to, 1)),
            Err(Error::PageReused {
                index: from,
                next: append.next_page()
            })
        );
        left -= call_size;
        from = to;
    }
    let appended = append.finish().expect("appended at least one call");
    assert_eq!(entries(appended.as_list()), found);
    assert_eq!(appended.byte_len(), size);
    drop((appended, table));
    chunks.assert_clean();
    mock.assert_clean();
});
