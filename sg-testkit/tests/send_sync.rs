//! Which of sg-testkit's public types may cross threads, asserted at
//! compile time: mocks shared between threads must be `Sync`.

use sg_testkit::{
    BuiltList, CountingChunks, FramePages, MockIommu, MockPage, MockPages, Model, assert_send,
    assert_sync,
};

#[test]
fn the_mocks_are_send_and_sync() {
    assert_send::<MockPages>();
    assert_sync::<MockPages>();
    assert_send::<MockPages<64>>();
    assert_sync::<MockPages<64>>();
    assert_send::<MockPage>();
    assert_sync::<MockPage>();
    assert_send::<CountingChunks>();
    assert_sync::<CountingChunks>();
    assert_send::<BuiltList<MockPage>>();
    assert_sync::<BuiltList<MockPage>>();
    assert_send::<MockIommu>();
    assert_sync::<MockIommu>();
    assert_send::<FramePages>();
    assert_sync::<FramePages>();
    assert_send::<Model>();
    assert_sync::<Model>();
}
