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
/// and target lie at different offsets in their cache lines: true on
/// Hygon and on AMD x86-64 processors before family 0x1A (Zen 5), false
/// elsewhere (and under Miri).
///
/// Measured on an AMD EPYC before Zen 5: 3.1-3.4 GB/s for 4 KiB copies
/// with the ends 1 or 8 bytes apart modulo 64, against 13-14 GB/s for a
/// loop of cache-line moves. On an AMD EPYC of family 0x1A (Zen 5) the
/// same 4 KiB copies from a buffer into pages in no order ran at 23-24
/// GB/s with the ends 16 or 36 bytes apart and 24 GB/s with none.
/// sg-copy's linear fast path and sg-core's volatile copies choose their
/// loops by it. Read from the processor once, then one relaxed load.
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
    copier() == Copier::Lines
}

/// Whether one string copy (`rep movsb`) of a few KiB or more is faster
/// on this processor than glibc's `memcpy` of the same bytes: true on AMD
/// x86-64 processors of family 0x1A (Zen 5) and later, false elsewhere
/// (and under Miri). Never true together with
/// [`memcpy_slow_across_offsets`].
///
/// There glibc's `memcpy` copies 4 KiB with vector moves (its string-copy
/// threshold is higher on processors with AVX-512), and on an AMD EPYC of
/// family 0x1A, copying a buffer into 4 KiB pages in no order (16 MiB),
/// those ran at 16-17 GB/s where one `rep movsb` per page ran at 23-24
/// GB/s, for any offsets of the ends in their cache lines; copying out of
/// such pages both ran at 10-13 GB/s. sg-copy's linear fast path copies
/// long runs with the string copy where this is true. Read from the
/// processor once, then one relaxed load.
///
/// # Examples
///
/// ```
/// use sg_core::hint::{memcpy_slow_across_offsets, string_copy_beats_memcpy};
///
/// // At most one of the two holds.
/// assert!(!(string_copy_beats_memcpy() && memcpy_slow_across_offsets()));
/// ```
#[inline]
pub fn string_copy_beats_memcpy() -> bool {
    copier() == Copier::String
}

/// Which long copies suit the processor: what [`memcpy_slow_across_offsets`]
/// and [`string_copy_beats_memcpy`] answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Copier {
    /// `memcpy` for any offsets (Intel, other vendors, other targets).
    Plain = 1,
    /// Cache-line moves across offsets (AMD before Zen 5, Hygon).
    Lines = 2,
    /// One string copy (AMD Zen 5 and later).
    String = 3,
}

/// The processor's [`Copier`], read from it once, then one relaxed load.
#[inline]
fn copier() -> Copier {
    use core::sync::atomic::{AtomicU8, Ordering};

    /// 0: not read yet; otherwise a `Copier`.
    static FOUND: AtomicU8 = AtomicU8::new(0);
    match FOUND.load(Ordering::Relaxed) {
        1 => Copier::Plain,
        2 => Copier::Lines,
        3 => Copier::String,
        _ => {
            let copier = read_copier();
            FOUND.store(copier as u8, Ordering::Relaxed);
            copier
        }
    }
}

/// The processor's [`Copier`], from its vendor (CPUID leaf 0) and, on
/// AMD, its family (leaf 1).
#[cold]
fn read_copier() -> Copier {
    #[cfg(all(target_arch = "x86_64", not(miri)))]
    {
        use core::arch::x86_64::__cpuid;

        // Leaf 0 names the vendor in EBX, EDX, ECX (12 ASCII bytes); every
        // x86_64 processor has the instruction, and leaf 1.
        let leaf = __cpuid(0);
        let mut vendor = [0u8; 12];
        vendor[..4].copy_from_slice(&leaf.ebx.to_le_bytes());
        vendor[4..8].copy_from_slice(&leaf.edx.to_le_bytes());
        vendor[8..].copy_from_slice(&leaf.ecx.to_le_bytes());
        copier_of(&vendor, __cpuid(1).eax)
    }
    #[cfg(not(all(target_arch = "x86_64", not(miri))))]
    {
        Copier::Plain
    }
}

