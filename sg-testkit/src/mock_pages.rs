//! `MockPages`: a page provider with frame numbers chosen by the test, real
//! bytes behind every page, and checks that nothing leaks.

use std::alloc::{self, Layout};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use sg_core::{Error, PageProvider, SgList};

/// The handle of a mock page: its frame number.
///
/// Any value can be made, since mapping checks that the page exists (and
/// panics, failing the test, when it does not).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct MockPage(u64);

impl MockPage {
    /// The handle of the page with frame number `pfn`.
    pub const fn new(pfn: u64) -> Self {
        MockPage(pfn)
    }

    /// The page's frame number.
    pub const fn pfn(self) -> u64 {
        self.0
    }
}

/// How `map` hands out a page's bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mapping {
    /// The page's own memory (like a kernel's lowmem). Every page is a
    /// separate allocation, so Miri catches an access past a page.
    Direct,
    /// A fresh copy of the page, written back when the last mapping of the
    /// page is released (like a kernel's highmem kmap slot). A library that
    /// forgets to unmap loses its writes, and Miri catches any use of a
    /// mapping after its release. The default.
    Copied,
    /// The provider is linear: runs of consecutive frames that were added
    /// together are one allocation, and a mapping of a run's first page
    /// reaches the whole run.
    Linear,
}

/// What a leak check found: mappings not released, pages not given back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Leaks {
    /// Frame numbers with live mappings, and how many each.
    pub mappings: Vec<(u64, usize)>,
    /// First frame and order of page allocations not freed.
    pub allocations: Vec<(u64, u32)>,
}

impl fmt::Display for Leaks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} live mapping(s) {:?} and {} page allocation(s) not freed {:?}",
            self.mappings.iter().map(|&(_, count)| count).sum::<usize>(),
            self.mappings,
            self.allocations.len(),
            self.allocations
        )
    }
}

/// When `alloc_pages` fails.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum FailPlan {
    Never,
    /// The call with this index (counting from 0) fails; later ones succeed.
    At(usize),
    /// Every call from this index on fails.
    From(usize),
}

/// A contiguous run of frames backed by one allocation.
struct Region {
    frames: u64,
    memory: NonNull<u8>,
}

/// The live mapping of one page.
struct Live {
    count: usize,
    pointer: NonNull<u8>,
    /// The page's memory when `pointer` is a copy.
    copied_from: Option<NonNull<u8>>,
}

#[derive(Default)]
struct State {
    /// Regions by first frame number.
    regions: BTreeMap<u64, Region>,
    live: HashMap<u64, Live>,
    total_mappings: usize,
    flushes: HashMap<u64, usize>,
    alloc_calls: usize,
    /// First frame -> order, for `alloc_pages` runs not freed.
    allocated: BTreeMap<u64, u32>,
    next_alloc_pfn: u64,
}

/// First frame number `alloc_pages` hands out: far from the frames tests
/// choose.
const ALLOC_BASE_PFN: u64 = 1 << 40;

/// Largest order `alloc_pages` serves.
pub const MAX_MOCK_ORDER: u32 = 12;

/// A [`PageProvider`] for tests: pages with frame numbers the test chooses
/// (contiguous runs, reversed, gaps), real bytes behind each page, counts of
/// live mappings, live allocations and write flushes, allocation failure on
/// demand, and a leak check that also runs on drop.
///
/// `PAGE_SIZE` defaults to 4096; smaller pages keep tests fast under Miri.
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, SgEntry, SgList};
/// use sg_testkit::MockPages;
///
/// let mock = MockPages::<4096>::new();
/// let pages = mock.add_pages([10, 11, 20]); // a run of two, then a gap
/// assert!(mock.is_next(pages[0], 1, pages[1]));
/// assert!(!mock.is_next(pages[1], 1, pages[2]));
///
/// mock.write(pages[2], 0, b"bytes");
/// let mut entries: [SgEntry<_>; 1] = Default::default();
/// sg_core::init_table(&mut entries).unwrap();
/// // SAFETY: bytes of a page the mock has; no other list names them.
/// unsafe { entries[0].set_page(pages[2], 5, 0) };
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// assert_eq!(mock.list_bytes(unsafe { SgList::new(&entries, &mock) }), b"bytes");
/// mock.assert_clean(); // also checked on drop
/// ```
pub struct MockPages<const PAGE_SIZE: usize = 4096> {
    /// Unique among the mocks of a process.
    id: u64,
    state: Mutex<State>,
    mapping: Mapping,
    fail: Mutex<FailPlan>,
    check_on_drop: AtomicBool,
}

