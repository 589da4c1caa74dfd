//! The mock as a page provider: mapping, allocating and freeing, and
//! giving everything back on drop.

use std::alloc::{self, Layout};
use std::fmt;
use std::ptr::NonNull;

use sg_core::{Error, PageProvider};

use super::{FailPlan, Live, MAX_MOCK_ORDER, Mapping, MockPage, MockPages};
use crate::leak_check;

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
        self.check_on_drop.on_drop("MockPages", leaks);
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
        let fails = match *leak_check::lock(&self.fail) {
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
