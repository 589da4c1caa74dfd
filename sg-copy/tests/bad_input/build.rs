//! Rows for sg-alloc's tables and builders: empty tables, the builders
//! from pages, appends, page lists, split, clones and chunk pools.

use std::ops::Range;
use std::ptr::NonNull;

use sg_alloc::{
    AppendPages, AppendTable, BounceMapper, ChunkPool, DirectMapper, FirstChunk, PageList, SgTable,
};
use sg_alloc::{arrays_needed, split, split_in};
use sg_core::{
    ChunkAllocator, DmaLimits, Error, HeapChunks, PageProvider, Pages, SgEntry, VirtPage, VirtPages,
};
use sg_testkit::{CountingChunks, FramePages, MockPage, MockPages};

use crate::kit::{
    Builder, Mock, PAGE, PAGE_U64, SAMPLE_BYTES, Set, append_snapshot, counting, given_back,
    sample_pages, sample_table, set,
};
use crate::{Case, Row};

/// Rows of `check(builder)` for the given builders.
macro_rules! builder_rows {
    ($case:expr, $check:path: $($builder:ident),* $(,)?) => {
        [$(Row::new($case, Builder::$builder.name(), || $check(Builder::$builder))),*]
    };
}

pub(crate) fn rows() -> Vec<Row> {
    let mut rows = rows! {
        ZeroEntries {
            "SgTable::new" => table_of_zero_entries,
            "SgTable::new_in" => table_of_zero_entries_in,
            "SgTable::with_max_entries_in" => table_of_zero_entries_with_max,
            "SgTable::with_first_chunk" => first_chunk_table_of_zero_entries,
            "SgTable::with_first_chunk_in" => first_chunk_table_of_zero_entries_in,
            "AppendTable::finish" => finish_with_nothing_appended,
            "ChunkPool::alloc" => pool_array_of_zero_entries,
            "ChunkPool::new" => pool_of_zero_arrays,
            "ChunkPool::new_in" => pool_arrays_of_fewer_than_two,
            "arrays_needed" => arrays_for_zero_entries,
            "split" => split_into_nothing,
            "split_in" => split_into_nothing_in,
            "SgTable::clone_in" => clone_of_entries_without_bytes,
            "SgTable::clone_merged_in" => merged_clone_of_entries_without_bytes,
        }
        ZeroLength {
            "PageList::new" => page_list_of_nothing,
            "PageList::builder" => page_list_of_nothing_with_order,
            "PageListBuilder::chunk_allocator" => page_list_of_nothing_in,
            "split" => split_of_an_empty_size,
            "split_in" => split_of_an_empty_size_in,
            "BounceMapper::new" => bounce_pool_of_nothing,
            "BounceMapper::with_pool_size" => bounce_pool_of_nothing_on_the_heap,
        }
        Overflow {
            "SgTable::new" => table_past_memory,
            "SgTable::new_in" => table_past_memory_in,
            "SgTable::with_max_entries_in" => table_past_memory_with_max,
            "SgTable::with_first_chunk" => first_chunk_table_past_memory,
            "PageList::new" => page_list_past_memory,
            "PageList::builder" => page_list_of_an_order_past_u32,
            "PageListBuilder::chunk_allocator" => page_list_past_memory_in,
            "split" => split_sizes_past_u64,
            "split_in" => split_sizes_past_u64_in,
            "ChunkPool::new" => pool_past_memory,
            "ChunkPool::with_max_entries" => pool_of_huge_arrays,
            "BounceMapper::new" => bounce_pool_past_u64,
            "Pages::alloc" => page_set_of_an_order_past_usize,
            "SgTable::from_pages" => runs_past_u32_are_cut,
            "AppendTable::append_pages" => merges_past_u32_are_cut,
        }
        NentsPastList {
            "PageList::free_n" => free_more_entries_than_the_list,
        }
        AppendOffset {
            "AppendTable::append_pages" => || refuses_offsets(false),
            "AppendPages::limits" => || refuses_offsets(true),
        }
        SplitPastInput {
            "split" => split_past_the_end,
            "split_in" => split_past_the_end_in,
        }
        Other {
            "SgTable::with_max_entries_in" => arrays_too_small_to_chain,
            "SgTable::from_pages" => builders_refuse_part_of_a_page,
            "AppendTable::append_pages" => || refuses_ranges(false),
            "AppendPages::limits" => || refuses_ranges(true),
            "Pages::permute" => permutations_that_repeat_or_miss_a_page,
        }
    };
    rows.extend(builder_rows!(Case::ZeroPages, no_pages:
        FromPages, FromPagesSegment, FromPagesIn, ForDevice, ForDeviceIn, Append, AppendForDevice));
    rows.extend(builder_rows!(Case::SegmentBelowPage, segment_below_a_page:
        FromPagesSegment, FromPagesIn, ForDevice, ForDeviceIn, Append, AppendForDevice));
    rows.extend(
        builder_rows!(Case::OffsetPastFirstPage, offset_past_the_first_page:
        FromPages, FromPagesSegment, FromPagesIn, ForDevice, ForDeviceIn, Append, AppendForDevice),
    );
    rows.extend(builder_rows!(Case::SizePastPages, size_past_the_pages:
        FromPages, FromPagesSegment, FromPagesIn, ForDevice, ForDeviceIn, Append, AppendForDevice));
    rows.extend(builder_rows!(Case::ZeroLength, size_zero:
        FromPages, FromPagesSegment, FromPagesIn, ForDevice, ForDeviceIn, Append, AppendForDevice));
    rows
}

