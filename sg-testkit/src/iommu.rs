//! `MockIommu`: a DMA mapper that hands out bus addresses from a space of
//! its own, like an IOMMU, and remembers every live mapping.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use sg_core::{
    DmaDirection, DmaLimits, DmaMapper, DmaMapping, DmaRun, Error, IovaMapper, IovaRange,
    PageProvider,
};

use crate::failure::inject_panic;
use crate::leak_check::{self, DropCheck};
use crate::{MockPage, MockPages};

/// The default bus address space of a [`MockIommu`]: from 1 MiB up to
/// 2^48.
pub const DEFAULT_IOVA_SPACE: (u64, u64) = (1 << 20, 1 << 48);

/// A live mapping of a [`MockIommu`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct IommuMapping<Pg> {
    /// The bus address of the run's first byte.
    pub bus_address: u64,
    /// The run it maps.
    pub run: DmaRun<Pg>,
    /// The direction it was mapped for.
    pub direction: DmaDirection,
    /// The first bus address reserved: the start of the page that holds
    /// `bus_address` (the run keeps its offset in the page).
    pub reserved_start: u64,
    /// Bytes reserved: whole pages.
    pub reserved_len: u64,
}

/// Where a bus address leads: see [`MockIommu::translate`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Translation<Pg> {
    /// The page of the mapped run.
    pub page: Pg,
    /// Offset of the byte from the start of `page` (a page or more when it
    /// lies in a later page of the run).
    pub offset: u64,
    /// Bytes of the run from this byte on, at least 1.
    pub remaining: u32,
}

struct State<Pg> {
    /// Live mappings by `reserved_start`.
    live: BTreeMap<u64, IommuMapping<Pg>>,
    /// Reserved IOVA ranges: start to length.
    ranges: BTreeMap<u64, u64>,
    /// Runs linked into reserved ranges, by `reserved_start`.
    links: BTreeMap<u64, IommuMapping<Pg>>,
    /// Whether links made since the last flush are not yet visible.
    unflushed: bool,
    tlb_flushes: usize,
    /// Calls of the two-step methods (`try_alloc`, `link`, `sync`,
    /// `unlink`, `free`).
    iova_calls: usize,
    link_calls: usize,
    /// The two-step call (counting from 0) that fails, and the one that
    /// panics.
    iova_fail_at: Option<usize>,
    iova_panic_at: Option<usize>,
    /// Where the next mapping is tried first: the end of the last one.
    cursor: u64,
    map_calls: usize,
    unmap_calls: usize,
    syncs_for_cpu: usize,
    syncs_for_device: usize,
    /// The `map` call (counting from 0) that fails.
    fail_at: Option<usize>,
    /// Misuse seen while the thread was already panicking.
    misuse: Vec<String>,
}

/// The calls that take a mapping back, counted and checked alike.
#[derive(Clone, Copy, Debug)]
enum Call {
    Unmap,
    SyncForCpu,
    SyncForDevice,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Call::Unmap => "unmap",
            Call::SyncForCpu => "sync_for_cpu",
            Call::SyncForDevice => "sync_for_device",
        })
    }
}

