//! Virtio descriptor tables: random views written as split-queue chains
//! and packed-ring chains read back as the same `(addr, len, flags)`
//! triples, the form a descriptor-chain builder takes.

use quickcheck::TestResult;
use sg_dev::{
    DevError, DmaVec, VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_USED, VIRTQ_DESC_F_WRITE,
    VirtqDesc, VirtqPackedDesc, packed_chain, split_chain, write_packed, write_split,
};
use sg_testkit::checker;

fn view_of(segments: &[(u64, u32)]) -> Vec<DmaVec> {
    segments.iter().copied().map(DmaVec::from).collect()
}

/// The triples a chain of `view` must read back as.
fn expected(view: &[DmaVec], write: bool) -> Vec<(u64, u32, u16)> {
    let write = if write { VIRTQ_DESC_F_WRITE } else { 0 };
    view.iter()
        .enumerate()
        .map(|(i, s)| {
            let next = if i + 1 < view.len() {
                VIRTQ_DESC_F_NEXT
            } else {
                0
            };
            (s.addr, s.len as u32, write | next)
        })
        .collect()
}

#[test]
fn prop_split_chains_read_back_as_written() {
    fn property(segments: Vec<(u64, u32)>, size: u16, first: u16, write: bool) -> TestResult {
        let view = view_of(&segments);
        let size = 1 + usize::from(size) % if cfg!(miri) { 16 } else { 256 };
        let first = first % size as u16;
        let mut table = vec![VirtqDesc::default(); size];
        match write_split(&view, &mut table, first, write) {
            Ok((head, n)) => {
                let mut chain = split_chain(&table, head);
                let read: Vec<_> = chain.by_ref().collect();
                if n != view.len() || read != expected(&view, write) || chain.error().is_some() {
                    return TestResult::error(format!("read back {read:?}"));
                }
                TestResult::passed()
            }
            Err(DevError::EmptyView) if view.is_empty() => TestResult::passed(),
            Err(DevError::NoRoom { needed, available })
                if needed == view.len() && available == size && needed > size =>
            {
                TestResult::passed()
            }
            Err(error) => TestResult::error(format!("{error}")),
        }
    }
    checker(300).quickcheck(property as fn(Vec<(u64, u32)>, u16, u16, bool) -> TestResult);
}

#[test]
fn prop_packed_chains_read_back_as_written() {
    fn property(
        segments: Vec<(u64, u32)>,
        size: u16,
        start: u16,
        wrap: bool,
        id: u16,
    ) -> TestResult {
        let view = view_of(&segments);
        if view.is_empty() {
            return TestResult::discard();
        }
        let size = view.len() + usize::from(size) % 64;
        let start = start % size as u16;
        let mut ring = vec![VirtqPackedDesc::default(); size];
        let (next, next_wrap) = match write_packed(&view, &mut ring, start, wrap, id, true) {
            Ok(after) => after,
            Err(error) => return TestResult::error(format!("{error}")),
        };
        let read: Vec<_> = packed_chain(&ring, start)
            .map(|(addr, len, flags)| {
                (addr, len, flags & !(VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED))
            })
            .collect();
        if read != expected(&view, true) {
            return TestResult::error(format!("read back {read:?}"));
        }
        // Every descriptor is available under the wrap counter of its slot,
        // and carries the buffer id.
        let mut counter = wrap;
        for i in 0..view.len() {
            let at = (usize::from(start) + i) % size;
            if i > 0 && at == 0 {
                counter = !counter;
            }
            let flags = ring[at].flags();
            let avail = flags & VIRTQ_DESC_F_AVAIL != 0;
            let used = flags & VIRTQ_DESC_F_USED != 0;
            if avail != counter || used == counter || ring[at].id() != id {
                return TestResult::error(format!("slot {at}: flags {flags:#x}"));
            }
        }
        let end = usize::from(start) + view.len();
        let expected_after = ((end % size) as u16, wrap ^ (end >= size));
        if (next, next_wrap) != expected_after {
            return TestResult::error(format!("after {:?}", (next, next_wrap)));
        }
        TestResult::passed()
    }
    checker(300).quickcheck(property as fn(Vec<(u64, u32)>, u16, u16, bool, u16) -> TestResult);
}

#[test]
fn a_full_table_and_a_long_segment_are_refused() {
    let mut table = [VirtqDesc::default(); 2];
    let view = view_of(&[(1, 1), (2, 2), (3, 3)]);
    assert_eq!(
        write_split(&view, &mut table, 0, false),
        Err(DevError::NoRoom {
            needed: 3,
            available: 2
        })
    );
    let long = [DmaVec::new(0, 8), DmaVec::new(0x1000, 1 << 32)];
    let mut ring = [VirtqPackedDesc::default(); 4];
    let error = write_packed(&long, &mut ring, 0, true, 0, false).unwrap_err();
    assert_eq!(
        error,
        DevError::SegmentTooLong {
            index: 1,
            len: 1 << 32,
            max: u64::from(u32::MAX)
        }
    );
    // The remedy: segments no longer than a u32 holds.
    let Some(sg_dev::Remedy::Limits(limits)) = error.remedy(&sg_core::DmaLimits::unlimited(), 4096)
    else {
        panic!("no limits");
    };
    assert_eq!(limits.max_segment_size(), u32::MAX);
    assert_eq!(limits.validate(), Ok(()));
}