fn table_of_zero_entries() {
    let mock = Mock::new();
    assert_eq!(SgTable::new(&mock, 0).err(), Some(Error::NoEntries));
}

fn table_of_zero_entries_in() {
    let (mock, chunks) = (Mock::new(), counting());
    assert_eq!(
        SgTable::new_in(&mock, 0, &chunks).err(),
        Some(Error::NoEntries)
    );
    assert_eq!(chunks.allocations(), 0);
}

fn table_of_zero_entries_with_max() {
    let (mock, chunks) = (Mock::new(), counting());
    for max in [0, 1, 4] {
        let table = SgTable::with_max_entries_in(&mock, 0, max, &chunks);
        assert_eq!(table.err(), Some(Error::NoEntries));
    }
    assert_eq!(chunks.allocations(), 0);
}

fn first_chunk_table_of_zero_entries() {
    let mock = Mock::new();
    let mut first = FirstChunk::<MockPage, 4>::new();
    let table = SgTable::with_first_chunk(&mock, 0, &mut first);
    assert_eq!(table.err(), Some(Error::NoEntries));
    // The first chunk is free again.
    assert!(SgTable::with_first_chunk(&mock, 4, &mut first).is_ok());
}

fn first_chunk_table_of_zero_entries_in() {
    let (mock, chunks) = (Mock::new(), counting());
    let mut first = FirstChunk::<MockPage, 2>::new();
    let table = SgTable::with_first_chunk_in(&mock, 0, &mut first, &chunks);
    assert_eq!(table.err(), Some(Error::NoEntries));
    assert_eq!(chunks.allocations(), 0);
}

fn finish_with_nothing_appended() {
    let (mock, chunks) = (Mock::new(), counting());
    let append = AppendTable::new_in(set(&mock, &[]), &chunks);
    assert_eq!(append.finish().err(), Some(Error::NoEntries));
    assert_eq!(chunks.allocations(), 0);
}

fn pool_array_of_zero_entries() {
    let pool = ChunkPool::<MockPage>::with_max_entries(2, 4).unwrap();
    assert_eq!(pool.alloc(0), Err(Error::NoEntries));
    assert_eq!(
        pool.alloc(5),
        Err(Error::ChunkTooLarge {
            requested: 5,
            max: 4
        })
    );
    assert_eq!(pool.available(), 2);
}

fn pool_of_zero_arrays() {
    let mock = Mock::new();
    let pool = ChunkPool::<MockPage>::new(0).unwrap();
    assert_eq!((pool.capacity(), pool.available()), (0, 0));
    assert_eq!(
        SgTable::new_in(&mock, 1, &pool).err(),
        Some(Error::OutOfMemory)
    );
}