/// A [`DmaMapper`] for tests that behaves like an IOMMU (the kernel's
/// `iommu_dma_map_sg` over an IOVA allocator): it hands out bus addresses
/// from a space of its own, keeps a run's offset in its page, and records
/// every live mapping so that a test can see where the device's accesses
/// land ([`translate`](Self::translate), [`device_read`](Self::device_read),
/// [`device_write`](Self::device_write)).
///
/// Placement: a run gets the whole pages its bytes touch. It is first tried
/// right after the previous mapping, so runs that end and start on page
/// boundaries get contiguous bus addresses and merge into one segment, as
/// with an IOMMU; when that place breaks a limit or is taken, the lowest
/// free place that fits is used. Places honour the limits: the run's start
/// is a multiple of the alignment (refused with [`Error::Misaligned`] when
/// its offset in the page makes that impossible), it crosses no segment
/// boundary unless its bytes are longer than what a boundary window leaves
/// from that offset, and it lies at or below the highest address (refused
/// with [`Error::Unreachable`] otherwise). A full space is
/// [`Error::MapFailed`].
///
/// Two-step mapping ([`IovaMapper`], the kernel's `dma_iova_*` calls): a
/// reserved range is placed like a mapping and kept out of later
/// placements until freed; linked runs are recorded at their range offset
/// and become visible to [`translate`](Self::translate) once
/// [`sync`](IovaMapper::sync) flushed them. [`tlb_flushes`](Self::tlb_flushes)
/// counts IOTLB flushes: one per one-step `map` and `unmap`, one per
/// two-step `sync` and `unlink`, however many runs they cover.
/// [`fail_iova_at`](Self::fail_iova_at) and
/// [`panic_iova_at`](Self::panic_iova_at) inject a failure or a panic at
/// the k-th two-step call; the leak check covers links and ranges too.
///
/// It also fails the `map` call of an index chosen with
/// [`fail_map_at`](Self::fail_map_at), counts every call, panics on misuse
/// (unmapping or syncing an address it did not map, with another run or
/// direction), and like [`MockPages`] checks on drop that nothing is left
/// mapped.
///
/// # Examples
///
/// ```
/// use sg_core::{DmaDirection, DmaLimits, DmaMapper, DmaMapping, DmaRun};
/// use sg_testkit::{MockIommu, MockPages};
///
/// let mock = MockPages::<4096>::new();
/// let pages = mock.add_pages([7, 3]); // not contiguous in memory
/// let iommu = MockIommu::new();
/// let limits = DmaLimits::new();
/// let first = DmaRun { page: pages[0], offset: 0, len: 4096 };
/// let second = DmaRun { page: pages[1], offset: 0, len: 100 };
/// // SAFETY: the runs are bytes of pages the mock has, written by no one.
/// let (a, b) = unsafe {
///     (
///         iommu.map(&mock, first, DmaDirection::ToDevice, &limits)?,
///         iommu.map(&mock, second, DmaDirection::ToDevice, &limits)?,
///     )
/// };
/// assert_eq!(b, a + 4096); // contiguous on the bus
/// assert_eq!(iommu.translate(b + 10).map(|to| (to.page, to.offset)), Some((pages[1], 10)));
/// // SAFETY: mapped above with these runs and direction, used by no device.
/// unsafe {
///     let direction = DmaDirection::ToDevice;
///     iommu.unmap(&mock, DmaMapping { run: first, bus_address: a, direction });
///     iommu.unmap(&mock, DmaMapping { run: second, bus_address: b, direction });
/// }
/// iommu.assert_clean(); // also checked on drop
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "iommu_dma_map_sg")]
#[doc(alias = "iommu_dma_map_page")]
#[doc(alias = "iova")]
#[doc(alias = "dma_iova_try_alloc")]
#[doc(alias = "dma_iova_link")]
pub struct MockIommu<Pg = MockPage> {
    /// The bus address space, `[start, end)`.
    start: u64,
    end: u64,
    state: Mutex<State<Pg>>,
    check_on_drop: DropCheck,
}

impl<Pg: Copy + Eq + fmt::Debug> Default for MockIommu<Pg> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Pg: Copy + Eq + fmt::Debug> MockIommu<Pg> {
    /// An IOMMU over [`DEFAULT_IOVA_SPACE`].
    pub fn new() -> Self {
        Self::with_space(DEFAULT_IOVA_SPACE.0, DEFAULT_IOVA_SPACE.1)
    }

    /// An IOMMU that hands out bus addresses in `[start, end)`.
    pub fn with_space(start: u64, end: u64) -> Self {
        MockIommu {
            start,
            end,
            state: Mutex::new(State {
                live: BTreeMap::new(),
                ranges: BTreeMap::new(),
                links: BTreeMap::new(),
                unflushed: false,
                tlb_flushes: 0,
                iova_calls: 0,
                link_calls: 0,
                iova_fail_at: None,
                iova_panic_at: None,
                cursor: start,
                map_calls: 0,
                unmap_calls: 0,
                syncs_for_cpu: 0,
                syncs_for_device: 0,
                fail_at: None,
                misuse: Vec::new(),
            }),
            check_on_drop: DropCheck::new(),
        }
    }

    /// The bus address space, `[start, end)`.
    pub fn space(&self) -> (u64, u64) {
        (self.start, self.end)
    }

