//! `split`: new tables over consecutive byte ranges of a list (the
//! kernel's `sg_split`). For a range that need not be owned, a view
//! ([`SgList::slice`]) allocates nothing.

use alloc::vec;
use alloc::vec::Vec;

use sg_core::{
    Access, ChunkAllocator, Error, HeapChunks, ListView, PageProvider, Segments, SgList,
};

use crate::SgTable;

/// Splits `sizes.len()` consecutive byte ranges off `list`, starting `skip`
/// bytes in, each into a new table with page-sized arrays from the heap
/// (the kernel's `sg_split`).
///
/// Table `i` covers `sizes[i]` bytes, right after the bytes of table
/// `i - 1`. Its first entry is trimmed at the front and its last at the
/// back (and end-marked); an entry boundary never gives a leading entry of
/// zero length, and entries of zero length in the input are left out. The
/// tables name the input's pages but not its arrays, and carry no DMA
/// fields. They borrow the input's provider for the input's lifetime, so
/// they cannot outlive the list whose pages they name (such as a
/// [`PageList`](crate::PageList), which frees its pages on drop). The input
/// may itself be a byte-range slice of a list.
///
/// Rights never grow: a shared view ([`SgList`]) gives pieces that only
/// read ([`Read`](sg_core::Read)); an exclusive view ([`SgListMut`](sg_core::SgListMut)) gives pieces that may
/// write ([`Write`](sg_core::Write)), and they borrow the view's list exclusively for
/// their whole life. The pieces cover disjoint byte ranges (two of them
/// may share a page, never a byte), so each hands out its own writable
/// view. For a device on a non-coherent bus that writes two pieces sharing
/// a page, choose sizes that keep their boundaries on cache lines
/// ([`DmaLimits::alignment`](sg_core::DmaLimits::alignment)).
///
/// # Split or slice?
///
/// To read, write, copy, iterate or hand to vectored I/O a byte range of a
/// list, take a view: [`SgList::slice`] (or
/// [`SgListMut::slice_mut`](sg_core::SgListMut::slice_mut)) allocates
/// nothing, costs no more than walking to the range's first entry, and
/// every iterator and copy takes it. Split only when the pieces must be
/// owned lists of their own: handed to different owners or threads, kept
/// after the borrow of the input ends, mapped for DMA separately, or
/// joined to other tables ([`SgTable::join`]). Splitting allocates arrays
/// and copies (trimmed) entries.
///
/// # Errors
///
/// [`Error::ZeroLength`] for a size of 0, [`Error::Overflow`] when the
/// sizes and skip overflow a `u64`, [`Error::ListTooShort`] when the list
/// holds fewer than `skip` plus the sizes, and what the chunk allocator
/// returns (the tables built so far are dropped).
///
/// # Examples
///
/// ```
/// use sg_alloc::{SgTable, split};
/// use sg_core::{Pages, VirtPages};
///
/// let mut pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
/// pages.swap(2, 3); // runs: pages 0-1, then page 3, then page 2
/// let table = SgTable::from_pages(&pages, 100, 10_000)?;
/// let pieces = split(table.as_list(), 0, &[8092, 1000])?;
/// // The first piece ends exactly at the end of the first entry (pages
/// // 0-1 from byte 100), so the second starts with the second entry,
/// // untrimmed.
/// assert_eq!(pieces[0].as_list().count(), 1);
/// assert_eq!(pieces[1].as_list().first().unwrap().offset(), 0);
/// assert_eq!(pieces[1].byte_len(), 1000);
/// # Ok::<(), sg_core::Error>(())
/// ```
///
/// Pieces of a shared view cannot write:
///
/// ```compile_fail,E0599
/// use sg_alloc::{SgTable, split};
/// use sg_core::{Pages, VirtPages};
///
/// let pages = Pages::alloc(VirtPages::new(), 0).unwrap();
/// let table = SgTable::from_pages(pages, 0, 4096).unwrap();
/// let list = table.as_list();
/// let mut a = split(list, 0, &[64]).unwrap();
/// let mut b = split(list, 0, &[64]).unwrap();
/// // Rule: anything made from a shared view only reads.
/// let _ = (a[0].as_list_mut(), b[0].as_list_mut());
/// ```
/// Pieces of an exclusive view write:
///
/// ```
/// use sg_alloc::{SgTable, split};
/// use sg_core::{Pages, VirtPages};
///
/// let mut table = SgTable::from_pages(Pages::alloc(VirtPages::new(), 0)?, 0, 4096)?;
/// let mut halves = split(table.as_list_mut(), 0, &[2048, 2048])?;
/// let (first, second) = halves.split_at_mut(1);
/// let (a, b) = (first[0].as_list_mut(), second[0].as_list_mut()); // disjoint bytes
/// assert_eq!(a.as_list().byte_len() + b.as_list().byte_len(), 4096);
/// # Ok::<(), sg_core::Error>(())
/// ```
///
/// While the pieces live, the table is borrowed:
///
/// ```compile_fail,E0502
/// use sg_alloc::{SgTable, split};
/// use sg_core::{Pages, VirtPages};
///
/// let mut table = SgTable::from_pages(Pages::alloc(VirtPages::new(), 0).unwrap(), 0, 4096).unwrap();
/// let mut pieces = split(table.as_list_mut(), 0, &[64]).unwrap();
/// // Rule: writable pieces borrow the exclusive view for their whole life.
/// let reader = table.as_list();
/// let _ = (pieces[0].as_list_mut(), reader);
/// ```
#[doc(alias = "sg_split")]
#[doc(alias = "split_mut")]
pub fn split<'a, V: ListView<'a>>(
    list: V,
    skip: u64,
    sizes: &[u64],
) -> Result<SplitTables<'a, V, HeapChunks>, Error> {
    split_in(list, skip, sizes, HeapChunks::new())
}

