//! The bad-input table: every case of SPEC's "Bad input" list, tried
//! against every public entry point it applies to.
//!
//! Each row names a case and an entry point, and asserts the exact typed
//! error (or the documented `None`, 0 or short count) and that nothing
//! leaked: the rows' `MockPages` (pages and mappings), `CountingChunks`
//! (arrays), `MockIommu` (bus mappings), bounce pools and failing
//! allocators are checked at the end of each row, and the kit's mocks
//! again on drop. Rows that leave a table in place check it is exactly as
//! it was.
//!
//! The table is in sg-copy's tests because sg-copy reaches every crate
//! (sg-core and sg-iter as dependencies, sg-alloc and sg-testkit as
//! dev-dependencies) without a cycle.
//!
//! # Coverage
//!
//! SPEC's cases in its order, each with the entry points of its rows
//! (`the_coverage_list_names_every_row` keeps this list and the table in
//! step), then the bad input the library refuses beyond the list.
//!
//! ### zero entries
//! `sg_core::init_table`, `sg_core::chain`, `SgList::new`,
//! `SgListMut::new`, `SgList::take_entries`, `HeapChunks::alloc`,
//! `HeapChunks::with_max_entries`, `SgTable::new`, `SgTable::new_in`,
//! `SgTable::with_max_entries_in`, `SgTable::with_first_chunk`,
//! `SgTable::with_first_chunk_in`, `AppendTable::finish`,
//! `ChunkPool::alloc`, `ChunkPool::new`, `ChunkPool::new_in`,
//! `arrays_needed`, `split`, `split_in`, `SgTable::clone_in`,
//! `SgTable::clone_merged_in`, `SgTable::map_dma`,
//! `SgTable::with_dma_mapping`, `PageIter::new`, `DmaPageIter::new`,
//! `MappingIter::next`, `MappingIterMut::next`,
//! `copy_to_slice`, `copy_from_slice`, `zero`, `copy_list`,
//! `ListReader::read`, `ListCursor::write`, `with_io_slices`,
//! `with_io_slices_mut`.
//!
//! ### zero pages
//! `SgTable::from_pages`, `FromPages::max_segment_size`,
//! `FromPages::chunk_allocator`, `FromPages::limits`,
//! `FromPages::build`, `AppendTable::append_pages`,
//! `AppendPages::limits`.
//!
//! ### max_segment below one page
//! `SgList::count_for_dma`, `SgList::count_dma_segments`,
//! `FromPages::max_segment_size`, `FromPages::chunk_allocator`,
//! `FromPages::limits`, `FromPages::build`,
//! `AppendTable::append_pages`, `AppendPages::limits`,
//! `SgTable::map_dma`, `SgTable::with_dma_mapping`.
//!
//! ### an offset of a page or more into the first page
//! `SgTable::from_pages`, `FromPages::max_segment_size`,
//! `FromPages::chunk_allocator`, `FromPages::limits`,
//! `FromPages::build`, `AppendTable::append_pages`,
//! `AppendPages::limits`.
//!
//! ### a size larger than the pages hold after offset
//! `SgTable::from_pages`, `FromPages::max_segment_size`,
//! `FromPages::chunk_allocator`, `FromPages::limits`,
//! `FromPages::build`, `AppendTable::append_pages`,
//! `AppendPages::limits`.
//!
//! ### length 0 for sgl_alloc (and every other length 0)
//! `PageList::new`, `PageList::builder`, `PageListBuilder::chunk_allocator`,
//! `split`, `split_in`, `BounceMapper::new`,
//! `BounceMapper::with_pool_size`, `SgTable::from_pages`,
//! `FromPages::max_segment_size`, `FromPages::chunk_allocator`,
//! `FromPages::limits`, `FromPages::build`,
//! `AppendTable::append_pages`, `AppendPages::limits`.
//!
//! ### entry counts or lengths that overflow u32/usize
//! `SgList::slice`, `SgListMut::slice_mut`, `SgListMut::into_slice`,
//! `order_bytes`, `VirtPages::alloc_pages`, `HeapChunks::alloc`,
//! `SgEntry::phys`, `DmaRun::phys`, `SgList::count_dma_segments`,
//! `SgTable::new`, `SgTable::new_in`, `SgTable::with_max_entries_in`,
//! `SgTable::with_first_chunk`, `PageList::new`, `PageList::builder`,
//! `PageListBuilder::chunk_allocator`, `split`, `split_in`, `ChunkPool::new`,
//! `ChunkPool::with_max_entries`, `BounceMapper::new`, `Pages::alloc`,
//! `SgTable::from_pages`, `AppendTable::append_pages`, `ListReader::seek`,
//! `ListCursor::seek`, `copy_to_slice`, `zero`, `copy_list`,
//! `PageIter::new`, `DmaPageIter::new`, `MappingIter::skip`.
//!
//! ### nents larger than the list
//! `SgList::take_entries`, `SgList::last_of`, `SgList::count_for_len`,
//! `SgList::new`, `SgList::from_raw`, `PageList::free_n`, `PageIter::new`,
//! `DmaPageIter::new`, `MappingIter::next`, `copy_to_slice`.
//!
//! ### appending with a non-zero offset
//! `AppendTable::append_pages`, `AppendPages::limits`.
//!
//! ### a split larger than the input (and every range past the end)
//! `SgList::slice`, `SgListMut::slice_mut`, `SgListMut::into_slice`,
//! `split`, `split_in`, `MappingIter::skip`, `MappingIterMut::skip`,
//! `copy_to_slice`, `copy_from_slice`, `zero`, `copy_list`,
//! `ListReader::seek`, `ListCursor::write`.
//!
//! ### contradictory DMA limits
//! `DmaLimits::validate`, `SgList::count_dma_segments`,
//! `FromPages::limits`, `FromPages::build`,
//! `AppendPages::limits`, `SgTable::map_dma`,
//! `SgTable::with_dma_mapping`, `DmaMapper::map`.
//!
//! ### a chunk allocator, page provider or DMA mapper that fails at any call
//! `HeapChunks::alloc`, `VirtPages::alloc_pages`, `SgTable::map_dma`,
//! `SgTable::with_dma_mapping`, `BounceMapper::map`, `SgTable::new_in`, `SgTable::with_max_entries_in`,
//! `SgTable::with_first_chunk_in`, `FromPages::chunk_allocator`,
//! `FromPages::build`, `AppendTable::append_pages`,
//! `AppendPages::limits`, `PageListBuilder::chunk_allocator`,
//! `PageList::new`, `PageList::builder`, `split_in`,
//! `SgTable::clone_in`, `SgTable::clone_merged_in`, `SgTable::join`,
//! `ChunkPool::alloc`, `ChunkPool::new_in`, `HeapChunks::new_in`,
//! `VirtPages::new_in`, `Pages::alloc`, `Pages::alloc_more`.
//!
//! ### beyond the list
//! `SgTable::with_max_entries_in`, `SgTable::from_pages`,
//! `AppendTable::append_pages`, `AppendPages::limits`,
//! `Pages::permute`, `SgTable::map_dma`, `SgTable::with_dma_mapping`,
//! `with_io_slices_mut`.
//!
//! Beyond the list, the sound API refuses at run time what it cannot
//! refuse by type: an append of positions outside its set or already used
//! (`Error::NotInSet`, `Error::PageReused`: a table that may write never
//! describes a page twice), an order that repeats or misses a page, and a
//! read-only table mapped for a device that writes (`Error::ReadOnly`).
//! Overlapping entries in an exclusive view can now only be made by
//! `unsafe` code that breaks `SgListMut::new`'s contract; the
//! `with_io_slices_mut` row does so on purpose to check the library's own
//! guard.
//!
//! Unreachable on purpose: a table's byte count past `u64::MAX`, and an
//! entry grown past `u32::MAX` by merging (runs end at the rounded
//! segment limit first, as the `u32::MAX` rows of the builders show); the
//! 32-bit forms of the overflow rows run in `huge_lengths.rs`.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// The rows of a file's part of the table, grouped by case: `Case {
/// "entry point" => check, ... }`, one line a row.
macro_rules! rows {
    ($($case:ident { $($entry:literal => $check:expr),+ $(,)? })+) => {
        vec![$($(crate::Row::new(crate::Case::$case, $entry, $check)),+),+]
    };
}

