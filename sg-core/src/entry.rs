//! The entry of a scatter-gather list and the operations on single entries
//! and arrays of them.

use core::fmt;
use core::ptr::NonNull;

use num_traits::ToPrimitive;

use crate::{Error, PageProvider};

/// The slot holds a page handle.
const HAS_PAGE: u32 = 1 << 0;
/// The slot holds a link to another array; `dma_address` holds that array's
/// number of slots.
const IS_CHAIN: u32 = 1 << 1;
/// The entry is the last data entry of its list.
const IS_END: u32 = 1 << 2;
/// The link carries the byte count of its array's data entries
/// ([`SgEntry::array_bytes`]): its low 32 bits in `dma_length`, its high 16
/// bits in the flags' high half.
const HAS_ARRAY_BYTES: u32 = 1 << 3;
/// Where the high bits of a link's array byte count start in the flags.
const ARRAY_BYTES_SHIFT: u32 = 16;
/// The largest array byte count a link carries: 48 bits.
const MAX_ARRAY_BYTES: u64 = (1 << 48) - 1;

/// What the first word of an entry holds, as told by the flags.
#[repr(C)]
#[derive(Clone, Copy)]
union Slot<Pg: Copy> {
    empty: (),
    page: Pg,
    link: NonNull<SgEntry<Pg>>,
}

/// One entry of a scatter-gather list (the kernel's `struct scatterlist`).
///
/// A data entry describes `length` bytes starting `offset` bytes after the
/// start of a page; the offset may be a page or more, and the bytes then
/// start in a later page of the same physically contiguous run. It also
/// carries a DMA address and DMA length, which a DMA mapper fills and the
/// library only stores. An entry can instead be a chain link to another
/// array of entries, and a data entry can carry the end mark.
///
/// With a pointer-sized page handle an entry is 32 bytes, like the kernel's.
///
/// # Invariants
///
/// - A link slot holds a non-null pointer to an array of `dma_address`
///   entries, never carries the end mark, and has length and offset 0;
///   its DMA length and the high half of its flags are 0 unless it
///   carries its array's byte count ([`SgEntry::array_bytes`]).
/// - A non-zero length implies a page.
/// - An entry whose bytes are all zero is the empty entry
///   ([`SgEntry::new`]): arrays may be initialised with a plain `memset`
///   (or come zeroed from an allocator) instead of entry by entry.
///
/// # Examples
///
/// ```
/// use sg_core::{SgEntry, VirtPage};
///
/// assert_eq!(core::mem::size_of::<SgEntry<VirtPage>>(), 32);
///
/// let mut entries: [SgEntry<u64>; 4] = Default::default();
/// sg_core::init_table(&mut entries).unwrap();
/// // SAFETY: no list is made of these entries.
/// unsafe { entries[0].set_page(7, 8, 100) };
/// assert_eq!(entries[0].page(), Some(7));
/// assert_eq!((entries[0].offset(), entries[0].len()), (8, 100));
/// assert!(entries[3].is_last());
/// ```
#[doc(alias = "scatterlist")]
#[repr(C)]
pub struct SgEntry<Pg: Copy> {
    slot: Slot<Pg>,
    offset: u32,
    length: u32,
    dma_address: u64,
    dma_length: u32,
    flags: u32,
}

// SAFETY: an entry is plain data plus, in a link, a pointer that behaves like
// a shared reference to the next array (links are created only through the
// unsafe `chain`, whose contract makes the target outlive the link, and the
// target is only read through it). Sending or sharing it is sound when the
// page handle itself may be sent and shared.
unsafe impl<Pg: Copy + Send + Sync> Send for SgEntry<Pg> {}
// SAFETY: see the `Send` impl above; shared access never writes through a link.
unsafe impl<Pg: Copy + Send + Sync> Sync for SgEntry<Pg> {}

