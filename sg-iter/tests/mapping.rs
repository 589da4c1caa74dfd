//! The mapping iterators on chosen cases: where mappings start and end,
//! releasing exactly once (on stop, on the next step, on drop and during a
//! panic), flushing, positions, and process memory under Miri.

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::NonNull;

use sg_core::{Error, PageProvider, SgEntry, SgList, SgListMut, VirtPages};
use sg_iter::{MappingIter, MappingIterMut};
use sg_testkit::{BuiltList, Mapping, MockPage, MockPages};

type Mock = MockPages<4096>;

/// What a provider was asked to do.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Event {
    Map(u64),
    Flush(u64),
    Unmap(u64),
}

/// A `MockPages` that records every map, flush and unmap, and can panic in
/// `flush_write`.
struct Recorder<const PAGE: usize> {
    mock: MockPages<PAGE>,
    events: RefCell<Vec<Event>>,
    panic_on_flush: bool,
}

impl<const PAGE: usize> Recorder<PAGE> {
    fn new(mapping: Mapping) -> Self {
        Recorder {
            mock: MockPages::with_mapping(mapping),
            events: RefCell::new(Vec::new()),
            panic_on_flush: false,
        }
    }

    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut self.events.borrow_mut())
    }

    /// A view of `built`, made on this recorder's mock, through the
    /// recorder.
    #[track_caller]
    fn view<'a>(&'a self, built: &'a BuiltList<MockPage>) -> SgList<'a, Self> {
        // The safe view checks that `built` was made on `self.mock`.
        let _ = built.list(&self.mock);
        // SAFETY: `built`'s entries were checked against `self.mock`, to
        // which the recorder forwards every call; the view only reads, and
        // the tests write the pages only through lists that are gone.
        unsafe { built.list_via(self) }
    }
}

// SAFETY: every method forwards to `MockPages`, which upholds the contract;
// recording events changes nothing about the pages.
unsafe impl<const PAGE: usize> PageProvider for Recorder<PAGE> {
    type Page = MockPage;
    type Pfn = u64;
    const PAGE_SIZE: usize = PAGE;

    fn pfn(&self, page: MockPage) -> u64 {
        self.mock.pfn(page)
    }

    fn nth(&self, page: MockPage, n: usize) -> MockPage {
        self.mock.nth(page, n)
    }

    fn map(&self, page: MockPage) -> NonNull<u8> {
        self.events.borrow_mut().push(Event::Map(page.pfn()));
        self.mock.map(page)
    }

    unsafe fn unmap(&self, page: MockPage, mapping: NonNull<u8>) {
        self.events.borrow_mut().push(Event::Unmap(page.pfn()));
        // SAFETY: the caller's promise is the one `MockPages::unmap` needs.
        unsafe { self.mock.unmap(page, mapping) }
    }

    fn flush_write(&self, page: MockPage) {
        self.events.borrow_mut().push(Event::Flush(page.pfn()));
        self.mock.flush_write(page);
        assert!(!self.panic_on_flush, "flush failed on purpose");
    }

    fn is_linear(&self) -> bool {
        self.mock.is_linear()
    }

    fn alloc_pages(&self, order: u32) -> Result<MockPage, Error> {
        self.mock.alloc_pages(order)
    }

    unsafe fn free_pages(&self, page: MockPage, order: u32) {
        // SAFETY: the caller's promise is the one `MockPages::free_pages`
        // needs.
        unsafe { self.mock.free_pages(page, order) }
    }
}

/// A list of (first frame, offset, length) entries in one array, adding to
/// `mock` a run of frames long enough for each entry (entries must not
/// share frames).
fn build<const PAGE: usize>(
    mock: &MockPages<PAGE>,
    entries: &[(u64, u32, u32)],
) -> BuiltList<MockPage> {
    let placed: Vec<(MockPage, u32, u32)> = entries
        .iter()
        .map(|&(pfn, offset, length)| {
            let frames = (u64::from(offset) + u64::from(length))
                .div_ceil(PAGE as u64)
                .max(1);
            mock.add_run(pfn, frames);
            (MockPage::new(pfn), length, offset)
        })
        .collect();
    BuiltList::new(mock, &placed, &[])
}

/// Fills frames with distinct bytes, far cheaper under Miri than
/// `MockPages::fill` for large pages: one pseudo-random page, rotated
/// differently for each frame.
fn stripe<const PAGE: usize>(mock: &MockPages<PAGE>, frames: impl IntoIterator<Item = u64>) {
    let mut state = 0x2545_F491u32;
    let base: Vec<u8> = (0..PAGE)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    for pfn in frames {
        let mut bytes = base.clone();
        bytes.rotate_left((pfn as usize * 37) % PAGE);
        mock.write(MockPage::new(pfn), 0, &bytes);
    }
}

