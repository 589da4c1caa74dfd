//! The raw chain: the one module of this crate that allocates, initialises,
//! links, walks and frees arrays of entries through raw pointers.
//!
//! [`Chain`] owns the arrays of one list and the allocator they came from;
//! [`Appender`] (in `append.rs`) adds entries at its end and undoes
//! everything it did unless it is committed; [`EntriesMut`] (in
//! `entries.rs`) hands out the data entries (never the links) for writing,
//! and walks them twice at once for DMA mapping (`DmaFieldsMut`);
//! `join.rs` links a second chain's arrays after the first's; `block.rs`
//! lays the arrays of a table built all at once in one allocation.
//! Tables, builders and page lists are safe code on top.

mod append;
mod block;
mod entries;
mod join;

use core::mem::size_of;
use core::ptr::NonNull;

use crate::unwind::Finish;
use sg_core::{ChunkAllocator, Error, PageProvider, SgEntry, SgList, SgListMut};

pub(crate) use append::Appender;
pub(crate) use entries::DmaFieldsMut;
pub use entries::{EntriesMut, EntryMut};

/// The arrays a list of `entries` data entries takes when the first array
/// holds at most `first_capacity` slots and every later one `capacity`: a
/// non-last array holds its capacity minus one data entries and a link, the
/// last one exactly the entries still needed. `None` when the entries cannot
/// be chained (a capacity below 2 where a link is needed).
pub(crate) fn arrays_for(entries: usize, first_capacity: usize, capacity: usize) -> Option<usize> {
    if entries == 0 {
        return Some(0);
    }
    if entries <= first_capacity {
        return Some(1);
    }
    if capacity < 2 || first_capacity < 1 {
        return None;
    }
    // What is left after the first array's data entries: at least 2.
    let rest = entries - (first_capacity - 1);
    Some(1 + (rest - 1).div_ceil(capacity - 1))
}

/// The data entries and chain links of a list, in chained arrays, with the
/// allocator the arrays came from.
///
/// # Invariants
///
/// - `arrays == 0` means no array: `entries == 0`, `byte_len == 0`, and
///   `head` and `tail` are dangling with 0 slots.
/// - Otherwise arrays `A_0` (at `head`, `head_slots` slots) to
///   `A_{arrays-1}` (at `tail`, `tail_slots` slots, the tail) form the chain:
///   the last slot of every non-tail array is a link to the next array that
///   records that array's slot count and carries the byte count of the
///   array it ends ([`SgEntry::array_bytes`]), and its other slots are data
///   entries without the end mark;
///   the tail holds data entries in its first `tail_used` slots (at least 1)
///   and empty entries after them.
/// - Every slot of every array is initialised (while an `Appender` holds
///   the chain, the free slots of arrays it allocated may not be yet; it
///   initialises them before letting go).
/// - Every array except a borrowed head (`borrowed_head`) and the arrays
///   that lie in a block came from `chunks.alloc(slots)` with its slot
///   count (or, for arrays a join took over, from an allocator whose
///   arrays `chunks` may free) and is given back only by `Drop` (or by an
///   `Appender` rolling back the arrays it allocated, or a join replacing
///   a last array it copied).
/// - `blocks` lists the blocks the chain owns (see [`block`]), each from
///   `chunks.alloc_block` (or an allocator whose blocks `chunks` may free)
///   and given back only by `Drop`, after every array; an array that lies
///   in one is never given back on its own.
/// - A borrowed head stays valid, and untouched by anything but this chain,
///   for as long as the chain exists (promised to `with_first_array`).
/// - `entries` counts the data entries; `byte_len` is the sum of their
///   lengths, `tail_bytes` the sum of the tail's. Only the last data entry
///   may carry the end mark.
pub(crate) struct Chain<Pg: Copy, C: ChunkAllocator<Pg>> {
    head: NonNull<SgEntry<Pg>>,
    head_slots: usize,
    tail: NonNull<SgEntry<Pg>>,
    tail_slots: usize,
    tail_used: usize,
    arrays: usize,
    entries: usize,
    byte_len: u64,
    tail_bytes: u64,
    borrowed_head: bool,
    blocks: Option<NonNull<SgEntry<Pg>>>,
    chunks: C,
}