    fn lock(&self) -> MutexGuard<'_, State<Pg>> {
        leak_check::lock(&self.state)
    }

    /// Makes the `map` call with index `call` (counting from 0 since
    /// creation) fail with [`Error::MapFailed`]; others succeed.
    pub fn fail_map_at(&self, call: usize) {
        self.lock().fail_at = Some(call);
    }

    /// Stops failing `map` calls.
    pub fn stop_failing(&self) {
        self.lock().fail_at = None;
    }

    /// Calls to `map` since creation, failed ones included.
    pub fn map_calls(&self) -> usize {
        self.lock().map_calls
    }

    /// Calls to `unmap` since creation.
    pub fn unmap_calls(&self) -> usize {
        self.lock().unmap_calls
    }

    /// Calls to `sync_for_cpu` since creation.
    pub fn syncs_for_cpu(&self) -> usize {
        self.lock().syncs_for_cpu
    }

    /// Calls to `sync_for_device` since creation.
    pub fn syncs_for_device(&self) -> usize {
        self.lock().syncs_for_device
    }

    /// IOTLB flushes: one per `map` and per `unmap` of a single run, one
    /// per two-step [`sync`](IovaMapper::sync) and per
    /// [`unlink`](IovaMapper::unlink), however many runs they cover.
    pub fn tlb_flushes(&self) -> usize {
        self.lock().tlb_flushes
    }

    /// Calls of the two-step methods since creation (`try_alloc`, `link`,
    /// `sync`, `unlink`, `free`), failed ones included.
    pub fn iova_calls(&self) -> usize {
        self.lock().iova_calls
    }

    /// Calls of [`link`](IovaMapper::link) since creation.
    pub fn link_calls(&self) -> usize {
        self.lock().link_calls
    }

    /// Makes the two-step call with index `call` (counting every
    /// `try_alloc`, `link`, `sync`, `unlink` and `free` from 0 since
    /// creation) fail with [`Error::MapFailed`] when it is a call that can
    /// fail (`try_alloc`, `link`, `sync`); it then does nothing.
    pub fn fail_iova_at(&self, call: usize) {
        self.lock().iova_fail_at = Some(call);
    }

    /// Makes the two-step call with index `call` raise an
    /// [`InjectedPanic`](crate::InjectedPanic): before doing anything for
    /// `try_alloc`, `link` and `sync`, after releasing for `unlink` and
    /// `free` (as [`PanicAt`](crate::PanicAt) does).
    pub fn panic_iova_at(&self, call: usize) {
        self.lock().iova_panic_at = Some(call);
    }

    /// Stops failing and panicking two-step calls.
    pub fn stop_failing_iova(&self) {
        let mut state = self.lock();
        state.iova_fail_at = None;
        state.iova_panic_at = None;
    }

    /// Reserved IOVA ranges not yet freed.
    pub fn reserved_ranges(&self) -> usize {
        self.lock().ranges.len()
    }

    /// Runs linked into reserved ranges and not yet unlinked.
    pub fn linked_runs(&self) -> usize {
        self.lock().links.len()
    }

    /// Counts a two-step call; says whether it is to fail, and panics
    /// (before it does anything) if it is to panic and `panic_first`.
    #[track_caller]
    fn iova_call(&self, state: &mut MutexGuard<'_, State<Pg>>, panic_first: bool) -> (usize, bool) {
        let call = state.iova_calls;
        state.iova_calls += 1;
        if panic_first && state.iova_panic_at == Some(call) {
            inject_panic(call);
        }
        (call, state.iova_fail_at == Some(call))
    }

    /// Panics after a release if the release was call `call` chosen to
    /// panic.
    #[track_caller]
    fn panic_after(&self, call: usize) {
        if self.lock().iova_panic_at == Some(call) {
            inject_panic(call);
        }
    }

    /// The reserved range that starts at `range`'s start and has its
    /// length, or misuse.
    #[track_caller]
    fn check_range<'s>(
        &'s self,
        state: MutexGuard<'s, State<Pg>>,
        range: &IovaRange,
        call: &str,
    ) -> Option<MutexGuard<'s, State<Pg>>> {
        if state.ranges.get(&range.start()) == Some(&range.len()) {
            return Some(state);
        }
        self.misuse(state, format!("{call} of {range:?}, which is not reserved"));
        None
    }

    /// Mappings made and not yet unmapped.
    pub fn live_mappings(&self) -> usize {
        self.lock().live.len()
    }

    /// The live mappings, by bus address.
    pub fn mappings(&self) -> Vec<IommuMapping<Pg>> {
        self.lock().live.values().copied().collect()
    }

    /// Where the device's access to `bus_address` lands: the mapped run's
    /// page, the byte's offset from it, and the bytes of the run left from
    /// there; `None` when no live mapping holds the address.
    pub fn translate(&self, bus_address: u64) -> Option<Translation<Pg>> {
        let state = self.lock();
        let before = |map: &BTreeMap<u64, IommuMapping<Pg>>| {
            map.range(..=bus_address)
                .next_back()
                .map(|(_, mapping)| *mapping)
        };
        // Links are seen by the device once flushed.
        let linked = if state.unflushed {
            None
        } else {
            before(&state.links)
        };
        let mapping = match (before(&state.live), linked) {
            (Some(a), Some(b)) => {
                if a.reserved_start > b.reserved_start {
                    a
                } else {
                    b
                }
            }
            (a, b) => a.or(b)?,
        };
        let into = bus_address.checked_sub(mapping.bus_address)?;
        (into < u64::from(mapping.run.len)).then(|| Translation {
            page: mapping.run.page,
            offset: mapping.run.offset + into,
            // Less than the run's length, a u32.
            remaining: mapping.run.len - into as u32,
        })
    }

    /// What is wrong: the live mappings, and misuse seen while the thread
    /// was already panicking.
    ///
    /// # Errors
    ///
    /// A description of what leaked or went wrong, if anything.
    pub fn check(&self) -> Result<(), String> {
        let state = self.lock();
        if state.live.is_empty()
            && state.links.is_empty()
            && state.ranges.is_empty()
            && state.misuse.is_empty()
        {
            return Ok(());
        }
        Err(format!(
            "{} live mapping(s) {:?}; {} linked run(s) {:?}; {} reserved range(s); misuse: {:?}",
            state.live.len(),
            state.live.values().collect::<Vec<_>>(),
            state.links.len(),
            state.links.values().collect::<Vec<_>>(),
            state.ranges.len(),
            state.misuse
        ))
    }

    /// Fails the test if a mapping is live or misuse was seen.
    ///
    /// # Panics
    ///
    /// When [`check`](Self::check) finds something.
    #[track_caller]
    pub fn assert_clean(&self) {
        leak_check::assert_clean("MockIommu", self.check());
    }

    /// Turns off the check on drop (for tests that leak on purpose).
    pub fn skip_check_on_drop(&self) {
        self.check_on_drop.skip();
    }

    /// Reports misuse: a panic, or a note for [`check`](Self::check) when
    /// the thread is already panicking (a second panic would abort).
    #[track_caller]
    fn misuse(&self, mut state: MutexGuard<'_, State<Pg>>, what: String) {
        if std::thread::panicking() {
            state.misuse.push(what);
            return;
        }
        drop(state);
        panic!("MockIommu: {what}");
    }

    /// A call that takes a mapping back (`unmap` or a sync): counts it,
    /// then finds the live mapping whose run starts at
    /// `bus_address`, checked against what the caller says it maps, and
    /// reports misuse otherwise.
    #[track_caller]
    fn call(&self, call: Call, taken: DmaMapping<Pg>) -> Option<(MutexGuard<'_, State<Pg>>, u64)> {
        let DmaMapping {
            run,
            bus_address,
            direction,
        } = taken;
        let mut state = self.lock();
        *match call {
            Call::Unmap => &mut state.unmap_calls,
            Call::SyncForCpu => &mut state.syncs_for_cpu,
            Call::SyncForDevice => &mut state.syncs_for_device,
        } += 1;
        let found = state
            .live
            .range(..=bus_address)
            .next_back()
            .filter(|(_, mapping)| mapping.bus_address == bus_address)
            .map(|(&start, &mapping)| (start, mapping));
        match found {
            Some((start, mapping)) if mapping.run == run && mapping.direction == direction => {
                Some((state, start))
            }
            Some((_, mapping)) => {
                self.misuse(
                    state,
                    format!("{call} of {bus_address:#x} with {run:?} for {direction:?}, mapped as {mapping:?}"),
                );
                None
            }
            None => {
                self.misuse(
                    state,
                    format!("{call} of {bus_address:#x}, which is not mapped"),
                );
                None
            }
        }
    }

    /// The reserved start for a run of `reserved` bytes whose first byte
    /// is `in_page` bytes into its page: the place after the previous
    /// mapping when it fits, else the lowest that fits.
    fn place(
        &self,
        state: &State<Pg>,
        page_size: u64,
        in_page: u64,
        len: u64,
        reserved: u64,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        let alignment = limits.alignment();
        let step = page_size.max(alignment);
        // With pages of at least the alignment, the run's offset in its
        // page must be aligned already; with a larger alignment, it must
        // start a page.
        let aligned = if alignment <= page_size {
            in_page % alignment == 0
        } else {
            in_page == 0
        };
        if !aligned {
            return Err(Error::Misaligned {
                address: state.cursor.next_multiple_of(page_size) + in_page,
                alignment,
            });
        }
        // The boundary is honoured when the run fits the rest of a window
        // from its offset in the page (which placement cannot change).
        let boundary = limits
            .segment_boundary()
            .filter(|&boundary| in_page % boundary + len <= boundary);
        let highest = limits.highest_address();
        let reaches = |start: u64| start.saturating_add(in_page + (len.max(1) - 1)) <= highest;
        let free = |start: u64| {
            let end = start + reserved;
            let mapped = state
                .live
                .range(..end)
                .next_back()
                .is_none_or(|(&other, mapping)| other + mapping.reserved_len <= start);
            let in_range = state
                .ranges
                .range(..end)
                .next_back()
                .is_none_or(|(&other, &len)| other + len <= start);
            mapped && in_range
        };
        // The lowest start from `from` that is aligned and keeps the run
        // inside one boundary window.
        let settle = |from: u64| -> Option<u64> {
            let start = from.checked_next_multiple_of(step)?;
            match boundary {
                Some(boundary) if limits.crosses_boundary(start + in_page, len) => {
                    // Boundaries are multiples of the step here (at least a
                    // page, and at least the alignment).
                    (start + in_page + 1).checked_next_multiple_of(boundary)
                }
                _ => Some(start),
            }
        };
        let fits =
            |start: u64, limit: u64| start.checked_add(reserved).is_some_and(|end| end <= limit);

        if let Some(start) = settle(state.cursor.max(self.start)) {
            if fits(start, self.end) && free(start) && reaches(start) {
                return Ok(start);
            }
        }
        let mut gap_start = self.start;
        let mut taken: Vec<(u64, u64)> = state
            .live
            .values()
            .map(|mapping| {
                (
                    mapping.reserved_start,
                    mapping.reserved_start + mapping.reserved_len,
                )
            })
            .chain(
                state
                    .ranges
                    .iter()
                    .map(|(&start, &len)| (start, start + len)),
            )
            .collect();
        taken.sort_unstable();
        let gaps = taken
            .into_iter()
            .chain(std::iter::once((self.end, self.end)));
        for (gap_end, next_start) in gaps {
            if let Some(start) = settle(gap_start).filter(|&start| fits(start, gap_end)) {
                if !reaches(start) {
                    return Err(Error::Unreachable {
                        address: (start + in_page).max(highest.saturating_add(1)),
                        highest,
                    });
                }
                return Ok(start);
            }
            gap_start = gap_start.max(next_start);
        }
        // The bus address space is full.
        Err(Error::MapFailed { index: 0 })
    }
}

