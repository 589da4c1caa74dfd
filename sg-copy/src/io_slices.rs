//! A list's bytes as `IoSlice`s and `IoSliceMut`s for vectored system calls.
//!
//! Every piece of the list is mapped at once, the pieces are handed to a
//! closure, and every mapping is released when the closure returns (or
//! unwinds). The closure is generic over the slices' lifetime, so no slice
//! can outlive its mapping.

use std::io::{IoSlice, IoSliceMut};
use std::ptr::NonNull;
use std::vec::Vec;

use sg_core::{Error, PageProvider, SgList, SgListMut};

/// One mapped piece of a list: the mapping and the bytes exposed from it.
///
/// # Invariants
///
/// `mapping` came from `provider.map(page)` and is not yet released; the
/// `len` bytes from `mapping + start` are bytes of the list, valid until
/// the mapping is released.
struct Piece<Pg> {
    /// Index of the piece's entry among the view's entries with bytes.
    entry: usize,
    page: Pg,
    mapping: NonNull<u8>,
    start: usize,
    len: usize,
}

impl<Pg> Piece<Pg> {
    fn first_byte(&self) -> *mut u8 {
        // Wrapping: the page's first byte may lie outside the memory the
        // list describes; only the result is known to be in bounds.
        self.mapping.as_ptr().wrapping_add(self.start)
    }
}

/// Every piece of a list, mapped; released (and flushed, when `write`)
/// on drop.
struct Mapped<'a, P: PageProvider> {
    provider: &'a P,
    pieces: Vec<Piece<P::Page>>,
    write: bool,
}

impl<'a, P: PageProvider> Mapped<'a, P> {
    /// Maps every byte of `list`: one piece per entry on a linear provider,
    /// one per page of each entry otherwise.
    fn new(list: SgList<'a, P>, write: bool) -> Self {
        let provider = list.provider();
        let page_size = P::PAGE_SIZE as u64;
        let mut mapped = Mapped {
            provider,
            pieces: Vec::new(),
            write,
        };
        for (entry, segment) in list.segments().enumerate() {
            let mut offset = segment.offset;
            let mut left = u64::from(segment.len);
            while left > 0 {
                // Offsets stay below 2^33 and pages are at least 64 bytes, so
                // the page index fits a usize and the in-page offset a page.
                let page = provider.nth(segment.page, (offset / page_size) as usize);
                let start = (offset % page_size) as usize;
                let len = if provider.is_linear() {
                    // A slice holds at most `isize::MAX` bytes: on 32-bit
                    // targets an entry may be longer, and takes two.
                    left.min(isize::MAX as u64)
                } else {
                    left.min(page_size - start as u64)
                };
                let mapping = provider.map(page);
                // `len` is at most a u32 entry length and `isize::MAX`.
                let len = len as usize;
                mapped.pieces.push(Piece {
                    entry,
                    page,
                    mapping,
                    start,
                    len,
                });
                offset += len as u64;
                left -= len as u64;
            }
        }
        mapped
    }

    /// The first two pieces whose bytes overlap, as entry indices.
    fn overlap(&self) -> Option<(usize, usize)> {
        let mut ranges: Vec<(usize, usize, usize)> = self
            .pieces
            .iter()
            .map(|piece| (piece.first_byte().addr(), piece.len, piece.entry))
            .collect();
        ranges.sort_unstable();
        ranges.windows(2).find_map(|pair| {
            let ((start, len, first), (next_start, _, second)) = (pair[0], pair[1]);
            (start + len > next_start).then_some((first.min(second), first.max(second)))
        })
    }
}

impl<P: PageProvider> Drop for Mapped<'_, P> {
    fn drop(&mut self) {
        for piece in self.pieces.drain(..) {
            if self.write {
                let pages = (piece.start + piece.len).div_ceil(P::PAGE_SIZE);
                for index in 0..pages {
                    self.provider
                        .flush_write(self.provider.nth(piece.page, index));
                }
            }
            // SAFETY: the mapping came from `map(page)` on this provider and
            // is released once (it is drained); the slices over it were
            // handed to a closure that has returned, so none is left.
            unsafe { self.provider.unmap(piece.page, piece.mapping) };
        }
    }
}

