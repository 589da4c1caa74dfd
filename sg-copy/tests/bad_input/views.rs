//! Rows for sg-core: entries and arrays, list views, DMA limits and
//! counts, chunks and pages of process memory.

use core::ptr::NonNull;

use sg_core::{
    ChunkAllocator, DmaLimits, DmaRun, Error, HeapChunks, PageProvider, SgEntry, SgList, SgListMut,
    VirtPages, chain, init_table, order_bytes,
};
use sg_testkit::{FramePages, MockPage};

use crate::Row;
use crate::kit::{
    BUILT_BYTES, FailingAllocator, Mock, PAGE, bad_limits, sample_built, sample_pages, sample_table,
};

pub(crate) fn rows() -> Vec<Row> {
    rows! {
        ZeroEntries {
            "sg_core::init_table" => init_table_of_nothing,
            "sg_core::chain" => chain_with_an_empty_array,
            "SgList::new" => view_of_no_array,
            "SgListMut::new" => exclusive_view_of_no_array,
            "SgList::take_entries" => view_of_zero_entries,
            "HeapChunks::alloc" => heap_array_of_zero_entries,
            "HeapChunks::with_max_entries" => heap_arrays_of_fewer_than_two,
        }
        SegmentBelowPage {
            "SgList::count_for_dma" => dma_count_with_no_segment_size,
            "SgList::count_dma_segments" => dma_segments_shorter_than_entries,
        }
        Overflow {
            "SgList::slice" => slice_end_past_u64,
            "SgListMut::slice_mut" => || slice_mut_of_sample(|slice| assert_slice_end_overflows(slice)),
            "SgListMut::into_slice" => || into_slice_of_sample(|slice| assert_slice_end_overflows(slice)),
            "order_bytes" => order_past_usize,
            "VirtPages::alloc_pages" => virt_pages_of_an_order_past_usize,
            "HeapChunks::alloc" => heap_array_past_isize,
            "SgEntry::phys" => entry_address_past_u64,
            "DmaRun::phys" => run_address_past_u64,
            "SgList::count_dma_segments" => dma_segments_past_u64,
        }
        NentsPastList {
            "SgList::take_entries" => more_entries_than_the_list,
            "SgList::last_of" => last_past_the_list,
            "SgList::count_for_len" => entries_for_more_bytes_than_the_list,
            "SgList::new" => arrays_without_an_end_mark,
            "SgList::from_raw" => raw_view_past_its_slots,
        }
        SplitPastInput {
            "SgList::slice" => slices_past_the_end,
            "SgListMut::slice_mut" => || slice_mut_of_sample(|slice| assert_past_the_end(BUILT_BYTES, slice)),
            "SgListMut::into_slice" => || into_slice_of_sample(|slice| assert_past_the_end(BUILT_BYTES, slice)),
        }
        BadLimits {
            "DmaLimits::validate" => limits_refused,
            "SgList::count_dma_segments" => dma_segments_under_bad_limits,
        }
        Failure {
            "HeapChunks::alloc" => heap_array_when_memory_fails,
            "VirtPages::alloc_pages" => virt_pages_when_memory_fails,
        }
    }
}

fn init_table_of_nothing() {
    let mut none: [SgEntry<MockPage>; 0] = [];
    assert_eq!(init_table(&mut none), Err(Error::NoEntries));
}

fn chain_with_an_empty_array() {
    let mut none: [SgEntry<MockPage>; 0] = [];
    let mut target: [SgEntry<MockPage>; 1] = Default::default();
    init_table(&mut target).unwrap();
    // SAFETY: the call fails, so no link is made.
    let refused = unsafe { chain(&mut none, NonNull::from(&mut target[..])) };
    assert_eq!(refused, Err(Error::NoEntries));
    let mut head: [SgEntry<MockPage>; 2] = Default::default();
    init_table(&mut head).unwrap();
    // SAFETY: as above.
    let refused = unsafe { chain(&mut head, NonNull::from(&mut none[..])) };
    assert_eq!(refused, Err(Error::NoEntries));
    assert!(
        head[1].is_last() && !head[1].is_chain(),
        "the slot is untouched"
    );
}

