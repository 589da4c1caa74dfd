//! `DmaLimits`: what a device accepts in one mapping.

use core::fmt;

use crate::Error;

/// The default maximum segment size: 64 KiB, as the kernel assumes for a
/// device that sets none.
pub const DEFAULT_MAX_SEGMENT_SIZE: u32 = 64 * 1024;

/// What a device can take in one mapping: the kernel's
/// `device_dma_parameters` and DMA mask, FreeBSD's `bus_dma` tag.
///
/// - `max_segment_size`: the longest segment, in bytes (default 64 KiB).
/// - `segment_boundary`: a power of two no segment may cross a multiple of
///   (default none).
/// - `highest_address`: the highest bus address the device reaches, the
///   DMA mask (default `u64::MAX`).
/// - `alignment`: a power of two every segment's start is a multiple of
///   (default 1).
/// - `max_segments`: the most segments one mapping may have (default
///   unlimited).
///
/// Setters take any value; [`validate`](Self::validate) (called by every
/// operation that uses the limits) refuses contradictory ones.
///
/// # Examples
///
/// ```
/// use sg_core::{DmaLimits, Error};
///
/// let limits = DmaLimits::new()
///     .with_max_segment_size(64 * 1024)
///     .with_segment_boundary(Some(64 * 1024))
///     .with_highest_address(u64::from(u32::MAX));
/// assert_eq!(limits.validate(), Ok(()));
/// assert!(limits.crosses_boundary(0xFFF0, 0x20));
///
/// let bad = DmaLimits::new().with_max_segment_size(8192).with_segment_boundary(Some(4096));
/// assert!(matches!(bad.validate(), Err(Error::InvalidLimits { .. })));
/// ```
#[doc(alias = "device_dma_parameters")]
#[doc(alias = "bus_dma_tag")]
#[doc(alias = "bus_dma")]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DmaLimits {
    max_segment_size: u32,
    segment_boundary: Option<u64>,
    highest_address: u64,
    alignment: u64,
    max_segments: usize,
}

impl Default for DmaLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl DmaLimits {
    /// The kernel's defaults: 64 KiB segments, no boundary, every address
    /// reachable, no alignment, any number of segments.
    pub const fn new() -> Self {
        DmaLimits {
            max_segment_size: DEFAULT_MAX_SEGMENT_SIZE,
            segment_boundary: None,
            highest_address: u64::MAX,
            alignment: 1,
            max_segments: usize::MAX,
        }
    }

    /// No limit at all but the `u32` length of an entry: segments of up to
    /// `u32::MAX` bytes.
    pub const fn unlimited() -> Self {
        DmaLimits {
            max_segment_size: u32::MAX,
            ..Self::new()
        }
    }

    /// Sets the longest segment, in bytes (`dma_set_max_seg_size`).
    #[doc(alias = "dma_set_max_seg_size")]
    pub const fn with_max_segment_size(mut self, bytes: u32) -> Self {
        self.max_segment_size = bytes;
        self
    }

    /// Sets the boundary no segment may cross, a power of two, or none
    /// (`dma_set_seg_boundary`).
    #[doc(alias = "dma_set_seg_boundary")]
    pub const fn with_segment_boundary(mut self, boundary: Option<u64>) -> Self {
        self.segment_boundary = boundary;
        self
    }

    /// Sets the highest bus address the device reaches (`dma_set_mask`:
    /// `u32::MAX` for a 32-bit device).
    #[doc(alias = "dma_set_mask")]
    pub const fn with_highest_address(mut self, address: u64) -> Self {
        self.highest_address = address;
        self
    }

    /// Sets the alignment of every segment's start, a power of two.
    pub const fn with_alignment(mut self, alignment: u64) -> Self {
        self.alignment = alignment;
        self
    }

    /// Sets the most segments one mapping may have.
    pub const fn with_max_segments(mut self, count: usize) -> Self {
        self.max_segments = count;
        self
    }

    /// The longest segment, in bytes.
    #[doc(alias = "dma_get_max_seg_size")]
    pub const fn max_segment_size(&self) -> u32 {
        self.max_segment_size
    }

