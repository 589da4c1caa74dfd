//! Whole-list vectored I/O on any file descriptor (files, sockets, pipes)
//! in batches of at most [`MAX_IO_SLICES`] pieces, with no heap
//! allocation.
//!
//! Each batch maps up to [`MAX_IO_SLICES`] pieces of the list (cut as
//! [`with_io_slices`](crate::with_io_slices) cuts them, except that on a
//! linear provider neighbouring entries whose pages the provider's
//! `is_next` vouches for as one piece of memory are one piece, up to
//! 1 GiB: one iovec for the kernel), keeps their
//! guards and their io slices in fixed-size arrays on the stack, makes one
//! system call, and releases the mappings. A short transfer moves the
//! position by exactly the bytes the system took, inside a piece if need
//! be, and the next batch starts there. An interrupted call (`EINTR`) is
//! made again; any other error, `WouldBlock` included, ends the transfer
//! and comes back as a [`TransferError`] that says how many bytes were
//! done before it, so a caller with a non-blocking descriptor resumes with
//! [`SgList::slice`] from there.
//!
//! sg-copy allocates nothing on these paths (a provider's own `map` might:
//! a mock that records its mappings does); the counting-allocator test
//! `tests/vectored_no_alloc.rs` checks it on process memory.
//!
//! The stack frame of a call holds the batch: about
//! `MAX_IO_SLICES * (16 + size_of::<MappedBytes>())` bytes, some 56 KiB on
//! 64-bit targets with process memory.

use core::fmt;
use core::mem::MaybeUninit;
use std::io::{self, IoSlice, IoSliceMut};

use rustix::fd::AsFd;
use sg_core::{Access, ListView, MappedBytes, PageProvider, SgList, SgListMut};

use crate::MAX_IO_SLICES;
use crate::walk::Walk;

/// A vectored transfer that stopped on an error, with the bytes it had
/// moved before: the list's first [`done`](Self::done) bytes went out (or
/// came in), the rest did not.
///
/// [`io::ErrorKind::WouldBlock`] from a non-blocking descriptor is such an
/// error: resume with the rest of the list, `list.slice(done, ..)`.
///
/// Converts into an [`io::Error`] of the same kind (losing the count).
#[derive(Debug)]
#[must_use = "the bytes done before the error are only known from it"]
pub struct TransferError {
    done: u64,
    error: io::Error,
}

impl TransferError {
    /// An error after `done` bytes.
    pub fn new(done: u64, error: io::Error) -> Self {
        TransferError { done, error }
    }

    /// The bytes moved before the error: a prefix of the list.
    pub fn done(&self) -> u64 {
        self.done
    }

    /// The error that stopped the transfer.
    pub fn error(&self) -> &io::Error {
        &self.error
    }

    /// The error's kind.
    pub fn kind(&self) -> io::ErrorKind {
        self.error.kind()
    }

    /// The error, without the count.
    pub fn into_error(self) -> io::Error {
        self.error
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (after {} bytes)", self.error, self.done)
    }
}

impl std::error::Error for TransferError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<TransferError> for io::Error {
    fn from(error: TransferError) -> Self {
        io::Error::new(error.kind(), error)
    }
}

/// The mapped pieces of one batch, in an array on the stack.
///
/// # Invariants
///
/// The first `len` elements of `guards` are initialised; `bytes` is the
/// sum of their lengths.
struct Batch<'a, P: PageProvider, A: Access> {
    guards: [MaybeUninit<MappedBytes<'a, P, A>>; MAX_IO_SLICES],
    len: usize,
    bytes: u64,
}

