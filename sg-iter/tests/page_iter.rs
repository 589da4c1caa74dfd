//! The page iterator and the DMA page iterator against sequences computed
//! independently: by hand for chosen cases, and from plain arithmetic on
//! the entries for random layouts.

use std::ptr::NonNull;

use quickcheck::TestResult;
use sg_core::{PageProvider, SgEntry, SgList};
use sg_iter::{DmaPageIter, PageIter};
use sg_testkit::{BuiltList, EntryLayout, MockPage, MockPages, SkipLen};

type Mock = MockPages<4096>;
const PAGE: u32 = 4096;

/// Frame numbers the page iterator yields.
fn pfns<P: PageProvider<Page = MockPage>>(list: SgList<'_, P>, pgoffset: usize) -> Vec<u64> {
    PageIter::new(list, pgoffset).map(MockPage::pfn).collect()
}

/// A list of (first frame, offset, length) entries in arrays of `per_array`
/// data entries; frames are added to `mock` as runs long enough for each
/// entry.
fn build(mock: &Mock, entries: &[(u64, u32, u32)], per_array: &[usize]) -> BuiltList<MockPage> {
    let placed: Vec<(MockPage, u32, u32)> = entries
        .iter()
        .map(|&(pfn, offset, length)| {
            let frames = (u64::from(offset) + u64::from(length))
                .div_ceil(u64::from(PAGE))
                .max(1);
            mock.add_run(pfn, frames);
            (MockPage::new(pfn), length, offset)
        })
        .collect();
    BuiltList::new(mock, &placed, per_array)
}

#[test]
fn each_entry_yields_the_pages_of_offset_plus_length() {
    let mock = Mock::new();
    let built = build(
        &mock,
        &[
            (10, 0, 4096),     // exactly one page
            (20, 100, 4000),   // [0, 4100): two pages
            (30, 5000, 10),    // [0, 5010): the page before the data too
            (40, 0, 0),        // touches nothing: skipped
            (50, 100, 0),      // [0, 100): one page, as the kernel counts
            (60, 4096, 0),     // [0, 4096): one page
            (70, 4097, 0),     // [0, 4097): two pages
            (80, 8191, 2),     // [0, 8193): three pages
            (90, 0, 3 * 4096), // three pages
        ],
        &[3, 2],
    );
    let list = built.list(&mock);
    let expected = [10, 20, 21, 30, 31, 50, 60, 70, 71, 80, 81, 82, 90, 91, 92];
    assert_eq!(pfns(list, 0), expected);
    for pgoffset in 0..=expected.len() + 2 {
        let rest = &expected[pgoffset.min(expected.len())..];
        assert_eq!(pfns(list, pgoffset), rest, "pgoffset {pgoffset}");
    }
    assert_eq!(pfns(list, usize::MAX), [] as [u64; 0]);
}

#[test]
fn take_entries_limits_the_walk_to_nents() {
    let mock = Mock::new();
    let built = build(&mock, &[(10, 0, 5000), (20, 0, 1), (30, 0, 1)], &[1]);
    let list = built.list(&mock);
    assert_eq!(pfns(list.take_entries(0), 0), [] as [u64; 0]);
    assert_eq!(pfns(list.take_entries(1), 0), [10, 11]);
    assert_eq!(pfns(list.take_entries(2), 1), [11, 20]);
    assert_eq!(pfns(list.take_entries(9), 2), [20, 30]);
}

#[test]
fn an_empty_table_yields_nothing() {
    let mock = Mock::new();
    let mut entries: [SgEntry<MockPage>; 4] = Default::default();
    sg_core::init_table(&mut entries).unwrap();
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let list = unsafe { SgList::new(&entries, &mock) };
    let mut pages = PageIter::new(list, 0);
    assert_eq!(pages.next(), None);
    assert_eq!(pages.next(), None, "fused");
    assert!(pages.entry().is_none());
    assert_eq!(DmaPageIter::new(list, 0).next(), None);
}

#[test]
fn slices_visit_the_pages_their_bytes_touch() {
    let mock = Mock::new();
    // Entry A: frames 10..=13, bytes at [5000, 5000 + 9000) from frame 10,
    // so in frames 11..=13. Entry B: frame 20, 100 bytes. Entry C: 0 bytes
    // at offset 300 of frame 30. Entry D: frames 40..=41, 5000 bytes.
    let built = build(
        &mock,
        &[(10, 5000, 9000), (20, 0, 100), (30, 300, 0), (40, 0, 5000)],
        &[2],
    );
    let list = built.list(&mock);
    assert_eq!(pfns(list, 0), [10, 11, 12, 13, 20, 30, 40, 41]);
    let slice = |skip: u64, len: u64| pfns(list.slice(skip, len).unwrap(), 0);
    // Starts inside A: from the page of byte 5000 + 4000 = 9000 (frame 12).
    assert_eq!(slice(4000, 10), [12]);
    assert_eq!(slice(4000, 5000), [12, 13]);
    // Starts at A's first byte: counted from A's page, as the whole list.
    assert_eq!(slice(0, 1), [10, 11]);
    assert_eq!(slice(0, 9000), [10, 11, 12, 13]);
    // Ends inside D, and C (zero-length, between the ends) is visited.
    assert_eq!(slice(8999, 102), [13, 20, 30, 40]);
    assert_eq!(slice(9000, 100 + 4097), [20, 30, 40, 41]);
    // Starts on an entry boundary after C.
    assert_eq!(slice(9100, 5000), [40, 41]);
    assert_eq!(slice(9100, 0), [] as [u64; 0]);
    // pgoffset counts the slice's own pages.
    assert_eq!(pfns(list.slice(4000, 5200).unwrap(), 2), [20, 30, 40]);
}

