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

/// Whether this processor's string copy (`rep movsb`, which glibc's
/// `memcpy` uses for copies from about 2 KiB to 1 MiB) is slow when source
/// and target lie at different offsets in their cache lines: true on AMD
/// and Hygon x86-64 processors, false elsewhere (and under Miri).
///
/// Measured on an AMD EPYC: 3.1-3.4 GB/s for 4 KiB copies with the ends 1
/// or 8 bytes apart modulo 64, against 13-14 GB/s for a loop of cache-line
/// moves. sg-copy's linear fast path and sg-core's volatile copies choose
/// their loops by it. Read from the processor once, then one relaxed load.
///
/// # Examples
///
/// ```
/// // The same answer every time.
/// let slow = sg_core::hint::memcpy_slow_across_offsets();
/// assert_eq!(sg_core::hint::memcpy_slow_across_offsets(), slow);
/// ```
#[inline]
pub fn memcpy_slow_across_offsets() -> bool {
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not read yet; 1: no; 2: yes.
    static FOUND: AtomicU8 = AtomicU8::new(0);
    match FOUND.load(Ordering::Relaxed) {
        0 => {
            let slow = vendor_is_amd_like();
            FOUND.store(if slow { 2 } else { 1 }, Ordering::Relaxed);
            slow
        }
        found => found == 2,
    }
}

/// Whether the processor's vendor is AMD or Hygon (CPUID leaf 0).
#[cold]
fn vendor_is_amd_like() -> bool {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        // Leaf 0 names the vendor in EBX, EDX, ECX (12 ASCII bytes); every
        // x86_64 processor has the instruction.
        let leaf = core::arch::x86_64::__cpuid(0);
        let mut vendor = [0u8; 12];
        vendor[..4].copy_from_slice(&leaf.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf.edx.to_le_bytes());
        vendor[8..].copy_from_slice(&leaf.ecx.to_le_bytes());
        &vendor == b"AuthenticAMD" || &vendor == b"HygonGenuine"
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    /// The vendor read from the processor is the one Linux reports.
    #[cfg(all(
        feature = "std",
        target_os = "linux",
        target_arch = "x86_64",
        not(miri)
    ))]
    #[test]
    fn the_vendor_is_the_one_linux_reports() {
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
            return;
        };
        let Some(vendor) = info
            .lines()
            .find_map(|line| line.strip_prefix("vendor_id"))
            .and_then(|rest| rest.split(':').nth(1))
            .map(str::trim)
        else {
            return;
        };
        let slow = vendor == "AuthenticAMD" || vendor == "HygonGenuine";
        assert_eq!(super::memcpy_slow_across_offsets(), slow, "{vendor}");
        assert_eq!(super::vendor_is_amd_like(), slow);
    }
}
