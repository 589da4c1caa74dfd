//! A pool allocates nothing after its creation: tables built, appended,
//! written and dropped with arrays from a pool make no heap allocation.
//!
//! The counting allocator sees every allocation of the process, so this
//! binary runs without the test harness (which allocates from its own
//! threads) and checks in `main`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use sg_alloc::{AppendPages, AppendTable, ChunkPool, FromPages, SgTable};
use sg_core::{Error, PageProvider, Pages, VirtPage, VirtPages};

/// The system allocator, counting allocations.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call forwards to `System` with the caller's arguments.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's promise is the one `System.alloc` needs.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's promise is the one `System.realloc` needs.
        unsafe { System.realloc(pointer, layout, size) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's promise is the one `System.dealloc` needs.
        unsafe { System.dealloc(pointer, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Everything a user does with tables over a pool; the length of what was
/// built, so that nothing is optimised away.
fn work(
    pool: &ChunkPool<VirtPage>,
    provider: &VirtPages,
    set: &mut Pages<&VirtPages, &[VirtPage]>,
) -> Result<u64, Error> {
    let pages = set.handles();
    let mut total = 0;
    let mut table = SgTable::new_in(provider, 300, pool)?;
    for (index, mut entry) in table.entries_mut().enumerate() {
        // SAFETY: 64 bytes of a page the caller allocated; entries share
        // bytes, so the table is made read-only below, and only counted.
        unsafe { entry.set_page(pages[index % pages.len()], 0, 64) };
    }
    let table = table.into_read_only();
    total += table.as_list().byte_len() + table.as_list().count() as u64;
    drop(table);

    let table = FromPages::new(&mut *set, 10, 4 * 4096)
        .max_segment_size(8192)
        .chunk_allocator(pool)
        .build()?;
    total += table.as_list().count() as u64;
    drop(table);

    let mut append = AppendTable::new_in(&mut *set, pool);
    append.append_pages(AppendPages::new(0..2, 8192).left_pages(4))?;
    append.append_pages(AppendPages::new(2..6, 4 * 4096))?;
    let table = append.finish()?;
    total += table.byte_len();
    drop(table);

    // Running out is an error, and allocates nothing either.
    let too_many = SgTable::new_in(provider, 10_000, pool).map(drop);
    total += u64::from(too_many == Err(Error::OutOfMemory));
    Ok(total)
}

fn main() {
    let provider = VirtPages::new();
    let run = provider.alloc_pages(3).expect("eight pages");
    let pages: Vec<VirtPage> = (0..6).map(|index| provider.nth(run, index)).collect();
    let pool = ChunkPool::<VirtPage>::new(8).expect("a pool");

    let before = ALLOCATIONS.load(Ordering::Relaxed);
    // SAFETY: six distinct pages of the run allocated above, used by nothing
    // else until the set is dropped (before they are freed); borrowing the
    // handles allocates nothing.
    let mut set = unsafe { Pages::from_raw(&provider, &pages[..]) };
    let result = work(&pool, &provider, &mut set);
    let after = ALLOCATIONS.load(Ordering::Relaxed);

    assert_eq!(result, Ok(300 * 64 + 300 + 3 + 6 * 4096 + 1));
    assert_eq!(
        after - before,
        0,
        "tables over a pool allocated on the heap"
    );
    assert_eq!(pool.available(), pool.capacity());
    drop(set);
    drop(pages);
    // SAFETY: allocated above with order 3; no table names the pages now.
    unsafe { provider.free_pages(run, 3) };
    println!("pool_no_alloc: ok, no allocation after the pool's creation");
}
