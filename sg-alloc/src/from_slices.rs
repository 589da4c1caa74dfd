//! Tables over a caller's byte slices, without copying: the buffers of an
//! iovec or a virtqueue's descriptors as one scatter-gather list.
//!
//! The entries name the slices' own memory through [`SlicePages`], a
//! process-memory provider like [`VirtPages`](sg_core::VirtPages) that never
//! joins two entries into one mapping: slices are separate borrows, and a
//! pointer to one may not reach the bytes of its neighbour even when they
//! meet at a page boundary.

use core::fmt;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use sg_core::{
    ChunkAllocator, Error, HeapChunks, PageProvider, Read, SgList, SgListMut, VIRT_PAGE_SIZE,
};

use crate::{EntriesMut, SgTable};

/// Bytes of a slice that one entry describes at most (an entry's length is
/// a `u32`): longer slices take several entries. A whole number of pages,
/// so every piece starts at the same offset in its page as the slice.
const MAX_PIECE: usize = 1 << 31;

/// A page of process memory that holds bytes of a borrowed slice: the
/// handle of [`SlicePages`].
///
/// A handle stands only for the bytes of its slice, not for the whole page
/// (the slice may start or end inside it); it comes from the entries of a
/// [`SliceTable`] or [`SharedSliceTable`], never from a constructor.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlicePage(NonNull<u8>);

// SAFETY: a handle is an address; the memory it names is reached only
// through mappings of a list, whose users keep the aliasing rules, and a
// table's borrow of its slices carries the thread-safety of `&mut [u8]` /
// `&[u8]`, which may be sent and shared.
unsafe impl Send for SlicePage {}
// SAFETY: as for `Send`: sharing the address shares no access by itself.
unsafe impl Sync for SlicePage {}

impl SlicePage {
    /// The page holding the byte at `address`, and the offset of that byte
    /// in it; the handle keeps the provenance of `address`.
    fn containing(address: NonNull<u8>) -> (Self, u32) {
        let offset = address.as_ptr() as usize % VIRT_PAGE_SIZE;
        // The page may start before the slice: step back with wrapping
        // arithmetic, which keeps the provenance; the pointer is only used
        // again after the offset is added back.
        let start = address.as_ptr().wrapping_sub(offset);
        // Address 0 starts no page that holds a slice's byte (nothing is
        // allocated in the first page), but stay total anyway.
        let start = NonNull::new(start).unwrap_or(address);
        // `offset < VIRT_PAGE_SIZE`, which fits a u32.
        (SlicePage(start), offset as u32)
    }

    /// The address of the first byte of the page.
    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }
}

impl fmt::Debug for SlicePage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SlicePage({:#x})", self.addr())
    }
}

/// Process memory borrowed as slices: the provider of the tables that
/// [`SliceTable::new`] and [`SharedSliceTable::new`] build.
///
/// Pages are the 4 KiB pages of process memory that hold the slices' bytes
/// ([`SlicePage`]), each mapped at its own address. The provider is linear,
/// so an entry (a slice) is copied and iterated as one contiguous range,
/// but it never reports a page as continuing another
/// ([`is_next`](PageProvider::is_next) is always false): two slices that
/// meet at a page boundary are still two borrows, reached through two
/// pointers, and merging them into one mapping would reach the second
/// through the first. It allocates no pages.
///
/// Only the tables of this module make it; reach it through their views
/// ([`SgList::provider`]).
pub struct SlicePages {
    _private: (),
}

/// The one provider value, lent by every table of this module.
const SLICE_PAGES: SlicePages = SlicePages { _private: () };

impl fmt::Debug for SlicePages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlicePages")
            .field("page_size", &VIRT_PAGE_SIZE)
            .finish()
    }
}

// SAFETY: handles come only from the builders below, each the page holding
// bytes of a slice that the table borrows for its whole life, with the
// slice's provenance; a mapping is the handle itself, from which the
// slice's bytes (the bytes of the page that lists describe) are valid and
// initialised while the table lives, reads and writes alike for `&mut`
// slices, and reads for shared ones, which only `SharedSliceTable` makes,
// whose table is read-only (and so is everything made from it). Frame numbers are addresses
// divided by the page size, so consecutive frames are consecutive
// addresses, and `nth` steps from one pointer, keeping its provenance: the
// pages of one slice form a linear run reached from the slice's pointer.
// Pages of different slices are never joined: `is_next` reports no
// continuation, so neither builders nor iterators nor copies treat two
// entries as one run, and no handle claims its whole page
// (`is_whole_page`). `alloc_pages` always fails, so `free_pages` has
// nothing to take back.
unsafe impl PageProvider for SlicePages {
    type Page = SlicePage;
    type Pfn = usize;
    const PAGE_SIZE: usize = VIRT_PAGE_SIZE;