impl<'a, P: PageProvider, A: Access> Batch<'a, P, A> {
    /// Maps the next [`MAX_IO_SLICES`] pieces (fewer at the end) of the
    /// list from `walk`'s position.
    ///
    /// # Safety
    ///
    /// `walk` walks a view of access `A` that the caller holds for `'a`
    /// and reaches only through the batches it makes: shared for
    /// [`sg_core::Read`], exclusive for [`sg_core::Write`] (and then one
    /// batch lives at a time).
    unsafe fn map(walk: &Walk<'a, P>) -> Self {
        let mut batch = Batch {
            guards: [const { MaybeUninit::uninit() }; MAX_IO_SLICES],
            len: 0,
            bytes: 0,
        };
        for piece in walk.pieces().take(MAX_IO_SLICES) {
            // SAFETY: the piece is `piece.len` bytes (at most `isize::MAX`)
            // of the view, in `piece.page` or, on a linear provider, in the
            // frames of one entry's run or of entries `is_next` joins into
            // one run (which `map` reaches as one range); the view keeps
            // them unwritten (shared) or reached only through this batch
            // (exclusive, the caller's promise). Overlapping entries of an
            // exclusive view yield no slice: `with_slices_mut` checks first.
            let mapped =
                unsafe { MappedBytes::new(walk.provider(), piece.page, piece.start, piece.len) };
            batch.guards[batch.len].write(mapped);
            // INVARIANT: one more initialised guard, of `piece.len` bytes.
            batch.len += 1;
            batch.bytes += piece.len as u64;
        }
        batch
    }

    /// The guards.
    fn guards(&mut self) -> &mut [MappedBytes<'a, P, A>] {
        // SAFETY: the first `len` elements are initialised (the type
        // invariant); `MaybeUninit<T>` has `T`'s layout.
        unsafe { core::slice::from_raw_parts_mut(self.guards.as_mut_ptr().cast(), self.len) }
    }
}

impl<P: PageProvider, A: Access> Drop for Batch<'_, P, A> {
    fn drop(&mut self) {
        let guards: *mut [MappedBytes<'_, P, A>] = self.guards();
        // SAFETY: the initialised guards, dropped once (the batch is being
        // dropped); each flushes and unmaps.
        unsafe { core::ptr::drop_in_place(guards) }
    }
}

/// What a call that moves 0 bytes means.
#[derive(Clone, Copy)]
enum AtZero {
    /// The end of the file or stream: the transfer is done.
    Stops,
    /// A write that took nothing: an error.
    Fails,
}

