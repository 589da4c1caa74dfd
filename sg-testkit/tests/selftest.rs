//! The kit checks itself: each checker must fail when it should.

use std::path::Path;
use std::ptr::NonNull;

use quickcheck::{Arbitrary, Gen};
use sg_core::{ChunkAllocator, Error, PageProvider, SgEntry, SgList};
use sg_testkit::vectors::{Expected, FROM_PAGES_TSV, from_pages_cases, parse_from_pages};
use sg_testkit::{
    BuiltList, ConsumePattern, CountingChunks, EntryLayout, FailingChunks, Mapping, MaxSegment,
    MockPage, MockPages, Model, PageLayout, Run, SkipLen, for_each_chunk_failure,
    for_each_page_failure,
};

type Mock = MockPages<4096>;

#[test]
#[should_panic(expected = "page allocation(s) not freed")]
fn a_leaked_page_fails_on_drop() {
    let mock = Mock::new();
    let _leaked = mock.alloc_pages(1).unwrap();
}

#[test]
fn a_leaked_page_is_reported_by_check() {
    let mock = Mock::new();
    let page = mock.alloc_pages(2).unwrap();
    let leaks = mock.check().unwrap_err();
    assert_eq!(leaks.allocations, [(page.pfn(), 2)]);
    assert!(leaks.mappings.is_empty());
    // SAFETY: allocated above with order 2, not mapped, in no list.
    unsafe { mock.free_pages(page, 2) };
    assert_eq!(mock.check(), Ok(()));
}

#[test]
#[should_panic(expected = "live mapping")]
fn an_unreleased_mapping_fails_the_check() {
    let mock = Mock::new();
    let page = mock.add_pages([5])[0];
    let _mapping = mock.map(page);
    mock.skip_check_on_drop();
    mock.assert_clean();
}

#[test]
#[should_panic(expected = "MockPages dropped with 1 live mapping")]
fn an_unreleased_mapping_fails_on_drop() {
    let mock = Mock::new();
    let page = mock.add_pages([5])[0];
    let _mapping = mock.map(page);
}

#[test]
#[should_panic(expected = "not mapped")]
fn a_double_unmap_fails() {
    let mock = Mock::new();
    let page = mock.add_pages([5])[0];
    let mapping = mock.map(page);
    // SAFETY: mapped above; the second call is the mistake under test,
    // caught by the mock before it touches memory.
    unsafe {
        mock.unmap(page, mapping);
        mock.unmap(page, mapping);
    }
}

#[test]
#[should_panic(expected = "does not exist")]
fn mapping_a_page_that_does_not_exist_fails() {
    let mock = Mock::new();
    mock.add_pages([1]);
    let _ = mock.map(MockPage::new(2));
}

#[test]
#[should_panic(expected = "allocated with order 1")]
fn freeing_with_the_wrong_order_fails() {
    let mock = Mock::new();
    let page = mock.alloc_pages(1).unwrap();
    mock.skip_check_on_drop();
    // SAFETY: the mock checks the order before touching memory.
    unsafe { mock.free_pages(page, 0) };
}

/// A counter that has handed out one array of 3 entries, not yet freed.
fn chunks_with_an_array_of_3() -> (CountingChunks, NonNull<SgEntry<u64>>) {
    let chunks = CountingChunks::new();
    let array = ChunkAllocator::<u64>::alloc(&chunks, 3).unwrap();
    (chunks, array)
}

#[test]
#[should_panic(expected = "array(s) not freed")]
fn a_leaked_chunk_fails_the_check() {
    let (chunks, _array) = chunks_with_an_array_of_3();
    chunks.assert_clean();
}

#[test]
#[should_panic(expected = "CountingChunks dropped with 1 array")]
fn a_leaked_chunk_fails_on_drop() {
    let _leaked = chunks_with_an_array_of_3();
}

#[test]
fn a_leak_check_on_drop_can_be_turned_off() {
    let (chunks, _array) = chunks_with_an_array_of_3();
    chunks.skip_check_on_drop();
}

