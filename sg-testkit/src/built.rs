//! `BuiltList`: a list built by hand in chained arrays on the heap, for
//! testing crates that take lists without depending on sg-alloc's tables.

use std::fmt;
use std::ptr::NonNull;

use sg_core::{PageProvider, SgEntry, SgList, SgListMut, chain, init_table};

/// Data entries spread over chained arrays of chosen sizes.
///
/// Every array but the last ends with a link to the next, the last data
/// entry carries the end mark, and the arrays live on the heap for as long
/// as the `BuiltList`.
///
/// # Examples
///
/// ```
/// use sg_core::SgEntry;
/// use sg_testkit::{BuiltList, MockPages};
///
/// let mock = MockPages::<4096>::new();
/// let pages = mock.add_pages([1, 2, 3]);
/// let entries: Vec<(_, u32, u32)> = pages.iter().map(|&page| (page, 100, 0)).collect();
/// let built = BuiltList::new(&entries, &[2, 1]); // arrays of 2 and 1 data entries
/// let list = built.list(&mock);
/// assert_eq!(list.count(), 3);
/// assert_eq!(built.arrays(), 2);
/// ```
pub struct BuiltList<Pg: Copy> {
    arrays: Vec<Box<[SgEntry<Pg>]>>,
    entries: usize,
}

// SAFETY: the arrays are owned boxes; links point only into them and are
// only read through views borrowed from `self`.
unsafe impl<Pg: Copy + Send + Sync> Send for BuiltList<Pg> {}
// SAFETY: as for `Send`.
unsafe impl<Pg: Copy + Send + Sync> Sync for BuiltList<Pg> {}

impl<Pg: Copy> BuiltList<Pg> {
    /// Builds a list of `entries` (page, length, offset), putting
    /// `data_per_array[i]` data entries in array i (a count of 0 is taken
    /// as 1; the counts repeat cyclically until every entry is placed; an
    /// empty `data_per_array` puts everything in one array). An empty
    /// `entries` gives one array of one empty, end-marked entry.
    pub fn new(entries: &[(Pg, u32, u32)], data_per_array: &[usize]) -> Self {
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
                array[slot].set_page(page, length, offset);
            }
            arrays.push(array);
            rest = &rest[take..];
            if last {
                break;
            }
        }
        for index in (0..arrays.len() - 1).rev() {
            let (before, after) = arrays.split_at_mut(index + 1);
            let target = NonNull::from(&mut *after[0]);
            // SAFETY: boxed arrays never move while `self` lives and are not
            // written after construction; the chain only goes forward.
            unsafe { chain(&mut before[index], target) }.expect("non-empty arrays");
        }
        BuiltList {
            arrays,
            entries: entries.len(),
        }
    }

    /// A view of the list through `provider`.
    pub fn list<'a, P: PageProvider<Page = Pg>>(&'a self, provider: &'a P) -> SgList<'a, P> {
        SgList::new(&self.arrays[0], provider)
    }

    /// An exclusive view of the list through `provider`.
    pub fn list_mut<'a, P: PageProvider<Page = Pg>>(
        &'a mut self,
        provider: &'a P,
    ) -> SgListMut<'a, P> {
        SgListMut::new(&mut self.arrays[0], provider)
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
