//! List algebra on owned tables: joining two tables into one by chaining
//! (FreeBSD's `sglist_join`), and cloning a table into new arrays
//! (`sglist_clone`), optionally merging entries that continue each other.
//!
//! Byte ranges need no algebra here: [`SgList::slice`](sg_core::SgList::slice)
//! is a view, and [`split`](crate::split) makes owned pieces.

use core::fmt;
use core::ptr;

use allocator_api2::alloc::Global;
use sg_core::{
    Access, CachedGlobal, ChunkAllocator, Error, HeapChunks, PageProvider, Read, Segments, SgList,
    VirtPages, Write,
};

use crate::{SgTable, WithFirstChunk};

/// A page provider or chunk allocator that can tell whether another value
/// of its type is the same source of pages or arrays.
///
/// Joining two tables makes one table that maps every page through the
/// first table's provider and gives every array back to the first table's
/// chunk allocator, so the two tables' providers and allocators must be
/// able to stand in for each other; a clone maps its pages through a clone
/// of the table's provider. This trait says when that holds.
///
/// Implemented for references (`&T`: the same value, by address), which
/// covers shared providers and allocators such as `&MockPages`,
/// `&ChunkPool` and `&CountingChunks`; for [`VirtPages`] and [`HeapChunks`]
/// over the global allocator (every value is the same source); and for
/// [`WithFirstChunk`] when its inner allocator is.
///
/// # Safety
///
/// Implementors promise that when `a.is_same_source(b)` returns `true`:
///
/// - as chunk allocators, each may be given back the arrays and blocks
///   the other allocated ([`ChunkAllocator::free`],
///   [`ChunkAllocator::free_block`]), with the same result, and those stay
///   valid when the other is dropped;
/// - as page providers, each upholds the [`PageProvider`] contract for every
///   page handle the other hands out, naming the same bytes (same frame
///   numbers, same mappings), also after the other is dropped;
///
/// and that a clone of a value (when the type is `Clone`) is always the
/// same source as the value.
///
/// # Examples
///
/// ```
/// use sg_alloc::{ChunkPool, SameSource};
/// use sg_core::{HeapChunks, VirtPage, VirtPages};
///
/// // Process memory is one source, and so is the global allocator.
/// assert!(VirtPages::new().is_same_source(&VirtPages::new()));
/// assert!(HeapChunks::new().is_same_source(&HeapChunks::new()));
/// // Shared by reference: the same value only.
/// let (one, other) = (ChunkPool::<VirtPage>::new(1)?, ChunkPool::<VirtPage>::new(1)?);
/// assert!((&one).is_same_source(&&one));
/// assert!(!(&one).is_same_source(&&other));
/// # Ok::<(), sg_core::Error>(())
/// ```
pub unsafe trait SameSource {
    /// Whether `other` is the same source as `self` (see the trait's
    /// safety section).
    fn is_same_source(&self, other: &Self) -> bool;
}

// SAFETY: the same address is the same value, which trivially stands in for
// itself (values of a zero-sized type may share an address, but hold no
// state that could tell them apart); dropping a reference drops nothing; a
// clone of a reference is the same reference.
unsafe impl<T: ?Sized> SameSource for &T {
    #[inline]
    fn is_same_source(&self, other: &Self) -> bool {
        ptr::eq(*self, *other)
    }
}

// SAFETY: every `HeapChunks<Global>` allocates from and frees to the global
// allocator with a layout that depends only on the entry count (the maximum
// size does not take part in freeing), and owns nothing that dropping it
// could give back.
unsafe impl SameSource for HeapChunks<Global> {
    #[inline]
    fn is_same_source(&self, _other: &Self) -> bool {
        true
    }
}

// SAFETY: as for `HeapChunks<Global>`: every `CachedGlobal` block comes
// from and goes back to the global allocator with its own layout (a kept
// block is handed out again only for that layout), whichever value or
// thread allocated or frees it.
unsafe impl SameSource for HeapChunks<CachedGlobal> {
    #[inline]
    fn is_same_source(&self, _other: &Self) -> bool {
        true
    }
}

