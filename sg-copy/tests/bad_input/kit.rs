//! What the rows share: the mock, the sample lists, snapshots of tables
//! and an allocator that fails on demand.

use std::alloc::Layout;
use std::cell::Cell;
use std::ops::Range;
use std::ptr::NonNull;

use sg_alloc::{AppendPages, AppendTable, FromPages, SgTable};
use sg_core::allocator_api2::alloc::{AllocError, Allocator, Global};
use sg_core::{Access, ChunkAllocator, DmaLimits, Error, PageProvider, PageSet, Pages, SgList};
use sg_testkit::{BuiltList, CountingChunks, MockPage, TEST_PAGE_SIZE, TestPages};

/// The mock page size: 4 KiB, or 64 bytes under Miri.
pub(crate) const PAGE: usize = TEST_PAGE_SIZE;
/// [`PAGE`] as the `u64` that sizes are.
pub(crate) const PAGE_U64: u64 = PAGE as u64;

/// The mock of every row.
pub(crate) type Mock = TestPages;

/// Arrays of at most 4 slots, counted: small enough that every table of a
/// few entries is a chain of several arrays.
pub(crate) fn counting() -> CountingChunks {
    CountingChunks::with_max_entries(4)
}

/// A set of pages of the mock, as the builders from pages take them.
pub(crate) type Set<'m> = Pages<&'m Mock>;

/// `pages` of `mock`, in that order, as a set (which frees none of them).
pub(crate) fn set<'m>(mock: &'m Mock, pages: &[MockPage]) -> Set<'m> {
    // SAFETY: pages the mock holds, whose memory is initialised and lives
    // as long as the mock; nothing but the tables built from the set
    // reaches them while it lives, and no row names a page twice in a set.
    unsafe { Pages::from_raw(mock, pages.to_vec()) }
}

/// The sample pages: a run of two frames, then two lone frames.
pub(crate) fn sample_pages(mock: &Mock) -> Vec<MockPage> {
    mock.add_pages([10, 11, 20, 30])
}

/// Where the sample table starts in its first page.
pub(crate) const SAMPLE_OFFSET: usize = PAGE / 4;

/// Bytes of the sample table: its pages from [`SAMPLE_OFFSET`] bytes in,
/// less as many at the end.
pub(crate) const SAMPLE_BYTES: u64 = 4 * PAGE_U64 - 2 * SAMPLE_OFFSET as u64;

/// The sample table over [`sample_pages`]: three entries of
/// `2 * PAGE - SAMPLE_OFFSET`, `PAGE` and `PAGE - SAMPLE_OFFSET` bytes
/// (arrays of up to 4 slots for counted chunks).
pub(crate) fn sample_table<'m, C: ChunkAllocator<MockPage>>(
    mock: &'m Mock,
    pages: &[MockPage],
    chunks: C,
) -> SgTable<Set<'m>, C> {
    FromPages::new(set(mock, pages), SAMPLE_OFFSET, SAMPLE_BYTES)
        .chunk_allocator(chunks)
        .build()
        .expect("the sample table")
}

/// A hand-built list of three entries over three lone frames of `mock`
/// (`PAGE - 10`, 20 and `PAGE` bytes), in arrays of one and two entries.
pub(crate) fn sample_built(mock: &Mock) -> BuiltList<MockPage> {
    let pages = mock.add_pages([40, 50, 60]);
    let entries = [
        (pages[0], PAGE as u32 - 10, 10),
        (pages[1], 20, 5),
        (pages[2], PAGE as u32, 0),
    ];
    BuiltList::new(mock, &entries, &[1, 2])
}

/// Bytes of [`sample_built`].
pub(crate) const BUILT_BYTES: u64 = 2 * PAGE_U64 + 10;

/// What a failed call must leave as it was: every entry (frame, offset,
/// length, end mark, DMA fields) and the counts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Snapshot {
    entries: Vec<(Option<u64>, u32, u32, bool, u64, u32)>,
    counts: Vec<u64>,
}

/// The entries of a view.
fn entries<P: PageProvider<Page = MockPage>>(
    list: SgList<'_, P>,
) -> Vec<(Option<u64>, u32, u32, bool, u64, u32)> {
    list.iter()
        .map(|entry| {
            (
                entry.page().map(MockPage::pfn),
                entry.offset(),
                entry.len(),
                entry.is_last(),
                entry.dma_address(),
                entry.dma_len(),
            )
        })
        .collect()
}

