//! Copies to and from memory that someone else may write meanwhile (a
//! shared provider's, [`PageProvider::SHARED`]): volatile accesses, never a
//! reference to the shared bytes.
//!
//! A `&[u8]` over bytes that a virtual machine's guest or a device writes
//! concurrently would be undefined behaviour: the compiler may assume the
//! bytes do not change while the reference lives (and read them twice, or
//! not at all). These copies read and write the shared side with volatile
//! accesses of a machine word (16 bytes on x86-64, a `usize` elsewhere;
//! in the middle of long copies on x86-64, with the `std` feature, one
//! `rep movsb` in an `asm!` block on Intel and AMD's Zen 5, and 32-byte
//! accesses on earlier AMD processors with AVX2), so every byte is read or
//! written exactly once, and the private side with plain (possibly
//! unaligned) accesses.
//!
//! The guard [`MappedBytes`] uses them for shared providers:
//! [`read_to`](MappedBytes::read_to), [`write_from`](MappedBytes::write_from)
//! and [`fill`](MappedBytes::fill) copy with `memcpy` on private providers
//! and with these on shared ones.

use core::mem::size_of;

use crate::{Access, MappedBytes, PageProvider, Write};

/// The unit of a volatile access: the widest load and store every
/// processor of the architecture has.
#[cfg(target_arch = "x86_64")]
type Word = core::arch::x86_64::__m128i;
/// The unit of a volatile access.
#[cfg(not(target_arch = "x86_64"))]
type Word = usize;

/// Bytes in a [`Word`].
const WORD: usize = size_of::<Word>();

/// Bytes from `pointer` to the next multiple of a word, at most `len`.
#[inline(always)]
fn head_len(pointer: *const u8, len: usize) -> usize {
    let misaligned = pointer.addr() % WORD;
    if misaligned == 0 {
        0
    } else {
        (WORD - misaligned).min(len)
    }
}

