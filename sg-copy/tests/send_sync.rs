//! Which of sg-copy's public types may cross threads, asserted at compile
//! time: this file does not build if a type gains or loses `Send` or
//! `Sync` against what is written here.

use sg_copy::{ListCursor, ListReader};
use sg_core::VirtPages;
use sg_testkit::{MockPages, assert_neither_send_nor_sync, assert_not_send};

#[test]
fn io_adapters_stay_on_their_thread() {
    // They keep a live mapping between calls, which may belong to the
    // thread that made it.
    assert_neither_send_nor_sync! { ListReader<'static, VirtPages>, ListCursor<'static, VirtPages> }
    assert_not_send! { ListReader<'static, MockPages>, ListCursor<'static, MockPages> }
}