// SAFETY: the raw pointers in the state are allocations owned by the mock,
// reached only under its mutex or through mappings handed out under the
// `PageProvider` contract.
unsafe impl<const PAGE_SIZE: usize> Send for MockPages<PAGE_SIZE> {}
// SAFETY: as for `Send`: all shared state is behind mutexes and atomics.
unsafe impl<const PAGE_SIZE: usize> Sync for MockPages<PAGE_SIZE> {}

impl<const PAGE_SIZE: usize> Default for MockPages<PAGE_SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const PAGE_SIZE: usize> MockPages<PAGE_SIZE> {
    const VALID: () = assert!(
        PAGE_SIZE.is_power_of_two() && PAGE_SIZE >= 64 && PAGE_SIZE <= 1 << 20,
        "a mock page size is a power of two from 64 bytes to 1 MiB"
    );

    /// A mock with no pages whose mappings are copies ([`Mapping::Copied`]).
    pub fn new() -> Self {
        Self::with_mapping(Mapping::Copied)
    }

    /// A linear mock ([`Mapping::Linear`]).
    pub fn linear() -> Self {
        Self::with_mapping(Mapping::Linear)
    }

    /// A mock with no pages that maps them as `mapping` says.
    pub fn with_mapping(mapping: Mapping) -> Self {
        let () = Self::VALID;
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        MockPages {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            state: Mutex::new(State {
                next_alloc_pfn: ALLOC_BASE_PFN,
                ..State::default()
            }),
            mapping,
            fail: Mutex::new(FailPlan::Never),
            check_on_drop: AtomicBool::new(true),
        }
    }

    /// A number no other mock of this process has.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// How this mock maps pages.
    pub fn mapping(&self) -> Mapping {
        self.mapping
    }

    /// Adds pages with the given frame numbers, zero-filled, and returns
    /// their handles in the same order.
    ///
    /// In a linear mock, each run of consecutive frames among `pfns` becomes
    /// one allocation.
    ///
    /// # Panics
    ///
    /// When a frame already exists, or (linear) when a new run would touch
    /// an existing one: add each run in one call.
    pub fn add_pages(&self, pfns: impl IntoIterator<Item = u64>) -> Vec<MockPage> {
        let pfns: Vec<u64> = pfns.into_iter().collect();
        let mut sorted = pfns.clone();
        sorted.sort_unstable();
        if let Some(pair) = sorted.windows(2).find(|pair| pair[0] == pair[1]) {
            panic!("MockPages: frame {} given twice", pair[0]);
        }
        let mut state = self.lock();
        let mut index = 0;
        while index < sorted.len() {
            let first = sorted[index];
            let mut frames = 1;
            if self.mapping == Mapping::Linear {
                while index + (frames as usize) < sorted.len()
                    && sorted[index + frames as usize] == first + frames
                {
                    frames += 1;
                }
            }
            self.insert_region(&mut state, first, frames);
            index += frames as usize;
        }
        pfns.into_iter().map(MockPage).collect()
    }

    /// Adds `count` pages with consecutive frame numbers from `first_pfn`.
    pub fn add_run(&self, first_pfn: u64, count: u64) -> Vec<MockPage> {
        self.add_pages(first_pfn..first_pfn + count)
    }