/// Copies `target.len()` bytes from the shared memory at `source` into
/// `target`, reading every shared byte once, with volatile reads.
///
/// # Safety
///
/// `source` is valid for reads of `target.len()` bytes, which are
/// initialised (others may write them meanwhile, which is the point:
/// `target` then holds some mix of old and new bytes), and does not
/// overlap `target`.
///
/// # Examples
///
/// ```
/// let shared = [7u8; 40];
/// let mut private = [0u8; 37];
/// // SAFETY: `shared` holds 40 bytes from its first plus one.
/// unsafe { sg_core::volatile::copy_from_shared(shared.as_ptr().wrapping_add(1), &mut private) };
/// assert_eq!(private, [7u8; 37]);
/// ```
#[inline]
pub unsafe fn copy_from_shared(source: *const u8, target: &mut [u8]) {
    let len = target.len();
    let out = target.as_mut_ptr();
    let head = head_len(source, len);
    let mut done = 0;
    // Every access below: `done` and the access stay below `len`,
    // inside both ranges (the caller's promise for `source`, the slice for
    // `out`); shared reads are volatile, of a word only where `source +
    // done` is word-aligned (after `head`); private writes are unaligned.
    while done < head {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe { out.add(done).write(source.add(done).read_volatile()) };
        done += 1;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
    if len - done >= wide::MIN {
        // SAFETY: `done..len` lies in both ranges (see above) and
        // `source + done` is word-aligned.
        done += unsafe { wide::from_shared(source.add(done), out.add(done), len - done) };
    }
    while len - done >= WORD {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe {
            let word = source.add(done).cast::<Word>().read_volatile();
            out.add(done).cast::<Word>().write_unaligned(word);
        }
        done += WORD;
    }
    while done < len {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe { out.add(done).write(source.add(done).read_volatile()) };
        done += 1;
    }
}

/// Copies `source` into the shared memory at `target`, writing every
/// shared byte once, with volatile writes.
///
/// # Safety
///
/// `target` is valid for writes of `source.len()` bytes (others may read
/// or write them meanwhile) and does not overlap `source`.
///
/// # Examples
///
/// ```
/// let mut shared = [0u8; 40];
/// // SAFETY: `shared` holds 38 bytes from its third on.
/// unsafe { sg_core::volatile::copy_to_shared(&[9u8; 38], shared.as_mut_ptr().wrapping_add(2)) };
/// assert_eq!(&shared[2..], &[9u8; 38]);
/// assert_eq!(&shared[..2], &[0, 0]);
/// ```
#[inline]
pub unsafe fn copy_to_shared(source: &[u8], target: *mut u8) {
    let len = source.len();
    let from = source.as_ptr();
    let head = head_len(target, len);
    let mut done = 0;
    // Every access below: as in `copy_from_shared`, with the roles
    // of the sides swapped: shared writes are volatile and word-aligned
    // after `head`, private reads unaligned.
    while done < head {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe { target.add(done).write_volatile(from.add(done).read()) };
        done += 1;
    }
    #[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
    if len - done >= wide::MIN {
        // SAFETY: `done..len` lies in both ranges (see above) and
        // `target + done` is word-aligned.
        done += unsafe { wide::to_shared(from.add(done), target.add(done), len - done) };
    }
    while len - done >= WORD {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe {
            let word = from.add(done).cast::<Word>().read_unaligned();
            target.add(done).cast::<Word>().write_volatile(word);
        }
        done += WORD;
    }
    while done < len {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe { target.add(done).write_volatile(from.add(done).read()) };
        done += 1;
    }
}

/// The middle of long copies on x86-64 (with the `std` feature, outside
/// Miri): one `rep movsb` where the processor's string copy is fast for
/// any offsets ([`crate::hint::memcpy_slow_across_offsets`] false: Intel,
/// AMD's Zen 5), 32-byte volatile accesses on processors with AVX2
/// elsewhere (AMD before Zen 5, where `rep movsb` is slow across offsets),
/// the word loop otherwise.
///
/// `rep movsb` in an `asm!` block reads each byte once and writes each
/// once, with accesses the compiler cannot see into: it can neither
/// merge, split, repeat nor drop them, which is all a volatile access
/// promises, and the block touches no other memory.
///
/// Measured on a 2-core Intel Xeon VM (glibc 2.36), 4 KiB pieces of 64 KiB
/// and 1 MiB requests through guest memory whose pages are all real: the
/// 16-byte word loop read at 0.74-0.76 of vm-memory's `memcpy` of the same
/// pieces; 32-byte accesses 0.80-0.92; `rep movsb` 0.87-0.89, and 1.04-1.09
/// of virtio-queue's `Reader`/`Writer` on 1 MiB requests (AVX2: 0.98-1.03).
#[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
mod wide {
    use core::arch::x86_64::__m256i;

    use super::WORD;

    /// Bytes in one wide access.
    const WIDE: usize = 32;

    /// Bytes per step of the AVX2 loops: two wide accesses.
    const STEP: usize = 2 * WIDE;

    /// Copies shorter than this stay with the word loop: the wide paths pay
    /// a call, a feature check and a string copy's start.
    pub(super) const MIN: usize = 256;

    /// Copies the longest prefix of `len` bytes from the shared memory at
    /// `source` to `out` that a wide path serves; returns its length (0
    /// when the processor has neither path).
    ///
    /// # Safety
    ///
    /// `source` is valid for reads and `out` for writes of `len` bytes, do
    /// not overlap, and `source` is word-aligned.
    #[inline]
    pub(super) unsafe fn from_shared(source: *const u8, out: *mut u8, len: usize) -> usize {
        // SAFETY: the caller's promise; `source` is the shared side.
        unsafe { copy::<Shared, Private>(source, out, len, source.addr()) }
    }

    /// [`from_shared`] the other way: from the private `from` into the
    /// shared memory at `target`.
    ///
    /// # Safety
    ///
    /// `from` is valid for reads and `target` for writes of `len` bytes, do
    /// not overlap, and `target` is word-aligned.
    #[inline]
    pub(super) unsafe fn to_shared(from: *const u8, target: *mut u8, len: usize) -> usize {
        // SAFETY: the caller's promise; `target` is the shared side.
        unsafe { copy::<Private, Shared>(from, target, len, target.addr()) }
    }

    /// Both directions of [`from_shared`]: `rep movsb` where it is fast
    /// across offsets, the AVX2 loop where the processor has it, nothing
    /// otherwise; returns the bytes copied.
    ///
    /// # Safety
    ///
    /// As for [`copy_avx2`], but for the processor's features.
    #[inline]
    unsafe fn copy<S: Side, T: Side>(
        from: *const u8,
        to: *mut u8,
        len: usize,
        shared: usize,
    ) -> usize {
        if !crate::hint::memcpy_slow_across_offsets() {
            // SAFETY: the caller's promise.
            unsafe { rep_movsb(from, to, len) };
            return len;
        }
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the caller's promise; the processor has AVX2.
            unsafe { copy_avx2::<S, T>(from, to, len, shared) }
        } else {
            0
        }
    }

    /// Copies `len` bytes from `source` to `target` with one `rep movsb`.
    ///
    /// # Safety
    ///
    /// `source` is valid for reads and `target` for writes of `len` bytes,
    /// and they do not overlap.
    #[inline]
    unsafe fn rep_movsb(source: *const u8, target: *mut u8, len: usize) {
        // SAFETY: the caller's promise covers every byte the instruction
        // reads and writes (`len` from each pointer, forwards: the
        // direction flag is clear, as the ABI keeps it outside an asm
        // block that sets it); it touches no stack, and the block's
        // default memory clobber keeps the compiler from moving other
        // accesses across it.
        unsafe {
            core::arch::asm!(
                "rep movsb",
                inout("rcx") len => _,
                inout("rsi") source => _,
                inout("rdi") target => _,
                options(nostack, preserves_flags),
            );
        }
    }

    /// One side of a copy: how its bytes are read and written.
    trait Side {
        /// Reads a `T` at `at`.
        ///
        /// # Safety
        ///
        /// `at` is valid for reads of a `T` (and aligned for it on the
        /// shared side).
        unsafe fn load<T>(at: *const T) -> T;

        /// Writes `value` at `at`.
        ///
        /// # Safety
        ///
        /// `at` is valid for writes of a `T` (and aligned for it on the
        /// shared side).
        unsafe fn store<T>(at: *mut T, value: T);
    }

    /// Memory others may write meanwhile: aligned volatile accesses.
    struct Shared;

    /// The caller's own bytes: plain accesses at any alignment.
    struct Private;

    impl Side for Shared {
        #[inline(always)]
        unsafe fn load<T>(at: *const T) -> T {
            // SAFETY: the caller's promise.
            unsafe { at.read_volatile() }
        }

        #[inline(always)]
        unsafe fn store<T>(at: *mut T, value: T) {
            // SAFETY: the caller's promise.
            unsafe { at.write_volatile(value) }
        }
    }

    impl Side for Private {
        #[inline(always)]
        unsafe fn load<T>(at: *const T) -> T {
            // SAFETY: the caller's promise.
            unsafe { at.read_unaligned() }
        }

        #[inline(always)]
        unsafe fn store<T>(at: *mut T, value: T) {
            // SAFETY: the caller's promise.
            unsafe { at.write_unaligned(value) }
        }
    }

    /// Copies whole steps from `from` (side `S`) to `to` (side `T`), after
    /// at most one word to bring the shared side, at address `shared`, to
    /// a wide boundary; returns the bytes copied.
    ///
    /// # Safety
    ///
    /// `from` is valid for reads and `to` for writes of `len` bytes, they
    /// do not overlap, the shared side is word-aligned, and the processor
    /// has AVX2.
    #[target_feature(enable = "avx2")]
    unsafe fn copy_avx2<S: Side, T: Side>(
        from: *const u8,
        to: *mut u8,
        len: usize,
        shared: usize,
    ) -> usize {
        let mut done = 0;
        if shared % WIDE != 0 && len >= WORD {
            // SAFETY: one word, inside both ranges; the shared side is
            // word-aligned (the caller's promise).
            unsafe {
                let word = S::load(from.cast::<super::Word>());
                T::store(to.cast::<super::Word>(), word);
            }
            done = WORD;
        }
        while len - done >= STEP {
            // SAFETY: `done + STEP <= len`: inside both ranges; the shared
            // side at `done` is WIDE-aligned (reached above, kept by whole
            // steps).
            unsafe {
                let source = from.add(done).cast::<__m256i>();
                let target = to.add(done).cast::<__m256i>();
                let first = S::load(source);
                let second = S::load(source.add(1));
                T::store(target, first);
                T::store(target.add(1), second);
            }
            done += STEP;
        }
        done
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        /// The AVX2 loops (which this processor may not pick) copy exactly
        /// the prefix they report, at every offset from a wide boundary.
        #[test]
        fn the_avx2_loops_copy_exactly_their_prefix() {
            if !std::is_x86_feature_detected!("avx2") {
                return;
            }
            /// Bytes that start on a cache line.
            #[repr(align(64))]
            struct Line<const N: usize>([u8; N]);
            let source = Line::<700>(core::array::from_fn(|index| (index * 13 + 5) as u8));
            let source = &source.0;
            for shared_at in [0, 16, 32, 48] {
                for len in [256, 300, 319, 320, 321, 500] {
                    let mut out = [0xEEu8; 700];
                    // SAFETY: `shared_at + len < 700`, word-aligned offsets
                    // of a word-aligned array; AVX2 is there.
                    let done = unsafe {
                        copy_avx2::<Shared, Private>(
                            source.as_ptr().add(shared_at),
                            out.as_mut_ptr(),
                            len,
                            source.as_ptr().add(shared_at).addr(),
                        )
                    };
                    assert!(
                        done <= len && len - done < STEP + WORD,
                        "{shared_at} {len} {done}"
                    );
                    assert_eq!(&out[..done], &source[shared_at..shared_at + done]);
                    assert!(out[done..].iter().all(|&b| b == 0xEE));
                    let mut shared = Line::<700>([0xEEu8; 700]);
                    let shared = &mut shared.0;
                    // SAFETY: as above, in `shared`.
                    let done = unsafe {
                        copy_avx2::<Private, Shared>(
                            source.as_ptr(),
                            shared.as_mut_ptr().add(shared_at),
                            len,
                            shared.as_ptr().add(shared_at).addr(),
                        )
                    };
                    assert!(
                        done <= len && len - done < STEP + WORD,
                        "{shared_at} {len} {done}"
                    );
                    assert_eq!(&shared[shared_at..shared_at + done], &source[..done]);
                    assert!(shared[..shared_at].iter().all(|&b| b == 0xEE));
                    assert!(shared[shared_at + done..].iter().all(|&b| b == 0xEE));
                }
            }
        }
    }
}

