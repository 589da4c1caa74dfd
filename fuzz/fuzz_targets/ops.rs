//! Random sequences of operations on a table over mock pages, checked
//! against sg-testkit's `Model` after every step.
//!
//! The state is a table over pages of a random layout (mapped as copies,
//! in place, or linearly), its model, and a second table over other pages
//! with its model. Each step builds, appends, splits (keeping or joining
//! the pieces), slices, clones, iterates (pages, mappings with partial
//! consumption), copies, zeroes, reads and writes through the io
//! adapters, or maps for DMA; its result and the bytes of both tables
//! must be what the models say, bad input must get the exact error, and
//! no mapping may stay live. Dropping the mocks at the end checks that
//! every page, mapping and array was given back.
//!
//! Tables are built from `Pages` sets over the mock's pages (each page once
//! in a set); split pieces and clones, which borrow the table they come
//! from, become the state's table through a hand-made copy of their
//! entries (`adopt`).

#![no_main]

use std::io::{Cursor, Read, Seek, SeekFrom, Write};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sg_alloc::{AppendPages, AppendTable, FromPages, SgTable, split};
use sg_copy::{ListCursor, ListReader, copy_from_slice, copy_list, copy_to_slice, zero};
use sg_core::{DmaDirection, DmaLimits, Error, HeapChunks, PageProvider, Pages, SgList};
use sg_iter::{MappingIter, MappingIterMut, PageIter};
use sg_testkit::{Mapping, MockIommu, MockPage, MockPages, Model};

/// Small pages: many of them in little memory.
const PAGE: usize = 256;
const PAGE_U64: u64 = PAGE as u64;

type Mock = MockPages<PAGE>;
/// A writable table that owns its set of the mock's pages.
type Table<'m> = SgTable<Pages<&'m Mock>>;

#[derive(Arbitrary, Debug)]
struct Input {
    mapping: u8,
    seed: u8,
    /// Runs of the layout: frames (1 to 8), gap before (0 to 3), reversed.
    runs: Vec<(u8, u8, bool)>,
    ops: Vec<Op>,
}

/// How far a mapping iterator's mappings reach.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Span {
    Default,
    PageByPage,
    MergeAdjacent,
}

#[derive(Arbitrary, Debug)]
enum SeekTo {
    Start(u16),
    End(i16),
    Current(i16),
}

#[derive(Arbitrary, Debug)]
enum IoStep {
    Read(u16),
    Write(u16, u8),
    Seek(SeekTo),
}

#[derive(Arbitrary, Debug)]
enum Op {
    /// A new table from `pages` pool pages from `first` on.
    Build {
        first: u8,
        pages: u8,
        offset: u16,
        size: Option<u16>,
        max_segment: u32,
    },
    /// A new table from append calls over consecutive pool pages.
    Append {
        first: u8,
        calls: Vec<(u8, u16, Option<u16>, u32, u8)>,
    },
    /// Splits the table; keeps piece `keep` or the pieces joined again.
    Split {
        skip: u16,
        sizes: Vec<u16>,
        keep: Option<u8>,
    },
    /// Reads a slice through a mapping iterator.
    Slice {
        skip: u16,
        len: u16,
        span: Span,
    },
    /// Reads the table with partial consumption and skips.
    Read {
        skip: u16,
        steps: Vec<u8>,
        span: Span,
    },
    /// Writes the table through a mapping iterator.
    Write {
        skip: u16,
        steps: Vec<u8>,
        seed: u8,
        span: Span,
    },
    Pages {
        pgoffset: u8,
        nents: u8,
    },
    CopyTo {
        skip: u16,
        len: u16,
    },
    CopyFrom {
        skip: u16,
        len: u16,
        seed: u8,
    },
    Zero {
        skip: u16,
        len: u16,
    },
    /// List to list, into the other table or from it.
    CopyList {
        into_other: bool,
        skip: u16,
        other_skip: u16,
        len: u16,
    },
    /// Writes into a byte-range slice of the table.
    WriteSlice {
        skip: u16,
        len: u16,
        seed: u8,
    },
    Clone {
        merged: bool,
    },
    Io {
        steps: Vec<IoStep>,
    },
    Map {
        max_segment: u32,
        boundary: Option<u8>,
        alignment: u8,
        max_segments: Option<u8>,
        fail_at: Option<u8>,
    },
}