// SAFETY: `VirtPages` maps every page handle at its own address and numbers
// frames by address, whatever the value, and dropping one releases nothing;
// over the global allocator, pages allocated by one value are freed by any
// other alike.
unsafe impl SameSource for VirtPages<Global> {
    #[inline]
    fn is_same_source(&self, _other: &Self) -> bool {
        true
    }
}

// SAFETY: `WithFirstChunk` allocates and frees every array through its
// inner allocator (a borrowed first array never goes through it), so it is
// the same source exactly when the inner allocators are; it is not `Clone`.
unsafe impl<Pg: Copy, C: SameSource> SameSource for WithFirstChunk<'_, Pg, C> {
    #[inline]
    fn is_same_source(&self, other: &Self) -> bool {
        C::is_same_source(self.inner(), other.inner())
    }
}

/// Why [`SgTable::join`] did not join.
///
/// # Examples
///
/// ```
/// use std::error::Error as _;
/// use sg_alloc::JoinFailure;
/// use sg_core::Error;
///
/// let failure = JoinFailure::Error(Error::OutOfMemory);
/// assert_eq!(failure.to_string(), "out of memory for an array of entries");
/// assert!(failure.source().is_some());
/// assert!(JoinFailure::DifferentChunks.source().is_none());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinFailure {
    /// The tables map their pages through providers that are not the same
    /// source ([`SameSource`]).
    DifferentProvider,
    /// The tables' arrays come from chunk allocators that are not the same
    /// source ([`SameSource`]).
    DifferentChunks,
    /// A new array could not be had (or the joined counts overflow).
    Error(Error),
}

impl fmt::Display for JoinFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinFailure::DifferentProvider => {
                f.write_str("the tables map their pages through different providers")
            }
            JoinFailure::DifferentChunks => {
                f.write_str("the tables' arrays come from different chunk allocators")
            }
            JoinFailure::Error(error) => fmt::Display::fmt(error, f),
        }
    }
}

impl core::error::Error for JoinFailure {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            JoinFailure::Error(error) => Some(error),
            _ => None,
        }
    }
}