/// Bytes bounced through the stack by [`copy_shared`].
const BOUNCE: usize = 256;

/// Copies `len` bytes between two shared memories, from `source` to
/// `target`, through a small buffer on the stack.
///
/// # Safety
///
/// `source` is valid for reads and `target` for writes of `len` bytes;
/// the ranges may overlap only if they are the same (the copy then writes
/// back what it read).
///
/// # Examples
///
/// ```
/// let source = [3u8; 300];
/// let mut target = [0u8; 300];
/// // SAFETY: both hold 300 bytes and do not overlap.
/// unsafe { sg_core::volatile::copy_shared(source.as_ptr(), target.as_mut_ptr(), 300) };
/// assert_eq!(target, source);
/// ```
#[inline]
pub unsafe fn copy_shared(source: *const u8, target: *mut u8, len: usize) {
    let mut bounce = [0u8; BOUNCE];
    let mut done = 0;
    while done < len {
        let count = (len - done).min(BOUNCE);
        // SAFETY: `done + count <= len`, inside both ranges (the caller's
        // promise); the bounce buffer is private and overlaps neither.
        unsafe {
            copy_from_shared(source.add(done), &mut bounce[..count]);
            copy_to_shared(&bounce[..count], target.add(done));
        }
        done += count;
    }
}