    /// The boundary no segment crosses, if any.
    pub const fn segment_boundary(&self) -> Option<u64> {
        self.segment_boundary
    }

    /// The highest bus address the device reaches.
    pub const fn highest_address(&self) -> u64 {
        self.highest_address
    }

    /// The alignment of every segment's start.
    pub const fn alignment(&self) -> u64 {
        self.alignment
    }

    /// The most segments one mapping may have.
    pub const fn max_segments(&self) -> usize {
        self.max_segments
    }

    /// Checks that the limits can be met together.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimits`] when the maximum segment size, the number of
    /// segments or a power of two is zero, the boundary or alignment is not
    /// a power of two, the boundary is smaller than the maximum segment
    /// size, or the alignment is larger than the maximum segment size.
    pub fn validate(&self) -> Result<(), Error> {
        let reason = if self.max_segment_size == 0 {
            "the maximum segment size is 0"
        } else if self.max_segments == 0 {
            "the maximum number of segments is 0"
        } else if !self.alignment.is_power_of_two() {
            "the alignment is not a power of two"
        } else if self.alignment > u64::from(self.max_segment_size) {
            "the alignment is larger than the maximum segment size"
        } else if self
            .segment_boundary
            .is_some_and(|boundary| !boundary.is_power_of_two())
        {
            "the segment boundary is not a power of two"
        } else if self
            .segment_boundary
            .is_some_and(|boundary| boundary < u64::from(self.max_segment_size))
        {
            "the segment boundary is smaller than the maximum segment size"
        } else {
            return Ok(());
        };
        Err(Error::InvalidLimits { reason })
    }

    /// Whether `len` bytes at bus `address` cross a segment boundary.
    #[inline]
    pub fn crosses_boundary(&self, address: u64, len: u64) -> bool {
        match (self.segment_boundary, len) {
            (None, _) | (_, 0) => false,
            (Some(boundary), _) => {
                let mask = !(boundary - 1);
                let last = address.saturating_add(len - 1);
                address & mask != last & mask
            }
        }
    }

    /// Whether `len` bytes at bus `address` make one segment the device
    /// accepts: not too long, not crossing a boundary, aligned, reachable.
    #[inline]
    pub fn accepts(&self, address: u64, len: u64) -> bool {
        len <= u64::from(self.max_segment_size)
            && !self.crosses_boundary(address, len)
            && address % self.alignment == 0
            && (len == 0
                || address
                    .checked_add(len - 1)
                    .is_some_and(|last| last <= self.highest_address))
    }

    /// Checks that `len` bytes at bus `address`, the bytes of entry
    /// `index` of a list, make a segment the device accepts, and says what
    /// is wrong when they do not.
    ///
    /// Mapping a table checks every entry with this, and counting the
    /// segments a list needs does the same on physical addresses.
    ///
    /// # Errors
    ///
    /// In this order: [`Error::EntryNeedsSplit`] when the entry is longer
    /// than the maximum segment size, [`Error::Misaligned`] when `address`
    /// is not a multiple of the alignment, [`Error::Unreachable`] when a
    /// byte lies above the highest address, and [`Error::EntryNeedsSplit`]
    /// when the bytes cross a segment boundary.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{DmaLimits, Error};
    ///
    /// let limits = DmaLimits::new()
    ///     .with_segment_boundary(Some(0x1_0000))
    ///     .with_highest_address(0xFFFF_FFFF);
    /// assert_eq!(limits.check_segment(0, 0x1000, 0x2000), Ok(()));
    /// assert_eq!(
    ///     limits.check_segment(3, 0xF000, 0x2000),
    ///     Err(Error::EntryNeedsSplit { index: 3, len: 0x2000 })
    /// );
    /// assert_eq!(
    ///     limits.check_segment(0, 0xFFFF_F000, 0x2000),
    ///     Err(Error::Unreachable { address: 0x1_0000_0000, highest: 0xFFFF_FFFF })
    /// );
    /// ```
    pub fn check_segment(&self, index: usize, address: u64, len: u32) -> Result<(), Error> {
        let split = Error::EntryNeedsSplit { index, len };
        if len > self.max_segment_size {
            return Err(split);
        }
        if address % self.alignment != 0 {
            return Err(Error::Misaligned {
                address,
                alignment: self.alignment,
            });
        }
        if len == 0 {
            return Ok(());
        }
        match address.checked_add(u64::from(len) - 1) {
            Some(last) if last <= self.highest_address => {}
            _ => {
                return Err(Error::Unreachable {
                    address: address.max(self.highest_address.saturating_add(1)),
                    highest: self.highest_address,
                });
            }
        }
        if self.crosses_boundary(address, u64::from(len)) {
            return Err(split);
        }
        Ok(())
    }

