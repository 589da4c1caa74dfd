//! Helpers shared by the test binaries: a page size that keeps Miri fast,
//! entry snapshots, and the checks every table built from pages must pass.

#![allow(dead_code, reason = "each test binary uses a part of the helpers")]

use sg_core::{PageProvider, Pages, SgList};
use sg_testkit::{EntryLayout, EntrySpec, MaxSegment, MockPage, MockPages};

/// The mock page size of property tests: 4 KiB, or 64 bytes under Miri,
/// where every byte filled and compared costs about a thousand times more.
pub(crate) const PAGE: usize = if cfg!(miri) { 64 } else { 4096 };

/// The mock of the property tests.
pub(crate) type Mock = MockPages<PAGE>;

/// The test's pages as a set, borrowing the handles (nothing is allocated).
pub(crate) fn raw<P: PageProvider>(provider: P, handles: &[P::Page]) -> Pages<P, &[P::Page]> {
    // SAFETY: the tests pass pages their provider holds (or that are never
    // mapped), and write only tables whose pages are distinct.
    unsafe { Pages::from_raw(provider, handles) }
}

/// A `MaxSegment` (made for 4 KiB pages) scaled to [`PAGE`], keeping what
/// it is: below one page, whole pages, between pages, near `u32::MAX`.
pub(crate) fn scaled(max_segment: MaxSegment) -> u32 {
    (u64::from(max_segment.0) * PAGE as u64 / 4096) as u32
}

/// An `EntryLayout` (made for 4 KiB pages) scaled to [`PAGE`].
pub(crate) fn scaled_layout(layout: EntryLayout) -> EntryLayout {
    let factor = (4096 / PAGE) as u32;
    EntryLayout {
        entries: layout
            .entries
            .into_iter()
            .map(|spec| EntrySpec {
                offset: spec.offset / factor,
                len: spec.len / factor,
                ..spec
            })
            .collect(),
        arrays: layout.arrays,
    }
}

/// Fills the pages with bytes that differ along each page and from page
/// to page: `MockPages::fill` natively, and under Miri, where that
/// computes every byte in the interpreter, copies of one pattern at a
/// phase that depends on the frame.
pub(crate) fn fill<const N: usize>(
    mock: &MockPages<N>,
    pfns: impl IntoIterator<Item = u64>,
    seed: u64,
) {
    if !cfg!(miri) {
        mock.fill(seed);
        return;
    }
    let pattern: Vec<u8> = (0..N + 251).map(|index| (index % 251) as u8).collect();
    for pfn in pfns {
        let phase = (pfn.wrapping_mul(37).wrapping_add(seed) % 251) as usize;
        mock.write(MockPage::new(pfn), 0, &pattern[phase..phase + N]);
    }
}

/// [`fill`] for the pages a list's bytes are in.
pub(crate) fn fill_list<const N: usize, P>(mock: &MockPages<N>, list: SgList<'_, P>, seed: u64)
where
    P: PageProvider<Page = MockPage>,
{
    let mut pfns: Vec<u64> = list
        .segments()
        .flat_map(|segment| {
            let first = segment.offset / N as u64;
            let last = (segment.offset + u64::from(segment.len) - 1) / N as u64;
            (first..=last).map(move |page| segment.page.pfn() + page)
        })
        .collect();
    pfns.sort_unstable();
    pfns.dedup();
    fill(mock, pfns, seed);
}

/// What a test compares of an entry: frame, offset, length, end mark, and
/// the DMA fields.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Entry {
    pub(crate) pfn: u64,
    pub(crate) offset: u32,
    pub(crate) length: u32,
    pub(crate) last: bool,
    pub(crate) dma: (u64, u32),
}

/// Checks that every link of the table under `list` (an untrimmed view
/// of a table of this crate) carries the byte count of the array it ends:
/// the sum of the lengths of the array's other slots, which are data
/// entries without the end mark. Seeks pass whole arrays by these counts,
/// so a wrong one would make them land on the wrong byte.
pub(crate) fn check_array_counts<P: PageProvider>(list: SgList<'_, P>) {
    let Some(mut slots) = list.head_slots() else {
        return;
    };
    loop {
        let Some((last, data)) = slots.split_last() else {
            return;
        };
        let Some(next) = last.link() else {
            return;
        };
        assert!(
            !data.iter().any(sg_core::SgEntry::is_chain_or_last),
            "an array before a link holds only data entries, none end-marked"
        );
        let bytes: u64 = data.iter().map(|entry| u64::from(entry.len())).sum();
        assert_eq!(
            last.array_bytes(),
            Some(bytes),
            "a link carries its array's byte count"
        );
        // SAFETY: a link of the table that `list` borrows: it points to an
        // initialised array the table owns, alive and unwritten while the
        // view lives.
        slots = unsafe { next.as_ref() };
    }
}

