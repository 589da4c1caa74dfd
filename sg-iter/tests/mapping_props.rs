//! Properties of the mapping iterators against sg-testkit's `Model`, over
//! random entry layouts, consume patterns and byte ranges, for every
//! mapping mode of `MockPages` and every span of the iterators.

use quickcheck::TestResult;
use sg_core::{PageProvider, SgList};
use sg_iter::{MappingIter, MappingIterMut};
use sg_testkit::{Consume, ConsumePattern, EntryLayout, Mapping, MockPage, MockPages, SkipLen};

/// Quickcheck cases per property (`checker` runs a handful under Miri).
const CASES: u64 = 64;

/// How mappings of the iterator under test may reach.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Span {
    /// What the iterator does by default.
    Default,
    /// `page_by_page()`.
    PageByPage,
    /// `merge_adjacent()`.
    Merged,
}

/// The layout the properties use: as generated, except under Miri, where
/// offsets and lengths shrink to a few 64-byte pages so that runs stay
/// short while still crossing pages and starting past the first page.
fn fit(layout: EntryLayout) -> EntryLayout {
    if !cfg!(miri) {
        return layout;
    }
    let mut layout = layout;
    layout.entries.truncate(5);
    for spec in &mut layout.entries {
        spec.offset %= 150;
        spec.len %= 200;
    }
    layout
}

/// The pattern the properties use: as generated, except under Miri, where
/// partial steps take at least 16 bytes, so that a case makes tens of
/// mappings rather than one per byte.
fn fit_pattern(pattern: ConsumePattern) -> ConsumePattern {
    if !cfg!(miri) {
        return pattern;
    }
    let steps = pattern.0.into_iter().map(|step| match step {
        Consume::Part(bytes) if bytes > 0 => Consume::Part(bytes.max(16)),
        other => other,
    });
    ConsumePattern(steps.collect())
}

/// Fills the frames of `list` with distinct bytes: `MockPages::fill`,
/// except under Miri, where building its 4 KiB pattern table costs seconds
/// per call; there each frame the list touches gets a cheap pattern that
/// still differs from frame to frame.
fn fill<const PAGE: usize>(mock: &MockPages<PAGE>, list: SgList<'_, MockPages<PAGE>>, seed: u64) {
    if !cfg!(miri) {
        mock.fill(seed);
        return;
    }
    for pfn in frames(list) {
        let bytes: Vec<u8> = (0..PAGE)
            .map(|at| (at as u64 * 7 + pfn * 31 + seed) as u8)
            .collect();
        mock.write(MockPage::new(pfn), 0, &bytes);
    }
}

/// One piece of the view's bytes, as sg-core's `segments` give it: where
/// it lies in the view and the absolute address (frame * page + offset) of
/// its first byte.
#[derive(Clone, Copy, Debug)]
struct Piece {
    start: usize,
    end: usize,
    address: u64,
}

/// The pieces of `list`, computed with sg-core only.
fn pieces<P: PageProvider<Page = MockPage>>(list: SgList<'_, P>) -> Vec<Piece> {
    let mut at = 0;
    list.segments()
        .map(|segment| {
            let piece = Piece {
                start: at,
                end: at + segment.len as usize,
                address: segment.page.pfn() * P::PAGE_SIZE as u64 + segment.offset,
            };
            at = piece.end;
            piece
        })
        .collect()
}

/// What a mapping starting at view byte `at` must hold, and the in-page
/// offset of its first byte, computed from absolute addresses.
fn expected_mapping(pieces: &[Piece], at: usize, page: usize, span: Span) -> (usize, usize) {
    let index = pieces
        .iter()
        .position(|piece| piece.start <= at && at < piece.end)
        .expect("a mapping starts inside the view");
    let piece = pieces[index];
    let address = piece.address + (at - piece.start) as u64;
    let in_page = (address % page as u64) as usize;
    let len = match span {
        Span::PageByPage => (piece.end - at).min(page - in_page),
        Span::Default => piece.end - at,
        Span::Merged => {
            let mut end = piece.end;
            let mut end_address = piece.address + (piece.end - piece.start) as u64;
            for next in &pieces[index + 1..] {
                // Entries join only where one ends at a page boundary and
                // the next starts the following page.
                if next.address != end_address || end_address % page as u64 != 0 {
                    break;
                }
                end = next.end;
                end_address = next.address + (next.end - next.start) as u64;
            }
            end - at
        }
    };
    (len, in_page)
}

/// The span the iterator really has: wide spans need a linear provider.
fn effective(mode: Mapping, span: Span) -> Span {
    if mode == Mapping::Linear {
        span
    } else {
        Span::PageByPage
    }
}

