//! `std::io` cursors over a list's bytes.

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom, Write};

use sg_core::{PageProvider, SgList, SgListMut};
use sg_iter::{MappingIter, MappingIterMut};

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

/// Reads a list's bytes through [`Read`] and [`Seek`], like
/// [`std::io::Cursor`] over a slice.
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
pub struct ListReader<'a, P: PageProvider> {
    list: SgList<'a, P>,
    len: u64,
    position: u64,
    mappings: MappingIter<'a, P>,
}

impl<'a, P: PageProvider> ListReader<'a, P> {
    /// A reader at the first byte of `list`.
    pub fn new(list: SgList<'a, P>) -> Self {
        ListReader {
            list,
            len: list.byte_len(),
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

    /// The position of the next byte read.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// The list read.
    pub fn list(&self) -> SgList<'a, P> {
        self.list
    }
}

impl<P: PageProvider> Read for ListReader<'_, P> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() || self.position >= self.len {
            return Ok(0);
        }
        let Some(bytes) = self.mappings.next() else {
            return Ok(0);
        };
        let count = bytes.len().min(buffer.len());
        buffer[..count].copy_from_slice(&bytes[..count]);
        self.mappings.consume(count);
        self.position += count as u64;
        Ok(count)
    }
}

impl<P: PageProvider> Seek for ListReader<'_, P> {
    fn seek(&mut self, from: SeekFrom) -> io::Result<u64> {
        let target = seek_target(from, self.position, self.len)?;
        if target < self.position {
            self.mappings = MappingIter::new(self.list).merge_adjacent();
            self.mappings.skip(target);
        } else if self.position < self.len {
            self.mappings.skip(target - self.position);
        }
        self.position = target;
        Ok(target)
    }
}

impl<P: PageProvider> fmt::Debug for ListReader<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListReader")
            .field("len", &self.len)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}

/// Reads and writes a list's bytes through [`Read`], [`Write`] and
/// [`Seek`], like [`std::io::Cursor`] over a mutable slice.
///
/// The list has a fixed length: writing at the end returns 0 (so
/// `write_all` fails with [`io::ErrorKind::WriteZero`]). Written pages are
/// flushed through the provider when their mapping is released.
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
pub struct ListCursor<'a, P: PageProvider> {
    /// The whole list, kept to seek backwards; only `mappings` reaches its
    /// bytes.
    list: SgList<'a, P>,
    len: u64,
    position: u64,
    mappings: MappingIterMut<'a, P>,
}

impl<'a, P: PageProvider> ListCursor<'a, P> {
    /// A cursor at the first byte of `list`.
    pub fn new(list: SgListMut<'a, P>) -> Self {
        let list = list.into_list();
        ListCursor {
            list,
            len: list.byte_len(),
            position: 0,
            mappings: Self::writer(list),
        }
    }

    /// A writing iterator over the whole list.
    fn writer(list: SgList<'a, P>) -> MappingIterMut<'a, P> {
        // SAFETY: `list` comes from the exclusive view the cursor was made
        // from and keeps for `'a`; the cursor reaches the bytes only through
        // `mappings`, and the previous iterator is replaced (and so dropped)
        // as soon as this one exists, before either is used.
        MappingIterMut::new(unsafe { SgListMut::from_list(list) }).merge_adjacent()
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
}

impl<P: PageProvider> Read for ListCursor<'_, P> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if buffer.is_empty() || self.position >= self.len {
            return Ok(0);
        }
        let Some(bytes) = self.mappings.next() else {
            return Ok(0);
        };
        let count = bytes.len().min(buffer.len());
        buffer[..count].copy_from_slice(&bytes[..count]);
        self.mappings.consume(count);
        self.position += count as u64;
        Ok(count)
    }
}

impl<P: PageProvider> Write for ListCursor<'_, P> {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        if buffer.is_empty() || self.position >= self.len {
            return Ok(0);
        }
        let Some(bytes) = self.mappings.next() else {
            return Ok(0);
        };
        let count = bytes.len().min(buffer.len());
        bytes[..count].copy_from_slice(&buffer[..count]);
        self.mappings.consume(count);
        self.position += count as u64;
        Ok(count)
    }

    /// Releases the live mapping, flushing its pages through the provider.
    fn flush(&mut self) -> io::Result<()> {
        self.mappings.stop();
        Ok(())
    }
}

impl<P: PageProvider> Seek for ListCursor<'_, P> {
    fn seek(&mut self, from: SeekFrom) -> io::Result<u64> {
        let target = seek_target(from, self.position, self.len)?;
        if target < self.position {
            self.mappings = Self::writer(self.list);
            self.mappings.skip(target);
        } else if self.position < self.len {
            self.mappings.skip(target - self.position);
        }
        self.position = target;
        Ok(target)
    }
}

impl<P: PageProvider> fmt::Debug for ListCursor<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListCursor")
            .field("len", &self.len)
            .field("position", &self.position)
            .finish_non_exhaustive()
    }
}