/// The entries of a view; checks the array byte counts of its table
/// ([`check_array_counts`]) on the way.
pub(crate) fn entries<P: PageProvider<Page = MockPage>>(list: SgList<'_, P>) -> Vec<Entry> {
    check_array_counts(list);
    list.iter()
        .map(|entry| {
            assert!(!entry.is_chain(), "a view yields data entries only");
            Entry {
                pfn: entry.page().map_or(u64::MAX, MockPage::pfn),
                offset: entry.offset(),
                length: entry.len(),
                last: entry.is_last(),
                dma: (entry.dma_address(), entry.dma_len()),
            }
        })
        .collect()
}

/// `(pfn, offset, length)` of each entry: what two builds must agree on.
pub(crate) fn spans<P: PageProvider<Page = MockPage>>(list: SgList<'_, P>) -> Vec<(u64, u32, u32)> {
    entries(list)
        .into_iter()
        .map(|entry| (entry.pfn, entry.offset, entry.length))
        .collect()
}

/// `size` bytes starting `offset` bytes into the first of `pages`, read
/// page by page in the given order.
pub(crate) fn page_bytes<const N: usize>(
    mock: &MockPages<N>,
    pages: &[MockPage],
    offset: usize,
    size: u64,
) -> Vec<u8> {
    let mut bytes = Vec::new();
    for &page in pages {
        if bytes.len() as u64 >= offset as u64 + size {
            break;
        }
        bytes.extend(mock.read(page, 0, N));
    }
    bytes[offset..offset + size as usize].to_vec()
}

/// The segment limit in whole pages of `page_size`.
pub(crate) fn max_pages(max_segment: u32, page_size: usize) -> u64 {
    u64::from(max_segment) / page_size as u64
}

/// Checks the shape of a table built from `pages` (`size` bytes from
/// `offset`) with `max_segment`: entries in order over the pages, each
/// within the rounded limit and over consecutive frames only, no two
/// neighbours that could have been one entry, the end mark on the last
/// entry only, and the byte count.
pub(crate) fn check_shape(
    found: &[Entry],
    pages: &[MockPage],
    offset: usize,
    size: u64,
    max_segment: u32,
    page_size: usize,
) -> Result<(), String> {
    let page = page_size as u64;
    let limit = max_pages(max_segment, page_size) * page;
    let mut next_page = 0;
    let mut total = 0u64;
    for (index, entry) in found.iter().enumerate() {
        let context = || format!("entry {index} {entry:?} of {found:?}");
        if entry.length == 0 || u64::from(entry.length) > limit {
            return Err(format!("length not in 1..={limit}: {}", context()));
        }
        let expected_offset = if index == 0 { offset as u32 } else { 0 };
        if entry.offset != expected_offset {
            return Err(format!("offset should be {expected_offset}: {}", context()));
        }
        let touched = (u64::from(entry.offset) + u64::from(entry.length)).div_ceil(page) as usize;
        for step in 0..touched {
            match pages.get(next_page + step) {
                Some(input) if input.pfn() == entry.pfn + step as u64 => {}
                other => {
                    return Err(format!(
                        "page {step} of the entry is frame {}, input page {} is {other:?}: {}",
                        entry.pfn + step as u64,
                        next_page + step,
                        context()
                    ));
                }
            }
        }
        if entry.last != (index + 1 == found.len()) {
            return Err(format!("end mark misplaced: {}", context()));
        }
        if let Some(following) = found.get(index + 1) {
            let end = u64::from(entry.offset) + u64::from(entry.length);
            let continues = end % page == 0 && following.pfn == entry.pfn + end / page;
            if continues && end + page <= limit {
                return Err(format!("could have merged with the next: {}", context()));
            }
        }
        next_page += touched;
        total += u64::from(entry.length);
    }
    if total != size {
        return Err(format!("entries hold {total} bytes, not {size}: {found:?}"));
    }
    let needed = (offset as u64 + size).div_ceil(page) as usize;
    if next_page != needed {
        return Err(format!("entries cover {next_page} pages, not {needed}"));
    }
    Ok(())
}

/// Runs `attempt` with a chunk allocator over `chunks` that panics at its
/// call k, for k = 0, 1, 2, ... until an attempt completes, and checks
/// after each that no array of `chunks` is live; returns how many calls
/// could panic.
pub(crate) fn panic_at_every_chunk_call(
    chunks: &sg_testkit::CountingChunks,
    mut attempt: impl FnMut(&sg_testkit::PanicAt<&sg_testkit::CountingChunks>),
) -> usize {
    let points = sg_testkit::for_each_panic_point(
        |k| attempt(&sg_testkit::PanicAt::new(chunks, k)),
        |k| assert_eq!(chunks.live(), 0, "a panic at allocator call {k} leaks"),
    );
    chunks.assert_clean();
    points
}

/// Which entries of the list carry the end mark, in order.
pub(crate) fn end_marks<P: PageProvider>(list: SgList<'_, P>) -> Vec<bool> {
    list.iter().map(|entry| entry.is_last()).collect()
}
