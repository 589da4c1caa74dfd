//! DMA: a device's limits, the direction of a transfer, and the
//! `DmaMapper` trait that turns runs of pages into bus addresses.
//!
//! - `limits`: [`DmaLimits`], what a device accepts, and the one merging
//!   rule of the workspace;
//! - `mapper`: [`DmaRun`] and the [`DmaMapper`] trait;
//! - `iova`: [`IovaRange`] and the [`IovaMapper`] trait, the two-step
//!   mapping (reserve a range of bus addresses, link runs into it);
//! - `count`: how many segments a list needs ([`SgList::count_for_dma`],
//!   [`SgList::count_dma_segments`]).
//!
//! [`SgList::count_for_dma`]: crate::SgList::count_for_dma
//! [`SgList::count_dma_segments`]: crate::SgList::count_dma_segments

mod count;
mod iova;
mod limits;
mod mapper;

pub use iova::{IovaMapper, IovaRange};
pub use limits::{DEFAULT_MAX_SEGMENT_SIZE, DmaLimits};
pub use mapper::{DmaMapper, DmaMapping, DmaRun};

/// Which way the bytes of a mapping travel (the kernel's
/// `enum dma_data_direction`).
#[doc(alias = "dma_data_direction")]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DmaDirection {
    /// The device reads the memory (`DMA_TO_DEVICE`).
    #[doc(alias = "DMA_TO_DEVICE")]
    ToDevice,
    /// The device writes the memory (`DMA_FROM_DEVICE`).
    #[doc(alias = "DMA_FROM_DEVICE")]
    FromDevice,
    /// Both (`DMA_BIDIRECTIONAL`).
    #[doc(alias = "DMA_BIDIRECTIONAL")]
    Bidirectional,
}

impl DmaDirection {
    /// Whether the device reads the memory: bytes the CPU wrote must reach
    /// the device before it does.
    #[inline]
    pub fn to_device(self) -> bool {
        matches!(self, DmaDirection::ToDevice | DmaDirection::Bidirectional)
    }

    /// Whether the device writes the memory: bytes it wrote must reach the
    /// CPU before the CPU reads them.
    #[inline]
    pub fn from_device(self) -> bool {
        matches!(self, DmaDirection::FromDevice | DmaDirection::Bidirectional)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_say_which_way_bytes_go() {
        assert!(DmaDirection::ToDevice.to_device() && !DmaDirection::ToDevice.from_device());
        assert!(!DmaDirection::FromDevice.to_device() && DmaDirection::FromDevice.from_device());
        assert!(
            DmaDirection::Bidirectional.to_device() && DmaDirection::Bidirectional.from_device()
        );
    }
}
