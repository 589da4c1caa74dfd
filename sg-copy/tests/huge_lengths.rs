//! Lengths near and past `u32::MAX`: entries of `u32::MAX` bytes, lists
//! whose byte counts pass `u32::MAX` (and a 32-bit `usize`), entry counts
//! that overflow `usize`, and copies, skips and seeks past 4 GiB.
//!
//! Nothing here needs the memory it describes: frames without memory for
//! the builders and walks, and pages that come into being when mapped for
//! the copies. So the file runs on 64-bit hosts in the tests, and on a
//! 32-bit target under Miri in `cargo xtask ci` (step `miri32`:
//! `cargo miri test --target i686-unknown-linux-gnu --test huge_lengths`),
//! where a `usize` is narrower than the lengths.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom};
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sg_alloc::{AppendPages, AppendTable, PageList, SgTable, split};
use sg_copy::{ListReader, copy_from_slice, copy_to_slice, zero};
use sg_core::{DmaLimits, Error, PageProvider, Pages, SgEntry, SgList, SgListMut, init_table};
use sg_iter::{MappingIter, PageIter};
use sg_testkit::{CountedFrames, FramePages};

/// `u32::MAX` as the `u64` that byte counts are.
const MAX: u64 = u32::MAX as u64;

/// Bytes in a page of [`LazyPages`] and of the 4 KiB frames.
const PAGE: usize = 4096;

/// Entries of `u32::MAX` bytes over frames far apart, so that none
/// continues another.
fn long_entries() -> [SgEntry<u64>; 3] {
    let mut entries: [SgEntry<u64>; 3] = Default::default();
    init_table(&mut entries).unwrap();
    for (index, entry) in entries.iter_mut().enumerate() {
        // SAFETY: the lists are only walked through `FramePages` (which
        // never maps) or `LazyPages` (whose every frame exists).
        unsafe { entry.set_page(index as u64 * (1 << 21), 0, u32::MAX) };
    }
    entries
}

#[test]
fn lists_of_entries_of_u32_max_bytes_count_past_u32() {
    let frames = FramePages::<PAGE>;
    let entries = long_entries();
    // SAFETY: `FramePages` never maps, so the view reaches no byte.
    let list = unsafe { SgList::new(&entries, &frames) };
    assert_eq!((list.count(), list.byte_len()), (3, 3 * MAX));
    assert_eq!(list.count_for_len(MAX), Ok(1));
    assert_eq!(list.count_for_len(MAX + 1), Ok(2));
    assert_eq!(list.count_for_len(3 * MAX), Ok(3));
    assert_eq!(
        list.count_for_len(3 * MAX + 1),
        Err(Error::ListTooShort {
            needed: 3 * MAX + 1,
            available: 3 * MAX
        })
    );
    assert!(list.last_of(3).is_ok());

    // Slices across the entries, past 4 GiB.
    let middle = list.slice(MAX - 1, 3).unwrap();
    let lengths: Vec<u32> = middle.segments().map(|segment| segment.len).collect();
    assert_eq!(lengths, [1, 2]);
    let tail = list.slice(2 * MAX + 5, MAX - 5).unwrap();
    let segment = tail.segments().next().unwrap();
    assert_eq!((segment.offset, segment.len), (5, u32::MAX - 5));
    assert_eq!(
        list.slice(2 * MAX, MAX + 1).err(),
        Some(Error::ListTooShort {
            needed: 3 * MAX + 1,
            available: 3 * MAX
        })
    );
    let inner = tail.slice(MAX - 6, 1).unwrap();
    assert_eq!(
        inner.segments().next().map(|segment| segment.offset),
        Some(MAX - 1)
    );

    // Pages: 2^20 per entry; start two pages before the end.
    let pages: Vec<u64> = PageIter::new(list, 3 * (1 << 20) - 2).collect();
    assert_eq!(
        pages,
        [(2 << 21) + (1 << 20) - 2, (2 << 21) + (1 << 20) - 1]
    );
}