/// A join that did not happen: why, and the table that was to be appended,
/// given back unchanged (the other table is unchanged too).
///
/// # Examples
///
/// ```
/// use sg_alloc::{JoinFailure, SgTable};
/// use sg_core::{HeapChunks, VirtPages};
///
/// let pages = VirtPages::new();
/// let (one, other) = (HeapChunks::new(), HeapChunks::new());
/// let mut first = SgTable::new_in(&pages, 2, &one)?;
/// let second = SgTable::new_in(&pages, 3, &other)?;
/// // The first table could not give the second one's arrays back to `other`.
/// let refused = first.join(second).unwrap_err();
/// assert_eq!(refused.reason(), JoinFailure::DifferentChunks);
/// let second = refused.into_table();
/// assert_eq!((first.orig_nents(), second.orig_nents()), (2, 3));
/// # Ok::<(), sg_core::Error>(())
/// ```
pub struct JoinError<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access = Write> {
    reason: JoinFailure,
    table: SgTable<P, C, A>,
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> JoinError<P, C, A> {
    /// Why the join did not happen.
    pub fn reason(&self) -> JoinFailure {
        self.reason
    }

    /// The table that was to be appended, as it was.
    pub fn into_table(self) -> SgTable<P, C, A> {
        self.table
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> fmt::Debug for JoinError<P, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinError")
            .field("reason", &self.reason)
            .field("table", &self.table)
            .finish()
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> fmt::Display for JoinError<P, C, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot join the tables: {}", self.reason)
    }
}

impl<P: PageProvider, C: ChunkAllocator<P::Page>, A: Access> core::error::Error
    for JoinError<P, C, A>
{
}

impl<P, C, A> SgTable<P, C, A>
where
    P: PageProvider + SameSource,
    C: ChunkAllocator<P::Page> + SameSource,
    A: Access,
{
    /// Appends `other` to this table by chaining: this table's last array
    /// links to `other`'s first, and `other`'s arrays become this table's
    /// (FreeBSD's `sglist_join`, without copying `other`'s entries).
    ///
    /// The joined table iterates as this table's entries, then `other`'s;
    /// its byte length is the sum, known at once. Only `other`'s last entry
    /// keeps its end mark. The DMA fields of the entries stay as they were,
    /// and the DMA view covers every entry again
    /// ([`nents`](Self::nents) `==` [`orig_nents`](Self::orig_nents)), so
    /// join tables before mapping them. Dropping the joined table gives
    /// every array of both back to this table's allocator, exactly once.
    ///
    /// The two tables must share their provider and their chunk allocator
    /// ([`SameSource`]): the joined table maps `other`'s pages through this
    /// table's provider and frees `other`'s arrays through this table's
    /// allocator. They have the same access: two writable tables are
    /// disjoint by construction (each holds an exclusive proof of its
    /// bytes), so their join is too. A table that owns its
    /// [`Pages`](sg_core::Pages) is not [`SameSource`] with anything: its
    /// pages would be given back while the joined table names them.
    ///
    /// # The link's slot
    ///
    /// A link takes the last slot of an array, and this table's last array
    /// holds its last data entry there unless the array has room:
    ///
    /// - one unused slot (the last): the link goes there; nothing is
    ///   allocated or moved;
    /// - no unused slot (a table from [`new`](Self::new) ends this way):
    ///   the last data entry moves to a new array of two slots, itself and
    ///   the link; one small array is allocated, one entry moved;
    /// - two or more unused slots (a table from pages whose last array was
    ///   sized for pages that did not come): the entries of that last array
    ///   (at most one array's worth) move to a new array of exactly their
    ///   count plus the link, which replaces it; finding the array that
    ///   links to it walks the table's links, one step per array.
    ///
    /// `other`'s entries are never copied, except when `other`'s first
    /// array is a caller's [`FirstChunk`](crate::FirstChunk): the joined
    /// table cannot give that array back, so its slots move to a new array
    /// from the allocator, and the first chunk is emptied and released.
    /// A first array of this table stays where it is (unless the third case
    /// above replaces it).
    ///
    /// # Errors
    ///
    /// The join does not happen, `other` comes back in the [`JoinError`],
    /// and this table is unchanged: [`JoinFailure::DifferentProvider`] and
    /// [`JoinFailure::DifferentChunks`] when the tables do not share them;
    /// [`JoinFailure::Error`] with what the allocator returns when a new
    /// array cannot be had ([`Error::ChunkTooLarge`] for a first chunk of
    /// `other` larger than the allocator serves), or [`Error::Overflow`]
    /// when the joined counts overflow.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::{SgTable, split};
    /// use sg_core::{Pages, VirtPages};
    ///
    /// let mut table = SgTable::from_pages(Pages::alloc(VirtPages::new(), 1)?, 0, 8192)?;
    /// let mut pieces = split(table.as_list_mut(), 0, &[512, 4096])?;
    /// let body = pieces.pop().unwrap();
    /// let mut header = pieces.pop().unwrap();
    /// header.join(body).map_err(|failed| failed.reason())?;
    /// let lengths: Vec<u32> = header.as_list().iter().map(|entry| entry.len()).collect();
    /// assert_eq!(lengths, [512, 4096]);
    /// assert_eq!(header.byte_len(), 4608);
    /// assert!(header.as_list().last_of(2)?.is_last());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "sglist_join")]
    #[doc(alias = "sglist_append_sglist")]
    pub fn join(&mut self, other: SgTable<P, C, A>) -> Result<(), JoinError<P, C, A>> {
        // Called as `P`'s and `C`'s own checks (for a reference type, the
        // reference's identity).
        if !P::is_same_source(self.provider(), other.provider()) {
            return Err(JoinError {
                reason: JoinFailure::DifferentProvider,
                table: other,
            });
        }
        if !C::is_same_source(self.chunk_allocator(), other.chunk_allocator()) {
            return Err(JoinError {
                reason: JoinFailure::DifferentChunks,
                table: other,
            });
        }
        // The allocators are the same source, so `other`'s arrays may be
        // given back to this table's allocator.
        self.append_arrays(other)
            .map_err(|(error, table)| JoinError {
                reason: JoinFailure::Error(error),
                table,
            })
    }
}

impl<P, C, A> SgTable<P, C, A>
where
    P: PageProvider,
    C: ChunkAllocator<P::Page>,
    A: Access,
{
    /// A copy of the table in new arrays from `chunks`, entry for entry
    /// (FreeBSD's `sglist_clone`).
    ///
    /// The clone has the same entries (pages, offsets, lengths, in order,
    /// empty entries included) and maps them through this table's provider,
    /// which it borrows. It carries no DMA fields. Its arrays are its own,
    /// as large as `chunks` serves. Cloning never duplicates ownership or
    /// rights: the clone is read-only ([`Read`]) and borrows this table, so
    /// the original cannot be written or dropped while the clone lives.
    ///
    /// # Errors
    ///
    /// What `chunks` returns when an array cannot be had (every array taken
    /// is given back; the original is untouched).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::{ChunkPool, SgTable};
    /// use sg_core::{Pages, VirtPage, VirtPages};
    ///
    /// let mut pages = Pages::alloc(VirtPages::new(), 1)?;
    /// pages.reverse();
    /// let table = SgTable::from_pages(pages, 0, 8192)?;
    /// let pool = ChunkPool::<VirtPage>::new(1)?;
    /// let copy = table.clone_in(&pool)?;
    /// assert_eq!(copy.byte_len(), table.byte_len());
    /// assert!(copy.as_list().iter().eq(table.as_list().iter()));
    /// assert_eq!(copy.as_list().count(), 2);
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    ///
    /// A clone does not give a second writer:
    ///
    /// ```compile_fail,E0502
    /// use sg_alloc::SgTable;
    /// use sg_core::{HeapChunks, Pages, VirtPages};
    ///
    /// let mut original = SgTable::from_pages(Pages::alloc(VirtPages::new(), 0).unwrap(), 0, 4096).unwrap();
    /// let copy = original.clone_in(HeapChunks::new()).unwrap();
    /// // Rule: a clone is read-only and borrows the original.
    /// let writer = sg_iter::MappingIterMut::new(original.as_list_mut());
    /// let reader = sg_iter::MappingIter::new(copy.as_list());
    /// drop((writer, reader));
    /// ```
    #[doc(alias = "sglist_clone")]
    pub fn clone_in<D: ChunkAllocator<P::Page>>(
        &self,
        chunks: D,
    ) -> Result<SgTable<&P, D, Read>, Error> {
        let mut copy = SgTable::new_in(self.provider(), self.orig_nents(), chunks)?;
        for (mut entry, source) in copy.entries_mut().zip(self.as_list().iter()) {
            if let Some(page) = source.page() {
                // SAFETY: the same bytes as an entry of this table, which
                // its maker vouched for with this provider; the copy borrows
                // the table, and is made read-only below, so nothing writes
                // them while it lives.
                unsafe { entry.set_page(page, source.offset(), source.len()) };
            }
        }
        Ok(copy.into_read_only())
    }

    /// A copy of the table in new arrays from `chunks`, with neighbouring
    /// entries merged where their bytes continue each other.
    ///
    /// An entry merges into the one before it when the one before ends at
    /// the end of a page, the entry starts at the start of the next frame,
    /// and the merged length fits a `u32` (the same rule the builders from
    /// pages and the mapping iterators use: entries that meet inside a page
    /// may be separate allocations and never merge). Entries of zero
    /// length are left out; a table without a byte gives a clone of one
    /// empty entry. Otherwise as [`clone_in`](Self::clone_in).
    ///
    /// # Errors
    ///
    /// As [`clone_in`](Self::clone_in).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_alloc::SgTable;
    /// use sg_core::{HeapChunks, PageProvider, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let run = pages.alloc_pages(1)?; // two contiguous pages
    /// let mut table = SgTable::new(&pages, 3)?;
    /// let mut entries = table.entries_mut();
    /// // SAFETY: bytes of the pages allocated above, in no other list.
    /// unsafe {
    ///     entries.next().unwrap().set_page(run, 4000, 96); // to the end of page 0
    ///     entries.next().unwrap().set_page(pages.nth(run, 1), 0, 100); // continues it
    ///     entries.next().unwrap().set_page(run, 0, 10); // does not
    /// }
    /// let merged = table.clone_merged_in(HeapChunks::new())?;
    /// let lengths: Vec<u32> = merged.as_list().iter().map(|entry| entry.len()).collect();
    /// assert_eq!(lengths, [196, 10]);
    /// assert_eq!(merged.byte_len(), table.byte_len());
    /// # drop(merged);
    /// # drop(table);
    /// # // SAFETY: allocated above with order 1; the tables are gone.
    /// # unsafe { pages.free_pages(run, 1) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sglist_clone")]
    pub fn clone_merged_in<D: ChunkAllocator<P::Page>>(
        &self,
        chunks: D,
    ) -> Result<SgTable<&P, D, Read>, Error> {
        let list = self.as_list();
        let count = Runs::new(list).count().max(1);
        let mut copy = SgTable::new_in(self.provider(), count, chunks)?;
        for (mut entry, run) in copy.entries_mut().zip(Runs::new(list)) {
            // SAFETY: the run's bytes are those of entries of this table
            // that continue each other across page boundaries in
            // consecutive frames, so they are the bytes `offset..offset +
            // length` of the run of frames from `page` (frame numbers are
            // truthful); their makers vouched for them, and the copy maps
            // them through this table's provider, and the copy borrows the
            // table and is made read-only below, so nothing writes them
            // while it lives.
            unsafe { entry.set_page(run.page, run.offset, run.length) };
        }
        Ok(copy.into_read_only())
    }
}

/// A run of merged entries: the first entry's page and offset, and the
/// length of them all.
#[derive(Clone, Copy, Debug)]
struct Run<Pg> {
    page: Pg,
    offset: u32,
    length: u32,
}

/// The runs of a table's entries: neighbours whose bytes continue each
/// other at a page boundary in consecutive frames, up to `u32::MAX` bytes.
struct Runs<'a, P: PageProvider> {
    provider: &'a P,
    segments: Segments<'a, P::Page>,
    /// The next segment, read ahead while looking for the end of a run.
    ahead: Option<Run<P::Page>>,
}