/// The answers every view of no entry gives, from any view.
#[track_caller]
fn assert_empty<P: PageProvider>(list: SgList<'_, P>) {
    assert_eq!(
        (list.count(), list.byte_len(), list.is_empty()),
        (0, 0, true)
    );
    assert!(list.first().is_none() && list.iter().next().is_none());
    assert!(list.segments().next().is_none());
    assert_eq!(
        list.last_of(1).err(),
        Some(Error::TooFewEntries {
            requested: 1,
            available: 0
        })
    );
    assert_eq!(list.count_for_len(0), Ok(0));
    assert_eq!(
        list.count_for_len(1),
        Err(Error::ListTooShort {
            needed: 1,
            available: 0
        })
    );
    assert_eq!(list.slice(0, 0).map(|slice| slice.count()), Ok(0));
    assert_eq!(
        list.slice(0, 1).err(),
        Some(Error::ListTooShort {
            needed: 1,
            available: 0
        })
    );
    assert_eq!(list.count_for_dma(1), Ok(0));
    assert_eq!(list.count_dma_segments(&DmaLimits::new()), Ok(0));
}

fn view_of_no_array() {
    let mock = Mock::new();
    let none: [SgEntry<MockPage>; 0] = [];
    // SAFETY: no entry, so the view describes no byte.
    assert_empty(unsafe { SgList::new(&none, &mock) });
    mock.assert_clean();
}

fn exclusive_view_of_no_array() {
    let mock = Mock::new();
    let mut none: [SgEntry<MockPage>; 0] = [];
    // SAFETY: no entry, so the view describes no byte.
    let mut list = unsafe { SgListMut::new(&mut none, &mock) };
    assert_empty(list.as_list());
    assert!(list.slice_mut(0, 0).is_ok());
    assert_eq!(
        list.slice_mut(0, 1).err(),
        Some(Error::ListTooShort {
            needed: 1,
            available: 0
        })
    );
    mock.assert_clean();
}

fn view_of_zero_entries() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    assert_empty(built.list(&mock).take_entries(0));
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    assert_empty(table.as_list().take_entries(0));
    drop(table);
    mock.assert_clean();
}

fn heap_array_of_zero_entries() {
    let chunks = HeapChunks::new();
    assert_eq!(
        ChunkAllocator::<MockPage>::alloc(&chunks, 0),
        Err(Error::NoEntries)
    );
}

fn heap_arrays_of_fewer_than_two() {
    for max in [0, 1] {
        assert_eq!(
            HeapChunks::new().with_max_entries(max).map(drop),
            Err(Error::ChunkTooLarge { requested: 2, max })
        );
    }
}

fn dma_count_with_no_segment_size() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    assert_eq!(
        built.list(&mock).count_for_dma(0),
        Err(Error::InvalidLimits {
            reason: "the maximum segment size is 0"
        })
    );
    mock.assert_clean();
}

fn dma_segments_shorter_than_entries() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    let half = DmaLimits::new().with_max_segment_size(PAGE as u32 / 2);
    assert_eq!(
        built.list(&mock).count_dma_segments(&half),
        Err(Error::EntryNeedsSplit {
            index: 0,
            len: PAGE as u32 - 10
        })
    );
    // From the second entry on: the first too long is the third.
    let rest = built.list(&mock).slice(PAGE as u64 - 10, 20 + PAGE as u64);
    assert_eq!(
        rest.unwrap().count_dma_segments(&half),
        Err(Error::EntryNeedsSplit {
            index: 1,
            len: PAGE as u32
        })
    );
    mock.assert_clean();
}

/// A slicing of a view, as a function of (skip, len) to the slice's bytes.
type Slicing<'a> = &'a dyn Fn(u64, u64) -> Result<u64, Error>;

