//! Copying and iterating a segment vector where a memory maps its
//! addresses: [`SegmentMemory`], [`SegView`] and [`SegViewMut`].
//!
//! The rules are a list's: a private memory's bytes may be lent as slices
//! (one piece at a time, writable only through an exclusive view); a
//! shared memory's ([`SegmentMemory::SHARED`]: guest memory, memory a
//! device writes) are copied with volatile accesses and never lent, which
//! the slice-lending methods refuse at compile time.

// This module is the crate's one door to memory: it reads and writes
// through the pointers a `SegmentMemory` vouches for.
#![allow(unsafe_code)]

use core::fmt;
use core::marker::PhantomData;
use core::ptr::NonNull;

use sg_core::volatile::{copy_from_shared, copy_to_shared, fill_shared};

use crate::{DevError, DmaVec};

/// Memory that a segment vector's addresses name (physical addresses of
/// memory without page structure, a device's BAR, guest-physical
/// addresses), mapped for the CPU a range at a time: what lets a
/// [`DmaVec`] view be copied and iterated like a list ([`SegView`],
/// [`SegViewMut`]).
///
/// Unsafe to implement, safe to use: every address is plain data that
/// safe code can make, so the memory answers for all of them.
///
/// # Safety
///
/// Implementors promise:
///
/// - [`map`](Self::map)`(addr, len)` returns `Some((pointer, reach))` only
///   when `1 <= reach <= len` and the `reach` bytes from `pointer` are the
///   memory at `addr..addr + reach`, initialised and valid for reads and
///   writes until the matching [`unmap`](Self::unmap) (which the callers
///   in this crate always make, before the borrow of the memory they
///   mapped through ends); for any other address (a hole, an address the
///   memory never vouched for) it returns `None`, never a pointer.
/// - Unless [`SHARED`](Self::SHARED) is `true`, the memory is private to
///   the value: while a shared borrow (`&self`) of it lives nothing writes
///   the bytes it maps, and while an exclusive borrow (`&mut self`) lives
///   nothing else reads or writes them. (A shared memory makes no such
///   promise: the bytes are only reached with volatile copies.)
#[doc(alias = "phys_vec")]
pub unsafe trait SegmentMemory {
    /// Whether someone else may read or write the memory meanwhile (a
    /// guest, a device): copies are then volatile, and no slice of it is
    /// lent. The default is `false`.
    const SHARED: bool = false;

    /// Maps up to `len` bytes (`len >= 1`) from `addr`: a pointer to the
    /// byte at `addr` and how many bytes from it are reachable (at least
    /// one, at most `len`), or `None` when there is no memory at `addr`.
    fn map(&self, addr: u64, len: u64) -> Option<(NonNull<u8>, usize)>;

    /// Ends a mapping made by [`map`](Self::map). The default does nothing
    /// (memory that is always mapped).
    ///
    /// # Safety
    ///
    /// `mapping` and `reach` were returned by `map(addr, _)` on this
    /// memory, are unmapped once, and no reference to the bytes is left.
    #[inline]
    unsafe fn unmap(&self, addr: u64, mapping: NonNull<u8>, reach: usize) {
        let _ = (addr, mapping, reach);
    }
}

// SAFETY: a shared borrow of a memory is a memory: same mappings, and
// the promises for `&self` hold for a `&&M` (nothing writes through one).
unsafe impl<M: SegmentMemory + ?Sized> SegmentMemory for &M {
    const SHARED: bool = M::SHARED;

    #[inline]
    fn map(&self, addr: u64, len: u64) -> Option<(NonNull<u8>, usize)> {
        (**self).map(addr, len)
    }

    #[inline]
    unsafe fn unmap(&self, addr: u64, mapping: NonNull<u8>, reach: usize) {
        // SAFETY: the caller's promise, for the same memory.
        unsafe { (**self).unmap(addr, mapping, reach) }
    }
}

/// A private buffer as a [`SegmentMemory`]: the bytes of `bytes` are the
/// memory at addresses `base..base + bytes.len()`.
///
/// ```
/// use sg_dev::{DmaVec, SegView, SliceMemory};
///
/// let mut ram = *b"0123456789abcdef";
/// let memory = SliceMemory::new(0x1000, &mut ram);
/// let view = [DmaVec::new(0x1008, 4), DmaVec::new(0x1000, 2)];
/// let mut out = [0u8; 6];
/// assert_eq!(SegView::new(&view, &memory).copy_to_slice(0, &mut out)?, 6);
/// assert_eq!(&out, b"89ab01");
/// # Ok::<(), sg_dev::DevError>(())
/// ```
pub struct SliceMemory<'a> {
    base: u64,
    start: NonNull<u8>,
    len: usize,
    _bytes: PhantomData<&'a mut [u8]>,
}