/// A byte of the pattern written through writing iterators, by view byte.
fn stamp(at: usize) -> u8 {
    (at as u8).wrapping_mul(151) ^ 0x5A
}

/// The iterator under test, reading or writing.
trait Miter {
    /// Maps the next piece; checks it against `model[at..]`, appends its
    /// first `take` bytes (all by default) to `seen`, and when writing
    /// stamps them and updates `model`. Returns the mapping's length.
    fn step(
        &mut self,
        at: usize,
        take: Option<usize>,
        model: &mut [u8],
        seen: &mut Vec<u8>,
    ) -> Option<Result<usize, String>>;
    fn consume(&mut self, bytes: usize);
    fn advance(&mut self, bytes: u64) -> bool;
    fn stop(&mut self);
    fn position(&self) -> u64;
}

fn check_bytes(bytes: &[u8], at: usize, model: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err(format!("zero-length mapping at {at}"));
    }
    match model.get(at..at + bytes.len()) {
        Some(expected) if expected == bytes => Ok(()),
        Some(_) => Err(format!("mapping at {at} of {} bytes differs", bytes.len())),
        None => Err(format!(
            "mapping at {at} of {} bytes passes the end {}",
            bytes.len(),
            model.len()
        )),
    }
}

impl<P: PageProvider> Miter for MappingIter<'_, P> {
    fn step(
        &mut self,
        at: usize,
        take: Option<usize>,
        model: &mut [u8],
        seen: &mut Vec<u8>,
    ) -> Option<Result<usize, String>> {
        let bytes = self.next_slice()?;
        if let Err(error) = check_bytes(bytes, at, model) {
            return Some(Err(error));
        }
        let taken = take.unwrap_or(bytes.len()).min(bytes.len());
        seen.extend_from_slice(&bytes[..taken]);
        Some(Ok(bytes.len()))
    }
    fn consume(&mut self, bytes: usize) {
        MappingIter::consume(self, bytes);
    }
    fn advance(&mut self, bytes: u64) -> bool {
        MappingIter::advance(self, bytes).is_ok()
    }
    fn stop(&mut self) {
        MappingIter::stop(self);
    }
    fn position(&self) -> u64 {
        MappingIter::position(self)
    }
}

impl<P: PageProvider> Miter for MappingIterMut<'_, P> {
    fn step(
        &mut self,
        at: usize,
        take: Option<usize>,
        model: &mut [u8],
        seen: &mut Vec<u8>,
    ) -> Option<Result<usize, String>> {
        let bytes = self.next_slice_mut()?;
        if let Err(error) = check_bytes(bytes, at, model) {
            return Some(Err(error));
        }
        let taken = take.unwrap_or(bytes.len()).min(bytes.len());
        seen.extend_from_slice(&bytes[..taken]);
        for (index, byte) in bytes[..taken].iter_mut().enumerate() {
            *byte = stamp(at + index);
            model[at + index] = *byte;
        }
        Some(Ok(bytes.len()))
    }
    fn consume(&mut self, bytes: usize) {
        MappingIterMut::consume(self, bytes);
    }
    fn advance(&mut self, bytes: u64) -> bool {
        MappingIterMut::advance(self, bytes).is_ok()
    }
    fn stop(&mut self) {
        MappingIterMut::stop(self);
    }
    fn position(&self) -> u64 {
        MappingIterMut::position(self)
    }
}

/// What a run of a consume pattern did.
#[derive(Debug, Default)]
struct Outcome {
    /// Mappings made.
    mappings: usize,
    /// Pages those mappings covered (what a writer flushes).
    pages: usize,
}

