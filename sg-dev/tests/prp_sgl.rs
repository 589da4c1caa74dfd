//! NVMe PRP and SGL output: golden cases worked by hand, and for random
//! views the controller's walk of what was written reaches exactly the
//! view's bytes; every rule a view breaks is a typed error naming the
//! first segment that breaks it.

use quickcheck::{Arbitrary, Gen, TestResult};
use sg_dev::{
    DevError, DmaVec, GapAt, Prp, Remedy, SGL_DATA_BLOCK, SGL_LAST_SEGMENT, SGL_SEGMENT,
    SglDescriptor, SglOptions, build_prp, build_sgl, merged, prp_entries, walk_prp, walk_sgl,
};
use sg_testkit::checker;

const PAGE: u64 = 4096;
const PER_PAGE: usize = (PAGE / 8) as usize;
/// Where the test's list pages live on the bus.
const LISTS: u64 = 0xF000_0000;

/// List pages for a PRP build: `count` whole pages at `LISTS`, `LISTS +
/// PAGE`, ...; with `small`, the first one handed out is the last 32
/// entries of its page (a 256-byte block, as a small pool gives).
struct ListPool {
    pages: Vec<Vec<u64>>,
    small: bool,
}

impl ListPool {
    fn new(count: usize, small: bool) -> Self {
        ListPool {
            pages: vec![vec![0; PER_PAGE]; count],
            small,
        }
    }

    /// Builds `view` with the pool's pages.
    fn build(&mut self, view: &[DmaVec]) -> Result<Prp, DevError> {
        let small = self.small;
        let mut free = self.pages.iter_mut().enumerate().map(move |(index, page)| {
            let address = LISTS + index as u64 * PAGE;
            if index == 0 && small {
                let tail = PER_PAGE - 32;
                (&mut page[tail..], address + 8 * tail as u64)
            } else {
                (&mut page[..], address)
            }
        });
        build_prp(view, PAGE, || free.next())
    }

    /// The controller's walk of what was built.
    fn walk(&self, prp: Prp, len: u64) -> Result<Vec<DmaVec>, DevError> {
        walk_prp(prp.prp1, prp.prp2, len, PAGE, |address| {
            let index = address.checked_sub(LISTS)? / PAGE;
            self.pages.get(index as usize).map(Vec::as_slice)
        })
    }

    fn entry(&self, page: usize, slot: usize) -> u64 {
        u64::from_le(self.pages[page][slot])
    }
}

#[test]
fn golden_4k_at_offset_0_is_prp1_alone() {
    let mut pool = ListPool::new(1, false);
    let prp = pool.build(&[DmaVec::new(0x12_3000, 4096)]).unwrap();
    assert_eq!(
        prp,
        Prp {
            prp1: 0x12_3000,
            prp2: 0,
            list_pages: 0
        }
    );
}

#[test]
fn golden_8k_at_offset_0_is_prp1_and_prp2() {
    let mut pool = ListPool::new(1, false);
    // Two pages, scattered: PRP2 is the second page itself.
    let view = [DmaVec::new(0x12_3000, 4096), DmaVec::new(0x7_7000, 4096)];
    let prp = pool.build(&view).unwrap();
    assert_eq!(
        (prp.prp1, prp.prp2, prp.list_pages),
        (0x12_3000, 0x7_7000, 0)
    );
    assert_eq!(pool.walk(prp, 8192).unwrap(), view);
}

#[test]
fn golden_8k_at_offset_512_needs_a_list_of_two() {
    let mut pool = ListPool::new(1, false);
    // 3584 bytes in the first page, 4096 in the second, 512 in the third.
    let view = [DmaVec::new(0x12_3200, 8192)];
    let prp = pool.build(&view).unwrap();
    assert_eq!((prp.prp1, prp.prp2, prp.list_pages), (0x12_3200, LISTS, 1));
    assert_eq!((pool.entry(0, 0), pool.entry(0, 1)), (0x12_4000, 0x12_5000));
    assert_eq!(pool.entry(0, 2), 0, "nothing past the last entry");
    assert_eq!(pool.walk(prp, 8192).unwrap(), view);
    assert_eq!(prp_entries(&view, PAGE), Ok(3));
}

#[test]
fn golden_2m_at_offset_512_fills_one_list_page_exactly() {
    let mut pool = ListPool::new(2, false);
    // 513 pages: PRP1, then 512 entries, which fit one list page with no
    // chain (the last entry is data, as no more follow).
    let view = [DmaVec::new(0x4000_0200, 2 << 20)];
    let prp = pool.build(&view).unwrap();
    assert_eq!((prp.prp2, prp.list_pages), (LISTS, 1));
    assert_eq!(pool.entry(0, 511), 0x4000_0000 + 512 * PAGE);
    assert_eq!(pool.walk(prp, 2 << 20).unwrap(), view);
}

