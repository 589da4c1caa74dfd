//! Lists submitted to io_uring: `READV`/`WRITEV` of a list (or a byte
//! range of it) at a file offset, and a list's pieces registered as fixed
//! buffers for `READ_FIXED`/`WRITE_FIXED`, through the `io-uring` crate.
//!
//! See [`Ring`] for why submissions are sound.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::marker::PhantomData;
use std::boxed::Box;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::vec::Vec;

use io_uring::{IoUring, opcode, types};
use sg_core::{ListView, MappedBytes, PageProvider, SgList, SgListMut};

use crate::walk::Walk;
use crate::{MAX_IO_SLICES, TransferError};

/// An `iovec`: a start address and a length, laid out as the system's
/// `struct iovec` (and as [`std::io::IoSlice`] on unix).
#[repr(C)]
#[derive(Clone, Copy)]
struct Iovec {
    base: *mut u8,
    len: usize,
}

/// Most fixed buffers one ring takes (the kernel's limit).
const MAX_FIXED_BUFFERS: usize = 1 << 14;

/// What kept values are: anything, dropped when the scope is done with it.
trait Keep {}
impl<T: ?Sized> Keep for T {}

/// Why a ring could not be set up.
#[derive(Debug)]
#[non_exhaustive]
pub enum RingError {
    /// io_uring is not available here: the kernel lacks it (`ENOSYS`) or
    /// forbids it to this process (`EPERM`, `EACCES`, e.g. by a seccomp
    /// filter or `kernel.io_uring_disabled`). Fall back to
    /// [`write_list_at`](crate::write_list_at) and friends.
    Unavailable(io::Error),
    /// Setting the ring up failed otherwise (out of memory, too many
    /// entries, ...).
    Setup(io::Error),
    /// The list's buffers could not be registered as fixed buffers.
    Register(io::Error),
}

impl fmt::Display for RingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RingError::Unavailable(error) => write!(f, "io_uring is not available: {error}"),
            RingError::Setup(error) => write!(f, "io_uring setup failed: {error}"),
            RingError::Register(error) => write!(f, "registering fixed buffers failed: {error}"),
        }
    }
}

impl std::error::Error for RingError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RingError::Unavailable(error)
            | RingError::Setup(error)
            | RingError::Register(error) => Some(error),
        }
    }
}