/// Every mapping's bytes, in order.
fn mappings<P: PageProvider>(mut iter: MappingIter<'_, P>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(bytes) = iter.next_slice() {
        out.push(bytes.to_vec());
    }
    out
}

#[test]
fn an_offset_of_5000_is_read_from_the_second_page_at_904() {
    let recorder = Recorder::<4096>::new(Mapping::Copied);
    let pages = recorder.mock.add_pages([7, 8, 9]);
    stripe(&recorder.mock, 7..10);
    let built = BuiltList::new(&recorder.mock, &[(pages[0], 4000, 5000)], &[]);
    let mut reader = MappingIter::new(recorder.view(&built));

    let first = reader.next_slice().unwrap().to_vec();
    assert_eq!(first, recorder.mock.read(pages[1], 904, 4096 - 904));
    assert_eq!(reader.page(), Some(pages[1]));
    let second = reader.next_slice().unwrap().to_vec();
    assert_eq!(second, recorder.mock.read(pages[2], 0, 4000 - (4096 - 904)));
    assert_eq!(reader.next_slice(), None);
    drop(reader);
    assert_eq!(
        recorder.take(),
        [
            Event::Map(8),
            Event::Unmap(8),
            Event::Map(9),
            Event::Unmap(9)
        ]
    );
    assert_eq!(recorder.mock.live_mappings(), 0);

    // A linear provider maps the second page once and exposes the rest.
    let linear = Recorder::<4096>::new(Mapping::Linear);
    let pages = linear.mock.add_pages([7, 8, 9]);
    stripe(&linear.mock, 7..10);
    let built = BuiltList::new(&linear.mock, &[(pages[0], 4000, 5000)], &[]);
    let all = mappings(MappingIter::new(linear.view(&built)));
    assert_eq!(all, [linear.mock.read(pages[0], 5000, 4000)]);
    assert_eq!(linear.take(), [Event::Map(8), Event::Unmap(8)]);
    assert_eq!(linear.mock.live_mappings(), 0);
}

#[test]
fn zero_length_entries_and_empty_lists_give_no_mapping() {
    let mock = Mock::new();
    let built = build(&mock, &[(1, 0, 0), (2, 100, 0), (3, 10, 3), (4, 0, 0)]);
    stripe(&mock, 1..5);
    let list = built.list(&mock);
    assert_eq!(
        mappings(MappingIter::new(list)),
        [mock.read(MockPage::new(3), 10, 3)]
    );

    let mut entries: [SgEntry<MockPage>; 3] = Default::default();
    sg_core::init_table(&mut entries).unwrap();
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let mut reader = MappingIter::new(unsafe { SgList::new(&entries, &mock) });
    assert!(reader.advance(0).is_ok());
    assert_eq!(reader.next_slice(), None);
    assert_eq!(reader.next_slice(), None);
    assert!(reader.advance(1).is_err());
    assert_eq!(reader.position(), 0);
    drop(reader);
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let mut writer = MappingIterMut::new(unsafe { SgListMut::new(&mut entries, &mock) });
    assert!(writer.next_slice_mut().is_none());
    drop(writer);
    assert_eq!(
        mock.total_mappings(),
        1,
        "only the one real entry was mapped"
    );
    assert_eq!(mock.live_mappings(), 0);
}

#[test]
fn partial_consumption_resumes_in_the_same_page() {
    let recorder = Recorder::<4096>::new(Mapping::Copied);
    let built = build(&recorder.mock, &[(5, 100, 5000)]);
    stripe(&recorder.mock, 5..7);
    let bytes = recorder.mock.list_bytes(built.list(&recorder.mock));
    let mut reader = MappingIter::new(recorder.view(&built));

    assert_eq!(reader.next_slice().unwrap(), &bytes[..3996]);
    reader.consume(10);
    assert_eq!(reader.position(), 10);
    reader.consume(0); // replaces the count: nothing consumed
    assert_eq!(reader.position(), 0);
    assert_eq!(reader.next_slice().unwrap(), &bytes[..3996]);
    reader.consume(3990);
    assert_eq!(reader.next_slice().unwrap(), &bytes[3990..3996]);
    reader.consume(usize::MAX); // means all of it
    assert_eq!(reader.position(), 3996);
    assert_eq!(reader.next_slice().unwrap(), &bytes[3996..]);
    assert_eq!(reader.next_slice(), None);
    reader.consume(1); // nothing live: no effect
    assert_eq!(reader.position(), 5000);
    drop(reader);
    let events = recorder.take();
    let maps: Vec<Event> = events
        .iter()
        .copied()
        .filter(|event| matches!(event, Event::Map(_)))
        .collect();
    assert_eq!(
        maps,
        [Event::Map(5), Event::Map(5), Event::Map(5), Event::Map(6)]
    );
    assert_eq!(recorder.mock.live_mappings(), 0);
}

