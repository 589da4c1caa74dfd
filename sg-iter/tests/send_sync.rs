//! Which of sg-iter's public types may cross threads, asserted at compile
//! time: this file does not build if a type gains or loses `Send` or
//! `Sync` against what is written here.

use sg_core::VirtPages;
use sg_iter::{DmaPageIter, MappingIter, MappingIterMut, PageIter};
use sg_testkit::{MockPages, assert_not_send, assert_not_sync, assert_send, assert_sync};

#[test]
fn page_iterators_are_send_and_sync() {
    assert_send::<PageIter<'static, VirtPages>>();
    assert_sync::<PageIter<'static, VirtPages>>();
    assert_send::<PageIter<'static, &'static MockPages>>();
    assert_sync::<PageIter<'static, &'static MockPages>>();
    assert_send::<DmaPageIter<'static, VirtPages>>();
    assert_sync::<DmaPageIter<'static, VirtPages>>();
}

#[test]
fn mapping_iterators_stay_on_their_thread() {
    // A live mapping may belong to the thread that made it (as the
    // kernel's `kmap_local_page` does).
    assert_not_send!(
        MappingIter<'static, VirtPages>,
        MappingIterMut<'static, VirtPages>
    );
    assert_not_sync!(
        MappingIter<'static, VirtPages>,
        MappingIterMut<'static, VirtPages>
    );
    assert_not_send!(
        MappingIter<'static, MockPages>,
        MappingIterMut<'static, MockPages>
    );
}
