//! Mapping tables for a device: [`SgTable::map_dma`](crate::SgTable::map_dma)
//! and its guard [`MappedTable`], and two mappers: [`DirectMapper`] (bus
//! address = physical address) and [`BounceMapper`] (a bounce pool over
//! any other mapper, the kernel's swiotlb).
//!
//! Raw pointers stay out of this module but for `cpu_bytes.rs`, which
//! copies a run's bytes through the provider's mappings for the bounce
//! pool; writing the DMA fields of a table goes through the chain's
//! `DmaFieldsMut`.

mod bounce;
mod bounce_pool;
mod cpu_bytes;
mod direct;
mod guard;
mod iova;
mod map;
mod walk;

pub use bounce::BounceMapper;
pub use bounce_pool::BounceStats;
pub use direct::DirectMapper;
pub use guard::{MapError, MapTarget, MappedTable};
pub use iova::IovaMappedTable;
