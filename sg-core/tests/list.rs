//! Lists built by hand across chained arrays: traversal, counting, last,
//! slicing.

use core::ptr::NonNull;

use quickcheck::{Gen, QuickCheck, TestResult};
use sg_core::{Error, SgEntry, SgList, chain, init_table};

mod common;

use common::{FRAMES, Frames};

/// Arrays on the heap, chained in order through the last slot of each.
struct HandBuilt {
    arrays: Vec<Box<[SgEntry<u64>]>>,
}

impl HandBuilt {
    /// `arrays[i]` lists the data lengths of array i; `None` leaves a slot
    /// that becomes a link (only the last slot of a non-last array).
    /// Pages are numbered by the order of data entries.
    fn new(arrays: &[&[u32]], link_only: &[usize]) -> Self {
        Self::build(arrays, link_only, false)
    }

    /// As [`new`](Self::new); with `counted`, every link carries the byte
    /// count of the array it ends, as the owning tables of sg-alloc make
    /// them, so that seeks pass whole arrays.
    fn build(arrays: &[&[u32]], link_only: &[usize], counted: bool) -> Self {
        let mut built: Vec<Box<[SgEntry<u64>]>> = Vec::new();
        let mut page = 0;
        let count = arrays.len();
        for (index, lengths) in arrays.iter().enumerate() {
            let linked = index + 1 < count;
            let slots = if link_only.contains(&index) {
                1
            } else {
                lengths.len() + usize::from(linked)
            };
            let mut array: Box<[SgEntry<u64>]> = (0..slots).map(|_| SgEntry::new()).collect();
            init_table(&mut array).unwrap();
            if !link_only.contains(&index) {
                for (slot, &length) in lengths.iter().enumerate() {
                    // SAFETY: `Frames` maps nothing, so no byte is reached.
                    unsafe { array[slot].set_page(page, 0, length) };
                    page += 1;
                }
                if linked {
                    array[slots - 1].unmark_end();
                }
            }
            built.push(array);
        }
        for index in (0..count.saturating_sub(1)).rev() {
            let (before, after) = built.split_at_mut(index + 1);
            let target = NonNull::from(&mut *after[0]);
            // SAFETY: the boxed arrays never move and live as long as `self`;
            // the chain only goes forward, so there is no cycle.
            unsafe { chain(&mut before[index], target) }.unwrap();
            if counted {
                // Written before the array becomes the target of the link
                // before it (the loop goes backwards), so that link's
                // pointer is made after every write to the array.
                let (link, data) = before[index].split_last_mut().unwrap();
                assert!(!data.iter().any(SgEntry::is_chain_or_last));
                let bytes = data.iter().map(|entry| u64::from(entry.len())).sum();
                // SAFETY: the link ends its array, after data entries
                // without the end mark whose lengths sum to `bytes`, and
                // nothing changes them afterwards.
                unsafe { link.set_array_bytes(bytes) };
            }
        }
        HandBuilt { arrays: built }
    }

    fn list(&self) -> SgList<'_, Frames> {
        // SAFETY: `Frames` maps nothing, so the view never reaches a byte.
        unsafe { SgList::new(&self.arrays[0], &FRAMES) }
    }
}

fn lengths(list: &SgList<'_, Frames>) -> Vec<u32> {
    list.iter().map(SgEntry::len).collect()
}

/// The (frame, offset, length) of each segment.
fn segments(list: &SgList<'_, Frames>) -> Vec<(u64, u64, u32)> {
    list.segments()
        .map(|segment| (segment.page, segment.offset, segment.len))
        .collect()
}