#[test]
fn golden_2m_read_with_a_small_first_list_chains() {
    // 2 MiB from a page start over 512 scattered pages: 511 entries after
    // PRP1. The first list is a 256-byte block (32 slots at the end of its
    // page: PRP2 carries the offset): 31 entries and a pointer to a whole
    // page, which holds the other 480.
    let view: Vec<DmaVec> = (0..512u64)
        .map(|i| DmaVec::new(0x1_0000_0000 + ((i * 7919) % 512) * PAGE, PAGE))
        .collect();
    let mut pool = ListPool::new(2, true);
    let prp = pool.build(&view).unwrap();
    let tail = (PER_PAGE - 32) as u64;
    assert_eq!(
        (prp.prp1, prp.prp2, prp.list_pages),
        (view[0].addr, LISTS + 8 * tail, 2)
    );
    assert_eq!(pool.entry(0, PER_PAGE - 2), view[31].addr);
    assert_eq!(
        pool.entry(0, PER_PAGE - 1),
        LISTS + PAGE,
        "the chain pointer"
    );
    assert_eq!(pool.entry(1, 0), view[32].addr);
    assert_eq!(pool.entry(1, 479), view[511].addr);
    assert_eq!(pool.walk(prp, 2 << 20).unwrap(), merged(&view));
}

#[test]
fn golden_2m_plus_8k_chains_whole_pages() {
    let mut pool = ListPool::new(2, false);
    let view = [DmaVec::new(0x4000_0200, (2 << 20) + 8192)];
    let prp = pool.build(&view).unwrap();
    assert_eq!(prp.list_pages, 2);
    assert_eq!(pool.entry(0, 511), LISTS + PAGE);
    // 514 entries after PRP1: 511 in the first list, 3 in the second.
    assert_eq!(pool.entry(1, 2), 0x4000_0000 + 514 * PAGE);
    assert_eq!(pool.walk(prp, (2 << 20) + 8192).unwrap(), view);
}

#[test]
fn golden_gaps_name_their_segment() {
    let mut pool = ListPool::new(1, false);
    let starts_inside = [DmaVec::new(0x1000, 4096), DmaVec::new(0x5200, 100)];
    assert_eq!(
        pool.build(&starts_inside),
        Err(DevError::PrpGap {
            index: 1,
            address: 0x5200,
            len: 100,
            at: GapAt::Start
        })
    );
    let ends_inside = [
        DmaVec::new(0x1000, 4096),
        DmaVec::new(0x5000, 100),
        DmaVec::new(0x9000, 8),
    ];
    let error = pool.build(&ends_inside).unwrap_err();
    assert_eq!(
        error,
        DevError::PrpGap {
            index: 1,
            address: 0x5000,
            len: 100,
            at: GapAt::End
        }
    );
    assert!(matches!(
        error.remedy(&Default::default(), PAGE),
        Some(Remedy::Other(_))
    ));
    assert_eq!(
        pool.build(&[DmaVec::new(0x1002, 8)]),
        Err(DevError::PrpMisaligned {
            index: 0,
            address: 0x1002
        })
    );
    assert_eq!(pool.build(&[]), Err(DevError::EmptyView));
    // The last page of the address space: its end does not fit a u64.
    let top = u64::MAX - (PAGE - 1);
    let wraps = [DmaVec::new(0x1000, 3 * PAGE), DmaVec::new(top, PAGE)];
    assert_eq!(
        ListPool::new(1, false).build(&wraps),
        Err(DevError::PrpGap {
            index: 1,
            address: top,
            len: PAGE,
            at: GapAt::End
        })
    );
    assert_eq!(
        build_prp(&[DmaVec::new(0, 1)], 512, || None),
        Err(DevError::InvalidPageSize { page_size: 512 })
    );
    // No list pages, or one of the wrong size.
    assert_eq!(
        build_prp(&[DmaVec::new(0, 3 * PAGE)], PAGE, || None),
        Err(DevError::NoListPage { page: 0 })
    );
    let mut short = [0u64; 8];
    let mut once = Some((&mut short[..], LISTS));
    assert_eq!(
        build_prp(&[DmaVec::new(0, 3 * PAGE)], PAGE, || once.take()),
        Err(DevError::NoListPage { page: 0 })
    );
}