#[test]
fn stop_and_skip_release_once_and_the_walk_goes_on() {
    let recorder = Recorder::<4096>::new(Mapping::Copied);
    let built = build(&recorder.mock, &[(5, 0, 8192), (9, 0, 100)]);
    stripe(&recorder.mock, [5, 6, 9]);
    let bytes = recorder.mock.list_bytes(built.list(&recorder.mock));
    let mut reader = MappingIter::new(recorder.view(&built));

    assert_eq!(reader.next_slice().unwrap().len(), 4096);
    assert_eq!(recorder.mock.live_mappings(), 1);
    reader.consume(96);
    reader.stop();
    assert_eq!(recorder.mock.live_mappings(), 0);
    assert!(reader.page().is_none());
    reader.stop(); // nothing live: nothing released twice
    assert_eq!(reader.position(), 96);
    assert_eq!(reader.next_slice().unwrap(), &bytes[96..4096]);
    assert!(reader.advance(4096 + 50).is_ok()); // releases, then passes 4146 bytes
    assert_eq!(recorder.mock.live_mappings(), 0);
    assert_eq!(reader.position(), 4096 + 4096 + 50);
    assert_eq!(reader.next_slice().unwrap(), &bytes[8242..]);
    assert!(reader.advance(51).is_err());
    assert_eq!(reader.position(), 8292);
    assert_eq!(reader.next_slice(), None);
    drop(reader);
    assert_eq!(
        recorder.take(),
        [
            Event::Map(5),
            Event::Unmap(5),
            Event::Map(5),
            Event::Unmap(5),
            Event::Map(9),
            Event::Unmap(9),
        ]
    );
}

#[test]
fn writers_flush_each_page_before_unmapping_and_readers_never_flush() {
    let recorder = Recorder::<4096>::new(Mapping::Copied);
    let mut built = build(&recorder.mock, &[(5, 4000, 200)]);
    // SAFETY: the entries lie on distinct frames of the mock (which the provider
    // is, or forwards to), and nothing else reaches them while the writer lives.
    let mut writer = MappingIterMut::new(unsafe { built.list_mut(&recorder) });
    writer.next_slice_mut().unwrap().fill(1);
    writer.next_slice_mut().unwrap().fill(2);
    assert!(writer.next_slice_mut().is_none());
    drop(writer);
    assert_eq!(
        recorder.take(),
        [
            Event::Map(5),
            Event::Flush(5),
            Event::Unmap(5),
            Event::Map(6),
            Event::Flush(6),
            Event::Unmap(6),
        ]
    );
    let list = built.list(&recorder.mock);
    let mut expected = vec![1; 96];
    expected.extend([2; 104]);
    assert_eq!(recorder.mock.list_bytes(list), expected);

    assert_eq!(mappings(MappingIter::new(recorder.view(&built))).len(), 2);
    assert!(
        !recorder
            .take()
            .iter()
            .any(|event| matches!(event, Event::Flush(_)))
    );

    // A linear mapping over three pages flushes all three, then unmaps.
    let linear = Recorder::<4096>::new(Mapping::Linear);
    let mut built = build(&linear.mock, &[(20, 4000, 5000)]);
    // SAFETY: the entries lie on distinct frames of the mock (which the provider
    // is, or forwards to), and nothing else reaches them while the writer lives.
    let mut writer = MappingIterMut::new(unsafe { built.list_mut(&linear) });
    assert_eq!(writer.next_slice_mut().unwrap().len(), 5000);
    writer.stop();
    assert_eq!(
        linear.take(),
        [
            Event::Map(20),
            Event::Flush(20),
            Event::Flush(21),
            Event::Flush(22),
            Event::Unmap(20),
        ]
    );
    assert_eq!(linear.mock.flushes(), 3);
}

