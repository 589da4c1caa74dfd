//! Which of sg-testkit's public types may cross threads, asserted at
//! compile time: mocks shared between threads must be `Sync`.

use sg_testkit::{
    BuiltList, CountedFrames, CountingChunks, FramePages, MockIommu, MockPage, MockPages, Model,
    assert_not_sync, assert_send, assert_send_sync,
};

#[test]
fn the_mocks_are_send_and_sync() {
    assert_send_sync!(
        MockPages,
        MockPages<64>,
        MockPage,
        CountingChunks,
        BuiltList<MockPage>,
        MockIommu,
        FramePages,
        Model,
    );
}

#[test]
fn counted_frames_move_but_are_not_shared() {
    // Its books are in `Cell`s; sg-core's tests rely on it not being `Sync`.
    assert_send::<CountedFrames>();
    assert_not_sync!(CountedFrames);
}
