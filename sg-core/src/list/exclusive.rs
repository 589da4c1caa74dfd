//! `SgListMut`: the exclusive view, through which bytes are written.

use core::fmt;
use core::marker::PhantomData;

use crate::{Error, PageProvider, SgEntry, SgList};

/// An exclusive view of a chained list: like [`SgList`], and also allows
/// writing the list's bytes.
///
/// Holding an `SgListMut` means nothing else reads or writes the list's
/// bytes through this list meanwhile, which is what lets iterators hand out
/// `&mut [u8]` slices of mapped pages. It is not `Copy`; get shared views
/// with [`as_list`](Self::as_list) and shorter exclusive ones with
/// [`reborrow`](Self::reborrow) or [`slice_mut`](Self::slice_mut).
///
/// # Examples
///
/// ```
/// use sg_core::{PageProvider, SgEntry, SgListMut, VirtPages};
///
/// let pages = VirtPages::new();
/// let page = pages.alloc_pages(0).unwrap();
/// let mut entries: [SgEntry<_>; 1] = Default::default();
/// sg_core::init_table(&mut entries).unwrap();
/// // SAFETY: the whole page allocated above, in no other list.
/// unsafe { entries[0].set_page(page, 0, 4096) };
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let mut list = unsafe { SgListMut::new(&mut entries, &pages) };
/// let tail = list.slice_mut(4000, 96).unwrap();
/// assert_eq!(tail.as_list().byte_len(), 96);
/// // SAFETY: allocated above with order 0; the list is not used again.
/// unsafe { pages.free_pages(page, 0) };
/// ```
///
/// # Invariants
///
/// Those of [`SgList`] for `list`, and: no two entries the view visits
/// describe the same byte, and nothing but this view (and what it lends
/// out) reads or writes the bytes they describe during `'a`.
pub struct SgListMut<'a, P: PageProvider> {
    list: SgList<'a, P>,
    _exclusive: PhantomData<&'a mut [SgEntry<P::Page>]>,
}

// SAFETY: the view reads entries and calls the provider through `&P`; data
// bytes are reached only through the provider's mappings, and exclusivity
// of this view makes those accesses unshared.
unsafe impl<P: PageProvider + Sync> Send for SgListMut<'_, P> where P::Page: Send + Sync {}
// SAFETY: through `&SgListMut` only a shared `SgList` can be had.
unsafe impl<P: PageProvider + Sync> Sync for SgListMut<'_, P> where P::Page: Send + Sync {}

impl<'a, P: PageProvider> SgListMut<'a, P> {
    /// An exclusive view of the list that starts at the first slot of
    /// `entries` (see [`SgList::new`]).
    ///
    /// # Safety
    ///
    /// The entries' claims hold for `provider` for `'a` (as for
    /// [`SgList::new`]); no two entries of the list describe the same byte;
    /// and nothing but this view reads or writes the bytes they describe
    /// during `'a` (no other list, table, reference or device). On a
    /// shared provider ([`PageProvider::SHARED`]) the last two are not
    /// asked: its bytes are only reached with volatile copies.
    pub unsafe fn new(entries: &'a mut [SgEntry<P::Page>], provider: &'a P) -> Self {
        // INVARIANT: distinct bytes, reached by nothing else, are the
        // caller's promise.
        SgListMut {
            // SAFETY: the caller's contract includes `SgList::new`'s.
            list: unsafe { SgList::new(entries, provider) },
            _exclusive: PhantomData,
        }
    }

    /// An exclusive view of the list a shared view shows.
    ///
    /// For a list owned elsewhere, such as a table's:
    /// `SgListMut::from_list(SgList::from_raw(..))`. And for types that own
    /// an exclusive view and keep shared copies of parts of it (a cursor
    /// that remembers where it is), to write through one of them again.
    ///
    /// # Safety
    ///
    /// No two entries of `list` describe the same byte, and nothing else
    /// reads or writes the bytes of `list`'s pages during `'a`, except
    /// through the returned view: in particular, when `list` was made from
    /// an exclusive view, its owner no longer uses that view meanwhile, and
    /// no other view made this way is used at the same time. On a shared
    /// provider ([`PageProvider::SHARED`]) none of this is asked: its bytes
    /// are only reached with volatile copies.
    #[inline]
    pub unsafe fn from_list(list: SgList<'a, P>) -> Self {
        // INVARIANT: exclusivity is the caller's promise.
        SgListMut {
            list,
            _exclusive: PhantomData,
        }
    }

    /// A shared view, usable while this one is borrowed.
    #[inline]
    pub fn as_list(&self) -> SgList<'_, P> {
        self.list
    }

    /// A shorter-lived exclusive view of the same bytes.
    #[inline]
    pub fn reborrow(&mut self) -> SgListMut<'_, P> {
        // INVARIANT: `self` is borrowed exclusively for as long as the new
        // view lives, so only one of the two is used at a time.
        SgListMut {
            list: self.list,
            _exclusive: PhantomData,
        }
    }

    /// Gives up exclusivity for the rest of `'a`.
    #[inline]
    pub fn into_list(self) -> SgList<'a, P> {
        self.list
    }

    /// An exclusive view of `len` bytes starting `skip` bytes in (see
    /// [`SgList::slice`]).
    ///
    /// # Errors
    ///
    /// As [`SgList::slice`].
    #[doc(alias = "sglist_slice")]
    pub fn slice_mut(&mut self, skip: u64, len: u64) -> Result<SgListMut<'_, P>, Error> {
        self.reborrow().into_slice(skip, len)
    }

    /// Turns this view into an exclusive view of `len` bytes starting
    /// `skip` bytes in (see [`SgList::slice`]).
    ///
    /// # Errors
    ///
    /// As [`SgList::slice`].
    #[doc(alias = "sglist_slice")]
    pub fn into_slice(self, skip: u64, len: u64) -> Result<SgListMut<'a, P>, Error> {
        // INVARIANT: a slice visits some of this view's bytes, and this
        // view is consumed.
        Ok(SgListMut {
            list: self.list.slice(skip, len)?,
            _exclusive: PhantomData,
        })
    }
}

impl<P: PageProvider> fmt::Debug for SgListMut<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SgListMut").field(&self.list).finish()
    }
}
