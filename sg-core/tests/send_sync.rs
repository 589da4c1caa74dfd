//! Which of sg-core's public types may cross threads, asserted at compile
//! time: this file does not build if a type gains or loses `Send` or
//! `Sync` against what is written here.

use core::cell::Cell;

use sg_core::{
    DmaDirection, DmaLimits, DmaRun, Entries, Error, ErrorKind, HeapChunks, Segment, Segments,
    SgEntry, SgList, SgListMut, VirtPage, VirtPages,
};

/// Builds only for `Send` types.
fn send<T: Send + ?Sized>() {}

/// Builds only for `Sync` types.
fn sync<T: Sync + ?Sized>() {}

/// Implemented by every type, and a second time by `Send` types: naming
/// `<T as NotSend<_>>::check` builds only when the second impl does not
/// apply (with both, the marker is ambiguous), so only for types that are
/// not `Send`.
trait NotSend<Marker> {
    fn check() {}
}
impl<T: ?Sized> NotSend<()> for T {}
/// The marker of the impl for `Send` types.
struct IsSend;
impl<T: ?Sized + Send> NotSend<IsSend> for T {}

/// As [`NotSend`], for `Sync`.
trait NotSync<Marker> {
    fn check() {}
}
impl<T: ?Sized> NotSync<()> for T {}
/// The marker of the impl for `Sync` types.
struct IsSync;
impl<T: ?Sized + Sync> NotSync<IsSync> for T {}

mod common;

/// A provider that is `Send` but not `Sync`, for the views that share
/// their provider.
type LocalPages = common::Frames<Cell<()>>;

/// A page handle that is neither `Send` nor `Sync`.
type RawPage = *const u8;

#[test]
fn plain_values_are_send_and_sync() {
    send::<SgEntry<VirtPage>>();
    sync::<SgEntry<VirtPage>>();
    send::<SgEntry<u64>>();
    sync::<SgEntry<u64>>();
    send::<VirtPage>();
    sync::<VirtPage>();
    send::<VirtPages>();
    sync::<VirtPages>();
    send::<HeapChunks>();
    sync::<HeapChunks>();
    send::<DmaLimits>();
    sync::<DmaLimits>();
    send::<DmaDirection>();
    sync::<DmaDirection>();
    send::<DmaRun<VirtPage>>();
    sync::<DmaRun<VirtPage>>();
    send::<Error>();
    sync::<Error>();
    send::<ErrorKind>();
    sync::<ErrorKind>();
}

#[test]
fn views_and_their_iterators_are_send_and_sync_over_shared_providers() {
    send::<SgList<'static, VirtPages>>();
    sync::<SgList<'static, VirtPages>>();
    send::<SgList<'static, &VirtPages>>();
    sync::<SgList<'static, &VirtPages>>();
    send::<SgListMut<'static, VirtPages>>();
    sync::<SgListMut<'static, VirtPages>>();
    send::<Entries<'static, VirtPage>>();
    sync::<Entries<'static, VirtPage>>();
    send::<Segments<'static, VirtPage>>();
    sync::<Segments<'static, VirtPage>>();
    send::<Segment<'static, VirtPage>>();
    sync::<Segment<'static, VirtPage>>();
}

#[test]
fn views_over_a_provider_that_is_not_sync_stay_on_their_thread() {
    // The provider itself may move, but views share it.
    send::<LocalPages>();
    let _ = <LocalPages as NotSync<_>>::check;
    let _ = <SgList<'static, LocalPages> as NotSend<_>>::check;
    let _ = <SgList<'static, LocalPages> as NotSync<_>>::check;
    let _ = <SgListMut<'static, LocalPages> as NotSend<_>>::check;
    let _ = <SgListMut<'static, LocalPages> as NotSync<_>>::check;
}

#[test]
fn entries_of_handles_that_are_not_send_stay_on_their_thread() {
    let _ = <SgEntry<RawPage> as NotSend<_>>::check;
    let _ = <SgEntry<RawPage> as NotSync<_>>::check;
    let _ = <Entries<'static, RawPage> as NotSend<_>>::check;
    let _ = <Segments<'static, RawPage> as NotSync<_>>::check;
}