impl MockIommu<MockPage> {
    /// Reads `len` bytes at `bus_address` as the device does, through the
    /// live mappings (which may be several, one after the other on the
    /// bus), straight from `mock`'s pages; `None` when a byte is not
    /// mapped.
    pub fn device_read<const N: usize>(
        &self,
        mock: &MockPages<N>,
        bus_address: u64,
        len: usize,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let to = self.translate(bus_address + out.len() as u64)?;
            let piece = (to.remaining as usize).min(len - out.len());
            out.extend(mock.read(to.page, to.offset, piece));
        }
        Some(out)
    }

    /// Writes `bytes` at `bus_address` as the device does, through the
    /// live mappings, straight into `mock`'s pages. Returns `false`,
    /// having written the bytes before it, when a byte is not mapped.
    pub fn device_write<const N: usize>(
        &self,
        mock: &MockPages<N>,
        bus_address: u64,
        bytes: &[u8],
    ) -> bool {
        let mut done = 0;
        while done < bytes.len() {
            let Some(to) = self.translate(bus_address + done as u64) else {
                return false;
            };
            let piece = (to.remaining as usize).min(bytes.len() - done);
            mock.write(to.page, to.offset, &bytes[done..done + piece]);
            done += piece;
        }
        true
    }
}

// SAFETY: the device of a mock is the test, which reaches a run's bytes
// through `translate` (and `device_read`/`device_write`): a bus address in
// a live mapping leads to the run's page and offset. `place` puts runs at
// aligned addresses at or below the highest address, or `map` fails and
// reserves nothing; a mapping lives until `unmap` removes it.
unsafe impl<P, Pg> DmaMapper<P> for MockIommu<Pg>
where
    P: PageProvider<Page = Pg>,
    Pg: Copy + Eq + fmt::Debug,
{
    unsafe fn map(
        &self,
        _provider: &P,
        run: DmaRun<Pg>,
        direction: DmaDirection,
        limits: &DmaLimits,
    ) -> Result<u64, Error> {
        let mut state = self.lock();
        let call = state.map_calls;
        state.map_calls += 1;
        // A mapping of its own: the IOMMU's page table changes, and its
        // IOTLB is flushed for it.
        state.tlb_flushes += 1;
        if state.fail_at == Some(call) {
            return Err(Error::MapFailed { index: 0 });
        }
        limits.validate()?;
        let page_size = P::PAGE_SIZE as u64;
        let in_page = run.offset % page_size;
        let len = u64::from(run.len);
        // Whole pages, at least one even for an empty run.
        let reserved = (in_page + len.max(1)).div_ceil(page_size) * page_size;
        let start = self.place(&state, page_size, in_page, len, reserved, limits)?;
        let mapping = IommuMapping {
            bus_address: start + in_page,
            run,
            direction,
            reserved_start: start,
            reserved_len: reserved,
        };
        state.live.insert(start, mapping);
        state.cursor = start + reserved;
        Ok(mapping.bus_address)
    }

    unsafe fn unmap(&self, _: &P, mapping: DmaMapping<Pg>) {
        if let Some((mut state, start)) = self.call(Call::Unmap, mapping) {
            state.live.remove(&start);
            state.tlb_flushes += 1;
        }
    }

    unsafe fn sync_for_cpu(&self, _: &P, mapping: DmaMapping<Pg>) {
        self.call(Call::SyncForCpu, mapping);
    }

    unsafe fn sync_for_device(&self, _: &P, mapping: DmaMapping<Pg>) {
        self.call(Call::SyncForDevice, mapping);
    }
}

