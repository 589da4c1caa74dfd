//! `DmaVec`: a compact `(address, length)` segment, and writing a mapped
//! view into a vector of them.

use alloc::vec::Vec;

use crate::DevError;

/// One segment: `len` bytes from `addr`, 16 bytes with a 64-bit length
/// (the kernel's `struct phys_vec`).
///
/// For memory without page structure (device memory, a peer's BAR, huge
/// pages, VFIO and dma-buf regions) the addresses are physical; for a
/// mapped table's output they are bus addresses. The device formats of
/// this crate take a slice of them.
#[doc(alias = "phys_vec")]
#[doc(alias = "bio_vec")]
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct DmaVec {
    /// The address of the first byte.
    pub addr: u64,
    /// Bytes in the segment.
    pub len: u64,
}

impl DmaVec {
    /// `len` bytes from `addr`.
    #[inline]
    pub const fn new(addr: u64, len: u64) -> Self {
        DmaVec { addr, len }
    }

    /// The address after the last byte (wrapping at 2^64).
    #[inline]
    pub const fn end(&self) -> u64 {
        self.addr.wrapping_add(self.len)
    }
}

impl From<(u64, u32)> for DmaVec {
    #[inline]
    fn from((addr, len): (u64, u32)) -> Self {
        DmaVec::new(addr, u64::from(len))
    }
}

impl From<(u64, u64)> for DmaVec {
    #[inline]
    fn from((addr, len): (u64, u64)) -> Self {
        DmaVec::new(addr, len)
    }
}

/// Writes a mapped view's segments (a mapping guard's `segments()`) into
/// `out`, one each, and returns how many; nothing is allocated.
///
/// # Errors
///
/// [`DevError::NoRoom`] when `out` is too short (the slots before it are
/// written).
///
/// ```
/// use sg_dev::{DmaVec, write_segments};
///
/// let mut out = [DmaVec::default(); 4];
/// let n = write_segments([(0x1000u64, 512u32), (0x8000, 4096)], &mut out)?;
/// assert_eq!(&out[..n], [DmaVec::new(0x1000, 512), DmaVec::new(0x8000, 4096)]);
/// # Ok::<(), sg_dev::DevError>(())
/// ```
pub fn write_segments<S: Into<DmaVec>>(
    segments: impl IntoIterator<Item = S>,
    out: &mut [DmaVec],
) -> Result<usize, DevError> {
    let mut segments = segments.into_iter();
    let mut written = 0;
    for (slot, segment) in out.iter_mut().zip(segments.by_ref()) {
        *slot = segment.into();
        written += 1;
    }
    let more = segments.count();
    if more > 0 {
        return Err(DevError::NoRoom {
            needed: written + more,
            available: out.len(),
        });
    }
    Ok(written)
}

/// Appends a mapped view's segments to `vec`, reserving once for `count`
/// of them (a mapping guard's `nents()`; more than the iterator's size
/// hint when that is larger) and never per segment; returns how many were
/// appended.
///
/// # Errors
///
/// [`DevError::OutOfMemory`] when the reservation fails; `vec` is then as
/// it was.
///
/// ```
/// use sg_dev::{DmaVec, extend_segments};
///
/// let mut vec = Vec::new();
/// let segments = [(0x1000u64, 4096u32), (0x9000, 512)];
/// assert_eq!(extend_segments(&mut vec, segments.len(), segments)?, 2);
/// assert_eq!((vec.len(), vec.capacity()), (2, 2));
/// # Ok::<(), sg_dev::DevError>(())
/// ```
pub fn extend_segments<S: Into<DmaVec>>(
    vec: &mut Vec<DmaVec>,
    count: usize,
    segments: impl IntoIterator<Item = S>,
) -> Result<usize, DevError> {
    let segments = segments.into_iter();
    let reserve = count.max(segments.size_hint().0);
    vec.try_reserve_exact(reserve)
        .map_err(|_| DevError::OutOfMemory)?;
    let before = vec.len();
    vec.extend(segments.map(Into::into));
    Ok(vec.len() - before)
}

/// Total bytes of a view.
pub fn byte_len(view: &[DmaVec]) -> u64 {
    view.iter().map(|segment| segment.len).sum()
}