/// `len` bytes that differ from their neighbours, from `seed`.
fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|index| (index as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The bytes of pool pages: `size` from `offset` into the first.
fn page_bytes(mock: &Mock, pages: &[MockPage], offset: usize, size: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    for &page in pages {
        bytes.extend(mock.read(page, 0, PAGE));
    }
    bytes[offset..offset + size as usize].to_vec()
}

/// The error a builder from pages gives, if any.
fn build_error(
    pages: usize,
    offset: usize,
    size: u64,
    max_segment: u32,
    entries: usize,
) -> Option<Error> {
    let available = (pages as u64 * PAGE_U64).checked_sub(offset as u64);
    if pages == 0 {
        Some(Error::NoPages)
    } else if max_segment == 0 {
        Some(Error::InvalidLimits {
            reason: "the maximum segment size is 0",
        })
    } else if u64::from(max_segment) < PAGE_U64 {
        Some(Error::SegmentTooSmall {
            max_segment,
            page_size: PAGE,
        })
    } else if offset != 0 && entries != 0 {
        Some(Error::AppendOffset { offset })
    } else if offset >= PAGE {
        Some(Error::OffsetTooLarge {
            offset,
            page_size: PAGE,
        })
    } else if size == 0 {
        Some(Error::ZeroLength)
    } else if size > available.unwrap_or(0) {
        Some(Error::SizeTooLarge {
            size,
            available: available.unwrap_or(0),
        })
    } else {
        None
    }
}

/// A segment limit from raw input: often unlimited, sometimes small.
fn segment_limit(raw: u32) -> u32 {
    match raw % 3 {
        0 => u32::MAX,
        _ => (raw >> 2) % (8 * PAGE as u32),
    }
}

/// Pages of the mock, in this order, as a set to build a table from.
fn raw(mock: &Mock, handles: Vec<MockPage>) -> Pages<&Mock> {
    // SAFETY: pages the mock holds (added before any table is built), alive
    // as long as the mock, which outlives every table; each appears once in
    // the pool, and so in the set. One table reaches a page at a time: a
    // new table replaces the one it was built beside before either writes.
    unsafe { Pages::from_raw(mock, handles) }
}

/// A table over the same entries, mapped through `mock` itself, with no
/// set of its own: pieces of a split and clones borrow the table they come
/// from, so the state goes on with this copy of their entries.
fn adopt<'m, P: PageProvider<Page = MockPage>>(mock: &'m Mock, list: SgList<'_, P>) -> Table<'m> {
    // An empty set holds no page; the entries' own claims (below) do.
    let provider = Pages::new(mock);
    let mut table = SgTable::new(provider, list.count()).expect("a list with entries");
    for (mut entry, source) in table.entries_mut().zip(list.iter()) {
        if let Some(page) = source.page() {
            // SAFETY: the same bytes as an entry of a list over `mock`'s
            // pages (the provider of `list` maps through `mock`); the copy
            // replaces the table `list` comes from before anything writes.
            unsafe { entry.set_page(page, source.offset(), source.len()) };
        }
    }
    table
}

/// The entries of a list as (page, offset, length).
fn spans<P: PageProvider<Page = MockPage>>(
    list: SgList<'_, P>,
) -> Vec<(Option<MockPage>, u32, u32)> {
    list.iter()
        .map(|entry| (entry.page(), entry.offset(), entry.len()))
        .collect()
}

/// How many bytes of a mapping of `len` the next of `steps` consumes: that
/// many, at most `len`; 0 (or no step) takes the whole mapping.
fn step_len<'a>(steps: &mut impl Iterator<Item = &'a u8>, len: usize) -> usize {
    match steps.next() {
        Some(&step) if step != 0 => usize::from(step).min(len),
        _ => len,
    }
}

/// The DMA fields of a list's entries: (bus address, DMA length).
fn dma_fields(list: SgList<'_, impl PageProvider>) -> Vec<(u64, u32)> {
    list.iter()
        .map(|entry| (entry.dma_address(), entry.dma_len()))
        .collect()
}