/// Defines `$name`, the snapshot of a `$table` (over a `$pages` of mock
/// pages): its entries and the counts its `$count` methods give.
macro_rules! snapshot_of {
    ($(#[$doc:meta])* $name:ident: $table:ident over $pages:ident, $($count:ident),+) => {
        $(#[$doc])*
        pub(crate) fn $name<P, C, A>(table: &$table<P, C, A>) -> Snapshot
        where
            P: $pages<Page = MockPage>,
            C: ChunkAllocator<MockPage>,
            A: Access,
        {
            let counts = vec![$(u64::try_from(table.$count()).expect("a count")),+];
            Snapshot { entries: entries(table.as_list()), counts }
        }
    };
}

snapshot_of!(
    /// A snapshot of a table: entries, `orig_nents`, `nents`, bytes, arrays.
    table_snapshot: SgTable over PageProvider, orig_nents, nents, byte_len, arrays
);
snapshot_of!(
    /// A snapshot of a table being appended to: entries, `orig_nents`,
    /// bytes, arrays.
    append_snapshot: AppendTable over PageSet, orig_nents, byte_len, arrays
);

/// Each way of building a table from pages, for the rows that refuse the
/// same input in all of them.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Builder {
    FromPages,
    FromPagesSegment,
    FromPagesIn,
    ForDevice,
    ForDeviceIn,
    /// `append_pages`, to an empty table and (for offset 0) to one with
    /// entries.
    Append,
    /// `append_pages` with `AppendPages::limits`, likewise.
    AppendForDevice,
}

impl Builder {
    /// The entry point, as rows name it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Builder::FromPages => "SgTable::from_pages",
            Builder::FromPagesSegment => "FromPages::max_segment_size",
            Builder::FromPagesIn => "FromPages::chunk_allocator",
            Builder::ForDevice => "FromPages::limits",
            Builder::ForDeviceIn => "FromPages::build",
            Builder::Append => "AppendTable::append_pages",
            Builder::AppendForDevice => "AppendPages::limits",
        }
    }

    /// Builds from a set of `pages` with a segment limit of `max_segment` (for the
    /// device forms: limits with that maximum segment size, the rest
    /// default), and checks that it fails with `expected` having kept or
    /// given back everything: no array left (counted chunks), no page or
    /// mapping (the mock), and an append's table exactly as before.
    #[track_caller]
    pub(crate) fn refuses(
        self,
        mock: &Mock,
        pages: &[MockPage],
        offset: usize,
        size: u64,
        max_segment: u32,
        expected: Error,
    ) {
        let limits = DmaLimits::new().with_max_segment_size(max_segment);
        self.refuses_with(mock, pages, offset, size, max_segment, &limits, expected);
    }

    /// As [`refuses`](Self::refuses), with the device forms given `limits`.
    #[track_caller]
    #[allow(clippy::too_many_arguments, reason = "one builder call's inputs")]
    pub(crate) fn refuses_with<'m>(
        self,
        mock: &'m Mock,
        pages: &[MockPage],
        offset: usize,
        size: u64,
        max_segment: u32,
        limits: &DmaLimits,
        expected: Error,
    ) {
        let chunks = counting();
        let found = match self {
            Builder::FromPages => SgTable::from_pages(set(mock, pages), offset, size).map(drop),
            Builder::FromPagesSegment => FromPages::new(set(mock, pages), offset, size)
                .max_segment_size(max_segment)
                .build()
                .map(drop),
            Builder::FromPagesIn => {
                let source = set(mock, pages);
                FromPages::new(source, offset, size)
                    .max_segment_size(max_segment)
                    .chunk_allocator(&chunks)
                    .build()
                    .map(drop)
            }
            Builder::ForDevice => FromPages::new(set(mock, pages), offset, size)
                .limits(limits)
                .build()
                .map(drop),
            Builder::ForDeviceIn => {
                let source = set(mock, pages);
                FromPages::new(source, offset, size)
                    .limits(limits)
                    .chunk_allocator(&chunks)
                    .build()
                    .map(drop)
            }
            Builder::Append | Builder::AppendForDevice => {
                let device = matches!(self, Builder::AppendForDevice);
                // The call on `pages` at positions `range` of the table's set.
                let call = |append: &mut AppendTable<Set<'m>, &CountingChunks>,
                            range: Range<usize>| {
                    if device {
                        append.append_pages(
                            AppendPages::new(range, size).offset(offset).limits(limits),
                        )
                    } else {
                        append.append_pages(
                            AppendPages::new(range, size)
                                .offset(offset)
                                .max_segment_size(max_segment),
                        )
                    }
                };
                let mut empty = AppendTable::new_in(set(mock, pages), &chunks);
                let found = call(&mut empty, 0..pages.len());
                assert!(
                    empty.is_empty() && empty.arrays() == 0,
                    "{self:?}: {empty:?}"
                );
                if offset == 0 {
                    // The same call after one that made entries: a set of a
                    // spare page, then `pages`.
                    let spare = MockPage::new(1000);
                    let mut all = if mock.holds(spare, 0, 1) {
                        vec![spare]
                    } else {
                        mock.add_pages([spare.pfn()])
                    };
                    all.extend_from_slice(pages);
                    let mut append = AppendTable::new_in(set(mock, &all), &chunks);
                    append
                        .append_pages(AppendPages::new(0..1, 10).left_pages(1))
                        .expect("a first append");
                    let before = append_snapshot(&append);
                    let allocations = chunks.allocations();
                    let again = call(&mut append, 1..all.len());
                    assert_eq!(again, found, "{self:?} on a table with entries");
                    assert_eq!(
                        append_snapshot(&append),
                        before,
                        "{self:?} changed the table"
                    );
                    assert_eq!(chunks.allocations(), allocations, "{self:?} took an array");
                }
                found
            }
        };
        assert_eq!(found, Err(expected), "{self:?}");
        chunks.assert_clean();
        mock.assert_clean();
    }
}

