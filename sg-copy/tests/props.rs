//! Every copy and zero operation against the reference model, over random
//! layouts, skips and lengths, on every kind of provider.

use quickcheck::TestResult;
use sg_copy::{copy_from_slice, copy_list, copy_to_slice, zero};
use sg_core::{SgList, SgListMut};
use sg_testkit::{
    EntryLayout, Mapping, MockPages, Model, SkipLen, TEST_PAGE_SIZE, TestPages, checker,
};

type Mock = TestPages;

const MODES: [Mapping; 3] = [Mapping::Copied, Mapping::Direct, Mapping::Linear];

/// A mock of the given mode with the layout's list, filled with bytes.
fn setup(
    mode: Mapping,
    layout: &EntryLayout,
    seed: u64,
) -> (Mock, sg_testkit::BuiltList<sg_testkit::MockPage>) {
    let mock = Mock::with_mapping(mode);
    let built = layout.scaled(TEST_PAGE_SIZE).build(&mock);
    mock.fill(seed);
    (mock, built)
}

/// A buffer of `len` distinct-ish bytes, capped to keep cases small.
fn data(len: u64, seed: u8) -> Vec<u8> {
    (0..len.min(40_000))
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn prop_copy_to_slice_reads_what_the_model_holds() {
    // copy_to_slice(skip, buffer) returns and fills what Model::copy_to_slice does.
    fn property(layout: EntryLayout, range: SkipLen) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        for mode in MODES {
            let (mock, built) = setup(mode, &layout, 11);
            let list = built.list(&mock);
            let model = Model::from_list(&mock, list);
            let len = range.len.min(40_000) as usize;
            let mut got = vec![0xAA; len];
            let mut expected = vec![0xAA; len];
            let count = copy_to_slice(list, range.skip, &mut got);
            let expected_count = model.copy_to_slice(range.skip, &mut expected);
            if count != expected_count || got != expected || mock.live_mappings() != 0 {
                return TestResult::error(format!("{mode:?}: {count} vs {expected_count}"));
            }
        }
        TestResult::passed()
    }
    checker(150).quickcheck(property as fn(EntryLayout, SkipLen) -> TestResult);
}

/// Runs `write` on the list of `layout` in a mock of every mode, and
/// `model_write` on a model of the same bytes, and checks that they agree:
/// the same count, the same bytes after, no mapping left live and, when
/// they `flush`, written pages flushed.
fn writes_like_the_model(
    layout: &EntryLayout,
    seed: u64,
    flush: bool,
    write: impl Fn(SgListMut<'_, Mock>) -> u64,
    model_write: impl Fn(&mut Model) -> u64,
) -> TestResult {
    for mode in MODES {
        let (mock, mut built) = setup(mode, layout, seed);
        let mut model = Model::from_list(&mock, built.list(&mock));
        // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let count = write(unsafe { built.list_mut(&mock) });
        let expected_count = model_write(&mut model);
        if count != expected_count {
            return TestResult::error(format!("{mode:?}: {count} vs {expected_count}"));
        }
        if let Err(mismatch) = model.check(&mock, built.list(&mock)) {
            return TestResult::error(format!("{mode:?}: {mismatch}"));
        }
        if mock.live_mappings() != 0 {
            return TestResult::error("a mapping is still live");
        }
        // Copied mappings must have been flushed once per page written.
        if flush && count > 0 && mock.flushes() == 0 {
            return TestResult::error("written pages were not flushed");
        }
    }
    TestResult::passed()
}

#[test]
fn prop_copy_from_slice_writes_what_the_model_writes() {
    // copy_from_slice(skip, data) changes the list exactly as Model::copy_from_slice.
    fn property(layout: EntryLayout, range: SkipLen) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        let bytes = data(range.len, 7);
        writes_like_the_model(
            &layout,
            12,
            true,
            |list| copy_from_slice(list, range.skip, &bytes) as u64,
            |model| model.copy_from_slice(range.skip, &bytes) as u64,
        )
    }
    checker(150).quickcheck(property as fn(EntryLayout, SkipLen) -> TestResult);
}