impl<'a> SliceMemory<'a> {
    /// `bytes` as the memory at `base..base + bytes.len()` (addresses past
    /// 2^64 are not reached).
    pub fn new(base: u64, bytes: &'a mut [u8]) -> Self {
        SliceMemory {
            base,
            len: bytes.len(),
            // The pointer carries the exclusive borrow's permission.
            start: NonNull::from(bytes).cast(),
            _bytes: PhantomData,
        }
    }

    /// The first address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Bytes of memory.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the memory holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for SliceMemory<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SliceMemory")
            .field("base", &self.base)
            .field("len", &self.len)
            .finish()
    }
}

// SAFETY: `map` answers only for addresses inside `base..base + len`,
// with a pointer into the buffer (derived from its exclusive borrow, held
// for `'a`) and a reach that stays inside it; the buffer is reached only
// through this value while it lives, so the privacy promises follow from
// Rust's borrows of it. Nothing is unmapped.
unsafe impl SegmentMemory for SliceMemory<'_> {
    fn map(&self, addr: u64, len: u64) -> Option<(NonNull<u8>, usize)> {
        let offset = usize::try_from(addr.checked_sub(self.base)?).ok()?;
        if offset >= self.len || len == 0 {
            return None;
        }
        let reach = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .min(self.len - offset);
        // SAFETY: `offset < len`, inside the buffer.
        Some((unsafe { self.start.add(offset) }, reach))
    }
}

// SAFETY: the value stands for an exclusive borrow of `[u8]`, which is
// `Send` and `Sync`.
unsafe impl Send for SliceMemory<'_> {}
// SAFETY: as above.
unsafe impl Sync for SliceMemory<'_> {}

/// Calls `visit` with each mapped piece of `len` bytes of `view` from
/// `skip` on (pointer, bytes, bytes visited before), unmapping each after
/// its visit; returns the bytes visited, fewer when the view ends.
fn for_each_piece<M: SegmentMemory>(
    view: &[DmaVec],
    memory: &M,
    mut skip: u64,
    len: u64,
    mut visit: impl FnMut(NonNull<u8>, usize, u64),
) -> Result<u64, DevError> {
    let mut done = 0u64;
    for (index, segment) in view.iter().enumerate() {
        if done == len {
            break;
        }
        if skip >= segment.len {
            skip -= segment.len;
            continue;
        }
        let mut at = skip;
        skip = 0;
        while at < segment.len && done < len {
            let wanted = (segment.len - at).min(len - done);
            let addr = segment.addr.checked_add(at);
            let mapped = addr.and_then(|addr| memory.map(addr, wanted));
            let Some((pointer, reach)) = mapped else {
                return Err(DevError::Unmapped {
                    index,
                    addr: segment.addr.wrapping_add(at),
                });
            };
            // A memory breaking its promise of `reach <= len` is cut back.
            let reach = reach.min(usize::try_from(wanted).unwrap_or(usize::MAX));
            visit(pointer, reach, done);
            // SAFETY: mapped just above at this address, unmapped once; the
            // visit kept no reference.
            unsafe { memory.unmap(segment.addr + at, pointer, reach) };
            at += reach as u64;
            done += reach as u64;
        }
    }
    Ok(done)
}

/// Reads the bytes of `view` into `out` from `skip` on (see
/// [`SegView::copy_to_slice`]).
fn read_into<M: SegmentMemory>(
    view: &[DmaVec],
    memory: &M,
    skip: u64,
    out: &mut [u8],
) -> Result<usize, DevError> {
    let done = for_each_piece(
        view,
        memory,
        skip,
        out.len() as u64,
        |pointer, reach, done| {
            let target = &mut out[done as usize..done as usize + reach];
            if M::SHARED {
                // SAFETY: `map` vouches for `reach` readable bytes; `target` is
                // private.
                unsafe { copy_from_shared(pointer.as_ptr(), target) };
            } else {
                // SAFETY: `map` vouches for `reach` readable bytes that nothing
                // writes while the memory is borrowed (a private memory);
                // `target` is a separate, private buffer.
                unsafe {
                    core::ptr::copy_nonoverlapping(pointer.as_ptr(), target.as_mut_ptr(), reach)
                };
            }
        },
    )?;
    Ok(done as usize)
}

