//! A position in a list, and the io-slice pieces from it on: the walk
//! shared by the batched vectored calls, the `bytes` adapters and the
//! io_uring submissions. Pieces are cut by [`cut`], the one rule of how a
//! list becomes io slices.

use core::fmt;

use sg_core::{PageProvider, Segment, Segments, SgList};

use crate::io_slices::cut;

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

/// A position in a list: the segment it lies in and how far into it.
///
/// # Invariants
///
/// `current` is the segment the position lies in (`None` at the end) and
/// `into` is less than its length; `segments` yields the segments after it.
pub(crate) struct Walk<'a, P: PageProvider> {
    provider: &'a P,
    linear: bool,
    segments: Segments<'a, P::Page>,
    current: Option<Segment<'a, P::Page>>,
    into: u64,
}

impl<P: PageProvider> Clone for Walk<'_, P> {
    fn clone(&self) -> Self {
        Walk {
            provider: self.provider,
            linear: self.linear,
            segments: self.segments.clone(),
            current: self.current,
            into: self.into,
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
        let mut segments = list.segments();
        let current = segments.next();
        // INVARIANT: segments have at least one byte; `into` is 0.
        Walk {
            provider: list.provider(),
            linear: list.provider().is_linear(),
            segments,
            current,
            into: 0,
        }
    }

    /// The list's provider.
    pub(crate) fn provider(&self) -> &'a P {
        self.provider
    }

    /// Whether the position is the end of the list.
    pub(crate) fn at_end(&self) -> bool {
        self.current.is_none()
    }

    /// The pieces from the position on, in order.
    pub(crate) fn pieces(&self) -> impl Iterator<Item = Piece<P::Page>> + use<'a, P> {
        let provider = self.provider;
        let linear = self.linear;
        let page_size = P::PAGE_SIZE as u64;
        self.current
            .map(|segment| (segment, self.into))
            .into_iter()
            .chain(self.segments.clone().map(|segment| (segment, 0)))
            .flat_map(move |(segment, into)| {
                cut(
                    segment.offset + into,
                    u64::from(segment.len) - into,
                    linear,
                    page_size,
                )
                .map(move |(offset, len)| Piece {
                    // Offsets stay below 2^33 and pages are at least 64
                    // bytes, so the page index fits a usize and the start
                    // (an in-page offset, or an offset into a run) too; a
                    // piece holds at most `isize::MAX` bytes.
                    page: provider.nth(segment.page, (offset / page_size) as usize),
                    start: (offset % page_size) as usize,
                    len: len as usize,
                })
            })
    }

    /// Moves the position `bytes` further (to the end at most).
    pub(crate) fn advance(&mut self, mut bytes: u64) {
        while bytes > 0 {
            let Some(segment) = self.current else {
                return;
            };
            let left = u64::from(segment.len) - self.into;
            if bytes < left {
                // INVARIANT: still inside the segment.
                self.into += bytes;
                return;
            }
            bytes -= left;
            // INVARIANT: the next segment, from its start.
            self.current = self.segments.next();
            self.into = 0;
        }
    }
}

impl<P: PageProvider> fmt::Debug for Walk<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Walk")
            .field("at_end", &self.at_end())
            .field("into", &self.into)
            .finish_non_exhaustive()
    }
}