#[test]
fn walks_three_arrays_through_a_link_that_targets_a_link() {
    // Array 1 is a single slot that is itself a link: the link from array 0
    // lands on another link.
    let built = HandBuilt::new(&[&[10, 20], &[], &[30, 40, 50]], &[1]);
    let list = built.list();
    assert_eq!(lengths(&list), [10, 20, 30, 40, 50]);
    let pages: Vec<u64> = list.iter().filter_map(SgEntry::page).collect();
    assert_eq!(pages, [0, 1, 2, 3, 4]);
    assert_eq!(list.count(), 5);
    assert_eq!(list.byte_len(), 150);
    assert_eq!(list.count_for_len(0), Ok(0));
    assert_eq!(list.count_for_len(1), Ok(1));
    assert_eq!(list.count_for_len(10), Ok(1));
    assert_eq!(list.count_for_len(11), Ok(2));
    assert_eq!(list.count_for_len(31), Ok(3));
    assert_eq!(list.count_for_len(150), Ok(5));
    assert_eq!(
        list.count_for_len(151),
        Err(Error::ListTooShort {
            needed: 151,
            available: 150
        })
    );
    assert_eq!(list.last_of(5).map(SgEntry::len), Ok(50));
    assert_eq!(list.last_of(4), Err(Error::NotLast { index: 3 }));
    assert_eq!(
        list.last_of(6),
        Err(Error::TooFewEntries {
            requested: 6,
            available: 5
        })
    );
    assert_eq!(
        list.last_of(0),
        Err(Error::TooFewEntries {
            requested: 0,
            available: 5
        })
    );
}

#[test]
fn take_entries_limits_the_walk() {
    let built = HandBuilt::new(&[&[10, 20], &[30, 40, 50]], &[]);
    let list = built.list();
    let first_three = list.take_entries(3);
    assert_eq!(lengths(&first_three), [10, 20, 30]);
    assert_eq!(first_three.byte_len(), 60);
    assert_eq!(first_three.count(), 3);
    assert_eq!(list.take_entries(0).count(), 0);
    assert_eq!(list.take_entries(99).count(), 5);
    let slice = list.slice(15, 50).unwrap().take_entries(2);
    assert_eq!(slice.byte_len(), 15 + 30);
    assert!(slice.slice(40, 5).is_ok());
    assert!(slice.slice(40, 6).is_err());
}

#[test]
fn a_list_may_start_with_a_link() {
    let built = HandBuilt::new(&[&[], &[7, 8]], &[0]);
    let list = built.list();
    assert_eq!(lengths(&list), [7, 8]);
    assert_eq!(list.first().map(SgEntry::len), Some(7));
}

#[test]
fn the_end_mark_stops_the_walk_before_the_array_ends() {
    let mut entries: [SgEntry<u64>; 4] = Default::default();
    init_table(&mut entries).unwrap();
    for (index, entry) in entries.iter_mut().enumerate() {
        // SAFETY: `Frames` maps nothing, so no byte is reached.
        unsafe { entry.set_page(index as u64, 0, 1) };
    }
    entries[1].mark_end();
    // SAFETY: `Frames` maps nothing, so the view never reaches a byte.
    let list = unsafe { SgList::new(&entries, &FRAMES) };
    assert_eq!(list.count(), 2);
    assert_eq!(list.last_of(2).map(SgEntry::page), Ok(Some(1)));
}

#[test]
fn an_array_without_end_mark_ends_at_its_last_slot() {
    let mut entries: [SgEntry<u64>; 3] = Default::default();
    init_table(&mut entries).unwrap();
    entries[2].unmark_end();
    // SAFETY: `Frames` maps nothing, so the view never reaches a byte.
    let list = unsafe { SgList::new(&entries, &FRAMES) };
    assert_eq!(list.count(), 3);
    assert_eq!(list.last_of(3), Err(Error::NotLast { index: 2 }));
}

