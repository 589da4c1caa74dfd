//! A quickcheck generator of device DMA limits.

use quickcheck::{Arbitrary, Gen};
use sg_core::DmaLimits;

/// Valid DMA limits of a device, for 4 KiB pages: maximum segment sizes of
/// whole pages, between pages, below a page, the kernel's 64 KiB and
/// `u32::MAX`; no boundary or a power of two at or above the maximum
/// segment size; alignments from 1 to a few pages; the highest address
/// everything, 4 GiB, or a frame number among those of [`PageLayout`]s
/// (so that some pages are out of reach); and any number of segments or a
/// handful. Shrinks towards the kernel's defaults.
///
/// [`PageLayout`]: crate::PageLayout
///
/// # Examples
///
/// ```
/// use quickcheck::{Arbitrary, Gen};
/// use sg_testkit::DeviceLimits;
///
/// let limits = DeviceLimits::arbitrary(&mut Gen::new(20));
/// assert_eq!(limits.0.validate(), Ok(()));
/// assert_eq!(limits.scaled(64).validate(), Ok(()));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DeviceLimits(pub DmaLimits);

/// One of `choices`, picked at random.
fn pick<T: Copy>(g: &mut Gen, choices: &[T]) -> T {
    *g.choose(choices).expect("choices are not empty")
}

/// A number from 0 to `max`.
fn upto(g: &mut Gen, max: u64) -> u64 {
    u64::arbitrary(g) % (max + 1)
}

impl DeviceLimits {
    /// The same limits for pages of `page_size` bytes instead of 4 KiB:
    /// sizes, boundary, alignment and highest address divided by
    /// `4096 / page_size` (so a highest address falls on the same frame
    /// number), `u32::MAX` and `u64::MAX` kept.
    ///
    /// # Panics
    ///
    /// When `page_size` is not a power of two from 64 to 4096.
    pub fn scaled(self, page_size: usize) -> DmaLimits {
        assert!(
            page_size.is_power_of_two() && (64..=4096).contains(&page_size),
            "page size {page_size} is not a power of two from 64 to 4096"
        );
        let factor = (4096 / page_size) as u64;
        let limits = self.0;
        let max_segment = limits.max_segment_size();
        let max_segment = if max_segment > u32::MAX - 8192 {
            max_segment
        } else {
            (u64::from(max_segment) / factor).max(1) as u32
        };
        let highest = match limits.highest_address() {
            u64::MAX => u64::MAX,
            highest => (highest / factor).max(1),
        };
        limits
            .with_max_segment_size(max_segment)
            .with_segment_boundary(limits.segment_boundary().map(|boundary| {
                (boundary / factor).max(u64::from(max_segment).next_power_of_two())
            }))
            .with_alignment((limits.alignment() / factor).max(1))
            .with_highest_address(highest)
    }
}

impl Arbitrary for DeviceLimits {
    fn arbitrary(g: &mut Gen) -> Self {
        let max_segment: u32 = match u8::arbitrary(g) % 6 {
            0 => 4096 * (1 + upto(g, 15) as u32),
            1 => 4096 * (1 + upto(g, 7) as u32) + 1 + u32::arbitrary(g) % 4095,
            2 => 512 + u32::arbitrary(g) % 3584,
            3 => u32::MAX,
            _ => 64 * 1024,
        };
        let boundary = if bool::arbitrary(g) {
            None
        } else {
            let shift = upto(g, 3) as u32;
            Some(u64::from(max_segment).next_power_of_two() << shift)
        };
        // A power of two no larger than the maximum segment size.
        let largest_alignment = 1u64 << (31 - max_segment.leading_zeros()).min(14);
        let alignment = if bool::arbitrary(g) {
            1
        } else {
            pick(g, &[2, 8, 64, 512, 4096, 8192, 16384]).min(largest_alignment)
        };
        let highest = match u8::arbitrary(g) % 4 {
            0 => u64::from(u32::MAX),
            // A layout's frames start at 100 and span a few hundred.
            1 => (100 + upto(g, 200)) * 4096 - 1,
            _ => u64::MAX,
        };
        let max_segments = if bool::arbitrary(g) {
            usize::MAX
        } else {
            1 + upto(g, 24) as usize
        };
        DeviceLimits(
            DmaLimits::new()
                .with_max_segment_size(max_segment)
                .with_segment_boundary(boundary)
                .with_alignment(alignment)
                .with_highest_address(highest)
                .with_max_segments(max_segments),
        )
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let limits = self.0;
        let defaults = DmaLimits::new();
        let mut simpler = Vec::new();
        if limits.segment_boundary().is_some() {
            simpler.push(limits.with_segment_boundary(None));
        }
        if limits.alignment() != 1 {
            simpler.push(limits.with_alignment(1));
        }
        if limits.highest_address() != u64::MAX {
            simpler.push(limits.with_highest_address(u64::MAX));
        }
        if limits.max_segments() != usize::MAX {
            simpler.push(limits.with_max_segments(usize::MAX));
        }
        let default_size = defaults.max_segment_size();
        if limits.max_segment_size() != default_size
            && limits
                .segment_boundary()
                .is_none_or(|boundary| boundary >= u64::from(default_size))
            && limits.alignment() <= u64::from(default_size)
        {
            simpler.push(limits.with_max_segment_size(default_size));
        }
        Box::new(simpler.into_iter().map(DeviceLimits))
    }
}