/// A segment vector read where `memory` maps its addresses: copied like a
/// list ([`copy_to_slice`](Self::copy_to_slice)), or iterated a mapped
/// piece at a time ([`pieces`](Self::pieces); as slices on private memory
/// only).
///
/// ```
/// use sg_dev::{DmaVec, SegView, SliceMemory};
///
/// let mut ram = *b"scatter-gather";
/// let memory = SliceMemory::new(0, &mut ram);
/// let view = [DmaVec::new(8, 6), DmaVec::new(7, 1), DmaVec::new(0, 7)];
/// let segments = SegView::new(&view, &memory);
/// let mut pieces = segments.pieces();
/// let mut text = Vec::new();
/// while let Some(piece) = pieces.next_slice() {
///     text.extend_from_slice(piece?);
/// }
/// assert_eq!(text, b"gather-scatter");
/// # Ok::<(), sg_dev::DevError>(())
/// ```
///
/// A shared memory's bytes are copied, never lent: its pieces are copied
/// from with volatile reads ([`Piece::read_to`]), and
/// [`Pieces::next_slice`] does not compile for one.
///
/// ```compile_fail
/// # use core::ptr::NonNull;
/// # use sg_dev::{DmaVec, SegView, SegViewMut, SegmentMemory};
/// # struct Guest(NonNull<u8>);
/// # // SAFETY: (sketch) one byte at address 0, shared with a guest.
/// # unsafe impl SegmentMemory for Guest {
/// #     const SHARED: bool = true;
/// #     fn map(&self, addr: u64, _len: u64) -> Option<(NonNull<u8>, usize)> {
/// #         (addr == 0).then_some((self.0, 1))
/// #     }
/// # }
/// # let mut byte = 0u8;
/// # let mut memory = Guest(NonNull::from(&mut byte));
/// # let view = [DmaVec::new(0, 1)];
/// let mut out = [0u8; 1];
/// SegView::new(&view, &memory).copy_to_slice(0, &mut out).unwrap(); // volatile: fine
/// let segments = SegView::new(&view, &memory);
/// let mut pieces = segments.pieces();
/// let mut byte = [0u8; 1];
/// pieces.next_piece().unwrap().unwrap().read_to(&mut byte); // volatile: fine
/// pieces.rewind();
/// let _ = pieces.next_slice(); // would lend `&[u8]`: does not compile
/// ```
pub struct SegView<'a, M: SegmentMemory> {
    view: &'a [DmaVec],
    memory: &'a M,
}

impl<M: SegmentMemory> Clone for SegView<'_, M> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<M: SegmentMemory> Copy for SegView<'_, M> {}

impl<'a, M: SegmentMemory> SegView<'a, M> {
    /// The bytes `view` names in `memory`, read.
    #[must_use]
    pub fn new(view: &'a [DmaVec], memory: &'a M) -> Self {
        SegView { view, memory }
    }

    /// The segments.
    pub fn segments(&self) -> &'a [DmaVec] {
        self.view
    }

    /// Total bytes of the view (saturating).
    pub fn byte_len(&self) -> u64 {
        self.view
            .iter()
            .fold(0u64, |sum, segment| sum.saturating_add(segment.len))
    }

    /// Copies the view's bytes from `skip` on into `out`; returns the bytes
    /// copied: the smaller of `out.len()` and the bytes after `skip`. A
    /// `memcpy` per piece on private memory, volatile reads on shared.
    ///
    /// # Errors
    ///
    /// [`DevError::Unmapped`] at the first address the memory does not
    /// map (the bytes before it are copied).
    #[doc(alias = "sg_copy_to_buffer")]
    pub fn copy_to_slice(&self, skip: u64, out: &mut [u8]) -> Result<usize, DevError> {
        read_into(self.view, self.memory, skip, out)
    }

    /// The view's bytes a mapped piece at a time: copied from
    /// ([`Pieces::next_piece`], volatile on shared memory) or, on private
    /// memory only, lent as `&[u8]` ([`Pieces::next_slice`]).
    #[doc(alias = "sg_mapping_iter")]
    #[must_use]
    pub fn pieces(&self) -> Pieces<'a, M> {
        Pieces::new(self.view, self.memory)
    }
}

