//! Owning scatter-gather tables for `sg`: the Linux kernel's `sg_table`
//! and the ways it builds them (`lib/scatterlist.c`), for Rust.
//!
//! - [`SgTable`]: a table that owns chained arrays of entries (the kernel's
//!   `sg_table`), built with empty entries ([`SgTable::new`]), with a
//!   caller's first array ([`SgTable::with_first_chunk`]), or from pages
//!   ([`SgTable::from_pages`]: one entry per run of physically consecutive
//!   pages, with a segment limit, in one pass over the pages). Its views
//!   ([`SgTable::as_list`]) are what iterators and copies take.
//! - [`AppendTable`]: a table built over several calls, merging pages that
//!   continue the last entry (the kernel's `sg_append_table`).
//! - [`PageList`]: a list that owns its data pages (the kernel's
//!   `sgl_alloc`).
//! - [`SliceTable`]: a table over a caller's `&mut [u8]` slices (an
//!   iovec's buffers, a virtqueue's descriptors) that borrows them instead
//!   of copying; [`SharedSliceTable`] for read-only `&[u8]` slices.
//! - [`split`]: new tables over consecutive byte ranges of a list (the
//!   kernel's `sg_split`).
//! - List algebra: [`SgTable::join`] chains a second table after a first
//!   and takes its arrays over (FreeBSD's `sglist_join`);
//!   [`SgTable::clone_in`] and [`SgTable::clone_merged_in`] copy a table
//!   into new arrays from any allocator (`sglist_clone`). [`SameSource`]
//!   says which providers and allocators may be combined.
//! - DMA: [`SgTable::map_dma`] maps a table for a device under its
//!   [`DmaLimits`](sg_core::DmaLimits) (the kernel's `dma_map_sgtable`),
//!   merging bus-contiguous entries, and returns a [`MappedTable`] guard
//!   that syncs explicitly and unmaps once on drop;
//!   [`FromPages::limits`] builds tables whose entries always
//!   map whole; [`DirectMapper`] (bus address = physical address) and
//!   [`BounceMapper`] (a bounce pool over any mapper, swiotlb) map them.
//!   [`SgTable::with_iova_mapping`] maps a table into one reserved IOVA
//!   range through an [`IovaMapper`](sg_core::IovaMapper): one segment
//!   for runs that meet at page boundaries, one IOTLB flush to map and one
//!   to unmap ([`IovaMappedTable`]).
//! - Chunk allocators, where arrays come from: [`HeapChunks`] (the
//!   default, any `allocator_api2` allocator), [`ChunkPool`] (allocates
//!   nothing after its creation), and [`FirstChunk`] (a caller's array).
//!
//! Every builder returns a typed [`sg_core::Error`] on bad input and when
//! memory runs out; a failed build gives back everything it took, and a
//! failed append leaves its table as it was.
//!
//! # Example
//!
//! A table over pages of process memory, merged where they are contiguous,
//! then split in two:
//!
//! ```
//! use sg_alloc::{SgTable, split};
//! use sg_core::{Pages, VirtPages};
//!
//! let mut pages = Pages::alloc(VirtPages::new(), 2)?; // four contiguous pages
//! // Two runs: pages 0-1 of the run, then pages 3 and 2 (descending).
//! pages.swap(2, 3);
//! let table = SgTable::from_pages(&pages, 100, 3 * 4096)?;
//! assert_eq!(table.orig_nents(), 3);
//! assert_eq!(table.byte_len(), 3 * 4096);
//! let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
//! assert_eq!(lengths, [8092, 4096, 100]);
//!
//! let halves = split(table.as_list(), 0, &[6144, 6144])?;
//! assert_eq!(halves[0].orig_nents(), 1);
//! assert_eq!(halves[1].orig_nents(), 3);
//!
//! drop(halves); // the pieces borrow the table's provider: drop them first
//! drop(table);
//! drop(pages); // gives the four pages back
//! # Ok::<(), sg_core::Error>(())
//! ```
//!
//! # Views or owned pieces: slice, split, join, clone
//!
//! - A byte range to read, write, copy, iterate or pass to vectored I/O:
//!   take a view with [`SgList::slice`](sg_core::SgList::slice) (or
//!   `slice_mut`). It allocates nothing, touches no entry, and costs at
//!   most a walk to the range's first entry; a table's views know their
//!   byte length ([`SgTable::byte_len`], FreeBSD's `sglist_length`), so
//!   slicing them never walks further. Slices of slices work.
//! - Pieces that must be owned lists of their own (handed to different
//!   owners or threads, kept after the input's borrow ends, mapped for DMA
//!   separately): [`split`], which allocates arrays and copies entries.
//! - Two owned tables as one: [`SgTable::join`], which copies no entry of
//!   the second table (one small array at most is allocated for the link).
//! - An owned copy whose arrays are independent of the original, from any
//!   allocator, optionally with runs merged: [`SgTable::clone_in`],
//!   [`SgTable::clone_merged_in`].
//!
//! # Safety model
//!
//! Safe code cannot reach undefined behaviour through this crate (see
//! `sg_core`'s crate documentation and ARCHITECTURE.md, "Soundness"):
//!
//! - Tables built from pages take a [`Pages`](sg_core::Pages) set, never
//!   bare handles: by value (the table owns the pages and frees them), by
//!   `&mut` (a writable table that borrows them exclusively) or by `&` (a
//!   read-only table). Each page of the set is used once, so the entries of
//!   a writable table never overlap.
//! - Rights never grow ([`Read`](sg_core::Read) / [`Write`](sg_core::Write)
//!   tables): [`split`], [`SgTable::clone_in`] and
//!   [`SgTable::clone_merged_in`] give read-only tables that borrow their
//!   source; [`split`] gives writable pieces that borrow an exclusive
//!   view; [`SgTable::join`] joins tables of the same access.
//! - What a device may still touch is owned: [`SgTable::map_dma`] moves the
//!   table (and its pages) into the guard, so forgetting the guard leaks
//!   them instead of freeing them; [`SgTable::with_dma_mapping`] maps a
//!   borrowed table for the length of a closure that only sees the guard by
//!   reference. A guard exposes segments, never bytes.
//!
//! Raw pointers live in three small modules: the chain of arrays (allocate,
//! link, walk, free, roll back an append, and join two chains), the pool,
//! and the borrowed first array; the provider of tables over slices
//! ([`SlicePages`]) holds the slices' addresses, whose borrow the table's
//! type carries. Everything else is safe code on top. A table never hands
//! out a chain link for writing, so safe code cannot break its chain; it
//! gives every array back on drop, except a [`FirstChunk`], whose borrow
//! the table's type carries. The bounce mapper's copies reach the pages'
//! bytes through the provider's mappings in one small file of the DMA
//! module, with no address arithmetic outside the bytes an entry describes.
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

mod algebra;
mod chain;
mod chunks;
mod dma;
mod from_pages;
mod from_slices;
mod page_list;
mod split;
mod table;
mod unwind;

pub use algebra::{JoinError, JoinFailure, SameSource};
pub use chain::{EntriesMut, EntryMut};
#[cfg(target_has_atomic = "ptr")]
pub use chunks::ChunkPool;
pub use chunks::{FirstChunk, WithFirstChunk, arrays_needed, full_chunk_entries};
pub use dma::{
    BounceMapper, BounceStats, DirectMapper, IovaMappedTable, MapError, MapTarget, MappedTable,
};
pub use from_pages::{AppendPages, AppendTable, FromPages};
pub use from_slices::{SharedSliceTable, SlicePage, SlicePages, SliceTable};
pub use page_list::{PageList, PageListBuilder};
pub use sg_core::HeapChunks;
pub use split::{split, split_in};
pub use table::SgTable;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
