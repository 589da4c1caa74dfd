#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`HeapGuestMemory`] and the [`GuestRegions`] trait: guest memory as
//!   regions (and with the `vm-memory` feature, vm-memory's
//!   `GuestMemoryMmap`).
//! - [`GuestPages`]: the page provider, shared and linear.
//! - [`ChainTable`], [`Reader`], [`Writer`]: descriptor chains.
//! - With `fs` (unix): `Reader::writev` / `pwritev`, `Writer::readv` /
//!   `preadv`, straight between a file and guest memory.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod chain;
mod error;
mod memory;
mod provider;
#[cfg(feature = "vm-memory")]
mod vm;

pub use chain::{
    ChainTable, Descriptor, Pod, Reader, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE, Writer,
};
pub use error::GuestError;
pub use memory::{GuestRegions, HeapGuestMemory, Region};
pub use provider::{GUEST_PAGE_SIZE, GuestPages};
