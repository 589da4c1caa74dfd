//! Unit tests of `Pages`: ordering, forwarding and freeing.

use super::*;
use alloc::format;
use alloc::vec;

/// A set of `count` bare names, over a provider without memory.
fn names(count: u64) -> Pages<Counting> {
    // SAFETY: `Counting` has no memory to reach; the names are distinct.
    unsafe { Pages::from_raw(Counting::default(), (0..count).collect()) }
}

/// A pseudo-random permutation of `0..len` (Fisher-Yates over an LCG).
fn shuffled(len: usize, mut seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    for at in (1..len).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(at, (seed >> 33) as usize % (at + 1));
    }
    order
}

#[test]
fn permute_puts_page_order_i_at_position_i() {
    for (len, seed) in [
        (1, 1),
        (2, 2),
        (7, 3),
        (64, 4),
        (65, 5),
        (4096, 6),
        (4097, 7),
    ] {
        let order = shuffled(len, seed);
        let mut pages = names(len as u64);
        pages.permute(&order).unwrap();
        let expected: Vec<u64> = order.iter().map(|&index| index as u64).collect();
        assert_eq!(pages.handles(), &expected[..], "{len} pages");
        // And back: the inverse permutation restores the order.
        let mut inverse = vec![0; len];
        for (at, &index) in order.iter().enumerate() {
            inverse[index] = at;
        }
        pages.permute(&inverse).unwrap();
        assert!(pages.handles().iter().copied().eq(0..len as u64));
    }
}

#[test]
fn permute_refuses_what_is_not_a_permutation_and_changes_nothing() {
    let mut pages = names(5);
    let refused = [
        (
            vec![0, 1, 2, 3],
            Error::TooFewEntries {
                requested: 4,
                available: 5,
            },
        ),
        (vec![0, 1, 2, 3, 5], Error::NotInSet { end: 6, pages: 5 }),
        (
            vec![0, 1, 2, 3, usize::MAX],
            Error::NotInSet {
                end: usize::MAX,
                pages: 5,
            },
        ),
        (
            vec![4, 1, 2, 1, 0],
            Error::RepeatedPosition {
                position: 1,
                first: 1,
                second: 3,
            },
        ),
    ];
    for (order, error) in refused {
        assert_eq!(pages.permute(&order), Err(error), "{order:?}");
        assert!(pages.handles().iter().copied().eq(0..5));
    }
}

#[test]
fn swap_and_reverse_reorder_without_repeating() {
    let mut pages = names(4);
    pages.swap(0, 3);
    assert_eq!(pages.handles(), &[3, 1, 2, 0]);
    pages.reverse();
    assert_eq!(pages.handles(), &[0, 2, 1, 3]);
    assert_eq!(
        (pages.len(), pages.byte_len(), pages.is_empty()),
        (4, 4 * 4096, false)
    );
}

/// A provider without memory whose every answer is distinctive,
/// counting what it is asked: allocations hand out frames from 100 on
/// (or fail, when `failing`), even pages are whole, runs join only
/// below frame 200, linear when `linear`.
#[derive(Default, Debug)]
struct Counting {
    linear: bool,
    failing: bool,
    flushes: core::cell::Cell<usize>,
    frees: core::cell::RefCell<Vec<(u64, u32)>>,
    next: core::cell::Cell<u64>,
}

// SAFETY: no page has memory and `map` panics, so no byte is reached.
unsafe impl PageProvider for Counting {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = 4096;

    fn pfn(&self, page: u64) -> u64 {
        page
    }

    fn nth(&self, page: u64, n: usize) -> u64 {
        page + n as u64
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        panic!("frame {page} has no memory")
    }

    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}

    fn flush_write(&self, _page: u64) {
        self.flushes.set(self.flushes.get() + 1);
    }

    fn is_linear(&self) -> bool {
        self.linear
    }

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        if self.failing {
            return Err(Error::PagesUnavailable { order });
        }
        let first = 100 + self.next.get();
        self.next.set(self.next.get() + (1 << order));
        Ok(first)
    }

    unsafe fn free_pages(&self, page: u64, order: u32) {
        self.frees.borrow_mut().push((page, order));
    }

    fn is_whole_page(&self, page: u64) -> bool {
        page % 2 == 0
    }

    fn is_next(&self, first: u64, run_pages: usize, next: u64) -> bool {
        next < 200 && first + run_pages as u64 == next
    }
}