/// Writes `byte` to `len` bytes of shared memory at `target`, with
/// volatile writes.
///
/// # Safety
///
/// `target` is valid for writes of `len` bytes.
///
/// # Examples
///
/// ```
/// let mut shared = [1u8; 50];
/// // SAFETY: `shared` holds 50 bytes.
/// unsafe { sg_core::volatile::fill_shared(shared.as_mut_ptr(), 0, 50) };
/// assert_eq!(shared, [0u8; 50]);
/// ```
#[inline]
pub unsafe fn fill_shared(target: *mut u8, byte: u8, len: usize) {
    let pattern = [byte; WORD];
    let head = head_len(target, len);
    let mut done = 0;
    // Every access below: as in `copy_to_shared`; the pattern is a
    // private array of one word.
    while done < head {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe { target.add(done).write_volatile(byte) };
        done += 1;
    }
    while len - done >= WORD {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe {
            let word = pattern.as_ptr().cast::<Word>().read_unaligned();
            target.add(done).cast::<Word>().write_volatile(word);
        }
        done += WORD;
    }
    while done < len {
        // SAFETY: `done` plus the access width is at most `len`, as the
        // loop condition says: in bounds of both sides (see above).
        unsafe { target.add(done).write_volatile(byte) };
        done += 1;
    }
}

