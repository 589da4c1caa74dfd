//! Segment vectors copied, zeroed and iterated where a memory maps them,
//! against sg-testkit's `Model`, on private and shared memory.

use core::cell::Cell;
use core::ptr::NonNull;

use quickcheck::TestResult;
use sg_dev::{DevError, DmaVec, SegView, SegViewMut, SegmentMemory};
use sg_testkit::{Model, checker};

/// Bytes of a test memory's page: a mapping never crosses one, so long
/// segments take several mappings.
const PAGE: u64 = 64;
/// The test memory's first address.
const BASE: u64 = 0x10_0000;

/// A test memory of `len` bytes at `BASE`, with a hole of one page at
/// `BASE + hole` (no mapping there), mapping at most to the end of a page,
/// counting maps and unmaps; shared when `S`.
struct Paged<const S: bool> {
    start: NonNull<u8>,
    len: usize,
    hole: Option<u64>,
    maps: Cell<usize>,
    unmaps: Cell<usize>,
}

impl<const S: bool> Paged<S> {
    fn new(bytes: Vec<u8>, hole: Option<u64>) -> Self {
        let len = bytes.len();
        let start = NonNull::new(Box::into_raw(bytes.into_boxed_slice()).cast::<u8>()).unwrap();
        Paged {
            start,
            len,
            hole,
            maps: Cell::new(0),
            unmaps: Cell::new(0),
        }
    }

    /// All bytes, read back (no view is live: `&mut self`).
    fn bytes(&mut self) -> Vec<u8> {
        // SAFETY: the box's `len` bytes, live until the drop; `&mut self`
        // means no mapping is in use.
        unsafe { core::slice::from_raw_parts(self.start.as_ptr(), self.len) }.to_vec()
    }

    fn balanced(&self) -> bool {
        self.maps.get() == self.unmaps.get()
    }
}

impl<const S: bool> Drop for Paged<S> {
    fn drop(&mut self) {
        let slice = core::ptr::slice_from_raw_parts_mut(self.start.as_ptr(), self.len);
        // SAFETY: made by `Box::into_raw` in `new`, freed once.
        drop(unsafe { Box::from_raw(slice) });
    }
}

// SAFETY: `map` answers only inside `BASE..BASE + len` outside the hole,
// with a pointer into the owned box and a reach that ends at a page end,
// the memory's end, or `len`; the box is reached only through this value
// (private when `!S`: reads through `&self`, writes only by views that
// borrow it exclusively).
unsafe impl<const S: bool> SegmentMemory for Paged<S> {
    const SHARED: bool = S;

    fn map(&self, addr: u64, len: u64) -> Option<(NonNull<u8>, usize)> {
        let offset = addr.checked_sub(BASE)?;
        if offset >= self.len as u64 || len == 0 {
            return None;
        }
        if self.hole.is_some_and(|hole| offset / PAGE == hole / PAGE) {
            return None;
        }
        let page_left = PAGE - offset % PAGE;
        let reach = len.min(page_left).min(self.len as u64 - offset) as usize;
        self.maps.set(self.maps.get() + 1);
        // SAFETY: `offset < len`, inside the box.
        Some((unsafe { self.start.add(offset as usize) }, reach))
    }

    unsafe fn unmap(&self, addr: u64, mapping: NonNull<u8>, reach: usize) {
        assert_eq!(
            mapping.as_ptr().addr() - self.start.as_ptr().addr(),
            (addr - BASE) as usize
        );
        assert!(reach >= 1);
        self.unmaps.set(self.unmaps.get() + 1);
    }
}

/// A pattern: byte `i` of the memory.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// Cuts `len` bytes into chunks of the given lengths (each 1..=150),
/// shuffles them with `seed`, and keeps two in three: a view of separate
/// ranges, in a random order, with bytes outside it.
fn view_of(len: usize, lens: &[u8], seed: u64) -> Vec<DmaVec> {
    let mut chunks = Vec::new();
    let mut at = 0u64;
    for (i, &cut) in lens.iter().cycle().take(64).enumerate() {
        if at >= len as u64 {
            break;
        }
        let size = (u64::from(cut) % 150 + 1).min(len as u64 - at);
        if i % 3 != 2 {
            chunks.push(DmaVec::new(BASE + at, size));
        }
        at += size;
    }
    let mut state = seed | 1;
    for i in (1..chunks.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        chunks.swap(i, (state >> 33) as usize % (i + 1));
    }
    chunks
}