/// Runs `pattern`, repeated, over `iter` until the view ends, checking
/// every step against `model` (updated for writes) and `pieces`: mapped
/// bytes, mapping lengths, positions, skip results, and at the end that the
/// consumed bytes, in order, are the model's bytes outside skipped ranges.
fn drive(
    iter: &mut impl Miter,
    model: &mut [u8],
    pieces: &[Piece],
    page: usize,
    span: Span,
    pattern: &[Consume],
) -> Result<Outcome, String> {
    let original = model.to_vec();
    let mut at = 0;
    let mut seen = Vec::new();
    let mut expected_seen = Vec::new();
    let mut outcome = Outcome::default();
    // A pass of the pattern that makes no progress gets one whole mapping.
    let mut steps = pattern.iter().copied().cycle();
    let mut pass_start = at;
    let mut in_pass = 0;
    loop {
        let step = if in_pass == pattern.len() {
            in_pass = 0;
            let stuck = at == pass_start;
            pass_start = at;
            if stuck {
                Consume::All
            } else {
                continue;
            }
        } else {
            in_pass += 1;
            steps.next().expect("a cycle never ends")
        };
        match step {
            Consume::All | Consume::Part(_) => {
                let take = match step {
                    Consume::Part(part) => Some(part as usize),
                    _ => None,
                };
                let Some(mapped) = iter.step(at, take, model, &mut seen) else {
                    if at != model.len() {
                        return Err(format!("ended at {at} of {}", model.len()));
                    }
                    break;
                };
                let len = mapped?;
                let (expected_len, in_page) = expected_mapping(pieces, at, page, span);
                if len != expected_len {
                    return Err(format!(
                        "mapping at {at} holds {len} bytes, expected {expected_len}"
                    ));
                }
                outcome.mappings += 1;
                outcome.pages += (in_page + len).div_ceil(page);
                let taken = take.unwrap_or(len).min(len);
                if take.is_some() {
                    iter.consume(taken);
                }
                expected_seen.extend_from_slice(&original[at..at + taken]);
                at += taken;
            }
            Consume::Skip(bytes) => {
                let fits = at + bytes as usize <= model.len();
                if iter.advance(u64::from(bytes)) != fits {
                    return Err(format!("skip({bytes}) at {at} returned {}", !fits));
                }
                at = (at + bytes as usize).min(model.len());
            }
            Consume::Stop => iter.stop(),
        }
        if iter.position() != at as u64 {
            return Err(format!("position {} instead of {at}", iter.position()));
        }
    }
    if seen != expected_seen {
        return Err("the consumed bytes differ from the model's".into());
    }
    Ok(outcome)
}

/// Clamps a random range into a list of `len` bytes.
fn clamp(range: SkipLen, len: usize) -> (usize, usize) {
    let skip = (range.skip % (len as u64 + 1)) as usize;
    let count = (range.len % ((len - skip) as u64 + 1)) as usize;
    (skip, count)
}

/// Reading the whole list, and a slice of it, consumes exactly the model's
/// bytes with mappings of the expected lengths, flushing nothing.
fn reading<const PAGE: usize>(
    mode: Mapping,
    span: Span,
    layout: &EntryLayout,
    pattern: &ConsumePattern,
    range: SkipLen,
) -> Result<(), String> {
    let mock = MockPages::<PAGE>::with_mapping(mode);
    let built = layout.build(&mock);
    fill(&mock, built.list(&mock), 3);
    let list = built.list(&mock);
    let bytes = mock.list_bytes(list);
    let (skip, count) = clamp(range, bytes.len());
    let slice = list
        .slice(skip as u64, count as u64)
        .map_err(|e| e.to_string())?;
    for (view, model) in [(list, &bytes[..]), (slice, &bytes[skip..skip + count])] {
        let mut iter = MappingIter::new(view);
        iter = match span {
            Span::Default => iter,
            Span::PageByPage => iter.page_by_page(),
            Span::Merged => iter.merge_adjacent(),
        };
        let before = mock.total_mappings();
        let mut model = model.to_vec();
        let outcome = drive(
            &mut iter,
            &mut model,
            &pieces(view),
            PAGE,
            effective(mode, span),
            &pattern.0,
        )?;
        if iter.next_slice().is_some() {
            return Err("a mapping after the end".into());
        }
        drop(iter);
        if mock.total_mappings() - before != outcome.mappings {
            return Err(format!(
                "{} map calls for {} mappings",
                mock.total_mappings() - before,
                outcome.mappings
            ));
        }
        if mock.live_mappings() != 0 || mock.flushes() != 0 {
            return Err("a reader left a mapping or flushed".into());
        }
    }
    Ok(())
}

