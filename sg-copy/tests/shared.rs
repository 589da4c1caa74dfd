//! The copies and zeroing of shared providers (`PageProvider::SHARED`:
//! guest memory, memory shared with a device), which take sg-copy's
//! volatile path, against the reference model, over random layouts, skips
//! and lengths, on every kind of mapping; and a page the provider cannot
//! map, which ends a copy at the bytes before it.

use core::ptr::NonNull;

use quickcheck::TestResult;
use sg_copy::{copy_from_slice, copy_list, copy_to_slice, zero};
use sg_core::{Error, PageProvider, SgList, SgListMut};
use sg_testkit::{
    BuiltList, EntryLayout, Mapping, MockPage, Model, SkipLen, TEST_PAGE_SIZE, TestPages, checker,
};

const MODES: [Mapping; 3] = [Mapping::Copied, Mapping::Direct, Mapping::Linear];

/// A test mock seen as shared memory, with an optional hole: one frame
/// that `try_map` refuses, as guest memory refuses an address between its
/// regions.
struct Shared<'m> {
    mock: &'m TestPages,
    hole: Option<u64>,
}

// SAFETY: every method forwards to the mock, which upholds the contract;
// `try_map` only refuses more. Declaring the memory shared asks less of the
// library's callers (views may overlap), never more of the provider.
unsafe impl PageProvider for Shared<'_> {
    type Page = MockPage;
    type Pfn = u64;
    const PAGE_SIZE: usize = TEST_PAGE_SIZE;
    const SHARED: bool = true;

    fn pfn(&self, page: MockPage) -> u64 {
        self.mock.pfn(page)
    }

    fn nth(&self, page: MockPage, n: usize) -> MockPage {
        self.mock.nth(page, n)
    }

    fn map(&self, page: MockPage) -> NonNull<u8> {
        self.mock.map(page)
    }

    fn try_map(&self, page: MockPage) -> Result<NonNull<u8>, Error> {
        if self.hole == Some(page.pfn()) {
            return Err(Error::OutsideMemory { frame: page.pfn() });
        }
        Ok(self.mock.map(page))
    }

    unsafe fn unmap(&self, page: MockPage, mapping: NonNull<u8>) {
        // SAFETY: the caller's promise, for a mapping the mock made.
        unsafe { self.mock.unmap(page, mapping) }
    }

    fn flush_write(&self, page: MockPage) {
        self.mock.flush_write(page);
    }

    fn is_linear(&self) -> bool {
        self.mock.is_linear()
    }

    fn alloc_pages(&self, order: u32) -> Result<MockPage, Error> {
        self.mock.alloc_pages(order)
    }

    unsafe fn free_pages(&self, page: MockPage, order: u32) {
        // SAFETY: the caller's promise, for pages the mock allocated.
        unsafe { self.mock.free_pages(page, order) }
    }

    fn is_next(&self, first: MockPage, run_pages: usize, next: MockPage) -> bool {
        self.mock.is_next(first, run_pages, next)
    }
}

/// A mock of the given mode with the layout's list, filled with bytes.
fn setup(mode: Mapping, layout: &EntryLayout, seed: u64) -> (TestPages, BuiltList<MockPage>) {
    let mock = TestPages::with_mapping(mode);
    let built = layout.scaled(TEST_PAGE_SIZE).build(&mock);
    mock.fill(seed);
    (mock, built)
}

/// A reading view of `built` through `shared`.
fn view<'a>(built: &'a BuiltList<MockPage>, shared: &'a Shared<'_>) -> SgList<'a, Shared<'a>> {
    // SAFETY: the entries lie on frames of the mock behind `shared`, which
    // reads and writes them only through mappings meanwhile.
    unsafe { built.list_via(shared) }
}

/// A writing view of `built` through `shared`.
fn view_mut<'a>(
    built: &'a mut BuiltList<MockPage>,
    shared: &'a Shared<'_>,
) -> SgListMut<'a, Shared<'a>> {
    // SAFETY: as for `view`; the built list's entries lie on disjoint bytes,
    // and nothing else reaches them while the view is used.
    unsafe { built.list_mut(shared) }
}

/// A buffer of `len` distinct-ish bytes, capped to keep cases small.
fn data(len: u64, seed: u8) -> Vec<u8> {
    (0..len.min(40_000))
        .map(|index| (index as u8).wrapping_mul(29).wrapping_add(seed))
        .collect()
}

/// The frame of each byte of the list, in order.
fn frames_of_bytes(mock: &TestPages, list: SgList<'_, TestPages>) -> Vec<u64> {
    let page_size = TEST_PAGE_SIZE as u64;
    let mut frames = Vec::new();
    for segment in list.segments() {
        for at in segment.offset..segment.offset + u64::from(segment.len) {
            frames.push(mock.nth(segment.page, (at / page_size) as usize).pfn());
        }
    }
    frames
}

