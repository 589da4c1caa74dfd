//! [`MappedBytes`]: the one guard that turns a provider's mapping into
//! slices.
//!
//! Every crate that reaches a list's bytes through the CPU (the mapping
//! iterators, the linear copies, the io-slice export, the bounce copies)
//! does it through this guard: it maps on creation, hands out the bytes
//! for as long as it is borrowed, flushes written pages and unmaps on drop,
//! and unmaps even when the provider's `flush_write` panics.

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::{Access, PageProvider, Read, Write};

/// Gives a mapping back to its provider when dropped: the field of
/// [`MappedBytes`] that is dropped after its flush, also while a panicking
/// flush unwinds.
struct Unmap<'a, P: PageProvider> {
    provider: &'a P,
    page: P::Page,
    mapping: NonNull<u8>,
}

impl<P: PageProvider> Drop for Unmap<'_, P> {
    #[inline(always)]
    fn drop(&mut self) {
        // SAFETY: `mapping` came from `provider.map(page)` when the owning
        // guard was made (its invariant), this field is dropped once, and
        // every slice over the mapping borrowed the guard, which is being
        // dropped, so none outlives this call.
        unsafe { self.provider.unmap(self.page, self.mapping) }
    }
}

/// A live CPU mapping of some bytes of a list, with the access `A` ([`Read`]
/// or [`Write`]): maps on creation, hands out the bytes while borrowed,
/// and on drop flushes (for `Write`) and unmaps.
///
/// On drop, a `Write` guard calls the provider's
/// [`flush_write`](PageProvider::flush_write) for every page its bytes
/// touch (the kernel's `flush_dcache_page`), then
/// [`unmap`](PageProvider::unmap); the unmap happens even when a flush
/// panics. (Forgetting the guard with [`core::mem::forget`] leaks the
/// mapping.) A mapping may be tied to its thread, as the kernel's
/// `kmap_local_page` is, so the guard is neither `Send` nor `Sync`.
///
/// # Invariants
///
/// The mapping was returned by `provider.map(page)` and is given to
/// `unmap` only when the guard drops. The `len` bytes `start` bytes after
/// the mapping's first byte are initialised bytes of a list over
/// `provider`, valid (for writes too, when `A` is `Write`) until the
/// unmap; nothing writes them while a `Read` guard lives, and nothing but
/// the guard reads or writes them while a `Write` guard lives (or, for
/// guards over overlapping bytes, no slice is taken from them, as
/// [`new`](Self::new) allows).
/// `len <= isize::MAX`.
///
/// # Examples
///
/// ```
/// use sg_core::{MappedBytes, PageProvider, Read, VirtPages, Write};
///
/// let pages = VirtPages::new();
/// let page = pages.alloc_pages(0)?;
/// // SAFETY: four bytes of a page allocated above, which nothing else
/// // reaches while the guard lives.
/// let mut mapped = unsafe { MappedBytes::<_, Write>::new(&pages, page, 8, 4) };
/// mapped.bytes_mut().copy_from_slice(b"abcd");
/// drop(mapped); // flushed, then unmapped
/// // SAFETY: as above; nothing writes the bytes while this guard lives.
/// let mapped = unsafe { MappedBytes::<_, Read>::new(&pages, page, 8, 4) };
/// assert_eq!(mapped.bytes(), b"abcd");
/// drop(mapped);
/// // SAFETY: allocated above with order 0; no mapping or list of it is left.
/// unsafe { pages.free_pages(page, 0) };
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "kmap_local_page")]
#[doc(alias = "kunmap_local")]
pub struct MappedBytes<'a, P: PageProvider, A: Access = Read> {
    /// Dropped after [`Drop::drop`] has flushed, even if a flush panicked.
    unmap: Unmap<'a, P>,
    start: usize,
    len: usize,
    _access: PhantomData<A>,
}

impl<'a, P: PageProvider, A: Access> MappedBytes<'a, P, A> {
    /// Maps `page` and exposes the `len` bytes `start` bytes after its
    /// first byte.
    ///
    /// `start` may exceed a page only on a linear provider, whose mapping
    /// of a page reaches the run of consecutive frames it starts.
    ///
    /// # Safety
    ///
    /// - The `len` bytes are bytes of a list over `provider`, in `page`
    ///   or, on a linear provider ([`PageProvider::is_linear`]), in a run
    ///   of consecutive frames from `page` that lies in one entry or that
    ///   [`is_next`](PageProvider::is_next) joins, so that the provider's
    ///   contract makes them valid through `map(page)` until the unmap;
    ///   `page` stays a valid handle while the guard lives.
    /// - For [`Read`], nothing writes the bytes while the guard lives; for
    ///   [`Write`], nothing else reads or writes them while it lives, with
    ///   one allowance: a caller may hold several `Write` guards over bytes
    ///   that overlap (entries of one view that describe the same bytes)
    ///   if it takes slices from none of them ([`bytes`](Self::bytes),
    ///   [`bytes_mut`](MappedBytes::bytes_mut)) until all but one are
    ///   dropped; dropping them (flushing and unmapping) is fine.
    /// - `len <= isize::MAX`.
    ///
    /// On a shared provider ([`PageProvider::SHARED`]) the second point
    /// is not asked: others may read and write the bytes meanwhile, since
    /// the guard then reaches them only with volatile copies
    /// ([`read_to`](Self::read_to), [`write_from`](MappedBytes::write_from),
    /// [`fill`](MappedBytes::fill)) and never lends a slice.
    #[inline(always)]
    pub unsafe fn new(provider: &'a P, page: P::Page, start: usize, len: usize) -> Self {
        debug_assert!(len <= isize::MAX as usize);
        let mapping = provider.map(page);
        // INVARIANT: `mapping` comes from `map(page)` just above and only
        // `Unmap::drop` releases it; the caller vouches for the bytes and
        // for `len`.
        MappedBytes {
            unmap: Unmap {
                provider,
                page,
                mapping,
            },
            start,
            len,
            _access: PhantomData,
        }
    }