impl<'a, P: PageProvider> Runs<'a, P> {
    fn new(list: SgList<'a, P>) -> Self {
        Runs {
            provider: list.provider(),
            segments: list.segments(),
            ahead: None,
        }
    }

    /// The next entry with bytes, as a run of one.
    fn next_segment(&mut self) -> Option<Run<P::Page>> {
        if let Some(run) = self.ahead.take() {
            return Some(run);
        }
        // A table's view is not a byte-range slice, so each segment is a
        // whole entry: its offset is the entry's, a u32.
        self.segments.next().map(|segment| Run {
            page: segment.page,
            offset: segment.entry.offset(),
            length: segment.len,
        })
    }

    /// Whether `next` starts where `run` ends: at a page boundary, in the
    /// next frame.
    fn continues(&self, run: Run<P::Page>, next: Run<P::Page>) -> bool {
        let page_size = P::PAGE_SIZE as u64;
        let end = u64::from(run.offset) + u64::from(run.length);
        if end % page_size != 0 || u64::from(next.offset) % page_size != 0 {
            return false;
        }
        // Page indices from each entry's page: below 2^33 / 64.
        let (end_index, next_index) = (end / page_size, u64::from(next.offset) / page_size);
        if end_index >= next_index {
            self.provider
                .is_next(run.page, (end_index - next_index) as usize, next.page)
        } else {
            self.provider
                .is_next(next.page, (next_index - end_index) as usize, run.page)
        }
    }
}

impl<P: PageProvider> Iterator for Runs<'_, P> {
    type Item = Run<P::Page>;

    fn next(&mut self) -> Option<Run<P::Page>> {
        let mut run = self.next_segment()?;
        while let Some(next) = self.next_segment() {
            let merged = run.length.checked_add(next.length);
            match merged {
                Some(length) if self.continues(run, next) => run.length = length,
                _ => {
                    self.ahead = Some(next);
                    break;
                }
            }
        }
        Some(run)
    }
}
