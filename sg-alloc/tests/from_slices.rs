//! Tables over a caller's slices: one entry per slice in order, empty
//! slices as empty entries, slices that cross pages or meet at a page
//! boundary, reads and writes that land in the slices themselves (against
//! the model), typed errors, and every array given back when an allocation
//! fails at any point.

use quickcheck::TestResult;
use sg_alloc::{SharedSliceTable, SlicePage, SlicePages, SliceTable};
use sg_core::{Error, PageProvider, SgList, SgListMut};
use sg_iter::{MappingIter, MappingIterMut};
use sg_testkit::{Model, for_each_chunk_failure};

/// Bytes in a page of process memory.
const PAGE: usize = 4096;

/// Pages in an [`Aligned`] buffer (fewer under Miri, where every byte
/// costs about a thousand times more).
const ALIGNED_PAGES: usize = if cfg!(miri) { 3 } else { 8 };

/// A page-aligned buffer, so that tests choose where page boundaries fall.
#[repr(C, align(4096))]
struct Aligned([u8; ALIGNED_PAGES * PAGE]);

fn aligned() -> Box<Aligned> {
    Box::new(Aligned([0; ALIGNED_PAGES * PAGE]))
}

/// Every byte of `list`, read through a mapping iterator (joining entries
/// that continue each other when `merge`), and the number of mappings.
fn read_all(list: SgList<'_, SlicePages>, merge: bool) -> (Vec<u8>, usize) {
    let mut reader = MappingIter::new(list);
    if merge {
        reader = reader.merge_adjacent();
    }
    let (mut bytes, mut mappings) = (Vec::new(), 0);
    while let Some(piece) = reader.next_slice() {
        bytes.extend_from_slice(piece);
        mappings += 1;
    }
    (bytes, mappings)
}

/// Writes `data` into `list` from its start; returns the bytes written.
fn write_all(list: SgListMut<'_, SlicePages>, data: &[u8], merge: bool) -> usize {
    let mut writer = MappingIterMut::new(list);
    if merge {
        writer = writer.merge_adjacent();
    }
    let mut done = 0;
    while let Some(piece) = writer.next_slice_mut() {
        let count = piece.len().min(data.len() - done);
        piece[..count].copy_from_slice(&data[done..done + count]);
        writer.consume(count);
        done += count;
        if done == data.len() {
            break;
        }
    }
    done
}

#[test]
fn one_entry_per_slice_in_order() {
    let mut header = *b"head";
    let mut body = vec![7u8; 2 * PAGE + 100];
    let mut trailer = *b"tail!";
    let mut iov: [&mut [u8]; 3] = [&mut header, &mut body, &mut trailer];
    let expected: Vec<u8> = iov.iter().flat_map(|slice| slice.iter().copied()).collect();
    let mut table = SliceTable::new(&mut iov).unwrap();

    assert_eq!((table.orig_nents(), table.nents()), (3, 3));
    assert_eq!(table.byte_len(), expected.len() as u64);
    let lengths: Vec<u32> = table.as_list().iter().map(|entry| entry.len()).collect();
    assert_eq!(lengths, [4, 2 * PAGE as u32 + 100, 5]);
    assert!(table.as_list().last_of(3).unwrap().is_last());
    for entry in table.as_list().iter() {
        assert!(entry.offset() < PAGE as u32, "{entry:?}");
    }
    assert_eq!(read_all(table.as_list(), false).0, expected);

    let data: Vec<u8> = (0..expected.len()).map(|index| index as u8).collect();
    assert_eq!(write_all(table.as_list_mut(), &data, false), data.len());
    drop(table);
    assert_eq!(&header, &data[..4]);
    assert_eq!(body, &data[4..4 + body.len()]);
    assert_eq!(&trailer, &data[data.len() - 5..]);
}