/// An io_uring instance that submits lists, in a [`scope`](Ring::scope)
/// that keeps them borrowed until the kernel is done with them.
///
/// # Soundness: a scoped API
///
/// The kernel reads or writes a submission's bytes, and reads its iovec
/// array, at any time until the completion is reaped. If safe code could
/// free, move or touch them earlier (drop the table, write to it, or
/// `mem::forget` a guard or future whose drop was supposed to wait) the
/// kernel would write freed or aliased memory: the classic io_uring trap.
///
/// Here every submission happens inside [`Ring::scope`], which works like
/// [`std::thread::scope`]: a submission borrows its list and its
/// descriptor for the lifetime `'env`, which covers the whole call of
/// `scope`, and `scope` does not return (nor unwind out of the closure)
/// before every submission made in it has completed and been reaped. So:
///
/// - the list cannot be dropped or written while the scope lives, because
///   it is borrowed for `'env` (a list made inside the closure cannot be
///   submitted at all: it does not live long enough);
/// - forgetting an [`Op`] handle with `mem::forget` changes nothing: the
///   handle is only a way to ask for the result, and the scope still waits
///   for the completion;
/// - the mapping guards and the iovec arrays belong to the scope, not to
///   the handle, and are released only once their completions are reaped.
///
/// Should waiting for completions fail for a reason other than `EINTR`
/// (which io_uring does not do for a ring it set up), the scope cannot
/// know when the kernel is done with the memory and aborts the process
/// rather than return.
///
/// A list cannot be dropped or written while its submission is in flight:
///
/// ```compile_fail,E0505
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::os::fd::AsFd;
/// use sg_alloc::SliceTable;
/// let file = std::fs::File::open("/dev/zero")?;
/// let mut buffer = [0u8; 64];
/// let mut iov: [&mut [u8]; 1] = [&mut buffer];
/// let mut table = SliceTable::new(&mut iov)?;
/// let mut ring = sg_copy::Ring::new(8)?;
/// ring.scope(|scope| {
///     let op = scope.read_at(file.as_fd(), table.as_list_mut(), 0)?;
///     drop(table); // error: `table` is borrowed until the scope ends
///     op.wait()
/// })?;
/// # Ok(())
/// # }
/// ```
///
/// ```compile_fail,E0499
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::os::fd::AsFd;
/// use sg_alloc::SliceTable;
/// let file = std::fs::File::open("/dev/zero")?;
/// let mut buffer = [0u8; 64];
/// let mut iov: [&mut [u8]; 1] = [&mut buffer];
/// let mut table = SliceTable::new(&mut iov)?;
/// let mut ring = sg_copy::Ring::new(8)?;
/// ring.scope(|scope| {
///     let op = scope.read_at(file.as_fd(), table.as_list_mut(), 0)?;
///     std::mem::forget(op); // the scope still waits for it
///     let _ = sg_copy::zero(table.as_list_mut(), 0, 64); // error: still borrowed
///     Ok::<_, sg_copy::TransferError>(0)
/// })?;
/// # Ok(())
/// # }
/// ```
///
/// ```compile_fail,E0597
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::os::fd::AsFd;
/// use sg_alloc::SliceTable;
/// let file = std::fs::File::open("/dev/zero")?;
/// let mut ring = sg_copy::Ring::new(8)?;
/// ring.scope(|scope| {
///     let mut buffer = [0u8; 64];
///     let mut iov: [&mut [u8]; 1] = [&mut buffer];
///     let mut table = SliceTable::new(&mut iov).unwrap();
///     // error: `table` does not live as long as the scope
///     let op = scope.read_at(file.as_fd(), table.as_list_mut(), 0).unwrap();
///     std::mem::forget(op);
/// });
/// # Ok(())
/// # }
/// ```
///
/// # Examples
///
/// ```
/// # #[cfg(miri)] fn main() {} // Miri has no io_uring
/// # #[cfg(not(miri))]
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::os::fd::AsFd;
/// use sg_alloc::SliceTable;
/// use sg_copy::{Ring, RingError};
///
/// let path = std::env::temp_dir().join(format!("sg-copy-doc-ring-{}", std::process::id()));
/// let file = std::fs::File::options().read(true).write(true).create(true).truncate(true).open(&path)?;
/// let mut ring = match Ring::new(32) {
///     Ok(ring) => ring,
///     Err(RingError::Unavailable(_)) => return Ok(()), // no io_uring here
///     Err(error) => return Err(error.into()),
/// };
/// let (mut head, mut tail) = (*b"io_uring ", *b"writev");
/// let mut iov: [&mut [u8]; 2] = [&mut head, &mut tail];
/// let table = SliceTable::new(&mut iov)?;
/// let (mut back, mut rest) = ([0u8; 4], [0u8; 11]);
/// let mut iov: [&mut [u8]; 2] = [&mut back, &mut rest];
/// let mut into = SliceTable::new(&mut iov)?;
/// ring.scope(|scope| {
///     scope.write_at(file.as_fd(), table.as_list(), 0)?.wait()?;
///     // A read past the end of the file stops there.
///     assert_eq!(scope.read_at(file.as_fd(), into.as_list_mut(), 0)?.wait()?, 15);
///     Ok::<_, sg_copy::TransferError>(())
/// })?;
/// drop(into);
/// assert_eq!((&back, &rest), (b"io_u", b"ring writev"));
/// # std::fs::remove_file(&path)?;
/// # Ok(())
/// # }
/// ```
pub struct Ring {
    ring: IoUring,
}

impl Ring {
    /// A ring with `entries` submission slots (a power of two is used).
    ///
    /// # Errors
    ///
    /// [`RingError::Unavailable`] where io_uring is missing or forbidden,
    /// [`RingError::Setup`] when setting it up fails otherwise.
    #[doc(alias = "io_uring_setup")]
    pub fn new(entries: u32) -> Result<Self, RingError> {
        IoUring::new(entries)
            .map(|ring| Ring { ring })
            .map_err(setup_error)
    }

