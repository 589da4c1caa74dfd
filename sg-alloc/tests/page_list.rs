//! Lists that own their data pages: sizes, orders, the spare entry,
//! freeing, failures and overflow.

mod common;

use common::end_marks;

use sg_alloc::PageList;
use sg_core::{Error, HeapChunks, PageProvider};
use sg_testkit::{CountedFrames, MockPages, for_each_chunk_failure, for_each_page_failure};

type Mock = MockPages<4096>;

fn lengths<P: PageProvider, C: sg_core::ChunkAllocator<P::Page>>(
    list: &PageList<P, C>,
) -> Vec<u32> {
    list.as_list().iter().map(|entry| entry.len()).collect()
}

#[test]
fn entries_hold_whole_runs_and_the_rest() {
    let mock = Mock::new();
    let list = PageList::new(&mock, 3 * 4096 + 5).unwrap();
    assert_eq!(lengths(&list), [4096, 4096, 4096, 5]);
    assert_eq!(
        (list.nents(), list.order(), list.byte_len()),
        (4, 0, 3 * 4096 + 5)
    );
    assert!(!list.is_chainable());
    assert_eq!(mock.live_allocations(), 4);
    let list = PageList::builder(&mock, 16 * 4096)
        .order(2)
        .build()
        .unwrap();
    assert_eq!(lengths(&list), [4 * 4096; 4]);
    for entry in list.as_list().iter() {
        assert_eq!(entry.offset(), 0);
        let page = entry.page().unwrap();
        assert!(mock.is_next(page, 3, mock.nth(page, 3)));
    }
    drop(list);
    assert_eq!(
        mock.live_allocations(),
        4,
        "the first list still holds its pages"
    );
}

#[test]
fn the_end_mark_is_on_the_last_data_entry_or_the_spare() {
    let mock = Mock::new();
    let plain = PageList::new(&mock, 2 * 4096).unwrap();
    let marks = end_marks(plain.as_list());
    assert_eq!(marks, [false, true]);
    let chainable = PageList::builder(&mock, 2 * 4096)
        .chainable(true)
        .build()
        .unwrap();
    assert!(chainable.is_chainable());
    assert_eq!(chainable.nents(), 2);
    let marks = end_marks(chainable.as_list());
    assert_eq!(marks, [false, false], "the spare carries the end mark");
    assert_eq!(chainable.as_list().count(), 2);
    assert_eq!(chainable.as_list().byte_len(), 2 * 4096);
}

#[test]
fn bytes_are_writable_and_pages_go_back_on_drop() {
    let mock = Mock::new();
    let mut list = PageList::new(&mock, 5000).unwrap();
    let bytes: Vec<u8> = (0..5000).map(|index| (index % 251) as u8).collect();
    mock.set_list_bytes(list.as_list(), &bytes);
    assert_eq!(mock.list_bytes(list.as_list()), bytes);
    assert_eq!(list.as_list_mut().as_list().byte_len(), 5000);
    drop(list);
    mock.assert_clean();
}

#[test]
fn free_n_gives_back_the_first_pages_and_the_arrays() {
    let mock = Mock::new();
    let list = PageList::new(&mock, 3 * 4096).unwrap();
    let kept = list.as_list().iter().nth(2).unwrap().page().unwrap();
    list.free_n(2);
    assert_eq!(mock.live_allocations(), 1);
    // SAFETY: the third page was allocated with order 0 by the list and
    // left allocated by `free_n`; no list names it any more.
    unsafe { mock.free_pages(kept, 0) };
    mock.assert_clean();
    // More than there are: stops at the spare, which has no page.
    let list = PageList::builder(&mock, 2 * 4096)
        .chainable(true)
        .build()
        .unwrap();
    list.free_n(usize::MAX);
    mock.assert_clean();
    let list = PageList::new(&mock, 4096).unwrap();
    list.free_n(0);
    assert_eq!(mock.live_allocations(), 1);
    mock.skip_check_on_drop();
}

