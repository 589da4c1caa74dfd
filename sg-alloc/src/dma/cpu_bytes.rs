//! Copying the bytes of a run of pages to and from a buffer, page by page
//! through sg-core's [`MappedBytes`] guard (which flushes written pages and
//! unmaps, also when a flush panics).

use sg_core::{Access, DmaRun, MappedBytes, PageProvider, Read, Write};

/// One page's share of a run: the page's index in the run (from the run's
/// page), where the bytes start in it, how many there are, and how many of
/// the run's bytes come before them.
struct Piece {
    page_index: usize,
    in_page: usize,
    len: usize,
    done: usize,
}

/// The pieces of `len` bytes starting `offset` bytes after the start of a
/// run's first page, for pages of `page_size` bytes.
fn pieces(offset: u64, len: usize, page_size: usize) -> impl Iterator<Item = Piece> {
    let mut done = 0;
    core::iter::from_fn(move || {
        if done == len {
            return None;
        }
        let position = offset + done as u64;
        // Offsets of entries stay below 2^33 and pages hold at least 64
        // bytes, so page indices fit a usize.
        let page_index = (position / page_size as u64) as usize;
        let in_page = (position % page_size as u64) as usize;
        let piece_len = (page_size - in_page).min(len - done);
        let piece = Piece {
            page_index,
            in_page,
            len: piece_len,
            done,
        };
        done += piece_len;
        Some(piece)
    })
}

/// The page of a piece.
fn page_of<P: PageProvider>(provider: &P, run: &DmaRun<P::Page>, piece: &Piece) -> P::Page {
    if piece.page_index == 0 {
        run.page
    } else {
        provider.nth(run.page, piece.page_index)
    }
}

/// Maps each page's share of the `len` bytes of `run` in turn with the
/// access `A` and hands it to `visit`, with the bytes of the run before it.
///
/// # Safety
///
/// The run is a claim an entry could make (the contract of
/// `SgEntry::set_page`: initialised bytes of pages `provider` holds
/// valid), `len` is at most `run.len`, and nothing writes its bytes during
/// the call; for [`Write`], no reference to them is live and nothing else
/// reads them either.
unsafe fn for_each_piece<P: PageProvider, A: Access>(
    provider: &P,
    run: &DmaRun<P::Page>,
    len: usize,
    mut visit: impl FnMut(&mut MappedBytes<'_, P, A>, usize),
) {
    for piece in pieces(run.offset, len, P::PAGE_SIZE) {
        let page = page_of(provider, run, &piece);
        // SAFETY: the caller vouches for the run's bytes; this piece is
        // `piece.len` of them, inside `page` (`in_page + len` is at most a
        // page), and the guard is the only access to them while it lives.
        let mut mapped = unsafe { MappedBytes::new(provider, page, piece.in_page, piece.len) };
        visit(&mut mapped, piece.done);
    }
}

/// Copies the bytes of `run` into `out`, which is `run.len` bytes long.
///
/// # Safety
///
/// The run is a claim an entry could make (as for `for_each_piece`), and
/// nothing writes its bytes during the call.
pub(super) unsafe fn read_run<P: PageProvider>(
    provider: &P,
    run: &DmaRun<P::Page>,
    out: &mut [u8],
) {
    debug_assert_eq!(out.len(), run.len as usize);
    // SAFETY: the caller's promise, for reads.
    unsafe {
        for_each_piece::<P, Read>(provider, run, out.len(), |mapped, done| {
            // A `memcpy` on a private provider, volatile reads on a shared
            // one (no slice of its bytes is made).
            mapped.read_to(&mut out[done..done + mapped.len()]);
        });
    }
}

/// Copies `bytes`, which is `run.len` bytes long, over the bytes of `run`;
/// each page is flushed before it is unmapped.
///
/// # Safety
///
/// The run is a claim an entry could make (as for `for_each_piece`), no
/// reference to its bytes is live, and nothing else reads or writes them
/// during the call.
pub(super) unsafe fn write_run<P: PageProvider>(provider: &P, run: &DmaRun<P::Page>, bytes: &[u8]) {
    debug_assert_eq!(bytes.len(), run.len as usize);
    // SAFETY: the caller's promise, for writes.
    unsafe {
        for_each_piece::<P, Write>(provider, run, bytes.len(), |mapped, done| {
            let len = mapped.len();
            // A `memcpy` on a private provider, volatile writes on a
            // shared one (no slice of its bytes is made).
            mapped.write_from(&bytes[done..done + len]);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn pieces_follow_page_boundaries() {
        let cut = |offset, len| -> Vec<(usize, usize, usize, usize)> {
            pieces(offset, len, 64)
                .map(|piece| (piece.page_index, piece.in_page, piece.len, piece.done))
                .collect()
        };
        assert_eq!(cut(0, 0), []);
        assert_eq!(cut(10, 20), [(0, 10, 20, 0)]);
        assert_eq!(cut(60, 10), [(0, 60, 4, 0), (1, 0, 6, 4)]);
        assert_eq!(
            cut(130, 140),
            [(2, 2, 62, 0), (3, 0, 64, 62), (4, 0, 14, 126)]
        );
    }
}