    /// Runs `body` with a [`Scope`] in which lists are submitted, then
    /// waits for every submission made in it to complete, also when
    /// `body` panics; returns what `body` returned.
    ///
    /// Lists submitted in the scope are borrowed until it ends, so they
    /// cannot be dropped or touched meanwhile; see [`Ring`].
    pub fn scope<'env, F, R>(&'env mut self, body: F) -> R
    where
        F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> R,
    {
        let scope = Scope {
            ring: RefCell::new(&mut self.ring),
            ops: RefCell::new(Vec::new()),
            kept: RefCell::new(Vec::new()),
            in_flight: Cell::new(0),
            registered: Cell::new(false),
            _scope: PhantomData,
            _env: PhantomData,
        };
        let result = std::panic::catch_unwind(core::panic::AssertUnwindSafe(|| body(&scope)));
        scope.finish();
        match result {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("sq_entries", &self.ring.params().sq_entries())
            .field("cq_entries", &self.ring.params().cq_entries())
            .finish()
    }
}

/// What one submission entry of an op does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Readv,
    Writev,
    ReadFixed,
    WriteFixed,
}

impl Kind {
    fn reads(self) -> bool {
        matches!(self, Kind::Readv | Kind::ReadFixed)
    }
}

/// One submission entry of an op: some of its iovecs at a file offset.
#[derive(Debug)]
struct Chunk {
    /// Its first iovec in the op's array, and how many.
    first: usize,
    count: usize,
    /// The fixed buffer's index, for the fixed kinds.
    buffer: u16,
    /// The file offset of its first byte.
    offset: u64,
    /// Its bytes, and how many are done.
    bytes: u64,
    done: u64,
    /// Whether it is finished (all done, or stopped short or on an error).
    finished: bool,
}

/// The state of one submitted op, owned by the scope.
struct OpState {
    kind: Kind,
    fd: RawFd,
    /// Never resized once submitted: the kernel reads it.
    iovecs: Vec<Iovec>,
    chunks: Vec<Chunk>,
    /// Chunks not finished.
    pending: usize,
    error: Option<io::Error>,
}

impl OpState {
    /// The op's result: the bytes done up to its first short chunk, or
    /// the first error.
    fn result(&mut self) -> Result<u64, TransferError> {
        let mut done = 0;
        for chunk in &self.chunks {
            done += chunk.done;
            if chunk.done < chunk.bytes {
                break;
            }
        }
        match self.error.take() {
            Some(error) => Err(TransferError::new(done, error)),
            None if !self.kind.reads()
                && done < self.chunks.iter().map(|chunk| chunk.bytes).sum() =>
            {
                Err(TransferError::new(
                    done,
                    io::Error::new(
                        io::ErrorKind::WriteZero,
                        "the file took none of the bytes left",
                    ),
                ))
            }
            None => Ok(done),
        }
    }
}

/// Submits lists to a ring; made by [`Ring::scope`], which waits for
/// every submission before it returns.
///
/// `'scope` is the scope's life; `'env` covers the whole call of
/// [`Ring::scope`]: lists and descriptors submitted in it are borrowed for
/// all of it.
pub struct Scope<'scope, 'env: 'scope> {
    ring: RefCell<&'env mut IoUring>,
    ops: RefCell<Vec<OpState>>,
    /// Mapping guards of submitted lists and registered buffers: released
    /// only when the scope ends.
    kept: RefCell<Vec<Box<dyn Keep + 'env>>>,
    /// Submission entries pushed and not reaped yet.
    in_flight: Cell<usize>,
    /// Whether fixed buffers are registered.
    registered: Cell<bool>,
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// A submitted op: ask for its result with [`wait`](Op::wait).
///
/// Dropping or forgetting it is harmless: the scope still waits for the
/// op's completion before it ends.
#[must_use = "the op's result is only known from `wait`"]
pub struct Op<'scope, 'env> {
    scope: &'scope Scope<'scope, 'env>,
    index: usize,
}

/// A list's pieces registered as the ring's fixed buffers, for
/// [`Scope::write_fixed_at`] and [`Scope::read_fixed_at`].
#[derive(Debug)]
pub struct FixedBuffers<'scope> {
    iovecs: Vec<Iovec>,
    _scope: PhantomData<&'scope ()>,
}

