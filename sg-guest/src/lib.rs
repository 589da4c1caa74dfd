#![doc = include_str!("../README.md")]
//!
//! # Modules
//!
//! - [`HeapGuestMemory`] and the [`GuestRegions`] trait: guest memory as
//!   regions (and with the `vm-memory` feature, vm-memory's
//!   `GuestMemoryMmap`).
//! - [`GuestPages`]: the page provider, shared and linear.
//! - [`ChainTable`], [`Reader`], [`Writer`]: descriptor chains.
//! - With `fs` (unix): `Reader::write_to` / `write_to_at` (`writev` /
//!   `pwritev`) and `Writer::read_from` / `read_from_at` (`readv` /
//!   `preadv`), straight between a file and guest memory.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod chain;
mod error;
#[cfg(all(feature = "fs", unix))]
mod fd;
mod memory;
mod provider;
#[cfg(all(feature = "vm-memory", unix))]
mod vm;

pub use chain::{
    ChainTable, Descriptor, Pod, Reader, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT,
    VIRTQ_DESC_F_WRITE, Writer,
};
pub use error::GuestError;
#[cfg(all(feature = "fs", unix))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "fs", unix))))]
pub use fd::MAX_IOVECS;
pub use memory::{GuestRegions, HeapGuestMemory, Region};
pub use provider::{GUEST_PAGE_SIZE, GuestPages};