    #[inline]
    fn pfn(&self, page: SlicePage) -> usize {
        page.addr() / VIRT_PAGE_SIZE
    }

    #[inline]
    fn nth(&self, page: SlicePage, n: usize) -> SlicePage {
        // Wrapping arithmetic keeps the provenance of the slice.
        let pointer = page.0.as_ptr().wrapping_add(n.wrapping_mul(VIRT_PAGE_SIZE));
        SlicePage(NonNull::new(pointer).unwrap_or(page.0))
    }

    #[inline]
    fn map(&self, page: SlicePage) -> NonNull<u8> {
        page.0
    }

    #[inline]
    unsafe fn unmap(&self, _page: SlicePage, _mapping: NonNull<u8>) {}

    #[inline]
    fn is_linear(&self) -> bool {
        true
    }

    fn alloc_pages(&self, order: u32) -> Result<SlicePage, Error> {
        Err(Error::PagesUnavailable { order })
    }

    unsafe fn free_pages(&self, _page: SlicePage, _order: u32) {
        debug_assert!(false, "SlicePages allocates no pages");
    }

    #[inline]
    fn is_next(&self, _first: SlicePage, _run_pages: usize, _next: SlicePage) -> bool {
        false
    }

    /// A handle stands for its slice's bytes only, so builders of whole
    /// pages refuse it ([`Error::PartialPage`]).
    #[inline]
    fn is_whole_page(&self, _page: SlicePage) -> bool {
        false
    }
}

/// One slice as the builders see it: its first byte and its length.
#[derive(Clone, Copy)]
struct Span {
    start: NonNull<u8>,
    len: usize,
}

/// Entries a slice of `len` bytes takes: one, or one per [`MAX_PIECE`]
/// bytes.
fn entries_for(len: usize) -> usize {
    len.div_ceil(MAX_PIECE).max(1)
}

/// Entries the slices of `lengths` take together.
fn count_entries(mut lengths: impl Iterator<Item = usize>) -> Result<usize, Error> {
    lengths.try_fold(0usize, |total, len| {
        total.checked_add(entries_for(len)).ok_or(Error::Overflow {
            what: "entry count",
        })
    })
}

/// A table of `nents` entries over the slices `spans` yields, in order:
/// one entry per slice (an empty entry for an empty slice), or one per
/// [`MAX_PIECE`] bytes of a longer slice.
///
/// # Safety
///
/// `spans` yields the slices counted into `nents` (in total, at most
/// `nents` entries' worth); the bytes of each are initialised memory,
/// borrowed for as long as the table lives, and reached through the span's
/// pointer, which has the slice's provenance. Writes through lists of the
/// table are allowed (`&mut` slices), or the caller keeps them from
/// happening.
unsafe fn build<C: ChunkAllocator<SlicePage>>(
    nents: usize,
    spans: impl Iterator<Item = Span>,
    chunks: C,
) -> Result<SgTable<SlicePages, C>, Error> {
    let mut table = SgTable::new_in(SLICE_PAGES, nents, chunks)?;
    // SAFETY: the caller's promise, passed on.
    unsafe { fill(table.entries_mut(), spans) };
    Ok(table)
}

/// Sets the entries of `entries` to describe the slices of `spans`, as
/// [`build`] says.
///
/// # Safety
///
/// As for [`build`].
unsafe fn fill(mut entries: EntriesMut<'_, SlicePage>, spans: impl Iterator<Item = Span>) {
    for span in spans {
        if span.len == 0 {
            // Left empty: no page, no bytes.
            if entries.next().is_none() {
                break;
            }
            continue;
        }
        let mut done = 0;
        while done < span.len {
            let Some(mut entry) = entries.next() else {
                debug_assert!(false, "more pieces than counted");
                break;
            };
            let len = (span.len - done).min(MAX_PIECE);
            // In bounds: `done < span.len`.
            let first = span.start.as_ptr().wrapping_add(done);
            let (page, offset) = SlicePage::containing(NonNull::new(first).unwrap_or(span.start));
            // SAFETY: bytes `offset..offset + len` of the run from `page`
            // are the `len` bytes of the slice from `done` on, which the
            // caller vouches are initialised and borrowed for the table's
            // life; `len <= MAX_PIECE` fits a u32, and `page` keeps the
            // slice's provenance. No other list of ours names them; the
            // slices of one `&mut` list never overlap.
            unsafe { entry.set_page(page, offset, len as u32) };
            done += len;
        }
    }
}