/// Runs `check` on `slice_mut` of an exclusive view of the sample list.
fn slice_mut_of_sample(check: impl FnOnce(Slicing<'_>)) {
    let mock = Mock::new();
    let mut built = sample_built(&mock);
    // SAFETY: the sample list's entries lie on disjoint bytes of the mock's frames,
    // and nothing else reaches them while the view is used.
    let mut list = unsafe { built.list_mut(&mock) };
    let list = std::cell::RefCell::new(&mut list);
    check(&|skip, len| {
        let mut list = list.borrow_mut();
        list.slice_mut(skip, len)
            .map(|view| view.as_list().byte_len())
    });
    drop(built);
    mock.assert_clean();
}

/// Runs `check` on `into_slice` of a fresh exclusive view of the sample
/// list each time.
fn into_slice_of_sample(check: impl FnOnce(Slicing<'_>)) {
    let mock = Mock::new();
    let mut built = sample_built(&mock);
    let built = std::cell::RefCell::new(&mut built);
    check(&|skip, len| {
        let mut built = built.borrow_mut();
        // SAFETY: the sample list's entries lie on disjoint bytes of the
        // mock's frames, and nothing else reaches them while the view is used.
        let list = unsafe { built.list_mut(&mock) };
        list.into_slice(skip, len)
            .map(|view| view.as_list().byte_len())
    });
    mock.assert_clean();
}

/// `skip + len` past `u64::MAX`, for a view.
#[track_caller]
fn assert_slice_end_overflows(slice: impl Fn(u64, u64) -> Result<u64, Error>) {
    let overflow = Err(Error::Overflow { what: "slice end" });
    assert_eq!(slice(u64::MAX, 1), overflow);
    assert_eq!(slice(1, u64::MAX), overflow);
    assert_eq!(slice(u64::MAX, u64::MAX), overflow);
}

fn slice_end_past_u64() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    let list = built.list(&mock);
    assert_slice_end_overflows(|skip, len| list.slice(skip, len).map(|view| view.byte_len()));
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    let list = table.as_list();
    assert_slice_end_overflows(|skip, len| list.slice(skip, len).map(|view| view.byte_len()));
    drop(table);
    mock.assert_clean();
}

fn order_past_usize() {
    let overflow = Err(Error::Overflow {
        what: "pages of the order",
    });
    assert_eq!(order_bytes::<Mock>(usize::BITS), overflow);
    assert_eq!(order_bytes::<Mock>(u32::MAX), overflow);
    // 2^order pages of 4 KiB are exactly 2^BITS bytes.
    assert_eq!(order_bytes::<VirtPages>(usize::BITS - 12), overflow);
    assert_eq!(
        order_bytes::<VirtPages>(usize::BITS - 13),
        Ok(1 << (usize::BITS - 1))
    );
}

fn virt_pages_of_an_order_past_usize() {
    let allocator = FailingAllocator::at(usize::MAX);
    let pages = VirtPages::new_in(&allocator);
    for order in [usize::BITS - 12, usize::BITS, u32::MAX] {
        assert_eq!(
            pages.alloc_pages(order),
            Err(Error::Overflow {
                what: "pages of the order"
            })
        );
    }
    assert_eq!(allocator.calls(), 0, "nothing was asked of the allocator");
}

fn heap_array_past_isize() {
    let chunks = HeapChunks::new().with_max_entries(usize::MAX).unwrap();
    let entries = isize::MAX as usize / size_of::<SgEntry<MockPage>>() + 1;
    assert_eq!(
        ChunkAllocator::<MockPage>::alloc(&chunks, entries),
        Err(Error::Overflow {
            what: "array of entries"
        })
    );
}

/// A frame whose first byte's physical address is past `u64::MAX`.
const FRAME_PAST_U64: u64 = u64::MAX / 4096 + 1;

fn entry_address_past_u64() {
    let frames = FramePages::<4096>;
    let mut entry = SgEntry::new();
    assert_eq!(entry.phys(&frames), None, "no page");
    // SAFETY: no list is made of the entry.
    unsafe { entry.set_page(FRAME_PAST_U64, 0, 1) };
    assert_eq!(entry.phys(&frames), None);
    // SAFETY: as above.
    unsafe { entry.set_page(FRAME_PAST_U64 - 1, 4095, 1) };
    assert_eq!(entry.phys(&frames), Some(u64::MAX));
    // SAFETY: as above.
    unsafe { entry.set_page(FRAME_PAST_U64 - 1, 4096, 1) };
    assert_eq!(entry.phys(&frames), None);
}

fn run_address_past_u64() {
    let frames = FramePages::<4096>;
    let run = |page, offset| DmaRun {
        page,
        offset,
        len: 1,
    };
    assert_eq!(run(FRAME_PAST_U64, 0).phys(&frames), None);
    assert_eq!(run(FRAME_PAST_U64 - 1, 4095).phys(&frames), Some(u64::MAX));
    assert_eq!(run(FRAME_PAST_U64 - 1, 4096).phys(&frames), None);
    assert_eq!(run(0, u64::MAX).phys(&frames), Some(u64::MAX));
}

fn dma_segments_past_u64() {
    let frames = FramePages::<4096>;
    let mut entries: [SgEntry<u64>; 2] = Default::default();
    init_table(&mut entries).unwrap();
    // SAFETY: `FramePages` never maps a page, so no byte is reached.
    unsafe {
        entries[0].set_page(1, 0, 10);
        entries[1].set_page(FRAME_PAST_U64, 0, 10);
    }
    // SAFETY: `FramePages` never maps, so the view reaches no byte.
    let list = unsafe { SgList::new(&entries, &frames) };
    assert_eq!(
        list.count_dma_segments(&DmaLimits::new()),
        Err(Error::Overflow {
            what: "physical address"
        })
    );
}

fn more_entries_than_the_list() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    // A walked view and a table's view (over the table's set).
    fn check<P: PageProvider<Page = MockPage>>(list: SgList<'_, P>) {
        for n in [4, 1000, usize::MAX] {
            let view = list.take_entries(n);
            assert_eq!(view.count(), 3);
            assert_eq!(view.byte_len(), list.byte_len());
            assert!(view.iter().eq(list.iter()));
            assert!(view.last_of(3).is_ok());
        }
    }
    check(built.list(&mock));
    check(table.as_list());
    drop(table);
    mock.assert_clean();
}

