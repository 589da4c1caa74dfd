//! Which pages of process memory join into one run: pages of one
//! `alloc_pages` call do, pages vouched for one at a time and buffers never
//! do, even when their addresses follow each other. Copies over buffers
//! that meet at a page boundary must reach each through its own pointer
//! (Miri checks this: one pointer may not reach into another allocation).

use core::ptr::NonNull;

use sg_alloc::SgTable;
use sg_copy::{copy_from_slice, copy_to_slice};
use sg_core::{
    Error, PageProvider, Pages, SgEntry, SgList, SgListMut, VIRT_PAGE_SIZE, VirtPage, VirtPages,
};

const PAGE: usize = VIRT_PAGE_SIZE;

#[test]
fn pages_of_one_allocation_merge_into_one_entry() {
    let pages = VirtPages::new();
    let first = pages.alloc_pages(2).unwrap();
    let handles: Vec<VirtPage> = (0..4).map(|index| pages.nth(first, index)).collect();
    for index in 1..4 {
        assert!(pages.is_next(first, index, handles[index]));
        assert!(pages.is_next(handles[index - 1], 1, handles[index]));
    }
    assert!(!pages.is_next(handles[1], 1, handles[0]));
    {
        // SAFETY: the four distinct pages allocated above, freed only after
        // the set (in the table) is gone, and reached only through it.
        let set = unsafe { Pages::from_raw(&pages, &handles[..]) };
        round_trip(set, 4, 1, 251);
    }
    // SAFETY: allocated above with order 2; the table is gone.
    unsafe { pages.free_pages(first, 2) };
}

/// A table over the `count` pages of `set`, which must make `nents`
/// entries: a pattern of bytes (`index % modulus`) written through it
/// reads back the same. Returns the pattern.
fn round_trip(
    set: Pages<&VirtPages, &[VirtPage]>,
    count: usize,
    nents: usize,
    modulus: usize,
) -> Vec<u8> {
    let mut table = SgTable::from_pages(set, 0, (count * PAGE) as u64).unwrap();
    assert_eq!(table.orig_nents(), nents);
    let data: Vec<u8> = (0..count * PAGE)
        .map(|index| (index % modulus) as u8)
        .collect();
    assert_eq!(copy_from_slice(table.as_list_mut(), 0, &data), data.len());
    let mut out = vec![0; data.len()];
    assert_eq!(copy_to_slice(table.as_list(), 0, &mut out), data.len());
    assert_eq!(out, data);
    data
}

#[test]
fn separate_allocations_never_join() {
    let pages = VirtPages::new();
    let one = pages.alloc_pages(1).unwrap();
    let other = pages.alloc_pages(1).unwrap();
    // Whatever their addresses, the last page of one allocation is not
    // continued by the first page of another.
    assert!(!pages.is_next(pages.nth(one, 1), 1, other));
    assert!(!pages.is_next(one, 2, other));
    assert!(!pages.is_next(pages.nth(other, 1), 1, one));
    // SAFETY: allocated above with order 1; no list names them.
    unsafe {
        pages.free_pages(one, 1);
        pages.free_pages(other, 1);
    }
}

/// Page-aligned memory of `pages` pages, as a vector's buffer.
fn aligned(pages: usize) -> (Vec<u8>, usize) {
    let memory = vec![0u8; (pages + 1) * PAGE];
    let start = memory.as_ptr().align_offset(PAGE);
    (memory, start)
}

#[test]
fn pages_vouched_for_one_at_a_time_stay_apart() {
    let (mut memory, start) = aligned(2);
    let base = NonNull::from(&mut memory[start..]).cast::<u8>();
    // SAFETY: two whole pages of `memory`, which outlives the table and is
    // reached only through it meanwhile.
    let handles = unsafe {
        [
            VirtPage::from_ptr(base).unwrap(),
            VirtPage::from_ptr(base.add(PAGE)).unwrap(),
        ]
    };
    let pages = VirtPages::new();
    assert!(pages.is_whole_page(handles[0]));
    assert!(!pages.is_next(handles[0], 1, handles[1]));
    // SAFETY: two distinct whole pages of `memory`, initialised, which
    // outlives the set and is reached only through it meanwhile.
    let set = unsafe { Pages::from_raw(&pages, &handles[..]) };
    let data = round_trip(set, 2, 2, 253);
    assert_eq!(memory[start..start + 2 * PAGE], data[..]);
}

