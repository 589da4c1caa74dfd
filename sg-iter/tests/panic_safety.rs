//! Panic safety of the mapping iterators: a provider that panics at any one
//! of its calls (`map`, `nth`, `flush_write`, `unmap`, ...) leaves no CPU
//! mapping live once the panic is caught, whatever step the iterator was
//! taking, and a writer's bytes each hold their old value or the new one.
//! Small lists, so that Miri runs it.

use std::cell::RefCell;

use sg_iter::{MappingIter, MappingIterMut};
use sg_testkit::{BuiltList, MockPage, MockPages, PanicAt, for_each_panic_point};

type Mock = MockPages<64>;

/// A list over `mock` of one entry across two pages, a whole page and one
/// that starts a page past its handle, in two arrays; 170 bytes of a
/// pattern.
fn build(mock: &Mock) -> BuiltList<MockPage> {
    let mut placed = Vec::new();
    for (pfn, offset, length) in [(1u64, 20u32, 100u32), (6, 0, 64), (9, 66, 6)] {
        mock.add_run(pfn, u64::from(offset + length).div_ceil(64));
        placed.push((MockPage::new(pfn), length, offset));
    }
    let built = BuiltList::new(mock, &placed, &[2]);
    let bytes: Vec<u8> = (0..170u32).map(|index| (index % 199) as u8 + 1).collect();
    mock.set_list_bytes(built.list(mock), &bytes);
    built
}

#[test]
fn a_reader_leaves_no_mapping_when_the_provider_panics() {
    for mock in [Mock::new(), Mock::linear()] {
        let built = build(&mock);
        let original = mock.list_bytes(built.list(&mock));
        // Every step kind: whole and partial mappings, an advance, a stop,
        // a rewind, and the drop with a mapping live.
        let read = |k| {
            let provider = PanicAt::new(&mock, k);
            // SAFETY: the entries lie on frames of the mock, to which the
            // provider forwards; nothing writes them.
            let list = unsafe { built.list_via(&provider) };
            let mut reader = MappingIter::new(list).merge_adjacent();
            let mut seen = Vec::new();
            while let Some(bytes) = reader.next_slice() {
                let take = bytes.len().min(60);
                seen.extend_from_slice(&bytes[..take]);
                reader.consume(take);
            }
            assert_eq!(seen, original);
            reader.rewind();
            reader.advance(100).expect("the list holds 170 bytes");
            let bytes = reader.next_slice().expect("bytes at 100");
            let len = bytes.len();
            assert_eq!(bytes, &original[100..100 + len]);
            reader.stop();
            assert_eq!(reader.position(), 100 + len as u64);
            let next = reader.next_slice().map(|bytes| bytes[0]);
            assert_eq!(next, Some(original[100 + len]));
        };
        let points = for_each_panic_point(read, |k| {
            assert_eq!(
                mock.live_mappings(),
                0,
                "panic point {k}: mappings left live"
            );
            assert_eq!(
                mock.list_bytes(built.list(&mock)),
                original,
                "panic point {k}"
            );
        });
        assert!(points > 10, "only {points} panic points");
    }
}

#[test]
fn a_writer_leaves_no_mapping_when_the_provider_panics() {
    for mock in [Mock::new(), Mock::linear()] {
        let built = RefCell::new(build(&mock));
        let original = mock.list_bytes(built.borrow().list(&mock));
        let write = |k| {
            let mut built = built.borrow_mut();
            mock.set_list_bytes(built.list(&mock), &original);
            let provider = PanicAt::new(&mock, k);
            // SAFETY: the entries lie on distinct frames of the mock, to
            // which the provider forwards; nothing else reaches them.
            let list = unsafe { built.list_mut(&provider) };
            let mut writer = MappingIterMut::new(list).page_by_page();
            writer.advance(10).expect("the list holds 170 bytes");
            while let Some(bytes) = writer.next_slice_mut() {
                let take = bytes.len().min(50);
                bytes[..take].fill(0);
                writer.consume(take);
            }
        };
        let check = |k| {
            assert_eq!(
                mock.live_mappings(),
                0,
                "panic point {k}: mappings left live"
            );
            let now = mock.list_bytes(built.borrow().list(&mock));
            for (index, (&now, &old)) in now.iter().zip(&original).enumerate() {
                let written = index >= 10 && now == 0;
                assert!(
                    now == old || written,
                    "panic point {k}: byte {index} is {now}"
                );
            }
        };
        let points = for_each_panic_point(write, check);
        assert!(points > 10, "only {points} panic points");
        let mut expected = original.clone();
        expected[10..].fill(0);
        assert_eq!(mock.list_bytes(built.borrow().list(&mock)), expected);
    }
}