fn last_past_the_list() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    let list = built.list(&mock);
    for n in [0, 4, usize::MAX] {
        assert_eq!(
            list.last_of(n).err(),
            Some(Error::TooFewEntries {
                requested: n,
                available: 3
            })
        );
    }
    assert_eq!(list.last_of(2).err(), Some(Error::NotLast { index: 1 }));
    assert_eq!(
        list.take_entries(2).last_of(3).err(),
        Some(Error::TooFewEntries {
            requested: 3,
            available: 2
        })
    );
    mock.assert_clean();
}

fn entries_for_more_bytes_than_the_list() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    let list = built.list(&mock);
    assert_eq!(list.count_for_len(BUILT_BYTES), Ok(3));
    for len in [BUILT_BYTES + 1, u64::MAX] {
        assert_eq!(
            list.count_for_len(len),
            Err(Error::ListTooShort {
                needed: len,
                available: BUILT_BYTES
            })
        );
    }
    mock.assert_clean();
}

fn arrays_without_an_end_mark() {
    let mock = Mock::new();
    let pages = mock.add_pages([7]);
    // Never initialised as a table: no entry carries the end mark.
    let mut entries: [SgEntry<MockPage>; 3] = Default::default();
    // SAFETY: bytes of a page of the mock, in no other list.
    unsafe {
        entries[0].set_page(pages[0], 0, 8);
        entries[2].set_page(pages[0], 8, 8);
    }
    // SAFETY: the entries' bytes lie on a page of the mock, and nothing
    // writes them while the view is used.
    let list = unsafe { SgList::new(&entries, &mock) };
    assert_eq!(list.count(), 3, "the walk ends with the array");
    assert_eq!(list.byte_len(), 16);
    assert_eq!(list.last_of(3).err(), Some(Error::NotLast { index: 2 }));
    assert_eq!(
        list.last_of(4).err(),
        Some(Error::TooFewEntries {
            requested: 4,
            available: 3
        })
    );
    mock.assert_clean();
}

