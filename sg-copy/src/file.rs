//! Positional vectored I/O of a list through `rustix`: a list's bytes go to
//! a file, or come from one, in one `pwritev` or `preadv` call, with no
//! bounce buffer.

use std::io;

use rustix::fd::AsFd;
use sg_core::{PageProvider, SgList, SgListMut};

use crate::io_slices::cut;
use crate::{with_io_slices, with_io_slices_mut};

/// Most entries one call hands to the system: Linux's `UIO_MAXIOV`, and
/// the `IOV_MAX` of most systems. A longer view is written or read up to
/// that many pieces per call, which then returns a short count.
pub const MAX_IO_SLICES: usize = 1024;

/// Writes the bytes of `list` to the file `fd` at `offset`, in one
/// `pwritev` call; returns the bytes written, which may be fewer than the
/// list holds (as with any write), and does not move the file's position.
///
/// The list's pieces (each entry on a linear provider, each page of each
/// entry otherwise) are handed to the system as they are: nothing is copied.
/// At most [`MAX_IO_SLICES`] entries go in one call; write a byte range of a
/// list with [`SgList::slice`], and everything with
/// [`write_all_at`].
///
/// # Errors
///
/// What the system call returns.
///
/// # Examples
///
/// ```
/// # #[cfg(miri)] fn main() {} // Miri cannot write files
/// # #[cfg(not(miri))]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sg_alloc::SliceTable;
///
/// let path = std::env::temp_dir().join(format!("sg-copy-doc-write-{}", std::process::id()));
/// let file = std::fs::File::create(&path)?;
/// let (mut head, mut tail) = (*b"vectored ", *b"write");
/// let mut iov: [&mut [u8]; 2] = [&mut head, &mut tail];
/// let table = SliceTable::new(&mut iov)?;
/// assert_eq!(sg_copy::write_at(&file, table.as_list(), 2)?, 14);
/// assert_eq!(std::fs::read(&path)?, b"\0\0vectored write");
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[doc(alias("pwritev", "pwrite"))]
pub fn write_at<P, Fd>(fd: Fd, list: SgList<'_, P>, offset: u64) -> io::Result<usize>
where
    P: PageProvider,
    Fd: AsFd,
{
    with_io_slices(window(list), |slices| {
        rustix::io::pwritev(fd, slices, offset)
    })
    .map_err(io::Error::from)
}

/// Reads from the file `fd` at `offset` into the bytes of `list`, in one
/// `preadv` call; returns the bytes read, which are fewer than the list
/// holds when the file ends first (0 at its end), and does not move the
/// file's position.
///
/// Pieces and limits are as in [`write_at`]; read everything with
/// [`read_exact_at`].
///
/// # Errors
///
/// What the system call returns, and [`io::ErrorKind::InvalidInput`] when
/// two entries describe some of the same bytes (see
/// [`with_io_slices_mut`]).
///
/// # Examples
///
/// ```
/// # #[cfg(miri)] fn main() {} // Miri cannot read files
/// # #[cfg(not(miri))]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sg_alloc::SliceTable;
///
/// let path = std::env::temp_dir().join(format!("sg-copy-doc-read-{}", std::process::id()));
/// std::fs::write(&path, b"--scatter-gather")?;
/// let file = std::fs::File::open(&path)?;
/// let (mut first, mut second) = ([0u8; 8], [0u8; 6]);
/// let mut iov: [&mut [u8]; 2] = [&mut first, &mut second];
/// let mut table = SliceTable::new(&mut iov)?;
/// assert_eq!(sg_copy::read_at(&file, table.as_list_mut(), 2)?, 14);
/// drop(table);
/// assert_eq!((&first, &second), (b"scatter-", b"gather"));
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[doc(alias("preadv", "pread"))]
pub fn read_at<P, Fd>(fd: Fd, list: SgListMut<'_, P>, offset: u64) -> io::Result<usize>
where
    P: PageProvider,
    Fd: AsFd,
{
    // SAFETY: the window is a view of some of `list`'s bytes, and `list`,
    // exclusive, is consumed here, so the new exclusive view is the only one
    // for the same lifetime.
    let window = unsafe { SgListMut::from_list(window(list.into_list())) };
    with_io_slices_mut(window, |slices| rustix::io::preadv(fd, slices, offset))
        .map_err(invalid_input)?
        .map_err(io::Error::from)
}

/// Writes every byte of `list` to the file `fd` at `offset`, calling
/// [`write_at`] until done (again after an interrupted call).
///
/// # Errors
///
/// What the system call returns; [`io::ErrorKind::WriteZero`] when a call
/// writes nothing; [`io::ErrorKind::InvalidInput`] when the file offset
/// would overflow.
#[doc(alias = "pwritev")]
pub fn write_all_at<P, Fd>(fd: Fd, list: SgList<'_, P>, offset: u64) -> io::Result<()>
where
    P: PageProvider,
    Fd: AsFd,
{
    all_at(
        list,
        list.byte_len(),
        offset,
        |rest, position| write_at(fd.as_fd(), *rest, position),
        |rest, done, left| rest.slice(done, left),
        (
            io::ErrorKind::WriteZero,
            "the file took none of the list's bytes",
        ),
    )
}

/// Fills every byte of `list` from the file `fd` at `offset`, calling
/// [`read_at`] until done (again after an interrupted call).
///
/// # Errors
///
/// What the system call returns; [`io::ErrorKind::UnexpectedEof`] when the
/// file ends first (some bytes of the list may have been read);
/// [`io::ErrorKind::InvalidInput`] when entries overlap or the file offset
/// would overflow.
#[doc(alias = "preadv")]
pub fn read_exact_at<P, Fd>(fd: Fd, list: SgListMut<'_, P>, offset: u64) -> io::Result<()>
where
    P: PageProvider,
    Fd: AsFd,
{
    let len = list.as_list().byte_len();
    all_at(
        list,
        len,
        offset,
        |rest, position| read_at(fd.as_fd(), rest.reborrow(), position),
        |rest, done, left| rest.into_slice(done, left),
        (
            io::ErrorKind::UnexpectedEof,
            "the file ended before the list was filled",
        ),
    )
}

/// The loop of [`write_all_at`] and [`read_exact_at`]: calls `once` at
/// each file position until `len` bytes have moved (again after an
/// interrupted call), moving the view `rest` past the bytes done with
/// `past`; a call that moves nothing is the error `nothing`.
fn all_at<L>(
    mut rest: L,
    len: u64,
    offset: u64,
    mut once: impl FnMut(&mut L, u64) -> io::Result<usize>,
    past: impl Fn(L, u64, u64) -> Result<L, sg_core::Error>,
    nothing: (io::ErrorKind, &'static str),
) -> io::Result<()> {
    let mut left = len;
    let mut position = offset;
    while left > 0 {
        let done = match once(&mut rest, position) {
            Ok(0) => return Err(io::Error::new(nothing.0, nothing.1)),
            // The system moves at most what it was given.
            Ok(done) => (done as u64).min(left),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        left -= done;
        position = advance(position, done)?;
        rest = past(rest, done, left).map_err(invalid_input)?;
    }
    Ok(())
}

/// The part of `list` one call hands to the system: the bytes of its first
/// [`MAX_IO_SLICES`] pieces, as [`with_io_slices`] cuts them (one per entry
/// with bytes on a linear provider, one per page of each such entry
/// otherwise).
///
/// Entries without bytes make no piece and do not count, so a list whose
/// first thousand entries are empty still moves its bytes. The window is
/// empty only when the list is.
fn window<P: PageProvider>(list: SgList<'_, P>) -> SgList<'_, P> {
    let linear = list.provider().is_linear();
    let page_size = P::PAGE_SIZE as u64;
    let mut pieces = 0;
    let mut bytes = 0u64;
    for segment in list.segments() {
        for (_, len) in cut(segment.offset, u64::from(segment.len), linear, page_size) {
            pieces += 1;
            bytes += len;
            if pieces == MAX_IO_SLICES {
                // `bytes` is a prefix of the list's bytes, so the slice
                // cannot fail; the rest of the list goes in a later call.
                return list.slice(0, bytes).unwrap_or(list);
            }
        }
    }
    list
}

/// The file offset `bytes` after `position`.
fn advance(position: u64, bytes: u64) -> io::Result<u64> {
    position.checked_add(bytes).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the file offset overflows a u64",
        )
    })
}

/// A list error as an I/O error.
fn invalid_input(error: sg_core::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, error)
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use crate::io_slices::cut;

    /// The pieces, as (count, bytes), of `len` bytes at `offset` on a
    /// provider mapped page by page, counting at most `most`.
    fn pieces_in_pages(offset: u64, len: u64, page_size: u64, most: usize) -> (usize, u64) {
        cut(offset, len, false, page_size)
            .take(most)
            .fold((0, 0), |(count, bytes), (_, piece)| {
                (count + 1, bytes + piece)
            })
    }

    #[test]
    fn a_run_makes_one_piece_per_page_it_touches() {
        // (offset, len, page size, most) -> (pieces, bytes)
        assert_eq!(pieces_in_pages(0, 4096, 4096, 10), (1, 4096));
        assert_eq!(pieces_in_pages(100, 4096, 4096, 10), (2, 4096));
        assert_eq!(pieces_in_pages(4096 + 100, 100, 4096, 10), (1, 100));
        assert_eq!(pieces_in_pages(4000, 200, 4096, 10), (2, 200));
        assert_eq!(pieces_in_pages(4000, 96, 4096, 1), (1, 96));
    }

    #[test]
    fn a_run_of_more_pages_than_allowed_is_cut_at_a_page_end() {
        assert_eq!(pieces_in_pages(0, 3 * 4096, 4096, 2), (2, 2 * 4096));
        assert_eq!(
            pieces_in_pages(100, 5 * 4096, 4096, 3),
            (3, (4096 - 100) + 2 * 4096)
        );
        assert_eq!(
            pieces_in_pages(2 * 4096 + 96, 4096, 4096, 1),
            (1, 4096 - 96)
        );
    }

    #[test]
    fn a_run_on_a_linear_provider_is_one_piece_with_its_offsets() {
        assert_eq!(
            cut(100, 3 * 4096, true, 4096).collect::<Vec<_>>(),
            [(100, 3 * 4096)]
        );
        assert_eq!(
            cut(100, 5000, false, 4096).collect::<Vec<_>>(),
            [(100, 3996), (4096, 1004)]
        );
        assert_eq!(cut(0, 0, false, 4096).count(), 0);
    }
}
