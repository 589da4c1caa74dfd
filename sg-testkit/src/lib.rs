//! The test kit of `sg`: everything the workspace's crates are tested with,
//! built to catch real mistakes.
//!
//! - [`MockPages`]: a page provider with frame numbers chosen by the test,
//!   real bytes behind each page, counts of mappings, allocations and
//!   flushes, allocation failure on demand, and leak checks (explicit, and
//!   on drop). Mappings are copies by default, so a forgotten unmap loses
//!   its writes; [`Mapping::Linear`] tests the fast paths.
//! - [`CountingChunks`] and [`FailingChunks`]: chunk allocators that count
//!   live arrays, check every free, and fail at the k-th allocation;
//!   [`for_each_chunk_failure`] and [`for_each_page_failure`] run an
//!   operation once for every failure point, checking for leaks each time.
//! - [`PanicAt`]: any provider, chunk allocator or DMA mapper made to
//!   panic at its k-th call; [`for_each_panic_point`] drives it.
//! - [`Model`]: a flat byte buffer with the kernel's semantics for copy,
//!   zero and list-to-list copy, to compare against.
//! - quickcheck generators with shrinking: [`PageLayout`], [`EntryLayout`],
//!   [`MaxSegment`], [`SkipLen`], [`ConsumePattern`].
//! - [`BuiltList`]: a list in chained heap arrays, built by hand.
//! - [`FramePages`]: pages that are bare frame numbers without memory, for
//!   building and walking lists of any size without touching bytes;
//!   [`CountedFrames`] the same that can be allocated, with its books
//!   checked.
//! - [`TempFile`]: a file of a test's own in the temporary directory,
//!   removed on drop.
//! - [`MockIommu`]: a DMA mapper that hands out bus addresses like an
//!   IOMMU, records live mappings (translating bus addresses back to
//!   pages), fails at the k-th map and checks for leaks; it also maps in
//!   two steps (IOVA ranges, `IovaMapper`) and counts IOTLB flushes; [`DeviceLimits`]
//!   generates a device's DMA limits.
//! - [`vectors`]: the kernel's from-pages test vectors as typed cases.
//! - [`assert_send`], [`assert_sync`], [`assert_send_sync!`],
//!   [`assert_not_send!`], [`assert_not_sync!`] and
//!   [`assert_neither_send_nor_sync!`]: compile-time checks of which types
//!   may cross threads.
//!
//! # Example
//!
//! ```
//! use sg_testkit::{EntryLayout, MockPages, Model};
//! use quickcheck::{Arbitrary, Gen};
//!
//! let mock = MockPages::<4096>::new();
//! let layout = EntryLayout::arbitrary(&mut Gen::new(10));
//! let built = layout.build(&mock);
//! mock.fill(1);
//! let list = built.list(&mock);
//! let model = Model::from_list(&mock, list);
//! assert_eq!(model.len() as u64, layout.byte_len());
//! model.assert_matches(&mock, list);
//! ```

#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

mod arbitrary;
mod auto_traits;
mod built;
mod chunks;
mod counting_alloc;
mod device_limits;
mod failure;
mod frames;
mod iommu;
mod leak_check;
mod mock_pages;
mod model;
mod panic_at;
mod temp_file;
pub mod vectors;

pub use arbitrary::{
    Consume, ConsumePattern, EntryLayout, EntrySpec, MaxSegment, PageLayout, Run, SkipLen,
};
pub use auto_traits::{IsSend, IsSync, NotSend, NotSync, assert_send, assert_sync};
pub use built::BuiltList;
pub use chunks::{CountingChunks, FailingChunks};
pub use counting_alloc::CountingAllocator;
pub use device_limits::DeviceLimits;
pub use failure::{
    InjectedPanic, for_each_chunk_failure, for_each_failure_point, for_each_page_failure,
    for_each_panic_point, inject_panic,
};
pub use frames::{CountedFrames, FramePages};
pub use iommu::{DEFAULT_IOVA_SPACE, IommuMapping, MockIommu, Translation};
pub use mock_pages::{Leaks, MAX_MOCK_ORDER, Mapping, MockPage, MockPages, pattern_page};
pub use model::{Mismatch, Model};
pub use panic_at::PanicAt;
pub use temp_file::TempFile;

/// The page size property tests should use: 4 KiB, or 64 bytes under
/// Miri, where every byte a test allocates, copies or compares costs about
/// a thousand times more (scale the generators with their `scaled`
/// methods).
pub const TEST_PAGE_SIZE: usize = if cfg!(miri) { 64 } else { 4096 };

/// [`MockPages`] with [`TEST_PAGE_SIZE`]-byte pages.
pub type TestPages = MockPages<TEST_PAGE_SIZE>;

/// A quickcheck runner sized for the build: `tests` cases normally, and a
/// handful of small cases under Miri, which is about a thousand times
/// slower.
///
/// ```
/// let mut checker = sg_testkit::checker(200);
/// checker.quickcheck((|x: u8| x == x) as fn(u8) -> bool);
/// ```
pub fn checker(tests: u64) -> quickcheck::QuickCheck {
    if cfg!(miri) {
        quickcheck::QuickCheck::new()
            .tests(tests.min(6))
            .rng(quickcheck::Gen::new(8))
    } else {
        quickcheck::QuickCheck::new().tests(tests)
    }
}

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