/// Calls `body` with the list's bytes as [`IoSlice`]s, for a vectored
/// write (`writev`, `pwritev`, [`Write::write_vectored`](std::io::Write::write_vectored)),
/// and releases every mapping when it returns.
///
/// On a linear provider each entry is one slice (two for an entry longer
/// than `isize::MAX` bytes, on 32-bit targets); otherwise each page of
/// each entry is. Systems accept a limited number of slices per call
/// (`IOV_MAX`, often 1024); split longer lists with [`SgList::slice`] or
/// [`SgList::take_entries`].
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgList, VirtPages};
///
/// let mut head = *b"vectored ";
/// let mut tail = *b"write";
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut head).cast(), 9);
///     entries[1].set_buf(NonNull::from(&mut tail).cast(), 5);
/// }
/// let pages = VirtPages::new();
/// let mut sink = Vec::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let written = sg_copy::with_io_slices(unsafe { SgList::new(&entries, &pages) }, |slices| {
///     assert_eq!(slices.len(), 2);
///     sink.write_vectored(slices)
/// })?;
/// assert_eq!((written, sink.as_slice()), (14, &b"vectored write"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_io_slices<P: PageProvider, R>(
    list: SgList<'_, P>,
    body: impl FnOnce(&[IoSlice<'_>]) -> R,
) -> R {
    let mapped = Mapped::new(list, false);
    let slices: Vec<IoSlice<'_>> = mapped
        .pieces
        .iter()
        .map(|piece| {
            // SAFETY: the `Piece` invariant makes the bytes valid until the
            // mapping is released, which happens when `mapped` drops, after
            // `body` has returned; the slices cannot escape `body` (it is
            // generic over their lifetime); the list's bytes are not written
            // while the shared view lives.
            IoSlice::new(unsafe { std::slice::from_raw_parts(piece.first_byte(), piece.len) })
        })
        .collect();
    let result = body(&slices);
    drop(slices);
    drop(mapped);
    result
}

/// Calls `body` with the list's bytes as [`IoSliceMut`]s, for a vectored
/// read (`readv`, `preadv`, [`Read::read_vectored`](std::io::Read::read_vectored)),
/// and flushes and releases every mapping when it returns.
///
/// Pieces are as in [`with_io_slices`].
///
/// # Errors
///
/// [`Error::Overlap`] when two entries describe some of the same bytes
/// (they cannot be two mutable slices at once); `body` is not called.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgListMut, VirtPages};
///
/// let mut head = [0u8; 3];
/// let mut tail = [0u8; 4];
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut head).cast(), 3);
///     entries[1].set_buf(NonNull::from(&mut tail).cast(), 4);
/// }
/// let pages = VirtPages::new();
/// let mut source: &[u8] = b"readv!!";
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let read = sg_copy::with_io_slices_mut(unsafe { SgListMut::new(&mut entries, &pages) }, |slices| {
///     source.read_vectored(slices)
/// })??;
/// assert_eq!((read, &head, &tail), (7, b"rea", b"dv!!"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_io_slices_mut<P: PageProvider, R>(
    list: SgListMut<'_, P>,
    body: impl FnOnce(&mut [IoSliceMut<'_>]) -> R,
) -> Result<R, Error> {
    let mapped = Mapped::new(list.into_list(), true);
    if let Some((first, second)) = mapped.overlap() {
        return Err(Error::Overlap { first, second });
    }
    let mut slices: Vec<IoSliceMut<'_>> = mapped
        .pieces
        .iter()
        .map(|piece| {
            // SAFETY: as in `with_io_slices`, and the bytes may be written:
            // the view is exclusive, and no two pieces overlap (checked
            // above), so each slice is the only reference to its bytes.
            IoSliceMut::new(unsafe {
                std::slice::from_raw_parts_mut(piece.first_byte(), piece.len)
            })
        })
        .collect();
    let result = body(&mut slices);
    drop(slices);
    drop(mapped);
    Ok(result)
}