/// Writing through the whole list, or a slice, changes exactly the model's
/// bytes (nothing outside the view's bytes in the pages it touches), with
/// one flush per page of every mapping.
fn writing<const PAGE: usize>(
    mode: Mapping,
    span: Span,
    layout: &EntryLayout,
    pattern: &ConsumePattern,
    range: SkipLen,
    whole: bool,
) -> Result<(), String> {
    let mock = MockPages::<PAGE>::with_mapping(mode);
    let mut built = layout.build(&mock);
    fill(&mock, built.list(&mock), 5);
    let (touched, before) = snapshot(&mock, built.list(&mock));
    let mut model = mock.list_bytes(built.list(&mock));
    let (skip, count) = if whole {
        (0, model.len())
    } else {
        clamp(range, model.len())
    };
    // SAFETY: an `EntryLayout` places its entries on disjoint bytes of the mock's
    // frames, and nothing else reaches them while the writer lives.
    let list = unsafe { built.list_mut(&mock) };
    let view = list
        .into_slice(skip as u64, count as u64)
        .map_err(|e| e.to_string())?;
    let view_pieces = pieces(view.as_list());
    let mut iter = MappingIterMut::new(view);
    iter = match span {
        Span::Default => iter,
        Span::PageByPage => iter.page_by_page(),
        Span::Merged => iter.merge_adjacent(),
    };
    let outcome = drive(
        &mut iter,
        &mut model[skip..skip + count],
        &view_pieces,
        PAGE,
        effective(mode, span),
        &pattern.0,
    )?;
    drop(iter);
    if mock.live_mappings() != 0 {
        return Err("a writer left a mapping".into());
    }
    if mock.flushes() != outcome.pages {
        return Err(format!(
            "{} flushes for {} mapped pages",
            mock.flushes(),
            outcome.pages
        ));
    }
    let list = built.list(&mock);
    let found = mock.list_bytes(list);
    if found != model {
        let mismatch = sg_testkit::Model::new(model).diff(&found);
        return Err(format!("list and model differ: {mismatch:?}"));
    }
    // Nothing else changed: the touched frames now hold what they held,
    // with the model's bytes put where the list's bytes are.
    let (_, after) = snapshot(&mock, list);
    let mut expected = before;
    let mut done = 0;
    for piece in pieces(list) {
        let mut address = piece.address;
        let mut from = piece.start;
        while from < piece.end {
            let frame = address / PAGE as u64;
            let in_page = (address % PAGE as u64) as usize;
            let count = (PAGE - in_page).min(piece.end - from);
            let index = touched
                .binary_search(&frame)
                .map_err(|_| "an untouched frame")?;
            expected[index][in_page..in_page + count].copy_from_slice(&model[from..from + count]);
            address += count as u64;
            from += count;
        }
        done = piece.end;
    }
    if done != model.len() {
        return Err("the pieces do not cover the model".into());
    }
    if let Some(index) = (0..touched.len()).find(|&index| expected[index] != after[index]) {
        return Err(format!(
            "frame {} holds other bytes than expected",
            touched[index]
        ));
    }
    Ok(())
}

/// The frames the entries of `list` touch, sorted.
fn frames<const PAGE: usize>(list: SgList<'_, MockPages<PAGE>>) -> Vec<u64> {
    let mut frames: Vec<u64> = list
        .iter()
        .filter_map(|entry| {
            let page = entry.page()?;
            let end = (u64::from(entry.offset()) + u64::from(entry.len())).div_ceil(PAGE as u64);
            Some((0..end).map(move |index| page.pfn() + index))
        })
        .flatten()
        .collect();
    frames.sort_unstable();
    frames.dedup();
    frames
}

/// The frames the entries of `list` touch, with their bytes.
fn snapshot<const PAGE: usize>(
    mock: &MockPages<PAGE>,
    list: SgList<'_, MockPages<PAGE>>,
) -> (Vec<u64>, Vec<Vec<u8>>) {
    let frames = frames(list);
    let bytes = frames
        .iter()
        .map(|&pfn| mock.read(MockPage::new(pfn), 0, PAGE))
        .collect();
    (frames, bytes)
}

/// `skip(k)` on a fresh iterator over the list or a slice succeeds exactly
/// when k is within the view, and the next mapping starts with byte k.
fn skipping<const PAGE: usize>(
    mode: Mapping,
    span: Span,
    layout: &EntryLayout,
    k: u32,
    range: SkipLen,
) -> Result<(), String> {
    let mock = MockPages::<PAGE>::with_mapping(mode);
    let built = layout.build(&mock);
    fill(&mock, built.list(&mock), 9);
    let list = built.list(&mock);
    let bytes = mock.list_bytes(list);
    let (skip, count) = clamp(range, bytes.len());
    let slice = list
        .slice(skip as u64, count as u64)
        .map_err(|e| e.to_string())?;
    for (view, model) in [(list, &bytes[..]), (slice, &bytes[skip..skip + count])] {
        // Within the view, exactly at its end, and past it.
        for k in [k as usize % (model.len() + 1), model.len(), k as usize] {
            let mut iter = MappingIter::new(view);
            iter = match span {
                Span::Default => iter,
                Span::PageByPage => iter.page_by_page(),
                Span::Merged => iter.merge_adjacent(),
            };
            if iter.advance(k as u64).is_ok() != (k <= model.len()) {
                return Err(format!("skip({k}) over {} bytes", model.len()));
            }
            if iter.position() != k.min(model.len()) as u64 {
                return Err(format!("position {} after skip({k})", iter.position()));
            }
            match iter.next_slice() {
                Some(mapped) => check_bytes(mapped, k, model)?,
                None if k >= model.len() => {}
                None => return Err(format!("nothing after skip({k}) of {}", model.len())),
            }
        }
        if mock.live_mappings() != 0 {
            return Err("a mapping was left live".into());
        }
    }
    Ok(())
}

