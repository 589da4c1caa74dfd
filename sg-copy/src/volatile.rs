//! Copies and zeroing for shared providers ([`PageProvider::SHARED`]:
//! guest memory, memory shared with a device): every byte of the list is
//! reached with sg-core's volatile copies ([`sg_core::volatile`]), never
//! through a slice, and every page is mapped with the fallible
//! [`try_map`](PageProvider::try_map), so that a page the provider cannot
//! reach (a guest address in a hole) ends the copy instead of panicking.
//!
//! The public entry points ([`copy_to_slice`](crate::copy_to_slice),
//! [`copy_from_slice`](crate::copy_from_slice), [`zero`](crate::zero),
//! [`copy_list`](crate::copy_list)) branch here on the provider's
//! constant, a branch that folds away for private providers.

use sg_core::volatile::{copy_from_shared, copy_to_shared, fill_shared};
use sg_core::{PageProvider, SgList, SgListMut};

use crate::runs::page_under;

/// Calls `visit` with each piece of up to `len` bytes of `list` from
/// `skip` on: a pointer to its first byte, valid for reads and writes of
/// its length while `visit` runs, its length, and the bytes visited before
/// it. A piece is a segment's bytes on a linear provider, the bytes of one
/// page of a segment otherwise. Flushes every page of a piece after the
/// visit when `writes`. Returns the bytes visited; stops early at a page
/// the provider cannot map.
fn for_each_piece<P: PageProvider>(
    list: SgList<'_, P>,
    mut skip: u64,
    len: u64,
    writes: bool,
    mut visit: impl FnMut(*mut u8, usize, u64),
) -> u64 {
    let provider = list.provider();
    let linear = provider.is_linear();
    let page_size = P::PAGE_SIZE as u64;
    let mut done = 0u64;
    for segment in list.segments() {
        if done >= len {
            break;
        }
        let segment_len = u64::from(segment.len);
        if skip >= segment_len {
            skip -= segment_len;
            continue;
        }
        let mut offset = segment.offset + skip;
        let mut left = (segment_len - skip).min(len - done);
        skip = 0;
        while left > 0 {
            let (page, start) = page_under(provider, segment.page, offset);
            let start = start as u64;
            let piece = if linear {
                left.min(isize::MAX as u64)
            } else {
                left.min(page_size - start)
            };
            let Ok(mapping) = provider.try_map(page) else {
                return done;
            };
            // Wrapping: the page's first byte may lie outside the memory
            // the list describes; the piece's bytes are inside it.
            visit(
                mapping.as_ptr().wrapping_add(start as usize),
                piece as usize,
                done,
            );
            if writes {
                provider.flush_write(page);
                for index in 1..(start + piece).div_ceil(page_size) {
                    provider.flush_write(provider.nth(page, index as usize));
                }
            }
            // SAFETY: `mapping` came from `try_map(page)` above, is released
            // once, and no reference was made from it (the visitors copy
            // with raw pointers).
            unsafe { provider.unmap(page, mapping) };
            done += piece;
            offset += piece;
            left -= piece;
        }
    }
    done
}

/// [`copy_to_slice`](crate::copy_to_slice) for a shared provider.
#[inline(never)]
pub(crate) fn copy_to_slice<P: PageProvider>(
    list: SgList<'_, P>,
    skip: u64,
    buffer: &mut [u8],
) -> usize {
    // At most `buffer.len()` bytes are visited, so the count fits.
    for_each_piece(
        list,
        skip,
        buffer.len() as u64,
        false,
        |source, len, done| {
            let done = done as usize;
            // SAFETY: `for_each_piece` vouches for `len` readable bytes at
            // `source`, list bytes that the private `buffer` does not overlap.
            unsafe { copy_from_shared(source, &mut buffer[done..done + len]) };
        },
    ) as usize
}

/// [`copy_from_slice`](crate::copy_from_slice) for a shared provider.
#[inline(never)]
pub(crate) fn copy_from_slice<P: PageProvider>(
    list: SgListMut<'_, P>,
    skip: u64,
    buffer: &[u8],
) -> usize {
    for_each_piece(
        list.into_list(),
        skip,
        buffer.len() as u64,
        true,
        |target, len, done| {
            let done = done as usize;
            // SAFETY: `for_each_piece` vouches for `len` writable bytes at
            // `target`, bytes of an exclusive view that `buffer` does not
            // overlap.
            unsafe { copy_to_shared(&buffer[done..done + len], target) };
        },
    ) as usize
}

/// [`zero`](crate::zero) for a shared provider.
#[inline(never)]
pub(crate) fn zero<P: PageProvider>(list: SgListMut<'_, P>, skip: u64, len: u64) -> u64 {
    for_each_piece(list.into_list(), skip, len, true, |target, len, _| {
        // SAFETY: `for_each_piece` vouches for `len` writable bytes.
        unsafe { fill_shared(target, 0, len) };
    })
}

/// Bytes moved per round of [`copy_list`].
const BOUNCE: usize = 4096;

/// [`copy_list`](crate::copy_list) when either provider is shared: rounds
/// of a bounce buffer on the stack, filled from the source and drained
/// into the destination by the copies above (or the private ones).
#[inline(never)]
pub(crate) fn copy_list<D: PageProvider, S: PageProvider>(
    mut destination: SgListMut<'_, D>,
    destination_skip: u64,
    source: SgList<'_, S>,
    source_skip: u64,
    len: u64,
) -> u64 {
    let mut bounce = [0u8; BOUNCE];
    let mut done = 0u64;
    while done < len {
        let wanted = (len - done).min(BOUNCE as u64) as usize;
        let read = crate::copy_to_slice(source, source_skip + done, &mut bounce[..wanted]);
        let written = crate::copy_from_slice(
            destination.reborrow(),
            destination_skip + done,
            &bounce[..read],
        );
        done += written as u64;
        if written < wanted {
            break;
        }
    }
    done
}
