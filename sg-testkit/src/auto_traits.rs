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

/// Defines `$not<Marker>`, implemented by every type and a second time
/// (with marker `$is`) by `$auto` types, so that naming
/// `<T as $not<_>>::check` builds only when `T` is not `$auto` (with both
/// impls, the marker is ambiguous): what `$assert!` names.
macro_rules! negative_trait {
    ($not:ident, $is:ident, $auto:ident, $assert:literal) => {
        #[doc = concat!("Implemented by every type, and a second time by `", stringify!($auto), "` types, so that naming `<T as ", stringify!($not), "<_>>::check` builds only when `T` is not `", stringify!($auto), "` (with both impls, the marker is ambiguous): see [`", $assert, "!`](crate::", $assert, ").")]
        pub trait $not<Marker> {
            #[doc = concat!("Named by [`", $assert, "!`](crate::", $assert, "); does nothing.")]
            fn check() {}
        }

        impl<T: ?Sized> $not<()> for T {}

        #[doc = concat!("The marker of [`", stringify!($not), "`]'s impl for `", stringify!($auto), "` types.")]
        #[doc(hidden)]
        pub struct $is;

        impl<T: ?Sized + $auto> $not<$is> for T {}
    };
}

negative_trait!(NotSend, IsSend, Send, "assert_not_send");
negative_trait!(NotSync, IsSync, Sync, "assert_not_sync");

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