fn pool_arrays_of_fewer_than_two() {
    let refused = |max| Err(Error::ChunkTooLarge { requested: 2, max });
    for max in [0, 1] {
        let pool = ChunkPool::<MockPage>::new_in(sg_core::allocator_api2::alloc::Global, 3, max);
        assert_eq!(pool.map(drop), refused(max));
        let pool = ChunkPool::<MockPage>::with_max_entries(3, max);
        assert_eq!(pool.map(drop), refused(max));
    }
}

fn arrays_for_zero_entries() {
    assert_eq!(arrays_needed(0, 128), Some(0));
    assert_eq!(arrays_needed(0, 0), Some(0));
    assert_eq!(arrays_needed(1, 1), Some(1));
    // More entries than an array of fewer than 2 slots can chain.
    assert_eq!(arrays_needed(2, 1), None);
    assert_eq!(arrays_needed(usize::MAX, 0), None);
    // One data entry and a link per array, the last array holding two.
    assert_eq!(arrays_needed(usize::MAX, 2), Some(usize::MAX - 1));
}

fn split_into_nothing() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    assert_eq!(
        split(table.as_list(), 0, &[]).map(|pieces| pieces.len()),
        Ok(0)
    );
    assert_eq!(
        split(table.as_list(), SAMPLE_BYTES, &[]).map(|pieces| pieces.len()),
        Ok(0)
    );
}

fn split_into_nothing_in() {
    let (mock, chunks) = (Mock::new(), counting());
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    let pieces = split_in(table.as_list(), 5, &[], &chunks);
    assert_eq!(pieces.map(|pieces| pieces.len()), Ok(0));
    assert_eq!(chunks.allocations(), 0);
}

/// A table of three entries that describe no byte.
fn table_without_bytes<'m>(
    mock: &'m Mock,
    chunks: &'m CountingChunks,
) -> SgTable<&'m Mock, &'m CountingChunks> {
    SgTable::new_in(mock, 3, chunks).unwrap()
}

fn clone_of_entries_without_bytes() {
    let (mock, chunks) = (Mock::new(), counting());
    let table = table_without_bytes(&mock, &chunks);
    let copy = table.clone_in(&chunks).unwrap();
    assert_eq!((copy.orig_nents(), copy.byte_len()), (3, 0));
    assert!(copy.as_list().iter().all(|entry| entry.page().is_none()));
    // The clone borrows the original (read-only): it goes first.
    drop(copy);
    drop(table);
    chunks.assert_clean();
}

fn merged_clone_of_entries_without_bytes() {
    let (mock, chunks) = (Mock::new(), counting());
    let table = table_without_bytes(&mock, &chunks);
    let copy = table.clone_merged_in(&chunks).unwrap();
    assert_eq!((copy.orig_nents(), copy.byte_len()), (1, 0));
    assert!(copy.as_list().last_of(1).is_ok());
    // The clone borrows the original (read-only): it goes first.
    drop(copy);
    drop(table);
    chunks.assert_clean();
}

fn page_list_of_nothing() {
    let mock = Mock::new();
    assert_eq!(PageList::new(&mock, 0).err(), Some(Error::ZeroLength));
    assert_eq!(mock.alloc_calls(), 0);
}

fn page_list_of_nothing_with_order() {
    let mock = Mock::new();
    for (order, chainable) in [(0, true), (3, false), (u32::MAX, true)] {
        let list = PageList::builder(&mock, 0)
            .order(order)
            .chainable(chainable)
            .build();
        assert_eq!(list.err(), Some(Error::ZeroLength));
    }
    assert_eq!(mock.alloc_calls(), 0);
}

fn page_list_of_nothing_in() {
    let (mock, chunks) = (Mock::new(), counting());
    let list = PageList::builder(&mock, 0)
        .order(1)
        .chainable(true)
        .chunk_allocator(&chunks)
        .build();
    assert_eq!(list.err(), Some(Error::ZeroLength));
    assert_eq!((mock.alloc_calls(), chunks.allocations()), (0, 0));
}