mod build;
mod dma;
mod failure;
mod kit;
mod views;
mod walk;

/// A case of SPEC's "Bad input" list (and one for the bad input beyond it).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Case {
    ZeroEntries,
    ZeroPages,
    SegmentBelowPage,
    OffsetPastFirstPage,
    SizePastPages,
    ZeroLength,
    Overflow,
    NentsPastList,
    AppendOffset,
    SplitPastInput,
    BadLimits,
    Failure,
    Other,
}

impl Case {
    /// Every case, in SPEC's order.
    const ALL: [Case; 13] = [
        Case::ZeroEntries,
        Case::ZeroPages,
        Case::SegmentBelowPage,
        Case::OffsetPastFirstPage,
        Case::SizePastPages,
        Case::ZeroLength,
        Case::Overflow,
        Case::NentsPastList,
        Case::AppendOffset,
        Case::SplitPastInput,
        Case::BadLimits,
        Case::Failure,
        Case::Other,
    ];

    /// The case as SPEC words it.
    fn spec(self) -> &'static str {
        match self {
            Case::ZeroEntries => "zero entries",
            Case::ZeroPages => "zero pages",
            Case::SegmentBelowPage => "max_segment below one page",
            Case::OffsetPastFirstPage => "an offset of a page or more into the first page",
            Case::SizePastPages => "a size larger than the pages hold after offset",
            Case::ZeroLength => "length 0 for sgl_alloc (and every other length 0)",
            Case::Overflow => "entry counts or lengths that overflow u32/usize",
            Case::NentsPastList => "nents larger than the list",
            Case::AppendOffset => "appending with a non-zero offset",
            Case::SplitPastInput => "a split larger than the input (and every range past the end)",
            Case::BadLimits => "contradictory DMA limits",
            Case::Failure => {
                "a chunk allocator, page provider or DMA mapper that fails at any call"
            }
            Case::Other => "beyond the list",
        }
    }
}

