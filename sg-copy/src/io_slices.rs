//! A list's bytes as `IoSlice`s and `IoSliceMut`s for vectored system calls.
//!
//! Every piece of the list is mapped at once, the pieces are handed to a
//! closure, and every mapping is released when the closure returns (or
//! unwinds). The closure is generic over the slices' lifetime, so no slice
//! can outlive its mapping.

use std::io::{IoSlice, IoSliceMut};
use std::vec::Vec;

use sg_core::{Access, Error, ListView, MappedBytes, PageProvider, SgList, SgListMut};

use crate::runs::page_under;

/// One mapped piece of a list: its guard, and the index of its entry among
/// the view's entries with bytes.
struct Piece<'a, P: PageProvider, A: Access> {
    entry: usize,
    mapped: MappedBytes<'a, P, A>,
}

/// The pieces the `len` bytes at `offset` from an entry's page are cut
/// into, as (offset, length) pairs: one piece on a linear provider (two
/// for more than `isize::MAX` bytes, on 32-bit targets, since a slice may
/// hold no more), one per page touched otherwise. The one rule of how a
/// list becomes io slices: [`map_all`] maps these pieces, and the file
/// calls count them.
pub(crate) fn cut(
    mut offset: u64,
    len: u64,
    linear: bool,
    page_size: u64,
) -> impl Iterator<Item = (u64, u64)> {
    let mut left = len;
    core::iter::from_fn(move || {
        if left == 0 {
            return None;
        }
        let piece = if linear {
            left.min(isize::MAX as u64)
        } else {
            left.min(page_size - offset % page_size)
        };
        let at = offset;
        offset += piece;
        left -= piece;
        Some((at, piece))
    })
}

/// Maps every byte of `list`: one piece per entry on a linear provider,
/// one per page of each entry otherwise. Every piece is released (flushed
/// first, for a writable view) when the vector drops, also when a mapping
/// or a flush panics.
fn map_all<'a, V: ListView<'a>>(list: V) -> Vec<Piece<'a, V::Provider, V::Access>> {
    let list = list.into_list();
    let provider = list.provider();
    let page_size = <V::Provider as PageProvider>::PAGE_SIZE as u64;
    let linear = provider.is_linear();
    let mut pieces = Vec::new();
    for (entry, segment) in list.segments().enumerate() {
        for (offset, len) in cut(segment.offset, u64::from(segment.len), linear, page_size) {
            let (page, start) = page_under(provider, segment.page, offset);
            // SAFETY: `len` bytes of one entry of the view, in `page` or,
            // on a linear provider, in the consecutive frames of the
            // entry's run; at most `isize::MAX`. The view keeps them
            // unwritten (shared) or reached only through these guards
            // (exclusive); guards of overlapping entries hand out no slice
            // (`with_io_slices_mut` checks first).
            let mapped = unsafe { MappedBytes::new(provider, page, start, len as usize) };
            pieces.push(Piece { entry, mapped });
        }
    }
    pieces
}

/// The first two pieces whose bytes overlap, as entry indices.
fn overlap<P: PageProvider, A: Access>(pieces: &[Piece<'_, P, A>]) -> Option<(usize, usize)> {
    let mut ranges: Vec<(usize, usize, usize)> = pieces
        .iter()
        .map(|piece| (piece.mapped.address(), piece.mapped.len(), piece.entry))
        .collect();
    ranges.sort_unstable();
    ranges.windows(2).find_map(|pair| {
        let ((start, len, first), (next_start, _, second)) = (pair[0], pair[1]);
        (start + len > next_start).then_some((first.min(second), first.max(second)))
    })
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
    const { assert!(!P::SHARED, "io slices are slices: not of a shared provider") };
    let pieces = map_all(list);
    let slices: Vec<IoSlice<'_>> = pieces
        .iter()
        .map(|piece| IoSlice::new(piece.mapped.bytes()))
        .collect();
    let result = body(&slices);
    // Released before `result` is returned: a panicking `unmap` then drops
    // `result` while unwinding (a return value already moved out would
    // leak, rust-lang/rust#47949).
    drop(slices);
    drop(pieces);
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
    const { assert!(!P::SHARED, "io slices are slices: not of a shared provider") };
    let mut pieces = map_all(list);
    if let Some((first, second)) = overlap(&pieces) {
        return Err(Error::Overlap { first, second });
    }
    // No two pieces overlap (checked above), so each guard may hand out
    // its slice.
    let mut slices: Vec<IoSliceMut<'_>> = pieces
        .iter_mut()
        .map(|piece| IoSliceMut::new(piece.mapped.bytes_mut()))
        .collect();
    let result = body(&mut slices);
    // Released before `result` is returned, as in `with_io_slices`.
    drop(slices);
    drop(pieces);
    Ok(result)
}