#[test]
#[should_panic(expected = "freed as 2")]
fn freeing_a_chunk_with_the_wrong_size_fails() {
    let (chunks, array) = chunks_with_an_array_of_3();
    // SAFETY: the counter checks the size before passing the call on.
    unsafe { ChunkAllocator::<u64>::free(&chunks, array, 2) };
}

#[test]
#[should_panic(expected = "byte 3 differs")]
fn a_wrong_byte_fails_the_model_check() {
    let mock = Mock::new();
    let pages = mock.add_pages([1]);
    let built = BuiltList::new(&mock, &[(pages[0], 8, 0)], &[]);
    let list = built.list(&mock);
    let mut model = Model::from_list(&mock, list);
    model.copy_from_slice(3, &[9]);
    model.assert_matches(&mock, list);
}

#[test]
fn the_model_reports_length_differences() {
    let model = Model::new(vec![1, 2, 3]);
    let mismatch = model.diff(&[1, 2]).unwrap();
    assert_eq!(
        (mismatch.index, mismatch.expected, mismatch.found),
        (2, Some(3), None)
    );
    assert_eq!(model.diff(&[1, 2, 3]), None);
}

#[test]
fn the_model_follows_the_kernel_counts() {
    let mut model = Model::new((0..10).collect());
    assert_eq!(model.copy_from_slice(8, &[0xAA; 5]), 2);
    assert_eq!(&model.bytes()[7..], [7, 0xAA, 0xAA]);
    assert_eq!(model.copy_from_slice(10, &[1]), 0);
    assert_eq!(model.copy_from_slice(u64::MAX, &[1]), 0);
    let mut out = [0u8; 4];
    assert_eq!(model.copy_to_slice(1, &mut out), 4);
    assert_eq!(out, [1, 2, 3, 4]);
    assert_eq!(model.zero(9, 5), 1);
    assert_eq!(model.bytes()[9], 0);
    let source = Model::new(vec![0x55; 3]);
    assert_eq!(model.copy_from_model(0, &source, 1, 10), 2);
    assert_eq!(&model.bytes()[..3], [0x55, 0x55, 2]);
    assert_eq!(model.range(8, 2), Some(&[0xAA, 0][..]));
    assert_eq!(model.range(9, 2), None);
}

#[test]
fn copied_mappings_reach_the_page_only_when_released() {
    let mock = Mock::new();
    let page = mock.add_pages([3])[0];
    let mapping = mock.map(page);
    let again = mock.map(page);
    assert_eq!(mapping, again, "a page mapped twice shares its copy");
    // SAFETY: the mapping covers the page's 4096 bytes.
    unsafe { mapping.as_ptr().add(10).write(42) };
    assert_eq!(mock.read(page, 10, 1), [0], "not written back while mapped");
    // SAFETY: both mappings were made above; each is released once.
    unsafe {
        mock.unmap(page, again);
        mock.unmap(page, mapping);
    }
    assert_eq!(mock.read(page, 10, 1), [42]);
    assert_eq!(mock.total_mappings(), 2);
    mock.assert_clean();
}

#[test]
fn direct_mappings_are_the_page() {
    let mock = MockPages::<4096>::with_mapping(Mapping::Direct);
    let page = mock.add_pages([3])[0];
    let mapping = mock.map(page);
    // SAFETY: the mapping covers the page's 4096 bytes.
    unsafe { mapping.as_ptr().write(7) };
    // SAFETY: mapped above.
    unsafe { mock.unmap(page, mapping) };
    // `read` refuses pages a live direct mapping reaches, so the page is read
    // once the mapping is released; that it is the page itself, not a copy,
    // shows in mapping it again: the same memory.
    assert_eq!(mock.read(page, 0, 1), [7]);
    let again = mock.map(page);
    assert_eq!(again, mapping);
    // SAFETY: the mapping covers the page's 4096 bytes.
    assert_eq!(unsafe { again.as_ptr().read() }, 7);
    // SAFETY: mapped just above.
    unsafe { mock.unmap(page, again) };
    assert!(!mock.is_linear());
}