#[test]
fn an_empty_array_is_an_empty_list() {
    // SAFETY: `Frames` maps nothing, so the view never reaches a byte.
    let list = unsafe { SgList::new(&[], &FRAMES) };
    assert!(list.is_empty());
    assert_eq!(list.count(), 0);
    assert_eq!(list.byte_len(), 0);
    assert_eq!(list.count_for_len(0), Ok(0));
    assert_eq!(list.slice(0, 0).map(|slice| slice.count()), Ok(0));
    // One byte is more than the list holds, for counting and slicing alike.
    let too_short = Error::ListTooShort {
        needed: 1,
        available: 0,
    };
    assert_eq!(list.count_for_len(1), Err(too_short));
    assert_eq!(list.slice(0, 1).err(), Some(too_short));
}

#[test]
fn zero_length_entries_count_but_hold_no_bytes() {
    let built = HandBuilt::new(&[&[0, 5, 0], &[0, 5]], &[]);
    let list = built.list();
    assert_eq!(list.count(), 5);
    assert_eq!(list.count_for_len(5), Ok(2));
    assert_eq!(list.count_for_len(6), Ok(5));
    assert_eq!(list.segments().count(), 2);
}

#[test]
fn slices_trim_the_first_and_last_entries() {
    let built = HandBuilt::new(&[&[10, 20], &[30, 40]], &[]);
    let list = built.list();
    let slice = list.slice(15, 30).unwrap();
    assert_eq!(segments(&slice), [(1, 5, 15), (2, 0, 15)]);
    assert_eq!(slice.count(), 2);
    assert_eq!(slice.byte_len(), 30);
    assert_eq!(slice.count_for_len(16), Ok(2));
    // A slice of a slice.
    let inner = slice.slice(14, 2).unwrap();
    assert_eq!(segments(&inner), [(1, 19, 1), (2, 0, 1)]);
    // A split point on an entry boundary starts at the next entry.
    let at_boundary = list.slice(10, 1).unwrap();
    assert_eq!(at_boundary.first().and_then(SgEntry::page), Some(1));
    assert_eq!(
        list.slice(90, 11).map(|slice| slice.count()),
        Err(Error::ListTooShort {
            needed: 101,
            available: 100
        })
    );
    assert_eq!(list.slice(100, 0).map(|slice| slice.count()), Ok(0));
    assert!(matches!(
        list.slice(u64::MAX, 2),
        Err(Error::Overflow { .. })
    ));
}

/// A random list: data lengths, and the sizes of the arrays they go into.
fn build_random(lengths: &[u32], cuts: &[u8]) -> HandBuilt {
    build_random_counted(lengths, cuts, false)
}

/// As [`build_random`], with the array byte counts on the links when
/// `counted`.
fn build_random_counted(lengths: &[u32], cuts: &[u8], counted: bool) -> HandBuilt {
    let mut arrays: Vec<&[u32]> = Vec::new();
    let mut rest = lengths;
    for &cut in cuts {
        if rest.is_empty() {
            break;
        }
        // Mostly short arrays (many links), some long enough for the
        // walks' blocks of several entries.
        let most = if cut & 0x80 != 0 { 24 } else { 4 };
        let take = (usize::from(cut) % most + 1).min(rest.len());
        arrays.push(&rest[..take]);
        rest = &rest[take..];
    }
    if !rest.is_empty() || arrays.is_empty() {
        arrays.push(rest);
    }
    HandBuilt::build(&arrays, &[], counted)
}

/// Fewer and smaller cases under Miri, which runs about 1000 times slower.
fn checker() -> QuickCheck {
    if cfg!(miri) {
        QuickCheck::new().tests(8).rng(Gen::new(12))
    } else {
        QuickCheck::new().tests(500)
    }
}