fn split_of_an_empty_size() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    for sizes in [&[0][..], &[10, 0], &[0, 10], &[1, 0, SAMPLE_BYTES * 2]] {
        let pieces = split(table.as_list(), 0, sizes);
        assert_eq!(pieces.err(), Some(Error::ZeroLength), "{sizes:?}");
    }
}

fn split_of_an_empty_size_in() {
    let (mock, chunks) = (Mock::new(), counting());
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    let pieces = split_in(table.as_list(), 0, &[10, 0], &chunks);
    assert_eq!(pieces.err(), Some(Error::ZeroLength));
    assert_eq!(chunks.allocations(), 0);
}

fn bounce_pool_of_nothing() {
    // SAFETY: no device is given an address; the pool is refused anyway.
    let bounce = unsafe { BounceMapper::new(direct(), Vec::<u8>::new(), 0x1000) };
    assert_eq!(bounce.err(), Some(Error::ZeroLength));
}

fn bounce_pool_of_nothing_on_the_heap() {
    // SAFETY: as above.
    let bounce = unsafe { BounceMapper::with_pool_size(direct(), 0, 0x1000) };
    assert_eq!(bounce.err(), Some(Error::ZeroLength));
}

/// The direct mapper, for rows that never give a device its addresses.
fn direct() -> DirectMapper {
    // SAFETY: no device is given the addresses.
    unsafe { DirectMapper::new() }
}

/// Entry counts whose arrays do not fit in memory (`isize::MAX` bytes).
fn counts_past_memory() -> [usize; 3] {
    let entry = size_of::<SgEntry<MockPage>>();
    [
        usize::MAX,
        usize::MAX / entry,
        isize::MAX as usize / entry + 1,
    ]
}

const TABLE_PAST_MEMORY: Error = Error::Overflow {
    what: "table of entries",
};

fn table_past_memory() {
    let mock = Mock::new();
    for count in counts_past_memory() {
        assert_eq!(SgTable::new(&mock, count).err(), Some(TABLE_PAST_MEMORY));
    }
}

fn table_past_memory_in() {
    let (mock, chunks) = (Mock::new(), counting());
    for count in counts_past_memory() {
        let table = SgTable::new_in(&mock, count, &chunks);
        assert_eq!(table.err(), Some(TABLE_PAST_MEMORY));
    }
    assert_eq!(chunks.allocations(), 0);
}

fn table_past_memory_with_max() {
    let (mock, chunks) = (Mock::new(), counting());
    for count in counts_past_memory() {
        for max in [2, 3, 4] {
            let table = SgTable::with_max_entries_in(&mock, count, max, &chunks);
            assert_eq!(
                table.err(),
                Some(TABLE_PAST_MEMORY),
                "{count} in arrays of {max}"
            );
        }
    }
    assert_eq!(chunks.allocations(), 0);
}

fn first_chunk_table_past_memory() {
    let mock = Mock::new();
    let mut first = FirstChunk::<MockPage, 4>::new();
    for count in counts_past_memory() {
        let table = SgTable::with_first_chunk(&mock, count, &mut first);
        assert_eq!(table.err(), Some(TABLE_PAST_MEMORY));
    }
}

/// What `PageList` says for `u64::MAX` bytes of 64-byte pages: 2^58
/// entries, which fit no memory (and no 32-bit `usize`).
fn all_bytes_of_small_pages() -> Error {
    if usize::BITS < 64 {
        Error::Overflow {
            what: "entry count",
        }
    } else {
        TABLE_PAST_MEMORY
    }
}

fn page_list_past_memory() {
    let small = MockPages::<64>::new();
    let list = PageList::new(&small, u64::MAX);
    assert_eq!(list.err(), Some(all_bytes_of_small_pages()));
    assert_eq!(small.alloc_calls(), 0);
}