impl<Pg: Copy> SgEntry<Pg> {
    /// An empty entry: no page, offset and length 0, no marks.
    ///
    /// ```
    /// let entry = sg_core::SgEntry::<u64>::new();
    /// assert_eq!(entry.page(), None);
    /// assert_eq!(entry.len(), 0);
    /// assert!(!entry.is_last() && !entry.is_chain());
    /// ```
    pub const fn new() -> Self {
        // INVARIANT: all zero: no page, length 0, not a link.
        SgEntry {
            slot: Slot { empty: () },
            offset: 0,
            length: 0,
            dma_address: 0,
            dma_length: 0,
            flags: 0,
        }
    }

    /// The page of a data entry; `None` for an empty entry or a chain link.
    #[doc(alias = "sg_page")]
    #[inline]
    pub fn page(&self) -> Option<Pg> {
        if self.flags & HAS_PAGE != 0 {
            // SAFETY: HAS_PAGE is set only together with writing `slot.page`.
            Some(unsafe { self.slot.page })
        } else {
            None
        }
    }

    /// Byte offset of the data from the start of the page (may be a page or
    /// more).
    #[inline]
    pub fn offset(&self) -> u32 {
        self.offset
    }

    /// Length of the data in bytes (0 for a chain link).
    #[inline]
    #[doc(alias = "length")]
    pub fn len(&self) -> u32 {
        self.length
    }

    /// Whether the entry describes no byte: length 0 (an empty entry, a
    /// chain link, or a data entry of no byte).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The bus address a DMA mapper stored in this entry.
    #[doc(alias = "sg_dma_address")]
    #[inline]
    pub fn dma_address(&self) -> u64 {
        if self.is_chain() { 0 } else { self.dma_address }
    }

    /// The DMA length a DMA mapper stored in this entry (0 for a chain
    /// link).
    #[doc(alias = "sg_dma_len")]
    #[inline]
    pub fn dma_len(&self) -> u32 {
        if self.is_chain() { 0 } else { self.dma_length }
    }

    /// Whether this entry carries the end mark: no data entry follows it.
    #[doc(alias = "sg_is_last")]
    #[inline]
    pub fn is_last(&self) -> bool {
        self.flags & IS_END != 0
    }

    /// Whether this slot is a chain link to another array.
    #[doc(alias = "sg_is_chain")]
    #[inline]
    pub fn is_chain(&self) -> bool {
        self.flags & IS_CHAIN != 0
    }

    /// Whether this slot is a chain link or carries the end mark: the two
    /// things a walk must stop at, tested at once (one test for the common
    /// case of a data entry in the middle of an array).
    #[inline]
    pub fn is_chain_or_last(&self) -> bool {
        self.stop_bits() != 0
    }

    /// The bits of the flags that [`is_chain_or_last`](Self::is_chain_or_last)
    /// tests, for code that tests several slots at once by or-ing them.
    #[inline]
    pub(crate) fn stop_bits(&self) -> u32 {
        self.flags & (IS_CHAIN | IS_END)
    }

    /// The array this link points to; `None` for a data entry.
    #[inline]
    pub fn link(&self) -> Option<NonNull<[SgEntry<Pg>]>> {
        if self.is_chain() {
            // SAFETY: IS_CHAIN is set only together with writing `slot.link`.
            let target = unsafe { self.slot.link };
            // The slot count was a `usize` when stored, so it fits.
            Some(NonNull::slice_from_raw_parts(
                target,
                self.dma_address as usize,
            ))
        } else {
            None
        }
    }