#[test]
fn a_failed_page_allocation_gives_back_every_page() {
    for chainable in [false, true] {
        let points = for_each_page_failure(Mock::new, |mock| {
            let list = PageList::builder(mock, 5 * 8192 + 1)
                .order(1)
                .chainable(chainable)
                .chunk_allocator(HeapChunks::new())
                .build()?;
            assert_eq!(list.nents(), 6);
            Ok(())
        });
        assert_eq!(points, 6);
    }
}

#[test]
fn a_failed_array_allocation_gives_back_everything() {
    let mock = Mock::new();
    let points = for_each_chunk_failure(Some(4), |chunks| {
        let list = PageList::builder(&mock, 10 * 4096)
            .chainable(true)
            .chunk_allocator(chunks)
            .build()?;
        assert_eq!(list.nents(), 10);
        Ok(())
    });
    // 11 slots in arrays of 4: 3 + 3 + 3 + 2.
    assert_eq!(points, 4);
    mock.assert_clean();
}

#[test]
fn bad_input_gets_typed_errors() {
    let mock = Mock::new();
    assert_eq!(PageList::new(&mock, 0).map(drop), Err(Error::ZeroLength));
    // 2^20 pages of 4 KiB hold 4 GiB: more than an entry's length (and
    // more than a 32-bit `usize`).
    let what = if usize::BITS < 64 {
        "pages of the order"
    } else {
        "entry length of the order"
    };
    assert_eq!(
        PageList::builder(&mock, 1).order(20).build().map(drop),
        Err(Error::Overflow { what })
    );
    assert!(matches!(
        PageList::builder(&mock, 1).order(70).build().map(drop),
        Err(Error::Overflow { .. })
    ));
    // The mock's largest order is 12.
    assert_eq!(
        PageList::builder(&mock, 1).order(13).build().map(drop),
        Err(Error::PagesUnavailable { order: 13 })
    );
    // 2^58 entries of 64-byte pages: no table that large fits in memory.
    let tiny = MockPages::<64>::new();
    assert!(matches!(
        PageList::new(&tiny, u64::MAX).map(drop),
        Err(Error::Overflow { .. })
    ));
    mock.assert_clean();
    tiny.assert_clean();
}

#[test]
fn lengths_of_4_gib_and_more_work() {
    let frames = CountedFrames::<4096>::new();
    let length = (4u64 << 30) + 1;
    // Order 9: 2 MiB per entry; under Miri, where the 2049 entries take a
    // minute, order 16: 256 MiB per entry, the same layout in 17 entries.
    let order = if cfg!(miri) { 16 } else { 9 };
    let entry = 4096u32 << order;
    let nents = ((4 << 30) / u64::from(entry)) as usize + 1;
    let list = PageList::builder(&frames, length)
        .order(order)
        .build()
        .unwrap();
    assert_eq!(list.nents(), nents);
    assert_eq!(list.byte_len(), length);
    let found = lengths(&list);
    assert!(found[..nents - 1].iter().all(|&length| length == entry));
    assert_eq!(found[nents - 1], 1);
    assert_eq!(frames.live(), nents);
    drop(list);
    frames.assert_clean();
    // Order 19: 2 GiB per entry, fits a u32 length.
    let list = PageList::builder(&frames, 5 << 30)
        .order(19)
        .build()
        .unwrap();
    assert_eq!(lengths(&list), [1 << 31, 1 << 31, 1 << 30]);
    drop(list);
    frames.assert_clean();
}

#[test]
fn debug_shows_the_shape() {
    let mock = Mock::new();
    let list = PageList::builder(&mock, 100)
        .order(1)
        .chainable(true)
        .build()
        .unwrap();
    let text = format!("{list:?}");
    assert!(
        text.contains("nents: 1") && text.contains("order: 1") && text.contains("chainable: true"),
        "{text}"
    );
}