fn page_list_past_memory_in() {
    let (small, chunks) = (MockPages::<64>::new(), counting());
    let list = PageList::builder(&small, u64::MAX)
        .chainable(true)
        .chunk_allocator(&chunks)
        .build();
    assert_eq!(list.err(), Some(all_bytes_of_small_pages()));
    assert_eq!((small.alloc_calls(), chunks.allocations()), (0, 0));
}

fn page_list_of_an_order_past_u32() {
    let mock = Mock::new();
    // 2^order pages of PAGE bytes are 4 GiB: more than an entry holds.
    let order = 32 - PAGE.trailing_zeros();
    for (order, what) in [
        (order, "entry length of the order"),
        (order + 1, "entry length of the order"),
        (usize::BITS, "pages of the order"),
        (u32::MAX, "pages of the order"),
    ] {
        let expected = if usize::BITS < 64 && order < usize::BITS {
            // 4 GiB and more do not fit a 32-bit `usize` either.
            "pages of the order"
        } else {
            what
        };
        let list = PageList::builder(&mock, 1).order(order).build();
        assert_eq!(
            list.err(),
            Some(Error::Overflow { what: expected }),
            "order {order}"
        );
    }
    assert_eq!(mock.alloc_calls(), 0);
}

/// The sizes and skips of a split that overflow a `u64`, and the error.
fn splits_past_u64() -> [(u64, &'static [u64], Error); 3] {
    let sizes = Error::Overflow {
        what: "split sizes",
    };
    let end = Error::Overflow { what: "split end" };
    [
        (0, &[u64::MAX, 1], sizes),
        (0, &[1, 2, u64::MAX - 2], sizes),
        (u64::MAX, &[1], end),
    ]
}

fn split_sizes_past_u64() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    for (skip, sizes, error) in splits_past_u64() {
        assert_eq!(split(table.as_list(), skip, sizes).err(), Some(error));
    }
}

fn split_sizes_past_u64_in() {
    let (mock, chunks) = (Mock::new(), counting());
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    for (skip, sizes, error) in splits_past_u64() {
        let pieces = split_in(table.as_list(), skip, sizes, &chunks);
        assert_eq!(pieces.err(), Some(error));
    }
    assert_eq!(chunks.allocations(), 0);
}

fn pool_past_memory() {
    let overflow = Error::Overflow {
        what: "pool of arrays",
    };
    for arrays in [
        usize::MAX,
        usize::MAX / 128 + 1,
        isize::MAX as usize / 4096 + 1,
    ] {
        assert_eq!(ChunkPool::<MockPage>::new(arrays).err(), Some(overflow));
    }
}

fn pool_of_huge_arrays() {
    let overflow = Error::Overflow {
        what: "pool of arrays",
    };
    for (arrays, max) in [(2, usize::MAX), (1, usize::MAX / 16), (usize::MAX, 2)] {
        let pool = ChunkPool::<MockPage>::with_max_entries(arrays, max);
        assert_eq!(pool.err(), Some(overflow), "{arrays} arrays of {max}");
    }
}

fn bounce_pool_past_u64() {
    let overflow = Error::Overflow {
        what: "bounce pool bus range",
    };
    for (size, bus) in [(2, u64::MAX), (4096, u64::MAX - 4094)] {
        // SAFETY: no device is given an address; the pool is refused.
        let bounce = unsafe { BounceMapper::new(direct(), vec![0u8; size], bus) };
        assert_eq!(bounce.err(), Some(overflow));
    }
    // SAFETY: as above; this pool's last byte is at `u64::MAX`, accepted.
    let bounce = unsafe { BounceMapper::new(direct(), vec![0u8; 2], u64::MAX - 1) };
    assert!(bounce.is_ok());
}

/// Frames of 16 MiB: a run of 256 of them is 4 GiB, past an entry's `u32`.
type BigFrames = FramePages<{ 1 << 24 }>;

/// The longest entry of 16 MiB frames: 255 of them.
const LONGEST: u32 = 255 << 24;

/// Frames `handles` as a set.
fn frames(handles: &[u64]) -> Pages<BigFrames, &[u64]> {
    // SAFETY: `FramePages` never maps, so no byte of a page is ever reached.
    unsafe { Pages::from_raw(BigFrames::default(), handles) }
}