    fn insert_region(&self, state: &mut State, first: u64, frames: u64) {
        let last = first + frames - 1;
        let touching = |pfn: u64| Self::find(state, pfn).is_some();
        let neighbours_touch = self.mapping == Mapping::Linear
            && ((first > 0 && touching(first - 1)) || touching(last + 1));
        if (first..=last).any(touching) || neighbours_touch {
            panic!("MockPages: frames {first}..={last} overlap or touch existing pages");
        }
        let size = frames as usize * PAGE_SIZE;
        let layout = Layout::from_size_align(size, PAGE_SIZE).expect("mock region layout");
        // SAFETY: `size` is non-zero (frames >= 1, PAGE_SIZE >= 64).
        let memory = unsafe { alloc::alloc_zeroed(layout) };
        let memory = NonNull::new(memory).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        state.regions.insert(first, Region { frames, memory });
    }

    fn find(state: &State, pfn: u64) -> Option<(u64, &Region)> {
        let (&first, region) = state.regions.range(..=pfn).next_back()?;
        (pfn < first + region.frames).then_some((first, region))
    }

    /// A page with a live mapping whose pointer may reach page `pfn`'s
    /// memory: one in the same region, unless mappings are copies.
    fn mapped_in_region(&self, state: &State, pfn: u64) -> Option<u64> {
        if self.mapping == Mapping::Copied {
            return None;
        }
        let (first, region) = Self::find(state, pfn)?;
        let region = first..first + region.frames;
        state
            .live
            .iter()
            .find(|(mapped, live)| live.count > 0 && region.contains(mapped))
            .map(|(&mapped, _)| mapped)
    }