impl FixedBuffers<'_> {
    /// How many buffers (pieces of the list) are registered.
    pub fn len(&self) -> usize {
        self.iovecs.len()
    }

    /// Whether no buffer is registered (the list was empty).
    pub fn is_empty(&self) -> bool {
        self.iovecs.is_empty()
    }

    /// The bytes registered.
    pub fn byte_len(&self) -> u64 {
        self.iovecs.iter().map(|iovec| iovec.len as u64).sum()
    }
}

impl fmt::Debug for Iovec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:p}+{}", self.base, self.len)
    }
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Submits `WRITEV`s of every byte of `list` to the file `fd` at
    /// `offset` (one per [`MAX_IO_SLICES`] pieces); short completions are
    /// resubmitted for the rest. Write a byte range with
    /// [`SgList::slice`].
    ///
    /// # Errors
    ///
    /// A submission the kernel refuses; errors of the write itself come
    /// from [`Op::wait`].
    #[doc(alias("IORING_OP_WRITEV", "io_uring_prep_writev"))]
    pub fn write_at<P: PageProvider + 'env>(
        &'scope self,
        fd: BorrowedFd<'env>,
        list: SgList<'env, P>,
        offset: u64,
    ) -> Result<Op<'scope, 'env>, TransferError> {
        let (guards, iovecs) = map_pieces(list);
        self.keep(guards);
        self.submit(Kind::Writev, fd.as_raw_fd(), iovecs, offset)
    }

    /// Submits `READV`s into every byte of `list` from the file `fd` at
    /// `offset`; short completions are resubmitted for the rest, until the
    /// file ends.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidInput`] when two entries describe some of
    /// the same bytes; a submission the kernel refuses.
    #[doc(alias("IORING_OP_READV", "io_uring_prep_readv"))]
    pub fn read_at<P: PageProvider + 'env>(
        &'scope self,
        fd: BorrowedFd<'env>,
        list: SgListMut<'env, P>,
        offset: u64,
    ) -> Result<Op<'scope, 'env>, TransferError> {
        let (guards, iovecs) =
            map_pieces_mut(list).map_err(|error| TransferError::new(0, error))?;
        self.keep(guards);
        self.submit(Kind::Readv, fd.as_raw_fd(), iovecs, offset)
    }

    /// Registers the pieces of `list` as the ring's fixed buffers (one
    /// buffer per piece: on a linear provider an entry, or neighbouring
    /// entries whose pages the provider's `is_next` vouches for as one
    /// piece of memory, up to 1 GiB, so a run of pages is one buffer and
    /// one `READ_FIXED`/`WRITE_FIXED`; a page otherwise), for [`write_fixed_at`](Self::write_fixed_at) and
    /// [`read_fixed_at`](Self::read_fixed_at); they stay registered, and
    /// the list borrowed, until the scope ends.
    ///
    /// # Errors
    ///
    /// [`RingError::Register`] when buffers are registered already in this
    /// scope, when the list has more than 16384 pieces, when two entries
    /// describe some of the same bytes, or when the kernel refuses (for
    /// example over `RLIMIT_MEMLOCK`).
    #[doc(alias("io_uring_register_buffers", "IORING_REGISTER_BUFFERS"))]
    pub fn register<P: PageProvider + 'env>(
        &'scope self,
        list: SgListMut<'env, P>,
    ) -> Result<FixedBuffers<'scope>, RingError> {
        let invalid = |message: &str| {
            RingError::Register(io::Error::new(io::ErrorKind::InvalidInput, message))
        };
        if self.registered.get() {
            return Err(invalid(
                "fixed buffers are registered already in this scope",
            ));
        }
        let (guards, iovecs) = map_pieces_mut(list).map_err(RingError::Register)?;
        if iovecs.len() > MAX_FIXED_BUFFERS {
            return Err(invalid("more than 16384 pieces"));
        }
        self.keep(guards);
        if !iovecs.is_empty() {
            // SAFETY: the iovecs describe the mapped pieces of `list`,
            // whose guards the scope keeps until it ends, after it has
            // unregistered them (`finish`); `list` is borrowed for the
            // scope, so nothing else reaches the bytes meanwhile.
            // `Iovec` is laid out as `struct iovec`.
            let slice =
                unsafe { core::slice::from_raw_parts(iovecs.as_ptr().cast(), iovecs.len()) };
            // SAFETY: as above.
            unsafe { self.ring.borrow().submitter().register_buffers(slice) }
                .map_err(RingError::Register)?;
            self.registered.set(true);
        }
        Ok(FixedBuffers {
            iovecs,
            _scope: PhantomData,
        })
    }

    /// Submits `WRITE_FIXED`s of every registered buffer, in order, to the
    /// file `fd` at `offset`; short completions are resubmitted for the
    /// rest.
    ///
    /// # Errors
    ///
    /// A submission the kernel refuses.
    #[doc(alias("IORING_OP_WRITE_FIXED", "io_uring_prep_write_fixed"))]
    pub fn write_fixed_at(
        &'scope self,
        fd: BorrowedFd<'env>,
        buffers: &FixedBuffers<'scope>,
        offset: u64,
    ) -> Result<Op<'scope, 'env>, TransferError> {
        self.submit(
            Kind::WriteFixed,
            fd.as_raw_fd(),
            buffers.iovecs.clone(),
            offset,
        )
    }

    /// Submits `READ_FIXED`s into every registered buffer, in order, from
    /// the file `fd` at `offset`; short completions are resubmitted for
    /// the rest, until the file ends.
    ///
    /// # Errors
    ///
    /// A submission the kernel refuses.
    #[doc(alias("IORING_OP_READ_FIXED", "io_uring_prep_read_fixed"))]
    pub fn read_fixed_at(
        &'scope self,
        fd: BorrowedFd<'env>,
        buffers: &FixedBuffers<'scope>,
        offset: u64,
    ) -> Result<Op<'scope, 'env>, TransferError> {
        self.submit(
            Kind::ReadFixed,
            fd.as_raw_fd(),
            buffers.iovecs.clone(),
            offset,
        )
    }

    /// Keeps `value` until the scope ends.
    fn keep(&self, value: impl Keep + 'env) {
        self.kept.borrow_mut().push(Box::new(value));
    }

    /// Records an op over `iovecs` (whose bytes the scope keeps mapped)
    /// and pushes its entries: one per fixed buffer, or one per
    /// [`MAX_IO_SLICES`] iovecs.
    fn submit(
        &'scope self,
        kind: Kind,
        fd: RawFd,
        iovecs: Vec<Iovec>,
        offset: u64,
    ) -> Result<Op<'scope, 'env>, TransferError> {
        let fixed = matches!(kind, Kind::ReadFixed | Kind::WriteFixed);
        let per_chunk = if fixed { 1 } else { MAX_IO_SLICES };
        let mut chunks = Vec::with_capacity(iovecs.len().div_ceil(per_chunk));
        let mut position = offset;
        for (index, group) in iovecs.chunks(per_chunk).enumerate() {
            let bytes: u64 = group.iter().map(|iovec| iovec.len as u64).sum();
            chunks.push(Chunk {
                first: index * per_chunk,
                count: group.len(),
                // At most 16384 buffers (checked on registration).
                buffer: index as u16,
                offset: position,
                bytes,
                done: 0,
                finished: false,
            });
            position = position.checked_add(bytes).ok_or_else(|| {
                TransferError::new(
                    0,
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the file offset overflows a u64",
                    ),
                )
            })?;
        }
        let pending = chunks.len();
        let index = {
            let mut ops = self.ops.borrow_mut();
            ops.push(OpState {
                kind,
                fd,
                iovecs,
                chunks,
                pending,
                error: None,
            });
            ops.len() - 1
        };
        // Pushed all, then handed to the kernel in one call (more when the
        // queue fills up).
        for chunk in 0..pending {
            self.push(index, chunk)
                .map_err(|error| TransferError::new(0, error))?;
        }
        self.submit_pending()
            .map_err(|error| TransferError::new(0, error))?;
        Ok(Op { scope: self, index })
    }

    /// Pushes the entry for what is left of chunk `chunk` of op `op`; the
    /// caller submits it (it is submitted here only when the queue is
    /// full).
    fn push(&self, op: usize, chunk: usize) -> io::Result<()> {
        let entry = {
            let ops = self.ops.borrow();
            let state = &ops[op];
            let part = &state.chunks[chunk];
            let iovecs = &state.iovecs[part.first..part.first + part.count];
            let fd = types::Fd(state.fd);
            let at = part.offset + part.done;
            match state.kind {
                // The iovec array holds at most MAX_IO_SLICES entries; a
                // fixed buffer is one piece, below 4 GiB (the kernel
                // refuses larger buffers on registration).
                Kind::Readv => opcode::Readv::new(fd, iovecs.as_ptr().cast(), part.count as u32)
                    .offset(at)
                    .build(),
                Kind::Writev => opcode::Writev::new(fd, iovecs.as_ptr().cast(), part.count as u32)
                    .offset(at)
                    .build(),
                Kind::ReadFixed => {
                    opcode::ReadFixed::new(fd, iovecs[0].base, iovecs[0].len as u32, part.buffer)
                        .offset(at)
                        .build()
                }
                Kind::WriteFixed => {
                    opcode::WriteFixed::new(fd, iovecs[0].base, iovecs[0].len as u32, part.buffer)
                        .offset(at)
                        .build()
                }
            }
            .user_data(((op as u64) << 32) | chunk as u64)
        };
        // Room in the completion queue for every entry in flight.
        let capacity = self.ring.borrow().params().cq_entries() as usize;
        while self.in_flight.get() >= capacity {
            self.reap()?;
        }
        loop {
            let mut ring = self.ring.borrow_mut();
            // SAFETY: the entry's iovecs (or fixed buffer) and the bytes
            // they describe are kept by the scope, unmoved and untouched,
            // until its completion is reaped, which the scope waits for
            // before it ends; the descriptor is borrowed for the scope.
            let pushed = unsafe { ring.submission().push(&entry) }.is_ok();
            if pushed {
                self.in_flight.set(self.in_flight.get() + 1);
                return Ok(());
            }
            drop(ring);
            // The submission queue is full: hand it to the kernel.
            self.submit_pending()?;
        }
    }

    /// Hands pushed entries to the kernel, again after `EINTR`; reaps
    /// when the kernel is busy.
    fn submit_pending(&self) -> io::Result<()> {
        loop {
            let result = self.ring.borrow().submit();
            match result {
                Ok(_) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error)
                    if error.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) =>
                {
                    self.reap()?;
                }
                Err(error) => return Err(error),
            }
        }
    }

    /// Waits for at least one completion (when any entry is in flight)
    /// and handles every completion there is: short ones are resubmitted.
    fn reap(&self) -> io::Result<()> {
        if self.in_flight.get() == 0 {
            return Ok(());
        }
        loop {
            match self.ring.borrow().submit_and_wait(1) {
                Ok(_) => break,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error)
                    if error.raw_os_error() == Some(rustix::io::Errno::BUSY.raw_os_error()) =>
                {
                    break;
                }
                Err(error) => return Err(error),
            }
        }
        let mut completions = [(0u64, 0i32); 64];
        loop {
            let count = {
                let mut ring = self.ring.borrow_mut();
                let mut count = 0;
                for (slot, entry) in completions.iter_mut().zip(ring.completion()) {
                    *slot = (entry.user_data(), entry.result());
                    count += 1;
                }
                count
            };
            if count == 0 {
                return Ok(());
            }
            self.in_flight.set(self.in_flight.get() - count);
            for &(data, result) in &completions[..count] {
                self.complete((data >> 32) as usize, (data & 0xffff_ffff) as usize, result)?;
            }
        }
    }

    /// Handles the completion `result` of chunk `chunk` of op `op`.
    fn complete(&self, op: usize, chunk: usize, result: i32) -> io::Result<()> {
        let resubmit = {
            let mut ops = self.ops.borrow_mut();
            let state = &mut ops[op];
            let kind = state.kind;
            let part = &mut state.chunks[chunk];
            if result < 0 {
                part.finished = true;
                state.pending -= 1;
                if state.error.is_none() {
                    state.error = Some(io::Error::from_raw_os_error(-result));
                }
                false
            } else if result == 0 {
                // The end of the file (or a write that took nothing).
                part.finished = true;
                state.pending -= 1;
                false
            } else {
                // The kernel moves at most what it was given.
                let moved = (result as u64).min(part.bytes - part.done);
                part.done += moved;
                if part.done == part.bytes {
                    part.finished = true;
                    state.pending -= 1;
                    false
                } else {
                    // Short: skip what was done in this chunk's iovecs (the
                    // kernel is done with them) and submit the rest.
                    let (first, count) = (part.first, part.count);
                    advance_iovecs(&mut state.iovecs[first..first + count], moved as usize);
                    let part = &mut state.chunks[chunk];
                    let skipped = state.iovecs[first..first + count]
                        .iter()
                        .take_while(|iovec| iovec.len == 0)
                        .count();
                    if matches!(kind, Kind::ReadFixed | Kind::WriteFixed) {
                        // One buffer: its iovec moved inside it.
                    } else {
                        part.first += skipped;
                        part.count -= skipped;
                    }
                    true
                }
            }
        };
        if resubmit {
            if let Err(error) = self.push(op, chunk) {
                // Not pushed, so nothing of it is in flight: the chunk ends
                // here, with the error.
                let mut ops = self.ops.borrow_mut();
                let state = &mut ops[op];
                state.chunks[chunk].finished = true;
                state.pending -= 1;
                state.error.get_or_insert(error);
                return Ok(());
            }
            // Pushed: a failed submission is tried again by the next wait.
            let _ = self.submit_pending();
        }
        Ok(())
    }

    /// Waits until op `index` is finished and returns its result.
    fn wait_for(&self, index: usize) -> Result<u64, TransferError> {
        loop {
            {
                let mut ops = self.ops.borrow_mut();
                let state = &mut ops[index];
                if state.pending == 0 {
                    let result = state.result();
                    // Every entry has completed: the kernel is done with
                    // the iovecs.
                    state.iovecs = Vec::new();
                    state.chunks = Vec::new();
                    return result;
                }
            }
            if self.in_flight.get() == 0 {
                // Some entries of the op were never submitted (the
                // submission that made it failed): nothing will finish them.
                let done = self.ops.borrow_mut()[index]
                    .result()
                    .unwrap_or_else(|error| error.done());
                return Err(TransferError::new(
                    done,
                    io::Error::other("some of the op's entries were never submitted"),
                ));
            }
            if let Err(error) = self.reap() {
                let done = self.ops.borrow_mut()[index]
                    .result()
                    .unwrap_or_else(|error| error.done());
                return Err(TransferError::new(done, error));
            }
        }
    }

    /// Waits for every entry in flight, then unregisters fixed buffers;
    /// aborts the process when it cannot know that the kernel is done.
    fn finish(&self) {
        while self.in_flight.get() > 0 {
            if self.reap().is_err() {
                // The kernel may still write memory that is about to be
                // released: nothing sound is left to do.
                std::process::abort();
            }
        }
        if self.registered.get() {
            let _ = self.ring.borrow().submitter().unregister_buffers();
        }
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("ops", &self.ops.borrow().len())
            .field("in_flight", &self.in_flight.get())
            .finish_non_exhaustive()
    }
}

