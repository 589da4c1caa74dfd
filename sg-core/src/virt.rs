//! The process-memory page provider: pages are page-aligned addresses.

use core::alloc::Layout;
use core::fmt;
use core::num::NonZeroUsize;
use core::ptr::NonNull;

use allocator_api2::alloc::{Allocator, Global};

use crate::{Error, PageProvider, SgEntry, order_bytes};

/// Bytes in a page of process memory as [`VirtPages`] counts them.
pub const VIRT_PAGE_SIZE: usize = 4096;

/// The low bits of a handle that hold the order of its allocation (the
/// address itself is page-aligned, so they are free).
const ORDER_BITS: usize = 0x3f;

/// The bit of a handle that marks it as standing for part of its page only
/// (a buffer's, made by [`VirtPage::containing`]).
const PARTIAL: usize = 0x40;

/// Every tag bit.
const TAG_BITS: usize = ORDER_BITS | PARTIAL;

/// A page of process memory: its page-aligned address, and what the
/// provider knows of the allocation it lies in.
///
/// The frame number is the address divided by [`VIRT_PAGE_SIZE`]. Pages of
/// one [`VirtPages::alloc_pages`] call, reached with
/// [`nth`](PageProvider::nth), are one piece of memory, so their runs merge
/// into one entry and copies reach them with one pointer. Handles made with
/// the `unsafe` constructors stand for their own page only: pages from
/// separate allocations are never joined, even when their addresses happen
/// to follow each other, since one pointer may not reach from one
/// allocation into another.
///
/// A handle says "these bytes exist and may be accessed through a list": it
/// comes from [`VirtPages::alloc_pages`] or from the `unsafe`
/// constructors, whose callers promise exactly that. Two handles of the
/// same page made in different ways may differ (they compare unequal) while
/// naming the same bytes.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtPage(
    // INVARIANT: the address with the tag bits cleared is not 0, so that
    // `start` needs no fallback on the path of every copy.
    NonNull<u8>,
);

// SAFETY: a handle is an address; the memory it names is reached only
// through a provider's mappings, whose callers uphold the aliasing rules.
unsafe impl Send for VirtPage {}
// SAFETY: as for `Send`: sharing the address shares no access by itself.
unsafe impl Sync for VirtPage {}

impl VirtPage {
    /// The handle of the page at `start` (page-aligned, non-null: every
    /// caller makes sure) with the tag bits `tag`.
    #[inline]
    fn tagged(start: NonNull<u8>, tag: usize) -> Self {
        debug_assert!(start.as_ptr() as usize % VIRT_PAGE_SIZE == 0 && tag & !TAG_BITS == 0);
        // Setting low bits of a non-null, page-aligned address keeps it
        // non-null; the pointer keeps its provenance. INVARIANT: clearing
        // them again gives back `start`, which is not 0.
        VirtPage(start.map_addr(|address| address | tag))
    }

    /// The tag bits of the handle.
    #[inline]
    fn tag(self) -> usize {
        self.0.as_ptr() as usize & TAG_BITS
    }

    /// The handle of the page that starts at `address`, standing for that
    /// page alone.
    ///
    /// Returns `None` when `address` is null or not page-aligned.
    ///
    /// # Safety
    ///
    /// The [`VIRT_PAGE_SIZE`] bytes from `address` are initialised memory,
    /// valid for reads and writes through `address`, for as long as any
    /// list naming the page is used, and are not accessed otherwise while a
    /// list maps them (as for memory handed to a device).
    pub unsafe fn from_ptr(address: NonNull<u8>) -> Option<Self> {
        if address.as_ptr() as usize % VIRT_PAGE_SIZE != 0 {
            return None;
        }
        Some(VirtPage::tagged(address, 0))
    }

