//! Vectored file I/O straight between a file and a descriptor chain:
//! `writev`/`pwritev` from a [`Reader`], `readv`/`preadv` into a
//! [`Writer`], one system call for up to [`MAX_IOVECS`] pieces, with the
//! iovec array on the stack (no allocation).
//!
//! The iovecs point into guest memory, and only the kernel touches those
//! bytes: no Rust reference to guest memory is made. (The iovecs are
//! passed to rustix as `IoSlice`s, which std guarantees to be
//! ABI-compatible with `struct iovec` on unix; nothing in Rust reads
//! through them.)

use std::io::{self, IoSlice, IoSliceMut};

use rustix::fd::AsFd;
use sg_core::{PageProvider, SgList};

use crate::{GUEST_PAGE_SIZE, GuestError, GuestPages, GuestRegions, Reader, Writer};

/// The most pieces one call sends or fills; a longer chain takes several
/// calls (the counts say how far each got).
pub const MAX_IOVECS: usize = 64;

/// `struct iovec`, as the kernel and std's `IoSlice` lay it out.
#[derive(Clone, Copy)]
#[repr(C)]
struct RawIovec {
    base: *mut u8,
    len: usize,
}

const _: () = assert!(size_of::<RawIovec>() == size_of::<IoSlice<'_>>());
const _: () = assert!(align_of::<RawIovec>() == align_of::<IoSlice<'_>>());

/// Fills `iovecs` with the host pieces of up to `len` bytes of `list`
/// from `position` on; returns how many.
fn gather<M: GuestRegions>(
    list: SgList<'_, GuestPages<M>>,
    mut position: u64,
    len: usize,
    iovecs: &mut [RawIovec; MAX_IOVECS],
) -> Result<usize, GuestError> {
    let provider = list.provider();
    let page_size = GUEST_PAGE_SIZE as u64;
    let mut count = 0;
    let mut left = len as u64;
    for segment in list.segments() {
        if left == 0 || count == MAX_IOVECS {
            break;
        }
        let segment_len = u64::from(segment.len);
        if position >= segment_len {
            position -= segment_len;
            continue;
        }
        let offset = segment.offset + position;
        let piece = (segment_len - position).min(left);
        position = 0;
        let page = provider.nth(segment.page, (offset / page_size) as usize);
        let mapping = provider.try_map(page).map_err(|_| GuestError::Hole {
            address: page.wrapping_mul(page_size),
        })?;
        // The provider is linear and an entry lies in one region, so the
        // mapping of the page reaches the whole piece; `unmap` is a no-op
        // for guest memory, and the pointer is only given to the kernel.
        iovecs[count] = RawIovec {
            base: mapping.as_ptr().wrapping_add((offset % page_size) as usize),
            len: piece as usize,
        };
        count += 1;
        left -= piece;
    }
    Ok(count)
}

impl<M: GuestRegions> Reader<'_, M> {
    /// Sends up to `count` bytes from the position on to `fd` in one
    /// `writev` (at most [`MAX_IOVECS`] pieces); returns the bytes sent.
    ///
    /// # Errors
    ///
    /// The system call's error.
    #[doc(alias = "writev")]
    pub fn write_to<Fd: AsFd>(&mut self, fd: Fd, count: usize) -> io::Result<usize> {
        self.send(count, |slices| rustix::io::writev(fd, slices))
    }

    /// As [`write_to`](Self::write_to), at `offset` in the file
    /// (`pwritev`).
    ///
    /// # Errors
    ///
    /// The system call's error.
    #[doc(alias = "pwritev")]
    pub fn write_to_at<Fd: AsFd>(
        &mut self,
        fd: Fd,
        count: usize,
        offset: u64,
    ) -> io::Result<usize> {
        self.send(count, |slices| rustix::io::pwritev(fd, slices, offset))
    }

    fn send(
        &mut self,
        count: usize,
        call: impl FnOnce(&[IoSlice<'_>]) -> rustix::io::Result<usize>,
    ) -> io::Result<usize> {
        let Some(list) = self.list else {
            return Ok(0);
        };
        let mut iovecs = [RawIovec {
            base: core::ptr::null_mut(),
            len: 0,
        }; MAX_IOVECS];
        let pieces = gather(
            list,
            self.position,
            count.min(self.available_bytes()),
            &mut iovecs,
        )?;
        // SAFETY: `RawIovec` has the layout of `struct iovec`, which std
        // guarantees `IoSlice` has on unix; the pieces are valid guest
        // memory while the table is borrowed, and only the kernel reads
        // them.
        let slices =
            unsafe { core::slice::from_raw_parts(iovecs.as_ptr().cast::<IoSlice<'_>>(), pieces) };
        let sent = call(slices)?;
        self.position += sent as u64;
        Ok(sent)
    }
}

impl<M: GuestRegions> Writer<'_, M> {
    /// Fills up to `count` bytes from the position on from `fd` in one
    /// `readv` (at most [`MAX_IOVECS`] pieces); returns the bytes read.
    ///
    /// # Errors
    ///
    /// The system call's error.
    #[doc(alias = "readv")]
    pub fn read_from<Fd: AsFd>(&mut self, fd: Fd, count: usize) -> io::Result<usize> {
        self.fill(count, |slices| rustix::io::readv(fd, slices))
    }

    /// As [`read_from`](Self::read_from), at `offset` in the file
    /// (`preadv`).
    ///
    /// # Errors
    ///
    /// The system call's error.
    #[doc(alias = "preadv")]
    pub fn read_from_at<Fd: AsFd>(
        &mut self,
        fd: Fd,
        count: usize,
        offset: u64,
    ) -> io::Result<usize> {
        self.fill(count, |slices| rustix::io::preadv(fd, slices, offset))
    }

    fn fill(
        &mut self,
        count: usize,
        call: impl FnOnce(&mut [IoSliceMut<'_>]) -> rustix::io::Result<usize>,
    ) -> io::Result<usize> {
        let Some(list) = self.list else {
            return Ok(0);
        };
        let mut iovecs = [RawIovec {
            base: core::ptr::null_mut(),
            len: 0,
        }; MAX_IOVECS];
        let pieces = gather(
            list,
            self.position,
            count.min(self.available_bytes()),
            &mut iovecs,
        )?;
        // SAFETY: as in `Reader::send`; `IoSliceMut` has the same layout,
        // and only the kernel writes the pieces.
        let slices = unsafe {
            core::slice::from_raw_parts_mut(iovecs.as_mut_ptr().cast::<IoSliceMut<'_>>(), pieces)
        };
        let filled = call(slices)?;
        self.position += filled as u64;
        Ok(filled)
    }
}