#[test]
fn dma_counts_of_entries_of_u32_max_bytes() {
    let frames = FramePages::<PAGE>;
    let entries = long_entries();
    // SAFETY: `FramePages` never maps, so the view reaches no byte.
    let list = unsafe { SgList::new(&entries, &frames) };
    assert_eq!(list.count_for_dma(u32::MAX), Ok(3));
    assert_eq!(list.count_for_dma(1 << 31), Ok(6));
    assert_eq!(list.count_for_dma(4096), Ok(3 << 20));
    // Pieces of one byte: 3 * (2^32 - 1) of them, past a 32-bit `usize`.
    let pieces = if usize::BITS < 64 {
        Err(Error::Overflow {
            what: "segment count",
        })
    } else {
        Ok((3 * MAX) as usize)
    };
    assert_eq!(list.count_for_dma(1), pieces);
    assert_eq!(list.take_entries(1).count_for_dma(1), Ok(u32::MAX as usize));
    assert_eq!(list.count_dma_segments(&DmaLimits::unlimited()), Ok(3));
    assert_eq!(
        list.count_dma_segments(&DmaLimits::new()),
        Err(Error::EntryNeedsSplit {
            index: 0,
            len: u32::MAX
        })
    );
}

/// Frames of 16 MiB: 256 of them are 4 GiB, past an entry's `u32`.
type BigFrames = FramePages<{ 1 << 24 }>;

/// Frames of 2 GiB, the largest page a provider may have.
type HugeFrames = FramePages<{ 1 << 31 }>;

/// The test's frames as a set.
fn raw<const SIZE: usize>(
    frames: FramePages<SIZE>,
    handles: &[u64],
) -> Pages<FramePages<SIZE>, &[u64]> {
    // SAFETY: `FramePages` never maps, so no byte of a page is ever reached.
    unsafe { Pages::from_raw(frames, handles) }
}

fn lengths<P: PageProvider>(list: SgList<'_, P>) -> Vec<u32> {
    list.iter().map(|entry| entry.len()).collect()
}

#[test]
fn builders_cut_runs_at_u32_max_rounded_to_pages() {
    let pages: Vec<u64> = (0..258).collect();
    let table = SgTable::from_pages(raw(BigFrames::default(), &pages), 7, (258 << 24) - 7).unwrap();
    assert_eq!(lengths(table.as_list()), [(255 << 24) - 7, 3 << 24]);
    assert_eq!(table.byte_len(), (258 << 24) - 7);

    // Pages of 2 GiB: one per entry, 6 GiB in all.
    let pages: Vec<u64> = (0..3).collect();
    let table = SgTable::from_pages(raw(HugeFrames::default(), &pages), 0, 3 << 31).unwrap();
    assert_eq!(lengths(table.as_list()), [1 << 31; 3]);
    assert_eq!(table.byte_len(), 3 << 31);
    let pieces = split(table.as_list(), 1, &[MAX + 1, (1 << 31) - 2]).unwrap();
    assert_eq!(lengths(pieces[0].as_list()), [(1 << 31) - 1, 1 << 31, 1]);
    assert_eq!(lengths(pieces[1].as_list()), [(1 << 31) - 2]);
    assert_eq!(pieces[1].as_list().first().map(SgEntry::offset), Some(1));
    drop(pieces);

    // Appending 2 GiB pages, merging up to the rounded limit.
    let pages: Vec<u64> = (0..258).collect();
    let mut append = AppendTable::new(raw(BigFrames::default(), &pages));
    append
        .append_pages(AppendPages::new(0..200, 200 << 24).left_pages(58))
        .unwrap();
    append
        .append_pages(AppendPages::new(200..258, 58 << 24))
        .unwrap();
    let table = append.finish().unwrap();
    assert_eq!(lengths(table.as_list()), [255 << 24, 3 << 24]);
    assert_eq!(
        SgTable::from_pages(raw(HugeFrames::default(), &[0]), 0, 1 << 31 | 1).err(),
        Some(Error::SizeTooLarge {
            size: (1 << 31) + 1,
            available: 1 << 31
        })
    );
}