    /// The page holding the byte at `address`, and the offset of that byte
    /// in it.
    ///
    /// The handle stands only for the bytes that entries made with it by
    /// hand describe: [`VirtPages::is_whole_page`](PageProvider::is_whole_page)
    /// says `false` for it, so builders that describe whole pages (such as
    /// `sg-alloc`'s `from_pages`) refuse it.
    ///
    /// # Safety
    ///
    /// Entries made with the handle keep [`SgEntry::set_page`]'s contract,
    /// as [`SgEntry::set_buf`] does.
    ///
    /// # Panics
    ///
    /// If `address` lies in the first page of the address space (below
    /// [`VIRT_PAGE_SIZE`]), whose start, address 0, no handle can name.
    /// Hosted systems never allocate there; a target with memory at
    /// address 0 must leave its first page out of lists.
    pub unsafe fn containing(address: NonNull<u8>) -> (Self, u32) {
        let offset = address.as_ptr() as usize % VIRT_PAGE_SIZE;
        // The page may start before the allocation that holds `address`, so
        // step back with wrapping arithmetic: the pointer keeps its
        // provenance and is only used again after adding an offset back.
        let start = address.as_ptr().wrapping_sub(offset);
        // The start of a page holding a non-null address is non-null unless
        // the page is page 0, which holds only addresses 0..4096, where no
        // allocation lies. A handle there would point at the wrong bytes
        // (its tag bits would hide the address's low bits), so refuse it.
        let Some(start) = NonNull::new(start) else {
            panic!("VirtPage::containing: {address:p} lies in page 0, which no handle can name");
        };
        // `offset < VIRT_PAGE_SIZE`, which fits a u32.
        (VirtPage::tagged(start, PARTIAL), offset as u32)
    }

    /// The address of the first byte of the page.
    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize & !TAG_BITS
    }

    /// A pointer to the first byte of the page.
    #[inline]
    pub fn as_ptr(self) -> *mut u8 {
        self.start().as_ptr()
    }

    /// The first byte of the page, with the handle's provenance.
    #[inline]
    fn start(self) -> NonNull<u8> {
        // SAFETY: clearing the tag bits leaves the page's address, which is
        // not 0 (type invariant).
        self.0
            .map_addr(|address| unsafe { NonZeroUsize::new_unchecked(address.get() & !TAG_BITS) })
    }

    /// The aligned block of `2^order` pages of one allocation that the
    /// page lies in, as the frame number of its first page; `None` when
    /// the handle vouches for its page alone.
    #[inline]
    fn block(self) -> Option<usize> {
        if self.tag() & PARTIAL != 0 {
            return None;
        }
        let order = self.tag() & ORDER_BITS;
        Some(
            (self.addr() / VIRT_PAGE_SIZE)
                .checked_shr(order as u32)
                .unwrap_or(0),
        )
    }
}

impl fmt::Debug for VirtPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VirtPage({:#x})", self.addr())
    }
}

/// Process memory as pages: the provider to use when a list describes
/// ordinary heap memory.
///
/// Page handles are page-aligned addresses ([`VirtPage`]), every page is
/// permanently mapped at its own address (the provider is linear, so
/// iterators and copies work on whole contiguous runs), and pages are
/// allocated from an [`allocator_api2`] allocator, the global one by
/// default.
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, VirtPages};
///
/// let pages = VirtPages::new();
/// let run = pages.alloc_pages(2).unwrap(); // four contiguous pages
/// assert_eq!(pages.pfn(pages.nth(run, 3)), pages.pfn(run) + 3);
/// let bytes = pages.map(run);
/// // SAFETY: the mapping covers the page; written before reading.
/// unsafe {
///     bytes.as_ptr().write(7);
///     assert_eq!(bytes.as_ptr().read(), 7);
///     pages.unmap(run, bytes);
///     pages.free_pages(run, 2);
/// }
/// ```
#[derive(Clone, Copy, Default)]
pub struct VirtPages<A: Allocator = Global> {
    allocator: A,
}