#[test]
fn golden_sgl() {
    let mut segment = [SglDescriptor::default(); 4];
    let mut next = [SglDescriptor::default(); 4];
    // One segment: SGL1 is the data block itself.
    let one = build_sgl(&[DmaVec::new(0x1000, 512)], SglOptions::default(), || None).unwrap();
    assert_eq!(one, SglDescriptor::data_block(0x1000, 512));
    // Six segments in pages of four descriptors: three blocks and a last
    // segment pointer, then the other three.
    let view: Vec<DmaVec> = (0..6u64)
        .map(|i| DmaVec::new(0x10_0000 * (i + 1), 100 + i as u32 as u64))
        .collect();
    let sgl1 = {
        let mut pages = [(&mut segment[..], 0xA000u64), (&mut next[..], 0xB000)].into_iter();
        build_sgl(&view, SglOptions::default(), || pages.next()).unwrap()
    };
    assert_eq!(
        (sgl1.kind(), sgl1.addr(), sgl1.len()),
        (SGL_SEGMENT, 0xA000, 64)
    );
    assert_eq!(segment[3].kind(), SGL_LAST_SEGMENT);
    assert_eq!((segment[3].addr(), segment[3].len()), (0xB000, 48));
    assert_eq!(next[2], SglDescriptor::data_block(0x60_0000, 105));
    assert!(next[..3].iter().all(|d| d.kind() == SGL_DATA_BLOCK));
    let walked = walk_sgl(sgl1, |address, count| match address {
        0xA000 => Some(&segment[..count]),
        0xB000 => Some(&next[..count]),
        _ => None,
    })
    .unwrap();
    assert_eq!(walked, view);
    // Rules: u32 lengths, dword alignment when asked.
    assert_eq!(
        build_sgl(
            &[DmaVec::new(0, 8), DmaVec::new(64, 1 << 32)],
            SglOptions::default(),
            || None
        ),
        Err(DevError::SegmentTooLong {
            index: 1,
            len: 1 << 32,
            max: u64::from(u32::MAX)
        })
    );
    let dword = SglOptions {
        dword_aligned: true,
    };
    assert_eq!(
        build_sgl(&[DmaVec::new(0, 8), DmaVec::new(66, 8)], dword, || None),
        Err(DevError::SglMisaligned {
            index: 1,
            address: 66,
            len: 8
        })
    );
}

/// A random view: segments of random placement, shaped to obey the PRP
/// rules when `shape` says so, or anything otherwise.
#[derive(Clone, Debug)]
struct View(Vec<DmaVec>);

impl Arbitrary for View {
    fn arbitrary(g: &mut Gen) -> Self {
        let count = 1 + usize::arbitrary(g) % if cfg!(miri) { 4 } else { 40 };
        let obey = u8::arbitrary(g) % 4 != 0;
        let page = |g: &mut Gen| (1 + u64::arbitrary(g) % (1 << 30)) * PAGE;
        let mut view: Vec<DmaVec> = Vec::with_capacity(count);
        for index in 0..count {
            let last = index + 1 == count;
            let most = if cfg!(miri) || u8::arbitrary(g) % 8 != 0 {
                6
            } else {
                400
            };
            let pages = 1 + u64::arbitrary(g) % most;
            let segment = if obey {
                let offset = if index == 0 {
                    (u64::arbitrary(g) % PAGE) & !3
                } else {
                    0
                };
                let len = if last {
                    1 + u64::arbitrary(g) % (pages * PAGE - offset)
                } else {
                    pages * PAGE - offset
                };
                DmaVec::new(page(g) + offset, len)
            } else {
                let odd = u64::arbitrary(g) % PAGE;
                let offset = if bool::arbitrary(g) { 0 } else { odd };
                let len = if bool::arbitrary(g) {
                    pages * PAGE
                } else {
                    1 + odd
                };
                DmaVec::new(page(g) + offset, len)
            };
            // Now and then a segment continues the one before it, cut
            // anywhere (as a mapper's maximum segment size cuts).
            let segment = match view.last() {
                Some(before) if u8::arbitrary(g) % 5 == 0 => DmaVec::new(before.end(), segment.len),
                _ => segment,
            };
            view.push(segment);
        }
        View(view)
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let view = self.0.clone();
        Box::new((1..view.len()).rev().map(move |n| View(view[..n].to_vec())))
    }
}