// SAFETY: as for `DmaMapper`: a linked run is recorded like a mapping,
// at `range.start() + offset`, so `translate` leads the device to its
// bytes once `sync` has made it visible (before that, `translate` does not
// see it); ranges are placed by `place` (aligned, reachable, taken by
// nothing else) and stay reserved until `free`; a failed call changes
// nothing.
unsafe impl<P, Pg> IovaMapper<P> for MockIommu<Pg>
where
    P: PageProvider<Page = Pg>,
    Pg: Copy + Eq + fmt::Debug,
{
    fn try_alloc(&self, len: u64, limits: &DmaLimits) -> Result<IovaRange, Error> {
        let mut state = self.lock();
        let (_, fail) = self.iova_call(&mut state, true);
        if fail {
            return Err(Error::MapFailed { index: 0 });
        }
        limits.validate()?;
        let page_size = P::PAGE_SIZE as u64;
        let reserved = len
            .max(1)
            .checked_next_multiple_of(page_size)
            .ok_or(Error::MapFailed { index: 0 })?;
        // A range is one window: no boundary applies to the range (the
        // table side cuts its segments at boundaries).
        let whole = limits.with_segment_boundary(None);
        let start = self.place(&state, page_size, 0, reserved, reserved, &whole)?;
        state.ranges.insert(start, reserved);
        state.cursor = start + reserved;
        Ok(IovaRange::new(start, reserved))
    }

    unsafe fn link(
        &self,
        _provider: &P,
        range: &IovaRange,
        offset: u64,
        run: DmaRun<Pg>,
        direction: DmaDirection,
    ) -> Result<(), Error> {
        let mut state = self.lock();
        let (_, fail) = self.iova_call(&mut state, true);
        state.link_calls += 1;
        if fail {
            return Err(Error::MapFailed { index: 0 });
        }
        let mut state = self
            .check_range(state, range, "link")
            .ok_or(Error::MapFailed { index: 0 })?;
        let page_size = P::PAGE_SIZE as u64;
        let in_page = run.offset % page_size;
        let len = u64::from(run.len);
        let reserved_start = range.start() + offset - offset % page_size;
        let reserved = (in_page + len.max(1)).div_ceil(page_size) * page_size;
        let inside = offset % page_size == in_page
            && offset + len <= range.len()
            && reserved_start + reserved <= range.start() + range.len();
        let overlaps = state
            .links
            .range(..reserved_start + reserved)
            .next_back()
            .is_some_and(|(&other, mapping)| other + mapping.reserved_len > reserved_start);
        if !inside || overlaps {
            self.misuse(
                state,
                format!("link of {run:?} at {offset:#x} into {range:?}: outside it, at another offset in the page, or over another link"),
            );
            return Err(Error::MapFailed { index: 0 });
        }
        state.links.insert(
            reserved_start,
            IommuMapping {
                bus_address: range.start() + offset,
                run,
                direction,
                reserved_start,
                reserved_len: reserved,
            },
        );
        state.unflushed = true;
        Ok(())
    }

    unsafe fn sync(&self, range: &IovaRange, _offset: u64, _len: u64) -> Result<(), Error> {
        let mut state = self.lock();
        let (_, fail) = self.iova_call(&mut state, true);
        if fail {
            return Err(Error::MapFailed { index: 0 });
        }
        let mut state = self
            .check_range(state, range, "sync")
            .ok_or(Error::MapFailed { index: 0 })?;
        state.tlb_flushes += 1;
        state.unflushed = false;
        Ok(())
    }

    unsafe fn unlink(
        &self,
        _provider: &P,
        range: &IovaRange,
        offset: u64,
        len: u64,
        direction: DmaDirection,
    ) {
        let mut state = self.lock();
        let (call, _) = self.iova_call(&mut state, false);
        let Some(mut state) = self.check_range(state, range, "unlink") else {
            return;
        };
        let from = range.start() + offset;
        let to = from.saturating_add(len);
        let gone: Vec<u64> = state
            .links
            .iter()
            .filter(|(_, mapping)| (from..to).contains(&mapping.bus_address))
            .map(|(&start, _)| start)
            .collect();
        let mut wrong = Vec::new();
        for start in gone {
            if let Some(mapping) = state.links.remove(&start) {
                if mapping.direction != direction {
                    wrong.push(mapping);
                }
            }
        }
        state.tlb_flushes += 1;
        if !wrong.is_empty() {
            self.misuse(state, format!("unlink for {direction:?} of {wrong:?}"));
        } else {
            drop(state);
        }
        self.panic_after(call);
    }

    unsafe fn free(&self, range: IovaRange) {
        let mut state = self.lock();
        let (call, _) = self.iova_call(&mut state, false);
        let Some(mut state) = self.check_range(state, &range, "free") else {
            return;
        };
        let end = range.start() + range.len();
        let linked = state
            .links
            .range(range.start()..end)
            .next()
            .map(|(_, mapping)| *mapping);
        state.ranges.remove(&range.start());
        if let Some(mapping) = linked {
            self.misuse(state, format!("free of {range:?} with {mapping:?} linked"));
        } else {
            drop(state);
        }
        self.panic_after(call);
    }
}

impl<Pg: fmt::Debug> fmt::Debug for MockIommu<Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = leak_check::lock(&self.state);
        f.debug_struct("MockIommu")
            .field("space", &format_args!("{:#x}..{:#x}", self.start, self.end))
            .field("live_mappings", &state.live.len())
            .field("map_calls", &state.map_calls)
            .field("unmap_calls", &state.unmap_calls)
            .field("ranges", &state.ranges.len())
            .field("links", &state.links.len())
            .field("tlb_flushes", &state.tlb_flushes)
            .finish_non_exhaustive()
    }
}

impl<Pg> Drop for MockIommu<Pg> {
    fn drop(&mut self) {
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (leaked, misuse) = (
            state.live.len() + state.links.len() + state.ranges.len(),
            state.misuse.len(),
        );
        let found = if leaked > 0 || misuse > 0 {
            Err(format!("{leaked} live mapping(s) and {misuse} misuse(s)"))
        } else {
            Ok(())
        };
        self.check_on_drop.on_drop("MockIommu", found);
    }
}