impl VirtPages<Global> {
    /// The provider over the global allocator.
    pub const fn new() -> Self {
        VirtPages { allocator: Global }
    }
}

impl<A: Allocator> VirtPages<A> {
    /// The provider over `allocator`.
    pub const fn new_in(allocator: A) -> Self {
        VirtPages { allocator }
    }

    /// The allocator pages come from.
    pub fn allocator(&self) -> &A {
        &self.allocator
    }

    /// The layout of `2^order` pages: aligned to their size, so that the
    /// handles can tell which pages share an allocation (see [`VirtPage`]).
    fn layout(order: u32) -> Result<Layout, Error> {
        let size = order_bytes::<Self>(order)?;
        Layout::from_size_align(size, size).map_err(|_| Error::Overflow {
            what: "pages of the order",
        })
    }
}

impl<A: Allocator> fmt::Debug for VirtPages<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtPages")
            .field("page_size", &VIRT_PAGE_SIZE)
            .finish_non_exhaustive()
    }
}

// SAFETY: pages are real memory at their own address, so a mapping is the
// address itself and is valid for as long as the page is (promised by whoever
// made the handle); frame numbers are addresses divided by the page size.
// The provider is linear: `nth` keeps the handle's provenance, so a run of
// one entry is reached from its first page (its maker vouched for those
// bytes), and `is_next` joins pages only inside one aligned block of one
// `alloc_pages` call, whose pointer reaches the whole block. `alloc_pages`
// returns fresh, zeroed, aligned, contiguous memory; only `containing`
// makes handles for part of a page, and `is_whole_page` says so.
unsafe impl<A: Allocator> PageProvider for VirtPages<A> {
    type Page = VirtPage;
    type Pfn = usize;
    const PAGE_SIZE: usize = VIRT_PAGE_SIZE;

    #[inline]
    fn pfn(&self, page: VirtPage) -> usize {
        page.addr() / VIRT_PAGE_SIZE
    }

    #[inline]
    fn nth(&self, page: VirtPage, n: usize) -> VirtPage {
        // Wrapping arithmetic keeps the provenance of the run's allocation,
        // and the tag bits, since the step is a multiple of the page size.
        let pointer = page.0.as_ptr().wrapping_add(n.wrapping_mul(VIRT_PAGE_SIZE));
        // A run of valid pages never wraps to page 0; should a caller ask
        // for a page outside a run anyway, stay on the first page.
        if pointer as usize & !TAG_BITS == 0 {
            return page;
        }
        // SAFETY: `pointer` is not null, since its address with the tag bits
        // cleared is not. INVARIANT: that address is not 0.
        VirtPage(unsafe { NonNull::new_unchecked(pointer) })
    }

    #[inline]
    fn map(&self, page: VirtPage) -> NonNull<u8> {
        page.start()
    }

    #[inline]
    unsafe fn unmap(&self, _page: VirtPage, _mapping: NonNull<u8>) {}

    #[inline]
    fn is_linear(&self) -> bool {
        true
    }

    fn alloc_pages(&self, order: u32) -> Result<VirtPage, Error> {
        let layout = Self::layout(order)?;
        // Zeroed: lists expose page bytes as slices, which must be
        // initialised.
        let memory = self
            .allocator
            .allocate_zeroed(layout)
            .map_err(|_| Error::PagesUnavailable { order })?;
        // `order` is below the bits of a usize (`layout` checked the size),
        // so it fits the order bits.
        Ok(VirtPage::tagged(memory.cast::<u8>(), order as usize))
    }

    unsafe fn free_pages(&self, page: VirtPage, order: u32) {
        let Ok(layout) = Self::layout(order) else {
            debug_assert!(false, "free_pages with an order alloc_pages refused");
            return;
        };
        // SAFETY: the caller promises `page` came from `alloc_pages(order)`
        // here, so it was allocated by this allocator with this layout, at
        // the address `start` gives back.
        unsafe { self.allocator.deallocate(page.start(), layout) }
    }