/// Fails unless every frame under `bytes` (a range of the list's bytes)
/// was flushed since the mock was made.
fn flushed(mock: &TestPages, frames: &[u64], bytes: core::ops::Range<usize>) -> Result<(), String> {
    for &frame in &frames[bytes] {
        if mock.flushes_of(MockPage::new(frame)) == 0 {
            return Err(format!("frame {frame} written, not flushed"));
        }
    }
    Ok(())
}

/// The byte range of the list from `skip` on, at most `len` bytes, as
/// indices into the list's bytes.
fn span(total: usize, skip: u64, len: u64) -> core::ops::Range<usize> {
    let start = skip.min(total as u64) as usize;
    start..start + (len.min((total - start) as u64) as usize)
}

/// Fails unless a write counted `count` bytes as the model did
/// (`expected`) and left the list's bytes as the model holds them.
fn wrote_like(
    what: &str,
    (count, expected): (usize, usize),
    model: &Model,
    mock: &TestPages,
    built: &BuiltList<MockPage>,
) -> Result<(), String> {
    if count != expected {
        return Err(format!("{what}: counted {count}, not {expected}"));
    }
    model
        .check(mock, built.list(mock))
        .map_err(|mismatch| format!("{what}: {mismatch}"))
}

/// Fails if a mapping of `mock` is still live.
fn unmapped(mock: &TestPages) -> Result<(), String> {
    match mock.live_mappings() {
        0 => Ok(()),
        live => Err(format!("{live} mapping(s) still live")),
    }
}

#[test]
fn prop_shared_copies_and_zero_match_the_model() {
    // On a shared provider, copy_to_slice, copy_from_slice and zero do what
    // the model does, flush every written page, and leave nothing mapped.
    fn property(layout: EntryLayout, range: SkipLen) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        let len = range.len.min(40_000);
        for mode in MODES {
            let (mock, mut built) = setup(mode, &layout, 41);
            let shared = Shared {
                mock: &mock,
                hole: None,
            };
            let mut model = Model::from_list(&mock, built.list(&mock));
            let frames = frames_of_bytes(&mock, built.list(&mock));
            let written = span(frames.len(), range.skip, len);

            let mut got = vec![0xAA; len as usize];
            let mut expected = got.clone();
            let count = copy_to_slice(view(&built, &shared), range.skip, &mut got);
            if count != model.copy_to_slice(range.skip, &mut expected) || got != expected {
                return TestResult::error(format!("{mode:?}: copy_to_slice"));
            }

            let bytes = data(len, 5);
            let count = copy_from_slice(view_mut(&mut built, &shared), range.skip, &bytes);
            let counts = (count, model.copy_from_slice(range.skip, &bytes));
            let checked = wrote_like("copy_from_slice", counts, &model, &mock, &built)
                .and_then(|()| flushed(&mock, &frames, written.clone()));

            let zero_skip = range.skip / 2;
            let zeroed = zero(view_mut(&mut built, &shared), zero_skip, len) as usize;
            let counts = (zeroed, model.zero(zero_skip, len as usize));
            let checked = checked.and_then(|()| wrote_like("zero", counts, &model, &mock, &built));
            if let Err(why) = checked.and_then(|()| unmapped(&mock)) {
                return TestResult::error(format!("{mode:?}: {why}"));
            }
        }
        TestResult::passed()
    }
    checker(120).quickcheck(property as fn(EntryLayout, SkipLen) -> TestResult);
}

