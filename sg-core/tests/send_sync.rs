//! Which of sg-core's public types may cross threads, asserted at compile
//! time: this file does not build if a type gains or loses `Send` or
//! `Sync` against what is written here.

use sg_core::{
    DmaDirection, DmaLimits, DmaRun, Entries, Error, ErrorKind, HeapChunks, Segment, Segments,
    SgEntry, SgList, SgListMut, VirtPage, VirtPages,
};
use sg_testkit::{
    CountedFrames, assert_neither_send_nor_sync, assert_not_send, assert_not_sync, assert_send,
    assert_send_sync,
};

/// A page handle that is neither `Send` nor `Sync`.
type RawPage = *const u8;

#[test]
fn plain_values_are_send_and_sync() {
    assert_send_sync!(
        SgEntry<VirtPage>,
        SgEntry<u64>,
        VirtPage,
        VirtPages,
        HeapChunks,
        DmaLimits,
        DmaDirection,
        DmaRun<VirtPage>,
        Error,
        ErrorKind,
    );
}

#[test]
fn views_and_their_iterators_are_send_and_sync_over_shared_providers() {
    assert_send_sync!(
        SgList<'static, VirtPages>,
        SgList<'static, &VirtPages>,
        SgListMut<'static, VirtPages>,
        Entries<'static, VirtPage>,
        Segments<'static, VirtPage>,
        Segment<'static, VirtPage>,
    );
}

#[test]
fn views_over_a_provider_that_is_not_sync_stay_on_their_thread() {
    // The provider itself may move (`CountedFrames` keeps its books in
    // `Cell`s), but views share it.
    assert_send::<CountedFrames>();
    assert_not_sync!(CountedFrames);
    assert_neither_send_nor_sync!(
        SgList<'static, CountedFrames>,
        SgListMut<'static, CountedFrames>,
    );
}

#[test]
fn entries_of_handles_that_are_not_send_stay_on_their_thread() {
    assert_neither_send_nor_sync!(SgEntry<RawPage>);
    assert_not_send!(Entries<'static, RawPage>);
    assert_not_sync!(Segments<'static, RawPage>);
}
