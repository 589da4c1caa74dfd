//! The error type shared by every crate of the workspace.

/// Everything that can go wrong in a scatter-gather operation.
///
/// Each variant says what was wrong and with which value. Bad input never
/// panics: it gets one of these. Generic code that only cares about the
/// broad class of a failure matches on [`Error::kind`].
///
/// # Examples
///
/// ```
/// use sg_core::{Error, ErrorKind};
///
/// let error = Error::ListTooShort { needed: 10, available: 4 };
/// assert_eq!(error.kind(), ErrorKind::TooShort);
/// assert_eq!(error.to_string(), "the list holds 4 bytes but 10 are needed");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A table or array of zero entries was asked for.
    #[error("a list needs at least one entry")]
    NoEntries,
    /// A builder was given no pages.
    #[error("no pages were given")]
    NoPages,
    /// A maximum segment size rounds down to less than one page.
    #[error("max_segment {max_segment} is less than one page of {page_size} bytes")]
    SegmentTooSmall {
        /// The maximum segment size given.
        max_segment: u32,
        /// The page size of the provider.
        page_size: usize,
    },
    /// A page handle stands for some bytes of its page only (a buffer's),
    /// so a builder that describes whole pages cannot take it.
    #[error("page {index} stands for part of its page only, not the whole page")]
    PartialPage {
        /// Its index among the pages given.
        index: usize,
    },
    /// An offset into the first page is a page or more.
    #[error("offset {offset} is not inside the first page of {page_size} bytes")]
    OffsetTooLarge {
        /// The offset given.
        offset: usize,
        /// The page size of the provider.
        page_size: usize,
    },
    /// A size is larger than the given pages hold after the offset.
    #[error("size {size} is more than the {available} bytes the pages hold after the offset")]
    SizeTooLarge {
        /// The size given.
        size: u64,
        /// The bytes the pages hold after the offset.
        available: u64,
    },
    /// A length of zero where at least one byte is needed.
    #[error("length 0 where at least one byte is needed")]
    ZeroLength,
    /// A count or a length does not fit the integer type that must hold it.
    #[error("{what} overflows")]
    Overflow {
        /// What overflowed.
        what: &'static str,
    },
    /// A list holds fewer bytes than an operation needs.
    #[error("the list holds {available} bytes but {needed} are needed")]
    ListTooShort {
        /// The bytes the operation needs.
        needed: u64,
        /// The bytes the list holds.
        available: u64,
    },
    /// A list holds fewer entries than an operation needs.
    #[error("entry {requested} was asked for but the list has {available} entries")]
    TooFewEntries {
        /// The entry count asked for.
        requested: usize,
        /// The data entries the list has.
        available: usize,
    },
    /// The entry asked for as the last one of a list carries no end mark.
    #[error("entry {index} is not the last one of its list (no end mark)")]
    NotLast {
        /// Index of the entry among the data entries, counting from 0.
        index: usize,
    },
    /// Appending to a non-empty table with an offset into the first page.
    #[error("appending to a non-empty table needs offset 0, got {offset}")]
    AppendOffset {
        /// The offset given.
        offset: usize,
    },
    /// A chunk allocator could not provide an array of entries.
    #[error("out of memory for an array of entries")]
    OutOfMemory,
    /// An array larger than the chunk allocator serves was asked for.
    #[error("an array of {requested} entries is larger than the {max} the allocator serves")]
    ChunkTooLarge {
        /// The entries asked for.
        requested: usize,
        /// The largest array the allocator serves.
        max: usize,
    },
    /// A page provider could not allocate 2^order pages.
    #[error("the page provider could not allocate 2^{order} pages")]
    PagesUnavailable {
        /// The order of the allocation.
        order: u32,
    },
    /// DMA limits that contradict each other or are not usable.
    #[error("invalid DMA limits: {reason}")]
    InvalidLimits {
        /// What is wrong with the limits.
        reason: &'static str,
    },
    /// Mapping would need more segments than the device accepts.
    #[error("the list needs {needed} DMA segments but the device accepts {max}")]
    TooManySegments {
        /// Segments needed (at least).
        needed: usize,
        /// The device's maximum.
        max: usize,
    },
    /// An entry could only be mapped by splitting it into several segments.
    ///
    /// Build the table with the device's limits (the builder from pages
    /// given the [`DmaLimits`](crate::DmaLimits)) so that no entry exceeds
    /// the device's maximum segment or crosses its boundary.
    #[error(
        "entry {index} of {len} bytes could only be mapped by splitting it; \
         build the table with the device's limits (the from-pages builder given DmaLimits) to avoid this"
    )]
    EntryNeedsSplit {
        /// Index of the entry among the data entries, counting from 0.
        index: usize,
        /// Its length in bytes.
        len: u32,
    },
    /// The device cannot reach an address and no bounce buffer was available.
    #[error("bus address {address:#x} is above the device's highest address {highest:#x}")]
    Unreachable {
        /// The bus address of the first byte that cannot be reached.
        address: u64,
        /// The highest bus address the device reaches.
        highest: u64,
    },
    /// A bus address is not a multiple of the alignment the device needs
    /// for a segment's start, and nothing can move it.
    #[error("bus address {address:#x} is not a multiple of the device's alignment {alignment}")]
    Misaligned {
        /// The bus address of the segment's first byte.
        address: u64,
        /// The alignment the device needs.
        alignment: u64,
    },
    /// A bounce pool has no room for a mapping.
    #[error("the bounce pool has {available} free bytes but {requested} are needed")]
    BouncePoolExhausted {
        /// Bytes needed.
        requested: usize,
        /// Bytes free in the pool.
        available: usize,
    },
    /// A DMA mapper failed to map a run of pages.
    #[error("the DMA mapper failed to map entry {index}")]
    MapFailed {
        /// Index of the entry among the data entries, counting from 0.
        index: usize,
    },
    /// An empty table was given to an operation that needs entries.
    #[error("the table has no data entries")]
    EmptyTable,
    /// Two entries of a list that is written describe some of the same
    /// bytes, so they cannot be handed out as separate mutable slices.
    #[error("entries {first} and {second} describe some of the same bytes")]
    Overlap {
        /// Index of the earlier entry among the data entries.
        first: usize,
        /// Index of the later entry among the data entries.
        second: usize,
    },
    /// Pages asked of a set lie past its end.
    #[error("pages up to {end} were asked of a set of {pages} pages")]
    NotInSet {
        /// The end (exclusive) of the range of positions asked for.
        end: usize,
        /// Pages in the set.
        pages: usize,
    },
    /// An append would use a page of its set that the table already
    /// describes: a page is used once, so entries never overlap.
    #[error("page {index} of the set is already in the table (pages from {next} on are free)")]
    PageReused {
        /// The position asked for.
        index: usize,
        /// The first position the table has not used.
        next: usize,
    },
    /// An order of positions names one position twice.
    #[error("position {position} is named twice, at {first} and {second}")]
    RepeatedPosition {
        /// The position named twice.
        position: usize,
        /// Where it is named first.
        first: usize,
        /// Where it is named again.
        second: usize,
    },
    /// A read-only table was asked to let a device write its bytes.
    #[error("a read-only table cannot be mapped for a device that writes")]
    ReadOnly,
    /// A page lies outside the memory its provider reaches (a guest
    /// address in a hole between memory regions), so it cannot be mapped.
    #[error("page frame {frame:#x} lies outside the provider's memory")]
    OutsideMemory {
        /// The frame number of the page.
        frame: u64,
    },
}