/// The bytes a view names in `memory`, in view order.
fn model_of(memory: &[u8], view: &[DmaVec]) -> Model {
    let mut bytes = Vec::new();
    for segment in view {
        let start = (segment.addr - BASE) as usize;
        bytes.extend_from_slice(&memory[start..start + segment.len as usize]);
    }
    Model::new(bytes)
}

/// Every operation on one memory kind, against the model.
fn check<const S: bool>(lens: Vec<u8>, seed: u64, skip: u16, data: Vec<u8>, zero: u16) -> bool {
    if lens.is_empty() {
        return true;
    }
    let size = if cfg!(miri) { 300 } else { 1500 };
    let initial = pattern(size);
    let view = view_of(size, &lens, seed);
    let mut memory = Paged::<S>::new(initial.clone(), None);
    let mut model = model_of(&initial, &view);
    let skip = u64::from(skip) % (model.len() as u64 + 8);

    // Reading.
    let mut out = vec![0u8; data.len()];
    let mut expected = vec![0u8; data.len()];
    let count = SegView::new(&view, &memory).copy_to_slice(skip, &mut out);
    if count != Ok(model.copy_to_slice(skip, &mut expected)) || out != expected {
        return false;
    }

    // Writing, then zeroing.
    let mut writer = SegViewMut::new(&view, &mut memory);
    if writer.copy_from_slice(skip, &data) != Ok(model.copy_from_slice(skip, &data)) {
        return false;
    }
    let zero = u64::from(zero) % 200;
    if writer.zero(skip / 2, zero) != Ok(model.zero(skip / 2, zero as usize) as u64) {
        return false;
    }
    let mut all = vec![0u8; model.len()];
    if writer.copy_to_slice(0, &mut all) != Ok(model.len()) {
        return false;
    }
    if model.diff(&all).is_some() || !memory.balanced() {
        return false;
    }
    // Bytes outside the view are untouched.
    let now = memory.bytes();
    let mut inside = vec![false; size];
    for segment in &view {
        let start = (segment.addr - BASE) as usize;
        inside[start..start + segment.len as usize].fill(true);
    }
    (0..size).all(|i| inside[i] || now[i] == initial[i])
}

#[test]
fn prop_private_memory_copies_like_the_model() {
    checker(60).quickcheck(check::<false> as fn(Vec<u8>, u64, u16, Vec<u8>, u16) -> bool);
}

#[test]
fn prop_shared_memory_copies_like_the_model() {
    checker(60).quickcheck(check::<true> as fn(Vec<u8>, u64, u16, Vec<u8>, u16) -> bool);
}

#[test]
fn prop_pieces_give_the_view_in_order() {
    fn property(lens: Vec<u8>, seed: u64) -> TestResult {
        if lens.is_empty() {
            return TestResult::discard();
        }
        let size = if cfg!(miri) { 300 } else { 1500 };
        let initial = pattern(size);
        let view = view_of(size, &lens, seed);
        let model = model_of(&initial, &view);
        let mut memory = Paged::<false>::new(initial, None);
        let mut read = Vec::new();
        {
            let segments = SegView::new(&view, &memory);
            let mut pieces = segments.pieces();
            while let Some(piece) = pieces.next_slice() {
                let piece = piece.unwrap();
                assert!(!piece.is_empty() && piece.len() as u64 <= PAGE);
                read.extend_from_slice(piece);
            }
        }
        // Writing through the pieces: every byte of the view, inverted.
        {
            let mut segments = SegViewMut::new(&view, &mut memory);
            let mut pieces = segments.pieces_mut();
            while let Some(piece) = pieces.next_slice_mut() {
                piece.unwrap().iter_mut().for_each(|byte| *byte = !*byte);
            }
        }
        let inverted: Vec<u8> = model.bytes().iter().map(|byte| !byte).collect();
        let mut back = vec![0u8; model.len()];
        let count = SegView::new(&view, &memory).copy_to_slice(0, &mut back);
        TestResult::from_bool(
            model.diff(&read).is_none()
                && count == Ok(model.len())
                && back == inverted
                && memory.balanced(),
        )
    }
    checker(40).quickcheck(property as fn(Vec<u8>, u64) -> TestResult);
}