#[test]
fn prop_count_for_len_is_the_shortest_prefix_that_covers_len() {
    // count_for_len(len) is the smallest k with sum(lengths[..k]) >= len.
    fn property(lengths: Vec<u16>, cuts: Vec<u8>, len: u32) -> TestResult {
        if lengths.is_empty() {
            return TestResult::discard();
        }
        let lengths: Vec<u32> = lengths.into_iter().map(u32::from).collect();
        let built = build_random(&lengths, &cuts);
        let list = built.list();
        let total: u64 = lengths.iter().map(|&length| u64::from(length)).sum();
        let len = u64::from(len) % (total + 2);
        let expected = if len == 0 {
            Ok(0)
        } else {
            let mut sum = 0u64;
            lengths
                .iter()
                .position(|&length| {
                    sum += u64::from(length);
                    sum >= len
                })
                .map(|index| index + 1)
                .ok_or(Error::ListTooShort {
                    needed: len,
                    available: total,
                })
        };
        assert_eq!(list.count(), lengths.len());
        TestResult::from_bool(list.count_for_len(len) == expected)
    }
    checker().quickcheck(property as fn(Vec<u16>, Vec<u8>, u32) -> TestResult);
}

#[test]
fn prop_slices_cover_exactly_their_byte_range() {
    // The segments of slice(skip, len) are the bytes skip..skip+len of the list.
    fn property(lengths: Vec<u8>, cuts: Vec<u8>, skip: u16, len: u16) -> TestResult {
        if lengths.is_empty() {
            return TestResult::discard();
        }
        let lengths: Vec<u32> = lengths.into_iter().map(u32::from).collect();
        let built = build_random(&lengths, &cuts);
        let list = built.list();
        // Every byte of the list as (page, offset).
        let bytes: Vec<(u64, u64)> = lengths
            .iter()
            .enumerate()
            .flat_map(|(page, &length)| (0..u64::from(length)).map(move |at| (page as u64, at)))
            .collect();
        let (skip, len) = (u64::from(skip) % 300, u64::from(len) % 300);
        let Ok(slice) = list.slice(skip, len) else {
            return TestResult::from_bool(skip + len > bytes.len() as u64);
        };
        let seen: Vec<(u64, u64)> = slice
            .segments()
            .flat_map(|segment| {
                (0..u64::from(segment.len)).map(move |at| (segment.page, segment.offset + at))
            })
            .collect();
        let expected = &bytes[skip as usize..(skip + len) as usize];
        TestResult::from_bool(seen == expected && slice.byte_len() == len)
    }
    checker().quickcheck(property as fn(Vec<u8>, Vec<u8>, u16, u16) -> TestResult);
}

#[test]
fn prop_skip_bytes_is_the_rest_of_the_view() {
    // The segments of skip_bytes(skip) are the bytes from skip on, of a whole
    // list (no byte count) and of a slice of it (a byte limit), across links.
    fn property(lengths: Vec<u8>, cuts: Vec<u8>, start: u16, skip: u16) -> TestResult {
        if lengths.is_empty() {
            return TestResult::discard();
        }
        let lengths: Vec<u32> = lengths.into_iter().map(u32::from).collect();
        let built = build_random(&lengths, &cuts);
        let list = built.list();
        let bytes: Vec<(u64, u64)> = lengths
            .iter()
            .enumerate()
            .flat_map(|(page, &length)| (0..u64::from(length)).map(move |at| (page as u64, at)))
            .collect();
        let total = bytes.len() as u64;
        let start = u64::from(start) % (total + 1);
        let Ok(slice) = list.slice(start, total - start) else {
            return TestResult::failed();
        };
        let skip = u64::from(skip) % (total + 3);
        let all_bytes = |view: SgList<'_, Frames>| -> Vec<(u64, u64)> {
            view.segments()
                .flat_map(|segment| {
                    (0..u64::from(segment.len)).map(move |at| (segment.page, segment.offset + at))
                })
                .collect()
        };
        let from = |at: u64| bytes[(at.min(total)) as usize..].to_vec();
        let whole = list.skip_bytes(skip);
        let part = slice.skip_bytes(skip);
        TestResult::from_bool(
            all_bytes(whole) == from(skip)
                && whole.byte_len() == total.saturating_sub(skip)
                && all_bytes(part) == from(start + skip)
                && part.byte_len() == total.saturating_sub(start + skip)
                // Skipping nothing keeps the view as it is, zero-length
                // entries included (which are data entries: not empty).
                && whole.is_empty()
                    == if skip == 0 {
                        list.is_empty()
                    } else {
                        skip >= total
                    },
        )
    }
    checker().quickcheck(property as fn(Vec<u8>, Vec<u8>, u16, u16) -> TestResult);
}