#[test]
fn dropping_midway_releases_the_mapping_and_keeps_the_writes() {
    for mode in [Mapping::Copied, Mapping::Direct, Mapping::Linear] {
        let mock = MockPages::<4096>::with_mapping(mode);
        let mut built = build(&mock, &[(1, 0, 5000), (8, 0, 10)]);
        // SAFETY: the entries lie on distinct frames of the mock (which the provider
        // is, or forwards to), and nothing else reaches them while the writer lives.
        let mut writer = MappingIterMut::new(unsafe { built.list_mut(&mock) });
        writer.next_slice_mut().unwrap()[..3].copy_from_slice(b"abc");
        assert_eq!(mock.live_mappings(), 1);
        drop(writer);
        assert_eq!(mock.live_mappings(), 0, "{mode:?}");
        assert_eq!(mock.flushes(), if mode == Mapping::Linear { 2 } else { 1 });
        assert_eq!(mock.read(MockPage::new(1), 0, 4), b"abc\0");

        let mut reader = MappingIter::new(built.list(&mock));
        reader.next_slice().unwrap();
        drop(reader);
        assert_eq!(mock.live_mappings(), 0, "{mode:?}");
        mock.assert_clean();
    }
}

#[test]
#[should_panic(expected = "reachable through a live mapping")]
fn the_mock_refuses_a_write_beside_a_live_writer_slice() {
    let mock = MockPages::<4096>::with_mapping(Mapping::Direct);
    let mut built = build(&mock, &[(1, 0, 100)]);
    // SAFETY: one entry on a frame of the mock; the test's own `write`
    // below is what the mock must refuse.
    let mut writer = MappingIterMut::new(unsafe { built.list_mut(&mock) });
    let slice = writer.next_slice_mut().unwrap();
    // The slice is the page's own memory: writing the page beside it would
    // alias `&mut [u8]`, so the mock panics instead.
    mock.write(MockPage::new(1), 0, b"x");
    slice[0] = 1;
}

#[test]
fn a_panic_inside_the_loop_releases_the_mapping() {
    for mode in [Mapping::Copied, Mapping::Direct, Mapping::Linear] {
        let mock = MockPages::<64>::with_mapping(mode);
        let mut built = build(&mock, &[(1, 10, 300), (9, 0, 64)]);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: the entries lie on distinct frames of the mock (which the provider
            // is, or forwards to), and nothing else reaches them while the writer lives.
            let mut writer = MappingIterMut::new(unsafe { built.list_mut(&mock) });
            let mut index = 0u8;
            while let Some(bytes) = writer.next_slice_mut() {
                bytes.fill(index + 1);
                index += 1;
                if index == 2 {
                    panic!("a consumer fails halfway");
                }
            }
        }));
        assert!(outcome.is_err());
        assert_eq!(mock.live_mappings(), 0, "{mode:?}");
        // The bytes written before the panic reached the pages.
        let bytes = mock.list_bytes(built.list(&mock));
        match mode {
            Mapping::Linear => {
                assert!(bytes[..300].iter().all(|&byte| byte == 1));
                assert!(bytes[300..].iter().all(|&byte| byte == 2));
            }
            _ => {
                assert!(bytes[..54].iter().all(|&byte| byte == 1));
                assert!(bytes[54..118].iter().all(|&byte| byte == 2));
            }
        }

        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let mut reader = MappingIter::new(built.list(&mock));
            while let Some(bytes) = reader.next_slice() {
                assert!(bytes.is_empty(), "a consumer fails at once");
            }
        }));
        assert!(outcome.is_err());
        assert_eq!(mock.live_mappings(), 0, "{mode:?}");
        mock.assert_clean();
    }
}

#[test]
fn a_panicking_flush_still_unmaps() {
    let mut recorder = Recorder::<4096>::new(Mapping::Copied);
    recorder.panic_on_flush = true;
    let mut built = build(&recorder.mock, &[(3, 0, 10)]);
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the entries lie on distinct frames of the mock (which the provider
        // is, or forwards to), and nothing else reaches them while the writer lives.
        let mut writer = MappingIterMut::new(unsafe { built.list_mut(&recorder) });
        writer.next_slice_mut().unwrap().fill(9);
        writer.stop();
    }));
    assert!(outcome.is_err());
    assert_eq!(
        recorder.take(),
        [Event::Map(3), Event::Flush(3), Event::Unmap(3)]
    );
    assert_eq!(recorder.mock.live_mappings(), 0);
    assert_eq!(recorder.mock.read(MockPage::new(3), 0, 10), [9; 10]);
}