#[test]
fn empty_slices_are_empty_entries() {
    let (mut first, mut second) = (*b"ab", *b"cde");
    let (mut none, mut nothing): ([u8; 0], [u8; 0]) = ([], []);
    let mut iov: [&mut [u8]; 4] = [&mut none, &mut first, &mut nothing, &mut second];
    let table = SliceTable::new(&mut iov).unwrap();
    assert_eq!(table.orig_nents(), 4);
    assert_eq!(table.byte_len(), 5);
    let entries: Vec<(Option<SlicePage>, u32)> = table
        .as_list()
        .iter()
        .map(|entry| (entry.page(), entry.len()))
        .collect();
    assert!(entries[0].0.is_none() && entries[2].0.is_none());
    assert_eq!(
        entries.iter().map(|entry| entry.1).collect::<Vec<_>>(),
        [0, 2, 0, 3]
    );
    assert_eq!(table.as_list().segments().count(), 2);
    assert_eq!(read_all(table.as_list(), true).0, b"abcde");
}

#[test]
fn only_empty_slices_make_a_table_without_bytes() {
    let mut empty: [u8; 0] = [];
    let mut iov: [&mut [u8]; 1] = [&mut empty];
    let table = SliceTable::new(&mut iov).unwrap();
    assert_eq!((table.orig_nents(), table.byte_len()), (1, 0));
    assert_eq!(read_all(table.as_list(), false), (Vec::new(), 0));
}

#[test]
fn no_slices_is_an_error() {
    let mut iov: [&mut [u8]; 0] = [];
    assert_eq!(SliceTable::new(&mut iov).unwrap_err(), Error::NoEntries);
    let shared = SharedSliceTable::new(&[]);
    assert_eq!(shared.unwrap_err(), Error::NoEntries);
}

#[test]
fn slices_meeting_at_a_page_boundary_stay_apart() {
    let mut buffer = aligned();
    let (first, rest) = buffer.0.split_at_mut(PAGE);
    let (second, third) = rest.split_at_mut(PAGE + 10);
    let mut iov = [first, second, third];
    let mut table = SliceTable::new(&mut iov).unwrap();
    let list = table.as_list();
    let page = list.iter().map(|entry| entry.page().unwrap());
    let pages: Vec<SlicePage> = page.collect();
    let provider = list.provider();
    // The frames are consecutive, but the provider joins no two slices.
    assert_eq!(provider.pfn(pages[1]), provider.pfn(pages[0]) + 1);
    assert!(!provider.is_next(pages[0], 1, pages[1]));
    assert_eq!(read_all(list, true).1, 3);

    let data = vec![0xa5; ALIGNED_PAGES * PAGE];
    assert_eq!(write_all(table.as_list_mut(), &data, true), data.len());
    drop(table);
    assert!(buffer.0.iter().all(|&byte| byte == 0xa5));
}

#[test]
fn shared_slices_are_read_in_order_and_may_overlap() {
    let text = b"overlapping";
    let parts: [&[u8]; 3] = [&text[..4], &text[2..], b"!"];
    // Safe now: the table is read-only by its type.
    let table = SharedSliceTable::new(&parts).unwrap();
    assert_eq!(table.orig_nents(), 3);
    assert_eq!(read_all(table.as_list(), true).0, b"overerlapping!");
}

#[test]
fn tables_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SliceTable<'static>>();
    assert_send_sync::<SharedSliceTable<'static>>();
}

#[test]
fn the_provider_allocates_nothing() {
    let mut byte = [1u8];
    let mut iov: [&mut [u8]; 1] = [&mut byte];
    let table = SliceTable::new(&mut iov).unwrap();
    assert_eq!(
        table.provider().alloc_pages(0),
        Err(Error::PagesUnavailable { order: 0 })
    );
}