    /// For a chain link that carries one, the byte count of the array that
    /// holds the link: the sum of the lengths of the data entries before it
    /// in that array, none of which carries the end mark. `None` for a data
    /// entry and for a link without it.
    ///
    /// A walk that seeks past a whole array reads this one slot instead of
    /// every entry of the array. The owning tables of `sg-alloc` keep it on
    /// the links they make; [`set_link`](Self::set_link) makes a link
    /// without it.
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use sg_core::SgEntry;
    ///
    /// let mut next: [SgEntry<u64>; 1] = Default::default();
    /// let mut link = SgEntry::<u64>::new();
    /// // SAFETY: `link` is put in no array and no list is made of it.
    /// unsafe { link.set_link(NonNull::from(&mut next[..])) };
    /// assert_eq!(link.array_bytes(), None);
    /// // SAFETY: as above: the promise concerns lists made of the link.
    /// unsafe { link.set_array_bytes(12288) };
    /// assert_eq!(link.array_bytes(), Some(12288));
    /// assert_eq!((link.len(), link.offset(), link.dma_len()), (0, 0, 0));
    /// // Up to 48 bits; more is no count at all.
    /// // SAFETY: as above, for each of these.
    /// unsafe { link.set_array_bytes((1 << 47) + 5) };
    /// assert_eq!(link.array_bytes(), Some((1 << 47) + 5));
    /// // SAFETY: as above.
    /// unsafe { link.set_array_bytes(1 << 48) };
    /// assert_eq!(link.array_bytes(), None);
    /// // SAFETY: as above.
    /// unsafe { link.set_array_bytes(7) };
    /// link.clear_array_bytes();
    /// assert_eq!(link.array_bytes(), None);
    /// assert!(link.is_chain() && !link.is_last());
    /// ```
    #[inline]
    pub fn array_bytes(&self) -> Option<u64> {
        if self.flags & HAS_ARRAY_BYTES != 0 {
            let high = u64::from(self.flags >> ARRAY_BYTES_SHIFT);
            Some(high << 32 | u64::from(self.dma_length))
        } else {
            None
        }
    }

    /// Makes this link carry `bytes` as the byte count of the array that
    /// holds it (see [`array_bytes`](Self::array_bytes)). Does nothing on a
    /// data entry, and clears the count when `bytes` needs more than 48
    /// bits.
    ///
    /// # Safety
    ///
    /// For as long as this link carries the count and a list holding it is
    /// used: the link is the last slot of its array, every other slot of
    /// that array is a data entry without the end mark, and their lengths
    /// sum to `bytes`. Whoever changes those entries' lengths or marks
    /// first updates or [clears](Self::clear_array_bytes) the count. Walks
    /// pass over the array by this count alone, without looking at its
    /// entries, so a wrong count makes them skip the end mark and read
    /// entries past it.
    #[inline]
    pub unsafe fn set_array_bytes(&mut self, bytes: u64) {
        self.clear_array_bytes();
        if self.is_chain() && bytes <= MAX_ARRAY_BYTES {
            // INVARIANT: a link; the count goes in the DMA length and the
            // flags' high half, which only a link's count uses.
            self.dma_length = bytes as u32;
            self.flags |= HAS_ARRAY_BYTES | ((bytes >> 32) as u32) << ARRAY_BYTES_SHIFT;
        }
    }

    /// Makes this link carry no array byte count.
    #[inline]
    pub fn clear_array_bytes(&mut self) {
        if self.is_chain() {
            // INVARIANT: a link's DMA length and the flags' high half are
            // 0 without a count.
            self.dma_length = 0;
            self.flags &= !HAS_ARRAY_BYTES & ((1 << ARRAY_BYTES_SHIFT) - 1);
        }
    }