// SAFETY: the chain owns its arrays and blocks (or, for a borrowed head, has
// exclusive use of it for its lifetime), and reaches them only through
// `&self` (reads) or `&mut self` (writes), like a `Box<[SgEntry<Pg>]>`
// would; entries may be sent when the handles may be sent and shared, and
// freeing from another thread needs the allocator to be `Send`.
unsafe impl<Pg: Copy + Send + Sync, C: ChunkAllocator<Pg> + Send> Send for Chain<Pg, C> {}
// SAFETY: shared access only reads the entries (`SgEntry<Pg>` is `Sync` for
// these handles) and lends `&C`, which needs `C: Sync`.
unsafe impl<Pg: Copy + Send + Sync, C: ChunkAllocator<Pg> + Sync> Sync for Chain<Pg, C> {}

/// Writes `slots` empty entries at `array`.
///
/// # Safety
///
/// `array` is valid for writes of `slots` entries.
#[inline]
unsafe fn init_slots<Pg: Copy>(array: NonNull<SgEntry<Pg>>, slots: usize) {
    // SAFETY: the caller vouches for `slots` writable entries, and an
    // all-zero entry is the empty entry (an invariant of `SgEntry`), so one
    // `memset` initialises them all.
    unsafe { array.write_bytes(0, slots) };
}

/// The array that the link in `slot` points to.
///
/// # Safety
///
/// `slot` points to an initialised entry.
#[inline]
unsafe fn link_target<Pg: Copy>(slot: NonNull<SgEntry<Pg>>) -> Option<NonNull<[SgEntry<Pg>]>> {
    // SAFETY: the caller vouches for the entry; it is only read.
    unsafe { slot.as_ref() }.link()
}

