//! `BuiltList`: a list built by hand in chained arrays on the heap, for
//! testing crates that take lists without depending on sg-alloc's tables.

use std::fmt;
use std::ptr::NonNull;

use sg_core::{PageProvider, SgEntry, SgList, SgListMut, chain, init_table};

use crate::{MockPage, MockPages};

/// Data entries spread over chained arrays of chosen sizes.
///
/// Every array but the last ends with a link to the next, the last data
/// entry carries the end mark, and the arrays live on the heap for as long
/// as the `BuiltList`.
///
/// Build it with [`new`](BuiltList::new), which checks every entry against
/// the mock whose pages it names, and view it through that mock (or a
/// provider that wraps it).
///
/// # Examples
///
/// ```
/// use sg_core::SgEntry;
/// use sg_testkit::{BuiltList, MockPages};
///
/// let mock = MockPages::<4096>::new();
/// let pages = mock.add_pages([1, 2, 3]);
/// let entries: Vec<_> = pages.iter().map(|&page| (page, 100, 0)).collect();
/// let built = BuiltList::new(&mock, &entries, &[2, 1]); // arrays of 2 and 1 data entries
/// let list = built.list(&mock);
/// assert_eq!(list.count(), 3);
/// assert_eq!(built.arrays(), 2);
/// ```
pub struct BuiltList<Pg: Copy> {
    /// The arrays, owned (made with `Box::into_raw`, freed on drop). They
    /// are kept as raw pointers, never as boxes, so that reaching one array
    /// never invalidates the links other arrays hold to it.
    arrays: Vec<NonNull<[SgEntry<Pg>]>>,
    entries: usize,
    /// The mock [`new`](BuiltList::new) checked the entries against
    /// ([`MockPages::id`]), if any: the only provider a safe view uses.
    checked_by: Option<u64>,
}

// SAFETY: the arrays are owned allocations; links point only into them and
// are only read through views borrowed from `self`.
unsafe impl<Pg: Copy + Send + Sync> Send for BuiltList<Pg> {}
// SAFETY: as for `Send`.
unsafe impl<Pg: Copy + Send + Sync> Sync for BuiltList<Pg> {}

impl BuiltList<MockPage> {
    /// Builds a list of `entries` (page, length, offset) over `mock`'s
    /// pages, putting `data_per_array[i]` data entries in array i (a count
    /// of 0 is taken as 1; the counts repeat cyclically until every entry
    /// is placed; an empty `data_per_array` puts everything in one array).
    /// An empty `entries` gives one array of one empty, end-marked entry.
    ///
    /// # Panics
    ///
    /// When an entry describes bytes of frames `mock` does not have.
    #[track_caller]
    pub fn new<const PAGE_SIZE: usize>(
        mock: &MockPages<PAGE_SIZE>,
        entries: &[(MockPage, u32, u32)],
        data_per_array: &[usize],
    ) -> Self {
        for (index, &(page, length, offset)) in entries.iter().enumerate() {
            assert!(
                mock.holds(page, u64::from(offset), u64::from(length)),
                "BuiltList: entry {index} ({length} bytes at {offset} from frame {}) is not on the mock's frames",
                page.pfn()
            );
        }
        // SAFETY: every entry's bytes lie on frames of `mock`, whose memory
        // is initialised from the start and lives as long as the mock; the
        // safe view (`list`) only reads, and only through this mock;
        // writing views are `unsafe`.
        let mut built = unsafe { Self::new_unchecked(entries, data_per_array) };
        built.checked_by = Some(mock.id());
        built
    }
}

impl<Pg: Copy> BuiltList<Pg> {
    /// [`BuiltList::new`] without the check, for any page type.
    ///
    /// # Safety
    ///
    /// The contract of [`SgEntry::set_page`] for every entry, with the
    /// provider the list will be viewed through.
    pub unsafe fn new_unchecked(entries: &[(Pg, u32, u32)], data_per_array: &[usize]) -> Self {
        let mut arrays: Vec<Box<[SgEntry<Pg>]>> = Vec::new();
        let mut rest = entries;
        let mut sizes = data_per_array.iter().cycle();
        loop {
            let take = match sizes.next() {
                Some(&size) => size.clamp(1, rest.len().max(1)),
                None => rest.len().max(1),
            };
            let take = take.min(rest.len());
            let last = take == rest.len();
            let slots = take + usize::from(!last);
            let mut array: Box<[SgEntry<Pg>]> = (0..slots.max(1)).map(|_| SgEntry::new()).collect();
            init_table(&mut array).expect("at least one slot");
            for (slot, &(page, length, offset)) in rest[..take].iter().enumerate() {
                // SAFETY: the caller's promise, entry by entry.
                unsafe { array[slot].set_page(page, offset, length) };
            }
            arrays.push(array);
            rest = &rest[take..];
            if last {
                break;
            }
        }
        let arrays: Vec<NonNull<[SgEntry<Pg>]>> = arrays
            .into_iter()
            .map(|array| NonNull::from(Box::leak(array)))
            .collect();
        for pair in arrays.windows(2) {
            // SAFETY: the arrays are live, distinct allocations owned by the
            // list, freed only on drop; the link targets the next array
            // (never a cycle), which is not moved and is written only
            // through views of this list.
            unsafe { chain(&mut *pair[0].as_ptr(), pair[1]) }.expect("non-empty arrays");
        }
        BuiltList {
            arrays,
            entries: entries.len(),
            checked_by: None,
        }
    }

