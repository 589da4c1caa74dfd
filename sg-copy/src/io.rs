//! `std::io` cursors over a list's bytes.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use sg_core::{Access, ListView, PageProvider, SgList};
use sg_iter::MappingIter;

/// The position `from` asks for, given the current position and the length.
fn seek_target(from: SeekFrom, position: u64, len: u64) -> io::Result<u64> {
    let target = match from {
        SeekFrom::Start(offset) => Some(offset),
        SeekFrom::End(delta) => len.checked_add_signed(delta),
        SeekFrom::Current(delta) => position.checked_add_signed(delta),
    };
    target.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "seek to a negative or overflowing position",
        )
    })
}

/// Reads and writes a list's bytes through [`Read`], [`Write`] and
/// [`Seek`], like [`std::io::Cursor`] over a mutable slice; over a shared
/// view it only reads and seeks ([`ListReader`]).
///
/// The access marker `A` comes from the view the cursor is made from: an
/// exclusive [`SgListMut`](sg_core::SgListMut) gives a writing cursor (`A`
/// = [`sg_core::Write`], the default), a shared [`SgList`] a
/// [`ListReader`]. Each `read` or `write` maps one piece of the list (a
/// whole contiguous run on a linear provider) and copies from or into it;
/// the mapping stays until the next call, a seek, a flush or the drop.
/// Seeking past the end is allowed; reads and writes there return 0.
///
/// The list has a fixed length: writing at the end returns 0 (so
/// `write_all` fails with [`io::ErrorKind::WriteZero`]). Written pages are
/// flushed through the provider when their mapping is released.
///
/// # Invariants
///
/// `len` is the view's length and `position` the position of
/// `mappings` (`position` may be larger, past the end, after a seek; the
/// iterator then stands at the end). Only `mappings` reaches the view's
/// bytes.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, SeekFrom, Write};
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgListMut, VirtPages};
/// use sg_copy::ListCursor;
///
/// let mut first = [0u8; 5];
/// let mut second = [0u8; 5];
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut first).cast(), 5);
///     entries[1].set_buf(NonNull::from(&mut second).cast(), 5);
/// }
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let mut cursor = ListCursor::new(unsafe { SgListMut::new(&mut entries, &pages) });
/// cursor.write_all(b"0123456789")?;
/// assert!(cursor.write_all(b"!").is_err()); // the list is full
/// cursor.seek(SeekFrom::Start(3))?;
/// let mut middle = [0u8; 4];
/// cursor.read_exact(&mut middle)?;
/// assert_eq!(&middle, b"3456");
/// drop(cursor);
/// assert_eq!((&first, &second), (b"01234", b"56789"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct ListCursor<'a, P: PageProvider, A: Access = sg_core::Write> {
    len: u64,
    position: u64,
    mappings: MappingIter<'a, P, A>,
}

/// Reads a list's bytes through [`Read`] and [`Seek`], like
/// [`std::io::Cursor`] over a slice: a [`ListCursor`] over a shared
/// [`SgList`].
///
/// Each `read` maps one piece of the list (a whole contiguous run on a
/// linear provider) and copies from it; the mapping stays until the next
/// call or the drop. Seeking past the end is allowed; reads there return 0.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Seek, SeekFrom};
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgList, VirtPages};
/// use sg_copy::ListReader;
///
/// let mut head = *b"scatter ";
/// let mut tail = *b"gather";
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut head).cast(), 8);
///     entries[1].set_buf(NonNull::from(&mut tail).cast(), 6);
/// }
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let mut reader = ListReader::new(unsafe { SgList::new(&entries, &pages) });
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "scatter gather");
/// reader.seek(SeekFrom::End(-6))?;
/// let mut word = [0u8; 3];
/// reader.read_exact(&mut word)?;
/// assert_eq!(&word, b"gat");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ListReader<'a, P> = ListCursor<'a, P, sg_core::Read>;

impl<'a, P: PageProvider, A: Access> ListCursor<'a, P, A> {
    /// A cursor at the first byte of `list`: a [`ListReader`] over an
    /// [`SgList`], a writing cursor over an [`SgListMut`](sg_core::SgListMut).
    ///
    /// A cursor lends slices of the list's bytes to its reads and writes,
    /// so it does not compile for a shared provider
    /// ([`PageProvider::SHARED`]); copy with [`copy_to_slice`](crate::copy_to_slice)
    /// and [`copy_from_slice`](crate::copy_from_slice) there.
    pub fn new<V: ListView<'a, Provider = P, Access = A>>(list: V) -> Self {
        const {
            assert!(
                !P::SHARED,
                "a cursor lends slices: not over a shared provider"
            )
        };
        let len = list.as_list().byte_len();
        // INVARIANT: a new iterator stands at 0, and the cursor keeps no
        // other way to the bytes.
        ListCursor {
            len,
            position: 0,
            mappings: MappingIter::new(list).merge_adjacent(),
        }
    }

    /// The list's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the list holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The position of the next byte read or written.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Copies between the next mapping and a buffer of `wanted` bytes with
    /// `copy`, which takes the iterator and returns how many bytes it
    /// copied; moves the position past them. 0 at or past the end.
    fn transfer(
        &mut self,
        wanted: usize,
        copy: impl FnOnce(&mut MappingIter<'a, P, A>) -> Option<usize>,
    ) -> usize {
        if wanted == 0 || self.position >= self.len {
            return 0;
        }
        let Some(count) = copy(&mut self.mappings) else {
            return 0;
        };
        self.mappings.consume(count);
        // INVARIANT: the iterator moved as far as it consumed.
        self.position += count as u64;
        count
    }
}

impl<'a, P: PageProvider> ListCursor<'a, P, sg_core::Read> {
    /// The list read.
    pub fn list(&self) -> SgList<'a, P> {
        self.mappings.list()
    }
}

impl<P: PageProvider, A: Access> Read for ListCursor<'_, P, A> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        Ok(self.transfer(buffer.len(), |mappings| {
            let bytes = mappings.next_slice()?;
            let count = bytes.len().min(buffer.len());
            buffer[..count].copy_from_slice(&bytes[..count]);
            Some(count)
        }))
    }
}

impl<P: PageProvider> Write for ListCursor<'_, P, sg_core::Write> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        Ok(self.transfer(buffer.len(), |mappings| {
            let bytes = mappings.next_slice_mut()?;
            let count = bytes.len().min(buffer.len());
            bytes[..count].copy_from_slice(&buffer[..count]);
            Some(count)
        }))
    }

    /// Releases the live mapping, flushing its pages through the provider.
    fn flush(&mut self) -> io::Result<()> {
        self.mappings.stop();
        Ok(())
    }
}

impl<P: PageProvider, A: Access> Seek for ListCursor<'_, P, A> {
    fn seek(&mut self, from: SeekFrom) -> io::Result<u64> {
        let target = seek_target(from, self.position, self.len)?;
        // Past the end, the iterator stops at the end: the error says no
        // more than that.
        if target < self.position {
            self.mappings.rewind();
            let _ = self.mappings.advance(target);
        } else if self.position < self.len {
            let _ = self.mappings.advance(target - self.position);
        }
        // INVARIANT: the iterator stands at `target`, or at the end when
        // `target` is past it.
        self.position = target;
        Ok(target)
    }
}

impl<P: PageProvider, A: Access> fmt::Debug for ListCursor<'_, P, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(if A::WRITES {
            "ListCursor"
        } else {
            "ListReader"
        })
        .field("len", &self.len)
        .field("position", &self.position)
        .finish_non_exhaustive()
    }
}