#[test]
fn page_lists_of_4_gib_and_more() {
    let frames = CountedFrames::<PAGE>::new();
    // Order 19: 2 GiB per entry, the most an order gives on 32-bit targets.
    let list = PageList::builder(&frames, 5 << 30)
        .order(19)
        .build()
        .unwrap();
    assert_eq!(lengths(list.as_list()), [1 << 31, 1 << 31, 1 << 30]);
    assert_eq!(list.byte_len(), 5 << 30);
    drop(list);
    frames.assert_clean();

    // Order 20 pages are 4 GiB: past an entry's length, and past a 32-bit
    // `usize`.
    let what = if usize::BITS < 64 {
        "pages of the order"
    } else {
        "entry length of the order"
    };
    assert_eq!(
        PageList::builder(&frames, 1).order(20).build().err(),
        Some(Error::Overflow { what })
    );
    // Entry counts past a 32-bit `usize` (on 64-bit hosts these would be
    // tables of 128 GiB and more: only the 32-bit run asks).
    if usize::BITS < 64 {
        let count = Error::Overflow {
            what: "entry count",
        };
        for length in [(MAX + 1) * PAGE as u64, u64::MAX] {
            assert_eq!(PageList::new(&frames, length).err(), Some(count));
        }
        // 2^27 entries fit a `usize`, but not their 4 GiB of arrays.
        let table = Error::Overflow {
            what: "table of entries",
        };
        assert_eq!(
            PageList::new(&frames, (1 << 27) * PAGE as u64).err(),
            Some(table)
        );
    }
    for count in [
        usize::MAX,
        usize::MAX / 32 + 1,
        isize::MAX as usize / 32 + 1,
    ] {
        assert_eq!(
            SgTable::new(&frames, count).err(),
            Some(Error::Overflow {
                what: "table of entries"
            })
        );
    }
    frames.assert_clean();
}

/// Pages that exist for every frame number, whose bytes are a pattern of
/// the frame until written: mapping hands out a copy of the page, which
/// is kept when it is released. A list over them may describe any number
/// of bytes while the memory holds only the pages mapped so far.
#[derive(Default)]
struct LazyPages {
    written: Mutex<HashMap<u64, Box<[u8]>>>,
    live: AtomicUsize,
}

/// Byte `at` of frame `pfn` of [`LazyPages`] until it is written.
fn pattern(pfn: u64, at: usize) -> u8 {
    (pfn.wrapping_mul(131) as u8) ^ (at as u8).wrapping_mul(7) ^ ((at >> 8) as u8)
}

// SAFETY: a mapping is a heap copy of `PAGE` initialised bytes that lives
// until `unmap` takes it back; the provider touches no mapping while it is
// live; frame numbers are the handles, so `nth` adds to them and they are
// truthful; nothing is allocated.
unsafe impl PageProvider for LazyPages {
    type Page = u64;
    type Pfn = u64;
    const PAGE_SIZE: usize = PAGE;

    fn pfn(&self, page: u64) -> u64 {
        page
    }

    fn nth(&self, page: u64, n: usize) -> u64 {
        page + n as u64
    }

    fn map(&self, page: u64) -> NonNull<u8> {
        let written = self.written.lock().unwrap();
        let bytes = match written.get(&page) {
            Some(bytes) => bytes.clone(),
            None => (0..PAGE).map(|at| pattern(page, at)).collect(),
        };
        self.live.fetch_add(1, Ordering::Relaxed);
        NonNull::from(Box::leak(bytes)).cast()
    }

    unsafe fn unmap(&self, page: u64, mapping: NonNull<u8>) {
        let bytes = NonNull::slice_from_raw_parts(mapping, PAGE);
        // SAFETY: `mapping` is a `Box<[u8]>` of `PAGE` bytes that `map`
        // leaked, released once (the caller's promise).
        let bytes = unsafe { Box::from_raw(bytes.as_ptr()) };
        self.written.lock().unwrap().insert(page, bytes);
        self.live.fetch_sub(1, Ordering::Relaxed);
    }

    fn alloc_pages(&self, order: u32) -> Result<u64, Error> {
        Err(Error::PagesUnavailable { order })
    }

    unsafe fn free_pages(&self, _page: u64, _order: u32) {}
}

/// The list of [`long_entries`] plus a short entry: its byte at `position`,
/// as [`LazyPages`] makes it before anything is written.
fn expected_byte(entries: &[SgEntry<u64>], position: u64) -> u8 {
    let mut left = position;
    for entry in entries {
        let length = u64::from(entry.len());
        if left < length {
            let at = u64::from(entry.offset()) + left;
            return pattern(
                entry.page().unwrap() + at / PAGE as u64,
                (at % PAGE as u64) as usize,
            );
        }
        left -= length;
    }
    panic!("position {position} is past the list")
}

/// A list of 8 GiB and 100 bytes: `u32::MAX` bytes, 100 bytes from an
/// offset past a page, and `u32::MAX` bytes.
fn lazy_entries() -> [SgEntry<u64>; 3] {
    let mut entries = long_entries();
    // SAFETY: as in `long_entries`.
    unsafe { entries[1].set_page(1 << 21, 5000, 100) };
    entries
}