#[test]
fn prop_zero_zeroes_what_the_model_zeroes() {
    // zero(skip, len) changes the list exactly as Model::zero.
    fn property(layout: EntryLayout, range: SkipLen) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        writes_like_the_model(
            &layout,
            13,
            false,
            |list| zero(list, range.skip, range.len),
            |model| model.zero(range.skip, range.len.try_into().unwrap_or(usize::MAX)) as u64,
        )
    }
    checker(150).quickcheck(property as fn(EntryLayout, SkipLen) -> TestResult);
}

#[test]
fn prop_copy_list_moves_what_the_models_move() {
    // copy_list copies min(len, each side's bytes after its skip), as Model::copy_from_model.
    fn property(
        to: EntryLayout,
        from: EntryLayout,
        to_skip: u16,
        from_skip: u16,
        len: u32,
    ) -> TestResult {
        let (to_skip, from_skip, len) = (
            u64::from(to_skip),
            u64::from(from_skip),
            u64::from(len % 50_000),
        );
        for (to_mode, from_mode) in [
            (Mapping::Copied, Mapping::Linear),
            (Mapping::Linear, Mapping::Direct),
            (Mapping::Linear, Mapping::Linear),
        ] {
            let (target_mock, mut target) = setup(to_mode, &to, 21);
            let (source_mock, source) = setup(from_mode, &from, 22);
            let mut model = Model::from_list(&target_mock, target.list(&target_mock));
            let source_model = Model::from_list(&source_mock, source.list(&source_mock));
            let count = copy_list(
                // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
                // and nothing else reaches them while the view is used.
                unsafe { target.list_mut(&target_mock) },
                to_skip,
                source.list(&source_mock),
                from_skip,
                len,
            );
            let expected = model.copy_from_model(to_skip, &source_model, from_skip, len as usize);
            if count != expected as u64 {
                return TestResult::error(format!(
                    "{to_mode:?}<-{from_mode:?}: {count} vs {expected}"
                ));
            }
            if let Err(mismatch) = model.check(&target_mock, target.list(&target_mock)) {
                return TestResult::error(format!("{to_mode:?}<-{from_mode:?}: {mismatch}"));
            }
            // The source is unchanged.
            if let Err(mismatch) = source_model.check(&source_mock, source.list(&source_mock)) {
                return TestResult::error(format!("source changed: {mismatch}"));
            }
            if target_mock.live_mappings() + source_mock.live_mappings() != 0 {
                return TestResult::error("a mapping is still live");
            }
        }
        TestResult::passed()
    }
    checker(100).quickcheck(property as fn(EntryLayout, EntryLayout, u16, u16, u32) -> TestResult);
}

#[test]
fn prop_operations_on_a_slice_see_only_its_range() {
    // On slice(skip, len), copies and zero touch exactly model[skip..skip+len].
    fn property(layout: EntryLayout, range: SkipLen, inner: u16) -> TestResult {
        let range = range.scaled(TEST_PAGE_SIZE);
        let mode = if inner % 2 == 0 {
            Mapping::Linear
        } else {
            Mapping::Copied
        };
        let (mock, mut built) = setup(mode, &layout, 31);
        let mut model = Model::from_list(&mock, built.list(&mock));
        let Some(expected) = model.range(range.skip, range.len).map(<[u8]>::to_vec) else {
            return TestResult::from_bool(built.list(&mock).slice(range.skip, range.len).is_err());
        };
        let slice = built.list(&mock).slice(range.skip, range.len).unwrap();
        let mut read = vec![0; expected.len() + 3];
        let count = copy_to_slice(slice, 0, &mut read);
        if count != expected.len() || read[..count] != expected[..] {
            return TestResult::error("reading the slice");
        }
        let inner = u64::from(inner) % (range.len + 1);
        // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        let mut view = unsafe { built.list_mut(&mock) };
        let zeroed = zero(
            view.slice_mut(range.skip, range.len).unwrap(),
            inner,
            u64::MAX,
        );
        model.zero(range.skip + inner, (range.len - inner) as usize);
        if zeroed != range.len - inner {
            return TestResult::error("zeroing in the slice");
        }
        let written = copy_from_slice(
            view.slice_mut(range.skip, range.len).unwrap(),
            0,
            &data(range.len + 5, 3),
        );
        model.copy_from_slice(range.skip, &data(range.len, 3));
        if written as u64 != range.len.min(40_000) && range.len <= 40_000 {
            return TestResult::error("writing the slice");
        }
        TestResult::from_bool(
            model.check(&mock, built.list(&mock)).is_ok() && mock.live_mappings() == 0,
        )
    }
    checker(150).quickcheck(property as fn(EntryLayout, SkipLen, u16) -> TestResult);
}

