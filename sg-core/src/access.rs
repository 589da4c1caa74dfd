//! Access markers: whether a table may only read the bytes it describes, or
//! also write them.
//!
//! Rights never grow: whatever is made from a [`Read`] table or a shared
//! view ([`SgList`](crate::SgList)) can only read; a [`Write`] table comes
//! from an exclusive proof of its pages (pages it owns, pages it borrows
//! exclusively, or an exclusive view it borrows for its whole life).

use core::fmt::Debug;

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
/// hand out an exclusive view ([`SgListMut`](crate::SgListMut)) exist for
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