    /// Makes this entry describe `len` bytes at `offset` from the start
    /// of `page`. A chain link becomes a data entry; the end mark is kept.
    ///
    /// # Safety
    ///
    /// The entry makes a claim that iterators and copies rely on, so the
    /// caller promises, for as long as a list holding this entry is used
    /// with a provider:
    ///
    /// - the bytes `offset..offset + len` of the run of pages from
    ///   `page` (the page, then the pages after it in frame order) are
    ///   initialised memory of pages the provider holds valid (for a page
    ///   from `alloc_pages`, inside the pages allocated);
    /// - while one list writes those bytes, no other list reads or writes
    ///   them, and the other way round; within a list that writes, no two
    ///   entries describe the same byte.
    ///
    /// A length of 0 claims nothing. Builders in `sg-alloc` make entries
    /// over pages safely; this is for lists made by hand.
    #[doc(alias = "sg_set_page")]
    #[inline]
    pub unsafe fn set_page(&mut self, page: Pg, offset: u32, len: u32) {
        // INVARIANT: a data entry with a page (any length); a former link
        // loses its entry count and its link flag.
        self.slot = Slot { page };
        self.length = len;
        self.offset = offset;
        if self.is_chain() {
            // The link's slot count and array byte count go with it.
            self.dma_address = 0;
            self.dma_length = 0;
        }
        self.flags = (self.flags & IS_END) | HAS_PAGE;
    }

    /// Stores the bus address and length a DMA mapper gave this entry.
    ///
    /// Does nothing on a chain link.
    #[inline]
    pub fn set_dma(&mut self, address: u64, len: u32) {
        if !self.is_chain() {
            self.dma_address = address;
            self.dma_length = len;
        }
    }

    /// Marks this entry as the last data entry of its list.
    ///
    /// Does nothing on a chain link, which never ends a list.
    #[doc(alias = "sg_mark_end")]
    #[inline]
    pub fn mark_end(&mut self) {
        if !self.is_chain() {
            self.flags |= IS_END;
        }
    }

    /// Removes the end mark.
    #[doc(alias = "sg_unmark_end")]
    #[inline]
    pub fn unmark_end(&mut self) {
        self.flags &= !IS_END;
    }

    /// Makes this slot a chain link to the array `next`. Its data and end
    /// mark are lost.
    ///
    /// Make `next` from the whole array (`NonNull::from(&mut array[..])`),
    /// not from its first element, so that it may reach every slot.
    ///
    /// # Safety
    ///
    /// `next` points to entries that are initialised before any view
    /// follows this link and then stay valid, and are neither moved nor
    /// written except through views of the list that holds this link, for
    /// as long as this link exists (until it is overwritten or dropped).
    /// `next` holds at least one entry. Following links from `next` never
    /// leads back to the array that holds this link (no cycles).
    #[doc(alias = "sg_chain")]
    #[inline]
    pub unsafe fn set_link(&mut self, next: NonNull<[SgEntry<Pg>]>) {
        // INVARIANT: a non-null target and its entry count, length 0, and
        // only the link flag (no end mark).
        self.slot = Slot { link: next.cast() };
        self.offset = 0;
        self.length = 0;
        self.dma_address = next.len() as u64;
        self.dma_length = 0;
        self.flags = IS_CHAIN;
    }

    /// The physical address of the data: frame number times page size plus
    /// offset; `None` for an entry without a page or when it overflows `u64`.
    ///
    /// ```
    /// use sg_core::{PageProvider, SgEntry, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0).unwrap();
    /// let mut entry = SgEntry::new();
    /// // SAFETY: bytes 5..15 of a page allocated above; no list is made.
    /// unsafe { entry.set_page(page, 5, 10) };
    /// assert_eq!(entry.phys(&pages), Some(page.addr() as u64 + 5));
    /// // SAFETY: allocated above with order 0; `entry` is not used again.
    /// unsafe { pages.free_pages(page, 0) };
    /// ```
    #[doc(alias = "sg_phys")]
    pub fn phys<P>(&self, provider: &P) -> Option<u64>
    where
        P: PageProvider<Page = Pg> + ?Sized,
    {
        let frame = provider.pfn(self.page()?).to_u64()?;
        frame
            .checked_mul(P::PAGE_SIZE as u64)?
            .checked_add(u64::from(self.offset))
    }
}

impl<Pg: Copy> Default for SgEntry<Pg> {
    fn default() -> Self {
        Self::new()
    }
}