/// Writes in the last of the `slots` slots of `array` a link to `target`
/// that carries `bytes`, the byte count of the array
/// ([`SgEntry::array_bytes`]); `None` counts the array's data entries
/// here.
///
/// Every link a chain makes is written here, so every link carries its
/// array's count; the count stays right because the data entries of a
/// non-tail array change afterwards only through
/// [`EntryMut::set_page`](entries::EntryMut::set_page), which updates it
/// (the end mark only ever moves in the tail, which has no link). Builds
/// know the count from the bytes they append (`tail_bytes`): no pass over
/// the array. Debug builds count it anyway and check.
///
/// # Safety
///
/// `array` is valid for `slots >= 1` slots, the first `slots - 1` of them
/// initialised data entries without the end mark, reached by nothing else
/// meanwhile; `bytes`, when given, is the sum of their lengths; `target`
/// obeys the contract of [`SgEntry::set_link`] for as long as the link
/// exists.
unsafe fn write_link<Pg: Copy>(
    array: NonNull<SgEntry<Pg>>,
    slots: usize,
    target: NonNull<[SgEntry<Pg>]>,
    bytes: Option<u64>,
) {
    let count = || {
        // SAFETY: the first `slots - 1` slots are initialised, and only
        // read here (the caller's promise).
        let data = unsafe { core::slice::from_raw_parts(array.as_ptr(), slots - 1) };
        debug_assert!(
            !data.iter().any(SgEntry::is_chain_or_last),
            "a non-tail array holds data entries, none end-marked"
        );
        data.iter().map(|entry| u64::from(entry.len())).sum::<u64>()
    };
    debug_assert!(
        bytes.is_none_or(|bytes| bytes == count()),
        "the byte count a chain kept is its array's"
    );
    let bytes = bytes.unwrap_or_else(count);
    let mut link = SgEntry::new();
    // SAFETY: the caller's promise for `target`.
    unsafe { link.set_link(target) };
    // SAFETY: the link goes in the array's last slot, after data entries
    // without the end mark whose lengths sum to `bytes` (the caller's
    // promise, or counted above). Their lengths change later only through
    // `EntryMut::set_page`, which updates the count, and their marks not
    // at all (see above).
    unsafe { link.set_array_bytes(bytes) };
    // SAFETY: `slots >= 1`: the last slot lies in the array.
    unsafe { array.add(slots - 1).write(link) };
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Chain<Pg, C> {
    /// A chain with no array.
    pub(crate) fn new(chunks: C) -> Self {
        Chain {
            head: NonNull::dangling(),
            head_slots: 0,
            tail: NonNull::dangling(),
            tail_slots: 0,
            tail_used: 0,
            arrays: 0,
            entries: 0,
            byte_len: 0,
            tail_bytes: 0,
            borrowed_head: false,
            blocks: None,
            chunks,
        }
    }

    /// `entries` empty data entries in the kernel's layout, arrays of at
    /// most `capacity` slots, the last entry end-marked. On failure every
    /// array taken is given back.
    pub(crate) fn with_entries(chunks: C, entries: usize, capacity: usize) -> Result<Self, Error> {
        // SAFETY: no borrowed array is given.
        unsafe { Self::with_first_array(chunks, entries, capacity, None) }
    }

    /// As [`with_entries`](Self::with_entries), with `first`, when given, as
    /// the first array (of at most its length in slots), never given back.
    ///
    /// # Safety
    ///
    /// `first`, when given, is valid for reads and writes of its length in
    /// entries, holds at least 2 slots, and is neither read nor written by
    /// anything but the returned chain for as long as the chain exists.
    pub(crate) unsafe fn with_first_array(
        chunks: C,
        entries: usize,
        capacity: usize,
        first: Option<NonNull<[SgEntry<Pg>]>>,
    ) -> Result<Self, Error> {
        if entries == 0 {
            return Err(Error::NoEntries);
        }
        let capacity = capacity.min(chunks.max_entries());
        let first_capacity = first.map_or(capacity, |array| array.len());
        debug_assert!(first.is_none_or(|array| array.len() >= 2));
        let arrays = arrays_for(entries, first_capacity, capacity).ok_or(Error::ChunkTooLarge {
            requested: 2,
            max: capacity,
        })?;
        let too_large = Error::Overflow {
            what: "table of entries",
        };
        let bytes = entries
            .checked_add(arrays - 1)
            .and_then(|slots| slots.checked_mul(size_of::<SgEntry<Pg>>()))
            .ok_or(too_large)?;
        if bytes > isize::MAX as usize {
            return Err(too_large);
        }

        let mut chain = Chain::new(chunks);
        // Many arrays, none borrowed: one block for them all when the
        // allocator gives one, already zeroed, with a gap after each.
        let mut block = None;
        if first.is_none() && arrays >= block::BLOCK_FROM_ARRAYS {
            if let Some(slots) = block::block_slots::<Pg>(entries + (arrays - 1), arrays) {
                block = chain.alloc_block(slots);
            }
        }
        let mut first = first;
        let mut remaining = entries;
        let mut limit = first_capacity;
        loop {
            let last = remaining <= limit;
            let slots = if last { remaining } else { limit };
            let (array, borrowed) = match (first.take(), block.as_mut()) {
                (Some(array), _) => (array.cast::<SgEntry<Pg>>(), true),
                (None, Some(next)) => {
                    let array = *next;
                    // SAFETY: the block holds every array's slots and the
                    // gap after each, one after the other (`block_slots`
                    // counted them all), so this array and its gap lie in
                    // it.
                    *next = unsafe { block::after(array, slots) };
                    (array, false)
                }
                // On failure `chain` is dropped and gives back what it holds.
                (None, None) => (chain.chunks.alloc(slots)?, false),
            };
            if block.is_none() {
                // SAFETY: the array holds at least `slots` entries: it came
                // from `alloc(slots)`, or is the caller's array of
                // `first_capacity` slots, `slots <= first_capacity`. (A
                // block's slots are zero bytes already: empty entries.)
                unsafe { init_slots(array, slots) };
            }
            // SAFETY: the array is initialised, belongs to the chain from now
            // on (allocated with `slots`, borrowed for the chain's life, or
            // in the chain's block); the old tail, if any, holds empty
            // entries (`tail_bytes` 0).
            unsafe { chain.attach(array, slots, borrowed) };
            let data = if last { slots } else { slots - 1 };
            chain.tail_used = data;
            chain.entries += data;
            remaining -= data;
            limit = capacity;
            if last {
                break;
            }
        }
        debug_assert_eq!(chain.arrays, arrays);
        if let Some(entry) = chain.last_mut() {
            entry.mark_end();
        }
        Ok(chain)
    }

    /// Makes `array` the new tail, linked from the old tail's last slot.
    ///
    /// # Safety
    ///
    /// `array` holds `slots >= 1` entries, initialised before the chain is
    /// used outside the `Appender` attaching it, and belongs to the
    /// chain: it came from `self.chunks.alloc(slots)`, lies in one of the
    /// chain's blocks (apart from every other array), or (`borrowed`, and
    /// only as the first array) it is a caller's array with the promise of
    /// `with_first_array`. If the chain has arrays, the old tail's last slot
    /// holds no data entry that is still needed, its other slots are
    /// initialised data entries without the end mark (they become a
    /// non-tail array's), and `tail_bytes` is the sum of their lengths.
    /// The new tail starts with `tail_bytes` 0.
    unsafe fn attach(&mut self, array: NonNull<SgEntry<Pg>>, slots: usize, borrowed: bool) {
        debug_assert!(slots >= 1 && (!borrowed || self.arrays == 0));
        if self.arrays == 0 {
            self.head = array;
            self.head_slots = slots;
            self.borrowed_head = borrowed;
        } else {
            // SAFETY: the tail holds `tail_slots >= 1` slots, all but the
            // last initialised data entries without the end mark, whose
            // lengths `tail_bytes` sums (the caller's promise), and `&mut
            // self` reaches them alone. The target is initialised and owned by
            // the chain until `Drop` (or a rollback, which removes this link
            // first) frees it; it is written only through `&mut self`, while
            // no view exists; links only point to later arrays, so there is
            // no cycle.
            unsafe {
                write_link(
                    self.tail,
                    self.tail_slots,
                    NonNull::slice_from_raw_parts(array, slots),
                    Some(self.tail_bytes),
                );
            }
        }
        self.tail = array;
        self.tail_slots = slots;
        self.tail_used = 0;
        self.tail_bytes = 0;
        self.arrays += 1;
    }

    /// Data entries.
    #[inline]
    pub(crate) fn entries(&self) -> usize {
        self.entries
    }

    /// Sum of the data entries' lengths.
    #[inline]
    pub(crate) fn byte_len(&self) -> u64 {
        self.byte_len
    }

    /// Arrays in the chain.
    #[inline]
    pub(crate) fn arrays(&self) -> usize {
        self.arrays
    }

    /// The allocator the arrays came from.
    #[inline]
    pub(crate) fn chunk_allocator(&self) -> &C {
        &self.chunks
    }

    /// The last data entry, if any.
    #[inline]
    pub(crate) fn last(&self) -> Option<&SgEntry<Pg>> {
        if self.arrays == 0 {
            return None;
        }
        // SAFETY: the tail holds `tail_used >= 1` initialised data entries;
        // the borrow of `self` keeps them alive and unwritten.
        Some(unsafe { self.tail.add(self.tail_used - 1).as_ref() })
    }

    /// The last data entry, for marking the end.
    #[inline]
    pub(crate) fn last_mut(&mut self) -> Option<&mut SgEntry<Pg>> {
        if self.arrays == 0 {
            return None;
        }
        // SAFETY: as in `last`; `&mut self` makes the access exclusive. The
        // entry is a data entry, and `SgEntry` only makes links through
        // `unsafe` methods, so safe callers cannot corrupt the chain.
        Some(unsafe { self.tail.add(self.tail_used - 1).as_mut() })
    }

    /// The total length of the first `entries` data entries when it is
    /// known without a walk: all of them, or all but a last entry of
    /// length 0 (the spare of a chainable page list).
    ///
    /// The views made with it stop after that many entries, or at the end
    /// mark of the last one, so the length is the sum of what they visit.
    #[inline]
    fn prefix_byte_len(&self, entries: usize) -> Option<u64> {
        if entries >= self.entries {
            return Some(self.byte_len);
        }
        let all_but_last = entries + 1 == self.entries;
        (all_but_last && self.last().is_some_and(|last| last.is_empty())).then_some(self.byte_len)
    }

    /// What a view of the first `entries` data entries (all of them when
    /// `entries` is at least their count) is made of: the first array, its
    /// slots, the entry count and, when known, their byte length.
    fn view_parts(&self, entries: usize) -> (NonNull<SgEntry<Pg>>, usize, usize, Option<u64>) {
        let count = entries.min(self.entries);
        (
            self.head,
            self.head_slots,
            count,
            self.prefix_byte_len(entries),
        )
    }

    /// A view of the first `entries` data entries (all of them when
    /// `entries` is at least their count).
    pub(crate) fn list<'a, P>(&'a self, entries: usize, provider: &'a P) -> SgList<'a, P>
    where
        P: PageProvider<Page = Pg>,
    {
        let (head, slots, count, byte_len) = self.view_parts(entries);
        // SAFETY: `head` is the first array with `slots` initialised slots
        // (none when empty, and nothing is read then); the arrays stay
        // valid and unwritten while `self` is borrowed; links were made by
        // `attach` under `set_link`'s contract; when given, `byte_len` is
        // the sum of the lengths of the entries the view visits (see
        // `prefix_byte_len`).
        unsafe { SgList::from_raw(head, slots, count, byte_len, provider) }
    }

    /// An exclusive view of the first `entries` data entries.
    pub(crate) fn list_mut<'a, P>(&'a mut self, entries: usize, provider: &'a P) -> SgListMut<'a, P>
    where
        P: PageProvider<Page = Pg>,
    {
        let (head, slots, count, byte_len) = self.view_parts(entries);
        // SAFETY: as in `list`; `&mut self` also makes this the only view of
        // the list for `'a`, so nothing else reaches its pages through it.
        unsafe { SgListMut::from_list(SgList::from_raw(head, slots, count, byte_len, provider)) }
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Chain<Pg, C> {
    /// Detaches the first array and gives it back (unless borrowed);
    /// `false` when no array is left. The chain moves past the array
    /// before the allocator is called, so an allocator that panics in
    /// `free` never sees the array again. Only for dropping: the counts
    /// other than `arrays` no longer describe the chain after this.
    fn free_first_array(&mut self) -> bool {
        if self.arrays == 0 {
            return false;
        }
        let (array, slots, borrowed) = (self.head, self.head_slots, self.borrowed_head);
        self.arrays -= 1;
        self.borrowed_head = false;
        if self.arrays > 0 {
            // SAFETY: a non-tail array's last slot is an initialised link
            // (type invariant); it is read before the array is freed.
            let next = unsafe { link_target(array.add(slots - 1)) };
            debug_assert!(next.is_some(), "a non-tail array ends in a link");
            match next {
                Some(target) => {
                    self.head = target.cast();
                    self.head_slots = target.len();
                }
                // Unreachable by the invariant; the rest is leaked.
                None => self.arrays = 0,
            }
        }
        if !borrowed && !self.in_blocks(array) {
            // SAFETY: the array came from `chunks.alloc(slots)` (the slot
            // count is the one recorded in the link to it, or
            // `head_slots`): it is neither borrowed nor in a block. The
            // chain no longer reaches it, so it is freed once, here, and
            // not used again.
            unsafe { self.chunks.free(array, slots) };
        }
        true
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Drop for Chain<Pg, C> {
    fn drop(&mut self) {
        // Every array first (the walk reads links that may lie in blocks),
        // then every block; an allocator that panics in `free` or
        // `free_block` still gets everything else back.
        Finish::new(self, |chain: &mut &mut Self| {
            chain.free_first_array() || chain.free_first_block()
        })
        .run();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_for_matches_the_layout() {
        assert_eq!(arrays_for(0, 128, 128), Some(0));
        assert_eq!(arrays_for(1, 128, 128), Some(1));
        assert_eq!(arrays_for(128, 128, 128), Some(1));
        assert_eq!(arrays_for(129, 128, 128), Some(2));
        assert_eq!(arrays_for(255, 128, 128), Some(2));
        assert_eq!(arrays_for(256, 128, 128), Some(3));
        // A first array of 4 holds 3 data entries and a link.
        assert_eq!(arrays_for(4, 4, 128), Some(1));
        assert_eq!(arrays_for(5, 4, 128), Some(2));
        assert_eq!(arrays_for(3 + 128, 4, 128), Some(2));
        assert_eq!(arrays_for(3 + 129, 4, 128), Some(3));
        assert_eq!(arrays_for(3, 2, 1), None);
        assert_eq!(arrays_for(1, 1, 1), Some(1));
    }

    #[test]
    fn a_prefix_knows_its_length_when_only_an_empty_last_entry_is_left_out() {
        let mut chain = Chain::<u64, _>::with_entries(sg_core::HeapChunks::new(), 3, 2).unwrap();
        for (index, mut entry) in chain.entries_mut().enumerate() {
            // SAFETY: no list of this chain is used with a provider.
            unsafe { entry.set_page(index as u64, 0, [10, 20, 0][index]) };
        }
        assert_eq!(chain.prefix_byte_len(3), Some(30));
        assert_eq!(chain.prefix_byte_len(usize::MAX), Some(30));
        // The spare of a chainable page list: all but an empty last entry.
        assert_eq!(chain.prefix_byte_len(2), Some(30));
        assert_eq!(chain.prefix_byte_len(1), None);
        // SAFETY: as above.
        unsafe { chain.entries_mut().nth(2).unwrap().set_page(2, 0, 5) };
        assert_eq!(chain.prefix_byte_len(2), None);
    }
}