#[test]
fn every_map_is_matched_by_one_unmap() {
    let recorder = Recorder::<64>::new(Mapping::Copied);
    let built = build(&recorder.mock, &[(1, 70, 500), (20, 0, 1), (30, 63, 2)]);
    let mut reader = MappingIter::new(recorder.view(&built));
    let mut steps = 0;
    while reader.next_slice().is_some() {
        steps += 1;
        if steps % 3 == 0 {
            reader.consume(1);
        }
        if steps % 4 == 0 {
            reader.stop();
        }
        if steps % 5 == 0 {
            let _ = reader.advance(7); // may pass the end
        }
    }
    drop(reader);
    let events = recorder.take();
    assert_eq!(events.len(), 2 * steps);
    for pair in events.chunks(2) {
        match pair {
            [Event::Map(mapped), Event::Unmap(unmapped)] => assert_eq!(mapped, unmapped),
            other => panic!("map and unmap do not alternate: {other:?}"),
        }
    }
    assert_eq!(recorder.mock.total_mappings(), steps);
}

#[test]
fn linear_mappings_span_entries_and_can_go_page_by_page_or_merge() {
    let mock = MockPages::<4096>::linear();
    // One run of frames 10..=13 holding, in list order: bytes 100..5000 of
    // frame 10 (from handle 10), then 5000..9000 through handle 11 at
    // offset 904, then 9000..9100 through handle 10 at offset 9000 (both
    // follow directly), then a gap, then two entries on frame 13 that do
    // not follow each other.
    mock.add_run(10, 4);
    stripe(&mock, 10..14);
    let page = MockPage::new;
    let built = BuiltList::new(
        &mock,
        &[
            (page(10), 4900, 100),
            (page(11), 4000, 904),
            (page(10), 100, 9000),
            (page(13), 10, 500),
            (page(13), 10, 100),
        ],
        &[2],
    );
    let list = built.list(&mock);
    let lengths = |reader: MappingIter<'_, MockPages<4096>>| -> Vec<usize> {
        mappings(reader).iter().map(Vec::len).collect()
    };
    assert_eq!(lengths(MappingIter::new(list)), [4900, 4000, 100, 10, 10]);
    assert_eq!(
        lengths(MappingIter::new(list).page_by_page()),
        [3996, 904, 3192, 808, 100, 10, 10]
    );
    // Entries that meet inside a page stay apart even when merging.
    assert_eq!(
        lengths(MappingIter::new(list).merge_adjacent()),
        [4900, 4000, 100, 10, 10]
    );
    let merged = mappings(MappingIter::new(list).merge_adjacent());
    assert_eq!(merged.concat(), mock.list_bytes(list));

    // On a provider that is not linear both are the kernel's page steps.
    let copied = MockPages::<4096>::new();
    copied.add_run(10, 4);
    // SAFETY: `copied` holds frames 10..14, where every entry lies; the
    // view only reads. (The safe `list` takes only the mock it was built on.)
    let list = unsafe { built.list_via(&copied) };
    let merged: Vec<usize> = mappings(MappingIter::new(list).merge_adjacent())
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(merged, [3996, 904, 3192, 808, 100, 10, 10]);
}

#[test]
fn merging_follows_frames_in_either_direction() {
    let mock = MockPages::<64>::linear();
    mock.add_run(100, 4);
    let page = MockPage::new;
    // Frame 101 whole; then frame 102 from its start, named from frame 100
    // at offset 128 (the next entry's page index is past the previous end's):
    // these join at a page boundary. Then frame 102 from byte 10, named from
    // frame 102: it follows, but inside a page, so it stays apart; then
    // frame 103, after a gap. Then frames 100 and 101, each whole but in
    // descending order: no merge.
    let built = BuiltList::new(
        &mock,
        &[
            (page(101), 64, 0),   // frame 101, all of it
            (page(100), 10, 128), // frame 102, from its start
            (page(102), 20, 10),  // frame 102, right after
            (page(103), 5, 0),    // frame 103: not adjacent (gap of 34 bytes)
            (page(101), 64, 0),   // frame 101 whole
            (page(102), 64, 0),   // frame 102 whole: joins
            (page(100), 64, 0),   // frame 100, before: does not join
        ],
        &[],
    );
    let lengths: Vec<usize> = mappings(MappingIter::new(built.list(&mock)).merge_adjacent())
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(lengths, [74, 20, 5, 128, 64]);
    // Partial consumption inside a merged run keeps the run's end.
    let mut reader = MappingIter::new(built.list(&mock)).merge_adjacent();
    assert_eq!(reader.next_slice().unwrap().len(), 74);
    reader.consume(30);
    assert_eq!(reader.next_slice().unwrap().len(), 44);
    assert_eq!(reader.page(), Some(page(101)));
    drop(reader);
}

