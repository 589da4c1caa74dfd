//! Panic safety of every copy: a provider that panics at any one of its
//! calls (in `map`, `flush_write`, `unmap`, anywhere) leaves no CPU mapping
//! live after the panic, and the list's bytes each hold their old value or
//! the new one. Run for a paged mock (mapping iterators) and a linear one
//! (the linear fast path), over small lists so that Miri runs it.

use std::cell::{Cell, RefCell};
use std::io::{Read, Seek, SeekFrom, Write};

use sg_copy::{
    ListCursor, ListReader, copy_from_slice, copy_list, copy_to_slice, with_io_slices,
    with_io_slices_mut, zero,
};
use sg_core::{SgList, SgListMut};
use sg_testkit::{BuiltList, MockPage, MockPages, PanicAt, for_each_panic_point};

type Mock = MockPages<64>;
type Panicky<'a> = PanicAt<&'a Mock>;

/// Entries (first frame, offset, length): one across two pages, a whole
/// page, and one that starts a page past its handle; 184 bytes.
const ENTRIES: [(u64, u32, u32); 3] = [(1, 10, 100), (5, 0, 64), (9, 70, 20)];
const LEN: usize = 184;

/// The same shape on other frames, for the second list of `copy_list`.
const OTHER_ENTRIES: [(u64, u32, u32); 3] = [(21, 10, 100), (25, 0, 64), (29, 70, 20)];

/// A paged mock (mappings are copies) and a linear one.
fn mocks() -> [Mock; 2] {
    [Mock::new(), Mock::linear()]
}

/// A list of `entries` over `mock`, in two arrays, filled with a pattern.
fn build(mock: &Mock, entries: &[(u64, u32, u32)], seed: u8) -> BuiltList<MockPage> {
    let placed: Vec<(MockPage, u32, u32)> = entries
        .iter()
        .map(|&(pfn, offset, length)| {
            mock.add_run(pfn, u64::from(offset + length).div_ceil(64));
            (MockPage::new(pfn), length, offset)
        })
        .collect();
    let built = BuiltList::new(mock, &placed, &[2]);
    mock.set_list_bytes(built.list(mock), &pattern(seed));
    built
}

/// `LEN` bytes that differ from `pattern` with another seed at every
/// position.
fn pattern(seed: u8) -> Vec<u8> {
    (0..LEN)
        .map(|index| (index as u8).wrapping_mul(3).wrapping_add(seed) | 1)
        .collect()
}

/// Runs `write` on the provider and an exclusive view of `built` through it, which
/// panics at its k-th call, for every k until a run completes. After
/// each run: no mapping is live, and every byte of the list is either its old
/// value or the one in `expected`; after the complete run, the list holds
/// `expected`.
fn check_writer(
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
fn check_reader(
    mock: &Mock,
    built: &BuiltList<MockPage>,
    expected: &[u8],
    mut read: impl FnMut(SgList<'_, Panicky<'_>>) -> Vec<u8>,
) {
    let original = mock.list_bytes(built.list(mock));
    let result = Cell::new(None);
    let points = for_each_panic_point(
        |k| {
            let provider = PanicAt::new(mock, k);
            // SAFETY: the entries lie on frames of the mock, to which the
            // provider forwards; nothing writes them.
            result.set(Some(read(unsafe { built.list_via(&provider) })));
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
    assert_eq!(result.take().as_deref(), Some(expected));
}

#[test]
fn copy_from_slice_leaves_no_mapping_when_the_provider_panics() {
    let source = pattern(100);
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected[7..157].copy_from_slice(&source[..150]);
        check_writer(&mock, &mut built, &expected, |_, list| {
            assert_eq!(copy_from_slice(list, 7, &source[..150]), 150);
        });
    }
}

#[test]
fn copy_to_slice_leaves_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let built = build(&mock, &ENTRIES, 0);
        check_reader(&mock, &built, &pattern(0)[3..153], |list| {
            let mut out = vec![0; 150];
            assert_eq!(copy_to_slice(list, 3, &mut out), 150);
            out
        });
    }
}

#[test]
fn zero_leaves_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected[5..175].fill(0);
        check_writer(&mock, &mut built, &expected, |_, list| {
            assert_eq!(zero(list, 5, 170), 170);
        });
    }
}

#[test]
fn copy_list_leaves_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let source = build(&mock, &OTHER_ENTRIES, 100);
        let mut built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected[2..172].copy_from_slice(&pattern(100)[9..179]);
        check_writer(&mock, &mut built, &expected, |provider, list| {
            // SAFETY: the source's frames are the mock's, apart from the
            // destination's, and only read.
            let from = unsafe { source.list_via(provider) };
            assert_eq!(copy_list(list, 2, from, 9, 170), 170);
        });
        assert_eq!(mock.list_bytes(source.list(&mock)), pattern(100));
    }
}

#[test]
fn io_slices_leave_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let built = build(&mock, &ENTRIES, 0);
        check_reader(&mock, &built, &pattern(0), |list| {
            with_io_slices(list, |slices| {
                slices.iter().flat_map(|slice| slice.to_vec()).collect()
            })
        });
    }
}

#[test]
fn io_slices_mut_leave_no_mapping_when_the_provider_panics() {
    let source = pattern(100);
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        check_writer(&mock, &mut built, &source, |_, list| {
            let mut from: &[u8] = &source;
            let read = with_io_slices_mut(list, |slices| from.read_vectored(slices))
                .expect("the entries do not overlap")
                .expect("reading a slice does not fail");
            assert_eq!(read, LEN);
        });
    }
}

#[test]
fn list_reader_leaves_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected.extend_from_slice(&pattern(0)[100..120]);
        check_reader(&mock, &built, &expected, |list| {
            let mut reader = ListReader::new(list);
            let mut out = Vec::new();
            reader
                .read_to_end(&mut out)
                .expect("reading a list does not fail");
            reader
                .seek(SeekFrom::Start(100))
                .expect("seek within the list");
            let mut more = [0; 20];
            reader.read_exact(&mut more).expect("20 bytes are left");
            out.extend_from_slice(&more);
            out
        });
    }
}

#[test]
fn list_cursor_leaves_no_mapping_when_the_provider_panics() {
    let source = pattern(100);
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        check_writer(&mock, &mut built, &source, |_, list| {
            let mut cursor = ListCursor::new(list);
            cursor
                .write_all(&source[..90])
                .expect("the list holds 90 bytes");
            cursor
                .seek(SeekFrom::Current(-30))
                .expect("seek within the list");
            let mut back = [0; 30];
            cursor.read_exact(&mut back).expect("30 bytes are left");
            assert_eq!(back[..], source[60..90]);
            cursor.write_all(&source[90..]).expect("the rest fits");
            cursor.flush().expect("a flush does not fail");
        });
    }
}
