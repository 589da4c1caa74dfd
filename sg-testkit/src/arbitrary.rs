//! quickcheck generators for the shapes scatter-gather code must handle,
//! each with shrinking towards small cases.

use quickcheck::{Arbitrary, Gen};

use crate::{BuiltList, MockPage, MockPages};

/// A number from 0 to `max` inclusive, biased towards small values and the
/// ends of the range.
fn small(g: &mut Gen, max: u64) -> u64 {
    match u8::arbitrary(g) % 8 {
        0 => 0,
        1 => max,
        2 | 3 => u64::arbitrary(g) % (max.min(8) + 1),
        _ => u64::arbitrary(g) % (max + 1),
    }
}

/// Whether to take the rare branch of a generator: one time in `odds`.
fn one_in(g: &mut Gen, odds: u8) -> bool {
    u8::arbitrary(g) % odds == 0
}

/// Scales a generator's size to at most `cap` items.
fn count(g: &mut Gen, cap: usize) -> usize {
    let size = g.size().clamp(1, cap);
    usize::arbitrary(g) % (size + 1)
}

/// One run of a [`PageLayout`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Run {
    /// Frames in the run, at least 1.
    pub frames: u64,
    /// Free frames before the run (0 continues the previous run).
    pub gap: u64,
    /// Whether the frames come in descending order (then no two merge).
    pub reversed: bool,
}

/// Pages given as runs of consecutive frames with gaps between them: the
/// input of the builders from pages.
///
/// # Examples
///
/// ```
/// use sg_testkit::{MockPages, PageLayout, Run};
///
/// let layout = PageLayout::new(vec![
///     Run { frames: 3, gap: 0, reversed: false },
///     Run { frames: 2, gap: 4, reversed: true },
/// ]);
/// assert_eq!(layout.pfns(), [100, 101, 102, 108, 107]);
/// let mock = MockPages::<4096>::new();
/// assert_eq!(layout.add_to(&mock).len(), 5);
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PageLayout {
    runs: Vec<Run>,
}

/// The first frame a [`PageLayout`] uses.
const FIRST_PFN: u64 = 100;

impl PageLayout {
    /// A layout of these runs; runs of 0 frames are dropped.
    pub fn new(runs: Vec<Run>) -> Self {
        PageLayout {
            runs: runs.into_iter().filter(|run| run.frames > 0).collect(),
        }
    }

    /// The runs.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The frame numbers, in list order.
    pub fn pfns(&self) -> Vec<u64> {
        let mut pfns = Vec::new();
        let mut next = FIRST_PFN;
        for run in &self.runs {
            let first = next + run.gap;
            let frames: Vec<u64> = (first..first + run.frames).collect();
            if run.reversed {
                pfns.extend(frames.iter().rev());
            } else {
                pfns.extend(frames);
            }
            next = first + run.frames;
        }
        pfns
    }

    /// Number of pages.
    pub fn len(&self) -> usize {
        self.runs.iter().map(|run| run.frames as usize).sum()
    }

    /// Whether there are no pages.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Adds the pages to `mock` and returns their handles in list order.
    pub fn add_to<const PAGE_SIZE: usize>(&self, mock: &MockPages<PAGE_SIZE>) -> Vec<MockPage> {
        mock.add_pages(self.pfns())
    }
}

impl Arbitrary for Run {
    fn arbitrary(g: &mut Gen) -> Self {
        Run {
            frames: 1 + small(g, 7),
            gap: if one_in(g, 4) { 0 } else { 1 + small(g, 3) },
            reversed: one_in(g, 6),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let run = *self;
        let mut smaller = Vec::new();
        if run.frames > 1 {
            smaller.extend([1, run.frames - 1].map(|frames| Run { frames, ..run }));
        }
        if run.reversed {
            smaller.push(Run {
                reversed: false,
                ..run
            });
        }
        if run.gap > 1 {
            smaller.push(Run { gap: 1, ..run });
        }
        Box::new(smaller.into_iter())
    }
}

impl Arbitrary for PageLayout {
    fn arbitrary(g: &mut Gen) -> Self {
        let runs = 1 + count(g, 24);
        PageLayout::new((0..runs).map(|_| Run::arbitrary(g)).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(
            self.runs
                .shrink()
                .filter(|runs| !runs.is_empty())
                .map(PageLayout::new),
        )
    }
}

/// One entry of an [`EntryLayout`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EntrySpec {
    /// Offset from the entry's page; may be a page or more.
    pub offset: u32,
    /// Length in bytes; may be 0.
    pub len: u32,
    /// Whether the entry's bytes directly follow the previous entry's in
    /// the same run of frames (so a linear provider sees one range).
    pub continues: bool,
}

impl EntrySpec {
    /// The entry with its offset and length divided by `factor`.
    fn scaled_down(self, factor: u32) -> EntrySpec {
        let (offset, len) = (self.offset / factor, self.len / factor);
        EntrySpec {
            offset,
            len,
            ..self
        }
    }
}

/// Entries over pages, spread over chained arrays: the input of iterators
/// and copies.
///
/// Offsets include a page or more, lengths include 0, and some entries
/// continue the previous entry's bytes. Each group of entries gets its own
/// run of frames, separated from the next by a gap.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EntryLayout {
    /// The entries, in list order.
    pub entries: Vec<EntrySpec>,
    /// Data entries per array (cycled), for [`BuiltList::new`].
    pub arrays: Vec<usize>,
}

