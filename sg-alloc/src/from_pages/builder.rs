//! The one way to build a table from pages ([`FromPages`]), and what one
//! append of pages says ([`AppendPages`]).

use core::ops::Range;

use sg_core::{ChunkAllocator, DmaLimits, Error, HeapChunks, PageSet, PageSource};

use super::AppendTable;
use crate::SgTable;

/// One call of [`AppendTable::append_pages`]: which of the set's pages,
/// which of their bytes, under which limits, and how many pages later
/// calls will still append.
///
/// [`new`](Self::new) takes what every call names (the positions and the
/// byte count); the rest defaults to: no offset, no limit but the `u32`
/// length of an entry ([`DmaLimits::unlimited`]), and nothing left to
/// append.
///
/// # Examples
///
/// ```
/// use sg_alloc::AppendPages;
/// use sg_core::DmaLimits;
///
/// // 6000 bytes from byte 96 of the first of pages 0-1, in entries of at
/// // most 4 KiB, with 3 more pages to come.
/// let append = AppendPages::new(0..2, 6000)
///     .offset(96)
///     .limits(&DmaLimits::unlimited().with_max_segment_size(4096))
///     .left_pages(3);
/// # let _ = append;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "an append does nothing until given to `AppendTable::append_pages`"]
pub struct AppendPages {
    pub(super) pages: Range<usize>,
    pub(super) offset: usize,
    pub(super) size: u64,
    pub(super) limits: DmaLimits,
    pub(super) left_pages: usize,
}

impl AppendPages {
    /// `size` bytes of the set's pages at positions `pages`, from the start
    /// of the first.
    #[inline]
    pub fn new(pages: Range<usize>, size: u64) -> Self {
        AppendPages {
            pages,
            offset: 0,
            size,
            limits: DmaLimits::unlimited(),
            left_pages: 0,
        }
    }

    /// The bytes start `offset` bytes into the first page (only the first
    /// append of a table may say so).
    #[inline]
    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// Entries stay within a device's `limits`: its maximum segment size,
    /// segment boundary and maximum number of segments.
    #[inline]
    pub fn limits(mut self, limits: &DmaLimits) -> Self {
        self.limits = *limits;
        self
    }

    /// No entry is longer than `bytes`, rounded down to whole pages (the
    /// kernel's `max_segment`): the same as [`limits`](Self::limits) with
    /// that maximum segment size.
    #[doc(alias = "sg_alloc_table_from_pages_segment")]
    #[inline]
    pub fn max_segment_size(mut self, bytes: u32) -> Self {
        self.limits = self.limits.with_max_segment_size(bytes);
        self
    }

    /// Later calls will still append `pages` pages (the kernel's
    /// `left_pages`), so that arrays are sized to leave room for them.
    /// 0, the default, says this is the last call: it puts the end mark.
    #[inline]
    pub fn left_pages(mut self, pages: usize) -> Self {
        self.left_pages = pages;
        self
    }
}

/// A table to build over bytes of the pages of a set, in one pass: one
/// entry per run of pages with consecutive frame numbers (the kernel's
/// `sg_alloc_table_from_pages`), optionally limited as a device needs
/// ([`limits`](Self::limits), [`max_segment_size`](Self::max_segment_size)),
/// with arrays from the heap or from a chunk allocator
/// ([`chunk_allocator`](Self::chunk_allocator)).
/// [`SgTable::from_pages`] is the short form with neither.
///
/// The pages are a [`Pages`](sg_core::Pages) set: by value (the table owns
/// the pages, gives them back on drop, and may write them), by `&mut` (the
/// table borrows them exclusively and may write them) or by `&` (the table
/// borrows them shared and only reads them, [`Read`](sg_core::Read)). They
/// are laid out in the set's order; the ones `size` does not need are not
/// described.
///
/// Under a device's limits, a run also ends at the maximum segment size
/// (rounded down to whole pages) and where its physical addresses (frame
/// number times page size plus offset) would cross a multiple of the
/// segment boundary, and the table holds at most the maximum number of
/// segments. So every entry maps as one segment ([`SgTable::map_dma`]
/// never refuses it with [`Error::EntryNeedsSplit`]), and with a
/// [`DirectMapper`](crate::DirectMapper) the table maps whenever its pages
/// are within the device's reach and alignment.
///
/// # Examples
///
/// Sixteen contiguous pages for a device with 64 KiB segments on 64 KiB
/// boundaries, arrays from a pool: the entries end wherever the addresses
/// cross a multiple of 64 KiB.
///
/// ```
/// use sg_alloc::{ChunkPool, FromPages};
/// use sg_core::{DmaLimits, Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 4)?;
/// let limits = DmaLimits::new()
///     .with_max_segment_size(64 * 1024)
///     .with_segment_boundary(Some(64 * 1024));
/// let pool = ChunkPool::new(1)?;
/// let table = FromPages::new(&pages, 0, 16 * 4096)
///     .limits(&limits)
///     .chunk_allocator(&pool)
///     .build()?;
/// for entry in table.as_list() {
///     let start = entry.phys(&pages).unwrap();
///     assert!(!limits.crosses_boundary(start, u64::from(entry.len())));
/// }
/// assert_eq!(table.byte_len(), 16 * 4096);
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_alloc_table_from_pages_segment")]
#[doc(alias = "from_pages_segment")]
#[doc(alias = "from_pages_in")]
#[doc(alias = "from_pages_for_device")]
#[doc(alias = "from_pages_for_device_in")]
#[doc(alias = "bus_dmamap_load")]
#[derive(Debug)]
#[must_use = "nothing is built until `build` is called"]
pub struct FromPages<S, C = HeapChunks> {
    pages: S,
    append: AppendPages,
    chunks: C,
}

