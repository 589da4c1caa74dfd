//! Splitting a list into tables over consecutive byte ranges.

mod common;

use common::{Mock, end_marks, fill, fill_list, scaled_layout, spans};
use quickcheck::TestResult;
use sg_alloc::{ChunkPool, SgTable, split, split_in};
use sg_core::{Error, PageProvider, Pages, SgList};
use sg_iter::MappingIterMut;
use sg_testkit::{BuiltList, EntryLayout, MockPage, MockPages, for_each_chunk_failure};

type Mock4k = MockPages<4096>;

/// Entries of 100, 0, 200 and 300 bytes over three frames.
fn sample(mock: &Mock4k) -> BuiltList<MockPage> {
    let pages = mock.add_pages([10, 20, 30]);
    fill(mock, [10, 20, 30], 7);
    BuiltList::new(
        mock,
        &[
            (pages[0], 100, 50),
            (pages[1], 0, 0),
            (pages[1], 200, 1000),
            (pages[2], 300, 3000),
        ],
        &[2, 1],
    )
}

#[test]
fn pieces_are_trimmed_and_end_marked() {
    let mock = Mock4k::new();
    let built = sample(&mock);
    let list = built.list(&mock);
    let pieces = split(list, 60, &[100, 250]).unwrap();
    assert_eq!(pieces.len(), 2);
    // 40 bytes left of the first entry, then 60 of the second data entry.
    assert_eq!(spans(pieces[0].as_list()), [(10, 110, 40), (20, 1000, 60)]);
    assert_eq!(
        spans(pieces[1].as_list()),
        [(20, 1060, 140), (30, 3000, 110)]
    );
    for piece in &pieces {
        let marks = end_marks(piece.as_list());
        assert_eq!(marks, [false, true]);
    }
    let bytes = mock.list_bytes(list);
    assert_eq!(mock.list_bytes(pieces[0].as_list()), bytes[60..160]);
    assert_eq!(mock.list_bytes(pieces[1].as_list()), bytes[160..410]);
}

#[test]
fn a_split_on_an_entry_boundary_has_no_empty_leading_entry() {
    let mock = Mock4k::new();
    let built = sample(&mock);
    let list = built.list(&mock);
    let pieces = split(list, 0, &[100, 200, 300]).unwrap();
    let found: Vec<_> = pieces.iter().map(|piece| spans(piece.as_list())).collect();
    assert_eq!(
        found,
        [
            vec![(10, 50, 100)],
            vec![(20, 1000, 200)],
            vec![(30, 3000, 300)]
        ]
    );
    // Starting right at a boundary too.
    let pieces = split(list, 100, &[1]).unwrap();
    assert_eq!(spans(pieces[0].as_list()), [(20, 1000, 1)]);
}

#[test]
fn bad_input_gets_typed_errors() {
    let mock = Mock4k::new();
    let built = sample(&mock);
    let list = built.list(&mock);
    let split = |skip, sizes: &[u64]| split(list, skip, sizes).map(|pieces| pieces.len());
    assert_eq!(
        split(0, &[600, 1]),
        Err(Error::ListTooShort {
            needed: 601,
            available: 600
        })
    );
    assert_eq!(
        split(600, &[1]),
        Err(Error::ListTooShort {
            needed: 601,
            available: 600
        })
    );
    assert_eq!(split(0, &[10, 0]), Err(Error::ZeroLength));
    assert!(matches!(
        split(0, &[u64::MAX, 2]),
        Err(Error::Overflow { .. })
    ));
    assert!(matches!(split(u64::MAX, &[1]), Err(Error::Overflow { .. })));
    assert_eq!(split(5, &[]), Ok(0));
    assert_eq!(split(0, &[600]), Ok(1));
}

#[test]
fn a_slice_splits_like_the_list_it_comes_from() {
    let mock = Mock4k::new();
    let built = sample(&mock);
    let list = built.list(&mock);
    let slice = list.slice(30, 500).unwrap();
    let from_slice = split(slice, 20, &[300, 180]).unwrap();
    let from_list = split(list, 50, &[300, 180]).unwrap();
    for (a, b) in from_slice.iter().zip(&from_list) {
        assert_eq!(spans(a.as_list()), spans(b.as_list()));
    }
    assert_eq!(
        split(slice, 0, &[501]).map(drop),
        Err(Error::ListTooShort {
            needed: 501,
            available: 500
        })
    );
}