impl EntryLayout {
    /// Adds frames for the entries to `mock` and builds the list.
    pub fn build<const PAGE_SIZE: usize>(
        &self,
        mock: &MockPages<PAGE_SIZE>,
    ) -> BuiltList<MockPage> {
        let page = PAGE_SIZE as u64;
        let mut placed: Vec<(MockPage, u32, u32)> = Vec::new();
        // Entries of one group share a run; a group starts at every entry
        // that does not continue the previous one.
        let mut next_pfn = 1000;
        let mut index = 0;
        while index < self.entries.len() {
            let mut end = index + 1;
            while end < self.entries.len() && self.entries[end].continues {
                end += 1;
            }
            let first = self.entries[index];
            let mut offset = u64::from(first.offset);
            let mut bytes_end = offset;
            let mut group = Vec::new();
            for spec in &self.entries[index..end] {
                group.push((offset, spec.len));
                offset += u64::from(spec.len);
                bytes_end = offset;
            }
            let frames = bytes_end.div_ceil(page).max(1);
            let run = mock.add_run(next_pfn, frames);
            for (offset, len) in group {
                // Offsets stay within u32: an entry's offset is below
                // 2^16 plus the lengths before it in the group.
                let offset = u32::try_from(offset).expect("offset fits u32");
                placed.push((run[0], len, offset));
            }
            next_pfn += frames + 1;
            index = end;
        }
        BuiltList::new(mock, &placed, &self.arrays)
    }

    /// The same layout for pages of `page_size` bytes instead of 4 KiB:
    /// offsets and lengths divided by `4096 / page_size`, so that an offset
    /// of a page or more stays one, and byte counts shrink with the pages.
    ///
    /// # Panics
    ///
    /// When `page_size` is not a power of two from 64 to 4096.
    pub fn scaled(&self, page_size: usize) -> EntryLayout {
        let factor = scale_factor(page_size);
        EntryLayout {
            entries: self
                .entries
                .iter()
                .map(|spec| spec.scaled_down(factor))
                .collect(),
            arrays: self.arrays.clone(),
        }
    }

    /// Total bytes of the entries.
    pub fn byte_len(&self) -> u64 {
        self.entries.iter().map(|spec| u64::from(spec.len)).sum()
    }
}

/// The longest length a generator of size `g.size()` makes: 9000 bytes at
/// quickcheck's default size, far fewer at the small sizes used under Miri
/// (every byte copied or compared costs a thousand times more there).
fn byte_cap(g: &Gen) -> u32 {
    (g.size() as u32).saturating_mul(128).clamp(64, 9000)
}