/// Bytes of [`lazy_entries`].
const LAZY_BYTES: u64 = 2 * MAX + 100;

#[test]
fn copies_and_skips_past_4_gib() {
    let pages = LazyPages::default();
    let mut entries = lazy_entries();
    let expected = |positions: std::ops::Range<u64>| -> Vec<u8> {
        let entries = lazy_entries();
        positions
            .map(|position| expected_byte(&entries, position))
            .collect()
    };

    // Reading across the first boundary past u32::MAX.
    // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
    // and the entries lie on disjoint frames; nothing else reaches them.
    let list = unsafe { SgList::new(&entries, &pages) };
    assert_eq!(list.byte_len(), LAZY_BYTES);
    let mut buffer = [0u8; 8];
    assert_eq!(copy_to_slice(list, MAX - 3, &mut buffer), 8);
    assert_eq!(buffer.to_vec(), expected(MAX - 3..MAX + 5));
    let mut reader = MappingIter::new(list);
    assert!(reader.advance(MAX + 99).is_ok());
    assert_eq!(
        reader.next_slice().map(|bytes| bytes[0]),
        Some(expected(MAX + 99..MAX + 100)[0])
    );
    assert!(reader.advance(u64::MAX).is_err());
    drop(reader);

    // Writing and zeroing 2 GiB into the last entry, past 6 GiB.
    let far = MAX + 100 + (1 << 31) + 3;
    let written = copy_from_slice(
        // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
        // and the entries lie on disjoint frames; nothing else reaches them.
        unsafe { SgListMut::new(&mut entries, &pages) },
        far,
        b"past 6 GiB",
    );
    assert_eq!(written, 10);
    // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
    // and the entries lie on disjoint frames; nothing else reaches them.
    let list = unsafe { SgList::new(&entries, &pages) };
    let mut back = [0u8; 10];
    assert_eq!(copy_to_slice(list, far, &mut back), 10);
    assert_eq!(&back, b"past 6 GiB");
    assert_eq!(
        // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
        // and the entries lie on disjoint frames; nothing else reaches them.
        zero(unsafe { SgListMut::new(&mut entries, &pages) }, far + 4, 2),
        2
    );
    // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
    // and the entries lie on disjoint frames; nothing else reaches them.
    let list = unsafe { SgList::new(&entries, &pages) };
    assert_eq!(copy_to_slice(list, far, &mut back), 10);
    assert_eq!(&back, b"past\0\0 GiB");
    // The last bytes of the list, and nothing past them.
    assert_eq!(copy_to_slice(list, LAZY_BYTES - 2, &mut back), 2);
    assert_eq!(back[..2].to_vec(), expected(LAZY_BYTES - 2..LAZY_BYTES));
    assert_eq!(
        zero(
            // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
            // and the entries lie on disjoint frames; nothing else reaches them.
            unsafe { SgListMut::new(&mut entries, &pages) },
            LAZY_BYTES - 1,
            u64::MAX
        ),
        1
    );
    assert_eq!(
        copy_to_slice(
            // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
            // and the entries lie on disjoint frames; nothing else reaches them.
            unsafe { SgList::new(&entries, &pages) },
            LAZY_BYTES,
            &mut back
        ),
        0
    );

    // Seeking a reader past 4 GiB.
    // SAFETY: every frame of `LazyPages` exists (a mapping is a copy of it),
    // and the entries lie on disjoint frames; nothing else reaches them.
    let mut reader = ListReader::new(unsafe { SgList::new(&entries, &pages) });
    assert_eq!(reader.len(), LAZY_BYTES);
    assert_eq!(reader.seek(SeekFrom::Start(MAX + 10)).unwrap(), MAX + 10);
    let mut bytes = [0u8; 4];
    reader.read_exact(&mut bytes).unwrap();
    assert_eq!(bytes.to_vec(), expected(MAX + 10..MAX + 14));
    assert_eq!(reader.seek(SeekFrom::End(-1)).unwrap(), LAZY_BYTES - 1);
    assert_eq!(reader.read(&mut bytes).unwrap(), 1);
    assert_eq!(bytes[0], 0, "zeroed above");
    drop(reader);
    assert_eq!(
        pages.live.load(Ordering::Relaxed),
        0,
        "every mapping was released"
    );
}
