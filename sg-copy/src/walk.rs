//! A position in a list, and the io-slice pieces from it on: the walk
//! shared by the batched vectored calls, the `bytes` adapters and the
//! io_uring submissions. Pieces are cut by [`cut`], the one rule of how a
//! list becomes io slices.

use sg_core::{PageProvider, SgList, run_continues};

use crate::io_slices::cut;
use crate::runs::page_under;

/// The most bytes entries are joined into (one entry alone may be longer,
/// as before any joining): 1 GiB, the largest buffer the kernel registers
/// as a fixed buffer, so a joined piece is always one `READ_FIXED` or
/// `WRITE_FIXED` with a `u32` length.
const MAX_JOINED: u64 = 1 << 30;

/// One piece of a list: the page to map, where its bytes start in that
/// mapping, and how many there are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Piece<Pg> {
    /// The page to map (the first page of the run on a linear provider).
    pub(crate) page: Pg,
    /// Where the bytes start, counted from the page's first byte (a page
    /// or more only on a linear provider).
    pub(crate) start: usize,
    /// How many bytes: at least 1, at most `isize::MAX`.
    pub(crate) len: usize,
}

/// A position in a list: the view of the list from there on.
///
/// Moving on seeks in that view (a block of entries per step in the
/// middle of an array), so a batch that went out whole costs a sum of
/// lengths to pass, not a second walk of its segments.
pub(crate) struct Walk<'a, P: PageProvider> {
    linear: bool,
    /// The bytes from the position on.
    rest: SgList<'a, P>,
    /// The most bytes entries are joined into: [`MAX_JOINED`] (less in
    /// tests).
    max_joined: u64,
}

impl<P: PageProvider> Clone for Walk<'_, P> {
    fn clone(&self) -> Self {
        Walk {
            linear: self.linear,
            rest: self.rest,
            max_joined: self.max_joined,
        }
    }
}

impl<'a, P: PageProvider> Walk<'a, P> {
    /// The position of the first byte of `list`.
    ///
    /// Every user of a walk (vectored batches, io_uring submissions, the
    /// `Buf` adapters) lends the pieces as slices or io slices, so a shared
    /// provider's list is refused here, at compile time.
    pub(crate) fn new(list: SgList<'a, P>) -> Self {
        const {
            assert!(
                !P::SHARED,
                "vectored I/O, io_uring and Buf lend slices: not of a shared provider"
            )
        };
        Walk {
            linear: list.provider().is_linear(),
            rest: list,
            max_joined: MAX_JOINED,
        }
    }

    /// The list's provider.
    pub(crate) fn provider(&self) -> &'a P {
        self.rest.provider()
    }

    /// Whether the position is the end of the list: no byte is left.
    pub(crate) fn at_end(&self) -> bool {
        self.rest.segments().next().is_none()
    }

    /// The pieces from the position on, in order.
    ///
    /// On a linear provider, neighbouring entries whose bytes continue each
    /// other across a page boundary, as the provider's `is_next` vouches
    /// ([`run_continues`]), are one piece: one iovec for the kernel, one
    /// fixed buffer, one `Buf` chunk. Addresses alone never join entries
    /// (two allocations may be neighbours), and a joined piece holds at
    /// most [`MAX_JOINED`] bytes. Otherwise each page an entry touches is a
    /// piece of its own.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = Piece<P::Page>> + use<'a, P> {
        let provider = self.provider();
        let linear = self.linear;
        let max_joined = self.max_joined;
        let mut segments = self.rest.segments().peekable();
        // Runs: (first page, offset from it, bytes).
        let runs = core::iter::from_fn(move || {
            let first = segments.next()?;
            let mut len = u64::from(first.len);
            if linear {
                let (mut end_page, mut end_offset) = (first.page, first.offset + len);
                while let Some(next) = segments.next_if(|next| {
                    len + u64::from(next.len) <= max_joined
                        && run_continues(provider, end_page, end_offset, next.page, next.offset)
                }) {
                    len += u64::from(next.len);
                    (end_page, end_offset) = (next.page, next.offset + u64::from(next.len));
                }
            }
            Some((first.page, first.offset, len))
        });
        runs.flat_map(move |(page, offset, len)| {
            // The page size is named in each closure, not captured: a
            // captured copy lives in the iterator's state, where the
            // compiler no longer sees a power of two, and divides.
            cut(offset, len, linear, P::PAGE_SIZE as u64).map(move |(offset, len)| {
                // The offset lies in a run the address space holds (one
                // entry's, or entries joined into one piece of memory); a
                // piece holds at most `isize::MAX` bytes.
                let (page, start) = page_under(provider, page, offset);
                Piece {
                    page,
                    start,
                    len: len as usize,
                }
            })
        })
    }

    /// Joins entries into pieces of at most `bytes` bytes from now on.
    #[cfg(test)]
    pub(crate) fn set_max_joined(&mut self, bytes: u64) {
        self.max_joined = bytes;
    }

    /// Moves the position `bytes` further (to the end at most).
    pub(crate) fn advance(&mut self, bytes: u64) {
        self.rest = self.rest.skip_bytes(bytes);
    }
}