/// A scatter-gather table over a caller's `&mut` byte slices (the buffers
/// of an iovec, a virtqueue's descriptors), built without copying a byte:
/// the kernel's loop of `sg_set_buf` over a table, or `extract_iter_to_sg`
/// for user memory.
///
/// Entry `i` describes slice `i` (a slice over 2 GiB takes one entry per
/// 2 GiB or part of them, and an empty slice an empty entry); the table
/// borrows every slice for its whole life, so the buffers cannot be
/// touched, moved or freed while a list of it is used, and are theirs again
/// once it is dropped. Mutable slices never overlap, so every byte has one entry and
/// the list may be written. Read and write the list through its views,
/// [`as_list`](Self::as_list) and [`as_list_mut`](Self::as_list_mut), with
/// every iterator and copy of the workspace; the table also derefs to its
/// [`SgTable`] for counts and lengths.
///
/// Its pages are [`SlicePages`]: each slice is one contiguous range, and
/// slices are never merged, even where they meet at a page boundary. The
/// page handles stand for the bytes their entries describe only: builders
/// of whole pages such as [`SgTable::from_pages`] refuse them
/// ([`Error::PartialPage`](sg_core::Error::PartialPage)).
///
/// # Examples
///
/// ```
/// use sg_alloc::SliceTable;
///
/// let mut header = *b"LEN=";
/// let mut body = vec![0u8; 10_000]; // crosses page boundaries
/// let mut empty: [u8; 0] = [];
/// let mut iov: [&mut [u8]; 3] = [&mut header, &mut empty, &mut body];
/// let mut table = SliceTable::new(&mut iov)?;
/// assert_eq!(table.orig_nents(), 3); // one entry per slice
/// assert_eq!(table.byte_len(), 10_004);
///
/// // Write through the list: the bytes land in the slices.
/// let mut writer = sg_iter::MappingIterMut::new(table.as_list_mut().into_slice(4, 3)?);
/// while let Some(bytes) = writer.next_slice_mut() {
///     bytes.fill(b'x');
/// }
/// drop(writer);
/// drop(table); // the slices are free again
/// assert_eq!(&body[..4], b"xxx\0");
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "extract_iter_to_sg")]
#[doc(alias = "sg_set_buf")]
#[doc(alias = "iovec")]
pub struct SliceTable<'a, C: ChunkAllocator<SlicePage> = HeapChunks> {
    table: SgTable<SlicePages, C>,
    _slices: PhantomData<&'a mut [u8]>,
}

impl<'a> SliceTable<'a> {
    /// A table over `slices`, in order, with page-sized arrays from the
    /// heap.
    ///
    /// # Errors
    ///
    /// As [`new_in`](Self::new_in).
    #[doc(alias = "extract_iter_to_sg")]
    pub fn new(slices: &'a mut [&mut [u8]]) -> Result<Self, Error> {
        Self::new_in(slices, HeapChunks::new())
    }
}

impl<'a, C: ChunkAllocator<SlicePage>> SliceTable<'a, C> {
    /// A table over `slices`, in order, with arrays from `chunks`.
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] when `slices` is empty; [`Error::Overflow`]
    /// when the entries would not fit in memory; what `chunks` returns when
    /// an array cannot be had (every array taken is given back).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::{ChunkPool, SlicePage, SliceTable};
    ///
    /// let pool = ChunkPool::<SlicePage>::with_max_entries(2, 4)?;
    /// let mut buffers = vec![vec![1u8; 100]; 5];
    /// let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
    /// let table = SliceTable::new_in(&mut iov, &pool)?;
    /// assert_eq!((table.orig_nents(), table.arrays()), (5, 2)); // 3 + a link, then 2
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    pub fn new_in(slices: &'a mut [&mut [u8]], chunks: C) -> Result<Self, Error> {
        let nents = count_entries(slices.iter().map(|slice| slice.len()))?;
        let spans = slices.iter_mut().map(|slice| {
            // The length first: taking the pointer is the last use of the
            // slice while the table lives.
            let len = slice.len();
            Span {
                start: NonNull::from(&mut **slice).cast(),
                len,
            }
        });
        // SAFETY: the spans are the slices just counted, each `&mut`: its
        // bytes are initialised, borrowed for `'a` by the table (through
        // `slices`), never overlap another's, and may be written; each
        // pointer comes from its slice.
        let table = unsafe { build(nents, spans, chunks)? };
        Ok(SliceTable {
            table,
            _slices: PhantomData,
        })
    }

    /// A view of the slices' bytes, for reading.
    #[inline]
    pub fn as_list(&self) -> SgList<'_, SlicePages> {
        self.table.as_list()
    }

    /// An exclusive view of the slices' bytes, for writing them.
    #[inline]
    pub fn as_list_mut(&mut self) -> SgListMut<'_, SlicePages> {
        self.table.as_list_mut()
    }

    /// The table itself, for its counts, lengths and views.
    #[inline]
    pub fn as_table(&self) -> &SgTable<SlicePages, C> {
        &self.table
    }
}

impl<C: ChunkAllocator<SlicePage>> Deref for SliceTable<'_, C> {
    type Target = SgTable<SlicePages, C>;

    #[inline]
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