/// The [`Copier`] of a processor with `vendor` (CPUID leaf 0) and leaf 1's
/// EAX `signature`.
// Read only from x86-64 processors (outside Miri); tested everywhere.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
fn copier_of(vendor: &[u8; 12], signature: u32) -> Copier {
    match vendor {
        b"HygonGenuine" => Copier::Lines,
        b"AuthenticAMD" if family(signature) >= ZEN_5 => Copier::String,
        b"AuthenticAMD" => Copier::Lines,
        _ => Copier::Plain,
    }
}

/// The family of AMD's Zen 5 processors.
// Read only from x86-64 processors (outside Miri); tested everywhere.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
const ZEN_5: u32 = 0x1A;

/// The display family of CPUID leaf 1's EAX: the base family, plus the
/// extended family when the base is 0xF.
// Read only from x86-64 processors (outside Miri); tested everywhere.
#[cfg_attr(not(all(target_arch = "x86_64", not(miri))), allow(dead_code))]
fn family(signature: u32) -> u32 {
    let base = (signature >> 8) & 0xF;
    if base == 0xF {
        base + ((signature >> 20) & 0xFF)
    } else {
        base
    }
}

#[cfg(test)]
mod tests {
    use super::{Copier, copier_of, family};

    /// The vendor and family read from the processor are the ones Linux
    /// reports, and so is the answer of both hints.
    #[cfg(all(
        feature = "std",
        target_os = "linux",
        target_arch = "x86_64",
        not(miri)
    ))]
    #[test]
    fn the_processor_is_the_one_linux_reports() {
        let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
            return;
        };
        let field = |name: &str| {
            info.lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(key, _)| key.trim() == name)
                .map(|(_, value)| value.trim())
        };
        let (Some(vendor), Some(Ok(family))) = (
            field("vendor_id"),
            field("cpu family").map(|family| family.parse::<u32>()),
        ) else {
            return;
        };
        let expected = match vendor {
            "HygonGenuine" => Copier::Lines,
            "AuthenticAMD" if family >= 0x1A => Copier::String,
            "AuthenticAMD" => Copier::Lines,
            _ => Copier::Plain,
        };
        assert_eq!(super::read_copier(), expected, "{vendor} family {family}");
        assert_eq!(
            super::memcpy_slow_across_offsets(),
            expected == Copier::Lines
        );
        assert_eq!(
            super::string_copy_beats_memcpy(),
            expected == Copier::String
        );
    }

    /// Leaf 1's family: the base alone below 0xF, plus the extended family
    /// from 0xF on; and the copier each vendor and family gets.
    #[test]
    fn families_and_copiers_follow_the_signature() {
        // (signature, family): Intel family 6 model 167 (an extended model
        // but no extended family), AMD Zen 3/4 (0x19), Zen 5 (0x1A), an
        // extended family of 0 with base 0xF (AMD K8).
        for (signature, expected) in [
            (0x000A_06A1, 6),
            (0x00A1_0F11, 0x19),
            (0x00B0_0F21, 0x1A),
            (0x0000_0F48, 0xF),
        ] {
            assert_eq!(family(signature), expected, "{signature:#x}");
        }
        // Extended-family bits are ignored below base 0xF.
        assert_eq!(family(0x0FF0_0600), 6);
        assert_eq!(copier_of(b"GenuineIntel", 0x000A_06A1), Copier::Plain);
        assert_eq!(copier_of(b"AuthenticAMD", 0x00A1_0F11), Copier::Lines);
        assert_eq!(copier_of(b"AuthenticAMD", 0x00B0_0F21), Copier::String);
        assert_eq!(copier_of(b"AuthenticAMD", 0x00C0_0F00), Copier::String);
        assert_eq!(copier_of(b"HygonGenuine", 0x0090_0F00), Copier::Lines);
        assert_eq!(copier_of(b"CentaurHauls", 0x00B0_0F21), Copier::Plain);
    }
}