#[test]
fn entry_reports_the_entry_of_the_last_page() {
    let mock = Mock::new();
    let built = build(&mock, &[(10, 0, 5000), (20, 7, 1)], &[]);
    let list = built.list(&mock);
    let mut pages = PageIter::new(list, 1);
    assert_eq!(pages.next(), Some(MockPage::new(11)));
    assert_eq!(pages.entry().map(SgEntry::len), Some(5000));
    assert_eq!(pages.next(), Some(MockPage::new(20)));
    assert_eq!(pages.entry().map(SgEntry::offset), Some(7));
    let copy = pages.clone();
    assert_eq!(pages.next(), None);
    assert!(pages.entry().is_none());
    assert!(format!("{copy:?}").starts_with("PageIter"));
}

#[test]
fn size_hint_counts_the_rest_of_the_entry() {
    let mock = Mock::new();
    let built = build(&mock, &[(10, 0, 3 * 4096), (20, 0, 1)], &[]);
    let mut pages = PageIter::new(built.list(&mock), 0);
    assert_eq!(pages.size_hint(), (0, None));
    pages.next();
    assert_eq!(pages.size_hint(), (2, None));
}

/// Frame numbers the page iterator must yield for `list`, computed from
/// the entries with plain arithmetic on byte positions.
fn expected_pfns<P: PageProvider<Page = MockPage>>(
    list: SgList<'_, P>,
    slice: Option<(u64, u64)>,
) -> Vec<u64> {
    let page = P::PAGE_SIZE as u64;
    let entries: Vec<(u64, u64, u64)> = list
        .iter()
        .map(|entry| {
            (
                entry.page().map_or(u64::MAX, MockPage::pfn),
                u64::from(entry.offset()),
                u64::from(entry.len()),
            )
        })
        .collect();
    let mut starts = Vec::new();
    let mut at = 0;
    for &(_, _, length) in &entries {
        starts.push(at);
        at += length;
    }
    // The entries a view visits and the bytes of each (entry-relative) in
    // the view.
    let (skip, len) = slice.unwrap_or((0, at));
    let visited: Vec<usize> = match slice {
        None => (0..entries.len()).collect(),
        Some((_, 0)) => Vec::new(),
        Some((skip, len)) => {
            let first = (0..entries.len())
                .find(|&index| starts[index] + entries[index].2 > skip)
                .expect("the slice starts in an entry");
            let last = (first..entries.len())
                .find(|&index| starts[index] + entries[index].2 >= skip + len)
                .expect("the slice ends in an entry");
            (first..=last).collect()
        }
    };
    let mut out = Vec::new();
    for index in visited {
        let (pfn, offset, length) = entries[index];
        if pfn == u64::MAX {
            continue;
        }
        let from = skip.saturating_sub(starts[index]);
        let to = (skip + len - starts[index].min(skip + len)).min(length);
        let first = if from > 0 { (offset + from) / page } else { 0 };
        let end = (offset + to).div_ceil(page);
        out.extend((first..end).map(|index| pfn + index));
    }
    out
}

/// Clamps a random range into a list of `len` bytes.
fn clamp(range: SkipLen, len: u64) -> (u64, u64) {
    let skip = range.skip % (len + 1);
    (skip, range.len % (len - skip + 1))
}

// The page iterator over a list, a slice of it, and its first n entries,
// from any pgoffset, yields the pages computed from the entries.
#[test]
fn prop_pages_match_entry_arithmetic() {
    fn property(mut layout: EntryLayout, range: SkipLen, pgoffset: u8, nents: u8) -> TestResult {
        if cfg!(miri) {
            // Fewer, shorter entries: still past the first page and across
            // pages, in far fewer frames.
            layout.entries.truncate(8);
            for spec in &mut layout.entries {
                spec.offset %= 300;
                spec.len %= 400;
            }
        }
        let mock = MockPages::<64>::new();
        let built = layout.build(&mock);
        let list = built.list(&mock);
        let (skip, len) = clamp(range, list.byte_len());
        let slice = list.slice(skip, len).unwrap();
        let first = list.take_entries(usize::from(nents));
        let cases = [
            (list, expected_pfns(list, None)),
            (slice, expected_pfns(list, Some((skip, len)))),
            (first, expected_pfns(first, None)),
        ];
        for (view, expected) in cases {
            let start = usize::from(pgoffset).min(expected.len());
            if pfns(view, usize::from(pgoffset)) != expected[start..] {
                return TestResult::error(format!("view {view:?}, expected {expected:?}"));
            }
        }
        TestResult::passed()
    }
    sg_testkit::checker(300).quickcheck(property as fn(EntryLayout, SkipLen, u8, u8) -> TestResult);
}

