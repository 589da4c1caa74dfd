//! Panic safety of the copies: a provider that panics at any one of its
//! calls (in `map`, `flush_write`, `unmap`, anywhere) leaves no CPU mapping
//! live after the panic, and the list's bytes each hold their old value or
//! the new one. Run for a paged mock (mapping iterators) and a linear one
//! (the linear fast path), over small lists so that Miri runs it.

mod panic_support;

use sg_copy::{copy_from_slice, copy_list, copy_to_slice, zero};

use panic_support::{ENTRIES, Mock, build, check_reader, check_writer, mocks, pattern};

/// The shape of `ENTRIES` on other frames, for the second list of
/// `copy_list`.
const OTHER_ENTRIES: [(u64, u32, u32); 2] = [(21, 40, 40), (25, 70, 20)];

#[test]
fn copy_from_slice_leaves_no_mapping_when_the_provider_panics() {
    let source = pattern(100);
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected[7..57].copy_from_slice(&source[..50]);
        check_writer(&mock, &mut built, &expected, |_, list| {
            assert_eq!(copy_from_slice(list, 7, &source[..50]), 50);
        });
    }
}

#[test]
fn copy_to_slice_leaves_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let built = build(&mock, &ENTRIES, 0);
        check_reader(&mock, &built, &pattern(0)[3..53], |list| {
            let mut out = vec![0; 50];
            assert_eq!(copy_to_slice(list, 3, &mut out), 50);
            out
        });
    }
}

#[test]
fn zero_leaves_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected[5..55].fill(0);
        check_writer(&mock, &mut built, &expected, |_, list| {
            assert_eq!(zero(list, 5, 50), 50);
        });
    }
}

#[test]
fn copy_list_leaves_no_mapping_when_the_provider_panics() {
    // Through the mapping iterators on either mock: the paged one maps
    // (and flushes) more often.
    {
        let mock = Mock::new();
        let source = build(&mock, &OTHER_ENTRIES, 100);
        let mut built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected[2..52].copy_from_slice(&pattern(100)[9..59]);
        check_writer(&mock, &mut built, &expected, |provider, list| {
            // SAFETY: the source's frames are the mock's, apart from the
            // destination's, and only read.
            let from = unsafe { source.list_via(provider) };
            assert_eq!(copy_list(list, 2, from, 9, 50), 50);
        });
        assert_eq!(mock.list_bytes(source.list(&mock)), pattern(100));
    }
}