/// `Counting`'s pages, but shared: someone else may reach their memory.
#[derive(Default, Debug)]
struct SharedCounting(Counting);

// SAFETY: as for `Counting`: no page has memory and `map` panics.
unsafe impl PageProvider for SharedCounting {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = 4096;
    const SHARED: bool = true;

    fn pfn(&self, page: u64) -> u64 {
        self.0.pfn(page)
    }

    fn nth(&self, page: u64, n: usize) -> u64 {
        self.0.nth(page, n)
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        self.0.map(page)
    }

    unsafe fn unmap(&self, _page: u64, _mapping: NonNull<u8>) {}

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        self.0.alloc_pages(order)
    }

    unsafe fn free_pages(&self, page: u64, order: u32) {
        // SAFETY: the caller's promise.
        unsafe { self.0.free_pages(page, order) }
    }
}

/// A set's pages are shared when its provider's are: copies and the APIs
/// that lend `&[u8]` ask the provider of the list, the set, so a set over
/// shared memory that called itself private would lend slices over bytes
/// another party writes.
#[test]
fn a_set_over_shared_memory_is_shared() {
    let shared = [
        <Pages<SharedCounting> as PageProvider>::SHARED,
        <Pages<&SharedCounting> as PageProvider>::SHARED,
        <Pages<Counting> as PageProvider>::SHARED,
    ];
    assert_eq!(shared, [true, true, false]);
    let provider = SharedCounting::default();
    let set = Pages::alloc(&provider, 0).unwrap();
    assert_eq!(set.handles(), &[100]);
    drop(set);
    assert_eq!(*provider.0.frees.borrow(), [(100, 0)]);
}

#[test]
fn a_set_forwards_every_question_to_its_provider() {
    let provider = Counting {
        linear: true,
        ..Counting::default()
    };
    let set = Pages::alloc(&provider, 1).unwrap();
    assert_eq!(set.handles(), &[100, 101]);
    assert_eq!(set.pages(), &[100, 101]);
    let borrowed = &set;
    assert_eq!(PageSet::pages(&borrowed), &[100, 101]);
    assert!(!names(1).is_linear());
    assert!(set.is_linear());
    assert!(set.is_whole_page(100) && !set.is_whole_page(101));
    assert!(set.is_next(100, 1, 101) && !set.is_next(300, 1, 301));
    assert_eq!((set.pfn(101), set.nth(100, 3)), (101, 103));
    set.flush_write(100);
    assert_eq!(provider.flushes.get(), 1);
    assert_eq!(set.alloc_pages(0), Ok(102));
    // SAFETY: allocated just above with order 0, in no list.
    unsafe { set.free_pages(102, 0) };
    assert_eq!(provider.frees.borrow().as_slice(), &[(102, 0)]);
    assert!(format!("{set:?}").starts_with("Pages {"));
    drop(set);
    assert_eq!(
        provider.frees.borrow().as_slice(),
        &[(102, 0), (100, 1)],
        "dropping the set gave its allocation back"
    );
}

#[test]
fn a_set_made_in_steps_frees_every_allocation_once() {
    let provider = Counting::default();
    let mut set = Pages::new(&provider);
    assert!(set.is_empty());
    set.alloc_more(0).unwrap();
    set.alloc_more(2).unwrap();
    assert!(!set.is_empty());
    assert_eq!(set.handles(), &[100, 101, 102, 103, 104]);
    // A raw set frees nothing.
    // SAFETY: `Counting` has no memory to reach.
    drop(unsafe { Pages::from_raw(&provider, &[7u64, 8][..]) });
    assert!(provider.frees.borrow().is_empty());
    drop(set);
    assert_eq!(provider.frees.borrow().as_slice(), &[(100, 0), (101, 2)]);
}

#[test]
fn a_failed_allocation_leaves_the_set_as_it_was() {
    let failing = Counting {
        failing: true,
        ..Counting::default()
    };
    // SAFETY: `Counting` has no memory to reach; the names are distinct.
    let mut pages = unsafe { Pages::from_raw(&failing, vec![0, 1]) };
    assert_eq!(
        pages.alloc_more(1),
        Err(Error::PagesUnavailable { order: 1 })
    );
    assert_eq!(pages.handles(), &[0, 1]);
    assert!(matches!(
        Pages::alloc(Counting::default(), usize::BITS),
        Err(Error::Overflow { .. })
    ));
}