fn raw_view_past_its_slots() {
    let mock = Mock::new();
    let pages = mock.add_pages([7]);
    let mut entries: [SgEntry<MockPage>; 2] = Default::default();
    // SAFETY: bytes of a page of the mock, in no other list.
    unsafe {
        entries[0].set_page(pages[0], 0, 8);
        entries[1].set_page(pages[0], 8, 8);
    }
    // SAFETY: two initialised entries, borrowed (unwritten) for the view's
    // life, without links; no byte length is claimed.
    let list = unsafe {
        SgList::from_raw(
            NonNull::from(&entries[..]).cast(),
            2,
            usize::MAX,
            None,
            &mock,
        )
    };
    assert_eq!((list.count(), list.byte_len()), (2, 16));
    assert_eq!(
        list.count_for_len(17),
        Err(Error::ListTooShort {
            needed: 17,
            available: 16
        })
    );
    mock.assert_clean();
}

/// Ranges past the end of a view of `len` bytes.
#[track_caller]
fn assert_past_the_end(len: u64, slice: impl Fn(u64, u64) -> Result<u64, Error>) {
    let short = |needed| {
        Err(Error::ListTooShort {
            needed,
            available: len,
        })
    };
    assert_eq!(slice(0, len), Ok(len));
    assert_eq!(slice(len, 0), Ok(0));
    assert_eq!(slice(0, len + 1), short(len + 1));
    assert_eq!(slice(len, 1), short(len + 1));
    assert_eq!(slice(len + 1, 0), short(len + 1));
    assert_eq!(slice(1, len), short(len + 1));
    assert_eq!(slice(u64::MAX - 1, 1), short(u64::MAX));
}

fn slices_past_the_end() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    // A walked view, a table's view (which knows its length), and a slice
    // of each (which ends where its range does).
    fn check<P: PageProvider>(list: SgList<'_, P>) {
        let len = list.byte_len();
        assert_past_the_end(len, |skip, bytes| {
            list.slice(skip, bytes).map(|view| view.byte_len())
        });
        let inner = list.slice(5, len - 10).unwrap();
        assert_past_the_end(len - 10, |skip, bytes| {
            inner.slice(skip, bytes).map(|view| view.byte_len())
        });
    }
    check(built.list(&mock));
    check(table.as_list());
    drop(table);
    mock.assert_clean();
}

fn limits_refused() {
    for (limits, reason) in bad_limits() {
        assert_eq!(
            limits.validate(),
            Err(Error::InvalidLimits { reason }),
            "{limits:?}"
        );
    }
}

fn dma_segments_under_bad_limits() {
    let mock = Mock::new();
    let built = sample_built(&mock);
    for (limits, reason) in bad_limits() {
        assert_eq!(
            built.list(&mock).count_dma_segments(&limits),
            Err(Error::InvalidLimits { reason }),
            "{limits:?}"
        );
    }
    mock.assert_clean();
}

fn heap_array_when_memory_fails() {
    let allocator = FailingAllocator::at(0);
    let chunks = HeapChunks::new_in(&allocator);
    assert_eq!(
        ChunkAllocator::<MockPage>::alloc(&chunks, 3),
        Err(Error::OutOfMemory)
    );
    assert_eq!(allocator.live(), 0);
}

fn virt_pages_when_memory_fails() {
    let allocator = FailingAllocator::at(0);
    let pages = VirtPages::new_in(&allocator);
    assert_eq!(
        pages.alloc_pages(0),
        Err(Error::PagesUnavailable { order: 0 })
    );
    assert_eq!(allocator.live(), 0);
}