impl<S: PageSource> FromPages<S> {
    /// `size` bytes of the pages of `pages`, starting `offset` bytes into
    /// its first page; no limit but the `u32` length of an entry, arrays
    /// from the heap.
    #[inline]
    pub fn new(pages: S, offset: usize, size: u64) -> Self {
        let all = 0..0;
        FromPages {
            pages,
            append: AppendPages::new(all, size).offset(offset),
            chunks: HeapChunks::new(),
        }
    }
}

impl<S: PageSource, C> FromPages<S, C> {
    /// Entries stay within a device's `limits` (see the type's
    /// documentation).
    #[inline]
    pub fn limits(mut self, limits: &DmaLimits) -> Self {
        self.append = self.append.limits(limits);
        self
    }

    /// No entry is longer than `bytes` rounded down to whole pages (the
    /// kernel's `sg_alloc_table_from_pages_segment`).
    #[doc(alias = "sg_alloc_table_from_pages_segment")]
    #[inline]
    pub fn max_segment_size(mut self, bytes: u32) -> Self {
        self.append = self.append.max_segment_size(bytes);
        self
    }

    /// The table's arrays come from `chunks`, of at most
    /// `chunks.max_entries()` slots.
    #[inline]
    pub fn chunk_allocator<D>(self, chunks: D) -> FromPages<S, D> {
        FromPages {
            pages: self.pages,
            append: self.append,
            chunks,
        }
    }

    /// Builds the table: an [`AppendTable`] with one append of every page
    /// of the set and nothing to come.
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages`]. A set passed by value is dropped
    /// then (its pages given back); pass `&mut` to keep it.
    pub fn build<P>(self) -> Result<SgTable<P, C, S::Access>, Error>
    where
        S: PageSource<Set = P>,
        P: PageSet,
        C: ChunkAllocator<P::Page>,
    {
        let mut table = AppendTable::new_in(self.pages, self.chunks);
        let all = 0..table.provider().pages().len();
        table.append_pages(AppendPages {
            pages: all,
            ..self.append
        })?;
        table.finish()
    }
}

impl<P: PageSet, A: sg_core::Access> SgTable<P, HeapChunks, A> {
    /// A table over `size` bytes of the pages of a set, starting `offset`
    /// bytes into its first page, one entry per run of pages with
    /// consecutive frame numbers, entries limited only by `u32::MAX`,
    /// arrays from the heap (the kernel's `sg_alloc_table_from_pages`):
    /// `FromPages::new(pages, offset, size).build()`. [`FromPages`] takes a
    /// device's limits and a chunk allocator too.
    ///
    /// # Errors
    ///
    /// As [`AppendTable::append_pages`]. A set passed by value is dropped
    /// then (its pages given back); pass `&mut` to keep it.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{Pages, VirtPages};
    ///
    /// let mut pages = Pages::alloc(VirtPages::new(), 1)?; // two contiguous pages
    /// pages.swap(0, 1); // second page first: two runs
    /// let table = SgTable::from_pages(&mut pages, 96, 6000)?;
    /// let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    /// assert_eq!(lengths, [4000, 2000]);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    ///
    /// Two writable tables over one set do not compile:
    ///
    /// ```compile_fail,E0499
    /// use sg_alloc::SgTable;
    /// use sg_core::{Pages, VirtPages};
    ///
    /// let mut pages = Pages::alloc(VirtPages::new(), 0).unwrap();
    /// let mut a = SgTable::from_pages(&mut pages, 0, 4096).unwrap();
    /// // Rule: a writable table borrows its pages exclusively.
    /// let mut b = SgTable::from_pages(&mut pages, 0, 4096).unwrap();
    /// let _ = (a.as_list_mut(), b.as_list_mut());
    /// ```
    #[doc(alias = "sg_alloc_table_from_pages")]
    pub fn from_pages<S: PageSource<Set = P, Access = A>>(
        pages: S,
        offset: usize,
        size: u64,
    ) -> Result<Self, Error> {
        FromPages::new(pages, offset, size).build()
    }
}