    /// Whether `len` bytes at bus `address` extend the segment of
    /// `segment_len` bytes at `segment_address` into one segment: they
    /// start right after it, and the merged segment stays within the
    /// maximum segment size and crosses no boundary.
    ///
    /// This is the one merging rule of the workspace: mapping a table
    /// merges neighbouring entries with it, and
    /// [`SgList::count_dma_segments`](crate::SgList::count_dma_segments)
    /// counts with it. Both bus ranges are assumed to pass
    /// [`check_segment`](Self::check_segment), so the merged one is aligned
    /// and reachable too.
    ///
    /// ```
    /// use sg_core::DmaLimits;
    ///
    /// let limits = DmaLimits::new().with_max_segment_size(0x3000).with_segment_boundary(Some(0x4000));
    /// assert!(limits.merges(0x1000, 0x1000, 0x2000, 0x1000));
    /// assert!(!limits.merges(0x1000, 0x1000, 0x2001, 0x1000), "not contiguous");
    /// assert!(!limits.merges(0, 0x2000, 0x2000, 0x1001), "too long");
    /// assert!(!limits.merges(0x3000, 0x1000, 0x4000, 0x1000), "crosses 0x4000");
    /// ```
    #[inline]
    pub fn merges(&self, segment_address: u64, segment_len: u32, address: u64, len: u32) -> bool {
        let merged = u64::from(segment_len) + u64::from(len);
        segment_address.checked_add(u64::from(segment_len)) == Some(address)
            && merged <= u64::from(self.max_segment_size)
            && !self.crosses_boundary(segment_address, merged)
    }
}

/// Prints an optional number in hex.
struct Hex(Option<u64>);

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(value) => write!(f, "Some({value:#x})"),
            None => f.write_str("None"),
        }
    }
}

