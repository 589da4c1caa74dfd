//! [`bytes::Buf`] over a list and [`bytes::BufMut`] over a writable list,
//! so that decoders (`tokio_util` codecs, `prost`) read straight out of a
//! table and encoders write straight into one.

use core::fmt;

use bytes::buf::UninitSlice;
use bytes::{Buf, BufMut};
use sg_core::{Access, ListView, MappedBytes, PageProvider, SgList, SgListMut};

use crate::walk::Walk;

/// The walk shared by [`ListBuf`] and [`ListBufMut`]: the mapped piece at
/// the position, and the walk after it.
///
/// # Invariants
///
/// `remaining` is the number of bytes from the position to the end of the
/// list. When it is not 0, `current` is the mapped piece the position
/// lies in and `into < current.len()`; `walk` stands at the end of that
/// piece. Only this value reaches the view's bytes.
struct Reach<'a, P: PageProvider, A: Access> {
    walk: Walk<'a, P>,
    current: Option<MappedBytes<'a, P, A>>,
    into: usize,
    remaining: u64,
}

impl<'a, P: PageProvider, A: Access> Reach<'a, P, A> {
    /// The first byte of `list`.
    fn new<V: ListView<'a, Provider = P, Access = A>>(list: V) -> Self {
        let list = list.into_list();
        let mut reach = Reach {
            walk: Walk::new(list),
            current: None,
            into: 0,
            remaining: list.byte_len(),
        };
        reach.map_next();
        reach
    }

    /// Releases the current piece and maps the next one, if any.
    fn map_next(&mut self) {
        // Released first: one mapping at a time, and a writing guard's
        // bytes are no longer reached when the next one maps.
        self.current = None;
        self.into = 0;
        let Some(piece) = self.walk.pieces().next() else {
            return;
        };
        self.walk.advance(piece.len as u64);
        // SAFETY: the piece is `piece.len` bytes (at most `isize::MAX`) of
        // the view this value was made from and consumed for `'a`, in
        // `piece.page` or, on a linear provider, in the frames of one
        // entry's run or of entries `is_next` joins into one run; the view
        // keeps them unwritten (shared) or
        // reached only through this value (exclusive), which holds one
        // guard at a time.
        self.current = Some(unsafe {
            MappedBytes::new(self.walk.provider(), piece.page, piece.start, piece.len)
        });
        // INVARIANT: the position is the start of the new piece.
    }

    /// Moves the position `count` bytes on.
    ///
    /// # Panics
    ///
    /// When `count` is more than the bytes remaining, as `bytes` asks.
    fn advance(&mut self, mut count: usize) {
        assert!(
            count as u64 <= self.remaining,
            "advance past the end of the list: {count} bytes asked, {} remaining",
            self.remaining
        );
        self.remaining -= count as u64;
        while count > 0 {
            let Some(current) = &self.current else {
                return;
            };
            let left = current.len() - self.into;
            if count < left {
                self.into += count;
                return;
            }
            count -= left;
            // INVARIANT: the piece is used up; the next one (if any)
            // starts at the position.
            self.map_next();
        }
    }
}

/// Reads a list's bytes through [`bytes::Buf`]: `chunk` is the rest of
/// the piece at the position, with no copy.
///
/// Each chunk is one piece (on a linear provider an entry, or neighbouring
/// entries whose pages the provider's `is_next` vouches for as one piece
/// of memory, up to 1 GiB; the part of a page otherwise), mapped while the reader stands in it. The `Buf` rules
/// hold: `remaining` is exact, `chunk` is empty only at the end, and
/// `advance` past the end panics.
///
/// # Why the chunks are sound on every provider
///
/// `Buf::chunk` returns a `&[u8]` borrowed from `&self`, so the bytes must
/// stay mapped for as long as the reader is borrowed. The reader therefore
/// owns the mapping of the piece its position lies in (a
/// [`MappedBytes`] guard of one piece: entries joined as above, or an
/// entry, on a linear provider; a page otherwise): the
/// chunk borrows the guard through `&self`, and only
/// [`advance`](bytes::Buf::advance), which takes `&mut self` and so ends
/// every chunk's borrow first, replaces it. One piece is mapped at a
/// time; crossing into the next costs one unmap and one map, which is
/// nothing on a linear provider. The writer does the same with a writing
/// guard, which flushes each piece when it is left.
///
/// # Examples
///
/// ```
/// use bytes::Buf;
/// use sg_alloc::SliceTable;
/// use sg_copy::ListBuf;
///
/// // A length-prefixed message split across three buffers.
/// let (mut a, mut b, mut c) = (*b"\x00\x00", *b"\x00\x05hel", *b"lo!");
/// let mut iov: [&mut [u8]; 3] = [&mut a, &mut b, &mut c];
/// let table = SliceTable::new(&mut iov)?;
/// let mut buf = ListBuf::new(table.as_list());
/// let len = buf.get_u32() as usize;
/// let body = buf.copy_to_bytes(len);
/// assert_eq!((&body[..], buf.remaining(), buf.chunk()), (&b"hello"[..], 1, &b"!"[..]));
/// # Ok::<(), sg_core::Error>(())
/// ```
pub struct ListBuf<'a, P: PageProvider> {
    reach: Reach<'a, P, sg_core::Read>,
}

