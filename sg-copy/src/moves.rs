//! Copies of private bytes with instructions the platform's `memcpy` may
//! not choose for them: one string copy (`rep movsb`), a front-to-back
//! loop of 32-byte moves, and the same loop with non-temporal stores. The
//! linear fast path picks them per processor (see [`crate::tune`]); each
//! copies the same bytes as `memcpy`.

/// Copies `source` into `target` with one string copy (`rep movsb`) on
/// x86-64 outside Miri, with one `memcpy` elsewhere.
///
/// # Panics
///
/// When the two lengths differ.
#[inline]
pub(crate) fn copy_string(source: &[u8], target: &mut [u8]) {
    assert_eq!(source.len(), target.len(), "a copy between equal lengths");
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    // SAFETY: the instruction reads `source.len()` bytes forwards from
    // `source` and writes as many forwards from `target` (the direction
    // flag is clear, as the ABI keeps it outside an asm block that sets
    // it): both slices hold that many bytes, checked just above, and
    // `target`, a unique borrow, overlaps nothing else. It touches no
    // stack, and the block's default memory clobber keeps the compiler
    // from moving other accesses across it.
    unsafe {
        core::arch::asm!(
            "rep movsb",
            inout("rcx") source.len() => _,
            inout("rsi") source.as_ptr() => _,
            inout("rdi") target.as_mut_ptr() => _,
            options(nostack, preserves_flags),
        );
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    target.copy_from_slice(source);
}

/// Copies `source` into `target` front to back, 64 bytes per step with
/// 32-byte moves, where the processor has AVX2 (x86-64 with the `std`
/// feature, outside Miri); with [`copy_string`] elsewhere.
///
/// # Panics
///
/// When the two lengths differ.
#[inline]
pub(crate) fn copy_wide(source: &[u8], target: &mut [u8]) {
    if !try_copy_wide(source, target) {
        copy_string(source, target);
    }
}

/// [`copy_wide`]'s loop where the processor has AVX2 (x86-64 with the
/// `std` feature, outside Miri), returning true; elsewhere false, having
/// copied nothing.
///
/// # Panics
///
/// When the two lengths differ.
#[inline]
#[must_use = "nothing is copied when it returns false"]
pub(crate) fn try_copy_wide(source: &[u8], target: &mut [u8]) -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, the one feature the function
        // enables.
        unsafe { copy_avx2(source, target) };
        return true;
    }
    let _ = (source, target);
    false
}

/// [`copy_wide`]'s loop: compiled for AVX2, each 64-byte `copy_from_slice`
/// is two 32-byte loads and two stores.
///
/// # Panics
///
/// When the two lengths differ.
#[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
#[target_feature(enable = "avx2")]
fn copy_avx2(source: &[u8], target: &mut [u8]) {
    assert_eq!(source.len(), target.len(), "a copy between equal lengths");
    let mut to = target.chunks_exact_mut(STEP);
    let mut from = source.chunks_exact(STEP);
    for (to, from) in (&mut to).zip(&mut from) {
        to.copy_from_slice(from);
    }
    to.into_remainder().copy_from_slice(from.remainder());
}

/// Copies `source` into `target` front to back with 32-byte loads and
/// non-temporal 32-byte stores (which write around the caches, without
/// first reading the target's lines into them), where the processor has
/// AVX2 (x86-64 with the `std` feature, outside Miri), returning true;
/// elsewhere false, having copied nothing.
///
/// The bytes before the target's first 32-byte boundary and after its
/// last whole step are copied with plain stores. The non-temporal stores
/// are fenced (`sfence`) before it returns, so that everything after it,
/// in this thread or in any thread that synchronises with it later, sees
/// them as it sees plain stores.
///
/// # Panics
///
/// When the two lengths differ.
#[inline]
#[must_use = "nothing is copied when it returns false"]
pub(crate) fn try_copy_stream(source: &[u8], target: &mut [u8]) -> bool {
    #[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, the one feature the function
        // enables.
        unsafe { stream_avx2(source, target) };
        return true;
    }
    let _ = (source, target);
    false
}