/// Reads through a mapping iterator, consuming as `steps` say (0: the
/// whole mapping; otherwise that many bytes, at most the mapping).
fn read_all(mut reader: MappingIter<'_, impl PageProvider>, steps: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    let mut steps = steps.iter().cycle();
    while let Some(piece) = reader.next_slice() {
        let take = step_len(&mut steps, piece.len());
        bytes.extend_from_slice(&piece[..take]);
        reader.consume(take);
    }
    bytes
}

fn with_span<'a, P: PageProvider>(reader: MappingIter<'a, P>, span: Span) -> MappingIter<'a, P> {
    match span {
        Span::Default => reader,
        Span::PageByPage => reader.page_by_page(),
        Span::MergeAdjacent => reader.merge_adjacent(),
    }
}

struct State<'m> {
    mock: &'m Mock,
    pool: Vec<MockPage>,
    table: Table<'m>,
    model: Model,
    other: Table<'m>,
    other_model: Model,
}

impl<'m> State<'m> {
    fn check(&self) {
        self.model.assert_matches(self.mock, self.table.as_list());
        self.other_model
            .assert_matches(self.mock, self.other.as_list());
        assert_eq!(self.table.byte_len(), self.model.len() as u64);
        assert_eq!(self.mock.live_mappings(), 0);
    }

    fn len(&self) -> u64 {
        self.model.len() as u64
    }

    /// The error of a range that needs `needed` bytes of the table.
    fn too_short(&self, needed: u64) -> Error {
        Error::ListTooShort {
            needed,
            available: self.len(),
        }
    }

    /// Pool pages from `first`, at most `count`.
    fn pool_range(&self, first: u8, count: u8) -> &[MockPage] {
        let start = usize::from(first) % (self.pool.len() + 1);
        let end = (start + usize::from(count % 16)).min(self.pool.len());
        &self.pool[start..end]
    }

