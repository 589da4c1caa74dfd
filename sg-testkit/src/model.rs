//! `Model`: a flat byte buffer that mirrors the bytes of a list.

use std::fmt;

use sg_core::{PageProvider, SgList};

use crate::{MockPage, MockPages};

/// The first byte at which two byte strings differ.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Mismatch {
    /// Index of the byte.
    pub index: usize,
    /// The model's byte there (`None` past its end).
    pub expected: Option<u8>,
    /// The other byte there (`None` past its end).
    pub found: Option<u8>,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte {} differs: expected {:?}, found {:?}",
            self.index, self.expected, self.found
        )
    }
}

/// The reference model of a list: its bytes as one flat buffer, with the
/// kernel's semantics for every operation, so a property can compare what
/// the library did to a list with what should have happened.
///
/// # Examples
///
/// A property test that uses [`MockPages`] and `Model` together: whatever
/// is written through the list must be what the model says.
///
/// ```
/// use quickcheck::TestResult;
/// use sg_core::SgList;
/// use sg_testkit::{EntryLayout, MockPages, Model};
///
/// fn property(layout: EntryLayout, skip: u16, data: Vec<u8>) -> TestResult {
///     let mock = MockPages::<4096>::new();
///     let built = layout.build(&mock);
///     mock.fill(7);
///     let list = built.list(&mock);
///     let mut model = Model::from_list(&mock, list);
///
///     // The operation under test would go here; this one writes the
///     // bytes straight into the pages, as a library copy should.
///     let skip = u64::from(skip);
///     let copied = model.copy_from_slice(skip, &data);
///     let mut bytes = mock.list_bytes(list);
///     let start = (skip as usize).min(bytes.len());
///     bytes[start..start + copied].copy_from_slice(&data[..copied]);
///     mock.set_list_bytes(list, &bytes);
///
///     TestResult::from_bool(model.check(&mock, list).is_ok())
/// }
/// // `checker` runs fewer, smaller cases under Miri.
/// sg_testkit::checker(20).quickcheck(property as fn(EntryLayout, u16, Vec<u8>) -> TestResult);
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Model {
    bytes: Vec<u8>,
}

impl Model {
    /// A model holding `bytes`.
    pub fn new(bytes: Vec<u8>) -> Self {
        Model { bytes }
    }

    /// A model of the bytes `list` describes now, read from `mock`.
    pub fn from_list<P, const PAGE_SIZE: usize>(
        mock: &MockPages<PAGE_SIZE>,
        list: SgList<'_, P>,
    ) -> Self
    where
        P: PageProvider<Page = MockPage>,
    {
        Model::new(mock.list_bytes(list))
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the model holds no byte.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Bytes `skip..skip + len`, or `None` when that is past the end.
    pub fn range(&self, skip: u64, len: u64) -> Option<&[u8]> {
        let start = usize::try_from(skip).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.bytes.get(start..end)
    }

    /// The bytes from `skip` on that an operation of `wanted` bytes reaches:
    /// `start..start + count` with count = min(wanted, bytes after skip), 0
    /// when skip is past the end.
    fn window(&self, skip: u64, wanted: usize) -> std::ops::Range<usize> {
        let start = usize::try_from(skip)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        let count = wanted.min(self.bytes.len() - start);
        start..start + count
    }

    /// Copies `buffer` into the model starting `skip` bytes in (the kernel's
    /// `sg_pcopy_from_buffer`); returns the bytes copied.
    pub fn copy_from_slice(&mut self, skip: u64, buffer: &[u8]) -> usize {
        let window = self.window(skip, buffer.len());
        let count = window.len();
        self.bytes[window].copy_from_slice(&buffer[..count]);
        count
    }

    /// Copies the model's bytes from `skip` on into `buffer` (the kernel's
    /// `sg_pcopy_to_buffer`); returns the bytes copied.
    pub fn copy_to_slice(&self, skip: u64, buffer: &mut [u8]) -> usize {
        let window = self.window(skip, buffer.len());
        let count = window.len();
        buffer[..count].copy_from_slice(&self.bytes[window]);
        count
    }

    /// Zeroes `len` bytes from `skip` on (the kernel's `sg_zero_buffer`);
    /// returns the bytes zeroed.
    pub fn zero(&mut self, skip: u64, len: usize) -> usize {
        let window = self.window(skip, len);
        let count = window.len();
        self.bytes[window].fill(0);
        count
    }

    /// Copies up to `len` bytes of `source` from `source_skip` on into this
    /// model from `skip` on, as a list-to-list copy; returns the bytes
    /// copied: the least of `len` and what each side has after its skip.
    pub fn copy_from_model(
        &mut self,
        skip: u64,
        source: &Model,
        source_skip: u64,
        len: usize,
    ) -> usize {
        let from = source.window(source_skip, len);
        let to = self.window(skip, from.len());
        let count = to.len();
        self.bytes[to].copy_from_slice(&source.bytes[from.start..from.start + count]);
        count
    }

    /// The first byte where `other` differs from the model.
    pub fn diff(&self, other: &[u8]) -> Option<Mismatch> {
        if self.bytes == other {
            return None;
        }
        let longest = self.bytes.len().max(other.len());
        (0..longest)
            .map(|index| Mismatch {
                index,
                expected: self.bytes.get(index).copied(),
                found: other.get(index).copied(),
            })
            .find(|mismatch| mismatch.expected != mismatch.found)
    }

    /// Compares the model with the bytes `list` describes in `mock`.
    ///
    /// # Errors
    ///
    /// The first [`Mismatch`].
    pub fn check<P, const PAGE_SIZE: usize>(
        &self,
        mock: &MockPages<PAGE_SIZE>,
        list: SgList<'_, P>,
    ) -> Result<(), Mismatch>
    where
        P: PageProvider<Page = MockPage>,
    {
        match self.diff(&mock.list_bytes(list)) {
            None => Ok(()),
            Some(mismatch) => Err(mismatch),
        }
    }

    /// Fails the test if the bytes `list` describes differ from the model.
    ///
    /// # Panics
    ///
    /// At the first differing byte, naming it.
    #[track_caller]
    pub fn assert_matches<P, const PAGE_SIZE: usize>(
        &self,
        mock: &MockPages<PAGE_SIZE>,
        list: SgList<'_, P>,
    ) where
        P: PageProvider<Page = MockPage>,
    {
        if let Err(mismatch) = self.check(mock, list) {
            panic!("list and model differ: {mismatch}");
        }
    }

    /// Fails the test if `bytes` differ from the model.
    ///
    /// # Panics
    ///
    /// At the first differing byte, naming it.
    #[track_caller]
    pub fn assert_eq_bytes(&self, bytes: &[u8]) {
        if let Some(mismatch) = self.diff(bytes) {
            panic!("bytes and model differ: {mismatch}");
        }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 32;
        let shown = &self.bytes[..self.bytes.len().min(SHOWN)];
        f.debug_struct("Model")
            .field("len", &self.bytes.len())
            .field("first_bytes", &shown)
            .finish()
    }
}