fn runs_past_u32_are_cut() {
    let pages: Vec<u64> = (0..258).collect();
    let size = 258 << 24;
    let table = SgTable::from_pages(frames(&pages), 0, size).unwrap();
    let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    assert_eq!(lengths, [LONGEST, 3 << 24]);
    assert_eq!(table.byte_len(), size);
    // With an offset, the first entry holds what its 255 frames hold.
    let table = SgTable::from_pages(frames(&pages), 100, size - 100).unwrap();
    let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    assert_eq!(lengths, [LONGEST - 100, 3 << 24]);
}

fn merges_past_u32_are_cut() {
    let pages: Vec<u64> = (0..258).collect();
    let mut append = AppendTable::new(frames(&pages));
    append
        .append_pages(AppendPages::new(0..200, 200 << 24).left_pages(58))
        .unwrap();
    append
        .append_pages(AppendPages::new(200..258, 58 << 24))
        .unwrap();
    let table = append.finish().unwrap();
    let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    assert_eq!(lengths, [LONGEST, 3 << 24]);
}

fn free_more_entries_than_the_list() {
    for n in [4, usize::MAX] {
        let mock = Mock::new();
        let list = PageList::builder(&mock, 3 * PAGE_U64)
            .chainable(true)
            .build()
            .unwrap();
        assert_eq!((list.nents(), mock.live_allocations()), (3, 3));
        list.free_n(n);
        mock.assert_clean();
    }
}

/// Appends `PAGE / 2` bytes of the pages at positions `range` of the
/// table's set from `offset` in, by `append_pages` or (with `device`) by
/// `append_pages` with default limits (`AppendPages::limits`).
fn append_half_page(
    device: bool,
    table: &mut AppendTable<Set<'_>, &CountingChunks>,
    range: Range<usize>,
    offset: usize,
) -> Result<(), Error> {
    let request = AppendPages::new(range, PAGE_U64 / 2)
        .offset(offset)
        .left_pages(2);
    if device {
        let limits = DmaLimits::new();
        table.append_pages(request.limits(&limits))
    } else {
        table.append_pages(request)
    }
}

/// Checks that appending with each non-zero offset is refused, leaving
/// the table as it was.
fn refuses_offsets(device: bool) {
    let (mock, chunks) = (Mock::new(), counting());
    let pages = sample_pages(&mock);
    let mut table = AppendTable::new_in(set(&mock, &pages), &chunks);
    // The first call of an empty table may start inside its page.
    append_half_page(device, &mut table, 0..2, 7).unwrap();
    let before = append_snapshot(&table);
    let allocations = chunks.allocations();
    for offset in [1, 7, PAGE - 1, PAGE, usize::MAX] {
        assert_eq!(
            append_half_page(device, &mut table, 2..4, offset),
            Err(Error::AppendOffset { offset })
        );
        assert_eq!(append_snapshot(&table), before);
    }
    assert_eq!(chunks.allocations(), allocations);
    append_half_page(device, &mut table, 2..4, 0).unwrap();
    given_back(table, &chunks, &mock);
}

/// Splits that reach past the end of a list of `len` bytes, and the bytes
/// they need.
fn splits_past(len: u64) -> [(u64, Vec<u64>, u64); 5] {
    [
        (0, vec![len + 1], len + 1),
        (len, vec![1], len + 1),
        (1, vec![len], len + 1),
        (0, vec![len, 1], len + 1),
        (len + 1, vec![], len + 1),
    ]
}

fn split_past_the_end() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    let list = table.as_list();
    let slice = list.slice(10, 2 * PAGE_U64).unwrap();
    for (list, len) in [(list, SAMPLE_BYTES), (slice, 2 * PAGE_U64)] {
        for (skip, sizes, needed) in splits_past(len) {
            assert_eq!(
                split(list, skip, &sizes).err(),
                Some(Error::ListTooShort {
                    needed,
                    available: len
                }),
                "skip {skip}, sizes {sizes:?}"
            );
        }
    }
}

