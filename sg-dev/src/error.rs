//! `DevError`: why a mapped view cannot be written in a device's format,
//! and which builder limits would have avoided it.

use sg_core::DmaLimits;

/// Which end of a segment breaks the PRP rule that only the first entry
/// may start inside a page and only the last may end inside one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GapAt {
    /// A segment after the first starts inside a page.
    Start,
    /// A segment before the last ends inside a page.
    End,
}

/// Why a mapped view (or a structure read back) is not what a device
/// format allows. Every variant that concerns a segment names it by its
/// index in the view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// The view holds no byte.
    #[error("the view holds no byte")]
    EmptyView,
    /// A segment vector or descriptor table has no room for the view.
    #[error("{needed} slots needed, {available} available")]
    NoRoom {
        /// Slots needed.
        needed: usize,
        /// Slots there are.
        available: usize,
    },
    /// No memory for a segment vector.
    #[error("out of memory for a segment vector")]
    OutOfMemory,
    /// A page size the format does not allow (NVMe: a power of two from
    /// 4 KiB to 128 MiB).
    #[error("page size {page_size} is not a power of two from 4 KiB to 128 MiB")]
    InvalidPageSize {
        /// The page size given.
        page_size: u64,
    },
    /// A PRP entry's address has one of its two low bits set (PRP entries
    /// are dword aligned).
    #[error("segment {index} starts at {address:#x}, which is not dword aligned")]
    PrpMisaligned {
        /// The segment's index in the view.
        index: usize,
        /// Its address.
        address: u64,
    },
    /// A PRP gap: a segment after the first starts inside a page, or one
    /// before the last ends inside one.
    #[error("segment {index} ({address:#x}, {len} bytes) leaves a gap inside a page at its {at:?}")]
    PrpGap {
        /// The segment's index in the view.
        index: usize,
        /// Its address.
        address: u64,
        /// Its length.
        len: u64,
        /// Which end breaks the rule.
        at: GapAt,
    },
    /// A segment is longer than a descriptor's length field (`u32`)
    /// holds.
    #[error("segment {index} of {len} bytes is longer than the {max} a descriptor holds")]
    SegmentTooLong {
        /// The segment's index in the view.
        index: usize,
        /// Its length.
        len: u64,
        /// The longest the format takes.
        max: u64,
    },
    /// An SGL data block is not dword aligned (address or length) where
    /// the controller asks for it.
    #[error("segment {index} ({address:#x}, {len} bytes) is not dword aligned")]
    SglMisaligned {
        /// The segment's index in the view.
        index: usize,
        /// Its address.
        address: u64,
        /// Its length.
        len: u64,
    },
    /// The caller's source of list pages (PRP lists, SGL segments) ran
    /// dry, or gave a page of the wrong size.
    #[error("no list page (or one of the wrong size) for list page {page}")]
    NoListPage {
        /// Which list page was asked for, counting from 0.
        page: usize,
    },
    /// A virtio queue larger than 32768 descriptors.
    #[error("a virtio queue of {size} descriptors is larger than 32768")]
    QueueTooLarge {
        /// The queue's size.
        size: usize,
    },
    /// A structure read back is malformed: a descriptor index outside the
    /// table, a chain longer than the table (a loop), a list pointer or
    /// descriptor type the format forbids at that place.
    #[error("malformed structure at {at}: {reason}")]
    Malformed {
        /// The index (descriptor, list entry) where it was found.
        at: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A segment names an address the memory cannot reach
    /// ([`SegmentMemory::map`](crate::SegmentMemory::map) has no mapping for
    /// it, or the segment's end overflows).
    #[error("segment {index}: no memory at address {addr:#x}")]
    Unmapped {
        /// The segment's index in the view.
        index: usize,
        /// The first address without memory.
        addr: u64,
    },
}

/// What would have avoided a [`DevError`]: see [`DevError::remedy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Map the table under these limits (the caller's, tightened): the
    /// mapper then splits, aligns or bounces so that the view obeys the
    /// format.
    Limits(DmaLimits),
    /// No mapping limit helps; the reason says what does.
    Other(&'static str),
}

impl DevError {
    /// What would have avoided this error when mapping under `limits` with
    /// `page_size`-byte device pages: tighter limits for the builder and
    /// mapper ([`DmaLimits`]: segment boundary, maximum segment size,
    /// alignment), or what else to do; `None` for errors that are not
    /// about the view's shape.
    ///
    /// ```
    /// use sg_core::DmaLimits;
    /// use sg_dev::{DevError, GapAt, Remedy};
    ///
    /// let gap = DevError::PrpGap { index: 2, address: 0x1200, len: 512, at: GapAt::Start };
    /// let Some(Remedy::Limits(limits)) = gap.remedy(&DmaLimits::new(), 4096) else { panic!() };
    /// assert_eq!(limits.alignment(), 4096);
    /// let long = DevError::SegmentTooLong { index: 0, len: 1 << 33, max: u64::from(u32::MAX) };
    /// assert!(matches!(long.remedy(&DmaLimits::new(), 4096), Some(Remedy::Limits(_))));
    /// ```
    pub fn remedy(&self, limits: &DmaLimits, page_size: u64) -> Option<Remedy> {
        let at_least = |bytes: u64| {
            limits
                .max_segment_size()
                .max(u32::try_from(bytes).unwrap_or(u32::MAX))
        };
        match *self {
            // Segments that start a page: the mapper refuses (or bounces)
            // runs that would not.
            DevError::PrpGap {
                at: GapAt::Start, ..
            } => Some(Remedy::Limits(
                limits
                    .with_alignment(limits.alignment().max(page_size))
                    .with_max_segment_size(at_least(page_size)),
            )),
            DevError::PrpGap { at: GapAt::End, .. } => Some(Remedy::Other(
                "a segment ends inside a page and more follow: no limit changes where the data \
                 ends; map through an IOVA range (pages then meet on the bus), bounce the \
                 partial page, or use an SGL",
            )),
            DevError::PrpMisaligned { .. } => Some(Remedy::Limits(
                limits.with_alignment(limits.alignment().max(4)),
            )),
            DevError::SglMisaligned { len, .. } if len % 4 != 0 => Some(Remedy::Other(
                "a data block's length is not a multiple of 4: pad the transfer, or use a \
                 controller without the dword granularity requirement",
            )),
            DevError::SglMisaligned { .. } => Some(Remedy::Limits(
                limits.with_alignment(limits.alignment().max(4)),
            )),
            DevError::SegmentTooLong { max, .. } => {
                let max = u32::try_from(max).unwrap_or(u32::MAX);
                let shorter = limits.max_segment_size().min(max);
                let limits = limits.with_max_segment_size(shorter);
                // Keep the limits valid: the alignment fits a segment.
                let alignment = limits.alignment().min(1 << shorter.ilog2());
                Some(Remedy::Limits(limits.with_alignment(alignment)))
            }
            _ => None,
        }
    }
}