impl<M: SegmentMemory> fmt::Debug for SegView<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegView")
            .field("segments", &self.view)
            .field("shared", &M::SHARED)
            .finish()
    }
}

/// A segment vector written where `memory` maps its addresses: copied into
/// and zeroed like a list, or iterated a writable piece at a time
/// ([`pieces_mut`](Self::pieces_mut); as slices on private memory only).
/// It borrows the
/// memory exclusively, so no other view reads the bytes meanwhile.
///
/// Segments of one view may name the same bytes: every operation reaches
/// one piece at a time, so the later write wins, as on a device.
///
/// ```
/// use sg_dev::{DmaVec, SegViewMut, SliceMemory};
///
/// let mut ram = [b'.'; 8];
/// let mut memory = SliceMemory::new(0x100, &mut ram);
/// let view = [DmaVec::new(0x106, 2), DmaVec::new(0x100, 3)];
/// let mut segments = SegViewMut::new(&view, &mut memory);
/// assert_eq!(segments.copy_from_slice(0, b"hello")?, 5);
/// assert_eq!(segments.zero(4, 10)?, 1);
/// drop(segments);
/// assert_eq!(&ram, b"ll\0...he");
/// # Ok::<(), sg_dev::DevError>(())
/// ```
///
/// (The zeroed byte is the view's fifth, `b'o'` at address `0x102`.)
///
/// Nor does [`PiecesMut::next_slice_mut`] for a shared memory (its pieces
/// are written with volatile writes, [`PieceMut::write_from`]):
///
/// ```compile_fail
/// # use core::ptr::NonNull;
/// # use sg_dev::{DmaVec, SegView, SegViewMut, SegmentMemory};
/// # struct Guest(NonNull<u8>);
/// # // SAFETY: (sketch) one byte at address 0, shared with a guest.
/// # unsafe impl SegmentMemory for Guest {
/// #     const SHARED: bool = true;
/// #     fn map(&self, addr: u64, _len: u64) -> Option<(NonNull<u8>, usize)> {
/// #         (addr == 0).then_some((self.0, 1))
/// #     }
/// # }
/// # let mut byte = 0u8;
/// # let mut memory = Guest(NonNull::from(&mut byte));
/// # let view = [DmaVec::new(0, 1)];
/// let mut segments = SegViewMut::new(&view, &mut memory);
/// segments.copy_from_slice(0, b"x").unwrap(); // volatile: fine
/// let mut pieces = segments.pieces_mut();
/// pieces.next_piece_mut().unwrap().unwrap().write_from(b"y"); // volatile: fine
/// pieces.rewind();
/// let _ = pieces.next_slice_mut(); // would lend `&mut [u8]`: does not compile
/// ```
pub struct SegViewMut<'a, M: SegmentMemory> {
    view: &'a [DmaVec],
    memory: &'a mut M,
}

impl<'a, M: SegmentMemory> SegViewMut<'a, M> {
    /// The bytes `view` names in `memory`, read and written.
    #[must_use]
    pub fn new(view: &'a [DmaVec], memory: &'a mut M) -> Self {
        SegViewMut { view, memory }
    }