impl<P: PageProvider, A: Access> MappedBytes<'_, P, A> {
    /// Copies the first mapped bytes into `target`: as many as both hold;
    /// returns the count. A `memcpy` on a private provider, volatile reads
    /// ([`copy_from_shared`]) on a shared one.
    ///
    /// # Examples
    ///
    /// ```
    /// use sg_core::{MappedBytes, PageProvider, Read, VirtPages};
    ///
    /// let pages = VirtPages::new();
    /// let page = pages.alloc_pages(0)?;
    /// // SAFETY: eight bytes of the page allocated above, which nothing
    /// // else reaches while the guard lives.
    /// let mapped = unsafe { MappedBytes::<_, Read>::new(&pages, page, 0, 8) };
    /// let mut out = [1u8; 4];
    /// assert_eq!(mapped.read_to(&mut out), 4);
    /// assert_eq!(out, [0; 4]); // VirtPages allocates zeroed pages
    /// drop(mapped);
    /// // SAFETY: allocated above with order 0; no mapping or list of it is left.
    /// unsafe { pages.free_pages(page, 0) };
    /// # Ok::<(), sg_core::Error>(())
    /// ```
    #[inline(always)]
    pub fn read_to(&self, target: &mut [u8]) -> usize {
        let count = self.len().min(target.len());
        if P::SHARED {
            // SAFETY: the guard's invariants make `count <= len` bytes from
            // its first valid for reads while it lives; `target` is private.
            unsafe { copy_from_shared(self.as_ptr(), &mut target[..count]) };
        } else {
            // SAFETY: the provider is not shared (the branch above).
            let bytes = unsafe { self.bytes_unchecked() };
            target[..count].copy_from_slice(&bytes[..count]);
        }
        count
    }
}