/// Moves every byte of `list` with `call`, which makes one system call for
/// a batch of guards, given the bytes done so far, and returns how many it
/// moved; in batches, again after `EINTR`, from exactly where the
/// previous call stopped.
fn drive<'a, V: ListView<'a>>(
    list: V,
    at_zero: AtZero,
    mut call: impl FnMut(&mut [MappedBytes<'a, V::Provider, V::Access>], u64) -> io::Result<usize>,
) -> Result<u64, TransferError> {
    let mut walk = Walk::new(list.into_list());
    let mut done = 0u64;
    while !walk.at_end() {
        // SAFETY: `walk` walks `list`, consumed here for `'a`: a shared
        // view, or an exclusive one that nothing but this loop reaches, and
        // each batch is dropped before the next is made.
        let mut batch = unsafe { Batch::map(&walk) };
        let moved = loop {
            match call(batch.guards(), done) {
                Ok(moved) => break moved,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(TransferError { done, error }),
            }
        };
        // The system moves at most what it was given.
        let moved = (moved as u64).min(batch.bytes);
        drop(batch);
        if moved == 0 {
            return match at_zero {
                AtZero::Stops => Ok(done),
                AtZero::Fails => Err(TransferError {
                    done,
                    error: io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the descriptor took none of the list's bytes",
                    ),
                }),
            };
        }
        walk.advance(moved);
        done += moved;
    }
    Ok(done)
}

/// Calls `body` with the guards' bytes as [`IoSlice`]s, kept in an array
/// on the stack.
fn with_slices<P: PageProvider, A: Access, R>(
    guards: &[MappedBytes<'_, P, A>],
    body: impl FnOnce(&[IoSlice<'_>]) -> R,
) -> R {
    let mut slices = [const { MaybeUninit::<IoSlice<'_>>::uninit() }; MAX_IO_SLICES];
    let len = guards.len().min(MAX_IO_SLICES);
    for (slot, guard) in slices.iter_mut().zip(guards) {
        slot.write(IoSlice::new(guard.bytes()));
    }
    // SAFETY: the first `len` slots were written just above;
    // `MaybeUninit<T>` has `T`'s layout.
    let slices = unsafe { core::slice::from_raw_parts(slices.as_ptr().cast::<IoSlice<'_>>(), len) };
    body(slices)
}

/// Calls `body` with the guards' bytes as [`IoSliceMut`]s, kept in an
/// array on the stack; an [`io::ErrorKind::InvalidInput`] error, without
/// calling it, when two guards' bytes overlap.
fn with_slices_mut<P: PageProvider, R>(
    guards: &mut [MappedBytes<'_, P, sg_core::Write>],
    body: impl FnOnce(&mut [IoSliceMut<'_>]) -> R,
) -> io::Result<R> {
    if !disjoint(guards) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "two entries of the list describe some of the same bytes",
        ));
    }
    let mut slices = [const { MaybeUninit::<IoSliceMut<'_>>::uninit() }; MAX_IO_SLICES];
    let len = guards.len().min(MAX_IO_SLICES);
    // No two guards overlap (checked above), so each may hand out its
    // slice.
    for (slot, guard) in slices.iter_mut().zip(guards) {
        slot.write(IoSliceMut::new(guard.bytes_mut()));
    }
    // SAFETY: the first `len` slots were written just above;
    // `MaybeUninit<T>` has `T`'s layout. `IoSliceMut` has no destructor,
    // so leaving them in the array forgets nothing.
    let slices = unsafe {
        core::slice::from_raw_parts_mut(slices.as_mut_ptr().cast::<IoSliceMut<'_>>(), len)
    };
    Ok(body(slices))
}

/// Whether no two guards' bytes overlap: one pass when they lie in rising
/// addresses (the common case), else their indices sorted by address in
/// an array on the stack (no allocation).
fn disjoint<P: PageProvider, A: Access>(guards: &[MappedBytes<'_, P, A>]) -> bool {
    let apart = |first: &MappedBytes<'_, P, A>, second: &MappedBytes<'_, P, A>| {
        first.address() + first.len() <= second.address()
    };
    if guards.windows(2).all(|pair| apart(&pair[0], &pair[1])) {
        return true;
    }
    // A batch holds at most MAX_IO_SLICES (1024) guards: indices fit u16.
    let mut order = [0u16; MAX_IO_SLICES];
    let order = &mut order[..guards.len().min(MAX_IO_SLICES)];
    for (index, slot) in order.iter_mut().enumerate() {
        *slot = index as u16;
    }
    order.sort_unstable_by_key(|&index| guards[usize::from(index)].address());
    order
        .windows(2)
        .all(|pair| apart(&guards[usize::from(pair[0])], &guards[usize::from(pair[1])]))
}

/// The file offset `done` bytes after `offset`.
fn offset_after(offset: u64, done: u64) -> io::Result<u64> {
    offset.checked_add(done).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the file offset overflows a u64",
        )
    })
}

/// Writes every byte of `list` to the file `fd` at `offset` with
/// `pwritev`, in batches of at most [`MAX_IO_SLICES`] pieces, and returns
/// the bytes written (the list's length); does not move the file's
/// position.
///
/// A short write is resumed at the byte where it stopped; `EINTR` is
/// retried. No heap allocation: the batch lives on the stack. Write a byte
/// range with [`SgList::slice`].
///
/// # Errors
///
/// A [`TransferError`] with the bytes written before it: what the system
/// call returns, [`io::ErrorKind::WriteZero`] when a call writes nothing,
/// [`io::ErrorKind::InvalidInput`] when the offset would overflow.
///
/// # Examples
///
/// ```
/// # #[cfg(miri)] fn main() {} // Miri cannot write files
/// # #[cfg(not(miri))]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sg_alloc::SliceTable;
///
/// let path = std::env::temp_dir().join(format!("sg-copy-doc-list-at-{}", std::process::id()));
/// let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
/// let (mut head, mut tail) = (*b"vectored ", *b"batches");
/// let mut iov: [&mut [u8]; 2] = [&mut head, &mut tail];
/// let mut table = SliceTable::new(&mut iov)?;
/// assert_eq!(sg_copy::write_list_at(&file, table.as_list(), 1)?, 16);
/// assert_eq!(sg_copy::zero(table.as_list_mut(), 0, 16), 16);
/// assert_eq!(sg_copy::read_list_at(&file, table.as_list_mut(), 1)?, 16);
/// drop(table);
/// assert_eq!((&head, &tail), (b"vectored ", b"batches"));
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
#[doc(alias("pwritev", "IOV_MAX"))]
pub fn write_list_at<P, Fd>(fd: Fd, list: SgList<'_, P>, offset: u64) -> Result<u64, TransferError>
where
    P: PageProvider,
    Fd: AsFd,
{
    drive(list, AtZero::Fails, |guards, done| {
        let at = offset_after(offset, done)?;
        with_slices(guards, |slices| rustix::io::pwritev(fd.as_fd(), slices, at))
            .map_err(io::Error::from)
    })
}

/// Fills `list` from the file `fd` at `offset` with `preadv`, in batches
/// of at most [`MAX_IO_SLICES`] pieces, until the list is full or the file
/// ends; returns the bytes read (fewer than the list holds only at the end
/// of the file); does not move the file's position.
///
/// A short read is resumed at the byte where it stopped; `EINTR` is
/// retried. No heap allocation.
///
/// # Errors
///
/// A [`TransferError`] with the bytes read before it: what the system call
/// returns; [`io::ErrorKind::InvalidInput`] when two entries describe some
/// of the same bytes, or the offset would overflow.
#[doc(alias("preadv", "IOV_MAX"))]
pub fn read_list_at<P, Fd>(
    fd: Fd,
    list: SgListMut<'_, P>,
    offset: u64,
) -> Result<u64, TransferError>
where
    P: PageProvider,
    Fd: AsFd,
{
    drive(list, AtZero::Stops, |guards, done| {
        let at = offset_after(offset, done)?;
        with_slices_mut(guards, |slices| rustix::io::preadv(fd.as_fd(), slices, at))?
            .map_err(io::Error::from)
    })
}

/// Writes every byte of `list` to `fd` (a socket, a pipe, a file at its
/// position) with `writev`, in batches of at most [`MAX_IO_SLICES`]
/// pieces; returns the bytes written (the list's length).
///
/// A short write is resumed at the byte where it stopped; `EINTR` is
/// retried. No heap allocation.
///
/// # Errors
///
/// A [`TransferError`] with the bytes written before it: what the system
/// call returns ([`io::ErrorKind::WouldBlock`] on a non-blocking
/// descriptor that is full), [`io::ErrorKind::WriteZero`] when a call
/// writes nothing.
///
/// # Examples
///
/// ```
/// # #[cfg(miri)] fn main() {} // Miri has no pipes
/// # #[cfg(not(miri))]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sg_alloc::SliceTable;
/// use std::io::Read;
///
/// let (mut reader, writer) = std::io::pipe()?;
/// let (mut head, mut tail) = (*b"through ", *b"a pipe");
/// let mut iov: [&mut [u8]; 2] = [&mut head, &mut tail];
/// let table = SliceTable::new(&mut iov)?;
/// assert_eq!(sg_copy::write_list(&writer, table.as_list())?, 14);
/// drop(writer);
/// let mut text = String::new();
/// reader.read_to_string(&mut text)?;
/// assert_eq!(text, "through a pipe");
/// # Ok(())
/// # }
/// ```
#[doc(alias("writev", "IOV_MAX"))]
pub fn write_list<P, Fd>(fd: Fd, list: SgList<'_, P>) -> Result<u64, TransferError>
where
    P: PageProvider,
    Fd: AsFd,
{
    drive(list, AtZero::Fails, |guards, _| {
        with_slices(guards, |slices| rustix::io::writev(fd.as_fd(), slices))
            .map_err(io::Error::from)
    })
}

/// Fills `list` from `fd` (a socket, a pipe, a file at its position) with
/// `readv`, in batches of at most [`MAX_IO_SLICES`] pieces, until the list
/// is full or the stream ends; returns the bytes read (fewer than the list
/// holds only at the end of the stream).
///
/// A short read is resumed at the byte where it stopped; `EINTR` is
/// retried. No heap allocation.
///
/// # Errors
///
/// A [`TransferError`] with the bytes read before it: what the system call
/// returns ([`io::ErrorKind::WouldBlock`] on a non-blocking descriptor with
/// nothing more to read); [`io::ErrorKind::InvalidInput`] when two entries
/// describe some of the same bytes.
#[doc(alias("readv", "IOV_MAX"))]
pub fn read_list<P, Fd>(fd: Fd, list: SgListMut<'_, P>) -> Result<u64, TransferError>
where
    P: PageProvider,
    Fd: AsFd,
{
    drive(list, AtZero::Stops, |guards, _| {
        with_slices_mut(guards, |slices| rustix::io::readv(fd.as_fd(), slices))?
            .map_err(io::Error::from)
    })
}

#[cfg(test)]
mod tests {
    //! The batching, resuming and retrying of [`drive`] against sinks and
    //! sources in memory that take or give a few bytes per call: no system
    //! call, so Miri runs them through every unsafe block of this module.

    use std::io::{Read, Write as _};
    use std::vec::Vec;

    use sg_alloc::SliceTable;
    use sg_testkit::{EntryLayout, Mapping, Model, TEST_PAGE_SIZE, TestPages, checker};

    use super::*;

    /// `count` buffers of 1 to 9 bytes.
    fn buffers(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|index| {
                (0..1 + index % 9)
                    .map(|byte| (index * 7 + byte) as u8)
                    .collect()
            })
            .collect()
    }

    /// How many bytes call number `call` moves, at most: from 1 to
    /// `most`, varying with the call and `seed`; every third call fails
    /// with `Interrupted` instead.
    fn trickle(call: &mut usize, seed: usize, most: usize) -> io::Result<usize> {
        *call += 1;
        if *call % 3 == 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        Ok(1 + (*call * 7919 + seed) % most)
    }

    #[test]
    fn a_list_longer_than_a_batch_goes_out_a_few_bytes_at_a_time() {
        let mut out = buffers(if cfg!(miri) { 1030 } else { 5000 });
        let model = Model::new(out.concat());
        let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        let table = SliceTable::new(&mut iov).unwrap();
        let mut sink = Vec::new();
        let mut call = 0;
        let mut batches = 0;
        let done = drive(table.as_list(), AtZero::Fails, |guards, done| {
            assert_eq!(done as usize, sink.len());
            batches += usize::from(guards.len() == MAX_IO_SLICES);
            // Each call maps a whole batch again: keep the calls few under Miri.
            let most = trickle(&mut call, 0, if cfg!(miri) { 3000 } else { 13 })?;
            with_slices(guards, |slices| {
                let mut left = most;
                for slice in slices {
                    let take = left.min(slice.len());
                    sink.write_all(&slice[..take]).unwrap();
                    left -= take;
                }
                Ok(most - left)
            })
        })
        .unwrap();
        assert_eq!(done, model.len() as u64);
        assert!(batches > 0);
        model.assert_eq_bytes(&sink);
    }

    #[test]
    fn would_block_returns_the_bytes_done_and_zero_is_write_zero() {
        let mut out = buffers(50);
        let mut iov: Vec<&mut [u8]> = out.iter_mut().map(Vec::as_mut_slice).collect();
        let table = SliceTable::new(&mut iov).unwrap();
        let mut calls = 0;
        let error = drive(table.as_list(), AtZero::Fails, |_, _| {
            calls += 1;
            if calls < 3 {
                Ok(10)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            }
        })
        .unwrap_err();
        assert_eq!(
            (error.kind(), error.done()),
            (io::ErrorKind::WouldBlock, 20)
        );
        let error = drive(table.as_list(), AtZero::Fails, |_, _| Ok(0)).unwrap_err();
        assert_eq!((error.kind(), error.done()), (io::ErrorKind::WriteZero, 0));
        assert_eq!(
            drive(table.as_list(), AtZero::Stops, |_, _| Ok(0)).unwrap(),
            0
        );
    }

    #[test]
    fn prop_reads_a_few_bytes_at_a_time_fill_the_list_as_the_model_says() {
        fn property(layout: EntryLayout, seed: u8) -> bool {
            [Mapping::Copied, Mapping::Direct, Mapping::Linear]
                .into_iter()
                .all(|mode| {
                    let mock = TestPages::with_mapping(mode);
                    let mut built = layout.scaled(TEST_PAGE_SIZE).build(&mock);
                    let len = layout.scaled(TEST_PAGE_SIZE).byte_len() as usize;
                    let source: Vec<u8> = (0..len + 5).map(|index| (index as u8) ^ seed).collect();
                    let mut reader = &source[..];
                    let mut call = 0;
                    // SAFETY: the layout's entries lie on the mock's frames and
                    // share no byte; nothing else reaches them meanwhile.
                    let view = unsafe { built.list_mut(&mock) };
                    let done = drive(view, AtZero::Stops, |guards, _| {
                        let most = trickle(&mut call, usize::from(seed), 3000)?;
                        with_slices_mut(guards, |slices| {
                            let mut left = most;
                            let mut moved = 0;
                            for slice in slices.iter_mut() {
                                let take = left.min(slice.len());
                                let count = reader.read(&mut slice[..take]).unwrap();
                                moved += count;
                                left -= count;
                                if count < take || left == 0 {
                                    break;
                                }
                            }
                            Ok(moved)
                        })?
                    })
                    .unwrap();
                    done == len as u64
                        && mock.live_mappings() == 0
                        && Model::new(source[..len].to_vec())
                            .diff(&mock.list_bytes(built.list(&mock)))
                            .is_none()
                })
        }
        checker(40).quickcheck(property as fn(EntryLayout, u8) -> bool);
    }

    #[test]
    fn overlap_is_found_in_any_order() {
        let mut bytes = [0u8; 64];
        let pages = sg_core::VirtPages::new();
        let base = core::ptr::NonNull::from(&mut bytes).cast::<u8>();
        let mut entries: [sg_core::SgEntry<_>; 3] = Default::default();
        sg_core::init_table(&mut entries).unwrap();
        // SAFETY: three pieces of `bytes`, which outlives the list; only
        // guards are made from them below, and no slice.
        unsafe {
            entries[0].set_buf(base.add(40), 8);
            entries[1].set_buf(base, 16);
            entries[2].set_buf(base.add(20), 8);
        }
        // SAFETY: as above.
        let list = unsafe { sg_core::SgList::new(&entries, &pages) };
        let walk = Walk::new(list);
        // SAFETY: a shared view, only read through the batch (not even
        // read: only addresses are compared).
        let mut batch = unsafe { Batch::<_, sg_core::Read>::map(&walk) };
        assert!(disjoint(batch.guards()));
        drop(batch);
        // SAFETY: as above; now the third overlaps the first.
        unsafe { entries[2].set_buf(base.add(44), 8) };
        // SAFETY: as above.
        let list = unsafe { sg_core::SgList::new(&entries, &pages) };
        let walk = Walk::new(list);
        // SAFETY: as above.
        let mut batch = unsafe { Batch::<_, sg_core::Read>::map(&walk) };
        assert!(!disjoint(batch.guards()));
    }
}

#[cfg(test)]
mod joined_tests {
    //! Entries whose bytes the provider's `is_next` vouches for as one
    //! piece of memory go to the kernel as one iovec; a short transfer
    //! inside such a piece resumes at the right byte; entries `is_next`
    //! does not join stay apart even when their addresses meet.

    use core::ptr::NonNull;
    use std::io::Write as _;
    use std::vec::Vec;

    use sg_core::{Error, SgEntry, VirtPage, VirtPages};

    use super::*;

    /// Process memory that never vouches for two pages as one piece: a
    /// linear provider whose `is_next` always says no.
    #[derive(Debug, Default)]
    struct NoJoin(VirtPages);

    // SAFETY: every method forwards to `VirtPages`, except `is_next`,
    // which says `false` (always allowed: nothing merges then).
    unsafe impl PageProvider for NoJoin {
        type Page = VirtPage;
        type Pfn = usize;
        const PAGE_SIZE: usize = <VirtPages as PageProvider>::PAGE_SIZE;

        fn pfn(&self, page: VirtPage) -> usize {
            self.0.pfn(page)
        }
        fn nth(&self, page: VirtPage, n: usize) -> VirtPage {
            self.0.nth(page, n)
        }
        fn map(&self, page: VirtPage) -> NonNull<u8> {
            self.0.map(page)
        }
        unsafe fn unmap(&self, page: VirtPage, mapping: NonNull<u8>) {
            // SAFETY: the caller's promise, forwarded.
            unsafe { self.0.unmap(page, mapping) }
        }
        fn is_linear(&self) -> bool {
            true
        }
        fn alloc_pages(&self, order: u32) -> Result<VirtPage, Error> {
            self.0.alloc_pages(order)
        }
        unsafe fn free_pages(&self, page: VirtPage, order: u32) {
            // SAFETY: the caller's promise, forwarded.
            unsafe { self.0.free_pages(page, order) }
        }
        fn is_next(&self, _first: VirtPage, _run_pages: usize, _next: VirtPage) -> bool {
            false
        }
    }

    const PAGE: usize = 4096;

    /// Entries over a block of four pages (from byte 100 of the first to
    /// byte 50 of the last, one entry per page), then a page of its own:
    /// five entries, their lengths, and the pages to free.
    fn layout<P: PageProvider<Page = VirtPage>>(
        pages: &P,
    ) -> ([SgEntry<VirtPage>; 5], [usize; 5], VirtPage, VirtPage) {
        let block = pages.alloc_pages(2).unwrap();
        let single = pages.alloc_pages(0).unwrap();
        let mut entries: [SgEntry<VirtPage>; 5] = Default::default();
        sg_core::init_table(&mut entries).unwrap();
        let lens = [PAGE - 100, PAGE, PAGE, 50, 300];
        // SAFETY: bytes of the pages just allocated, which only this list
        // reaches until they are freed.
        unsafe {
            entries[0].set_page(block, 100, lens[0] as u32);
            entries[1].set_page(pages.nth(block, 1), 0, PAGE as u32);
            entries[2].set_page(pages.nth(block, 2), 0, PAGE as u32);
            entries[3].set_page(pages.nth(block, 3), 0, 50);
            entries[4].set_page(single, 0, 300);
        }
        (entries, lens, block, single)
    }

    /// Frees what [`layout`] allocated.
    fn free<P: PageProvider<Page = VirtPage>>(pages: &P, block: VirtPage, single: VirtPage) {
        // SAFETY: allocated by `layout` with these orders; no list names
        // them any more.
        unsafe {
            pages.free_pages(block, 2);
            pages.free_pages(single, 0);
        }
    }

    /// The pieces' lengths from a fresh walk of `list`, `skip` bytes in.
    fn piece_lens<P: PageProvider>(list: SgList<'_, P>, skip: u64) -> Vec<usize> {
        let mut walk = Walk::new(list);
        walk.advance(skip);
        walk.pieces().map(|piece| piece.len).collect()
    }

    #[test]
    fn entries_is_next_joins_are_one_piece_and_others_are_not() {
        let pages = VirtPages::new();
        let (entries, lens, block, single) = layout(&pages);
        // SAFETY: the entries describe bytes of pages this provider
        // allocated, reached by nothing else meanwhile.
        let list = unsafe { SgList::new(&entries, &pages) };
        let joined = lens[..4].iter().sum::<usize>();
        assert_eq!(piece_lens(list, 0), [joined, 300]);
        // From inside the joined piece: the rest of it, from that byte.
        let mut walk = Walk::new(list);
        walk.advance(5000);
        let first = walk.pieces().next().unwrap();
        assert_eq!(
            (first.page, first.start, first.len),
            (pages.nth(block, 1), 5000 + 100 - PAGE, joined - 5000)
        );
        // A range of the list that ends inside the block.
        assert_eq!(piece_lens(list.slice(10, 7000).unwrap(), 0), [7000]);
        free(&pages, block, single);

        // The same layout, from a provider whose `is_next` says no: one
        // piece per entry, though the addresses meet.
        let no_join = NoJoin::default();
        let (entries, lens, block, single) = layout(&no_join);
        // SAFETY: as above.
        let list = unsafe { SgList::new(&entries, &no_join) };
        assert_eq!(piece_lens(list, 0), lens);
        free(&no_join, block, single);
    }

    #[test]
    fn short_writes_inside_a_joined_piece_resume_at_the_right_byte() {
        let pages = VirtPages::new();
        let (entries, lens, block, single) = layout(&pages);
        let total: usize = lens.iter().sum();
        let expected: Vec<u8> = (0..total).map(|index| (index % 251) as u8).collect();
        let mut entries = entries;
        // SAFETY: as in the test above; this exclusive view is the only
        // one while it lives.
        let view = unsafe { sg_core::SgListMut::new(&mut entries, &pages) };
        assert_eq!(crate::copy_from_slice(view, 0, &expected), total);
        // SAFETY: as above.
        let list = unsafe { SgList::new(&entries, &pages) };
        let mut sink = Vec::new();
        let mut calls = 0;
        // Stops inside the joined piece (and inside its pages) again and
        // again: 1 to 3001 bytes per call.
        let done = drive(list, AtZero::Fails, |guards, done| {
            assert_eq!(done as usize, sink.len());
            assert_eq!(guards[0].len(), {
                let left = lens[..4].iter().sum::<usize>().saturating_sub(sink.len());
                if left > 0 { left } else { total - sink.len() }
            });
            calls += 1;
            let most = 1 + (calls * 1237) % 3001;
            with_slices(guards, |slices| {
                let mut left = most;
                for slice in slices {
                    let take = left.min(slice.len());
                    sink.write_all(&slice[..take]).unwrap();
                    left -= take;
                }
                Ok(most - left)
            })
        })
        .unwrap();
        assert_eq!((done as usize, &sink), (total, &expected));
        assert!(calls > 4);
        free(&pages, block, single);
    }

    #[test]
    fn joined_pieces_stop_at_the_most_bytes_joined() {
        let pages = VirtPages::new();
        let (entries, lens, block, single) = layout(&pages);
        // SAFETY: as in the tests above.
        let list = unsafe { SgList::new(&entries, &pages) };
        let mut walk = Walk::new(list);
        // Joins at most two pages' worth (1 GiB in use).
        walk.set_max_joined(2 * PAGE as u64);
        let lens_joined: Vec<usize> = walk.pieces().map(|piece| piece.len).collect();
        assert_eq!(lens_joined, [lens[0] + lens[1], lens[2] + lens[3], lens[4]]);
        free(&pages, block, single);
    }
}