impl<Pg: Copy + PartialEq> PartialEq for SgEntry<Pg> {
    fn eq(&self, other: &Self) -> bool {
        self.page() == other.page()
            && self.link() == other.link()
            && self.offset == other.offset
            && self.length == other.length
            && self.dma_address() == other.dma_address()
            && self.dma_length == other.dma_length
            && self.flags == other.flags
    }
}

impl<Pg: Copy + Eq> Eq for SgEntry<Pg> {}

impl<Pg: Copy + fmt::Debug> fmt::Debug for SgEntry<Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(target) = self.link() {
            let mut out = f.debug_struct("SgEntry::Link");
            out.field("target", &target.cast::<u8>())
                .field("slots", &target.len());
            if let Some(bytes) = self.array_bytes() {
                out.field("array_bytes", &bytes);
            }
            return out.finish();
        }
        let mut out = f.debug_struct("SgEntry");
        out.field("page", &self.page())
            .field("offset", &self.offset)
            .field("length", &self.length);
        if self.dma_length != 0 || self.dma_address != 0 {
            out.field("dma_address", &format_args!("{:#x}", self.dma_address))
                .field("dma_length", &self.dma_length);
        }
        out.field("end", &self.is_last()).finish()
    }
}

/// Initialises an array as a table: every entry empty, the last one
/// end-marked.
///
/// # Errors
///
/// [`Error::NoEntries`] when the array is empty.
///
/// # Examples
///
/// ```
/// let mut entries: [sg_core::SgEntry<u64>; 3] = Default::default();
/// // SAFETY: no list is made of these entries.
/// unsafe { entries[1].set_page(9, 0, 1) };
/// sg_core::init_table(&mut entries).unwrap();
/// assert_eq!(entries[1].page(), None);
/// assert!(entries[2].is_last() && !entries[1].is_last());
/// ```
#[doc(alias = "sg_init_table")]
pub fn init_table<Pg: Copy>(entries: &mut [SgEntry<Pg>]) -> Result<(), Error> {
    if entries.is_empty() {
        return Err(Error::NoEntries);
    }
    entries.fill_with(SgEntry::new);
    let last = entries.len() - 1;
    entries[last].flags = IS_END;
    Ok(())
}