/// A table of `(dma address, dma length)` entries with no pages.
fn dma_table(segments: &[(u64, u32)]) -> Vec<SgEntry<MockPage>> {
    let mut entries: Vec<SgEntry<MockPage>> =
        (0..segments.len().max(1)).map(|_| SgEntry::new()).collect();
    sg_core::init_table(&mut entries).unwrap();
    for (entry, &(address, length)) in entries.iter_mut().zip(segments) {
        entry.set_dma(address, length);
    }
    entries
}

#[test]
fn dma_pages_follow_the_segments() {
    let mock = Mock::new();
    let entries = dma_table(&[
        (0x1_0000, 4096),         // one page
        (0x2_0000, 1),            // one page
        (0x3_0000, 0),            // no segment: skipped
        (0x4_0100, 4096),         // starts mid-page: two pages
        (0x5_0000, 3 * 4096 + 1), // four pages
        (0x6_0FFF, 2),            // crosses one boundary: two pages
    ]);
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let list = unsafe { SgList::new(&entries, &mock) };
    let expected: [u64; 10] = [
        0x1_0000, 0x2_0000, 0x4_0100, 0x4_1100, 0x5_0000, 0x5_1000, 0x5_2000, 0x5_3000, 0x6_0FFF,
        0x6_1FFF,
    ];
    assert_eq!(DmaPageIter::new(list, 0).collect::<Vec<_>>(), expected);
    for pgoffset in 0..=expected.len() + 1 {
        let rest = &expected[pgoffset.min(expected.len())..];
        let got: Vec<u64> = DmaPageIter::new(list, pgoffset).collect();
        assert_eq!(got, rest, "pgoffset {pgoffset}");
    }
    // nents: the DMA view holds the first entries only.
    let got: Vec<u64> = DmaPageIter::new(list.take_entries(2), 0).collect();
    assert_eq!(got, [0x1_0000, 0x2_0000]);
}

#[test]
fn dma_pages_follow_chain_links_and_report_entries() {
    let mock = Mock::new();
    let mut tail = dma_table(&[(0x9000, 8192)]);
    let mut head = dma_table(&[(0x1000, 4096), (0, 0)]);
    // SAFETY: `tail` outlives `head`'s link and is not touched while linked.
    unsafe { sg_core::chain(&mut head, NonNull::from(&mut tail[..])) }.unwrap();
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let list = unsafe { SgList::new(&head, &mock) };
    let mut addresses = DmaPageIter::new(list, 0);
    assert_eq!(addresses.next(), Some(0x1000));
    assert_eq!(addresses.entry().map(SgEntry::dma_address), Some(0x1000));
    assert_eq!(addresses.size_hint(), (0, None));
    assert_eq!(addresses.next(), Some(0x9000));
    assert_eq!(addresses.size_hint(), (1, None));
    let copy = addresses.clone();
    assert_eq!(addresses.next(), Some(0xA000));
    assert_eq!(addresses.next(), None);
    assert!(format!("{copy:?}").contains("0x9000"));
}

#[test]
fn dma_addresses_wrap_at_the_top() {
    let mock = Mock::new();
    let entries = dma_table(&[(u64::MAX - 4095, 8192)]);
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let got: Vec<u64> = DmaPageIter::new(unsafe { SgList::new(&entries, &mock) }, 0).collect();
    assert_eq!(got, [u64::MAX - 4095, 0]);
}

// The DMA page iterator yields, for each segment, the address of every page
// its bytes touch, found by walking the segment's pages one by one.
#[test]
fn prop_dma_pages_match_touched_pages() {
    fn property(segments: Vec<(u32, u16)>, pgoffset: u8, nents: u8) -> TestResult {
        let mock = MockPages::<64>::new();
        let page = 64u64;
        let segments: Vec<(u64, u32)> = segments
            .into_iter()
            .take(if cfg!(miri) { 4 } else { 40 })
            .map(|(address, length)| (u64::from(address), u32::from(length) % 600))
            .collect();
        let entries = dma_table(&segments);
        let nents = usize::from(nents) % (segments.len() + 2);
        let mut expected = Vec::new();
        for &(address, length) in segments.iter().take(nents) {
            let mut page_start = address;
            let mut at = address;
            let end = address + u64::from(length);
            while at < end {
                expected.push(page_start);
                let next_page = (at / page + 1) * page;
                page_start += page;
                at = next_page;
            }
        }
        // SAFETY: the entries describe bytes of pages this provider holds valid,
        // and nothing else reaches them while the view is used.
        let view = unsafe { SgList::new(&entries, &mock) }.take_entries(nents);
        let got: Vec<u64> = DmaPageIter::new(view, usize::from(pgoffset)).collect();
        let start = usize::from(pgoffset).min(expected.len());
        TestResult::from_bool(got == expected[start..])
    }
    sg_testkit::checker(300).quickcheck(property as fn(Vec<(u32, u16)>, u8, u8) -> TestResult);
}