#[test]
fn prop_copy_list_with_a_shared_side_matches_the_models() {
    // copy_list between a shared and a private list, either way, or two
    // shared lists, moves what the models move, in rounds of its bounce
    // buffer.
    fn property(
        to: EntryLayout,
        from: EntryLayout,
        to_skip: u16,
        from_skip: u16,
        len: u32,
    ) -> TestResult {
        // Past several rounds of the 4 KiB bounce buffer; under Miri, two.
        let most = if cfg!(miri) { 9_000 } else { 50_000 };
        let (to_skip, from_skip, len) = (
            u64::from(to_skip),
            u64::from(from_skip),
            u64::from(len % most),
        );
        let modes = [
            (Mapping::Copied, Mapping::Linear),
            (Mapping::Linear, Mapping::Direct),
            (Mapping::Direct, Mapping::Copied),
        ];
        let sides = [(true, false), (false, true), (true, true)];
        for (m, &(to_mode, from_mode)) in modes.iter().enumerate() {
            for (s, &(to_shared, from_shared)) in sides.iter().enumerate() {
                // Under Miri, each pair of modes with one choice of sides.
                if cfg!(miri) && m != s {
                    continue;
                }
                let (target_mock, mut target) = setup(to_mode, &to, 43);
                let (source_mock, source) = setup(from_mode, &from, 44);
                let mut model = Model::from_list(&target_mock, target.list(&target_mock));
                let source_model = Model::from_list(&source_mock, source.list(&source_mock));
                let target_shared = Shared {
                    mock: &target_mock,
                    hole: None,
                };
                let source_shared = Shared {
                    mock: &source_mock,
                    hole: None,
                };
                let count = match (to_shared, from_shared) {
                    (true, false) => copy_list(
                        view_mut(&mut target, &target_shared),
                        to_skip,
                        source.list(&source_mock),
                        from_skip,
                        len,
                    ),
                    (false, true) => copy_list(
                        // SAFETY: the built list's entries lie on disjoint
                        // bytes of the mock's frames, and nothing else
                        // reaches them while the view is used.
                        unsafe { target.list_mut(&target_mock) },
                        to_skip,
                        view(&source, &source_shared),
                        from_skip,
                        len,
                    ),
                    _ => copy_list(
                        view_mut(&mut target, &target_shared),
                        to_skip,
                        view(&source, &source_shared),
                        from_skip,
                        len,
                    ),
                };
                let expected =
                    model.copy_from_model(to_skip, &source_model, from_skip, len as usize);
                let counts = (count as usize, expected);
                let checked = wrote_like("copy_list", counts, &model, &target_mock, &target)
                    .and_then(|()| {
                        wrote_like("source", (0, 0), &source_model, &source_mock, &source)
                    })
                    .and_then(|()| unmapped(&target_mock))
                    .and_then(|()| unmapped(&source_mock));
                if let Err(why) = checked {
                    return TestResult::error(format!(
                        "{to_mode:?}/{to_shared} <- {from_mode:?}/{from_shared}: {why}"
                    ));
                }
            }
        }
        TestResult::passed()
    }
    checker(60).quickcheck(property as fn(EntryLayout, EntryLayout, u16, u16, u32) -> TestResult);
}

#[test]
fn prop_a_page_that_cannot_be_mapped_ends_the_copy_before_it() {
    // With one frame of the list unmappable, each operation moves exactly
    // the bytes from the skip up to the first byte on that frame, as the
    // model does for that many, and leaves nothing mapped. Pages are
    // mapped one by one (a linear provider maps a run from its first page,
    // so a hole inside a run is not one it can have).
    fn property(layout: EntryLayout, range: SkipLen, pick: u32) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        let len = range.len.min(40_000);
        for mode in [Mapping::Copied, Mapping::Direct] {
            let (mock, mut built) = setup(mode, &layout, 45);
            let frames = frames_of_bytes(&mock, built.list(&mock));
            if frames.is_empty() {
                return TestResult::discard();
            }
            let hole = frames[pick as usize % frames.len()];
            let shared = Shared {
                mock: &mock,
                hole: Some(hole),
            };
            let mut model = Model::from_list(&mock, built.list(&mock));
            let wanted = span(frames.len(), range.skip, len);
            let reach = frames[wanted.clone()]
                .iter()
                .position(|&frame| frame == hole)
                .unwrap_or(wanted.len());

            let mut got = vec![0xAA; len as usize];
            let mut expected = got.clone();
            let count = copy_to_slice(view(&built, &shared), range.skip, &mut got);
            let expected_count = model.copy_to_slice(range.skip, &mut expected[..reach]);
            if count != expected_count || got != expected {
                return TestResult::error(format!("{mode:?}: read {count}, not {expected_count}"));
            }

            let bytes = data(len, 9);
            let count = copy_from_slice(view_mut(&mut built, &shared), range.skip, &bytes);
            let counts = (
                count,
                model.copy_from_slice(range.skip, &bytes[..reach.min(bytes.len())]),
            );
            let checked = wrote_like("copy_from_slice", counts, &model, &mock, &built);

            let zeroed = zero(view_mut(&mut built, &shared), range.skip, len) as usize;
            let counts = (zeroed, model.zero(range.skip, reach));
            let checked = checked.and_then(|()| wrote_like("zero", counts, &model, &mock, &built));
            if let Err(why) = checked.and_then(|()| unmapped(&mock)) {
                return TestResult::error(format!("{mode:?}: {why}"));
            }
        }
        TestResult::passed()
    }
    checker(120).quickcheck(property as fn(EntryLayout, SkipLen, u32) -> TestResult);
}
