//! `bytes::Buf` over a list and `bytes::BufMut` over a writable list,
//! against the model: random length-prefixed messages written through
//! `BufMut` and read back through `Buf` on every kind of provider, and
//! `bytes`' own rules (no empty chunk before the end, `remaining` exact,
//! `advance` past the end panics). Runs under Miri.

#![cfg(feature = "bytes")]

use bytes::{Buf, BufMut};
use quickcheck::TestResult;
use sg_copy::{ListBuf, ListBufMut};
use sg_testkit::{
    BuiltList, EntryLayout, Mapping, MockPage, Model, TEST_PAGE_SIZE, TestPages, checker,
};

const MODES: [Mapping; 3] = [Mapping::Copied, Mapping::Direct, Mapping::Linear];

/// A mock of the given mode with the layout's list, filled with bytes.
fn setup(mode: Mapping, layout: &EntryLayout) -> (TestPages, BuiltList<MockPage>) {
    let mock = TestPages::with_mapping(mode);
    let built = layout.scaled(TEST_PAGE_SIZE).build(&mock);
    mock.fill(7);
    (mock, built)
}

#[test]
fn prop_messages_written_through_buf_mut_read_back_through_buf() {
    fn property(layout: EntryLayout, messages: Vec<Vec<u8>>) -> TestResult {
        for mode in MODES {
            let (mock, mut built) = setup(mode, &layout);
            let mut model = Model::from_list(&mock, built.list(&mock));
            // SAFETY: the layout's entries lie on the mock's frames and
            // share no byte; nothing else reaches them while the view is
            // used.
            let mut writer = ListBufMut::new(unsafe { built.list_mut(&mock) });
            let mut position = 0u64;
            let mut sent = Vec::new();
            for message in &messages {
                if writer.remaining_mut() < 4 + message.len() {
                    break;
                }
                let before = writer.remaining_mut();
                writer.put_u32(message.len() as u32);
                writer.put_slice(message);
                if writer.remaining_mut() != before - 4 - message.len() {
                    return TestResult::error("remaining_mut is not exact");
                }
                let mut framed = (message.len() as u32).to_be_bytes().to_vec();
                framed.extend_from_slice(message);
                position += model.copy_from_slice(position, &framed) as u64;
                sent.push(message.clone());
            }
            drop(writer);
            if mock.live_mappings() != 0 {
                return TestResult::error(format!("{mode:?}: a mapping is left"));
            }
            if let Some(mismatch) = model.diff(&mock.list_bytes(built.list(&mock))) {
                return TestResult::error(format!("{mode:?}: {mismatch}"));
            }
            let mut reader = ListBuf::new(built.list(&mock));
            for message in &sent {
                let len = reader.get_u32() as usize;
                let mut body = vec![0u8; len];
                reader.copy_to_slice(&mut body);
                if &body != message {
                    return TestResult::error(format!("{mode:?}: a message came back changed"));
                }
            }
            if reader.remaining() as u64 != layout.scaled(TEST_PAGE_SIZE).byte_len() - position {
                return TestResult::error("remaining is not exact");
            }
        }
        TestResult::passed()
    }
    checker(60).quickcheck(property as fn(EntryLayout, Vec<Vec<u8>>) -> TestResult);
}

#[test]
fn prop_chunks_and_advance_follow_the_bytes_rules() {
    fn property(layout: EntryLayout, steps: Vec<u16>) -> TestResult {
        for mode in MODES {
            let (mock, mut built) = setup(mode, &layout);
            let model = Model::from_list(&mock, built.list(&mock));
            let len = model.len();
            let mut reader = ListBuf::new(built.list(&mock));
            let mut position = 0;
            let mut steps = steps.iter().cycle();
            while reader.remaining() > 0 {
                if reader.remaining() != len - position {
                    return TestResult::error("remaining is not exact");
                }
                let chunk = reader.chunk();
                if chunk.is_empty()
                    || model.range(position as u64, chunk.len() as u64) != Some(chunk)
                {
                    return TestResult::error(format!("{mode:?}: a chunk at {position} is wrong"));
                }
                // Advancing by nothing changes nothing.
                let chunk_len = chunk.len();
                reader.advance(0);
                if reader.chunk().len() != chunk_len {
                    return TestResult::error("advance(0) moved");
                }
                // Steps within the chunk, to its end, and past it.
                let wanted = steps
                    .next()
                    .map_or(1, |&step| 1 + usize::from(step) % (2 * chunk_len));
                let step = wanted.min(reader.remaining());
                reader.advance(step);
                position += step;
            }
            if !reader.chunk().is_empty() || position != len {
                return TestResult::error("the end is not empty");
            }
            drop(reader);

            // SAFETY: as in the round trip above.
            let mut writer = ListBufMut::new(unsafe { built.list_mut(&mock) });
            let mut position = 0;
            while writer.remaining_mut() > 0 {
                if writer.remaining_mut() != len - position {
                    return TestResult::error("remaining_mut is not exact");
                }
                let room = writer.chunk_mut().len();
                if room == 0 {
                    return TestResult::error("an empty chunk_mut before the end");
                }
                let step = steps.next().map_or(1, |&step| 1 + usize::from(step) % room);
                // SAFETY: the list's bytes are initialised memory.
                unsafe { writer.advance_mut(step) };
                position += step;
            }
            if writer.chunk_mut().len() != 0 || mock.live_mappings() > 1 {
                return TestResult::error("the writer's end is wrong");
            }
        }
        TestResult::passed()
    }
    checker(60).quickcheck(property as fn(EntryLayout, Vec<u16>) -> TestResult);
}

#[test]
#[should_panic(expected = "advance past the end")]
fn advance_past_the_end_panics() {
    let mut bytes = *b"abc";
    let mut iov: [&mut [u8]; 1] = [&mut bytes];
    let table = sg_alloc::SliceTable::new(&mut iov).unwrap();
    let mut reader = ListBuf::new(table.as_list());
    reader.advance(2);
    reader.advance(2);
}

#[test]
fn an_empty_list_has_an_empty_chunk() {
    let mock = TestPages::new();
    let built = BuiltList::new(&mock, &[], &[]);
    let reader = ListBuf::new(built.list(&mock));
    assert_eq!((reader.remaining(), reader.chunk()), (0, &[][..]));
}