impl fmt::Debug for DmaLimits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DmaLimits")
            .field("max_segment_size", &self.max_segment_size)
            .field("segment_boundary", &Hex(self.segment_boundary))
            .field(
                "highest_address",
                &format_args!("{:#x}", self.highest_address),
            )
            .field("alignment", &self.alignment)
            .field("max_segments", &self.max_segments)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contradictory_limits_are_refused() {
        let invalid =
            |limits: DmaLimits| matches!(limits.validate(), Err(Error::InvalidLimits { .. }));
        assert_eq!(DmaLimits::new().validate(), Ok(()));
        assert_eq!(DmaLimits::unlimited().validate(), Ok(()));
        assert!(invalid(DmaLimits::new().with_max_segment_size(0)));
        assert!(invalid(DmaLimits::new().with_max_segments(0)));
        assert!(invalid(DmaLimits::new().with_alignment(0)));
        assert!(invalid(DmaLimits::new().with_alignment(3)));
        assert!(invalid(DmaLimits::new().with_alignment(1 << 20)));
        assert!(invalid(DmaLimits::new().with_segment_boundary(Some(0))));
        assert!(invalid(
            DmaLimits::new().with_segment_boundary(Some(3 << 16))
        ));
        assert!(invalid(DmaLimits::new().with_segment_boundary(Some(4096))));
        assert_eq!(
            DmaLimits::new()
                .with_segment_boundary(Some(1 << 16))
                .validate(),
            Ok(())
        );
    }

    #[test]
    fn boundaries_alignment_and_reach_are_judged_on_bus_addresses() {
        let limits = DmaLimits::new()
            .with_segment_boundary(Some(0x1_0000))
            .with_alignment(512)
            .with_highest_address(0xFFFF_FFFF);
        assert!(!limits.crosses_boundary(0, 0x1_0000));
        assert!(limits.crosses_boundary(0xFE00, 0x201));
        assert!(!limits.crosses_boundary(0xFE00, 0x200));
        assert!(!limits.crosses_boundary(u64::MAX, 0));
        assert!(limits.accepts(0x1_0000, 0x1_0000));
        assert!(!limits.accepts(0x1_0000, 0x1_0001), "longer than 64 KiB");
        assert!(!limits.accepts(0x100, 0x100), "misaligned");
        assert!(limits.accepts(0xFFFF_FE00, 0x200));
        assert!(
            !limits.accepts(0xFFFF_FE00, 0x201),
            "past the highest address"
        );
        assert!(!limits.accepts(u64::MAX - 511, 512));
    }

    #[test]
    fn check_segment_names_what_is_wrong_in_order() {
        let limits = DmaLimits::new()
            .with_max_segment_size(0x2000)
            .with_segment_boundary(Some(0x4000))
            .with_alignment(0x200)
            .with_highest_address(0xF_FFFF);
        let split = |index, length| Err(Error::EntryNeedsSplit { index, len: length });
        assert_eq!(limits.check_segment(0, 0x4000, 0x2000), Ok(()));
        assert_eq!(limits.check_segment(0, 0x4000, 0), Ok(()));
        assert_eq!(limits.check_segment(7, 0x4000, 0x2001), split(7, 0x2001));
        // Too long wins over misaligned and unreachable.
        assert_eq!(limits.check_segment(1, 0x10_0001, 0x2001), split(1, 0x2001));
        assert_eq!(
            limits.check_segment(0, 0x4100, 0x100),
            Err(Error::Misaligned {
                address: 0x4100,
                alignment: 0x200
            })
        );
        assert_eq!(
            limits.check_segment(0, 0xF_FE00, 0x400),
            Err(Error::Unreachable {
                address: 0x10_0000,
                highest: 0xF_FFFF
            })
        );
        assert_eq!(
            limits.check_segment(0, 0x20_0000, 0x200),
            Err(Error::Unreachable {
                address: 0x20_0000,
                highest: 0xF_FFFF
            })
        );
        assert_eq!(
            limits.check_segment(0, u64::MAX - 0x1FF, 0x400),
            Err(Error::Unreachable {
                address: u64::MAX - 0x1FF,
                highest: 0xF_FFFF
            }),
            "the end overflows"
        );
        assert_eq!(
            limits.check_segment(0, u64::MAX - 0xFF, 0x80),
            Err(Error::Misaligned {
                address: u64::MAX - 0xFF,
                alignment: 0x200
            })
        );
        assert_eq!(limits.check_segment(2, 0x3E00, 0x400), split(2, 0x400));
        let everything = DmaLimits::unlimited();
        assert!(matches!(
            everything.check_segment(0, u64::MAX, 2),
            Err(Error::Unreachable { .. })
        ));
        assert_eq!(everything.check_segment(0, u64::MAX, 1), Ok(()));
    }

    #[test]
    fn merging_needs_contiguity_size_and_no_boundary() {
        let limits = DmaLimits::new()
            .with_max_segment_size(0x3000)
            .with_segment_boundary(Some(0x4000));
        assert!(limits.merges(0, 0x1000, 0x1000, 0x2000));
        assert!(!limits.merges(0, 0x1000, 0x1000, 0x2001), "too long");
        assert!(!limits.merges(0, 0x1000, 0x1001, 0x100), "a gap");
        assert!(!limits.merges(0x1000, 0x1000, 0x1000, 0x100), "overlap");
        assert!(!limits.merges(0x3000, 0x800, 0x3800, 0x1000), "crosses");
        assert!(limits.merges(0x3000, 0x800, 0x3800, 0x800));
        assert!(!limits.merges(u64::MAX, 1, 0, 1), "wraps around");
        let unlimited = DmaLimits::unlimited();
        assert!(unlimited.merges(0, u32::MAX - 1, u64::from(u32::MAX - 1), 1));
        assert!(!unlimited.merges(0, u32::MAX, u64::from(u32::MAX), 1));
    }
}