fn split_past_the_end_in() {
    let (mock, chunks) = (Mock::new(), counting());
    let pages = sample_pages(&mock);
    let table = sample_table(&mock, &pages, HeapChunks::new());
    for (skip, sizes, needed) in splits_past(SAMPLE_BYTES) {
        let pieces = split_in(table.as_list(), skip, &sizes, &chunks);
        assert_eq!(
            pieces.err(),
            Some(Error::ListTooShort {
                needed,
                available: SAMPLE_BYTES
            })
        );
    }
    assert_eq!(chunks.allocations(), 0);
}

fn arrays_too_small_to_chain() {
    let (mock, chunks) = (Mock::new(), counting());
    for max in [0, 1] {
        let table = SgTable::with_max_entries_in(&mock, 2, max, &chunks);
        assert_eq!(
            table.err(),
            Some(Error::ChunkTooLarge { requested: 2, max })
        );
    }
    assert_eq!(chunks.allocations(), 0);
    // One entry needs no link: one array of one slot.
    let table = SgTable::with_max_entries_in(&mock, 1, 1, &chunks).unwrap();
    assert_eq!(table.arrays(), 1);
}

fn no_pages(builder: Builder) {
    let mock = Mock::new();
    for (offset, size, max_segment) in [(0, 0, PAGE as u32), (0, 1, u32::MAX), (PAGE, 1, 0)] {
        builder.refuses(&mock, &[], offset, size, max_segment, Error::NoPages);
    }
}

fn segment_below_a_page(builder: Builder) {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    // A segment size of 0 contradicts itself: see the limits rows.
    for max_segment in [1, PAGE as u32 / 2, PAGE as u32 - 1] {
        let expected = Error::SegmentTooSmall {
            max_segment,
            page_size: PAGE,
        };
        builder.refuses(&mock, &pages, 0, PAGE_U64, max_segment, expected);
    }
}

fn offset_past_the_first_page(builder: Builder) {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    for offset in [PAGE, PAGE + 1, 4 * PAGE, usize::MAX] {
        let expected = Error::OffsetTooLarge {
            offset,
            page_size: PAGE,
        };
        builder.refuses(&mock, &pages, offset, 1, u32::MAX, expected);
    }
}

fn size_past_the_pages(builder: Builder) {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let held = 4 * PAGE_U64;
    for (offset, size) in [
        (0, held + 1),
        (0, u64::MAX),
        (10, held - 9),
        (PAGE - 1, held),
    ] {
        let available = held - offset as u64;
        let expected = Error::SizeTooLarge { size, available };
        builder.refuses(&mock, &pages, offset, size, u32::MAX, expected);
    }
}

fn size_zero(builder: Builder) {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    for offset in [0, 1, PAGE - 1] {
        builder.refuses(&mock, &pages, offset, 0, u32::MAX, Error::ZeroLength);
    }
}

fn builders_refuse_part_of_a_page() {
    let pages = VirtPages::new();
    let whole = pages.alloc_pages(0).unwrap();
    let mut buffer = [0u8; 64];
    // SAFETY: the handle is only given to builders, which refuse it.
    let (part, _) = unsafe { VirtPage::containing(NonNull::from(&mut buffer[8])) };
    let refused = Err(Error::PartialPage { index: 1 });
    let both = [whole, part];
    // SAFETY: a page allocated above, freed after the set, and the part of
    // `buffer` the handle stands for; both initialised, distinct, and
    // reached by nothing else while the set lives.
    let mut both = unsafe { Pages::from_raw(&pages, &both[..]) };
    assert_eq!(
        SgTable::from_pages(&mut both, 0, 2 * 4096).map(drop),
        refused
    );
    let mut append = AppendTable::new(&mut both);
    assert_eq!(append.append_pages(AppendPages::new(0..2, 4097)), refused);
    assert!(append.is_empty());
    drop(append);
    // Bytes that stay in the whole page do not reach the part.
    assert!(SgTable::from_pages(&mut both, 0, 4096).is_ok());
    drop(both);
    // SAFETY: allocated above with order 0; the tables are gone.
    unsafe { pages.free_pages(whole, 0) };
}