#[test]
fn take_entries_and_slices_bound_the_bytes() {
    let mock = Mock::new();
    let built = build(&mock, &[(1, 0, 100), (2, 0, 100), (3, 0, 100)]);
    stripe(&mock, 1..4);
    let list = built.list(&mock);
    let bytes = mock.list_bytes(list);
    assert_eq!(
        mappings(MappingIter::new(list.take_entries(2))).concat(),
        &bytes[..200]
    );
    let slice = list.slice(150, 100).unwrap();
    assert_eq!(
        mappings(MappingIter::new(slice)),
        [bytes[150..200].to_vec(), bytes[200..250].to_vec()]
    );
    let empty = list.slice(300, 0).unwrap();
    assert!(mappings(MappingIter::new(empty)).is_empty());
}

#[test]
fn debug_shows_the_position_and_the_live_mapping() {
    let mock = Mock::new();
    let mut built = build(&mock, &[(1, 5, 10)]);
    let mut reader = MappingIter::new(built.list(&mock));
    reader.next_slice();
    let text = format!("{reader:?}");
    assert!(text.starts_with("MappingIter"), "{text}");
    assert!(text.contains("position: 10"), "{text}");
    assert!(text.contains("start: 5"), "{text}");
    assert!(std::ptr::eq(reader.provider(), &mock));
    drop(reader);
    // SAFETY: the entries lie on distinct frames of the mock (which the provider
    // is, or forwards to), and nothing else reaches them while the writer lives.
    let mut writer = MappingIterMut::new(unsafe { built.list_mut(&mock) });
    assert!(format!("{writer:?}").contains("mapping: None"));
    assert_eq!(writer.next_slice_mut().map(|bytes| bytes.len()), Some(10));
    assert_eq!(writer.page(), Some(MockPage::new(1)));
    writer.consume(4);
    assert_eq!(writer.position(), 4);
    assert!(writer.advance(6).is_ok());
    assert!(writer.advance(1).is_err());
    assert!(std::ptr::eq(writer.provider(), &mock));
}

/// Process memory: a buffer at an arbitrary address, entries that start
/// mid-page, cross pages and start a page or more past their page handle.
/// Miri checks every pointer the iterators make.
#[test]
fn process_memory_reads_and_writes_the_buffer() {
    let pages = VirtPages::new();
    let original: Vec<u8> = (0..5400).map(|index| (index % 251) as u8).collect();
    let mut memory = original.clone();
    let start = NonNull::from(&mut memory[..]).cast::<u8>();
    let mut entries: [SgEntry<_>; 3] = Default::default();
    sg_core::init_table(&mut entries).unwrap();
    // SAFETY: `memory` outlives the list and is only reached through it
    // until the list is no longer used; every entry's bytes lie in it.
    unsafe {
        entries[0].set_buf(start.add(7), 4193); // 7..4200: crosses a page
        entries[1].set_buf(start.add(3), 4); // 3..7
        let (page, offset) = sg_core::VirtPage::containing(start.add(204));
        entries[2].set_page(page, offset + 4096, 1000); // 4300..5300
    }
    let ranges = [7..4200, 3..7, 4300..5300];
    let expected: Vec<u8> = ranges
        .iter()
        .flat_map(|range| original[range.clone()].iter().copied())
        .collect();
    for page_by_page in [false, true] {
        // SAFETY: the entries' bytes lie in `memory`, which outlives the view
        // and is not written meanwhile.
        let mut reader = MappingIter::new(unsafe { SgList::new(&entries, &pages) });
        if page_by_page {
            reader = reader.page_by_page();
        }
        let all = mappings(reader);
        assert_eq!(all.concat(), expected);
        assert_eq!(all.len() > 3, page_by_page);
    }
    // SAFETY: the entries' bytes are disjoint ranges of `memory`, which
    // outlives the view and is reached only through it meanwhile.
    let list = unsafe { SgListMut::new(&mut entries, &pages) };
    let mut writer = MappingIterMut::new(list).merge_adjacent();
    while let Some(bytes) = writer.next_slice_mut() {
        bytes.fill(0xEE);
    }
    drop(writer);
    let mut written = original;
    for range in ranges {
        written[range].fill(0xEE);
    }
    assert!(memory == written, "exactly the list's bytes were written");
}