/// The broad class of an [`Error`], for code that handles failures generically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed a value the operation does not accept.
    InvalidInput,
    /// Memory for entries or pages could not be had.
    OutOfMemory,
    /// The list is shorter than the operation needs.
    TooShort,
    /// A device's DMA limits cannot be met.
    DeviceLimits,
    /// A DMA mapper or its bounce pool failed.
    MapperFailure,
}

impl Error {
    /// The broad class of this error.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{Error, ErrorKind};
    ///
    /// assert_eq!(Error::OutOfMemory.kind(), ErrorKind::OutOfMemory);
    /// assert_eq!(Error::NoPages.kind(), ErrorKind::InvalidInput);
    /// ```
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::NoEntries
            | Error::NoPages
            | Error::SegmentTooSmall { .. }
            | Error::PartialPage { .. }
            | Error::OffsetTooLarge { .. }
            | Error::SizeTooLarge { .. }
            | Error::ZeroLength
            | Error::Overflow { .. }
            | Error::NotLast { .. }
            | Error::AppendOffset { .. }
            | Error::ChunkTooLarge { .. }
            | Error::InvalidLimits { .. }
            | Error::EmptyTable
            | Error::Overlap { .. }
            | Error::NotInSet { .. }
            | Error::PageReused { .. }
            | Error::RepeatedPosition { .. }
            | Error::ReadOnly
            | Error::OutsideMemory { .. } => ErrorKind::InvalidInput,
            Error::ListTooShort { .. } | Error::TooFewEntries { .. } => ErrorKind::TooShort,
            Error::OutOfMemory | Error::PagesUnavailable { .. } => ErrorKind::OutOfMemory,
            Error::TooManySegments { .. }
            | Error::EntryNeedsSplit { .. }
            | Error::Unreachable { .. }
            | Error::Misaligned { .. } => ErrorKind::DeviceLimits,
            Error::BouncePoolExhausted { .. } | Error::MapFailed { .. } => ErrorKind::MapperFailure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_a_kind_and_a_message() {
        let all = [
            Error::NotInSet { end: 3, pages: 2 },
            Error::PageReused { index: 0, next: 1 },
            Error::ReadOnly,
            Error::OutsideMemory { frame: 7 },
            Error::RepeatedPosition {
                position: 1,
                first: 0,
                second: 2,
            },
            Error::NoEntries,
            Error::NoPages,
            Error::SegmentTooSmall {
                max_segment: 1,
                page_size: 4096,
            },
            Error::PartialPage { index: 1 },
            Error::OffsetTooLarge {
                offset: 4096,
                page_size: 4096,
            },
            Error::SizeTooLarge {
                size: 2,
                available: 1,
            },
            Error::ZeroLength,
            Error::Overflow {
                what: "entry count",
            },
            Error::ListTooShort {
                needed: 2,
                available: 1,
            },
            Error::TooFewEntries {
                requested: 2,
                available: 1,
            },
            Error::NotLast { index: 0 },
            Error::AppendOffset { offset: 1 },
            Error::OutOfMemory,
            Error::ChunkTooLarge {
                requested: 2,
                max: 1,
            },
            Error::PagesUnavailable { order: 3 },
            Error::InvalidLimits { reason: "zero" },
            Error::TooManySegments { needed: 2, max: 1 },
            Error::EntryNeedsSplit { index: 0, len: 1 },
            Error::Unreachable {
                address: 1,
                highest: 0,
            },
            Error::Misaligned {
                address: 1,
                alignment: 2,
            },
            Error::BouncePoolExhausted {
                requested: 2,
                available: 1,
            },
            Error::MapFailed { index: 0 },
            Error::EmptyTable,
            Error::Overlap {
                first: 0,
                second: 1,
            },
        ];
        for error in all {
            let _ = error.kind();
            assert!(!alloc::format!("{error}").is_empty());
        }
        assert_eq!(
            Error::SegmentTooSmall {
                max_segment: 100,
                page_size: 4096
            }
            .to_string(),
            "max_segment 100 is less than one page of 4096 bytes"
        );
    }

    extern crate alloc;
    use alloc::string::ToString;
}
