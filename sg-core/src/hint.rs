//! Hints to the processor that change speed, never behaviour.

/// Asks the processor to start loading the cache line holding `pointer`
/// for reading, so that a later access finds it in the cache.
///
/// Only a hint: it never faults and reads nothing the program can see,
/// whatever the address (dangling, unmapped or null included), so it is
/// safe to call with any pointer. It does nothing on targets without a
/// prefetch instruction in their baseline.
///
/// # Examples
///
/// ```
/// let data = [0u8; 256];
/// // Ask for the second half before working on the first.
/// sg_core::hint::prefetch(data[128..].as_ptr());
/// ```
#[inline(always)]
pub fn prefetch(pointer: *const u8) {
    #[cfg(target_arch = "x86_64")]
    {
        use core::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint that never faults, whatever the
        // address; SSE, which provides it, is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(pointer.cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = pointer;
}