    /// The view, read.
    pub fn as_view(&self) -> SegView<'_, M> {
        SegView::new(self.view, self.memory)
    }

    /// Copies `source` into the view's bytes from `skip` on; returns the
    /// bytes copied: the smaller of `source.len()` and the bytes after
    /// `skip`. A `memcpy` per piece on private memory, volatile writes on
    /// shared.
    ///
    /// # Errors
    ///
    /// [`DevError::Unmapped`] at the first address the memory does not
    /// map (the bytes before it are written).
    #[doc(alias = "sg_copy_from_buffer")]
    pub fn copy_from_slice(&mut self, skip: u64, source: &[u8]) -> Result<usize, DevError> {
        let memory: &M = self.memory;
        let done = for_each_piece(
            self.view,
            memory,
            skip,
            source.len() as u64,
            |pointer, reach, done| {
                let source = &source[done as usize..done as usize + reach];
                if M::SHARED {
                    // SAFETY: `map` vouches for `reach` writable bytes; `source`
                    // is private.
                    unsafe { copy_to_shared(source, pointer.as_ptr()) };
                } else {
                    // SAFETY: `map` vouches for `reach` writable bytes that
                    // nothing else reaches while the memory is borrowed
                    // exclusively (a private memory); `source` is a separate,
                    // private buffer.
                    unsafe {
                        core::ptr::copy_nonoverlapping(source.as_ptr(), pointer.as_ptr(), reach)
                    };
                }
            },
        )?;
        Ok(done as usize)
    }

    /// Copies the view's bytes from `skip` on into `out` (as
    /// [`SegView::copy_to_slice`]).
    ///
    /// # Errors
    ///
    /// [`DevError::Unmapped`], as there.
    pub fn copy_to_slice(&self, skip: u64, out: &mut [u8]) -> Result<usize, DevError> {
        read_into(self.view, self.memory, skip, out)
    }

    /// Zeroes `len` bytes of the view from `skip` on; returns the bytes
    /// zeroed: the smaller of `len` and the bytes after `skip`.
    ///
    /// # Errors
    ///
    /// [`DevError::Unmapped`] at the first address the memory does not
    /// map (the bytes before it are zeroed).
    #[doc(alias = "sg_zero_buffer")]
    pub fn zero(&mut self, skip: u64, len: u64) -> Result<u64, DevError> {
        let memory: &M = self.memory;
        for_each_piece(self.view, memory, skip, len, |pointer, reach, _| {
            if M::SHARED {
                // SAFETY: `map` vouches for `reach` writable bytes.
                unsafe { fill_shared(pointer.as_ptr(), 0, reach) };
            } else {
                // SAFETY: as in `copy_from_slice`, for `reach` bytes.
                unsafe { pointer.as_ptr().write_bytes(0, reach) };
            }
        })
    }

    /// The view's bytes a mapped piece at a time, writable: written
    /// ([`PiecesMut::next_piece_mut`], volatile on shared memory) or, on
    /// private memory only, lent as `&mut [u8]`
    /// ([`PiecesMut::next_slice_mut`]).
    #[doc(alias = "sg_mapping_iter")]
    #[must_use]
    pub fn pieces_mut(&mut self) -> PiecesMut<'_, M> {
        PiecesMut {
            pieces: Pieces::new(self.view, self.memory),
        }
    }
}

impl<M: SegmentMemory> fmt::Debug for SegViewMut<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SegViewMut")
            .field("segments", &self.view)
            .field("shared", &M::SHARED)
            .finish()
    }
}

/// The live mapping of a [`Pieces`] iterator.
struct Live {
    addr: u64,
    pointer: NonNull<u8>,
    reach: usize,
}

/// A [`SegView`]'s bytes, one mapped piece at a time
/// ([`next_piece`](Self::next_piece), or [`next_slice`](Self::next_slice)
/// on private memory): each piece is released (unmapped) by the next step,
/// [`rewind`](Self::rewind) or the drop, so at most one mapping is live.
///
/// # Invariants
///
/// `live` is a mapping of `memory` not yet unmapped, and `segment`/`at`
/// is the position after it. The memory is borrowed for `'a`: shared when
/// made by [`SegView::pieces`], exclusively when made (inside a
/// [`PiecesMut`]) by [`SegViewMut::pieces_mut`].
pub struct Pieces<'a, M: SegmentMemory> {
    view: &'a [DmaVec],
    memory: &'a M,
    segment: usize,
    at: u64,
    live: Option<Live>,
}

impl<'a, M: SegmentMemory> Pieces<'a, M> {
    fn new(view: &'a [DmaVec], memory: &'a M) -> Self {
        Pieces {
            view,
            memory,
            segment: 0,
            at: 0,
            live: None,
        }
    }

    fn release(&mut self) {
        if let Some(live) = self.live.take() {
            // SAFETY: the invariant: mapped by `map_next`, unmapped once
            // (taken out of `live`); the slice lent from it borrowed
            // `self`, so it is gone.
            unsafe { self.memory.unmap(live.addr, live.pointer, live.reach) };
        }
    }

    /// Maps the next piece; its pointer and length.
    fn map_next(&mut self) -> Option<Result<(NonNull<u8>, usize), DevError>> {
        self.release();
        loop {
            let segment = self.view.get(self.segment)?;
            if self.at >= segment.len {
                self.segment += 1;
                self.at = 0;
                continue;
            }
            let wanted = segment.len - self.at;
            let addr = segment.addr.checked_add(self.at);
            let Some((addr, (pointer, reach))) =
                addr.and_then(|addr| Some((addr, self.memory.map(addr, wanted)?)))
            else {
                let error = DevError::Unmapped {
                    index: self.segment,
                    addr: segment.addr.wrapping_add(self.at),
                };
                // The walk ends here: later steps give `None`.
                self.segment = self.view.len();
                return Some(Err(error));
            };
            let reach = reach.min(usize::try_from(wanted).unwrap_or(usize::MAX));
            self.at += reach as u64;
            // INVARIANT: a fresh mapping, after the position moved past it.
            self.live = Some(Live {
                addr,
                pointer,
                reach,
            });
            return Some(Ok((pointer, reach)));
        }
    }