#[test]
fn every_chunk_failure_gives_back_every_array() {
    let mut buffers: Vec<Vec<u8>> = (0..10).map(|index| vec![index as u8; 3 + index]).collect();
    let expected: Vec<u8> = buffers.iter().flatten().copied().collect();
    // Ten entries in arrays of at most four slots: 3 + 3 + 4.
    let points = for_each_chunk_failure(Some(4), |chunks| {
        let mut iov: Vec<&mut [u8]> = buffers.iter_mut().map(Vec::as_mut_slice).collect();
        let table = SliceTable::new_in(&mut iov, chunks)?;
        assert_eq!((table.orig_nents(), table.arrays()), (10, 3));
        assert_eq!(read_all(table.as_list(), false).0, expected);
        Ok(())
    });
    assert_eq!(points, 3);

    let shared: Vec<&[u8]> = buffers.iter().map(Vec::as_slice).collect();
    let points = for_each_chunk_failure(Some(4), |chunks| {
        let table = SharedSliceTable::new_in(&shared, chunks)?;
        assert_eq!(read_all(table.as_list(), false).0, expected);
        Ok(())
    });
    assert_eq!(points, 3);
}

/// The longest slice a property case makes.
const MAX_SLICE: usize = if cfg!(miri) { PAGE + 300 } else { 3 * PAGE };

/// Carves slices of the given lengths out of `buffer`, in order, each
/// `gaps[i] % 3` bytes after the previous one (so slices often meet,
/// sometimes at a page boundary); stops when the buffer is used up.
fn carve<'b>(buffer: &'b mut [u8], lengths: &[u16], gaps: &[u8]) -> Vec<&'b mut [u8]> {
    let mut slices = Vec::new();
    let mut rest = buffer;
    for (index, &length) in lengths.iter().enumerate() {
        let gap = usize::from(gaps.get(index).copied().unwrap_or(0) % 3);
        // Often a whole number of pages, so that slices meet at boundaries.
        let length = match length % 4 {
            0 => PAGE,
            _ => usize::from(length) % (MAX_SLICE + 1),
        };
        if gap + length > rest.len() {
            break;
        }
        let (_, tail) = rest.split_at_mut(gap);
        let (slice, tail) = tail.split_at_mut(length);
        slices.push(slice);
        rest = tail;
    }
    slices
}

/// `len` bytes of the 256-byte pattern `byte(0), byte(1), ..`, repeated:
/// made a period at a time, as Miri interprets a byte-by-byte loop about a
/// thousand times slower than a copy.
fn repeated(len: usize, byte: impl Fn(u8) -> u8) -> Vec<u8> {
    let period: Vec<u8> = (0..=255).map(byte).collect();
    let mut bytes = Vec::with_capacity(len + period.len());
    while bytes.len() < len {
        bytes.extend_from_slice(&period);
    }
    bytes.truncate(len);
    bytes
}

/// Reading a table over slices yields their concatenation, and writing
/// `data` at `skip` changes exactly the model's bytes `skip..`, in the
/// slices themselves.
#[test]
fn prop_reads_and_writes_match_the_model() {
    fn property(lengths: Vec<u16>, gaps: Vec<u8>, skip: u16, seed: u8, merge: bool) -> TestResult {
        let mut buffer = aligned();
        buffer
            .0
            .copy_from_slice(&repeated(ALIGNED_PAGES * PAGE, |index| index ^ seed));
        let lengths = &lengths[..lengths.len().min(if cfg!(miri) { 4 } else { 12 })];
        let mut slices = carve(&mut buffer.0, lengths, &gaps);
        if slices.is_empty() {
            return TestResult::discard();
        }
        let mut model = Model::new(slices.concat());
        let count = slices.len();
        let mut table = SliceTable::new(&mut slices).unwrap();
        assert_eq!(table.orig_nents(), count);
        assert_eq!(table.byte_len(), model.len() as u64);
        let (bytes, _) = read_all(table.as_list(), merge);
        model.assert_eq_bytes(&bytes);

        let skip = u64::from(skip) % (model.len() as u64 + 1);
        let data = repeated(model.len() - skip as usize, |index| !index);
        let target = table
            .as_list_mut()
            .into_slice(skip, data.len() as u64)
            .unwrap();
        assert_eq!(write_all(target, &data, merge), data.len());
        model.copy_from_slice(skip, &data);
        drop(table);
        model.assert_eq_bytes(&slices.concat());
        TestResult::passed()
    }
    sg_testkit::checker(100)
        .quickcheck(property as fn(Vec<u16>, Vec<u8>, u16, u8, bool) -> TestResult);
}