impl Op<'_, '_> {
    /// Waits until every entry of the op has completed (resubmitting the
    /// rest after short completions) and returns the bytes moved: all of
    /// them, or, for a read, those before the end of the file.
    ///
    /// # Errors
    ///
    /// A [`TransferError`] with the bytes done before the first failed or
    /// short part: the op's error ([`io::ErrorKind::WriteZero`] for a
    /// write that stopped), or a failure to wait.
    pub fn wait(self) -> Result<u64, TransferError> {
        self.scope.wait_for(self.index)
    }
}

impl fmt::Debug for Op<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Op").field("index", &self.index).finish()
    }
}

/// The error of a failed `io_uring_setup`: unavailable (`ENOSYS`,
/// `EPERM`, `EACCES`) or failed otherwise.
fn setup_error(error: io::Error) -> RingError {
    let unavailable = [
        rustix::io::Errno::NOSYS,
        rustix::io::Errno::PERM,
        rustix::io::Errno::ACCESS,
    ]
    .iter()
    .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()));
    if unavailable {
        RingError::Unavailable(error)
    } else {
        RingError::Setup(error)
    }
}

/// Skips the first `bytes` bytes of `iovecs`, which hold at least that
/// many.
fn advance_iovecs(iovecs: &mut [Iovec], mut bytes: usize) {
    for iovec in iovecs {
        let step = bytes.min(iovec.len);
        iovec.base = iovec.base.wrapping_add(step);
        iovec.len -= step;
        bytes -= step;
        if bytes == 0 {
            return;
        }
    }
}