/// Drops `table`, then checks that its arrays went back to `chunks` and
/// its pages and mappings to `mock`.
#[track_caller]
pub(crate) fn given_back<T>(table: T, chunks: &CountingChunks, mock: &Mock) {
    drop(table);
    chunks.assert_clean();
    mock.assert_clean();
}

/// An `allocator_api2` allocator over the global one whose allocation call
/// with index `fail_at` (counting from 0) fails; it counts live blocks.
pub(crate) struct FailingAllocator {
    fail_at: usize,
    calls: Cell<usize>,
    live: Cell<usize>,
}

impl FailingAllocator {
    /// Failing call `fail_at`.
    pub(crate) fn at(fail_at: usize) -> Self {
        FailingAllocator {
            fail_at,
            calls: Cell::new(0),
            live: Cell::new(0),
        }
    }

    /// Blocks allocated and not given back.
    pub(crate) fn live(&self) -> usize {
        self.live.get()
    }

    /// Allocation calls so far, the failed one included.
    pub(crate) fn calls(&self) -> usize {
        self.calls.get()
    }
}

// SAFETY: every block comes from `Global` and goes back to it with the
// caller's layout, so `Global`'s promises hold; failing returns no block.
unsafe impl Allocator for FailingAllocator {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let call = self.calls.get();
        self.calls.set(call + 1);
        if call == self.fail_at {
            return Err(AllocError);
        }
        let block = Global.allocate(layout)?;
        self.live.set(self.live.get() + 1);
        Ok(block)
    }

    unsafe fn deallocate(&self, block: NonNull<u8>, layout: Layout) {
        self.live.set(self.live.get() - 1);
        // SAFETY: the caller's promise: `block` came from `allocate` here,
        // that is from `Global`, with `layout`.
        unsafe { Global.deallocate(block, layout) }
    }
}

/// Limits that contradict each other or are unusable, one defect each,
/// with the reason `DmaLimits::validate` gives.
pub(crate) fn bad_limits() -> Vec<(DmaLimits, &'static str)> {
    let zero_size = "the maximum segment size is 0";
    let zero_segments = "the maximum number of segments is 0";
    let alignment = "the alignment is not a power of two";
    let wide_alignment = "the alignment is larger than the maximum segment size";
    let boundary = "the segment boundary is not a power of two";
    let low_boundary = "the segment boundary is smaller than the maximum segment size";
    let limits = DmaLimits::new();
    vec![
        (limits.with_max_segment_size(0), zero_size),
        (limits.with_max_segments(0), zero_segments),
        (limits.with_alignment(0), alignment),
        (limits.with_alignment(3), alignment),
        (limits.with_alignment(1 << 20), wide_alignment),
        (limits.with_segment_boundary(Some(0)), boundary),
        (limits.with_segment_boundary(Some(3 << 16)), boundary),
        (limits.with_segment_boundary(Some(4096)), low_boundary),
    ]
}