#[test]
fn skipping_nothing_of_a_zero_length_entry_keeps_it() {
    // The case quickcheck found: one entry of no bytes is a data entry, so
    // the view (and skipping nothing of it) is not empty; skipping past it is.
    let built = build_random(&[0], &[]);
    let list = built.list();
    assert!(!list.is_empty());
    assert_eq!(list.byte_len(), 0);
    assert!(!list.skip_bytes(0).is_empty());
    assert!(list.skip_bytes(1).is_empty());
}

/// The data entries `head_slots` describes: its slots up to the first link,
/// or through the first end mark; and whether a link ended them.
fn head_entries(slots: &[SgEntry<u64>]) -> (Vec<u32>, bool) {
    let mut lengths = Vec::new();
    for slot in slots {
        if slot.is_chain() {
            return (lengths, true);
        }
        lengths.push(slot.len());
        if slot.is_last() {
            break;
        }
    }
    (lengths, false)
}

#[test]
fn head_slots_stop_at_the_first_arrays_link() {
    let built = HandBuilt::new(&[&[10, 20], &[30, 40, 50]], &[]);
    let list = built.list();
    let slots = list.head_slots().unwrap();
    assert_eq!(slots.len(), 3);
    assert!(slots[2].is_chain() && slots[2].is_chain_or_last());
    assert!(!slots[0].is_chain_or_last());
    assert_eq!(head_entries(slots), (vec![10, 20], true));
    // A limit on entries bounds the slots; a byte range hides them.
    assert_eq!(list.take_entries(1).head_slots().unwrap().len(), 1);
    assert!(list.take_entries(0).head_slots().is_none());
    assert!(list.skip_bytes(5).head_slots().is_none());
    assert!(list.slice(0, 15).unwrap().head_slots().is_none());
    // Skipping whole entries leaves an untrimmed view.
    let rest = list.skip_bytes(30);
    assert_eq!(
        head_entries(rest.head_slots().unwrap()),
        (vec![30, 40, 50], false)
    );
    // A list that starts with a link starts its slots after it.
    let built = HandBuilt::new(&[&[], &[7, 8]], &[0]);
    assert_eq!(
        head_entries(built.list().head_slots().unwrap()),
        (vec![7, 8], false)
    );
}

#[test]
fn prop_head_slots_begin_the_view() {
    // The entries `head_slots` describes are the view's first entries; when
    // no link ends them, they are all of its entries.
    fn property(lengths: Vec<u32>, cuts: Vec<u8>, take: u8) -> TestResult {
        if lengths.is_empty() {
            return TestResult::discard();
        }
        let lengths: Vec<u32> = lengths.iter().map(|length| length % 100).collect();
        let built = build_random(&lengths, &cuts);
        let list = built.list().take_entries(usize::from(take % 8) + 1);
        let all = list.iter().map(SgEntry::len).collect::<Vec<_>>();
        let Some(slots) = list.head_slots() else {
            return TestResult::from_bool(all.is_empty());
        };
        let (head, linked) = head_entries(slots);
        TestResult::from_bool(all.starts_with(&head) && (linked || head == all))
    }
    checker().quickcheck(property as fn(Vec<u32>, Vec<u8>, u8) -> TestResult);
}

