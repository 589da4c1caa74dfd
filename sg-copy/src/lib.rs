//! Copying scatter-gather lists at the speed of `memcpy`: to and from
//! linear buffers with a skip, zeroing, list to list, and (with `std`)
//! `std::io` adapters and vectored-I/O slices.
//!
//! Every function takes a borrowed view from `sg-core`: [`SgList`] to read
//! the list's bytes, [`SgListMut`] to write them. A view can be a whole
//! table, its first `n` entries ([`SgList::take_entries`]) or a byte range
//! ([`SgList::slice`]), so a range of a list is copied without a new list.
//!
//! | kernel | here |
//! |---|---|
//! | `sg_copy_to_buffer`, `sg_pcopy_to_buffer` | [`copy_to_slice`] |
//! | `sg_copy_from_buffer`, `sg_pcopy_from_buffer` | [`copy_from_slice`] |
//! | `sg_copy_buffer` | either, by direction |
//! | `sg_zero_buffer` | [`zero`] |
//! | (none) | [`copy_list`], [`ListReader`], [`ListCursor`], [`with_io_slices`], [`with_io_slices_mut`] |
//! | (none; `pwritev`, `preadv` of a list) | `write_at`, `write_all_at`, `read_at`, `read_exact_at` |
//! | (none; `IOV_MAX` batches of `pwritev`, `preadv`, `writev`, `readv`) | `write_list_at`, `read_list_at`, `write_list`, `read_list` |
//! | (none; io_uring `READV`, `WRITEV`, `READ_FIXED`, `WRITE_FIXED`) | `Ring`, `Scope` |
//! | (none; `bytes::Buf`, `bytes::BufMut`) | `ListBuf`, `ListBufMut` |
//!
//! Every function returns the bytes it actually copied or zeroed (the
//! kernel's semantics: short when the list ends first, 0 when the skip is
//! past the end); none allocates but the io-slice helpers.
//!
//! # Speed
//!
//! On a linearly mapped provider (process memory, a kernel-style lowmem),
//! each contiguous run of bytes is one `memcpy` or `memset`, including runs
//! that continue across neighbouring entries at a page boundary (the next
//! entry starts the page after the previous one's last). The
//! kernel maps and copies page by page; other providers here do the same.
//!
//! # Example
//!
//! ```
//! use core::ptr::NonNull;
//! use sg_core::{SgEntry, SgList, SgListMut, VirtPages};
//!
//! // A list over two separate buffers.
//! let mut header = [0u8; 4];
//! let mut body = [0u8; 12];
//! let mut entries: [SgEntry<_>; 2] = Default::default();
//! sg_core::init_table(&mut entries)?;
//! // SAFETY: the buffers outlive the list and are only reached through it
//! // while it is used.
//! unsafe {
//!     entries[0].set_buf(NonNull::from(&mut header).cast(), 4);
//!     entries[1].set_buf(NonNull::from(&mut body).cast(), 12);
//! }
//! let pages = VirtPages::new();
//!
//! // SAFETY: the entries describe bytes of pages this provider holds valid,
//! // and nothing else reaches them while the view is used.
//! let written = sg_copy::copy_from_slice(unsafe { SgListMut::new(&mut entries, &pages) }, 0, b"LEN=hello, world");
//! assert_eq!(written, 16);
//!
//! // SAFETY: the entries describe bytes of pages this provider holds valid,
//! // and nothing else reaches them while the view is used.
//! let list = unsafe { SgList::new(&entries, &pages) };
//! let mut greeting = [0u8; 5];
//! assert_eq!(sg_copy::copy_to_slice(list, 4, &mut greeting), 5);
//! assert_eq!(&greeting, b"hello");
//! drop(entries);
//! assert_eq!(&header, b"LEN=");
//! # Ok::<(), sg_core::Error>(())
//! ```
//!
//! # Features
//!
//! - `std` (default): [`ListReader`], [`ListCursor`], [`with_io_slices`]
//!   and [`with_io_slices_mut`]. Without it the crate is `no_std`.
//! - `fs` (default; needs `std`, does something on unix targets only):
//!   `write_at` / `read_at`, a list to or from a file at an offset in one
//!   `pwritev` / `preadv` call through `rustix`, and `write_all_at` /
//!   `read_exact_at`, which loop until done; and `write_list_at` /
//!   `read_list_at` / `write_list` / `read_list`, a whole list on any
//!   descriptor in batches of `MAX_IO_SLICES` pieces kept on the stack.
//! - `io-uring` (needs `fs`, does something on Linux only): `Ring`, lists
//!   submitted to io_uring in a scope that keeps them borrowed until the
//!   kernel is done with them.
//! - `bytes`: `ListBuf` and `ListBufMut`, `bytes::Buf` / `BufMut` over a
//!   list.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

#[cfg(feature = "bytes")]
mod buf;
mod copy;
#[cfg(all(feature = "fs", unix))]
mod file;
#[cfg(feature = "std")]
mod io;
#[cfg(feature = "std")]
mod io_slices;
mod moves;
mod runs;
mod tune;
#[cfg(all(feature = "io-uring", target_os = "linux"))]
mod uring;
#[cfg(all(feature = "fs", unix))]
mod vectored;
mod volatile;
#[cfg(any(all(feature = "fs", unix), feature = "bytes"))]
mod walk;
mod zero;

#[cfg(feature = "bytes")]
#[cfg_attr(docsrs, doc(cfg(feature = "bytes")))]
pub use buf::{ListBuf, ListBufMut};
pub use copy::{copy_from_slice, copy_list, copy_to_slice};
#[cfg(all(feature = "fs", unix))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "fs", unix))))]
pub use file::{MAX_IO_SLICES, read_at, read_exact_at, write_all_at, write_at};
#[cfg(feature = "std")]
pub use io::{ListCursor, ListReader};
#[cfg(feature = "std")]
pub use io_slices::{with_io_slices, with_io_slices_mut};
#[cfg(all(feature = "io-uring", target_os = "linux"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "io-uring", target_os = "linux"))))]
pub use uring::{FixedBuffers, Op, Ring, RingError, Scope};
#[cfg(all(feature = "fs", unix))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "fs", unix))))]
pub use vectored::{TransferError, read_list, read_list_at, write_list, write_list_at};
pub use zero::zero;

#[cfg(doc)]
use sg_core::{SgList, SgListMut};

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
