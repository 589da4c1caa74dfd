//! What a device reads, written from a mapped scatter-gather list.
//!
//! Mapping a table (sg-alloc's `SgTable::map_dma`, or
//! `SgTable::with_iova_mapping` into one IOVA range) gives bus segments;
//! this crate writes them in the formats devices take, checked against
//! their specifications:
//!
//! - [`DmaVec`]: a 16-byte `(address, length)` segment with a 64-bit
//!   length (the kernel's `phys_vec`), for memory without page structure
//!   and for mapped output; [`write_segments`] (into a caller's buffer)
//!   and [`extend_segments`] (one reservation) fill vectors of them from a
//!   mapping guard's segments; [`pages`] and [`copy_to_slice`] walk one
//!   as a list is walked.
//! - NVMe PRP entries ([`build_prp`], [`walk_prp`]) and SGL descriptors
//!   ([`build_sgl`], [`walk_sgl`]), with list pages from the caller.
//! - Virtio split-queue descriptor tables ([`write_split`],
//!   [`split_chain`]) and packed-ring descriptors ([`write_packed`],
//!   [`packed_chain`]).
//! - [`DevError`]: a view that breaks a rule, naming the segment, and
//!   [`DevError::remedy`]: which [`DmaLimits`](sg_core::DmaLimits) would
//!   have avoided it.
//!
//! - [`SegmentMemory`]: memory that maps a vector's addresses (unsafe to
//!   implement, safe to use; [`SliceMemory`] is one over a buffer), and
//!   [`SegView`] / [`SegViewMut`]: a vector copied, zeroed and iterated
//!   there like a list, with a list's rules (a shared memory is copied
//!   with volatile accesses and never lent as slices).
//!
//! The one module that reaches memory through pointers is the
//! [`SegmentMemory`] one; every other module is safe code.
//!
//! # Example
//!
//! A view that needs more entries than one list page holds chains the
//! list pages through their last entries:
//!
//! ```
//! use sg_dev::{DmaVec, build_prp, walk_prp};
//!
//! // 2 MiB + 8 KiB from offset 512: 515 pages, 514 entries after PRP1.
//! let view = [DmaVec::new(0x4000_0200, (2 << 20) + 8192)];
//! let mut lists = vec![0u64; 2 * 512];
//! let mut free = lists.chunks_mut(512).zip([0xA000u64, 0xB000]);
//! let prp = build_prp(&view, 4096, || free.next())?;
//! assert_eq!((prp.prp2, prp.list_pages), (0xA000, 2));
//! assert_eq!(u64::from_le(lists[511]), 0xB000); // the chain pointer
//! let read = |address: u64| lists.chunks(512).nth(((address - 0xA000) / 0x1000) as usize);
//! assert_eq!(walk_prp(prp.prp1, prp.prp2, (2 << 20) + 8192, 4096, read)?, view);
//! # Ok::<(), sg_dev::DevError>(())
//! ```
//!
//! # Features
//!
//! - `std` (default): forwards to `sg-core/std`; the crate is `no_std`
//!   with `alloc`.

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

mod error;
mod memory;
mod prp;
mod segvec;
mod sgl;
mod virtio;

pub use error::{DevError, GapAt, Remedy};
pub use memory::{
    Piece, PieceMut, Pieces, PiecesMut, SegView, SegViewMut, SegmentMemory, SliceMemory,
};
pub use prp::{Prp, build_prp, check_page_size, prp_entries, prp_list_pages, walk_prp};
pub use segvec::{DmaVec, byte_len, copy_to_slice, extend_segments, merged, pages, write_segments};
pub use sgl::{
    SGL_BIT_BUCKET, SGL_DATA_BLOCK, SGL_KEYED_DATA_BLOCK, SGL_LAST_SEGMENT, SGL_SEGMENT,
    SGL_SUBTYPE_ADDRESS, SGL_SUBTYPE_OFFSET, SGL_TRANSPORT_DATA_BLOCK, SglDescriptor, SglOptions,
    build_sgl, sgl_blocks, walk_sgl,
};
pub use virtio::{
    MAX_QUEUE_SIZE, SplitChain, VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_USED, VIRTQ_DESC_F_WRITE, VirtqDesc, VirtqPackedDesc, packed_chain, split_chain,
    write_packed, write_split,
};

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