#[test]
fn counts_and_skips_agree_with_the_walk_around_every_stop_and_limit() {
    // One array of 40 entries of lengths 1, 2, 3, ...: at every slot (and
    // none) an end mark, or a link to an array of two more entries; every
    // entry limit and every skip, checked against the entry-by-entry walk.
    // Under Miri, 12 entries: still more than one block of the walks.
    let slots = if cfg!(miri) { 12 } else { 40 };
    let stops: Vec<usize> = if cfg!(miri) {
        vec![0, 8, 9, 12]
    } else {
        (0..=slots).collect()
    };
    for stop in stops {
        for link in [false, true] {
            let mut tail: Vec<SgEntry<u64>> = (0..2).map(|_| SgEntry::new()).collect();
            init_table(&mut tail).unwrap();
            for (index, entry) in tail.iter_mut().enumerate() {
                // SAFETY: `Frames` maps nothing, so no byte is reached.
                unsafe { entry.set_page(100 + index as u64, 0, 100 + index as u32) };
            }
            let mut entries: Vec<SgEntry<u64>> = (0..slots).map(|_| SgEntry::new()).collect();
            init_table(&mut entries).unwrap();
            for (index, entry) in entries.iter_mut().enumerate() {
                // SAFETY: `Frames` maps nothing, so no byte is reached.
                unsafe { entry.set_page(index as u64, 0, index as u32 + 1) };
            }
            entries[slots - 1].unmark_end();
            if stop < slots {
                if link {
                    // SAFETY: `tail` outlives the views below and is not
                    // touched while linked; it links nowhere.
                    unsafe { entries[stop].set_link(NonNull::from(&mut tail[..])) };
                } else {
                    entries[stop].mark_end();
                }
            }
            // SAFETY: `Frames` maps nothing, so the view never reaches a byte.
            let list = unsafe { SgList::new(&entries, &FRAMES) };
            check_counts_and_skips(list, &format!("stop {stop}, link {link}"));
        }
    }
}

/// `count` and `skip_bytes` of `list` under every entry limit, against the
/// entry-by-entry walk.
fn check_counts_and_skips(list: SgList<'_, Frames>, case: &str) {
    // Under Miri, the limits around the first block and none, and every
    // third skip.
    let limits: Vec<usize> = if cfg!(miri) {
        vec![0, 1, 8, 9, usize::MAX]
    } else {
        (0..=list.iter().count() + 1).collect()
    };
    for limit in limits {
        let view = list.take_entries(limit);
        let walked: Vec<u32> = view.iter().map(SgEntry::len).collect();
        assert_eq!(view.count(), walked.len(), "{case}, limit {limit}");
        let total: u64 = walked.iter().map(|&len| u64::from(len)).sum();
        // Every skip near an entry boundary, and a few inside the long tail
        // entries.
        for skip in 0..=total + 1 {
            if (skip > 830 && skip % 37 != 0 && skip < total) || (cfg!(miri) && skip % 3 != 0) {
                continue;
            }
            let mut left = skip;
            let mut expected = Vec::new();
            for &len in &walked {
                let len = u64::from(len);
                if left >= len {
                    left -= len;
                    continue;
                }
                expected.push(len - left);
                left = 0;
            }
            let got: Vec<u64> = view
                .skip_bytes(skip)
                .segments()
                .map(|segment| u64::from(segment.len))
                .collect();
            assert_eq!(got, expected, "{case}, limit {limit}, skip {skip}");
        }
    }
}

