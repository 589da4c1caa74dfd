//! Copies of private bytes with instructions the platform's `memcpy` may
//! not choose for them: one string copy (`rep movsb`), and a front-to-back
//! loop of 32-byte moves. The linear fast path picks them per processor
//! (see [`crate::tune`]); each copies the same bytes as `memcpy`.

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

/// Bytes per step of [`copy_wide`]: one cache line.
#[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
const STEP: usize = 64;

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// Both copies give the source's bytes, for every length around a
    /// step and every offset of either end in a cache line, and touch
    /// nothing around the target.
    #[test]
    fn both_copies_give_the_source_bytes() {
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
        for copy in [copy_string, copy_wide] {
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

    /// The wide loop runs exactly where the processor has AVX2 (x86-64
    /// with `std`, outside Miri): there it copies and says so; elsewhere it
    /// touches nothing and says so.
    #[test]
    fn the_wide_loop_says_whether_it_copied() {
        #[cfg(all(target_arch = "x86_64", feature = "std", not(miri)))]
        let wide = std::is_x86_feature_detected!("avx2");
        #[cfg(not(all(target_arch = "x86_64", feature = "std", not(miri))))]
        let wide = false;
        let source: Vec<u8> = (0..300).map(|index| index as u8).collect();
        let mut target = vec![0xEEu8; 300];
        assert_eq!(try_copy_wide(&source, &mut target), wide);
        if wide {
            assert_eq!(target, source);
        } else {
            assert!(target.iter().all(|&byte| byte == 0xEE));
        }
    }

    /// Each copy checks the lengths it is given: it copies exactly the
    /// source's length, which must be the target's.
    #[test]
    fn both_copies_refuse_unequal_lengths() {
        for copy in [copy_string, copy_wide] {
            let result = std::panic::catch_unwind(|| {
                let mut target = [0u8; 8];
                copy(&[1; 9], &mut target);
            });
            assert!(result.is_err());
        }
    }
}
