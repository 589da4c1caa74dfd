//! Which of sg-alloc's public types may cross threads, asserted at compile
//! time: this file does not build if a type gains or loses `Send` or
//! `Sync` against what is written here.

use sg_alloc::{
    AppendTable, BounceMapper, BounceStats, ChunkPool, DirectMapper, EntriesMut, EntryMut,
    FirstChunk, JoinError, JoinFailure, MapError, MappedTable, PageList, SgTable, WithFirstChunk,
};
use sg_core::{HeapChunks, Pages, Read, VirtPage, VirtPages};
use sg_testkit::{
    CountingChunks, MockIommu, MockPages, assert_not_send, assert_not_sync, assert_send,
    assert_sync,
};

#[test]
fn tables_are_send_and_sync() {
    assert_send::<SgTable<VirtPages>>();
    assert_sync::<SgTable<VirtPages>>();
    assert_send::<SgTable<&'static MockPages, &'static CountingChunks>>();
    assert_sync::<SgTable<&'static MockPages, &'static CountingChunks>>();
    assert_send::<SgTable<&'static VirtPages, &'static ChunkPool<VirtPage>>>();
    assert_sync::<SgTable<&'static VirtPages, &'static ChunkPool<VirtPage>>>();
    assert_send::<SgTable<VirtPages, WithFirstChunk<'static, VirtPage>>>();
    assert_sync::<SgTable<VirtPages, WithFirstChunk<'static, VirtPage>>>();
    assert_send::<SgTable<Pages<VirtPages>>>();
    assert_sync::<SgTable<Pages<VirtPages>>>();
    assert_send::<SgTable<&'static Pages<&'static MockPages>, HeapChunks, Read>>();
    assert_sync::<SgTable<&'static Pages<&'static MockPages>, HeapChunks, Read>>();
    assert_send::<AppendTable<Pages<VirtPages>>>();
    assert_sync::<AppendTable<Pages<VirtPages>>>();
    assert_send::<AppendTable<&'static Pages<VirtPages>, HeapChunks, Read>>();
    assert_sync::<AppendTable<&'static Pages<VirtPages>, HeapChunks, Read>>();
    assert_send::<PageList<VirtPages>>();
    assert_sync::<PageList<VirtPages>>();
    assert_send::<JoinError<VirtPages, HeapChunks>>();
    assert_sync::<JoinError<VirtPages, HeapChunks>>();
    assert_send::<JoinError<VirtPages, HeapChunks, Read>>();
    assert_sync::<JoinError<VirtPages, HeapChunks, Read>>();
    assert_send::<MapError<SgTable<Pages<VirtPages>>, DirectMapper>>();
    assert_sync::<MapError<SgTable<Pages<VirtPages>>, DirectMapper>>();
    assert_send::<JoinFailure>();
    assert_sync::<JoinFailure>();
}

#[test]
fn chunk_allocators_are_send_and_sync() {
    // The pool is shared by reference between threads: its state is atomic.
    assert_send::<ChunkPool<VirtPage>>();
    assert_sync::<ChunkPool<VirtPage>>();
    assert_send::<FirstChunk<VirtPage, 4>>();
    assert_sync::<FirstChunk<VirtPage, 4>>();
    assert_send::<WithFirstChunk<'static, VirtPage>>();
    assert_sync::<WithFirstChunk<'static, VirtPage>>();
}

#[test]
fn the_direct_mapper_is_send_and_sync_and_the_bounce_mapper_only_send() {
    assert_send::<DirectMapper>();
    assert_sync::<DirectMapper>();
    assert_send::<BounceStats>();
    assert_sync::<BounceStats>();
    // The bounce pool's bookkeeping is a `RefCell`: one thread maps at a
    // time, but the mapper may move to another.
    assert_send::<BounceMapper<DirectMapper>>();
    assert_not_sync!(BounceMapper<DirectMapper>);
    assert_send::<BounceMapper<&'static MockIommu>>();
    assert_not_sync!(BounceMapper<&'static MockIommu>);
}

#[test]
fn a_mapped_table_is_as_send_as_its_mapper_and_never_sync() {
    // The guard's syncs copy bytes through `&self`, so it is never `Sync`
    // (by design of the sound API); it moves between threads as its mapper does.
    assert_send::<MappedTable<SgTable<VirtPages>, DirectMapper>>();
    assert_not_sync!(MappedTable<SgTable<VirtPages>, DirectMapper>);
    assert_send::<MappedTable<SgTable<&'static MockPages>, &'static MockIommu>>();
    assert_not_sync!(MappedTable<SgTable<&'static MockPages>, &'static MockIommu>);
    assert_send::<MappedTable<SgTable<VirtPages>, BounceMapper<DirectMapper>>>();
    assert_not_sync!(MappedTable<SgTable<VirtPages>, BounceMapper<DirectMapper>>);
    // The scoped form's guard holds the table by exclusive borrow.
    assert_send::<MappedTable<&'static mut SgTable<VirtPages>, DirectMapper>>();
    assert_not_sync!(MappedTable<&'static mut SgTable<VirtPages>, DirectMapper>);
    // A guard that borrows a bounce mapper stays with the mapper's thread.
    assert_not_send!(MappedTable<SgTable<VirtPages>, &'static BounceMapper<DirectMapper>>);
    assert_not_sync!(MappedTable<SgTable<VirtPages>, &'static BounceMapper<DirectMapper>>);
}

#[test]
fn entries_for_writing_stay_on_their_thread() {
    // They share the table's byte count through a `Cell`.
    assert_not_send!(EntriesMut<'static, VirtPage>, EntryMut<'static, VirtPage>);
    assert_not_sync!(EntriesMut<'static, VirtPage>, EntryMut<'static, VirtPage>);
}