/// Turns the last slot of `prev` into a chain link to the array `next`.
/// That slot loses its data and its end mark.
///
/// # Errors
///
/// [`Error::NoEntries`] when `prev` or `next` is empty.
///
/// # Safety
///
/// The contract of [`SgEntry::set_link`]: `next` points to initialised
/// entries that stay valid, unmoved and unwritten (except through views of
/// this list) for as long as the link exists, and links form no cycle.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgList, VirtPage, VirtPages};
///
/// let mut second: [SgEntry<VirtPage>; 2] = Default::default();
/// sg_core::init_table(&mut second).unwrap();
/// let mut first: [SgEntry<VirtPage>; 3] = Default::default();
/// sg_core::init_table(&mut first).unwrap();
/// // SAFETY: `second` outlives `first` and is not touched while linked.
/// unsafe { sg_core::chain(&mut first, NonNull::from(&mut second[..])) }.unwrap();
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// assert_eq!(unsafe { SgList::new(&first, &pages) }.count(), 4);
/// ```
#[doc(alias = "sg_chain")]
pub unsafe fn chain<Pg: Copy>(
    prev: &mut [SgEntry<Pg>],
    next: NonNull<[SgEntry<Pg>]>,
) -> Result<(), Error> {
    if next.is_empty() {
        return Err(Error::NoEntries);
    }
    let last = prev.last_mut().ok_or(Error::NoEntries)?;
    // SAFETY: the caller upholds `set_link`'s contract; `next` is not empty.
    unsafe { last.set_link(next) };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_is_32_bytes_with_a_pointer_sized_handle() {
        assert!(core::mem::size_of::<SgEntry<usize>>() <= 32);
        assert!(core::mem::size_of::<SgEntry<u32>>() <= 32);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(core::mem::size_of::<SgEntry<usize>>(), 32);
    }

    #[test]
    fn set_page_turns_a_link_into_data_and_keeps_the_end_mark() {
        let mut target = [SgEntry::<u64>::new()];
        let mut entry = SgEntry::<u64>::new();
        // SAFETY: `target` outlives `entry`'s link, which is overwritten below.
        unsafe { entry.set_link(NonNull::from(&mut target[..])) };
        assert!(entry.is_chain());
        assert_eq!(entry.page(), None);
        assert_eq!(entry.dma_address(), 0);
        entry.mark_end();
        assert!(!entry.is_last(), "a link never carries the end mark");
        // SAFETY: the entry is never made a list.
        unsafe { entry.set_page(3, 20, 10) };
        assert!(!entry.is_chain());
        assert_eq!(entry.link(), None);
        assert_eq!(entry.page(), Some(3));
        entry.mark_end();
        // SAFETY: the entry is never made a list.
        unsafe { entry.set_page(4, 2, 1) };
        assert!(entry.is_last());
        entry.unmark_end();
        assert!(!entry.is_last());
    }

    #[test]
    fn dma_fields_are_stored_and_ignored_on_links() {
        let mut entry = SgEntry::<u64>::new();
        entry.set_dma(0x1000, 512);
        assert_eq!((entry.dma_address(), entry.dma_len()), (0x1000, 512));
        let mut target = [SgEntry::<u64>::new()];
        // SAFETY: `target` outlives the link.
        unsafe { entry.set_link(NonNull::from(&mut target[..])) };
        entry.set_dma(5, 5);
        assert_eq!(entry.link().map(|target| target.len()), Some(1));
    }

    #[test]
    fn an_all_zero_entry_is_the_empty_entry() {
        let zeroed = core::mem::MaybeUninit::<SgEntry<u64>>::zeroed();
        // SAFETY: every field accepts zero bytes: the slot is a union whose
        // `empty` field needs none, the rest are integers.
        let zeroed = unsafe { zeroed.assume_init() };
        assert_eq!(zeroed, SgEntry::new());
        assert_eq!(zeroed.page(), None);
        assert!(!zeroed.is_chain() && !zeroed.is_last());
    }

    #[test]
    fn init_table_of_nothing_is_an_error() {
        let mut none: [SgEntry<u64>; 0] = [];
        assert_eq!(init_table(&mut none), Err(Error::NoEntries));
    }

    #[test]
    fn chain_rejects_empty_arrays() {
        let mut target = [SgEntry::<u64>::new()];
        let pointer = NonNull::from(&mut target[..]);
        let mut none: [SgEntry<u64>; 0] = [];
        // SAFETY: nothing is linked when the call fails.
        assert_eq!(unsafe { chain(&mut none, pointer) }, Err(Error::NoEntries));
        let mut one = [SgEntry::<u64>::new()];
        let empty = NonNull::from(&mut none[..]);
        // SAFETY: as above.
        assert_eq!(unsafe { chain(&mut one, empty) }, Err(Error::NoEntries));
    }

    #[test]
    fn debug_shows_data_and_links() {
        let mut entry = SgEntry::<u64>::new();
        // SAFETY: the entry is never made a list.
        unsafe { entry.set_page(1, 3, 2) };
        entry.set_dma(0x10, 2);
        let text = alloc::format!("{entry:?}");
        assert!(
            text.contains("page: Some(1)") && text.contains("dma_address: 0x10"),
            "{text}"
        );
        let mut target = [SgEntry::<u64>::new()];
        // SAFETY: `target` outlives the link.
        unsafe { entry.set_link(NonNull::from(&mut target[..])) };
        assert!(alloc::format!("{entry:?}").starts_with("SgEntry::Link"));
    }

    extern crate alloc;
}