/// [`try_copy_stream`]'s loop, compiled for AVX2.
///
/// # Panics
///
/// When the two lengths differ (before anything is written).
#[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
#[target_feature(enable = "avx2")]
fn stream_avx2(source: &[u8], target: &mut [u8]) {
    use core::arch::x86_64::{__m256i, _mm_sfence, _mm256_loadu_si256, _mm256_stream_si256};

    /// Bytes per non-temporal store; its target must be aligned to them.
    const WIDE: usize = 32;

    assert_eq!(source.len(), target.len(), "a copy between equal lengths");
    let len = source.len();
    let head = target.as_ptr().align_offset(WIDE).min(len);
    let (head_from, from) = source.split_at(head);
    let (head_to, to) = target.split_at_mut(head);
    head_to.copy_from_slice(head_from);
    let body = from.len() / STEP * STEP;
    let (from_body, from_tail) = from.split_at(body);
    let (to_body, to_tail) = to.split_at_mut(body);
    for (to, from) in to_body
        .chunks_exact_mut(STEP)
        .zip(from_body.chunks_exact(STEP))
    {
        let (from, to) = (
            from.as_ptr().cast::<__m256i>(),
            to.as_mut_ptr().cast::<__m256i>(),
        );
        // SAFETY: each chunk holds `STEP` bytes, two 32-byte values, in
        // both slices; the loads take any alignment, and the stores' target
        // is 32-byte aligned: `head` bytes brought it to a boundary (when
        // the body is not empty, `head` is the distance to it), and whole
        // steps keep it there.
        unsafe {
            let first = _mm256_loadu_si256(from);
            let second = _mm256_loadu_si256(from.add(1));
            _mm256_stream_si256(to, first);
            _mm256_stream_si256(to.add(1), second);
        }
    }
    // The non-temporal stores are weakly ordered: the fence orders them
    // before every later store (and nothing between them and it can
    // unwind), as the intrinsics' contract asks before the function
    // returns.
    _mm_sfence();
    to_tail.copy_from_slice(from_tail);
}

/// Bytes per step of [`copy_wide`] and [`try_copy_stream`]: one cache
/// line.
#[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
const STEP: usize = 64;

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// Every copy gives the source's bytes, for every length around a
    /// step and every offset of either end in a cache line, and touch
    /// nothing around the target.
    #[test]
    fn every_copy_gives_the_source_bytes() {
        let source: Vec<u8> = (0..600).map(|index| (index * 13 + 5) as u8).collect();
        let lengths: &[usize] = if cfg!(miri) {
            &[0, 65, 200]
        } else {
            &[0, 1, 31, 32, 63, 64, 65, 127, 128, 129, 200, 511]
        };
        let offsets: &[usize] = if cfg!(miri) {
            &[0, 7]
        } else {
            &[0, 1, 7, 32, 63]
        };
        for copy in [copy_string, copy_wide, stream_or_memcpy] {
            for &len in lengths {
                for &from in offsets {
                    for &to in offsets {
                        let mut target = vec![0xEEu8; len + 128];
                        copy(&source[from..from + len], &mut target[to..to + len]);
                        assert_eq!(&target[to..to + len], &source[from..from + len]);
                        assert!(target[..to].iter().all(|&byte| byte == 0xEE));
                        assert!(target[to + len..].iter().all(|&byte| byte == 0xEE));
                    }
                }
            }
        }
    }

    /// [`try_copy_stream`], or `memcpy` where it copies nothing.
    fn stream_or_memcpy(source: &[u8], target: &mut [u8]) {
        if !try_copy_stream(source, target) {
            target.copy_from_slice(source);
        }
    }

    /// The wide and the streaming loops run exactly where the processor
    /// has AVX2 (x86-64 with `std`, outside Miri): there each copies,
    /// around a target at every offset from a 32-byte boundary, and says
    /// so; elsewhere each touches nothing and says so.
    #[test]
    fn the_avx2_loops_say_whether_they_copied() {
        #[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
        let avx2 = std::is_x86_feature_detected!("avx2");
        #[cfg(not(all(target_arch = "x86_64", feature = "std", not(miri))))]
        let avx2 = false;
        let source: Vec<u8> = (0..300).map(|index| (index * 3) as u8).collect();
        let mut target = vec![0xEEu8; 400];
        let base = target.as_ptr().align_offset(32);
        for try_copy in [try_copy_wide, try_copy_stream] {
            for offset in [0, 1, 31, 32] {
                for len in [0, 31, 64, 97, 300] {
                    target.fill(0xEE);
                    let at = base + offset;
                    assert_eq!(try_copy(&source[..len], &mut target[at..at + len]), avx2);
                    if avx2 {
                        assert_eq!(&target[at..at + len], &source[..len]);
                    } else {
                        assert!(target[at..at + len].iter().all(|&byte| byte == 0xEE));
                    }
                    assert!(target[..at].iter().all(|&byte| byte == 0xEE));
                    assert!(target[at + len..].iter().all(|&byte| byte == 0xEE));
                }
            }
        }
    }

    /// Each copy checks the lengths it is given: it copies exactly the
    /// source's length, which must be the target's.
    #[test]
    fn every_copy_refuses_unequal_lengths() {
        for copy in [copy_string, copy_wide, stream_or_memcpy] {
            let result = std::panic::catch_unwind(|| {
                let mut target = [0u8; 8];
                copy(&[1; 9], &mut target);
            });
            assert!(result.is_err());
        }
    }
}