    fn step(&mut self, op: &Op) {
        let mock = self.mock;
        match *op {
            Op::Build {
                first,
                pages,
                offset,
                size,
                max_segment,
            } => {
                let pages = self.pool_range(first, pages);
                let offset = usize::from(offset) % (PAGE + 8);
                let size = size.map_or(
                    (pages.len() as u64 * PAGE_U64).saturating_sub(offset as u64),
                    u64::from,
                );
                let max_segment = segment_limit(max_segment);
                let built = FromPages::new(raw(mock, pages.to_vec()), offset, size)
                    .max_segment_size(max_segment)
                    .build();
                match build_error(pages.len(), offset, size, max_segment, 0) {
                    Some(error) => assert_eq!(built.err(), Some(error)),
                    None => {
                        let table = built.expect("a build of good input");
                        self.model = Model::new(page_bytes(mock, pages, offset, size));
                        self.table = table;
                    }
                }
            }
            Op::Append { first, ref calls } => {
                // One set over the pool from `first` on; each call takes the
                // next pages of it, as positions in the set.
                let base = usize::from(first) % (self.pool.len() + 1);
                let mut start = base;
                let mut append = AppendTable::new(raw(mock, self.pool[base..].to_vec()));
                let mut bytes = Vec::new();
                for (index, &(count, offset, size, max_segment, left)) in
                    calls.iter().take(5).enumerate()
                {
                    let end = (start + usize::from(count % 8)).min(self.pool.len());
                    let pages = &self.pool[start..end];
                    let offset = if index == 0 || offset % 4 == 0 {
                        usize::from(offset) % (PAGE + 8)
                    } else {
                        0
                    };
                    let size = size.map_or(
                        (pages.len() as u64 * PAGE_U64).saturating_sub(offset as u64),
                        u64::from,
                    );
                    let max_segment = segment_limit(max_segment);
                    let entries = append.orig_nents();
                    let before = (entries, append.byte_len(), append.arrays());
                    let done = append.append_pages(
                        AppendPages::new(start - base..end - base, size)
                            .offset(offset)
                            .max_segment_size(max_segment)
                            .left_pages(usize::from(left % 4)),
                    );
                    match build_error(pages.len(), offset, size, max_segment, entries) {
                        Some(error) => {
                            assert_eq!(done, Err(error));
                            assert_eq!(
                                (append.orig_nents(), append.byte_len(), append.arrays()),
                                before
                            );
                        }
                        None => {
                            done.expect("an append of good input");
                            bytes.extend(page_bytes(mock, pages, offset, size));
                            // Pages are never appended twice.
                            start = end;
                            let next = append.next_page();
                            let before = (append.orig_nents(), append.byte_len(), append.arrays());
                            assert_eq!(
                                append.append_pages(AppendPages::new(0..next, 1)),
                                Err(Error::PageReused { index: 0, next })
                            );
                            assert_eq!(
                                (append.orig_nents(), append.byte_len(), append.arrays()),
                                before
                            );
                        }
                    }
                    Model::new(bytes.clone()).assert_matches(mock, append.as_list());
                }
                match append.finish() {
                    Ok(table) => {
                        self.table = table;
                        self.model = Model::new(bytes);
                    }
                    Err(error) => assert_eq!((error, bytes.len()), (Error::NoEntries, 0)),
                }
            }
            Op::Split {
                skip,
                ref sizes,
                keep,
            } => {
                let skip = u64::from(skip);
                let sizes: Vec<u64> = sizes.iter().take(6).map(|&size| u64::from(size)).collect();
                let total: u64 = sizes.iter().sum();
                let pieces = split(self.table.as_list(), skip, &sizes);
                if sizes.contains(&0) {
                    assert_eq!(pieces.err(), Some(Error::ZeroLength));
                    return;
                }
                if skip + total > self.len() {
                    assert_eq!(pieces.err(), Some(self.too_short(skip + total)));
                    return;
                }
                let pieces = pieces.expect("a split inside the list");
                let mut at = skip;
                for (piece, &size) in pieces.iter().zip(&sizes) {
                    let wanted = self.model.range(at, size).expect("inside the model");
                    assert_eq!(piece.byte_len(), size);
                    assert!(mock.list_bytes(piece.as_list()) == wanted);
                    assert!(piece.as_list().iter().all(|entry| !entry.is_empty()));
                    assert!(piece.as_list().last_of(piece.orig_nents()).is_ok());
                    at += size;
                }
                let Some(keep) = keep else { return };
                if pieces.is_empty() {
                    return;
                }
                // Pieces of a shared view only read: the piece to keep (or
                // join) comes from a split of the exclusive view, which gives
                // the same entries, writable.
                let read_spans: Vec<_> =
                    pieces.iter().map(|piece| spans(piece.as_list())).collect();
                drop(pieces);
                let mut pieces =
                    split(self.table.as_list_mut(), skip, &sizes).expect("as the shared split");
                let write_spans: Vec<_> =
                    pieces.iter().map(|piece| spans(piece.as_list())).collect();
                assert_eq!(write_spans, read_spans);
                let (list_of, skip, len) = if keep % 2 == 0 {
                    let index = usize::from(keep / 2) % pieces.len();
                    let before: u64 = sizes[..index].iter().sum();
                    (pieces.swap_remove(index), skip + before, sizes[index])
                } else {
                    let mut joined = pieces.remove(0);
                    for piece in pieces.drain(..) {
                        joined
                            .join(piece)
                            .map_err(|refused| refused.reason())
                            .expect("same source");
                    }
                    (joined, skip, total)
                };
                let model = Model::new(self.model.range(skip, len).expect("inside").to_vec());
                model.assert_matches(mock, list_of.as_list());
                let table = adopt(mock, list_of.as_list());
                drop(list_of);
                drop(pieces);
                self.table = table;
                self.model = model;
            }
            Op::Slice { skip, len, span } => {
                let (skip, len) = (u64::from(skip), u64::from(len));
                let slice = self.table.as_list().slice(skip, len);
                let Some(wanted) = self.model.range(skip, len) else {
                    assert_eq!(slice.err(), Some(self.too_short(skip + len)));
                    return;
                };
                let slice = slice.expect("a range inside the list");
                assert_eq!(slice.byte_len(), len);
                assert!(read_all(with_span(MappingIter::new(slice), span), &[]) == wanted);
            }
            Op::Read {
                skip,
                ref steps,
                span,
            } => {
                let mut reader = with_span(MappingIter::new(self.table.as_list()), span);
                let skip = u64::from(skip);
                assert_eq!(reader.advance(skip).is_ok(), skip <= self.len());
                let read = read_all(reader, steps);
                let start = skip.min(self.len()) as usize;
                assert!(read == self.model.bytes()[start..]);
            }
            Op::Write {
                skip,
                ref steps,
                seed,
                span,
            } => {
                let len = self.len();
                let mut writer = MappingIterMut::new(self.table.as_list_mut());
                writer = match span {
                    Span::Default => writer,
                    Span::PageByPage => writer.page_by_page(),
                    Span::MergeAdjacent => writer.merge_adjacent(),
                };
                let skip = u64::from(skip);
                assert_eq!(writer.advance(skip).is_ok(), skip <= len);
                let mut written = Vec::new();
                let mut steps = steps.iter().cycle();
                while let Some(piece) = writer.next_slice_mut() {
                    let take = step_len(&mut steps, piece.len());
                    let bytes = data(take, seed.wrapping_add(written.len() as u8));
                    piece[..take].copy_from_slice(&bytes);
                    written.extend(bytes);
                    writer.consume(take);
                }
                drop(writer);
                self.model.copy_from_slice(skip, &written);
            }
            Op::Pages { pgoffset, nents } => {
                let list = self.table.as_list().take_entries(usize::from(nents));
                let mut wanted = Vec::new();
                for entry in list.iter() {
                    let Some(page) = entry.page() else { continue };
                    let touched =
                        (u64::from(entry.offset()) + u64::from(entry.len())).div_ceil(PAGE_U64);
                    wanted.extend((0..touched).map(|index| MockPage::new(page.pfn() + index)));
                }
                let visited: Vec<MockPage> = PageIter::new(list, usize::from(pgoffset)).collect();
                let from = usize::from(pgoffset).min(wanted.len());
                assert_eq!(visited, wanted[from..]);
            }
            Op::CopyTo { skip, len } => {
                let mut got = vec![0xA5; usize::from(len)];
                let mut wanted = got.clone();
                let copied = copy_to_slice(self.table.as_list(), u64::from(skip), &mut got);
                assert_eq!(
                    copied,
                    self.model.copy_to_slice(u64::from(skip), &mut wanted)
                );
                assert!(got == wanted);
            }
            Op::CopyFrom { skip, len, seed } => {
                let bytes = data(usize::from(len), seed);
                let copied = copy_from_slice(self.table.as_list_mut(), u64::from(skip), &bytes);
                assert_eq!(copied, self.model.copy_from_slice(u64::from(skip), &bytes));
            }
            Op::Zero { skip, len } => {
                let zeroed = zero(self.table.as_list_mut(), u64::from(skip), u64::from(len));
                assert_eq!(
                    zeroed,
                    self.model.zero(u64::from(skip), usize::from(len)) as u64
                );
            }
            Op::CopyList {
                into_other,
                skip,
                other_skip,
                len,
            } => {
                // Each side: its table, its model and the skip into it.
                let this = (&mut self.table, &mut self.model, u64::from(skip));
                let other = (
                    &mut self.other,
                    &mut self.other_model,
                    u64::from(other_skip),
                );
                let (to, from) = if into_other {
                    (other, this)
                } else {
                    (this, other)
                };
                let len = u64::from(len);
                let copied = copy_list(to.0.as_list_mut(), to.2, from.0.as_list(), from.2, len);
                let wanted = to.1.copy_from_model(to.2, from.1, from.2, len as usize);
                assert_eq!(copied, wanted as u64);
            }
            Op::WriteSlice { skip, len, seed } => {
                let (skip, len) = (u64::from(skip), u64::from(len));
                let mut list = self.table.as_list_mut();
                let Ok(slice) = list.slice_mut(skip, len) else {
                    assert!(self.model.range(skip, len).is_none());
                    return;
                };
                let bytes = data(len as usize + 3, seed);
                // The slice ends where its range does: only `len` bytes land.
                assert_eq!(copy_from_slice(slice, 0, &bytes), len as usize);
                self.model.copy_from_slice(skip, &bytes[..len as usize]);
            }
            Op::Clone { merged } => {
                let mut copy = if merged {
                    self.table.clone_merged_in(HeapChunks::new())
                } else {
                    self.table.clone_in(HeapChunks::new())
                }
                .expect("a clone");
                if merged {
                    assert!(copy.orig_nents() <= self.table.orig_nents().max(1));
                } else {
                    assert_eq!(spans(copy.as_list()), spans(self.table.as_list()));
                }
                self.model.assert_matches(mock, copy.as_list());
                // A clone is read-only: a device may not write through it.
                let iommu = MockIommu::new();
                let refused = copy.with_dma_mapping(
                    &iommu,
                    DmaDirection::FromDevice,
                    &DmaLimits::new(),
                    |_| (),
                );
                assert_eq!(refused, Err(Error::ReadOnly));
                iommu.assert_clean();
                // The clone borrows the table: the state goes on with a
                // writable copy of its entries in the table's place.
                let table = adopt(mock, copy.as_list());
                drop(copy);
                self.table = table;
            }
            Op::Io { ref steps } => {
                let steps = &steps[..steps.len().min(12)];
                // Read-only first, against a cursor over the model's bytes.
                let mut reader = ListReader::new(self.table.as_list());
                let mut cursor = Cursor::new(self.model.bytes().to_vec());
                for step in steps {
                    match *step {
                        IoStep::Read(count) | IoStep::Write(count, _) => {
                            read_alike(&mut reader, &mut cursor, count);
                        }
                        IoStep::Seek(ref to) => seek_alike(&mut reader, &mut cursor, to),
                    }
                    assert_eq!(reader.position(), cursor.position());
                }
                drop(reader);
                // Then reading and writing, against a cursor over a copy.
                let mut bytes = self.model.bytes().to_vec();
                let mut list_cursor = ListCursor::new(self.table.as_list_mut());
                let mut cursor = Cursor::new(&mut bytes[..]);
                for step in steps {
                    match *step {
                        IoStep::Read(count) => read_alike(&mut list_cursor, &mut cursor, count),
                        IoStep::Write(count, seed) => {
                            let bytes = data(usize::from(count), seed);
                            assert_eq!(drain(&mut list_cursor, &bytes), drain(&mut cursor, &bytes));
                        }
                        IoStep::Seek(ref to) => seek_alike(&mut list_cursor, &mut cursor, to),
                    }
                    assert_eq!(list_cursor.position(), cursor.position());
                }
                list_cursor.flush().expect("flush");
                drop(list_cursor);
                self.model = Model::new(bytes);
            }
            Op::Map {
                max_segment,
                boundary,
                alignment,
                max_segments,
                fail_at,
            } => {
                let limits = DmaLimits::new()
                    .with_max_segment_size(segment_limit(max_segment))
                    .with_segment_boundary(boundary.map(|shift| 1u64 << (8 + shift % 12)))
                    .with_alignment(1 << (alignment % 10))
                    .with_max_segments(max_segments.map_or(usize::MAX, usize::from));
                let iommu = MockIommu::new();
                if let Some(call) = fail_at {
                    iommu.fail_map_at(usize::from(call % 8));
                }
                let before = dma_fields(self.table.as_list());
                // The table borrows the mock (and the mapper is borrowed):
                // it maps in a scope, which unmaps when the closure returns.
                let model = &self.model;
                let mapping = self.table.with_dma_mapping(
                    &iommu,
                    DmaDirection::Bidirectional,
                    &limits,
                    |mapped| {
                        assert!(limits.validate().is_ok());
                        assert!(mapped.nents() <= mapped.orig_nents());
                        // The segments tile the bytes in order.
                        let mut bytes = Vec::new();
                        for (address, length) in mapped.segments() {
                            assert!(length <= limits.max_segment_size());
                            assert!(!limits.crosses_boundary(address, u64::from(length)));
                            assert_eq!(address % limits.alignment(), 0);
                            bytes.extend(
                                iommu
                                    .device_read(mock, address, length as usize)
                                    .expect("mapped"),
                            );
                        }
                        assert!(mapped.segments().count() <= limits.max_segments());
                        model.assert_eq_bytes(&bytes);
                    },
                );
                let refused = mapping.err();
                if let Some(error) = refused {
                    if limits.validate().is_err() {
                        assert!(matches!(error, Error::InvalidLimits { .. }));
                    }
                    let after = dma_fields(self.table.as_list());
                    assert_eq!(after, before, "a failed mapping puts the DMA fields back");
                }
                assert_eq!(self.table.nents(), self.table.orig_nents());
                iommu.assert_clean();
            }
        }
    }
}