    /// Pointer to the first byte of page `pfn` in its region.
    fn page_memory(state: &State, pfn: u64) -> NonNull<u8> {
        let Some((first, region)) = Self::find(state, pfn) else {
            panic!("MockPages: page {pfn} does not exist");
        };
        // SAFETY: `pfn - first < region.frames`, so the offset stays inside
        // the region's allocation.
        unsafe { region.memory.add((pfn - first) as usize * PAGE_SIZE) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test may poison the lock; the state stays usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Byte `at` of the run that starts at `page`, as (frame, in-page
    /// offset).
    fn locate(page: MockPage, at: u64) -> (u64, usize) {
        (
            page.0 + at / PAGE_SIZE as u64,
            (at % PAGE_SIZE as u64) as usize,
        )
    }

    /// Reads `len` bytes starting `offset` bytes after the start of `page`
    /// (crossing into the following frames of its run), straight from the
    /// pages' memory.
    ///
    /// While a [`Mapping::Copied`] mapping is live, writes through it are
    /// not visible here until it is released.
    ///
    /// # Panics
    ///
    /// When a page in the range does not exist, and, unless mappings are
    /// copies, when a live mapping may reach one (a list's slice could be
    /// writing it: reading beside it would alias).
    pub fn read(&self, page: MockPage, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.access(page, offset, len, |memory, range| {
            out[range.clone()].copy_from_slice(memory);
        });
        out
    }

    /// Writes `bytes` starting `offset` bytes after the start of `page`,
    /// straight into the pages' memory.
    ///
    /// # Panics
    ///
    /// When a page in the range does not exist, and, unless mappings are
    /// copies, when a live mapping may reach one (a list's slice could be
    /// reading or writing it).
    pub fn write(&self, page: MockPage, offset: u64, bytes: &[u8]) {
        self.access_mut(page, offset, bytes.len(), |memory, range| {
            memory.copy_from_slice(&bytes[range]);
        });
    }

    fn access(
        &self,
        page: MockPage,
        offset: u64,
        len: usize,
        mut each: impl FnMut(&[u8], std::ops::Range<usize>),
    ) {
        self.access_mut(page, offset, len, |memory, range| each(memory, range));
    }

    fn access_mut(
        &self,
        page: MockPage,
        offset: u64,
        len: usize,
        mut each: impl FnMut(&mut [u8], std::ops::Range<usize>),
    ) {
        let state = self.lock();
        let mut done = 0;
        while done < len {
            let (pfn, in_page) = Self::locate(page, offset + done as u64);
            let piece = (PAGE_SIZE - in_page).min(len - done);
            let memory = Self::page_memory(&state, pfn);
            if let Some(mapped) = self.mapped_in_region(&state, pfn) {
                drop(state);
                panic!(
                    "MockPages: page {pfn} is reachable through a live mapping of page {mapped}; \
                     read or write it after the mapping is released"
                );
            }
            // SAFETY: `in_page + piece <= PAGE_SIZE` bytes of a live page.
            // No mapping hands out this memory now (checked just above: a
            // mapping of the page's region could reach it, and a copied
            // mapping is other memory), and none can be made while the
            // mutex is held, so no reference into these bytes is live.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(memory.add(in_page).as_ptr(), piece) };
            each(bytes, done..done + piece);
            done += piece;
        }
    }

    /// Fills every existing page with bytes derived from `seed` and the
    /// frame number ([`pattern_page`]), so that neighbouring bytes differ and
    /// no page repeats another at a small shift (below the page size, at
    /// least 256 bytes and at most 4 KiB).
    ///
    /// Each page is a window into one pseudo-random table, at a phase that
    /// depends on `seed` and the frame: the table is computed once per call
    /// and pages are copied from it, which keeps this cheap under Miri.
    pub fn fill(&self, seed: u64) {
        let table = pattern_table(seed, PAGE_SIZE);
        let pfns: Vec<(u64, u64)> = self
            .lock()
            .regions
            .iter()
            .map(|(&first, region)| (first, region.frames))
            .collect();
        for (first, frames) in pfns {
            for pfn in first..first + frames {
                let phase = pattern_phase(seed, pfn, PAGE_SIZE);
                self.write(MockPage(pfn), 0, &table[phase..phase + PAGE_SIZE]);
            }
        }
    }

    /// The bytes a list describes, in order, read straight from the pages.
    pub fn list_bytes<P>(&self, list: SgList<'_, P>) -> Vec<u8>
    where
        P: PageProvider<Page = MockPage>,
    {
        let mut out = Vec::new();
        for segment in list.segments() {
            out.extend(self.read(segment.page, segment.offset, segment.len as usize));
        }
        out
    }

    /// Writes `bytes` over the bytes a list describes, in order.
    ///
    /// # Panics
    ///
    /// When `bytes` is not exactly as long as the list.
    pub fn set_list_bytes<P>(&self, list: SgList<'_, P>, bytes: &[u8])
    where
        P: PageProvider<Page = MockPage>,
    {
        let mut done = 0;
        for segment in list.segments() {
            let len = segment.len as usize;
            self.write(segment.page, segment.offset, &bytes[done..done + len]);
            done += len;
        }
        assert_eq!(
            done,
            bytes.len(),
            "set_list_bytes: length differs from the list"
        );
    }

    /// Whether the `len` bytes starting `offset` bytes after the start of
    /// `page` (running on into the following frames) all lie on pages this
    /// mock has; always true for `len` 0.
    pub fn holds(&self, page: MockPage, offset: u64, len: u64) -> bool {
        if len == 0 {
            return true;
        }
        let page_size = PAGE_SIZE as u64;
        let (Some(first), Some(last)) = (
            page.0.checked_add(offset / page_size),
            offset
                .checked_add(len - 1)
                .and_then(|end| page.0.checked_add(end / page_size)),
        ) else {
            return false;
        };
        let state = self.lock();
        (first..=last).all(|pfn| Self::find(&state, pfn).is_some())
    }

    /// The frame numbers of every page, in order.
    pub fn frames(&self) -> Vec<u64> {
        self.lock()
            .regions
            .iter()
            .flat_map(|(&first, region)| first..first + region.frames)
            .collect()
    }

    /// Mappings made and not yet released.
    pub fn live_mappings(&self) -> usize {
        self.lock().live.values().map(|live| live.count).sum()
    }

    /// Mappings made since creation.
    pub fn total_mappings(&self) -> usize {
        self.lock().total_mappings
    }

    /// Write flushes since creation, over all pages.
    pub fn flushes(&self) -> usize {
        self.lock().flushes.values().sum()
    }

    /// Write flushes of one page since creation.
    pub fn flushes_of(&self, page: MockPage) -> usize {
        self.lock().flushes.get(&page.0).copied().unwrap_or(0)
    }

    /// Page allocations (`alloc_pages` runs) not yet freed.
    pub fn live_allocations(&self) -> usize {
        self.lock().allocated.len()
    }

    /// Calls to `alloc_pages` since creation, failed ones included.
    pub fn alloc_calls(&self) -> usize {
        self.lock().alloc_calls
    }

    /// Makes the `alloc_pages` call with index `call` (counting from 0 since
    /// creation) fail; others succeed.
    pub fn fail_alloc_at(&self, call: usize) {
        *self
            .fail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = FailPlan::At(call);
    }

    /// Makes every `alloc_pages` call from now on fail.
    pub fn fail_alloc_always(&self) {
        let calls = self.alloc_calls();
        *self
            .fail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = FailPlan::From(calls);
    }

    /// Stops failing `alloc_pages` calls.
    pub fn stop_failing(&self) {
        *self
            .fail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = FailPlan::Never;
    }

    /// What leaked: live mappings and unfreed page allocations.
    ///
    /// # Errors
    ///
    /// The [`Leaks`] found, if any.
    pub fn check(&self) -> Result<(), Leaks> {
        let state = self.lock();
        let mut mappings: Vec<(u64, usize)> = state
            .live
            .iter()
            .map(|(&pfn, live)| (pfn, live.count))
            .collect();
        mappings.sort_unstable();
        let allocations: Vec<(u64, u32)> = state
            .allocated
            .iter()
            .map(|(&pfn, &order)| (pfn, order))
            .collect();
        if mappings.is_empty() && allocations.is_empty() {
            Ok(())
        } else {
            Err(Leaks {
                mappings,
                allocations,
            })
        }
    }

    /// Fails the test if anything leaked.
    ///
    /// # Panics
    ///
    /// When a mapping is live or a page allocation was not freed.
    #[track_caller]
    pub fn assert_clean(&self) {
        if let Err(leaks) = self.check() {
            panic!("MockPages: {leaks}");
        }
    }

    /// Turns off the leak check on drop (for tests that leak on purpose).
    pub fn skip_check_on_drop(&self) {
        self.check_on_drop.store(false, Ordering::Relaxed);
    }
}

/// Phases of [`MockPages::fill`]'s table for a page size: a page starts at
/// one of these, so pages are never shifted copies of each other by less.
fn pattern_phases(page_size: usize) -> usize {
    page_size.clamp(256, 4096)
}

/// Mixes a word into a well-spread one (a 64-bit finaliser).
fn mix(mut value: u64) -> u64 {
    value ^= value >> 31;
    value = value.wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^= value >> 29;
    value = value.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value ^ (value >> 32)
}

/// Where in the table the page of frame `pfn` starts.
fn pattern_phase(seed: u64, pfn: u64, page_size: usize) -> usize {
    (mix(seed ^ pfn.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % pattern_phases(page_size) as u64)
        as usize
}

/// The table pages are cut from: `page_size` bytes plus the phases, each
/// different from its neighbours.
fn pattern_table(seed: u64, page_size: usize) -> Vec<u8> {
    let len = page_size + pattern_phases(page_size);
    let mut table = Vec::with_capacity(len);
    let mut state = mix(seed.wrapping_add(0x2545_F491_4F6C_DD1D));
    let mut previous = 0u8;
    while table.len() < len {
        state = mix(state.wrapping_add(0x9E37_79B9_7F4A_7C15));
        for byte in state.to_le_bytes() {
            // Never repeat the previous byte, so neighbours always differ.
            let byte = if byte == previous { byte ^ 0x5A } else { byte };
            table.push(byte);
            previous = byte;
        }
    }
    table.truncate(len);
    table
}

/// The bytes [`MockPages::fill`] with `seed` puts in the `page_size`-byte
/// page of frame `pfn`.
pub fn pattern_page(seed: u64, pfn: u64, page_size: usize) -> Vec<u8> {
    let phase = pattern_phase(seed, pfn, page_size);
    pattern_table(seed, page_size)[phase..phase + page_size].to_vec()
}

impl<const PAGE_SIZE: usize> fmt::Debug for MockPages<PAGE_SIZE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("MockPages")
            .field("page_size", &PAGE_SIZE)
            .field("mapping", &self.mapping)
            .field(
                "frames",
                &state
                    .regions
                    .values()
                    .map(|region| region.frames)
                    .sum::<u64>(),
            )
            .field(
                "live_mappings",
                &state.live.values().map(|live| live.count).sum::<usize>(),
            )
            .field("live_allocations", &state.allocated.len())
            .finish()
    }
}

impl<const PAGE_SIZE: usize> Drop for MockPages<PAGE_SIZE> {
    fn drop(&mut self) {
        let leaks = self.check();
        let state = self
            .state
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let page = Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).expect("page layout");
        for live in state.live.values() {
            if live.copied_from.is_some() {
                // SAFETY: copies are allocated with `page` and freed only
                // here or when their last mapping is released.
                unsafe { alloc::dealloc(live.pointer.as_ptr(), page) };
            }
        }
        for region in state.regions.values() {
            let layout = Layout::from_size_align(region.frames as usize * PAGE_SIZE, PAGE_SIZE)
                .expect("mock region layout");
            // SAFETY: allocated in `insert_region` with this layout.
            unsafe { alloc::dealloc(region.memory.as_ptr(), layout) };
        }
        if let Err(leaks) = leaks {
            if self.check_on_drop.load(Ordering::Relaxed) && !std::thread::panicking() {
                panic!("MockPages dropped with {leaks}");
            }
        }
    }
}

// SAFETY: every page is an allocation of its own or part of a region
// allocated for a run of consecutive frames; `map` returns the page's memory
// or a page-sized copy that lives until the last mapping of the page is
// released; frame numbers are the handles, so `nth` adds to them; in linear
// mode each run of consecutive frames is one region (neighbouring runs are
// refused), so a mapping of a run's first page reaches the whole run;
// `alloc_pages` makes fresh regions at frames nothing else uses.
unsafe impl<const PAGE_SIZE: usize> PageProvider for MockPages<PAGE_SIZE> {
    type Page = MockPage;
    type Pfn = u64;
    const PAGE_SIZE: usize = PAGE_SIZE;

    fn pfn(&self, page: MockPage) -> u64 {
        page.0
    }

    fn nth(&self, page: MockPage, n: usize) -> MockPage {
        MockPage(page.0 + n as u64)
    }

    fn map(&self, page: MockPage) -> NonNull<u8> {
        let mut state = self.lock();
        let memory = Self::page_memory(&state, page.0);
        state.total_mappings += 1;
        if let Some(live) = state.live.get_mut(&page.0) {
            live.count += 1;
            return live.pointer;
        }
        let (pointer, copied_from) = if self.mapping == Mapping::Copied {
            let layout = Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).expect("page layout");
            // SAFETY: the layout is non-zero in size.
            let copy = unsafe { alloc::alloc(layout) };
            let copy = NonNull::new(copy).unwrap_or_else(|| alloc::handle_alloc_error(layout));
            // SAFETY: both are distinct live allocations of PAGE_SIZE bytes.
            unsafe { copy.copy_from_nonoverlapping(memory, PAGE_SIZE) };
            (copy, Some(memory))
        } else {
            (memory, None)
        };
        state.live.insert(
            page.0,
            Live {
                count: 1,
                pointer,
                copied_from,
            },
        );
        pointer
    }

    unsafe fn unmap(&self, page: MockPage, mapping: NonNull<u8>) {
        let mut state = self.lock();
        let Some(live) = state.live.get_mut(&page.0) else {
            drop(state);
            panic!("MockPages: unmap of page {} that is not mapped", page.0);
        };
        if live.pointer != mapping {
            drop(state);
            panic!(
                "MockPages: unmap of page {} with a pointer map did not return",
                page.0
            );
        }
        live.count -= 1;
        if live.count > 0 {
            return;
        }
        let live = state.live.remove(&page.0).expect("present above");
        if let Some(memory) = live.copied_from {
            let layout = Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).expect("page layout");
            // SAFETY: the copy and the page are distinct live allocations of
            // PAGE_SIZE bytes; the copy was allocated with `layout` and no
            // mapping of it is live any more.
            unsafe {
                memory.copy_from_nonoverlapping(live.pointer, PAGE_SIZE);
                alloc::dealloc(live.pointer.as_ptr(), layout);
            }
        }
    }

    fn flush_write(&self, page: MockPage) {
        *self.lock().flushes.entry(page.0).or_insert(0) += 1;
    }

    fn is_linear(&self) -> bool {
        self.mapping == Mapping::Linear
    }

    fn alloc_pages(&self, order: u32) -> Result<MockPage, Error> {
        let mut state = self.lock();
        let call = state.alloc_calls;
        state.alloc_calls += 1;
        let fails = match *self
            .fail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
        {
            FailPlan::Never => false,
            FailPlan::At(index) => call == index,
            FailPlan::From(index) => call >= index,
        };
        if fails || order > MAX_MOCK_ORDER {
            return Err(Error::PagesUnavailable { order });
        }
        let frames = 1u64 << order;
        let first = state.next_alloc_pfn;
        // Leave a gap so that separate allocations never look contiguous.
        state.next_alloc_pfn += frames + 1;
        if self.mapping == Mapping::Linear {
            self.insert_region(&mut state, first, frames);
        } else {
            for pfn in first..first + frames {
                self.insert_region(&mut state, pfn, 1);
            }
        }
        state.allocated.insert(first, order);
        Ok(MockPage(first))
    }

    unsafe fn free_pages(&self, page: MockPage, order: u32) {
        let mut state = self.lock();
        match state.allocated.get(&page.0) {
            Some(&allocated) if allocated == order => {}
            Some(&allocated) => {
                drop(state);
                panic!(
                    "MockPages: free_pages of frame {} with order {order}, allocated with order {allocated}",
                    page.0
                );
            }
            None => {
                drop(state);
                panic!(
                    "MockPages: free_pages of frame {} that is not an allocation (double free?)",
                    page.0
                );
            }
        }
        let frames = 1u64 << order;
        if let Some(pfn) = (page.0..page.0 + frames).find(|pfn| state.live.contains_key(pfn)) {
            drop(state);
            panic!("MockPages: free_pages of frame {pfn} while it is mapped");
        }
        state.allocated.remove(&page.0);
        let firsts: Vec<u64> = state
            .regions
            .range(page.0..page.0 + frames)
            .map(|(&first, _)| first)
            .collect();
        for first in firsts {
            let region = state.regions.remove(&first).expect("listed above");
            let layout = Layout::from_size_align(region.frames as usize * PAGE_SIZE, PAGE_SIZE)
                .expect("mock region layout");
            // SAFETY: allocated in `insert_region` with this layout; no
            // mapping of it is live (checked above).
            unsafe { alloc::dealloc(region.memory.as_ptr(), layout) };
        }
    }
}