/// The first PRP rule `view` breaks, worked out independently of the
/// builder: on the view with contiguous neighbours joined, only the first
/// span may start inside a page (dword aligned) and only the last may end
/// inside one; an error names the segment that starts (or ends) the
/// offending span.
fn first_prp_violation(view: &[DmaVec]) -> Option<DevError> {
    // Spans: (first index, last index, start, end).
    let mut spans: Vec<(usize, usize, u64, u64)> = Vec::new();
    for (index, s) in view.iter().enumerate().filter(|(_, s)| s.len > 0) {
        match spans.last_mut() {
            Some(span) if span.3 == s.addr => {
                span.1 = index;
                span.3 = s.addr + s.len;
            }
            _ => spans.push((index, index, s.addr, s.addr + s.len)),
        }
    }
    let gap = |index: usize, at| DevError::PrpGap {
        index,
        address: view[index].addr,
        len: view[index].len,
        at,
    };
    for (n, &(first, last, start, end)) in spans.iter().enumerate() {
        if n == 0 && start % 4 != 0 {
            return Some(DevError::PrpMisaligned {
                index: first,
                address: start,
            });
        }
        if n > 0 && start % PAGE != 0 {
            return Some(gap(first, GapAt::Start));
        }
        if n + 1 < spans.len() && end % PAGE != 0 {
            return Some(gap(last, GapAt::End));
        }
    }
    None
}

// For random views: a view that obeys the rules builds, and the
// controller's walk reaches exactly its bytes, in order; one that breaks
// them is refused with the error naming the first segment at fault.
#[test]
fn prop_prp_walk_reaches_exactly_the_view() {
    fn property(view: View, small: bool) -> TestResult {
        let view = view.0;
        let len: u64 = view.iter().map(|s| s.len).sum();
        let mut pool = ListPool::new(64, small);
        let expected = first_prp_violation(&view);
        // The check without writing agrees with the builder.
        let checked = prp_entries(&view, PAGE);
        if checked.err() != expected {
            return TestResult::error(format!("prp_entries {checked:?}, expected {expected:?}"));
        }
        match (pool.build(&view), expected) {
            (Ok(prp), None) => match pool.walk(prp, len) {
                Ok(walked) if walked == merged(&view) => TestResult::passed(),
                Ok(walked) => TestResult::error(format!("walked {walked:?}")),
                Err(error) => TestResult::error(format!("walk: {error}")),
            },
            (Err(error), Some(expected)) if error == expected => TestResult::passed(),
            (outcome, expected) => {
                TestResult::error(format!("built {outcome:?}, expected {expected:?}"))
            }
        }
    }
    checker(500).quickcheck(property as fn(View, bool) -> TestResult);
}

// For random views and segment pages of random capacity: the walk of the
// SGL reaches exactly the view's bytes.
#[test]
fn prop_sgl_walk_reaches_exactly_the_view() {
    fn property(view: View, capacity: u8, dword: bool, long: Option<u8>) -> TestResult {
        let mut view = view.0;
        if let Some(at) = long {
            let at = usize::from(at) % view.len();
            view[at].len = u64::from(u32::MAX) + 1 + u64::from(at as u32);
        }
        let capacity = 2 + usize::from(capacity) % 20;
        let mut pages: Vec<Vec<SglDescriptor>> = vec![vec![SglDescriptor::default(); capacity]; 40];
        let options = SglOptions {
            dword_aligned: dword,
        };
        let first_bad = view.iter().enumerate().find_map(|(index, s)| {
            if s.len > u64::from(u32::MAX) {
                Some(DevError::SegmentTooLong {
                    index,
                    len: s.len,
                    max: u64::from(u32::MAX),
                })
            } else if dword && (s.addr | s.len) % 4 != 0 {
                Some(DevError::SglMisaligned {
                    index,
                    address: s.addr,
                    len: s.len,
                })
            } else {
                None
            }
        });
        let built = {
            let mut free = pages
                .iter_mut()
                .enumerate()
                .map(|(i, page)| (&mut page[..], 0xA000_0000 + 0x1000 * i as u64));
            build_sgl(&view, options, || free.next())
        };
        match (built, first_bad) {
            (Ok(sgl1), None) => {
                let walked = walk_sgl(sgl1, |address, count| {
                    let index = (address.checked_sub(0xA000_0000)? / 0x1000) as usize;
                    pages.get(index).map(|page| &page[..count.min(page.len())])
                });
                match walked {
                    Ok(walked) if walked == merged(&view) => TestResult::passed(),
                    other => TestResult::error(format!("walked {other:?}")),
                }
            }
            (Err(error), Some(expected)) if error == expected => TestResult::passed(),
            (outcome, expected) => {
                TestResult::error(format!("built {outcome:?}, expected {expected:?}"))
            }
        }
    }
    checker(300).quickcheck(property as fn(View, u8, bool, Option<u8>) -> TestResult);
}

#[test]
fn list_pages_are_only_taken_when_needed() {
    let mut taken = 0;
    let mut lists = vec![0u64; PER_PAGE];
    let mut once = Some((&mut lists[..], LISTS));
    let prp = build_prp(&[DmaVec::new(0x1000, 2 * PAGE)], PAGE, || {
        taken += 1;
        once.take()
    })
    .unwrap();
    assert_eq!((prp.list_pages, taken), (0, 0));
}