/// A list's mapped pieces and their iovecs.
type Mapped<'a, P, A> = (Vec<MappedBytes<'a, P, A>>, Vec<Iovec>);

/// Maps every piece of a shared view; its guards and iovecs.
fn map_pieces<'a, P: PageProvider>(
    list: SgList<'a, P>,
) -> (Vec<MappedBytes<'a, P, sg_core::Read>>, Vec<Iovec>) {
    let guards = map_guards(list);
    let iovecs = guards
        .iter()
        .map(|guard| Iovec {
            base: guard.bytes().as_ptr().cast_mut(),
            len: guard.len(),
        })
        .collect();
    (guards, iovecs)
}

/// Maps every piece of an exclusive view; its guards and iovecs, or an
/// error when two pieces overlap.
fn map_pieces_mut<'a, P: PageProvider>(
    list: SgListMut<'a, P>,
) -> io::Result<Mapped<'a, P, sg_core::Write>> {
    let mut guards = map_guards(list);
    // Sorted by address, neighbours must not overlap (the heap is fine
    // here, and a table of thousands of pieces in any order stays cheap).
    let mut ranges: Vec<(usize, usize)> = guards
        .iter()
        .map(|guard| (guard.address(), guard.len()))
        .collect();
    ranges.sort_unstable();
    if ranges
        .windows(2)
        .any(|pair| pair[0].0 + pair[0].1 > pair[1].0)
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "two entries of the list describe some of the same bytes",
        ));
    }
    let iovecs = guards
        .iter_mut()
        .map(|guard| {
            let bytes = guard.bytes_mut();
            Iovec {
                base: bytes.as_mut_ptr(),
                len: bytes.len(),
            }
        })
        .collect();
    Ok((guards, iovecs))
}