#[test]
fn an_entry_with_offset_5000_is_copied_from_the_second_page() {
    let mock = MockPages::<4096>::new();
    let run = mock.add_pages([40, 41]);
    mock.fill(5);
    let built = sg_testkit::BuiltList::new(&mock, &[(run[0], 100, 5000)], &[]);
    let mut out = [0u8; 100];
    assert_eq!(copy_to_slice(built.list(&mock), 0, &mut out), 100);
    assert_eq!(&out[..], &mock.read(run[1], 904, 100)[..]);
}

#[test]
fn empty_buffers_and_lengths_do_nothing() {
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1]);
    let mut built = sg_testkit::BuiltList::new(&mock, &[(pages[0], 10, 0)], &[]);
    assert_eq!(copy_to_slice(built.list(&mock), 0, &mut []), 0);
    // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
    // and nothing else reaches them while the view is used.
    assert_eq!(copy_from_slice(unsafe { built.list_mut(&mock) }, 0, &[]), 0);
    // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
    // and nothing else reaches them while the view is used.
    assert_eq!(zero(unsafe { built.list_mut(&mock) }, 0, 0), 0);
    // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
    // and nothing else reaches them while the view is used.
    assert_eq!(zero(unsafe { built.list_mut(&mock) }, 10, 5), 0);
    assert_eq!(
        // SAFETY: the built list's entries lie on disjoint bytes of the mock's frames,
        // and nothing else reaches them while the view is used.
        zero(unsafe { built.list_mut(&mock) }, u64::MAX, u64::MAX),
        0
    );
    assert_eq!(mock.total_mappings(), 0, "nothing was mapped");
    // SAFETY: the entries describe bytes of pages this provider holds valid,
    // and nothing else reaches them while the view is used.
    let empty: SgList<'_, MockPages<4096>> = unsafe { SgList::new(&[], &mock) };
    assert_eq!(copy_to_slice(empty, 0, &mut [0; 4]), 0);
    let mut none: [sg_core::SgEntry<sg_testkit::MockPage>; 0] = [];
    assert_eq!(
        // SAFETY: the entries describe bytes of pages this provider holds valid,
        // and nothing else reaches them while the view is used.
        copy_from_slice(unsafe { SgListMut::new(&mut none, &mock) }, 0, &[1]),
        0
    );
}

#[test]
fn a_linear_provider_copies_adjacent_entries_with_one_mapping() {
    let mock = MockPages::<4096>::linear();
    let run = mock.add_run(10, 4);
    // Four one-page entries over four consecutive frames.
    let entries: Vec<_> = run.iter().map(|&page| (page, 4096u32, 0u32)).collect();
    let built = sg_testkit::BuiltList::new(&mock, &entries, &[2]);
    let mut out = vec![0; 4 * 4096];
    assert_eq!(copy_to_slice(built.list(&mock), 0, &mut out), 4 * 4096);
    assert_eq!(mock.total_mappings(), 1);
    let copied = MockPages::<4096>::new();
    let run = copied.add_run(10, 4);
    let entries: Vec<_> = run.iter().map(|&page| (page, 4096u32, 0u32)).collect();
    let built = sg_testkit::BuiltList::new(&copied, &entries, &[2]);
    assert_eq!(copy_to_slice(built.list(&copied), 0, &mut out), 4 * 4096);
    assert_eq!(
        copied.total_mappings(),
        4,
        "other providers map page by page"
    );
}