/// The view with contiguous neighbours merged and empty segments dropped:
/// the byte ranges a device reaches, as it sees them.
pub fn merged(view: &[DmaVec]) -> Vec<DmaVec> {
    let mut out: Vec<DmaVec> = Vec::with_capacity(view.len());
    for segment in view.iter().filter(|segment| segment.len > 0) {
        match out.last_mut() {
            Some(last) if last.end() == segment.addr => last.len += segment.len,
            _ => out.push(*segment),
        }
    }
    out
}

/// Iterates a view page by page, as a list is iterated: each piece is
/// `(page address, offset in the page, bytes)`, in order, never crossing a
/// page of `page_size` bytes (a power of two). Where a provider maps
/// physical pages (memory without page structure), this is the walk a
/// copy through it takes.
///
/// ```
/// use sg_dev::{DmaVec, pages};
///
/// let view = [DmaVec::new(0x1F00, 0x200), DmaVec::new(0x9000, 16)];
/// let pieces: Vec<_> = pages(&view, 4096).collect();
/// assert_eq!(pieces, [(0x1000, 0xF00, 0x100), (0x2000, 0, 0x100), (0x9000, 0, 16)]);
/// ```
pub fn pages(view: &[DmaVec], page_size: u64) -> impl Iterator<Item = (u64, u64, u64)> + '_ {
    let mask = page_size - 1;
    view.iter().flat_map(move |segment| {
        let mut at = segment.addr;
        let end = segment.addr.saturating_add(segment.len);
        core::iter::from_fn(move || {
            if at >= end {
                return None;
            }
            let page = at & !mask;
            let offset = at & mask;
            let piece = (page_size - offset).min(end - at);
            at += piece;
            Some((page, offset, piece))
        })
    })
}

/// Copies the view's bytes, from `skip` bytes in, into `out` through
/// `map`, which gives the bytes at a physical address (a provider's
/// mapping of memory without page structure) or `None` where it has none;
/// returns the bytes copied (short when the view ends, or `map` has no
/// bytes for a piece).
///
/// ```
/// use sg_dev::{DmaVec, copy_to_slice};
///
/// let memory = *b"0123456789abcdef";
/// let view = [DmaVec::new(8, 4), DmaVec::new(0, 2)];
/// let mut out = [0u8; 6];
/// let n = copy_to_slice(&view, 0, &mut out, |addr, len| memory.get(addr as usize..addr as usize + len));
/// assert_eq!((n, &out), (6, b"89ab01"));
/// ```
pub fn copy_to_slice<'m>(
    view: &[DmaVec],
    mut skip: u64,
    out: &mut [u8],
    mut map: impl FnMut(u64, usize) -> Option<&'m [u8]>,
) -> usize {
    let mut done = 0;
    for segment in view {
        if done == out.len() {
            break;
        }
        if skip >= segment.len {
            skip -= segment.len;
            continue;
        }
        let left = segment.len - skip;
        let piece = usize::try_from(left)
            .unwrap_or(usize::MAX)
            .min(out.len() - done);
        let Some(bytes) = map(segment.addr + skip, piece) else {
            break;
        };
        let piece = piece.min(bytes.len());
        out[done..done + piece].copy_from_slice(&bytes[..piece]);
        done += piece;
        skip = 0;
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_sixteen_bytes() {
        assert_eq!(core::mem::size_of::<DmaVec>(), 16);
        assert_eq!(
            core::mem::align_of::<DmaVec>(),
            core::mem::align_of::<u64>()
        );
    }

    #[test]
    fn a_short_buffer_says_how_much_is_needed() {
        let mut out = [DmaVec::default(); 1];
        assert_eq!(
            write_segments([(1u64, 1u32), (2, 2), (3, 3)], &mut out),
            Err(DevError::NoRoom {
                needed: 3,
                available: 1
            })
        );
        assert_eq!(out[0], DmaVec::new(1, 1));
    }

    #[test]
    fn extend_reserves_once() {
        let mut vec = Vec::new();
        let n = extend_segments(&mut vec, 10, (0..10u64).map(|i| (i * 4096, 4096u64))).unwrap();
        assert_eq!((n, vec.capacity()), (10, 10));
    }

    #[test]
    fn merged_joins_neighbours() {
        let view = [
            DmaVec::new(0, 4),
            DmaVec::new(4, 4),
            DmaVec::new(100, 0),
            DmaVec::new(9, 1),
        ];
        assert_eq!(merged(&view), [DmaVec::new(0, 8), DmaVec::new(9, 1)]);
    }
}