/// Two buffers that meet at a page boundary: the two halves of one vector
/// split there, each borrowed on its own. A pointer made from one half may
/// not reach into the other, so the copies must not join them into one
/// run (under Miri a joined copy is an error).
#[test]
fn buffers_meeting_at_a_page_boundary_are_copied_apart() {
    let (mut memory, start) = aligned(2);
    let (low, high) = memory[start..start + 2 * PAGE].split_at_mut(PAGE);
    let low_bytes = NonNull::from(&mut low[PAGE - 100..]).cast::<u8>();
    let high_bytes = NonNull::from(&mut high[..100]).cast::<u8>();
    let mut entries: [SgEntry<VirtPage>; 2] = Default::default();
    sg_core::init_table(&mut entries).unwrap();
    // SAFETY: 100 bytes of each half, which outlive the list and are
    // reached only through it meanwhile.
    unsafe {
        entries[0].set_buf(low_bytes, 100);
        entries[1].set_buf(high_bytes, 100);
    }
    let pages = VirtPages::new();
    let data: Vec<u8> = (0..200).map(|index| index as u8 ^ 0x5a).collect();
    assert_eq!(
        // SAFETY: the two disjoint 100-byte pieces set above, reached only
        // through the view.
        copy_from_slice(unsafe { SgListMut::new(&mut entries, &pages) }, 0, &data),
        200
    );
    let mut out = [0u8; 200];
    assert_eq!(
        // SAFETY: as above; the view only reads.
        copy_to_slice(unsafe { SgList::new(&entries, &pages) }, 0, &mut out),
        200
    );
    assert_eq!(out[..], data[..]);
    assert_eq!(memory[start + PAGE - 100..start + PAGE + 100], data[..]);
}

#[test]
fn a_buffer_handle_cannot_build_whole_pages() {
    let mut buffer = vec![7u8; 300];
    let mut entry = SgEntry::new();
    // SAFETY: the vector's 300 bytes, reached only through the entry.
    unsafe { entry.init_one(NonNull::from(&mut buffer[..]).cast(), 300) };
    let page = entry.page().unwrap();
    let pages = VirtPages::new();
    assert!(!pages.is_whole_page(page));
    // The handle stands for the buffer's bytes only: a builder of whole
    // pages refuses it instead of reaching past the buffer.
    // SAFETY: the handle names the buffer's 300 initialised bytes, which
    // nothing else reaches while the set lives; the builder must see that
    // it is not a whole page and refuse it before reaching any byte.
    let set = unsafe { Pages::from_raw(&pages, vec![page]) };
    assert_eq!(
        SgTable::from_pages(set, 0, PAGE as u64).map(drop),
        Err(Error::PartialPage { index: 0 })
    );
    let page_iter = pages.nth(page, 0);
    assert!(!pages.is_whole_page(page_iter));
}

#[test]
fn slice_table_handles_cannot_build_whole_pages() {
    let mut buffer = vec![3u8; 5000];
    let mut slices = [&mut buffer[..]];
    let table = sg_alloc::SliceTable::new(&mut slices).unwrap();
    let list = table.as_list();
    let page = list.first().and_then(SgEntry::page).unwrap();
    let handles = [page, page];
    // SAFETY: the slice table's initialised bytes, which nothing reads or
    // writes while the set lives; the page repeats, so the set only makes a
    // read-only table (`&set`); the builder must refuse the partial page.
    let set = unsafe { Pages::from_raw(list.provider(), &handles[..]) };
    assert_eq!(
        SgTable::from_pages(&set, 0, 2 * PAGE as u64).map(drop),
        Err(Error::PartialPage { index: 0 })
    );
}