/// Maps every piece of `list`.
fn map_guards<'a, V: ListView<'a>>(list: V) -> Vec<MappedBytes<'a, V::Provider, V::Access>> {
    let walk = Walk::new(list.into_list());
    walk.pieces()
        .map(|piece| {
            // SAFETY: the piece is `piece.len` bytes (at most
            // `isize::MAX`) of the view, consumed here for `'a`, in
            // `piece.page` or, on a linear provider, in the frames of one
            // entry's run or of entries `is_next` joins into one run (which
            // `map` reaches as one range); the view keeps them unwritten
            // (shared) or reached only through these guards (exclusive);
            // overlapping guards of an exclusive view hand out no slice
            // (`map_pieces_mut` checks first).
            unsafe { MappedBytes::new(walk.provider(), piece.page, piece.start, piece.len) }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn setup_errors_say_whether_io_uring_is_unavailable() {
        for errno in [
            rustix::io::Errno::NOSYS,
            rustix::io::Errno::PERM,
            rustix::io::Errno::ACCESS,
        ] {
            let error = setup_error(io::Error::from_raw_os_error(errno.raw_os_error()));
            assert!(matches!(error, RingError::Unavailable(_)), "{error}");
            assert!(error.to_string().starts_with("io_uring is not available"));
        }
        let error = setup_error(io::Error::from_raw_os_error(
            rustix::io::Errno::NOMEM.raw_os_error(),
        ));
        assert!(matches!(error, RingError::Setup(_)), "{error}");
    }

    #[test]
    fn iovecs_advance_inside_and_across_pieces() {
        let mut bytes = [0u8; 10];
        let base = bytes.as_mut_ptr();
        let mut iovecs = [
            Iovec { base, len: 3 },
            Iovec {
                base: base.wrapping_add(3),
                len: 7,
            },
        ];
        advance_iovecs(&mut iovecs, 5);
        assert_eq!((iovecs[0].len, iovecs[1].len), (0, 5));
        assert_eq!(iovecs[1].base, base.wrapping_add(5));
    }
}