#[test]
#[should_panic(expected = "reachable through a live mapping")]
fn reading_a_page_under_a_live_direct_mapping_panics() {
    let mock = MockPages::<4096>::with_mapping(Mapping::Direct);
    let page = mock.add_pages([3])[0];
    let _mapping = mock.map(page);
    // The mapping's pointer could be writing the page: reading beside it
    // would alias, so the mock panics (the mapping leaks; the test ends).
    let _ = mock.read(page, 0, 1);
}

#[test]
#[should_panic(expected = "reachable through a live mapping")]
fn writing_a_run_under_a_live_linear_mapping_panics() {
    let mock = MockPages::<4096>::linear();
    let run = mock.add_pages([20, 21, 22]);
    let _mapping = mock.map(run[0]);
    // A linear mapping of the run's first page reaches all of the run.
    mock.write(run[2], 0, &[1]);
}

#[test]
fn copied_mappings_leave_the_page_readable_and_writable() {
    let mock = MockPages::<4096>::new();
    let page = mock.add_pages([3])[0];
    let mapping = mock.map(page);
    // SAFETY: the copy covers the page's 4096 bytes.
    unsafe { mapping.as_ptr().write(7) };
    // The mapping is a copy: the page is other memory, and unchanged until
    // the copy is released.
    assert_eq!(mock.read(page, 0, 1), [0]);
    mock.write(page, 1, &[8]);
    // SAFETY: mapped above.
    unsafe { mock.unmap(page, mapping) };
    assert_eq!(mock.read(page, 0, 1), [7]);
}

#[test]
fn linear_mappings_reach_the_whole_run() {
    let mock = MockPages::<4096>::linear();
    let run = mock.add_pages([20, 21, 22, 40]);
    assert!(mock.is_linear());
    mock.write(run[2], 5, &[9]);
    let mapping = mock.map(run[0]);
    // SAFETY: a linear mapping of a run's first page reaches the run.
    let byte = unsafe { mapping.as_ptr().add(2 * 4096 + 5).read() };
    assert_eq!(byte, 9);
    // SAFETY: mapped above.
    unsafe { mock.unmap(run[0], mapping) };
}

#[test]
#[should_panic(expected = "touch existing pages")]
fn linear_runs_must_be_added_whole() {
    let mock = MockPages::<4096>::linear();
    mock.add_pages([1, 2]);
    mock.add_pages([3]);
}

#[test]
fn write_flushes_are_counted_per_page() {
    let mock = Mock::new();
    let pages = mock.add_pages([1, 2]);
    mock.flush_write(pages[0]);
    mock.flush_write(pages[0]);
    mock.flush_write(pages[1]);
    assert_eq!(mock.flushes(), 3);
    assert_eq!(mock.flushes_of(pages[0]), 2);
}

#[test]
fn page_allocation_fails_at_the_chosen_call_or_always() {
    let mock = Mock::new();
    mock.fail_alloc_at(1);
    let first = mock.alloc_pages(0).unwrap();
    assert_eq!(
        mock.alloc_pages(3),
        Err(Error::PagesUnavailable { order: 3 })
    );
    let third = mock.alloc_pages(1).unwrap();
    assert!(
        !mock.is_next(first, 1, third),
        "allocations never look contiguous"
    );
    mock.fail_alloc_always();
    assert!(mock.alloc_pages(0).is_err());
    assert!(mock.alloc_pages(0).is_err());
    mock.stop_failing();
    let fourth = mock.alloc_pages(0).unwrap();
    assert_eq!(mock.alloc_calls(), 6);
    assert_eq!(mock.live_allocations(), 3);
    // SAFETY: each was allocated above with this order and is in no list.
    unsafe {
        mock.free_pages(first, 0);
        mock.free_pages(third, 1);
        mock.free_pages(fourth, 0);
    }
}

