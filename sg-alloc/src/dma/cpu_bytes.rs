//! Copying the bytes of a run of pages to and from a buffer, page by page
//! through the provider's mappings: the one part of the DMA module that
//! turns mappings into slices.

use core::slice;

use sg_core::{DmaRun, PageProvider};

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

/// Copies the bytes of `run` into `out`, which is `run.len` bytes long.
///
/// # Safety
///
/// The run is a claim an entry could make (the contract of
/// `SgEntry::set_page`: initialised bytes of pages `provider` holds
/// valid), and nothing writes its bytes during the call.
pub(super) unsafe fn read_run<P: PageProvider>(
    provider: &P,
    run: &DmaRun<P::Page>,
    out: &mut [u8],
) {
    debug_assert_eq!(out.len(), run.len as usize);
    for piece in pieces(run.offset, out.len(), P::PAGE_SIZE) {
        let page = page_of(provider, run, &piece);
        let mapping = provider.map(page);
        // The page's first byte may lie outside the allocation the run's
        // bytes belong to (a buffer that starts inside a page): step to the
        // bytes with wrapping arithmetic, which keeps the provenance and
        // never claims the bytes in between.
        let first = mapping.as_ptr().wrapping_add(piece.in_page);
        // SAFETY: the mapping reaches, initialised, the bytes of the page
        // that lists describe (the provider's contract), and the caller
        // vouches that the run's bytes are such bytes; `in_page + len` is
        // at most a page; nothing writes them during the call.
        let bytes = unsafe { slice::from_raw_parts(first, piece.len) };
        out[piece.done..piece.done + piece.len].copy_from_slice(bytes);
        // SAFETY: `mapping` came from `map(page)` above and is released
        // once; `bytes` is not used after this.
        unsafe { provider.unmap(page, mapping) };
    }
}

/// Copies `bytes`, which is `run.len` bytes long, over the bytes of `run`.
///
/// # Safety
///
/// The run is a claim an entry could make (as for [`read_run`]), no
/// reference to its bytes is live, and nothing else reads or writes them
/// during the call.
pub(super) unsafe fn write_run<P: PageProvider>(provider: &P, run: &DmaRun<P::Page>, bytes: &[u8]) {
    debug_assert_eq!(bytes.len(), run.len as usize);
    for piece in pieces(run.offset, bytes.len(), P::PAGE_SIZE) {
        let page = page_of(provider, run, &piece);
        let mapping = provider.map(page);
        // As in `read_run`: no arithmetic outside the run's bytes.
        let first = mapping.as_ptr().wrapping_add(piece.in_page);
        // SAFETY: as in `read_run`, the mapping reaches the run's bytes in
        // this page for reads and writes; the caller promises that no other
        // reference to them is live and nothing else touches them.
        let target = unsafe { slice::from_raw_parts_mut(first, piece.len) };
        target.copy_from_slice(&bytes[piece.done..piece.done + piece.len]);
        provider.flush_write(page);
        // SAFETY: `mapping` came from `map(page)` above and is released
        // once; `target` is not used after this.
        unsafe { provider.unmap(page, mapping) };
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