impl<P: PageProvider> MappedBytes<'_, P, Write> {
    /// Copies `source` into the first mapped bytes: as many as both hold;
    /// returns the count. A `memcpy` on a private provider, volatile writes
    /// ([`copy_to_shared`]) on a shared one.
    #[inline(always)]
    pub fn write_from(&mut self, source: &[u8]) -> usize {
        let count = self.len().min(source.len());
        if P::SHARED {
            // SAFETY: the guard's invariants make its bytes valid for
            // writes while it lives; `source` is private.
            unsafe { copy_to_shared(&source[..count], self.as_ptr()) };
        } else {
            // SAFETY: the provider is not shared (the branch above).
            let bytes = unsafe { self.bytes_mut_unchecked() };
            bytes[..count].copy_from_slice(&source[..count]);
        }
        count
    }

    /// Writes `byte` to every mapped byte: a `memset` on a private
    /// provider, volatile writes ([`fill_shared`]) on a shared one.
    #[inline(always)]
    pub fn fill(&mut self, byte: u8) {
        if P::SHARED {
            // SAFETY: the guard's invariants make its `len` bytes valid for
            // writes while it lives.
            unsafe { fill_shared(self.as_ptr(), byte, self.len()) };
        } else {
            // SAFETY: the provider is not shared (the branch above).
            unsafe { self.bytes_mut_unchecked() }.fill(byte);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every length and alignment around a few words, both directions.
    #[test]
    fn copies_every_byte_at_every_alignment() {
        let source: [u8; 96] = core::array::from_fn(|index| index as u8 ^ 0x5A);
        // Under Miri, the edges only: it interprets every access.
        let edges = [0, 1, WORD - 1, WORD, WORD + 1, 2 * WORD + 1, 3 * WORD + 2];
        let all: [usize; 3 * WORD + 3] = core::array::from_fn(|index| index);
        let (starts, lens): (&[usize], &[usize]) = if cfg!(miri) {
            (&edges[..5], &edges)
        } else {
            (&all[..WORD + 1], &all)
        };
        for &start in starts {
            for &len in lens {
                let mut out = [0u8; 96];
                // SAFETY: `start + len < 96`, in `source`.
                unsafe { copy_from_shared(source.as_ptr().add(start), &mut out[..len]) };
                assert_eq!(&out[..len], &source[start..start + len]);
                let mut shared = [0u8; 96];
                // SAFETY: as above, in `shared`.
                unsafe { copy_to_shared(&source[..len], shared.as_mut_ptr().add(start)) };
                assert_eq!(&shared[start..start + len], &source[..len]);
                assert!(shared[..start].iter().all(|&b| b == 0));
                assert!(shared[start + len..].iter().all(|&b| b == 0));
                let mut filled = [1u8; 96];
                // SAFETY: as above, in `filled`.
                unsafe { fill_shared(filled.as_mut_ptr().add(start), 9, len) };
                assert!(filled[start..start + len].iter().all(|&b| b == 9));
                assert!(filled[start + len..].iter().all(|&b| b == 1));
            }
        }
    }

    /// Long copies (through the wide loop where the processor has one):
    /// lengths around its minimum and its step, at every offset from a
    /// wide boundary on either side, both directions, nothing written
    /// outside.
    #[test]
    fn long_copies_are_exact() {
        const SPAN: usize = 1024;
        let source: [u8; SPAN] = core::array::from_fn(|index| (index * 7 + index / 251) as u8);
        let lens: &[usize] = if cfg!(miri) {
            &[300]
        } else {
            &[255, 256, 257, 319, 320, 321, 383, 500, 900]
        };
        let offsets: &[usize] = if cfg!(miri) {
            &[0, 17]
        } else {
            &[0, 1, 8, 16, 31, 32, 48, 63]
        };
        for &len in lens {
            for &shared_at in offsets {
                for &private_at in offsets {
                    let mut out = [0xEEu8; SPAN];
                    // SAFETY: `shared_at + len < SPAN`, in `source`.
                    unsafe {
                        copy_from_shared(
                            source.as_ptr().add(shared_at),
                            &mut out[private_at..private_at + len],
                        )
                    };
                    assert_eq!(
                        &out[private_at..private_at + len],
                        &source[shared_at..shared_at + len]
                    );
                    assert!(
                        out[..private_at]
                            .iter()
                            .chain(&out[private_at + len..])
                            .all(|&b| b == 0xEE)
                    );
                    let mut shared = [0xEEu8; SPAN];
                    // SAFETY: as above, in `shared`.
                    unsafe {
                        copy_to_shared(
                            &source[private_at..private_at + len],
                            shared.as_mut_ptr().add(shared_at),
                        )
                    };
                    assert_eq!(
                        &shared[shared_at..shared_at + len],
                        &source[private_at..private_at + len]
                    );
                    assert!(
                        shared[..shared_at]
                            .iter()
                            .chain(&shared[shared_at + len..])
                            .all(|&b| b == 0xEE)
                    );
                }
            }
        }
    }
}