    /// Releases the previous piece and goes back to the view's first byte.
    pub fn rewind(&mut self) {
        self.release();
        self.segment = 0;
        self.at = 0;
    }

    /// Releases the previous piece and maps the next: a piece to copy
    /// from (at least one byte), `None` at the end of the view, or an
    /// error where the memory has no mapping (the walk ends there).
    pub fn next_piece(&mut self) -> Option<Result<Piece<'_, M>, DevError>> {
        Some(self.map_next()?.map(|(pointer, len)| {
            // INVARIANT: `map` vouches for `len` bytes until the unmap,
            // which needs `&mut self`, after the piece's borrow ends.
            Piece {
                pointer,
                len,
                _memory: PhantomData,
            }
        }))
    }

    /// Releases the previous piece and maps the next, lent as `&[u8]`: its
    /// bytes (at least one), `None` at the end of the view, or an error
    /// where the memory has no mapping (the walk ends there).
    ///
    /// Does not compile for a shared memory ([`SegmentMemory::SHARED`]),
    /// whose bytes are never lent as slices: use
    /// [`next_piece`](Self::next_piece).
    pub fn next_slice(&mut self) -> Option<Result<&[u8], DevError>> {
        const { assert!(!M::SHARED, "a slice of a shared memory's bytes") };
        Some(self.map_next()?.map(|(pointer, reach)| {
            // SAFETY: `map` vouches for `reach` initialised bytes until the
            // unmap, which needs `&mut self`, after this borrow ends; the
            // memory is private (checked above at compile time) and
            // borrowed for `'a` (shared, or exclusively by a `PiecesMut`
            // that lends this only through `&mut self`), so nothing writes
            // them meanwhile.
            unsafe { core::slice::from_raw_parts(pointer.as_ptr(), reach) }
        }))
    }
}

impl<M: SegmentMemory> Drop for Pieces<'_, M> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<M: SegmentMemory> fmt::Debug for Pieces<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pieces")
            .field("segment", &self.segment)
            .field("at", &self.at)
            .field("mapped", &self.live.is_some())
            .finish()
    }
}

/// A [`SegViewMut`]'s bytes, one writable mapped piece at a time
/// ([`next_slice_mut`](Self::next_slice_mut)).
pub struct PiecesMut<'a, M: SegmentMemory> {
    /// Made from the view's exclusive borrow of the memory, held for `'a`.
    pieces: Pieces<'a, M>,
}

impl<M: SegmentMemory> PiecesMut<'_, M> {
    /// Releases the previous piece and goes back to the view's first byte.
    pub fn rewind(&mut self) {
        self.pieces.rewind();
    }

    /// Releases the previous piece and maps the next, writable: a piece to
    /// copy into or from (at least one byte), `None` at the end, or an
    /// error where the memory has no mapping (the walk ends there).
    pub fn next_piece_mut(&mut self) -> Option<Result<PieceMut<'_, M>, DevError>> {
        Some(self.pieces.map_next()?.map(|(pointer, len)| {
            // INVARIANT: as in `Pieces::next_piece`; the memory is borrowed
            // exclusively, and the piece borrows `self` mutably.
            PieceMut {
                piece: Piece {
                    pointer,
                    len,
                    _memory: PhantomData,
                },
            }
        }))
    }

    /// Releases the previous piece and maps the next, lent as `&mut [u8]`:
    /// its bytes (at least one), `None` at the end, or an error where the
    /// memory has no mapping (the walk ends there).
    ///
    /// Does not compile for a shared memory ([`SegmentMemory::SHARED`]):
    /// use [`next_piece_mut`](Self::next_piece_mut).
    pub fn next_slice_mut(&mut self) -> Option<Result<&mut [u8], DevError>> {
        const { assert!(!M::SHARED, "a slice of a shared memory's bytes") };
        Some(self.pieces.map_next()?.map(|(pointer, reach)| {
            // SAFETY: as in `Pieces::next_slice` (private memory, checked
            // above at compile time), and the memory is
            // borrowed exclusively (by the `SegViewMut` this was made
            // from) so nothing else reads or writes the bytes; the slice
            // borrows `self` mutably, so it is the only one.
            unsafe { core::slice::from_raw_parts_mut(pointer.as_ptr(), reach) }
        }))
    }
}

