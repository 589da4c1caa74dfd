//! Iterators over scatter-gather lists: page by page, DMA page by DMA page,
//! and mapping by mapping over the bytes (the Linux kernel's
//! `sg_page_iter`, `sg_dma_page_iter` and `sg_mapping_iter`).
//!
//! Every iterator takes a borrowed view from `sg-core` ([`SgList`], or
//! [`SgListMut`] to write), so it works the same on a hand-built list, an
//! owning table's list, the first `n` entries of one
//! ([`SgList::take_entries`], the kernel's `nents`) and a byte range of one
//! ([`SgList::slice`]). None of them allocates.
//!
//! - [`PageIter`]: the page handles each entry touches, from a starting
//!   page offset (`for_each_sg_page`).
//! - [`DmaPageIter`]: the bus addresses of the pages of each entry's DMA
//!   segment (`for_each_sg_dma_page`).
//! - [`MappingIter`]: the bytes of the view, one mapped piece at a time,
//!   as `&[u8]`, or also `&mut [u8]` over an exclusive view
//!   ([`MappingIterMut`], the same type with the [`Write`](sg_core::Write)
//!   marker), with partial consumption, advancing, and release of every
//!   mapping exactly once (`sg_miter_start`/`next`/`skip`/`stop`, here
//!   `new`/`next_slice`/`advance`/`stop`). On a linear provider a piece
//!   is a whole contiguous run instead of a page.
//!
//! [`SgList`]: sg_core::SgList
//! [`SgListMut`]: sg_core::SgListMut
//! [`SgList::take_entries`]: sg_core::SgList::take_entries
//! [`SgList::slice`]: sg_core::SgList::slice
//!
//! # Example
//!
//! Write a counter through a two-entry list over process memory, then read
//! part of it back and list the pages it touches:
//!
//! ```
//! use core::ptr::NonNull;
//! use sg_core::{SgEntry, SgList, SgListMut, VirtPages};
//! use sg_iter::{MappingIter, MappingIterMut, PageIter};
//!
//! let mut memory = vec![0u8; 4096 + 10_000];
//! let skew = memory.as_ptr().align_offset(4096); // start on a page boundary
//! let buffer = &mut memory[skew..skew + 10_000];
//! let start = NonNull::from(buffer).cast::<u8>();
//! let mut entries: [SgEntry<_>; 2] = Default::default();
//! sg_core::init_table(&mut entries)?;
//! // SAFETY: `buffer` outlives the list and is only reached through it
//! // until the list is no longer used.
//! unsafe {
//!     entries[0].set_buf(start, 6_000);
//!     entries[1].set_buf(start.add(6_000), 4_000);
//! }
//! let pages = VirtPages::new();
//!
//! // SAFETY: the entries describe bytes of pages this provider holds valid,
//! // and nothing else reaches them while the view is used.
//! let mut writer = MappingIterMut::new(unsafe { SgListMut::new(&mut entries, &pages) });
//! let mut counter = 0u8;
//! while let Some(bytes) = writer.next_slice_mut() {
//!     for byte in bytes {
//!         *byte = counter;
//!         counter = counter.wrapping_add(1);
//!     }
//! }
//! drop(writer);
//!
//! // SAFETY: the entries describe bytes of pages this provider holds valid,
//! // and nothing else reaches them while the view is used.
//! let list = unsafe { SgList::new(&entries, &pages) };
//! let mut reader = MappingIter::new(list);
//! reader.advance(5_999)?;
//! let bytes = reader.next_slice().unwrap(); // the last byte of the first entry
//! assert_eq!(bytes, [(5_999 % 256) as u8]);
//!
//! // The first entry touches pages 0 and 1 of the buffer, the second
//! // pages 1 and 2.
//! assert_eq!(PageIter::new(list, 0).count(), 4);
//! # drop(reader);
//! # assert_eq!(memory[skew + 9_999], (9_999 % 256) as u8);
//! # Ok::<(), sg_core::Error>(())
//! ```
//!
//! # Safety model
//!
//! The page iterators only read entries. The mapping iterators hand out
//! slices of mapped pages that borrow the iterator, so each slice is gone
//! before its mapping is released, and writing needs the exclusive
//! [`SgListMut`](sg_core::SgListMut). They rely on the [`PageProvider`](sg_core::PageProvider)
//! contract for the validity of mapped bytes and on the views' contract for
//! exclusivity (see `sg-core`'s safety model). All raw-pointer code is in
//! one small module.
//!
//! # Features
//!
//! - `std` (default): forwards to `sg-core/std`; the crate is `no_std` and
//!   needs no allocator.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod mapping;
mod page_iter;

pub use mapping::{MappingIter, MappingIterMut};
pub use page_iter::{DmaPageIter, PageIter};

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