/// As [`split`], with each table's arrays from a clone of `chunks` (pass a
/// reference to share one allocator, such as a [`ChunkPool`](crate::ChunkPool)).
///
/// # Errors
///
/// As [`split`].
#[doc(alias = "sg_split")]
#[doc(alias = "split_mut_in")]
pub fn split_in<'a, V, C>(
    list: V,
    skip: u64,
    sizes: &[u64],
    chunks: C,
) -> Result<SplitTables<'a, V, C>, Error>
where
    V: ListView<'a>,
    C: ChunkAllocator<<V::Provider as PageProvider>::Page> + Clone,
{
    split_into(list.into_list(), skip, sizes, chunks)
}

/// The tables a split of the view `V` makes, with arrays from `C`.
type SplitTables<'a, V, C> =
    Vec<SgTable<&'a <V as ListView<'a>>::Provider, C, <V as ListView<'a>>::Access>>;

/// The body of the splits: pieces with access `A`, which the caller's view
/// grants (shared for [`Read`](sg_core::Read), exclusive for [`Write`](sg_core::Write): see
/// [`ListView`]; an exclusive view is consumed, so the pieces, over
/// disjoint byte ranges of it, hold its right to write between them).
fn split_into<'a, P, C, A>(
    list: SgList<'a, P>,
    skip: u64,
    sizes: &[u64],
    chunks: C,
) -> Result<Vec<SgTable<&'a P, C, A>>, Error>
where
    P: PageProvider,
    C: ChunkAllocator<P::Page> + Clone,
    A: Access,
{
    if sizes.contains(&0) {
        return Err(Error::ZeroLength);
    }
    let total = sizes
        .iter()
        .try_fold(0u64, |total, &size| total.checked_add(size))
        .ok_or(Error::Overflow {
            what: "split sizes",
        })?;
    skip.checked_add(total)
        .ok_or(Error::Overflow { what: "split end" })?;
    let range = list.slice(skip, total)?;
    let provider = list.provider();

    let mut counts = vec![0usize; sizes.len()];
    for piece in Pieces::new(range.segments(), sizes) {
        counts[piece.index] += 1;
    }

    let mut tables = Vec::with_capacity(sizes.len());
    let mut pieces = Pieces::new(range.segments(), sizes);
    for &count in &counts {
        let mut table = SgTable::new_in(provider, count, chunks.clone())?;
        for mut entry in table.entries_mut() {
            let Some(piece) = pieces.next() else {
                debug_assert!(false, "the second walk sees what the first saw");
                break;
            };
            let (page, offset) = page_and_offset(provider, piece.page, piece.offset);
            // SAFETY: the piece is a part of an entry of the input list,
            // whose bytes its maker vouched for with this provider; the
            // pieces borrow the input's provider for the input's lifetime,
            // and the pieces of all tables are disjoint byte ranges of the
            // input (each input byte goes to one piece at most).
            unsafe { entry.set_page(page, offset, piece.len) };
        }
        // INVARIANT: `A` is what the input view grants (see the callers);
        // the pieces are disjoint, so a writable input gives writable
        // pieces that share no byte.
        tables.push(table.into_access());
    }
    Ok(tables)
}

/// `offset` bytes from the start of `page` as an entry's page and `u32`
/// offset: the same page when the offset fits, otherwise the page the
/// bytes start in.
fn page_and_offset<P: PageProvider>(provider: &P, page: P::Page, offset: u64) -> (P::Page, u32) {
    match u32::try_from(offset) {
        Ok(offset) => (page, offset),
        Err(_) => {
            let page_size = P::PAGE_SIZE as u64;
            // Less than a page after the division: fits a u32. The page
            // count fits a usize: the bytes are in memory.
            let later = provider.nth(page, (offset / page_size) as usize);
            (later, (offset % page_size) as u32)
        }
    }
}

/// A part of a segment of the input that goes to one table.
struct Piece<Pg> {
    /// Which table.
    index: usize,
    page: Pg,
    /// Where the bytes start, from the start of `page`.
    offset: u64,
    len: u32,
}

/// Walks the segments of the range once, cutting them where the tables'
/// sizes say.
struct Pieces<'a, 's, Pg: Copy> {
    segments: Segments<'a, Pg>,
    /// What is left of the segment being cut: page, offset, length.
    current: Option<(Pg, u64, u32)>,
    sizes: &'s [u64],
    index: usize,
    left_in_piece: u64,
}

impl<'a, 's, Pg: Copy> Pieces<'a, 's, Pg> {
    fn new(segments: Segments<'a, Pg>, sizes: &'s [u64]) -> Self {
        Pieces {
            segments,
            current: None,
            sizes,
            index: 0,
            left_in_piece: sizes.first().copied().unwrap_or(0),
        }
    }
}

impl<Pg: Copy> Iterator for Pieces<'_, '_, Pg> {
    type Item = Piece<Pg>;

    fn next(&mut self) -> Option<Piece<Pg>> {
        while self.left_in_piece == 0 {
            self.index += 1;
            self.left_in_piece = *self.sizes.get(self.index)?;
        }
        let (page, offset, len) = match self.current.take() {
            Some(rest) => rest,
            None => {
                let segment = self.segments.next()?;
                (segment.page, segment.offset, segment.len)
            }
        };
        // At most `len`, a u32.
        let take = u64::from(len).min(self.left_in_piece) as u32;
        if take < len {
            self.current = Some((page, offset + u64::from(take), len - take));
        }
        self.left_in_piece -= u64::from(take);
        Some(Piece {
            index: self.index,
            page,
            offset,
            len: take,
        })
    }
}
