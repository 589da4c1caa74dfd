//! Access markers: whether a table may only read the bytes it describes, or
//! also write them.
//!
//! Rights never grow: whatever is made from a [`Read`] table or a shared
//! view ([`SgList`]) can only read; a [`Write`] table comes
//! from an exclusive proof of its pages (pages it owns, pages it borrows
//! exclusively, or an exclusive view it borrows for its whole life).

use core::fmt::Debug;

use crate::{PageProvider, SgList, SgListMut};

mod sealed {
    /// Only this crate's markers are access markers.
    pub trait Sealed {}
}

/// What a table may do with the bytes its entries describe: [`Read`] or
/// [`Write`]. Sealed: no other type is a marker.
///
/// A marker is a type parameter of sg-alloc's tables (defaulting to
/// `Write`), as Rust-for-Linux's `SGTable<T: Sealed = Borrowed>`: every
/// method that only reads is written once for both, and the methods that
/// hand out an exclusive view ([`SgListMut`]) exist for
/// `Write` only.
pub trait Access: sealed::Sealed + Copy + Debug + Default + Send + Sync + 'static {
    /// Whether the bytes may be written (by the CPU, or by a device a table
    /// is mapped for).
    const WRITES: bool;
}

/// The bytes are only read: several read-only tables may describe the same
/// bytes at once, and none of them can hand out `&mut [u8]`, map for a
/// device that writes, or make a writable table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Read;

/// The bytes may be read and written: the table descends from an exclusive
/// proof of its pages, so no other table or view reaches them while it
/// lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Write;

impl sealed::Sealed for Read {}
impl sealed::Sealed for Write {}

impl Access for Read {
    const WRITES: bool = false;
}

impl Access for Write {
    const WRITES: bool = true;
}

/// A borrowed view of a list together with the access it grants:
/// [`SgList`] reads ([`Read`]), [`SgListMut`] writes ([`Write`]). Sealed.
///
/// Types that work in both directions (sg-iter's `MappingIter`, sg-copy's
/// `ListCursor`) take any view and get their access marker from it, so
/// one constructor serves both and a shared view never yields a writer.
pub trait ListView<'a>: sealed::Sealed + Sized {
    /// The provider of the view's pages.
    type Provider: PageProvider + 'a;
    /// What the view may do with the bytes.
    type Access: Access;

    /// A shared view of the same bytes, usable while this one is borrowed.
    fn as_list(&self) -> SgList<'_, Self::Provider>;

    /// The view as a shared one (for a [`SgListMut`], giving up the
    /// right to write through this value).
    fn into_list(self) -> SgList<'a, Self::Provider>;
}

impl<P: PageProvider> sealed::Sealed for SgList<'_, P> {}
impl<P: PageProvider> sealed::Sealed for SgListMut<'_, P> {}

impl<'a, P: PageProvider> ListView<'a> for SgList<'a, P> {
    type Provider = P;
    type Access = Read;

    #[inline(always)]
    fn as_list(&self) -> SgList<'_, P> {
        *self
    }

    #[inline(always)]
    fn into_list(self) -> SgList<'a, P> {
        self
    }
}

impl<'a, P: PageProvider> ListView<'a> for SgListMut<'a, P> {
    type Provider = P;
    type Access = Write;

    #[inline(always)]
    fn as_list(&self) -> SgList<'_, P> {
        SgListMut::as_list(self)
    }

    #[inline(always)]
    fn into_list(self) -> SgList<'a, P> {
        SgListMut::into_list(self)
    }
}