#[test]
fn a_hole_is_a_typed_error_naming_the_segment_and_the_bytes_before_it_are_copied() {
    fn run<const S: bool>() {
        let mut memory = Paged::<S>::new(pattern(4 * PAGE as usize), Some(2 * PAGE));
        // Segment 1 runs from page 1 into the hole at page 2.
        let view = [DmaVec::new(BASE, 4), DmaVec::new(BASE + PAGE + 60, 10)];
        let hole = DevError::Unmapped {
            index: 1,
            addr: BASE + 2 * PAGE,
        };
        let mut out = [0u8; 14];
        assert_eq!(
            SegView::new(&view, &memory).copy_to_slice(0, &mut out),
            Err(hole)
        );
        assert_eq!(
            out[..8],
            [pattern(256)[..4].to_vec(), pattern(256)[124..128].to_vec()].concat()
        );
        let mut writer = SegViewMut::new(&view, &mut memory);
        assert_eq!(writer.copy_from_slice(0, &[9; 14]), Err(hole));
        assert_eq!(writer.zero(2, 100), Err(hole));
        // Past the end of the memory, and an end that overflows.
        let far = [DmaVec::new(BASE + 4 * PAGE, 1)];
        assert_eq!(
            SegView::new(&far, &memory).copy_to_slice(0, &mut out),
            Err(DevError::Unmapped {
                index: 0,
                addr: BASE + 4 * PAGE
            })
        );
        let wraps = [DmaVec::new(u64::MAX, 2)];
        assert!(
            SegView::new(&wraps, &memory)
                .copy_to_slice(0, &mut out)
                .is_err()
        );
        assert!(memory.balanced());
        let now = memory.bytes();
        assert_eq!(now[..4], [9, 9, 0, 0]); // written, then zeroed from 2
        assert_eq!(now[4..8], pattern(256)[4..8]); // outside the view
        assert_eq!(now[124..128], [0; 4]);
    }
    run::<false>();
    run::<true>();
}

#[test]
fn pieces_stop_at_a_hole() {
    let mut memory = Paged::<false>::new(pattern(4 * PAGE as usize), Some(PAGE));
    let view = [DmaVec::new(BASE + 60, 10)];
    {
        let segments = SegView::new(&view, &memory);
        let mut pieces = segments.pieces();
        assert_eq!(pieces.next_slice().unwrap().unwrap().len(), 4);
        assert_eq!(
            pieces.next_slice(),
            Some(Err(DevError::Unmapped {
                index: 0,
                addr: BASE + PAGE
            }))
        );
        assert_eq!(pieces.next_slice(), None);
    }
    assert!(memory.balanced());
    let _ = memory.bytes();
}

/// `next_piece` / `next_piece_mut` on one memory kind: read the view in
/// order, then fill each piece and write it from a buffer by turns.
fn pieces_copy<const S: bool>(lens: Vec<u8>, seed: u64) -> TestResult {
    if lens.is_empty() {
        return TestResult::discard();
    }
    let size = if cfg!(miri) { 300 } else { 1500 };
    let initial = pattern(size);
    let view = view_of(size, &lens, seed);
    let mut model = model_of(&initial, &view);
    let original = model.bytes().to_vec();
    let mut memory = Paged::<S>::new(initial, None);
    let mut read = Vec::new();
    {
        let segments = SegView::new(&view, &memory);
        let mut pieces = segments.pieces();
        while let Some(piece) = pieces.next_piece() {
            let piece = piece.unwrap();
            let mut bytes = vec![0u8; piece.len() + 3];
            assert_eq!(piece.read_to(&mut bytes), piece.len());
            read.extend_from_slice(&bytes[..piece.len()]);
        }
    }
    {
        let mut segments = SegViewMut::new(&view, &mut memory);
        let mut pieces = segments.pieces_mut();
        let mut done = 0u64;
        let mut turn = 0u8;
        while let Some(piece) = pieces.next_piece_mut() {
            let mut piece = piece.unwrap();
            let len = piece.len();
            if turn % 2 == 0 {
                piece.fill(turn);
                model.copy_from_slice(done, &vec![turn; len]);
            } else {
                let source: Vec<u8> = (0..len).map(|i| i as u8 ^ turn).collect();
                assert_eq!(piece.write_from(&source), len);
                model.copy_from_slice(done, &source);
            }
            let mut back = vec![0u8; len];
            piece.read_to(&mut back);
            assert_eq!(back, model.bytes()[done as usize..done as usize + len]);
            done += len as u64;
            turn = turn.wrapping_add(1);
        }
        assert_eq!(done, model.len() as u64);
    }
    let mut all = vec![0u8; model.len()];
    let count = SegView::new(&view, &memory).copy_to_slice(0, &mut all);
    TestResult::from_bool(
        read == original
            && count == Ok(model.len())
            && model.diff(&all).is_none()
            && memory.balanced(),
    )
}

#[test]
fn prop_pieces_copy_like_the_model_on_private_and_shared_memory() {
    checker(30).quickcheck(pieces_copy::<false> as fn(Vec<u8>, u64) -> TestResult);
    checker(30).quickcheck(pieces_copy::<true> as fn(Vec<u8>, u64) -> TestResult);
}