#[test]
fn offsets_past_u32_move_to_a_later_page() {
    // One entry whose bytes start 4 GiB - 1 into its run: a split starting
    // 8 bytes in has an offset that no longer fits a u32.
    let mock = MockPages::<4096>::new();
    let pages = mock.add_pages([1_048_575, 1_048_576]);
    fill(&mock, [1_048_575, 1_048_576], 3);
    let built = BuiltList::new(&mock, &[(MockPage::new(0), 16, u32::MAX - 7)], &[]);
    let list = built.list(&mock);
    let pieces = split(list, 8, &[8]).unwrap();
    assert_eq!(spans(pieces[0].as_list()), [(1_048_576, 0, 8)]);
    assert_eq!(
        mock.list_bytes(pieces[0].as_list()),
        mock.read(pages[1], 0, 8)
    );
}

#[test]
fn a_failed_split_gives_back_every_array() {
    let mock = Mock4k::new();
    let pages = mock.add_pages(0..12);
    let entries: Vec<(MockPage, u32, u32)> = pages.iter().map(|&page| (page, 4096, 0)).collect();
    let built = BuiltList::new(&mock, &entries, &[5]);
    let list = built.list(&mock);
    let points = for_each_chunk_failure(Some(3), |chunks| {
        let pieces = split_in(list, 100, &[5 * 4096, 5 * 4096], chunks)?;
        assert_eq!(
            pieces
                .iter()
                .map(|piece| piece.orig_nents())
                .collect::<Vec<_>>(),
            [6, 6]
        );
        Ok(())
    });
    // Two tables of 6 entries in arrays of 3: 2 + 2 + 2 each.
    assert_eq!(points, 6);
}

#[test]
fn pieces_can_share_a_pool() {
    let mock = Mock4k::new();
    let built = sample(&mock);
    let pool = ChunkPool::<MockPage>::new(2).unwrap();
    let pieces = split_in(built.list(&mock), 0, &[150, 450], &pool).unwrap();
    assert_eq!(pool.available(), 0);
    assert_eq!(pieces[1].byte_len(), 450);
    assert!(split_in(built.list(&mock), 0, &[1], &pool).is_err());
}

/// Skip and sizes for a list of `total` bytes: fitting, or (`overshoot`)
/// as given, which may ask for more than there is.
fn plan(total: u64, skip: u16, sizes: &[u16], overshoot: bool) -> (u64, Vec<u64>) {
    let sizes: Vec<u64> = sizes.iter().map(|&size| u64::from(size.max(1))).collect();
    if overshoot || total == 0 || sizes.is_empty() {
        return (u64::from(skip), sizes);
    }
    let skip = u64::from(skip) % total;
    let share = ((total - skip) / sizes.len() as u64).max(1);
    let sizes = sizes
        .into_iter()
        .map(|size| 1 + (size - 1) % share)
        .collect();
    (skip, sizes)
}

/// The pieces hold, in order, exactly the bytes of the input from `skip`
/// on, each piece its size; a split past the end is refused.
fn prop_split_pieces_concatenate_to_the_input_range(
    layout: EntryLayout,
    skip: u16,
    sizes: Vec<u16>,
    overshoot: bool,
) -> TestResult {
    let mock = Mock::new();
    let built = scaled_layout(layout).build(&mock);
    let list = built.list(&mock);
    fill_list(&mock, list, 11);
    let total = list.byte_len();
    let (skip, sizes) = plan(total, skip, &sizes, overshoot);
    let wanted: u64 = sizes.iter().sum();
    let pieces = match split(list, skip, &sizes) {
        Err(Error::ListTooShort { needed, available }) => {
            return TestResult::from_bool(
                skip + wanted > total && needed == skip + wanted && available == total,
            );
        }
        Err(error) => return TestResult::error(error.to_string()),
        Ok(pieces) => pieces,
    };
    if skip + wanted > total || pieces.len() != sizes.len() {
        return TestResult::failed();
    }
    let bytes = mock.list_bytes(list);
    let mut joined = Vec::new();
    for (piece, &size) in pieces.iter().zip(&sizes) {
        if piece.byte_len() != size || piece.as_list().byte_len() != size {
            return TestResult::failed();
        }
        joined.extend(mock.list_bytes(piece.as_list()));
    }
    TestResult::from_bool(joined == bytes[skip as usize..(skip + wanted) as usize])
}

