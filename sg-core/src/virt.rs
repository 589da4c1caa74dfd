//! The process-memory page provider: pages are page-aligned addresses.

use core::alloc::Layout;
use core::fmt;
use core::ptr::NonNull;

use allocator_api2::alloc::{Allocator, Global};

use crate::{Error, PageProvider, SgEntry, order_bytes};

/// Bytes in a page of process memory as [`VirtPages`] counts them.
pub const VIRT_PAGE_SIZE: usize = 4096;

/// A page of process memory: its page-aligned address.
///
/// The frame number is the address divided by [`VIRT_PAGE_SIZE`], so pages
/// at consecutive addresses merge into one entry.
///
/// A handle says "these bytes exist and may be accessed through a list": it
/// comes from [`VirtPages::alloc_pages`] or from the `unsafe`
/// constructors, whose callers promise exactly that.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtPage(NonNull<u8>);

// SAFETY: a handle is an address; the memory it names is reached only
// through a provider's mappings, whose callers uphold the aliasing rules.
unsafe impl Send for VirtPage {}
// SAFETY: as for `Send`: sharing the address shares no access by itself.
unsafe impl Sync for VirtPage {}

impl VirtPage {
    /// The handle of the page that starts at `address`.
    ///
    /// Returns `None` when `address` is null or not page-aligned.
    ///
    /// # Safety
    ///
    /// The [`VIRT_PAGE_SIZE`] bytes from `address` are initialised memory,
    /// valid for reads and writes through `address`, for as long as any
    /// list naming the page is used, and are not accessed otherwise while a
    /// list maps them (as for memory handed to a device). Pages at
    /// consecutive addresses merge into one entry and may be reached with
    /// one pointer, so a page whose address directly follows another page
    /// named in lists belongs to the same allocation.
    pub unsafe fn from_ptr(address: NonNull<u8>) -> Option<Self> {
        if address.as_ptr() as usize % VIRT_PAGE_SIZE != 0 {
            return None;
        }
        Some(VirtPage(address))
    }

    /// The page holding the byte at `address`, and the offset of that byte
    /// in it.
    ///
    /// # Safety
    ///
    /// The handle stands only for the bytes that entries made with it by
    /// hand ([`SgEntry::set_page`], whose contract the caller keeps)
    /// describe, not for the whole page: it must not be given to a builder
    /// that describes whole pages (such as `sg-alloc`'s `from_pages`).
    pub unsafe fn containing(address: NonNull<u8>) -> (Self, u32) {
        let offset = address.as_ptr() as usize % VIRT_PAGE_SIZE;
        // The page may start before the allocation that holds `address`, so
        // step back with wrapping arithmetic: the pointer keeps its
        // provenance and is only used again after adding an offset back.
        let start = address.as_ptr().wrapping_sub(offset);
        // The start of a page holding a non-null address is non-null (page 0
        // holds only address 0..4096 and `address` would have to be in it,
        // which no allocation is), but stay total anyway.
        let start = NonNull::new(start).unwrap_or(address);
        // `offset < VIRT_PAGE_SIZE`, which fits a u32.
        (VirtPage(start), offset as u32)
    }

    /// The address of the first byte of the page.
    #[inline]
    pub fn addr(self) -> usize {
        self.0.as_ptr() as usize
    }

    /// A pointer to the first byte of the page.
    #[inline]
    pub fn as_ptr(self) -> *mut u8 {
        self.0.as_ptr()
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

    fn layout(order: u32) -> Result<Layout, Error> {
        let size = order_bytes::<Self>(order)?;
        Layout::from_size_align(size, VIRT_PAGE_SIZE).map_err(|_| Error::Overflow {
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
// made the handle); frame numbers are addresses divided by the page size, so
// consecutive frames are consecutive addresses and the provider is linear
// (handles made from one pointer keep its provenance, and consecutive pages
// of a list belong to one allocation by `from_ptr`'s contract);
// `alloc_pages` returns fresh, aligned, contiguous memory.
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
        // Wrapping arithmetic keeps the provenance of the run's allocation.
        let pointer = page.as_ptr().wrapping_add(n.wrapping_mul(VIRT_PAGE_SIZE));
        // A run of valid pages never wraps to address 0; should a caller
        // ask for a page outside a run anyway, stay on the first page.
        VirtPage(NonNull::new(pointer).unwrap_or(page.0))
    }

    #[inline]
    fn map(&self, page: VirtPage) -> NonNull<u8> {
        page.0
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
        Ok(VirtPage(memory.cast::<u8>()))
    }

    unsafe fn free_pages(&self, page: VirtPage, order: u32) {
        let Ok(layout) = Self::layout(order) else {
            debug_assert!(false, "free_pages with an order alloc_pages refused");
            return;
        };
        // SAFETY: the caller promises `page` came from `alloc_pages(order)`
        // here, so it was allocated by this allocator with this layout.
        unsafe { self.allocator.deallocate(page.0, layout) }
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
    #[doc(alias = "sg_set_buf")]
    pub unsafe fn set_buf(&mut self, buffer: NonNull<u8>, len: u32) {
        // SAFETY: the handle is used for this entry only, whose bytes the
        // caller vouches for.
        let (page, offset) = unsafe { VirtPage::containing(buffer) };
        // SAFETY: the caller promises the `len` bytes at `buffer`, which
        // are bytes `offset..offset + len` of the run from `page`.
        unsafe { self.set_page(page, len, offset) };
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
    /// let list = SgList::new(core::slice::from_ref(&entry), &pages);
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