/// Reads into `buffer` until it is full or the reader ends.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buffer.len() {
        match reader.read(&mut buffer[done..]) {
            Ok(0) => break,
            Ok(count) => done += count,
            Err(error) => panic!("read failed: {error}"),
        }
    }
    done
}

/// Writes `bytes` until they are all written or the writer is full.
fn drain(writer: &mut impl Write, bytes: &[u8]) -> usize {
    let mut done = 0;
    while done < bytes.len() {
        match writer.write(&bytes[done..]) {
            Ok(0) => break,
            Ok(count) => done += count,
            Err(error) => panic!("write failed: {error}"),
        }
    }
    done
}

/// Reads `count` bytes from `ours` and from `theirs`: the same count and
/// the same bytes.
fn read_alike(ours: &mut impl Read, theirs: &mut impl Read, count: u16) {
    let (mut got, mut wanted) = (vec![0; usize::from(count)], vec![0; usize::from(count)]);
    assert_eq!(fill(ours, &mut got), fill(theirs, &mut wanted));
    assert!(got == wanted);
}

/// Seeks `ours` and `theirs` to `to`: the same position or the same error.
fn seek_alike(ours: &mut impl Seek, theirs: &mut impl Seek, to: &SeekTo) {
    let to = seek_from(to);
    let got = ours.seek(to).map_err(|error| error.kind());
    let wanted = theirs.seek(to).map_err(|error| error.kind());
    assert_eq!(got, wanted);
}