    /// Stores DMA fields in data entry `index` (counting from 0), as a DMA
    /// mapper would.
    ///
    /// # Panics
    ///
    /// When there is no such entry.
    pub fn set_dma(&mut self, index: usize, address: u64, length: u32) {
        let mut left = index;
        for &array in &self.arrays {
            // SAFETY: the array is live and owned by `self`, borrowed
            // mutably here; no view of the list is alive (views borrow
            // `self`).
            let array = unsafe { &mut *array.as_ptr() };
            for entry in array.iter_mut().filter(|entry| !entry.is_chain()) {
                if left == 0 {
                    entry.set_dma(address, length);
                    return;
                }
                left -= 1;
            }
        }
        panic!("BuiltList::set_dma: no entry {index}");
    }

    /// A view of the list through `mock`, the mock that
    /// [`new`](BuiltList::new) checked its entries against.
    ///
    /// # Panics
    ///
    /// When `mock` is another mock, or the list was made with
    /// [`new_unchecked`](Self::new_unchecked) (use [`list_via`](Self::list_via)).
    #[track_caller]
    pub fn list<'a, const N: usize>(&'a self, mock: &'a MockPages<N>) -> SgList<'a, MockPages<N>>
    where
        MockPages<N>: PageProvider<Page = Pg>,
    {
        assert_eq!(
            self.checked_by,
            Some(mock.id()),
            "BuiltList::list: viewed through another mock than the one it was built on"
        );
        // SAFETY: `new` checked every entry against this very mock (its id
        // is unique), whose frames live as long as it does; the view only
        // reads, and `MockPages::write` refuses pages a mapping may reach.
        unsafe { self.list_via(mock) }
    }

    /// A view of the list through `provider`.
    ///
    /// # Safety
    ///
    /// The entries' claims ([`SgEntry::set_page`]) hold for `provider` while
    /// the view is used, and nothing writes their bytes meanwhile.
    pub unsafe fn list_via<'a, P: PageProvider<Page = Pg>>(
        &'a self,
        provider: &'a P,
    ) -> SgList<'a, P> {
        // SAFETY: the first array is live and owned by `self`, which is
        // borrowed for the view's lifetime; the caller vouches for the
        // entries with this provider.
        unsafe { SgList::new(self.arrays[0].as_ref(), provider) }
    }

    /// An exclusive view of the list through `provider`.
    ///
    /// # Safety
    ///
    /// The entries' claims hold for `provider` while the view is used, no
    /// two entries share a byte, and nothing else (no other list, built or
    /// not, and no `MockPages::read`/`write` of a copied mapping's page)
    /// reads or writes their bytes meanwhile.
    pub unsafe fn list_mut<'a, P: PageProvider<Page = Pg>>(
        &'a mut self,
        provider: &'a P,
    ) -> SgListMut<'a, P> {
        // SAFETY: the first array is live and owned by `self`, which is
        // borrowed mutably for the view's lifetime; the caller's promise.
        unsafe { SgListMut::new(self.arrays[0].as_mut(), provider) }
    }

    /// Number of data entries.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Number of arrays.
    pub fn arrays(&self) -> usize {
        self.arrays.len()
    }
}

impl<Pg: Copy + fmt::Debug> fmt::Debug for BuiltList<Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuiltList")
            .field("entries", &self.entries)
            .field(
                "arrays",
                &self
                    .arrays
                    .iter()
                    .map(|array| array.len())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<Pg: Copy> Drop for BuiltList<Pg> {
    fn drop(&mut self) {
        for &array in &self.arrays {
            // SAFETY: made with `Box::leak` in `new_unchecked` and freed only
            // here; no view outlives `self`.
            drop(unsafe { Box::from_raw(array.as_ptr()) });
        }
    }
}