impl Arbitrary for EntrySpec {
    fn arbitrary(g: &mut Gen) -> Self {
        let cap = byte_cap(g);
        let len = match u8::arbitrary(g) % 6 {
            0 => 0,
            1 if cap >= 4096 => 4096 * (1 + small(g, 2) as u32),
            2 => 1 + small(g, 16) as u32,
            _ => 1 + (u32::arbitrary(g) % cap),
        };
        let offset = match u8::arbitrary(g) % 5 {
            0 => 0,
            1 => 4096 * (1 + small(g, 2) as u32) + (u32::arbitrary(g) % 4096),
            _ => u32::arbitrary(g) % 4096,
        };
        EntrySpec {
            offset,
            len,
            continues: one_in(g, 4),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let spec = *self;
        let mut smaller = Vec::new();
        if spec.continues {
            smaller.push(EntrySpec {
                continues: false,
                ..spec
            });
        }
        if spec.offset > 0 {
            smaller.extend([0, spec.offset / 2].map(|offset| EntrySpec { offset, ..spec }));
        }
        if spec.len > 1 {
            smaller.extend([1, spec.len / 2].map(|len| EntrySpec { len, ..spec }));
        }
        Box::new(smaller.into_iter())
    }
}

impl Arbitrary for EntryLayout {
    fn arbitrary(g: &mut Gen) -> Self {
        let entries = 1 + count(g, 40);
        let arrays = 1 + count(g, 6);
        EntryLayout {
            entries: (0..entries).map(|_| EntrySpec::arbitrary(g)).collect(),
            arrays: (0..arrays).map(|_| 1 + small(g, 5) as usize).collect(),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let arrays = self.arrays.clone();
        let entries = self.entries.clone();
        let fewer_entries = self
            .entries
            .shrink()
            .filter(|entries| !entries.is_empty())
            .map({
                let arrays = arrays.clone();
                move |entries| EntryLayout {
                    entries,
                    arrays: arrays.clone(),
                }
            });
        let one_array = (arrays.len() > 1).then(|| EntryLayout {
            entries: entries.clone(),
            arrays: vec![entries.len()],
        });
        Box::new(one_array.into_iter().chain(fewer_entries))
    }
}

/// `4096 / page_size`, for scaling generated sizes to smaller pages.
fn scale_factor(page_size: usize) -> u32 {
    assert!(
        page_size.is_power_of_two() && (64..=4096).contains(&page_size),
        "page size {page_size} is not a power of two from 64 to 4096"
    );
    (4096 / page_size) as u32
}

/// A maximum segment size for the builders from pages, for 4 KiB pages:
/// whole pages, sizes between pages, sizes below one page, and `u32::MAX`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MaxSegment(pub u32);

impl MaxSegment {
    /// The same kind of limit for pages of `page_size` bytes: below one
    /// page, whole pages, between pages or near `u32::MAX` as before.
    ///
    /// # Panics
    ///
    /// When `page_size` is not a power of two from 64 to 4096.
    pub fn scaled(self, page_size: usize) -> u32 {
        let factor = scale_factor(page_size);
        if self.0 > u32::MAX - 8192 {
            self.0
        } else {
            self.0 / factor
        }
    }
}

impl Arbitrary for MaxSegment {
    fn arbitrary(g: &mut Gen) -> Self {
        MaxSegment(match u8::arbitrary(g) % 6 {
            0 => u32::MAX,
            1 => u32::arbitrary(g) % 4096,
            2 => 4096 * (1 + small(g, 8) as u32) + 1 + u32::arbitrary(g) % 4095,
            3 => u32::MAX - u32::arbitrary(g) % 8192,
            _ => 4096 * (1 + small(g, 8) as u32),
        })
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let value = self.0;
        let candidates = [4096, 8192, value - value % 4096, u32::MAX];
        Box::new(
            candidates
                .into_iter()
                .filter(move |&candidate| candidate < value && candidate >= 4096)
                .map(MaxSegment),
        )
    }
}

/// A skip and a length into a list's bytes, biased towards 0, page
/// boundaries and their neighbours, and values past a small list's end.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SkipLen {
    /// Bytes to skip.
    pub skip: u64,
    /// Bytes to cover.
    pub len: u64,
}

fn position(g: &mut Gen) -> u64 {
    let cap = u64::from(byte_cap(g)) * 2;
    match u8::arbitrary(g) % 6 {
        0 => 0,
        1 => 4096 * small(g, 4) + [0, 1, 4095][usize::arbitrary(g) % 3],
        2 => small(g, 16),
        3 if cap >= 18_000 => u64::arbitrary(g) % (1 << 20),
        _ => u64::arbitrary(g) % (cap + 2_000),
    }
}

impl SkipLen {
    /// The same skip and length for pages of `page_size` bytes (divided by
    /// `4096 / page_size`).
    ///
    /// # Panics
    ///
    /// When `page_size` is not a power of two from 64 to 4096.
    pub fn scaled(self, page_size: usize) -> SkipLen {
        let factor = u64::from(scale_factor(page_size));
        SkipLen {
            skip: self.skip / factor,
            len: self.len / factor,
        }
    }
}

impl Arbitrary for SkipLen {
    fn arbitrary(g: &mut Gen) -> Self {
        SkipLen {
            skip: position(g),
            len: position(g),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        let this = *self;
        Box::new(
            (this.skip, this.len)
                .shrink()
                .map(|(skip, len)| SkipLen { skip, len }),
        )
    }
}

/// One step of a mapping iterator's consumer.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Consume {
    /// Take the whole mapping.
    All,
    /// Take at most this many bytes of the mapping (0 takes nothing).
    Part(u32),
    /// Skip this many bytes (from the current position).
    Skip(u32),
    /// Stop the iterator (releasing its mapping) and go on.
    Stop,
}

/// A sequence of consumer steps for the mapping iterator, repeated until
/// the list ends.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ConsumePattern(pub Vec<Consume>);

impl Arbitrary for Consume {
    fn arbitrary(g: &mut Gen) -> Self {
        match u8::arbitrary(g) % 8 {
            0 => Consume::Skip(small(g, 9000) as u32),
            1 => Consume::Stop,
            2..=4 => Consume::Part(small(g, 5000) as u32),
            _ => Consume::All,
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        match *self {
            Consume::All => quickcheck::empty_shrinker(),
            Consume::Stop => quickcheck::single_shrinker(Consume::All),
            Consume::Part(n) => {
                Box::new(std::iter::once(Consume::All).chain(n.shrink().map(Consume::Part)))
            }
            Consume::Skip(n) => {
                Box::new(std::iter::once(Consume::All).chain(n.shrink().map(Consume::Skip)))
            }
        }
    }
}

impl Arbitrary for ConsumePattern {
    fn arbitrary(g: &mut Gen) -> Self {
        let steps = 1 + count(g, 12);
        ConsumePattern((0..steps).map(|_| Consume::arbitrary(g)).collect())
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Self>> {
        Box::new(
            self.0
                .shrink()
                .filter(|steps| !steps.is_empty())
                .map(ConsumePattern),
        )
    }
}