impl<'a, P: PageProvider> ListBuf<'a, P> {
    /// A reader at the first byte of `list`.
    pub fn new(list: SgList<'a, P>) -> Self {
        ListBuf {
            reach: Reach::new(list),
        }
    }
}

impl<P: PageProvider> Buf for ListBuf<'_, P> {
    fn remaining(&self) -> usize {
        usize::try_from(self.reach.remaining).unwrap_or(usize::MAX)
    }

    fn chunk(&self) -> &[u8] {
        match &self.reach.current {
            Some(current) => &current.bytes()[self.reach.into..],
            None => &[],
        }
    }

    fn advance(&mut self, count: usize) {
        self.reach.advance(count);
    }
}

impl<P: PageProvider> fmt::Debug for ListBuf<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListBuf")
            .field("remaining", &self.reach.remaining)
            .finish_non_exhaustive()
    }
}

/// Writes a list's bytes through [`bytes::BufMut`]: `chunk_mut` is the
/// rest of the piece at the position, with no copy.
///
/// Pieces and their mappings are as in [`ListBuf`]; a written piece is
/// flushed through the provider when the writer leaves it (or drops). The
/// list has a fixed length: `remaining_mut` is exactly the bytes left, and
/// `chunk_mut` is empty only at the end. The list's bytes are initialised
/// memory, so every byte of a chunk is, too.
///
/// # Examples
///
/// ```
/// use bytes::BufMut;
/// use sg_alloc::SliceTable;
/// use sg_copy::ListBufMut;
///
/// let (mut a, mut b) = ([0u8; 3], [0u8; 6]);
/// let mut iov: [&mut [u8]; 2] = [&mut a, &mut b];
/// let mut table = SliceTable::new(&mut iov)?;
/// let mut buf = ListBufMut::new(table.as_list_mut());
/// buf.put_u32(5);
/// buf.put_slice(b"hello");
/// assert_eq!(buf.remaining_mut(), 0);
/// drop(buf);
/// drop(table);
/// assert_eq!((&a, &b), (b"\x00\x00\x00", b"\x05hello"));
/// # Ok::<(), sg_core::Error>(())
/// ```
pub struct ListBufMut<'a, P: PageProvider> {
    reach: Reach<'a, P, sg_core::Write>,
}

impl<'a, P: PageProvider> ListBufMut<'a, P> {
    /// A writer at the first byte of `list`.
    pub fn new(list: SgListMut<'a, P>) -> Self {
        ListBufMut {
            reach: Reach::new(list),
        }
    }
}

// SAFETY: `remaining_mut` is exact and `advance_mut` moves by exactly the
// count given (it panics past the end); `chunk_mut` hands out the bytes of
// the piece at the position, which the writing guard alone reaches.
unsafe impl<P: PageProvider> BufMut for ListBufMut<'_, P> {
    fn remaining_mut(&self) -> usize {
        usize::try_from(self.reach.remaining).unwrap_or(usize::MAX)
    }

    unsafe fn advance_mut(&mut self, count: usize) {
        self.reach.advance(count);
    }

    fn chunk_mut(&mut self) -> &mut UninitSlice {
        let into = self.reach.into;
        match &mut self.reach.current {
            Some(current) => UninitSlice::new(&mut current.bytes_mut()[into..]),
            None => UninitSlice::new(&mut []),
        }
    }
}

impl<P: PageProvider> fmt::Debug for ListBufMut<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListBufMut")
            .field("remaining", &self.reach.remaining)
            .finish_non_exhaustive()
    }
}