impl<C: ChunkAllocator<SlicePage>> fmt::Debug for SliceTable<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SliceTable").field(&self.table).finish()
    }
}

/// A read-only scatter-gather table over a caller's shared byte slices,
/// built without copying: for handing `&[u8]` buffers to code that reads
/// lists, such as a vectored write.
///
/// As [`SliceTable`], but the slices are shared, so the table has no
/// writable view, and slices may overlap.
///
/// # Examples
///
/// ```
/// use sg_alloc::SharedSliceTable;
///
/// let parts: [&[u8]; 3] = [b"scatter", b"-", b"gather"];
/// let table = SharedSliceTable::new(&parts)?;
/// let mut joined = Vec::new();
/// let mut reader = sg_iter::MappingIter::new(table.as_list());
/// while let Some(bytes) = reader.next_slice() {
///     joined.extend_from_slice(bytes);
/// }
/// assert_eq!(joined, b"scatter-gather");
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "extract_iter_to_sg")]
#[doc(alias = "sg_set_buf")]
pub struct SharedSliceTable<'a, C: ChunkAllocator<SlicePage> = HeapChunks> {
    table: SgTable<SlicePages, C, Read>,
    _slices: PhantomData<&'a [u8]>,
}

impl<'a> SharedSliceTable<'a> {
    /// A table over `slices`, in order, with page-sized arrays from the
    /// heap.
    ///
    /// # Errors
    ///
    /// As [`new_in`](Self::new_in).
    pub fn new(slices: &[&'a [u8]]) -> Result<Self, Error> {
        Self::new_in(slices, HeapChunks::new())
    }
}

impl<'a, C: ChunkAllocator<SlicePage>> SharedSliceTable<'a, C> {
    /// A table over `slices`, in order, with arrays from `chunks`.
    ///
    /// # Errors
    ///
    /// [`Error::NoEntries`] when `slices` is empty; [`Error::Overflow`]
    /// when the entries would not fit in memory; what `chunks` returns when
    /// an array cannot be had (every array taken is given back).
    ///
    /// The table is read-only ([`Read`]), and so is everything made from
    /// it (pieces of [`split`](crate::split), copies from
    /// [`SgTable::clone_in`]), so nothing writes the slices' bytes.
    pub fn new_in(slices: &[&'a [u8]], chunks: C) -> Result<Self, Error> {
        let nents = count_entries(slices.iter().map(|slice| slice.len()))?;
        let spans = slices.iter().map(|slice| Span {
            start: NonNull::from(*slice).cast(),
            len: slice.len(),
        });
        // SAFETY: the spans are the slices just counted: their bytes are
        // initialised and borrowed for `'a`, and each pointer comes from
        // its slice; the table is made read-only at once, so nothing
        // writes them.
        let table = unsafe { build(nents, spans, chunks)? };
        Ok(SharedSliceTable {
            table: table.into_read_only(),
            _slices: PhantomData,
        })
    }

    /// A view of the slices' bytes, for reading.
    #[inline]
    pub fn as_list(&self) -> SgList<'_, SlicePages> {
        self.table.as_list()
    }

    /// The table itself, for its counts, lengths and views.
    #[inline]
    pub fn as_table(&self) -> &SgTable<SlicePages, C, Read> {
        &self.table
    }
}

impl<C: ChunkAllocator<SlicePage>> Deref for SharedSliceTable<'_, C> {
    type Target = SgTable<SlicePages, C, Read>;

    #[inline]
    fn deref(&self) -> &Self::Target {
        &self.table
    }
}

impl<C: ChunkAllocator<SlicePage>> fmt::Debug for SharedSliceTable<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedSliceTable")
            .field(&self.table)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_slices_take_one_entry_per_piece() {
        assert_eq!(entries_for(0), 1);
        assert_eq!(entries_for(1), 1);
        assert_eq!(entries_for(MAX_PIECE), 1);
        assert_eq!(entries_for(MAX_PIECE + 1), 2);
        // Twice the piece, or the largest length a 32-bit target has.
        let two_pieces = MAX_PIECE.saturating_mul(2);
        assert_eq!(count_entries([3, 0, two_pieces].into_iter()), Ok(4));
        let per_longest = usize::MAX.div_ceil(MAX_PIECE);
        assert_eq!(
            count_entries([usize::MAX, 0, usize::MAX].into_iter()),
            Ok(2 * per_longest + 1)
        );
    }

    #[test]
    fn pages_hold_their_first_byte() {
        let buffer = [0u8; 10];
        let address = NonNull::from(&buffer[3]);
        let (page, offset) = SlicePage::containing(address);
        assert_eq!(page.addr() + offset as usize, address.as_ptr() as usize);
        assert_eq!(page.addr() % VIRT_PAGE_SIZE, 0);
        assert!(!SLICE_PAGES.is_next(page, 0, page));
    }
}