fn seek_from(to: &SeekTo) -> SeekFrom {
    match *to {
        SeekTo::Start(offset) => SeekFrom::Start(u64::from(offset)),
        SeekTo::End(delta) => SeekFrom::End(i64::from(delta)),
        SeekTo::Current(delta) => SeekFrom::Current(i64::from(delta)),
    }
}

fuzz_target!(|input: Input| {
    let mapping =
        [Mapping::Copied, Mapping::Direct, Mapping::Linear][usize::from(input.mapping % 3)];
    let mock = Mock::with_mapping(mapping);
    // The layout's pages, then the other table's: two lone frames and a
    // run of two, far from the layout.
    let mut pfns = Vec::new();
    let mut next = 16u64;
    for &(frames, gap, reversed) in input.runs.iter().take(16) {
        let first = next + u64::from(gap % 4);
        let run: Vec<u64> = (first..first + 1 + u64::from(frames % 8)).collect();
        next = first + run.len() as u64;
        if reversed {
            pfns.extend(run.into_iter().rev());
        } else {
            pfns.extend(run);
        }
    }
    if pfns.is_empty() {
        pfns.push(16);
    }
    let pool = mock.add_pages(pfns);
    let other_pages = mock.add_pages([10_000, 10_002, 10_003]);
    mock.fill(u64::from(input.seed));

    let table = SgTable::from_pages(raw(&mock, pool.clone()), 0, pool.len() as u64 * PAGE_U64)
        .expect("the first table");
    let other = SgTable::from_pages(raw(&mock, other_pages), 7, 3 * PAGE_U64 - 20)
        .expect("the other table");
    let mut state = State {
        mock: &mock,
        model: Model::from_list(&mock, table.as_list()),
        other_model: Model::from_list(&mock, other.as_list()),
        pool,
        table,
        other,
    };
    state.check();
    for op in input.ops.iter().take(24) {
        state.step(op);
        state.check();
    }
    drop(state);
    mock.assert_clean();
});
