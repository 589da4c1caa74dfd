//! What a test asks a mock: counts, failure plans, and the leak check.

use super::{FailPlan, Leaks, MockPage, MockPages};
use crate::leak_check;

impl<const PAGE_SIZE: usize> MockPages<PAGE_SIZE> {
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
        *leak_check::lock(&self.fail) = FailPlan::At(call);
    }

    /// Makes every `alloc_pages` call from now on fail.
    pub fn fail_alloc_always(&self) {
        let calls = self.alloc_calls();
        *leak_check::lock(&self.fail) = FailPlan::From(calls);
    }

    /// Stops failing `alloc_pages` calls.
    pub fn stop_failing(&self) {
        *leak_check::lock(&self.fail) = FailPlan::Never;
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
        leak_check::assert_clean("MockPages", self.check());
    }

    /// Turns off the leak check on drop (for tests that leak on purpose).
    pub fn skip_check_on_drop(&self) {
        self.check_on_drop.skip();
    }
}
