//! The core of `sg`: the Linux kernel's scatter-gather lists for Rust, as
//! traits and one small entry type.
//!
//! A scatter-gather list describes bytes scattered over pages as a chain of
//! arrays of entries, each entry a (page, offset, length) triple. This crate
//! holds what every other `sg` crate shares:
//!
//! - [`PageProvider`]: what a page is, its frame number, how it is mapped
//!   and allocated. Implement it to put lists over your own memory;
//!   [`VirtPages`] implements it for process memory.
//! - [`ChunkAllocator`]: where arrays of entries come from;
//!   [`HeapChunks`] serves them from any `allocator_api2` allocator, by
//!   default [`CachedGlobal`] (the global allocator, with the last freed
//!   arrays of each thread kept for its next table).
//! - [`SgEntry`]: one entry (32 bytes with a pointer-sized page handle),
//!   with [`init_table`] and [`chain`] for arrays of them.
//! - [`SgList`] and [`SgListMut`]: borrowed views of a chained list or of a
//!   byte range of one, with traversal and counting.
//! - [`Pages`]: a set of pages with its provider, the proof that safe
//!   builders take; [`Access`] markers ([`Read`], [`Write`]) for what a
//!   table may do with its bytes.
//! - [`DmaLimits`], [`DmaDirection`] and the [`DmaMapper`] trait: what a
//!   device accepts and how runs of pages become bus addresses;
//!   [`IovaMapper`] and [`IovaRange`]: the two-step mapping into one
//!   reserved range of bus addresses.
//! - [`Error`]: every failure, typed; bad input never panics.
//!
//! Owning tables and builders are in `sg-alloc`, iterators in `sg-iter`,
//! copying in `sg-copy`.
//!
//! # Example
//!
//! Two arrays chained into one list over process memory:
//!
//! ```
//! use core::ptr::NonNull;
//! use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
//!
//! let pages = VirtPages::new();
//! let run = pages.alloc_pages(1)?; // two contiguous pages
//!
//! let mut tail: [SgEntry<_>; 2] = Default::default();
//! sg_core::init_table(&mut tail)?;
//! // SAFETY: the bytes lie in the two pages allocated above, and only
//! // this list reaches them.
//! unsafe {
//!     tail[0].set_page(run, 4000, 100); // crosses into the second page
//!     tail[1].set_page(pages.nth(run, 1), 200, 8);
//! }
//!
//! let mut head: [SgEntry<_>; 2] = Default::default();
//! sg_core::init_table(&mut head)?;
//! // SAFETY: as above.
//! unsafe { head[0].set_page(run, 0, 16) };
//! // SAFETY: `tail` outlives `head`'s link and is not touched while linked.
//! unsafe { sg_core::chain(&mut head, NonNull::from(&mut tail[..]))? };
//!
//! // SAFETY: the entries describe bytes of pages this provider holds valid,
//! // and nothing else reaches them while the view is used.
//! let list = unsafe { SgList::new(&head, &pages) };
//! assert_eq!(list.count(), 3); // the link is not an entry
//! assert_eq!(list.byte_len(), 124);
//! assert_eq!(list.count_for_len(17)?, 2);
//! assert!(list.last_of(3)?.is_last());
//! # // SAFETY: allocated above with order 1; the list is not used again.
//! # unsafe { pages.free_pages(run, 1) };
//! # Ok::<(), sg_core::Error>(())
//! ```
//!
//! # Safety model
//!
//! A caller who writes no `unsafe` cannot read freed memory, reach past an
//! allocation, or hold two `&mut` (or a `&mut` beside a `&`) to the same
//! bytes, whatever it does with the public API:
//!
//! - A page handle is a name, not a capability: safe code can make one
//!   ([`PageProvider::nth`], [`SgEntry::page`]), but no safe function turns
//!   a name into bytes. What safe builders take is a [`Pages`] set: pages
//!   allocated through the provider ([`Pages::alloc`], freed when the set
//!   is dropped) or handles vouched for in the `unsafe`
//!   [`Pages::from_raw`]. The set carries its provider instance, and a
//!   table owns it (by value) or borrows it (`&` for a read-only table,
//!   `&mut` for a writable one), so the pages outlive the table and, for a
//!   writable table, nobody else reaches them.
//! - An entry is a claim about memory, so making one by hand
//!   ([`SgEntry::set_page`], [`SgEntry::set_buf`]), pairing entries with a
//!   provider ([`SgList::new`], [`SgListMut::new`]) and linking raw arrays
//!   ([`chain`]) are `unsafe`.
//! - Rights never grow ([`Access`]: [`Read`] or [`Write`]): whatever is made
//!   from a shared view can only read; bytes are written only through an
//!   exclusive [`SgListMut`], and iterators hand out `&[u8]` and `&mut [u8]`
//!   slices that borrow the view.
//!
//! Owning tables, builders and DMA mapping guards (which own what a device
//! may still touch) are in `sg-alloc`, whose crate documentation continues
//! the argument.
//!
//! # Features
//!
//! - `std` (default): nothing beyond `alloc` today; the crate is `no_std`.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod access;
mod chunk;
mod chunk_cache;
mod cursor;
mod dma;
mod entry;
mod error;
pub mod hint;
mod list;
mod mapped;
mod page;
mod pages;
mod virt;
pub mod volatile;

pub use access::{Access, ListView, Read, Write};
pub use chunk::{ChunkAllocator, FULL_CHUNK_BYTES, HeapChunks, full_chunk_entries};
pub use chunk_cache::CachedGlobal;
pub use dma::{
    DEFAULT_MAX_SEGMENT_SIZE, DmaDirection, DmaLimits, DmaMapper, DmaMapping, DmaRun, IovaMapper,
    IovaRange,
};
pub use entry::{SgEntry, chain, init_table};
pub use error::{Error, ErrorKind};
pub use list::{Entries, Segment, Segments, SgList, SgListMut};
pub use mapped::MappedBytes;
pub use page::{PageProvider, order_bytes, run_continues};
pub use pages::{PageSet, PageSource, Pages};
pub use virt::{VIRT_PAGE_SIZE, VirtPage, VirtPages};

/// Re-exported so that users name the same allocator types as this crate.
pub use allocator_api2;

/// Re-exported so that a provider names the bounds of
/// [`PageProvider::Pfn`] (`PrimInt + Unsigned + Hash + Debug`) without a
/// dependency of its own on `num-traits`: `sg_core::num_traits::PrimInt`.
pub use num_traits;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
