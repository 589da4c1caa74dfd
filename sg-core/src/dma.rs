//! DMA: a device's limits, the direction of a transfer, and the
//! `DmaMapper` trait that turns runs of pages into bus addresses.

use core::fmt;
use core::ptr;

use num_traits::ToPrimitive;

use crate::{Error, PageProvider, SgList};

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
///     .max_segment_size(64 * 1024)
///     .segment_boundary(Some(64 * 1024))
///     .highest_address(u64::from(u32::MAX));
/// assert_eq!(limits.validate(), Ok(()));
/// assert!(limits.crosses_boundary(0xFFF0, 0x20));
///
/// let bad = DmaLimits::new().max_segment_size(8192).segment_boundary(Some(4096));
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
    pub const fn max_segment_size(mut self, bytes: u32) -> Self {
        self.max_segment_size = bytes;
        self
    }

    /// Sets the boundary no segment may cross, a power of two, or none
    /// (`dma_set_seg_boundary`).
    #[doc(alias = "dma_set_seg_boundary")]
    pub const fn segment_boundary(mut self, boundary: Option<u64>) -> Self {
        self.segment_boundary = boundary;
        self
    }

    /// Sets the highest bus address the device reaches (`dma_set_mask`:
    /// `u32::MAX` for a 32-bit device).
    #[doc(alias = "dma_set_mask")]
    pub const fn highest_address(mut self, address: u64) -> Self {
        self.highest_address = address;
        self
    }

    /// Sets the alignment of every segment's start, a power of two.
    pub const fn alignment(mut self, alignment: u64) -> Self {
        self.alignment = alignment;
        self
    }

    /// Sets the most segments one mapping may have.
    pub const fn max_segments(mut self, count: usize) -> Self {
        self.max_segments = count;
        self
    }

    /// The longest segment, in bytes.
    pub const fn get_max_segment_size(&self) -> u32 {
        self.max_segment_size
    }

    /// The boundary no segment crosses, if any.
    pub const fn get_segment_boundary(&self) -> Option<u64> {
        self.segment_boundary
    }

    /// The highest bus address the device reaches.
    pub const fn get_highest_address(&self) -> u64 {
        self.highest_address
    }

    /// The alignment of every segment's start.
    pub const fn get_alignment(&self) -> u64 {
        self.alignment
    }

    /// The most segments one mapping may have.
    pub const fn get_max_segments(&self) -> usize {
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

    /// Checks that `length` bytes at bus `address`, the bytes of entry
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
    ///     .segment_boundary(Some(0x1_0000))
    ///     .highest_address(0xFFFF_FFFF);
    /// assert_eq!(limits.check_segment(0, 0x1000, 0x2000), Ok(()));
    /// assert_eq!(
    ///     limits.check_segment(3, 0xF000, 0x2000),
    ///     Err(Error::EntryNeedsSplit { index: 3, length: 0x2000 })
    /// );
    /// assert_eq!(
    ///     limits.check_segment(0, 0xFFFF_F000, 0x2000),
    ///     Err(Error::Unreachable { address: 0x1_0000_0000, highest: 0xFFFF_FFFF })
    /// );
    /// ```
    pub fn check_segment(&self, index: usize, address: u64, length: u32) -> Result<(), Error> {
        let split = Error::EntryNeedsSplit { index, length };
        if length > self.max_segment_size {
            return Err(split);
        }
        if address % self.alignment != 0 {
            return Err(Error::Misaligned {
                address,
                alignment: self.alignment,
            });
        }
        if length == 0 {
            return Ok(());
        }
        match address.checked_add(u64::from(length) - 1) {
            Some(last) if last <= self.highest_address => {}
            _ => {
                return Err(Error::Unreachable {
                    address: address.max(self.highest_address.saturating_add(1)),
                    highest: self.highest_address,
                });
            }
        }
        if self.crosses_boundary(address, u64::from(length)) {
            return Err(split);
        }
        Ok(())
    }

    /// Whether `length` bytes at bus `address` extend the segment of
    /// `segment_length` bytes at `segment_address` into one segment: they
    /// start right after it, and the merged segment stays within the
    /// maximum segment size and crosses no boundary.
    ///
    /// This is the one merging rule of the workspace: mapping a table
    /// merges neighbouring entries with it, and
    /// [`SgList::count_dma_segments`] counts with it. Both bus ranges are
    /// assumed to pass [`check_segment`](Self::check_segment), so the merged
    /// one is aligned and reachable too.
    ///
    /// ```
    /// use sg_core::DmaLimits;
    ///
    /// let limits = DmaLimits::new().max_segment_size(0x3000).segment_boundary(Some(0x4000));
    /// assert!(limits.merges(0x1000, 0x1000, 0x2000, 0x1000));
    /// assert!(!limits.merges(0x1000, 0x1000, 0x2001, 0x1000), "not contiguous");
    /// assert!(!limits.merges(0, 0x2000, 0x2000, 0x1001), "too long");
    /// assert!(!limits.merges(0x3000, 0x1000, 0x4000, 0x1000), "crosses 0x4000");
    /// ```
    #[inline]
    pub fn merges(
        &self,
        segment_address: u64,
        segment_length: u32,
        address: u64,
        length: u32,
    ) -> bool {
        let merged = u64::from(segment_length) + u64::from(length);
        segment_address.checked_add(u64::from(segment_length)) == Some(address)
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

/// A contiguous run of a provider's bytes: `len` bytes starting `offset`
/// bytes after the start of `page`, the pages after it being consecutive
/// frames (the bytes of one entry).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct DmaRun<Pg> {
    /// The first page of the run.
    pub page: Pg,
    /// Offset of the first byte from the start of `page`; may be a page or
    /// more.
    pub offset: u64,
    /// Bytes in the run.
    pub len: u32,
}

impl<Pg: Copy> DmaRun<Pg> {
    /// The physical address of the run's first byte: its page's frame
    /// number times the page size, plus the offset (the kernel's
    /// `sg_phys`); `None` when it does not fit a `u64`.
    ///
    /// ```
    /// use sg_core::{DmaRun, PageProvider, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(1)?;
    /// let run = DmaRun { page, offset: 4100, len: 8 };
    /// assert_eq!(run.phys(&pages), Some(page.addr() as u64 + 4100));
    /// # // SAFETY: allocated above with order 1, in no list.
    /// # unsafe { pages.free_pages(page, 1) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_phys")]
    pub fn phys<P>(&self, provider: &P) -> Option<u64>
    where
        P: PageProvider<Page = Pg> + ?Sized,
    {
        provider
            .pfn(self.page)
            .to_u64()?
            .checked_mul(P::PAGE_SIZE as u64)?
            .checked_add(self.offset)
    }
}

/// Turns runs of a provider's pages into bus addresses a device can use,
/// and back (the kernel's `dma_map_ops`: `map_page`, `unmap_page`,
/// `sync_single_for_cpu`, `sync_single_for_device`).
///
/// sg-alloc maps whole tables through a mapper, merging neighbouring
/// entries whose bus addresses are contiguous (see
/// [`DmaLimits::merges`]), and ships a direct mapper (bus address =
/// physical address) and a bounce mapper (swiotlb); sg-testkit ships an
/// IOMMU mock.
///
/// # For users
///
/// Map through a table's mapping guard (sg-alloc's `SgTable::map_dma`)
/// rather than calling a mapper directly: the guard pairs every map with
/// one unmap and makes the sync calls explicit.
///
/// A mapper may copy the run's bytes (a bounce buffer): it reads them in
/// [`map`](Self::map) and [`sync_for_device`](Self::sync_for_device), and
/// writes them in [`sync_for_cpu`](Self::sync_for_cpu) and
/// [`unmap`](Self::unmap). The workspace's rule for pages named by two
/// lists applies: do not write a run's bytes through another list while a
/// mapper reads them.
///
/// # Safety
///
/// Implementors promise that a successful [`map`](Self::map) returns a bus
/// address such that the device, reading or writing `run.len` bytes there
/// (as the direction allows), reaches the run's bytes (directly, or through
/// a copy kept in step by the sync and unmap calls as the direction asks),
/// that the range lies at or below `limits.highest_address` and starts at a
/// multiple of `limits.alignment`, and that the address stays valid for the
/// device until [`unmap`](Self::unmap) is called for it. A failed `map`
/// leaves nothing mapped.
pub unsafe trait DmaMapper<P: PageProvider> {
    /// Maps a run for `direction` and returns the bus address of its first
    /// byte (the kernel's `dma_map_page`).
    ///
    /// # Errors
    ///
    /// [`Error::MapFailed`] (with index 0: callers that map a list fill in
    /// the entry's index), [`Error::Unreachable`] when the device cannot
    /// reach the run and nothing can help, [`Error::Misaligned`] when it
    /// cannot be placed at an aligned bus address,
    /// [`Error::BouncePoolExhausted`] when a bounce buffer is needed and
    /// none is free, [`Error::InvalidLimits`] for limits that
    /// [`DmaLimits::validate`] refuses.
    ///
    /// # Safety
    ///
    /// The run is a claim an entry could make (the contract of
    /// [`SgEntry::set_page`](crate::SgEntry::set_page)): its bytes are
    /// initialised bytes of pages `provider` holds valid, and nothing
    /// writes them during the call (a mapper that bounces reads them). The
    /// runs of a list's entries are such claims.
    #[doc(alias = "dma_map_page")]
    unsafe fn map(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error>;

    /// Releases a mapping (the kernel's `dma_unmap_page`); for a device
    /// that writes, its bytes reach the CPU by the time this returns.
    ///
    /// # Safety
    ///
    /// `bus_address` was returned by `map` on this mapper for the same
    /// provider, run and direction, and has not been unmapped; the device
    /// no longer uses it; no reference to the run's bytes is live and
    /// nothing else reads or writes them during the call (a mapper that
    /// bounces writes them).
    #[doc(alias = "dma_unmap_page")]
    unsafe fn unmap(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        bus_address: u64,
        direction: DmaDirection,
    );

    /// Makes the device's writes visible to the CPU (the kernel's
    /// `dma_sync_single_for_cpu`).
    ///
    /// # Safety
    ///
    /// As for [`unmap`](Self::unmap), except that the mapping stays.
    #[doc(alias = "dma_sync_single_for_cpu")]
    unsafe fn sync_for_cpu(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        bus_address: u64,
        direction: DmaDirection,
    );

    /// Makes the CPU's writes visible to the device (the kernel's
    /// `dma_sync_single_for_device`).
    ///
    /// # Safety
    ///
    /// As for [`unmap`](Self::unmap), except that the mapping stays and the
    /// run's bytes are only read: shared references to them may be live,
    /// but nothing writes them during the call.
    #[doc(alias = "dma_sync_single_for_device")]
    unsafe fn sync_for_device(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        bus_address: u64,
        direction: DmaDirection,
    );
}

// SAFETY: every method forwards to `M`, which upholds the contract.
unsafe impl<P: PageProvider, M: DmaMapper<P> + ?Sized> DmaMapper<P> for &M {
    unsafe fn map(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        // SAFETY: the caller's promise is `M::map`'s.
        unsafe { (**self).map(provider, run, direction, limits) }
    }

    unsafe fn unmap(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        bus_address: u64,
        direction: DmaDirection,
    ) {
        // SAFETY: the caller's promise is `M::unmap`'s.
        unsafe { (**self).unmap(provider, run, bus_address, direction) }
    }

    unsafe fn sync_for_cpu(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        bus_address: u64,
        direction: DmaDirection,
    ) {
        // SAFETY: the caller's promise is `M::sync_for_cpu`'s.
        unsafe { (**self).sync_for_cpu(provider, run, bus_address, direction) }
    }

    unsafe fn sync_for_device(
        &self,
        provider: &P,
        run: DmaRun<P::Page>,
        bus_address: u64,
        direction: DmaDirection,
    ) {
        // SAFETY: the caller's promise is `M::sync_for_device`'s.
        unsafe { (**self).sync_for_device(provider, run, bus_address, direction) }
    }
}

impl<P: PageProvider> SgList<'_, P> {
    /// The number of segments the view needs when each entry is cut into
    /// pieces of at most `max_len` bytes (the kernel's `sg_nents_for_dma`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidLimits`] when `max_len` is 0, and
    /// [`Error::Overflow`] when the count does not fit a `usize` (on
    /// 32-bit targets, for lists of more than 4 GiB in small pieces).
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let run = pages.alloc_pages(2)?;
    /// let mut entries: [SgEntry<_>; 2] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: both describe bytes of the four pages allocated above.
    /// unsafe {
    ///     entries[0].set_page(run, 10_000, 0); // 3 pieces of at most 4096
    ///     entries[1].set_page(run, 4096, 0); // 1 piece
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// assert_eq!(unsafe { SgList::new(&entries, &pages) }.count_for_dma(4096), Ok(4));
    /// # // SAFETY: allocated above with order 2; the list is not used again.
    /// # unsafe { pages.free_pages(run, 2) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_nents_for_dma")]
    pub fn count_for_dma(&self, max_len: u32) -> Result<usize, Error> {
        if max_len == 0 {
            return Err(Error::InvalidLimits {
                reason: "the maximum segment size is 0",
            });
        }
        self.segments()
            .try_fold(0usize, |count, segment| {
                usize::try_from(segment.len.div_ceil(max_len))
                    .ok()
                    .and_then(|pieces| count.checked_add(pieces))
            })
            .ok_or(Error::Overflow {
                what: "segment count",
            })
    }

    /// The number of DMA segments a direct mapping of the view under
    /// `limits` makes: bus address = physical address (frame number times
    /// page size plus offset), neighbouring entries merged by
    /// [`DmaLimits::merges`], as the kernel's `sg_nents_for_dma` counts the
    /// segments a list needs.
    ///
    /// This is the `nents` that sg-alloc's direct mapper gives a table, and
    /// the error it refuses the table with, except that the maximum number
    /// of segments is not checked: the answer is what a device would need
    /// to accept. Entries of length 0 make no segment. For a byte-range
    /// slice, the trimmed bytes are counted; entry indices in errors count
    /// from the view's first entry.
    ///
    /// # Errors
    ///
    /// As a direct mapping: [`Error::InvalidLimits`] when the limits
    /// contradict each other, [`Error::EntryNeedsSplit`] for the first
    /// entry longer than the maximum segment size, then the errors of
    /// [`DmaLimits::check_segment`] for the first entry that a direct
    /// mapping cannot take whole (misaligned, out of reach, or crossing a
    /// boundary), and [`Error::Overflow`] when a physical address does not
    /// fit a `u64`.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{DmaLimits, Error, PageProvider, SgEntry, SgList, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let run = pages.alloc_pages(2)?; // four contiguous pages
    /// let mut entries: [SgEntry<_>; 3] = Default::default();
    /// sg_core::init_table(&mut entries)?;
    /// // SAFETY: bytes of the pages allocated above, in no other list.
    /// unsafe {
    ///     entries[0].set_page(run, 4096, 0);
    ///     entries[1].set_page(pages.nth(run, 1), 4096, 0); // right after: merges
    ///     entries[2].set_page(pages.nth(run, 3), 100, 0); // after a gap
    /// }
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let list = unsafe { SgList::new(&entries, &pages) };
    /// assert_eq!(list.count_dma_segments(&DmaLimits::new()), Ok(2));
    /// let small = DmaLimits::new().max_segment_size(4096);
    /// assert_eq!(list.count_dma_segments(&small), Ok(3));
    /// let tiny = DmaLimits::new().max_segment_size(2048);
    /// assert_eq!(
    ///     list.count_dma_segments(&tiny),
    ///     Err(Error::EntryNeedsSplit { index: 0, length: 4096 })
    /// );
    /// # // SAFETY: allocated above with order 2; the list is not used again.
    /// # unsafe { pages.free_pages(run, 2) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[doc(alias = "sg_nents_for_dma")]
    #[doc(alias = "dma_segments_needed")]
    pub fn count_dma_segments(&self, limits: &DmaLimits) -> Result<usize, Error> {
        limits.validate()?;
        // As a mapping does, refuse an entry too long for a segment before
        // looking at addresses.
        let max_length = limits.max_segment_size;
        if self.segments().any(|segment| segment.len > max_length) {
            let mut entries = self.iter().enumerate();
            for segment in self.segments() {
                let index = entries
                    .by_ref()
                    .find(|(_, entry)| ptr::eq(*entry, segment.entry))
                    .map_or(0, |(index, _)| index);
                if segment.len > max_length {
                    return Err(Error::EntryNeedsSplit {
                        index,
                        length: segment.len,
                    });
                }
            }
        }
        let mut entries = self.iter();
        let mut index = 0;
        let mut count = 0;
        let mut current: Option<(u64, u32)> = None;
        for segment in self.segments() {
            // Find the entry's index: the walk of entries visits every
            // entry, the walk of segments only those with bytes.
            for entry in entries.by_ref() {
                if ptr::eq(entry, segment.entry) {
                    break;
                }
                index += 1;
            }
            let run = DmaRun {
                page: segment.page,
                offset: segment.offset,
                len: segment.len,
            };
            let address = run.phys(self.provider()).ok_or(Error::Overflow {
                what: "physical address",
            })?;
            limits.check_segment(index, address, segment.len)?;
            current = match current {
                Some((start, length)) if limits.merges(start, length, address, segment.len) => {
                    Some((start, length + segment.len))
                }
                _ => {
                    count += 1;
                    Some((address, segment.len))
                }
            };
            index += 1;
        }
        Ok(count)
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
        assert!(invalid(DmaLimits::new().max_segment_size(0)));
        assert!(invalid(DmaLimits::new().max_segments(0)));
        assert!(invalid(DmaLimits::new().alignment(0)));
        assert!(invalid(DmaLimits::new().alignment(3)));
        assert!(invalid(DmaLimits::new().alignment(1 << 20)));
        assert!(invalid(DmaLimits::new().segment_boundary(Some(0))));
        assert!(invalid(DmaLimits::new().segment_boundary(Some(3 << 16))));
        assert!(invalid(DmaLimits::new().segment_boundary(Some(4096))));
        assert_eq!(
            DmaLimits::new().segment_boundary(Some(1 << 16)).validate(),
            Ok(())
        );
    }

    #[test]
    fn boundaries_alignment_and_reach_are_judged_on_bus_addresses() {
        let limits = DmaLimits::new()
            .segment_boundary(Some(0x1_0000))
            .alignment(512)
            .highest_address(0xFFFF_FFFF);
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
            .max_segment_size(0x2000)
            .segment_boundary(Some(0x4000))
            .alignment(0x200)
            .highest_address(0xF_FFFF);
        let split = |index, length| Err(Error::EntryNeedsSplit { index, length });
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
            .max_segment_size(0x3000)
            .segment_boundary(Some(0x4000));
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

    #[test]
    fn directions_say_which_way_bytes_go() {
        assert!(DmaDirection::ToDevice.to_device() && !DmaDirection::ToDevice.from_device());
        assert!(!DmaDirection::FromDevice.to_device() && DmaDirection::FromDevice.from_device());
        assert!(
            DmaDirection::Bidirectional.to_device() && DmaDirection::Bidirectional.from_device()
        );
    }
}