fn page_set_of_an_order_past_usize() {
    let mock = Mock::new();
    for order in [usize::BITS, u32::MAX] {
        let overflow = Error::Overflow {
            what: "pages of the order",
        };
        assert_eq!(Pages::alloc(&mock, order).err(), Some(overflow));
        let mut pages = Pages::alloc(&mock, 0).unwrap();
        assert_eq!(pages.alloc_more(order), Err(overflow));
        assert_eq!(pages.len(), 1, "the set is as it was");
    }
    assert_eq!(
        mock.alloc_calls(),
        2,
        "only the sets of one page were allocated"
    );
    mock.assert_clean();
}

/// Ranges of positions in a set of four pages that an append refuses: an
/// empty or reversed range, one past the set's end, and one that starts on
/// a page the table already uses (so no two entries of a table that may
/// write share a page); each leaves the table as it was.
fn refuses_ranges(device: bool) {
    let (mock, chunks) = (Mock::new(), counting());
    let pages = sample_pages(&mock);
    let mut table = AppendTable::new_in(set(&mock, &pages), &chunks);
    let past = |end| Error::NotInSet { end, pages: 4 };
    #[allow(
        clippy::reversed_empty_ranges,
        reason = "a reversed range is the bad input"
    )]
    let refused = [
        (2..2, Error::NoPages),
        (3..1, Error::NoPages),
        (0..5, past(5)),
        (4..5, past(5)),
        (usize::MAX - 1..usize::MAX, past(usize::MAX)),
    ];
    for (range, expected) in refused.clone() {
        assert_eq!(
            append_half_page(device, &mut table, range.clone(), 0),
            Err(expected),
            "{range:?}"
        );
        assert!(table.is_empty() && table.arrays() == 0);
    }
    // Half a page of the first page: the table uses page 0 only.
    append_half_page(device, &mut table, 0..2, 0).unwrap();
    assert_eq!(table.next_page(), 1);
    let before = append_snapshot(&table);
    let allocations = chunks.allocations();
    for range in [0..1, 0..4] {
        assert_eq!(
            append_half_page(device, &mut table, range.clone(), 0),
            Err(Error::PageReused { index: 0, next: 1 }),
            "{range:?}"
        );
        assert_eq!(append_snapshot(&table), before);
    }
    for (range, expected) in refused {
        assert_eq!(
            append_half_page(device, &mut table, range.clone(), 0),
            Err(expected),
            "{range:?}"
        );
        assert_eq!(append_snapshot(&table), before);
    }
    assert_eq!(chunks.allocations(), allocations);
    // The pages from `next_page` on are free.
    append_half_page(device, &mut table, 1..4, 0).unwrap();
    given_back(table, &chunks, &mock);
}

fn permutations_that_repeat_or_miss_a_page() {
    let mock = Mock::new();
    let pages = sample_pages(&mock);
    let mut set = set(&mock, &pages);
    let few = |requested| Error::TooFewEntries {
        requested,
        available: 4,
    };
    let refused: [(&[usize], Error); 6] = [
        (&[], few(0)),
        (&[0, 1, 2], few(3)),
        (&[0, 1, 2, 3, 0], few(5)),
        (&[0, 1, 2, 4], Error::NotInSet { end: 5, pages: 4 }),
        (
            &[0, 1, 1, 3],
            Error::RepeatedPosition {
                position: 1,
                first: 1,
                second: 2,
            },
        ),
        (
            &[3, 3, 3, 3],
            Error::RepeatedPosition {
                position: 3,
                first: 0,
                second: 1,
            },
        ),
    ];
    for (order, expected) in refused {
        assert_eq!(set.permute(order), Err(expected), "{order:?}");
        assert_eq!(set.handles(), pages, "the set is as it was");
    }
    set.permute(&[3, 2, 1, 0]).unwrap();
    assert!(set.handles().iter().eq(pages.iter().rev()));
    drop(set);
    mock.assert_clean();
}