#[test]
fn seeks_pass_counted_arrays_and_land_where_the_walk_does() {
    // Arrays of 10 + 20 (link), 30 + 40 (link), 50: every skip and every
    // entry limit, with the counts on the links and without.
    let arrays: [&[u32]; 3] = [&[10, 20], &[30, 40], &[50]];
    let plain = HandBuilt::new(&arrays, &[]);
    let counted = HandBuilt::build(&arrays, &[], true);
    assert_eq!(counted.arrays[0][2].array_bytes(), Some(30));
    assert_eq!(counted.arrays[1][2].array_bytes(), Some(70));
    for limit in 0..=6 {
        let (plain, counted) = (
            plain.list().take_entries(limit),
            counted.list().take_entries(limit),
        );
        assert_eq!(counted.count(), plain.count(), "limit {limit}");
        // Under Miri, every skip near an array's end and every seventh.
        for skip in (0..=160).filter(|skip| {
            !cfg!(miri) || skip % 7 == 0 || (29..=31).contains(skip) || (99..=101).contains(skip)
        }) {
            assert_eq!(
                segments(&counted.skip_bytes(skip)),
                segments(&plain.skip_bytes(skip)),
                "limit {limit}, skip {skip}"
            );
        }
    }
    // From the second entry of the first array the count of that array
    // (from its first entry) does not apply.
    let inside = counted.list().skip_bytes(12);
    assert_eq!(
        segments(&inside.skip_bytes(30)),
        [(2, 12, 18), (3, 0, 40), (4, 0, 50)]
    );
}

#[test]
fn prop_seeks_over_counted_arrays_agree_with_the_walk() {
    // The same random lists with and without counts on their links: every
    // skip (and a skip from a skipped view, which starts inside an array)
    // lands on the same bytes, under any entry limit.
    fn property(
        lengths: Vec<u16>,
        cuts: Vec<u8>,
        limit: u8,
        first: u16,
        second: u16,
    ) -> TestResult {
        if lengths.is_empty() {
            return TestResult::discard();
        }
        let lengths: Vec<u32> = lengths.into_iter().map(u32::from).collect();
        let plain = build_random(&lengths, &cuts);
        let counted = build_random_counted(&lengths, &cuts, true);
        let limit = if limit == u8::MAX {
            usize::MAX
        } else {
            usize::from(limit)
        };
        let (plain, counted) = (
            plain.list().take_entries(limit),
            counted.list().take_entries(limit),
        );
        let (first, second) = (u64::from(first), u64::from(second));
        let total = plain.byte_len();
        let skips = [
            first,
            first + second,
            total / 2,
            total.saturating_sub(1),
            total,
        ];
        let same = skips
            .iter()
            .all(|&skip| segments(&counted.skip_bytes(skip)) == segments(&plain.skip_bytes(skip)));
        let twice = segments(&counted.skip_bytes(first).skip_bytes(second))
            == segments(&plain.skip_bytes(first + second));
        // Counts too, from the start and from inside an array.
        let counts = counted.count() == plain.count()
            && counted.skip_bytes(first).count() == plain.skip_bytes(first).count();
        TestResult::from_bool(same && twice && counts)
    }
    checker().quickcheck(property as fn(Vec<u16>, Vec<u8>, u8, u16, u16) -> TestResult);
}

#[test]
fn the_first_of_several_end_marks_in_one_block_ends_the_walk() {
    // As after `init_table` (the last slot marked) and a mark put on an
    // earlier entry, and one more: three marks, two of them among the
    // first eight slots. Count and seek stop at the first, whatever the
    // other marks in the same block.
    let mut entries: Vec<SgEntry<u64>> = (0..12).map(|_| SgEntry::new()).collect();
    init_table(&mut entries).unwrap();
    for (index, entry) in entries.iter_mut().enumerate() {
        // SAFETY: `Frames` maps nothing, so no byte is reached.
        unsafe { entry.set_page(index as u64, 0, 10) };
    }
    entries[2].mark_end();
    entries[5].mark_end();
    // SAFETY: `Frames` maps nothing, so the view never reaches a byte.
    let list = unsafe { SgList::new(&entries, &FRAMES) };
    assert_eq!(list.count(), 3);
    assert_eq!(list.iter().count(), 3);
    assert_eq!(segments(&list.skip_bytes(25)), [(2, 5, 5)]);
    assert!(list.skip_bytes(30).is_empty());
    assert!(list.skip_bytes(55).is_empty());
}
