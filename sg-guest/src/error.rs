//! [`GuestError`]: what goes wrong with guest memory and descriptor chains.

/// A guest memory or descriptor chain failure. Every virtio rule the
/// builder checks has a variant of its own, with the index of the
/// offending descriptor in the chain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GuestError {
    /// A guest address lies outside every memory region.
    #[error("guest address {address:#x} lies in a hole, outside every memory region")]
    Hole {
        /// The first address outside.
        address: u64,
    },
    /// A region given to a backend is empty, overlaps another, ends past
    /// the last address, or could not be allocated.
    #[error("the guest memory region at {address:#x} is empty, overlaps another or cannot be had")]
    BadRegion {
        /// The region's guest address.
        address: u64,
    },
    /// The bytes of a descriptor lie in a page whose first byte is in
    /// another region, or in a hole (a region that does not start or end at
    /// a page boundary).
    #[error("descriptor {index} reaches a page at {address:#x} that regions share")]
    SharedPage {
        /// The descriptor's index in the chain.
        index: usize,
        /// The address of its bytes in that page.
        address: u64,
    },
    /// A device-readable descriptor follows a device-writable one.
    #[error("descriptor {index} is readable but follows a writable one")]
    ReadableAfterWritable {
        /// The descriptor's index in the chain.
        index: usize,
    },
    /// A descriptor of 0 bytes.
    #[error("descriptor {index} has length 0")]
    ZeroLength {
        /// The descriptor's index in the chain.
        index: usize,
    },
    /// A descriptor ends past the last guest address, or the lengths of
    /// the chain add up past `u32::MAX` (virtio's limit: a chain's total
    /// length is a `u32`).
    #[error("descriptor {index} makes the chain's length overflow")]
    LengthOverflow {
        /// The descriptor's index in the chain.
        index: usize,
    },
    /// More descriptors than the queue holds (a loop, in a table).
    #[error("the chain is longer than the queue size {queue_size}")]
    ChainTooLong {
        /// The queue size.
        queue_size: u16,
    },
    /// An indirect descriptor (`VIRTQ_DESC_F_INDIRECT`), which the caller
    /// resolves into the descriptors of its table.
    #[error("descriptor {index} is indirect")]
    Indirect {
        /// The descriptor's index in the chain.
        index: usize,
    },
    /// The last descriptor says another follows (`VIRTQ_DESC_F_NEXT`).
    #[error("the chain ends with a descriptor that says another follows")]
    Unterminated,
    /// No descriptor at all.
    #[error("the chain has no descriptor")]
    Empty,
    /// The caller's entry array is too small for the chain's pieces.
    #[error("the chain needs more than the {capacity} entries given")]
    TooManyEntries {
        /// Entries given.
        capacity: usize,
    },
    /// A header was asked of fewer bytes than it holds.
    #[error("{needed} bytes were asked but {available} are left")]
    ShortChain {
        /// Bytes wanted.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
}

impl From<GuestError> for std::io::Error {
    fn from(error: GuestError) -> Self {
        let kind = match error {
            GuestError::ShortChain { .. } => std::io::ErrorKind::UnexpectedEof,
            _ => std::io::ErrorKind::InvalidInput,
        };
        std::io::Error::new(kind, error)
    }
}
