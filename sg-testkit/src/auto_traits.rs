//! Compile-time assertions of which types are `Send` and `Sync`, and which
//! are not.
//!
//! ```
//! use std::cell::Cell;
//! use sg_testkit::{
//!     assert_neither_send_nor_sync, assert_not_send, assert_not_sync, assert_send, assert_send_sync,
//!     assert_sync,
//! };
//!
//! assert_send::<Vec<u8>>();
//! assert_sync::<Vec<u8>>();
//! assert_send_sync!(Vec<u8>, String);
//! assert_send::<Cell<u8>>();
//! assert_not_sync!(Cell<u8>);
//! assert_not_send!(std::rc::Rc<u8>, *const u8);
//! assert_neither_send_nor_sync!(std::rc::Rc<u8>, *const u8);
//! ```
//!
//! A negative assertion fails to build when the type has the trait:
//!
//! ```compile_fail
//! sg_testkit::assert_not_send!(Vec<u8>);
//! ```

/// Builds only when `T` is `Send`.
pub fn assert_send<T: Send + ?Sized>() {}

/// Builds only when `T` is `Sync`.
pub fn assert_sync<T: Sync + ?Sized>() {}

/// Implemented by every type, and a second time by `Send` types, so that
/// naming `<T as NotSend<_>>::check` builds only when `T` is not `Send`
/// (with both impls, the marker is ambiguous): see [`assert_not_send!`](crate::assert_not_send).
pub trait NotSend<Marker> {
    /// Named by [`assert_not_send!`](crate::assert_not_send); does nothing.
    fn check() {}
}

impl<T: ?Sized> NotSend<()> for T {}

/// The marker of [`NotSend`]'s impl for `Send` types.
#[doc(hidden)]
pub struct IsSend;

impl<T: ?Sized + Send> NotSend<IsSend> for T {}

/// As [`NotSend`], for `Sync`: see [`assert_not_sync!`](crate::assert_not_sync).
pub trait NotSync<Marker> {
    /// Named by [`assert_not_sync!`](crate::assert_not_sync); does nothing.
    fn check() {}
}

impl<T: ?Sized> NotSync<()> for T {}

/// The marker of [`NotSync`]'s impl for `Sync` types.
#[doc(hidden)]
pub struct IsSync;

impl<T: ?Sized + Sync> NotSync<IsSync> for T {}

/// Builds only when none of the types is `Send`.
#[macro_export]
macro_rules! assert_not_send {
    ($($type:ty),+ $(,)?) => {
        $(let _ = <$type as $crate::NotSend<_>>::check;)+
    };
}

/// Builds only when none of the types is `Sync`.
#[macro_export]
macro_rules! assert_not_sync {
    ($($type:ty),+ $(,)?) => {
        $(let _ = <$type as $crate::NotSync<_>>::check;)+
    };
}

/// Builds only when every one of the types is both `Send` and `Sync`.
#[macro_export]
macro_rules! assert_send_sync {
    ($($type:ty),+ $(,)?) => {
        $($crate::assert_send::<$type>(); $crate::assert_sync::<$type>();)+
    };
}

/// Builds only when none of the types is `Send` and none is `Sync`.
#[macro_export]
macro_rules! assert_neither_send_nor_sync {
    ($($type:ty),+ $(,)?) => {
        $crate::assert_not_send!($($type),+);
        $crate::assert_not_sync!($($type),+);
    };
}