#[test]
fn split_pieces_concatenate_to_the_input_range() {
    sg_testkit::checker(200).quickcheck(
        prop_split_pieces_concatenate_to_the_input_range
            as fn(EntryLayout, u16, Vec<u16>, bool) -> TestResult,
    );
}

/// Every piece has entries of at least one byte only, the last of them
/// end-marked, and as many as the input entries its range touches.
fn prop_split_pieces_have_no_empty_entries(
    layout: EntryLayout,
    skip: u16,
    sizes: Vec<u16>,
) -> TestResult {
    let mock = Mock::new();
    let built = scaled_layout(layout).build(&mock);
    let list = built.list(&mock);
    let (skip, sizes) = plan(list.byte_len(), skip, &sizes, false);
    let Ok(pieces) = split(list, skip, &sizes) else {
        return TestResult::discard();
    };
    let mut start = skip;
    for (piece, &size) in pieces.iter().zip(&sizes) {
        let view: SgList<'_, _> = piece.as_list();
        let touched = list.slice(start, size).unwrap().segments().count();
        let lengths_ok = view.iter().all(|entry| !entry.is_empty());
        let marks = end_marks(view);
        let marks_ok =
            marks.last() == Some(&true) && marks.iter().filter(|&&mark| mark).count() == 1;
        if !lengths_ok || !marks_ok || view.count() != touched || piece.orig_nents() != touched {
            return TestResult::failed();
        }
        start += size;
    }
    TestResult::passed()
}

#[test]
fn split_pieces_have_no_empty_entries() {
    sg_testkit::checker(200).quickcheck(
        prop_split_pieces_have_no_empty_entries as fn(EntryLayout, u16, Vec<u16>) -> TestResult,
    );
}

#[test]
fn tables_split_too() {
    let mock = Mock4k::new();
    let pages = mock.add_pages([4, 5, 9]);
    // SAFETY: three distinct pages the mock holds, used by nothing else
    // while the set lives.
    let set = unsafe { Pages::from_raw(&mock, &pages[..]) };
    let table = SgTable::from_pages(&set, 10, 3 * 4096 - 10).unwrap();
    let pieces = split(table.as_list(), 0, &[4096, 4096]).unwrap();
    assert_eq!(spans(pieces[0].as_list()), [(4, 10, 4096)]);
    assert_eq!(spans(pieces[1].as_list()), [(4, 4106, 4086), (9, 0, 10)]);
    assert!(mock.is_next(pages[0], 1, pages[1]));
}

#[test]
fn writable_pieces_of_an_exclusive_view_write_disjoint_bytes() {
    let mock = Mock4k::new();
    let mut set = Pages::alloc(&mock, 1).unwrap();
    let mut table = SgTable::from_pages(&mut set, 0, 8192).unwrap();
    fill_list(&mock, table.as_list(), 5);
    let before = mock.list_bytes(table.as_list());
    let mut pieces = split(table.as_list_mut(), 100, &[4000, 3000]).unwrap();
    assert_eq!(pieces.len(), 2);
    for (index, piece) in pieces.iter_mut().enumerate() {
        let value = index as u8 + 1;
        let mut writer = MappingIterMut::new(piece.as_list_mut());
        while let Some(bytes) = writer.next_slice_mut() {
            bytes.fill(value);
        }
    }
    drop(pieces);
    let bytes = mock.list_bytes(table.as_list());
    assert_eq!(bytes[..100], before[..100]);
    assert_eq!(bytes[7100..], before[7100..]);
    assert!(bytes[100..4100].iter().all(|&byte| byte == 1));
    assert!(bytes[4100..7100].iter().all(|&byte| byte == 2));
}