    #[inline]
    fn is_next(&self, first: VirtPage, run_pages: usize, next: VirtPage) -> bool {
        // One piece of memory only inside one block of one allocation; the
        // same tag makes the same block size. A handle is its address with
        // the tag in the low bits, so the next page of a run has the first
        // one's handle plus `run_pages` pages exactly when the two tags are
        // the same and the frames follow each other: one comparison, which
        // tells scattered pages apart at once.
        let first_bits = first.0.as_ptr() as usize;
        let next_bits = next.0.as_ptr() as usize;
        run_pages
            .checked_mul(VIRT_PAGE_SIZE)
            .and_then(|bytes| first_bits.checked_add(bytes))
            == Some(next_bits)
            && first
                .block()
                .is_some_and(|block| next.block() == Some(block))
    }

    #[inline]
    fn is_whole_page(&self, page: VirtPage) -> bool {
        page.tag() & PARTIAL == 0
    }
}

impl SgEntry<VirtPage> {
    /// Makes this entry describe `len` bytes of process memory starting at
    /// `buffer` (the kernel's `sg_set_buf`): its page and in-page offset.
    ///
    /// # Safety
    ///
    /// The `len` bytes at `buffer` are one allocation's initialised memory,
    /// valid for reads and writes through `buffer` for as long as any list
    /// holding this entry is used, and are not accessed otherwise while a
    /// list maps them.
    ///
    /// # Panics
    ///
    /// As [`VirtPage::containing`]: if `buffer` lies in page 0.
    #[doc(alias = "sg_set_buf")]
    pub unsafe fn set_buf(&mut self, buffer: NonNull<u8>, len: u32) {
        // SAFETY: the handle is used for this entry only, whose bytes the
        // caller vouches for.
        let (page, offset) = unsafe { VirtPage::containing(buffer) };
        // SAFETY: the caller promises the `len` bytes at `buffer`, which
        // are bytes `offset..offset + len` of the run from `page`.
        unsafe { self.set_page(page, offset, len) };
    }

    /// A pointer to the first byte of this entry's data (the kernel's
    /// `sg_virt`); `None` for an entry without a page.
    #[doc(alias = "sg_virt")]
    pub fn virt(&self) -> Option<NonNull<u8>> {
        let page = self.page()?;
        NonNull::new(page.as_ptr().wrapping_add(self.offset() as usize))
    }

    /// Makes this entry a one-entry table over `len` bytes at `buffer` (the
    /// kernel's `sg_init_one`): DMA fields cleared, end-marked.
    ///
    /// # Safety
    ///
    /// As for [`set_buf`](Self::set_buf).
    ///
    /// # Panics
    ///
    /// As [`set_buf`](Self::set_buf): if `buffer` lies in page 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use core::ptr::NonNull;
    /// use sg_core::{SgEntry, SgList, VirtPages};
    ///
    /// let mut message = *b"hello, device";
    /// let mut entry = SgEntry::new();
    /// // SAFETY: `message` outlives the list and is not touched meanwhile.
    /// unsafe { entry.init_one(NonNull::from(&mut message).cast(), 13) };
    /// let pages = VirtPages::new();
    /// // SAFETY: the entries describe bytes of pages this provider holds valid,
    /// // and nothing else reaches them while the view is used.
    /// let list = unsafe { SgList::new(core::slice::from_ref(&entry), &pages) };
    /// assert_eq!(list.byte_len(), 13);
    /// assert_eq!(entry.virt().map(NonNull::as_ptr), Some(message.as_mut_ptr()));
    /// ```
    #[doc(alias = "sg_init_one")]
    pub unsafe fn init_one(&mut self, buffer: NonNull<u8>, len: u32) {
        *self = SgEntry::new();
        // SAFETY: the caller's promise is `set_buf`'s.
        unsafe { self.set_buf(buffer, len) };
        self.mark_end();
    }
}