/// One row: a case tried against one entry point.
pub(crate) struct Row {
    case: Case,
    entry: &'static str,
    check: fn(),
}

impl Row {
    pub(crate) fn new(case: Case, entry: &'static str, check: fn()) -> Row {
        Row { case, entry, check }
    }
}

/// The whole table.
fn table() -> Vec<Row> {
    let mut rows = views::rows();
    rows.extend(build::rows());
    rows.extend(dma::rows());
    rows.extend(walk::rows());
    rows.extend(failure::rows());
    rows
}

/// What a panic said.
fn message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = panic.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = panic.downcast_ref::<String>() {
        text.clone()
    } else {
        "(a panic without a message)".to_owned()
    }
}

#[test]
fn every_row_gets_its_typed_error_and_leaks_nothing() {
    let rows = table();
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|row| {
            let outcome = catch_unwind(AssertUnwindSafe(row.check));
            outcome.err().map(|panic| {
                format!(
                    "- {} / {}: {}",
                    row.case.spec(),
                    row.entry,
                    message(panic.as_ref())
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn every_case_has_rows_and_no_row_is_twice() {
    let rows = table();
    for case in Case::ALL {
        assert!(
            rows.iter().any(|row| row.case == case),
            "no row for {:?}",
            case.spec()
        );
    }
    for (index, row) in rows.iter().enumerate() {
        assert!(
            !rows[..index]
                .iter()
                .any(|other| other.case == row.case && other.entry == row.entry),
            "{} / {} is in the table twice",
            row.case.spec(),
            row.entry
        );
    }
}

#[test]
fn the_coverage_list_names_every_row() {
    // The crate doc's coverage section: a `### case` heading per case,
    // then the entry points of its rows, each in backticks.
    let source = include_str!("main.rs");
    let doc: Vec<&str> = source
        .lines()
        .filter_map(|line| line.strip_prefix("//!"))
        .map(str::trim)
        .collect();
    let sections: Vec<(&str, String)> = doc
        .split(|line| line.is_empty())
        .filter_map(|paragraph| {
            let heading = paragraph.first()?.strip_prefix("### ")?;
            Some((heading, paragraph[1..].join(" ")))
        })
        .collect();
    let headings: Vec<&str> = sections.iter().map(|(heading, _)| *heading).collect();
    let specs: Vec<&str> = Case::ALL.iter().map(|case| case.spec()).collect();
    assert_eq!(headings, specs, "one section per case, in order");
    let rows = table();
    for (case, (_, text)) in Case::ALL.iter().zip(&sections) {
        let listed: Vec<&str> = text.split('`').skip(1).step_by(2).collect();
        let names: Vec<&str> = rows
            .iter()
            .filter(|row| row.case == *case)
            .map(|row| row.entry)
            .collect();
        assert_eq!(
            listed,
            names,
            "the rows of {:?}, in table order",
            case.spec()
        );
    }
}