#[test]
fn failing_chunks_fail_exactly_at_call_k() {
    let chunks = FailingChunks::at(2);
    let a = ChunkAllocator::<u64>::alloc(&chunks, 1).unwrap();
    let b = ChunkAllocator::<u64>::alloc(&chunks, 2).unwrap();
    assert_eq!(
        ChunkAllocator::<u64>::alloc(&chunks, 3),
        Err(Error::OutOfMemory)
    );
    let c = ChunkAllocator::<u64>::alloc(&chunks, 4).unwrap();
    assert_eq!(chunks.sizes(), [1, 2, 4]);
    assert_eq!(
        (chunks.live(), chunks.live_entries(), chunks.calls()),
        (3, 7, 4)
    );
    // SAFETY: each allocated above with these sizes.
    unsafe {
        ChunkAllocator::<u64>::free(&chunks, a, 1);
        ChunkAllocator::<u64>::free(&chunks, b, 2);
        ChunkAllocator::<u64>::free(&chunks, c, 4);
    }
    assert_eq!(chunks.frees(), 3);
}

/// Takes `n` arrays and gives them back, or with `leak` keeps the first
/// when a later one fails.
fn take_arrays(chunks: &FailingChunks, n: usize, leak: bool) -> Result<(), Error> {
    let mut taken = Vec::new();
    let mut result = Ok(());
    for _ in 0..n {
        match ChunkAllocator::<u64>::alloc(chunks, 2) {
            Ok(array) => taken.push(array),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    if leak && result.is_err() && !taken.is_empty() {
        taken.remove(0);
    }
    for array in taken {
        // SAFETY: allocated above with 2 entries.
        unsafe { ChunkAllocator::<u64>::free(chunks, array, 2) };
    }
    result
}

#[test]
fn every_chunk_failure_point_is_tried() {
    assert_eq!(
        for_each_chunk_failure(None, |chunks| take_arrays(chunks, 4, false)),
        4
    );
}

#[test]
#[should_panic(expected = "not freed")]
fn a_leak_at_one_failure_point_is_caught() {
    for_each_chunk_failure(None, |chunks| take_arrays(chunks, 4, true));
}

#[test]
#[should_panic(expected = "not the injected failure")]
fn an_error_that_is_not_the_injected_one_is_caught() {
    for_each_chunk_failure(None, |_| Err(Error::NoPages));
}

#[test]
fn every_page_failure_point_is_tried_and_leaks_are_checked() {
    let points = for_each_page_failure(Mock::new, |mock| {
        let first = mock.alloc_pages(0)?;
        let second = match mock.alloc_pages(1) {
            Ok(page) => page,
            Err(error) => {
                // SAFETY: allocated above, in no list.
                unsafe { mock.free_pages(first, 0) };
                return Err(error);
            }
        };
        // SAFETY: allocated above, in no list.
        unsafe {
            mock.free_pages(first, 0);
            mock.free_pages(second, 1);
        }
        Ok(())
    });
    assert_eq!(points, 2);
}

#[test]
fn fill_follows_pattern_page() {
    let mock = MockPages::<64>::new();
    let pages = mock.add_pages([3, 9]);
    mock.fill(77);
    for &page in &pages {
        assert_eq!(
            mock.read(page, 0, 64),
            sg_testkit::pattern_page(77, page.pfn(), 64)
        );
    }
    assert_ne!(mock.read(pages[0], 0, 64), mock.read(pages[1], 0, 64));
}

#[test]
fn fill_gives_neighbouring_bytes_different_values() {
    let mock = Mock::new();
    let pages = mock.add_pages([1, 2]);
    mock.fill(3);
    let bytes = mock.read(pages[0], 4000, 200);
    assert!(
        bytes.windows(2).all(|pair| pair[0] != pair[1]),
        "neighbours differ"
    );
    let next_page = mock.read(pages[1], 0, 4096);
    let first_page = mock.read(pages[0], 0, 4096);
    assert!(
        (1..64).all(|shift| first_page[shift..] != next_page[..4096 - shift]),
        "pages are not shifted copies of each other"
    );
    let other_seed = Mock::new();
    other_seed.add_pages([1]);
    other_seed.fill(4);
    assert_ne!(other_seed.read(pages[0], 0, 64), mock.read(pages[0], 0, 64));
}

#[test]
fn list_bytes_follow_offsets_past_the_first_page() {
    let mock = Mock::new();
    let run = mock.add_pages([7, 8]);
    mock.fill(1);
    let built = BuiltList::new(&mock, &[(run[0], 10, 5000)], &[]);
    let bytes = mock.list_bytes(built.list(&mock));
    assert_eq!(bytes, mock.read(run[1], 904, 10));
}

#[test]
fn built_lists_chain_arrays_as_asked() {
    let mock = Mock::new();
    let pages = mock.add_pages(0..7);
    let entries: Vec<(MockPage, u32, u32)> = pages
        .iter()
        .map(|&page| (page, 1 + page.pfn() as u32, 0))
        .collect();
    let built = BuiltList::new(&mock, &entries, &[3, 1]);
    assert_eq!(built.arrays(), 3); // 3 + 1 + 3, the sizes cycled
    let list = built.list(&mock);
    let lengths: Vec<u32> = list.iter().map(SgEntry::len).collect();
    assert_eq!(lengths, [1, 2, 3, 4, 5, 6, 7]);
    assert!(list.last_of(7).is_ok());
    let empty = BuiltList::new(&mock, &[], &[]);
    assert_eq!(empty.list(&mock).byte_len(), 0);
}

#[test]
#[should_panic(expected = "is not on the mock's frames")]
fn a_built_list_refuses_bytes_the_mock_does_not_have() {
    let mock = Mock::new();
    let pages = mock.add_pages([1, 2]);
    let _ = BuiltList::new(&mock, &[(pages[1], 10, 4090)], &[]);
}

#[test]
#[should_panic(expected = "viewed through another mock")]
fn a_built_list_is_viewed_safely_only_through_its_own_mock() {
    let mock = Mock::new();
    let page = mock.add_pages([1])[0];
    let built = BuiltList::new(&mock, &[(page, 10, 0)], &[]);
    assert_eq!(built.list(&mock).byte_len(), 10);
    // Another mock with the same frames is still another provider: its
    // memory is not what `new` checked the entries against.
    let other = Mock::new();
    other.add_pages([1]);
    let _ = built.list(&other);
}

#[test]
fn another_provider_views_a_built_list_through_list_via() {
    let mock = Mock::new();
    let page = mock.add_pages([1])[0];
    let built = BuiltList::new(&mock, &[(page, 10, 0)], &[]);
    let other = Mock::new();
    other.add_pages([1]);
    other.write(page, 0, b"0123456789");
    // SAFETY: `other` holds frame 1, where the entry's bytes lie, and
    // nothing writes them while the view is used.
    let list = unsafe { built.list_via(&other) };
    assert_eq!(other.list_bytes(list), b"0123456789");
}

#[test]
fn holds_and_frames_describe_the_mock() {
    let mock = Mock::new();
    let pages = mock.add_pages([5, 6, 9]);
    assert_eq!(mock.frames(), [5, 6, 9]);
    assert!(mock.holds(pages[0], 4000, 4192));
    assert!(!mock.holds(pages[0], 4000, 4193));
    assert!(mock.holds(pages[2], 1 << 40, 0));
    assert!(!mock.holds(pages[2], u64::MAX, 2));
}

#[test]
fn dma_fields_can_be_set_on_a_built_list() {
    let mock = Mock::new();
    let pages = mock.add_pages([1, 2, 3]);
    let entries: Vec<_> = pages.iter().map(|&page| (page, 8, 0)).collect();
    let mut built = BuiltList::new(&mock, &entries, &[1]);
    built.set_dma(2, 0xABC000, 8);
    let list = built.list(&mock);
    assert_eq!(list.dma_segments().collect::<Vec<_>>(), [(0xABC000, 8)]);
}

#[test]
fn entry_layouts_build_lists_of_their_length() {
    let mut g = Gen::new(30);
    for _ in 0..20 {
        let layout = EntryLayout::arbitrary(&mut g);
        let mock = Mock::new();
        let built = layout.build(&mock);
        let list: SgList<'_, Mock> = built.list(&mock);
        assert_eq!(list.count(), layout.entries.len());
        assert_eq!(list.byte_len(), layout.byte_len());
    }
}

/// Shrinks `value` while `fails` holds, always taking the first failing
/// candidate, as quickcheck does.
fn minimise<T: Arbitrary>(mut value: T, fails: impl Fn(&T) -> bool) -> T {
    assert!(fails(&value));
    'outer: loop {
        for candidate in value.shrink() {
            if fails(&candidate) {
                value = candidate;
                continue 'outer;
            }
        }
        return value;
    }
}

#[test]
fn page_layouts_shrink_to_the_smallest_failing_case() {
    let big = PageLayout::new(
        (0..6)
            .map(|index| Run {
                frames: 5,
                gap: 3,
                reversed: index % 2 == 0,
            })
            .collect(),
    );
    // Fails whenever there are more than 3 runs.
    let small = minimise(big, |layout| layout.runs().len() > 3);
    assert_eq!(small.runs().len(), 4);
    assert!(
        small
            .runs()
            .iter()
            .all(|run| run.frames == 1 && !run.reversed && run.gap <= 1)
    );
}

#[test]
fn entry_layouts_shrink_to_the_smallest_failing_case() {
    let mut g = Gen::new(40);
    let layout = loop {
        let layout = EntryLayout::arbitrary(&mut g);
        if layout.entries.iter().any(|spec| spec.len > 5000) {
            break layout;
        }
    };
    let small = minimise(layout, |layout| {
        layout.entries.iter().any(|spec| spec.len > 5000)
    });
    assert_eq!(small.entries.len(), 1);
    assert!(small.entries[0].len > 5000 && small.entries[0].len <= 10_002);
    assert_eq!(small.entries[0].offset, 0);
}

#[test]
fn the_other_generators_shrink() {
    let segment = minimise(MaxSegment(40_000), |segment| segment.0 > 4096);
    assert_eq!(segment, MaxSegment(8192));
    let skip_len = minimise(
        SkipLen {
            skip: 5000,
            len: 77,
        },
        |pair| pair.skip > 100,
    );
    assert_eq!(skip_len, SkipLen { skip: 101, len: 0 });
    let mut g = Gen::new(20);
    let pattern = loop {
        let pattern = ConsumePattern::arbitrary(&mut g);
        if pattern.0.len() > 3 {
            break pattern;
        }
    };
    let pattern = minimise(pattern, |pattern| pattern.0.len() > 2);
    assert_eq!(pattern.0.len(), 3);
}

#[test]
fn generated_max_segments_cover_every_class() {
    let mut g = Gen::new(10);
    let values: Vec<u32> = (0..400).map(|_| MaxSegment::arbitrary(&mut g).0).collect();
    assert!(values.contains(&u32::MAX));
    assert!(values.iter().any(|&value| value < 4096));
    assert!(values.iter().any(|&value| value % 4096 == 0 && value != 0));
    assert!(
        values
            .iter()
            .any(|&value| value > 4096 && value % 4096 != 0)
    );
}

#[test]
fn the_shipped_vectors_parse_into_every_row() {
    let cases = from_pages_cases();
    let rows = FROM_PAGES_TSV
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .count();
    assert_eq!(cases.len(), rows);
    assert_eq!(cases[0].expected, Expected::Invalid);
    assert_eq!(cases[0].max_segment, 0);
    let append = cases
        .iter()
        .find(|case| case.append_pfns.is_some())
        .unwrap();
    assert_eq!(append.append_pfns.as_deref(), Some(&[3, 4, 5][..]));
}

#[test]
#[cfg_attr(
    miri,
    ignore = "reads a file; Miri isolates the file system and no unsafe code runs here"
)]
fn the_shipped_vectors_match_the_shared_copy() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/from_pages.tsv");
    // The shared folder sits beside the repository on the project's own
    // machines; a published package or another checkout has only the copy.
    if let Ok(text) = std::fs::read_to_string(&shared) {
        assert_eq!(text, FROM_PAGES_TSV, "sg-testkit/vectors is out of date");
    }
}

#[test]
fn bad_vector_lines_are_reported_with_their_number() {
    let error = parse_from_pages("# header\n1,x\t-\t1\t1\t1\n").unwrap_err();
    assert_eq!(error.line, 2);
    assert!(error.reason.contains("`x`"));
    assert!(parse_from_pages("1\t-\t1\t1\n").is_err());
}
