//! What the panic-safety tests share: small lists over a paged and a
//! linear mock, and drivers that make the provider panic at each call in
//! turn and check what is left after each panic.

use std::cell::RefCell;

use sg_core::{SgList, SgListMut};
use sg_testkit::{BuiltList, MockPage, MockPages, PanicAt, for_each_panic_point};

pub(crate) type Mock = MockPages<64>;
pub(crate) type Panicky<'a> = PanicAt<&'a Mock>;

/// Entries (first frame, offset, length): one across two pages and one
/// that starts a page past its handle; 60 bytes.
pub(crate) const ENTRIES: [(u64, u32, u32); 2] = [(1, 40, 40), (5, 70, 20)];
pub(crate) const LEN: usize = 60;

/// A paged mock (mappings are copies) and a linear one.
pub(crate) fn mocks() -> [Mock; 2] {
    [Mock::new(), Mock::linear()]
}

/// A list of `entries` over `mock`, one array per entry, filled with a pattern.
pub(crate) fn build(mock: &Mock, entries: &[(u64, u32, u32)], seed: u8) -> BuiltList<MockPage> {
    let placed: Vec<(MockPage, u32, u32)> = entries
        .iter()
        .map(|&(pfn, offset, length)| {
            mock.add_run(pfn, u64::from(offset + length).div_ceil(64));
            (MockPage::new(pfn), length, offset)
        })
        .collect();
    let built = BuiltList::new(mock, &placed, &[1]);
    mock.set_list_bytes(built.list(mock), &pattern(seed));
    built
}

/// `LEN` bytes that differ from `pattern` with another seed at every
/// position.
pub(crate) fn pattern(seed: u8) -> Vec<u8> {
    (0..LEN)
        .map(|index| (index as u8).wrapping_mul(3).wrapping_add(seed) | 1)
        .collect()
}

/// Runs `write` on the provider and an exclusive view of `built` through it, which
/// panics at its k-th call, for every k until a run completes. After
/// each run: no mapping is live, and every byte of the list is either its old
/// value or the one in `expected`; after the complete run, the list holds
/// `expected`.
pub(crate) fn check_writer(
    mock: &Mock,
    built: &mut BuiltList<MockPage>,
    expected: &[u8],
    mut write: impl FnMut(&Panicky<'_>, SgListMut<'_, Panicky<'_>>),
) {
    let original = mock.list_bytes(built.list(mock));
    let built = RefCell::new(built);
    let points = for_each_panic_point(
        |k| {
            let mut built = built.borrow_mut();
            mock.set_list_bytes(built.list(mock), &original);
            let provider = PanicAt::new(mock, k);
            // SAFETY: the entries lie on distinct frames of the mock, to
            // which the provider forwards; nothing else reaches them.
            write(&provider, unsafe { built.list_mut(&provider) });
        },
        |k| {
            assert_eq!(
                mock.live_mappings(),
                0,
                "panic point {k}: mappings left live"
            );
            let now = mock.list_bytes(built.borrow().list(mock));
            for (index, ((&now, &old), &new)) in now.iter().zip(&original).zip(expected).enumerate()
            {
                assert!(
                    now == old || now == new,
                    "panic point {k}: byte {index} is {now}, neither {old} nor {new}"
                );
            }
        },
    );
    assert!(points > 2, "only {points} panic points");
    assert_eq!(mock.list_bytes(built.borrow().list(mock)), expected);
}

/// Runs `read` on a view of `built` through a provider that panics at its
/// k-th call, for every k until a run completes. After each run: no
/// mapping is live and the list is unchanged; the complete run returns
/// `expected`.
pub(crate) fn check_reader(
    mock: &Mock,
    built: &BuiltList<MockPage>,
    expected: &[u8],
    mut read: impl FnMut(SgList<'_, Panicky<'_>>) -> Vec<u8>,
) {
    let original = mock.list_bytes(built.list(mock));
    let mut result = None;
    let points = for_each_panic_point(
        |k| {
            let provider = PanicAt::new(mock, k);
            // SAFETY: the entries lie on frames of the mock, to which the
            // provider forwards; nothing writes them.
            result = Some(read(unsafe { built.list_via(&provider) }));
        },
        |k| {
            assert_eq!(
                mock.live_mappings(),
                0,
                "panic point {k}: mappings left live"
            );
            assert_eq!(
                mock.list_bytes(built.list(mock)),
                original,
                "panic point {k}"
            );
        },
    );
    assert!(points > 2, "only {points} panic points");
    assert_eq!(result.as_deref(), Some(expected));
}
