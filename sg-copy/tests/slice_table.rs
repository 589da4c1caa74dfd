//! Copies through tables over a caller's slices (`sg_alloc::SliceTable`),
//! whose neighbouring slices may meet at a page boundary: the fast path
//! for linear providers must copy each slice through its own pointer, and
//! every copy matches the model.

use quickcheck::TestResult;
use sg_alloc::SliceTable;
use sg_copy::{copy_from_slice, copy_list, copy_to_slice, zero};
use sg_testkit::Model;

/// Bytes in a page of process memory.
const PAGE: usize = 4096;

/// Pages in an [`Aligned`] buffer (fewer under Miri, where every byte
/// costs about a thousand times more).
const ALIGNED_PAGES: usize = if cfg!(miri) { 3 } else { 6 };

/// A page-aligned buffer, so that tests choose where page boundaries fall.
#[repr(C, align(4096))]
struct Aligned([u8; ALIGNED_PAGES * PAGE]);

fn aligned(seed: u8) -> Box<Aligned> {
    let mut buffer = Box::new(Aligned([0; ALIGNED_PAGES * PAGE]));
    for (index, byte) in buffer.0.iter_mut().enumerate() {
        *byte = (index as u8).wrapping_mul(7) ^ seed;
    }
    buffer
}

/// Cuts `buffer` into consecutive slices at the given cut points (in
/// pages or bytes), so that many meet exactly at a page boundary.
fn cut<'b>(buffer: &'b mut [u8], cuts: &[u16]) -> Vec<&'b mut [u8]> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&cut| {
            if cut % 2 == 0 {
                usize::from(cut / 2) % (ALIGNED_PAGES + 1) * PAGE
            } else {
                usize::from(cut) % (buffer.len() + 1)
            }
        })
        .collect();
    points.push(buffer.len());
    points.sort_unstable();
    let mut slices = Vec::new();
    let mut rest = buffer;
    let mut at = 0;
    for point in points {
        let (slice, tail) = rest.split_at_mut(point - at);
        slices.push(slice);
        rest = tail;
        at = point;
    }
    slices
}

#[test]
fn slices_meeting_at_page_boundaries_copy_in_and_out() {
    let mut buffer = aligned(0);
    let mut slices = cut(&mut buffer.0, &[2, 4, 5]);
    let mut table = SliceTable::new(&mut slices).unwrap();
    let data = vec![0x5a; ALIGNED_PAGES * PAGE];
    assert_eq!(copy_from_slice(table.as_list_mut(), 0, &data), data.len());
    let mut out = vec![0; data.len()];
    assert_eq!(copy_to_slice(table.as_list(), 0, &mut out), data.len());
    assert_eq!(out, data);
    assert_eq!(zero(table.as_list_mut(), PAGE as u64 - 3, 6), 6);
    drop(table);
    assert_eq!(
        &buffer.0[PAGE - 4..PAGE + 4],
        [0x5a, 0, 0, 0, 0, 0, 0, 0x5a]
    );
}

/// Copying into, out of, zeroing and copying between tables over slices
/// of page-aligned buffers does to the slices exactly what it does to the
/// model.
#[test]
fn prop_copies_match_the_model() {
    fn property(cuts: Vec<u16>, other_cuts: Vec<u16>, skip: u16, len: u16) -> TestResult {
        let cuts = &cuts[..cuts.len().min(6)];
        let other_cuts = &other_cuts[..other_cuts.len().min(6)];
        let mut buffer = aligned(1);
        let mut model = Model::new(buffer.0.to_vec());
        let mut slices = cut(&mut buffer.0, cuts);
        let mut table = SliceTable::new(&mut slices).unwrap();
        let total = model.len() as u64;
        let skip = u64::from(skip) * 3 % (total + 1);
        let len = usize::from(len) * 2 % (model.len() + 1);

        let data: Vec<u8> = (0..len).map(|index| !(index as u8)).collect();
        assert_eq!(
            copy_from_slice(table.as_list_mut(), skip, &data),
            model.copy_from_slice(skip, &data)
        );
        let mut out = vec![0; len];
        let mut expected = vec![0; len];
        assert_eq!(
            copy_to_slice(table.as_list(), skip, &mut out),
            model.copy_to_slice(skip, &mut expected)
        );
        assert_eq!(out, expected);
        assert_eq!(
            zero(table.as_list_mut(), skip / 2, len as u64 / 3),
            model.zero(skip / 2, len / 3) as u64
        );

        // From this table into another over a second buffer.
        let mut other = aligned(2);
        let mut other_model = Model::new(other.0.to_vec());
        let mut other_slices = cut(&mut other.0, other_cuts);
        let mut other_table = SliceTable::new(&mut other_slices).unwrap();
        let copied = copy_list(
            other_table.as_list_mut(),
            skip / 3,
            table.as_list(),
            skip,
            len as u64,
        );
        assert_eq!(
            copied,
            other_model.copy_from_model(skip / 3, &model, skip, len) as u64
        );
        drop((table, other_table));
        model.assert_eq_bytes(&buffer.0);
        other_model.assert_eq_bytes(&other.0);
        TestResult::passed()
    }
    sg_testkit::checker(100).quickcheck(property as fn(Vec<u16>, Vec<u16>, u16, u16) -> TestResult);
}