impl<M: SegmentMemory> fmt::Debug for PiecesMut<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PiecesMut").field(&self.pieces).finish()
    }
}

/// One mapped piece of a view, to copy from: a `memcpy` on private memory,
/// volatile reads on shared memory. Borrows its iterator, so the mapping
/// lives as long as the piece.
///
/// # Invariants
///
/// `len` bytes from `pointer` are mapped memory of `M`, readable until the
/// piece's borrow of its iterator ends; on private memory nothing writes
/// them meanwhile.
pub struct Piece<'p, M: SegmentMemory> {
    pointer: NonNull<u8>,
    len: usize,
    _memory: PhantomData<&'p M>,
}

impl<M: SegmentMemory> Piece<'_, M> {
    /// Bytes in the piece (at least one).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the piece holds no byte (never, for a piece an iterator
    /// gives).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies the piece's first bytes into `out`: as many as both hold;
    /// returns the count.
    pub fn read_to(&self, out: &mut [u8]) -> usize {
        let count = self.len.min(out.len());
        let target = &mut out[..count];
        if M::SHARED {
            // SAFETY: the invariants: `count <= len` readable bytes;
            // `target` is private.
            unsafe { copy_from_shared(self.pointer.as_ptr(), target) };
        } else {
            // SAFETY: as above, and nothing writes the bytes meanwhile
            // (private memory); `target` is a separate buffer.
            unsafe {
                core::ptr::copy_nonoverlapping(self.pointer.as_ptr(), target.as_mut_ptr(), count)
            };
        }
        count
    }
}

impl<M: SegmentMemory> fmt::Debug for Piece<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Piece")
            .field("len", &self.len)
            .field("shared", &M::SHARED)
            .finish()
    }
}

/// One mapped piece of a writable view: copied into, filled or read; a
/// `memcpy` / `memset` on private memory, volatile accesses on shared
/// memory.
///
/// # Invariants
///
/// Those of [`Piece`], and the bytes are writable: the memory is borrowed
/// exclusively and the piece borrows its iterator mutably, so on private
/// memory nothing else reads or writes them while it lives.
pub struct PieceMut<'p, M: SegmentMemory> {
    piece: Piece<'p, M>,
}

impl<M: SegmentMemory> PieceMut<'_, M> {
    /// Bytes in the piece (at least one).
    pub fn len(&self) -> usize {
        self.piece.len
    }

    /// Whether the piece holds no byte (never, for a piece an iterator
    /// gives).
    pub fn is_empty(&self) -> bool {
        self.piece.len == 0
    }

    /// Copies the piece's first bytes into `out` (as [`Piece::read_to`]).
    pub fn read_to(&self, out: &mut [u8]) -> usize {
        self.piece.read_to(out)
    }

    /// Copies `source` into the piece's first bytes: as many as both hold;
    /// returns the count.
    pub fn write_from(&mut self, source: &[u8]) -> usize {
        let count = self.piece.len.min(source.len());
        let source = &source[..count];
        let target = self.piece.pointer.as_ptr();
        if M::SHARED {
            // SAFETY: the invariants: `count <= len` writable bytes;
            // `source` is private.
            unsafe { copy_to_shared(source, target) };
        } else {
            // SAFETY: as above, and nothing else reaches the bytes
            // (private memory); `source` is a separate buffer.
            unsafe { core::ptr::copy_nonoverlapping(source.as_ptr(), target, count) };
        }
        count
    }

    /// Writes `byte` to every byte of the piece.
    pub fn fill(&mut self, byte: u8) {
        let target = self.piece.pointer.as_ptr();
        if M::SHARED {
            // SAFETY: the invariants: `len` writable bytes.
            unsafe { fill_shared(target, byte, self.piece.len) };
        } else {
            // SAFETY: as above, and nothing else reaches the bytes.
            unsafe { target.write_bytes(byte, self.piece.len) };
        }
    }
}

impl<M: SegmentMemory> fmt::Debug for PieceMut<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PieceMut").field(&self.piece).finish()
    }
}