fn result(outcome: Result<(), String>) -> TestResult {
    match outcome {
        Ok(()) => TestResult::passed(),
        Err(error) => TestResult::error(error),
    }
}

/// Runs `body` with 4096-byte pages and, outside Miri, 64-byte pages too
/// (Miri runs only the small pages, which keep its cases short).
macro_rules! both_page_sizes {
    ($body:ident($($argument:expr),*)) => {{
        let small = $body::<64>($($argument),*);
        if cfg!(miri) || small.is_err() {
            small
        } else {
            $body::<4096>($($argument),*)
        }
    }};
}

macro_rules! properties {
    ($($mode:ident $span:ident: $read:ident, $skip:ident, $write:ident, $write_slice:ident;)*) => {$(
        // Reading consumes exactly the model's bytes (partial consumption,
        // skips and stops honoured) in mappings of the expected lengths.
        #[test]
        fn $read() {
            fn property(layout: EntryLayout, pattern: ConsumePattern, range: SkipLen) -> TestResult {
                let (layout, pattern) = (fit(layout), fit_pattern(pattern));
                result(both_page_sizes!(reading(Mapping::$mode, Span::$span, &layout, &pattern, range)))
            }
            sg_testkit::checker(CASES)
                .quickcheck(property as fn(EntryLayout, ConsumePattern, SkipLen) -> TestResult);
        }

        // After skip(k) the next byte is the model's byte k.
        #[test]
        fn $skip() {
            fn property(layout: EntryLayout, k: u32, range: SkipLen) -> TestResult {
                let layout = fit(layout);
                result(both_page_sizes!(skipping(Mapping::$mode, Span::$span, &layout, k, range)))
            }
            sg_testkit::checker(CASES)
                .quickcheck(property as fn(EntryLayout, u32, SkipLen) -> TestResult);
        }

        // Writing through the whole list changes exactly the model's bytes.
        #[test]
        fn $write() {
            fn property(layout: EntryLayout, pattern: ConsumePattern) -> TestResult {
                let (layout, pattern) = (fit(layout), fit_pattern(pattern));
                let range = SkipLen { skip: 0, len: 0 };
                result(both_page_sizes!(writing(Mapping::$mode, Span::$span, &layout, &pattern, range, true)))
            }
            sg_testkit::checker(CASES)
                .quickcheck(property as fn(EntryLayout, ConsumePattern) -> TestResult);
        }

        // Writing through a byte-range slice changes exactly the model's
        // bytes of that range.
        #[test]
        fn $write_slice() {
            fn property(layout: EntryLayout, pattern: ConsumePattern, range: SkipLen) -> TestResult {
                let (layout, pattern) = (fit(layout), fit_pattern(pattern));
                result(both_page_sizes!(writing(Mapping::$mode, Span::$span, &layout, &pattern, range, false)))
            }
            sg_testkit::checker(CASES)
                .quickcheck(property as fn(EntryLayout, ConsumePattern, SkipLen) -> TestResult);
        }
    )*};
}

properties! {
    Copied Default: prop_read_matches_model_copied, prop_skip_lands_on_model_byte_copied,
        prop_write_changes_model_bytes_copied, prop_write_slice_changes_model_bytes_copied;
    Direct Default: prop_read_matches_model_direct, prop_skip_lands_on_model_byte_direct,
        prop_write_changes_model_bytes_direct, prop_write_slice_changes_model_bytes_direct;
    Linear Default: prop_read_matches_model_linear, prop_skip_lands_on_model_byte_linear,
        prop_write_changes_model_bytes_linear, prop_write_slice_changes_model_bytes_linear;
    Linear PageByPage: prop_read_matches_model_linear_page_by_page,
        prop_skip_lands_on_model_byte_linear_page_by_page,
        prop_write_changes_model_bytes_linear_page_by_page,
        prop_write_slice_changes_model_bytes_linear_page_by_page;
    Linear Merged: prop_read_matches_model_linear_merged,
        prop_skip_lands_on_model_byte_linear_merged,
        prop_write_changes_model_bytes_linear_merged,
        prop_write_slice_changes_model_bytes_linear_merged;
}