    /// The first exposed byte.
    #[inline(always)]
    fn first_byte(&self) -> *mut u8 {
        // Wrapping: the page's first byte may lie outside the memory the
        // list describes (a buffer that starts mid-page), so only the result
        // is known to be in bounds; wrapping keeps the provenance.
        self.unmap.mapping.as_ptr().wrapping_add(self.start)
    }

    /// The mapped bytes.
    ///
    /// Does not compile for a shared provider ([`PageProvider::SHARED`]),
    /// whose bytes may change under a reference: copy them with
    /// [`read_to`](Self::read_to) instead.
    #[inline(always)]
    pub fn bytes(&self) -> &[u8] {
        const { assert!(!P::SHARED, "no slice of a shared provider's memory") };
        // SAFETY: the provider is not shared, as the line above checks at
        // compile time.
        unsafe { self.bytes_unchecked() }
    }

    /// [`bytes`](Self::bytes) without its compile-time refusal of shared
    /// providers, for code that is instantiated for every provider but
    /// takes slices only for private ones (it branches on
    /// [`PageProvider::SHARED`], which folds away).
    ///
    /// # Safety
    ///
    /// The provider is not shared: `P::SHARED` is `false`.
    #[inline(always)]
    pub unsafe fn bytes_unchecked(&self) -> &[u8] {
        debug_assert!(!P::SHARED, "no slice of a shared provider's memory");
        // SAFETY: the type invariants: the `len` bytes from the first
        // exposed byte are initialised and valid until the unmap, which
        // happens only when the guard drops, after this borrow of it ends;
        // nothing writes them while `&self` is held (a `Write` guard's only
        // writer is `bytes_mut`, which needs `&mut self`), since on a
        // private provider (the caller's promise) nothing else reaches them.
        unsafe { core::slice::from_raw_parts(self.first_byte(), self.len) }
    }

    /// A pointer to the first mapped byte, for copies that must not make
    /// references (the volatile copies of [`crate::volatile`]). Reading or
    /// writing through it is `unsafe`; the guard's invariants say which
    /// `len` bytes are valid, and until when.
    #[inline(always)]
    pub fn as_ptr(&self) -> *mut u8 {
        self.first_byte()
    }

    /// The address of the first mapped byte, to compare guards without
    /// taking slices from them.
    #[inline]
    pub fn address(&self) -> usize {
        self.first_byte().addr()
    }

    /// How many bytes are mapped.
    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is mapped.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The page that was mapped: the one holding the first byte, or the
    /// first page of the run on a linear provider.
    #[inline]
    pub fn page(&self) -> P::Page {
        self.unmap.page
    }

    /// How far into [`page`](Self::page) the bytes start.
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// The provider that made the mapping.
    #[inline]
    pub fn provider(&self) -> &'a P {
        self.unmap.provider
    }
}

impl<P: PageProvider> MappedBytes<'_, P, Write> {
    /// The mapped bytes, writable; their pages are flushed when the guard
    /// drops.
    ///
    /// Does not compile for a shared provider ([`PageProvider::SHARED`]):
    /// write with [`write_from`](Self::write_from) instead.
    #[inline(always)]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        const { assert!(!P::SHARED, "no slice of a shared provider's memory") };
        // SAFETY: the provider is not shared, as the line above checks at
        // compile time.
        unsafe { self.bytes_mut_unchecked() }
    }

    /// [`bytes_mut`](Self::bytes_mut) without its compile-time refusal of
    /// shared providers (see [`bytes_unchecked`](MappedBytes::bytes_unchecked)).
    ///
    /// # Safety
    ///
    /// The provider is not shared: `P::SHARED` is `false`.
    #[inline(always)]
    pub unsafe fn bytes_mut_unchecked(&mut self) -> &mut [u8] {
        debug_assert!(!P::SHARED, "no slice of a shared provider's memory");
        // SAFETY: as in `bytes_unchecked`, and the bytes may be written:
        // the type invariants make this guard the only way to them on a
        // private provider (the caller's promise), and `&mut self` makes
        // this slice the only reference for its life.
        unsafe { core::slice::from_raw_parts_mut(self.first_byte(), self.len) }
    }
}

impl<P: PageProvider, A: Access> Drop for MappedBytes<'_, P, A> {
    #[inline(always)]
    fn drop(&mut self) {
        if A::WRITES && self.len > 0 {
            let Unmap { provider, page, .. } = self.unmap;
            // The pages the bytes lie in: on a linear provider they may
            // start pages after the one mapped.
            let first = self.start / P::PAGE_SIZE;
            let end = (self.start + self.len).div_ceil(P::PAGE_SIZE);
            for index in first..end {
                provider.flush_write(if index == 0 {
                    page
                } else {
                    provider.nth(page, index)
                });
            }
        }
        // `self.unmap` is dropped next, which unmaps; it also is when a
        // flush above panics and the guard's fields are dropped while
        // unwinding.
    }
}

impl<P: PageProvider, A: Access> fmt::Debug for MappedBytes<'_, P, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MappedBytes")
            .field("page", &self.unmap.page)
            .field("start", &self.start)
            .field("len", &self.len)
            .field("access", &A::default())
            .finish()
    }
}
