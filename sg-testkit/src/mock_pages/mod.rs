//! `MockPages`: a page provider with frame numbers chosen by the test, real
//! bytes behind every page, and checks that nothing leaks.

use std::alloc::{self, Layout};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::leak_check::{self, DropCheck};

mod bytes;
mod counters;
mod provider;

pub use bytes::pattern_page;

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

/// A [`PageProvider`](sg_core::PageProvider) for tests: pages with frame
/// numbers the test chooses (contiguous runs, reversed, gaps), real bytes
/// behind each page, counts of live mappings, live allocations and write
/// flushes, allocation failure on demand, and a leak check that also runs on
/// drop.
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
/// unsafe { entries[0].set_page(pages[2], 0, 5) };
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
    check_on_drop: DropCheck,
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
            check_on_drop: DropCheck::new(),
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
        leak_check::lock(&self.state)
    }

    /// Byte `at` of the run that starts at `page`, as (frame, in-page
    /// offset).
    fn locate(page: MockPage, at: u64) -> (u64, usize) {
        (
            page.0 + at / PAGE_SIZE as u64,
            (at % PAGE_SIZE as u64) as usize,
        )
    }
}
