//! The walk under a mapping iterator: where the next mapping starts and
//! how far it may reach. Safe code: nothing here maps or touches bytes.

use sg_core::{PageProvider, Segment, Segments, SgList, run_continues};

/// Longest slice a mapping exposes: a slice may not exceed `isize::MAX`
/// bytes (which only matters for linear runs on 32-bit targets).
const MAX_MAPPING: u64 = isize::MAX as u64;

/// How many bytes one mapping may cover.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Span {
    /// Up to the end of the page under the position, or of the entry.
    Page,
    /// Up to the end of the entry (linear providers only).
    Entry,
    /// Up to the end of the run of entries whose bytes follow each other in
    /// consecutive frames (linear providers only).
    Adjacent,
}

/// The part of the current entry not yet passed.
#[derive(Clone, Copy)]
struct Piece<Pg: Copy> {
    /// The entry's page.
    page: Pg,
    /// Offset of the first byte not passed, from the start of `page`.
    offset: u64,
    /// Bytes of the entry in the view not passed yet (0 when the entry is
    /// used up).
    left: u64,
}

impl<Pg: Copy> From<Segment<'_, Pg>> for Piece<Pg> {
    #[inline]
    fn from(segment: Segment<'_, Pg>) -> Self {
        Piece {
            page: segment.page,
            offset: segment.offset,
            left: u64::from(segment.len),
        }
    }
}

/// The next bytes to map, as [`Walk::next_run`] finds them.
pub(super) struct Run<Pg> {
    /// The page to map.
    pub(super) page: Pg,
    /// Where the bytes start in it.
    pub(super) start: usize,
    /// How many bytes: at least 1 and at most `isize::MAX`.
    pub(super) len: usize,
}

/// A position in a view, and how far mappings from it may reach.
pub(super) struct Walk<'a, P: PageProvider> {
    /// The whole view, to start again.
    list: SgList<'a, P>,
    /// Segments after the current piece.
    segments: Segments<'a, P::Page>,
    piece: Option<Piece<P::Page>>,
    /// Bytes of the view passed before the current piece's offset.
    position: u64,
    span: Span,
    /// In `Span::Adjacent`, the view position where the last scanned run of
    /// adjacent entries ends; a mapping that starts before it may reach it
    /// without scanning again.
    run_end: u64,
}

impl<'a, P: PageProvider> Walk<'a, P> {
    #[inline]
    pub(super) fn new(list: SgList<'a, P>) -> Self {
        Walk {
            list,
            segments: list.segments(),
            piece: None,
            position: 0,
            span: if list.provider().is_linear() {
                Span::Entry
            } else {
                Span::Page
            },
            run_end: 0,
        }
    }

    /// The view walked.
    #[inline]
    pub(super) fn list(&self) -> SgList<'a, P> {
        self.list
    }

    /// Back to the view's first byte.
    pub(super) fn rewind(&mut self) {
        self.segments = self.list.segments();
        self.piece = None;
        self.position = 0;
        self.run_end = 0;
    }

    /// Chooses how far mappings reach; wider spans only on linear providers.
    pub(super) fn set_span(&mut self, span: Span) {
        if span == Span::Page || self.list.provider().is_linear() {
            self.span = span;
            self.run_end = 0;
        }
    }

    #[inline]
    pub(super) fn span(&self) -> Span {
        self.span
    }

    /// Bytes of the view passed.
    #[inline]
    pub(super) fn position(&self) -> u64 {
        self.position
    }

    /// Moves `bytes` forward; false when the view ends first (then
    /// everything is passed).
    #[inline]
    pub(super) fn pass(&mut self, mut bytes: u64) -> bool {
        loop {
            if let Some(piece) = &mut self.piece {
                let step = bytes.min(piece.left);
                piece.offset += step;
                piece.left -= step;
                self.position += step;
                bytes -= step;
            }
            if bytes == 0 {
                return true;
            }
            match self.segments.next() {
                Some(segment) => self.piece = Some(segment.into()),
                None => {
                    self.piece = None;
                    return false;
                }
            }
        }
    }

    /// Moves past `bytes` bytes of a run [`next_run`](Self::next_run)
    /// returned (at most its length).
    #[inline(always)]
    pub(super) fn pass_run(&mut self, bytes: u64) {
        match &mut self.piece {
            // The usual case: the run lay in the current piece.
            Some(piece) if bytes <= piece.left => {
                piece.offset += bytes;
                piece.left -= bytes;
                self.position += bytes;
            }
            _ => {
                self.pass(bytes);
            }
        }
    }

    /// The bytes from the position to where one mapping may reach, or
    /// `None` at the end of the view; the position does not move.
    ///
    /// The run's bytes are bytes of the view: in `page`, or, on a linear
    /// provider, in the run of consecutive frames from `page` that one
    /// mapping reaches (the rest of one entry, whose pages are consecutive
    /// frames, or following entries that [`run_continues`] joins).
    #[inline(always)]
    pub(super) fn next_run(&mut self) -> Option<Run<P::Page>> {
        let piece = match self.piece {
            Some(piece) if piece.left > 0 => piece,
            _ => {
                // Segments hold at least one byte each.
                let piece = Piece::from(self.segments.next()?);
                self.piece = Some(piece);
                piece
            }
        };
        let page_size = P::PAGE_SIZE as u64;
        // Offsets are below 2^33 and pages at least 64 bytes: the index fits
        // in 27 bits, the in-page offset below `PAGE_SIZE`.
        let index = (piece.offset / page_size) as usize;
        let start = (piece.offset % page_size) as usize;
        let page = if index == 0 {
            piece.page
        } else {
            self.list.provider().nth(piece.page, index)
        };
        let len = match self.span {
            Span::Page => piece.left.min(page_size - start as u64),
            Span::Entry => piece.left.min(MAX_MAPPING),
            Span::Adjacent => self.adjacent_len(piece),
        };
        Some(Run {
            page,
            start,
            // At most `MAX_MAPPING` or a page, so it fits.
            len: len as usize,
        })
    }

    /// Bytes from the position to the end of the run of entries whose bytes
    /// follow the current piece's in consecutive frames, at most
    /// `MAX_MAPPING`.
    fn adjacent_len(&mut self, piece: Piece<P::Page>) -> u64 {
        if self.position < self.run_end {
            return self.run_end - self.position;
        }
        let provider = self.list.provider();
        let mut len = piece.left;
        let mut end_page = piece.page;
        let mut end_offset = piece.offset + piece.left;
        let mut ahead = self.segments.clone();
        while len < MAX_MAPPING {
            let Some(next) = ahead.next() else { break };
            // Only page boundaries join entries (see `run_continues`).
            if !run_continues(provider, end_page, end_offset, next.page, next.offset) {
                break;
            }
            len += u64::from(next.len);
            end_page = next.page;
            end_offset = next.offset + u64::from(next.len);
        }
        let len = len.min(MAX_MAPPING);
        self.run_end = self.position + len;
        len
    }
}
