//! A pool allocates nothing after its creation: tables built, appended,
//! written and dropped with arrays from a pool make no heap allocation.
//!
//! The test kit's counting allocator counts the allocations of the
//! thread that asks; this binary runs without the test harness and checks
//! in `main`.
use sg_alloc::{AppendPages, AppendTable, ChunkPool, FromPages, SgTable};
use sg_core::{Error, PageProvider, Pages, VirtPage, VirtPages};
use sg_testkit::CountingAllocator;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

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

    // SAFETY: six distinct pages of the run allocated above, used by nothing
    // else until the set is dropped (before they are freed); borrowing the
    // handles allocates nothing.
    let mut set = unsafe { Pages::from_raw(&provider, &pages[..]) };
    let (count, result) = CountingAllocator::allocations_in(|| work(&pool, &provider, &mut set));

    assert_eq!(result, Ok(300 * 64 + 300 + 3 + 6 * 4096 + 1));
    assert_eq!(count, 0, "tables over a pool allocated on the heap");
    assert_eq!(pool.available(), pool.capacity());
    drop(set);
    drop(pages);
    // SAFETY: allocated above with order 3; no table names the pages now.
    unsafe { provider.free_pages(run, 3) };
    println!("pool_no_alloc: ok, no allocation after the pool's creation");
}
