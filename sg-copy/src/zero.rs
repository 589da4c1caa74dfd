//! Zeroing a list's bytes.

use sg_core::{PageProvider, SgListMut};
use sg_iter::MappingIterMut;

use crate::runs::for_each_run;

/// Zeroes `len` bytes of the list from `skip` on (the kernel's
/// `sg_zero_buffer`); returns the bytes zeroed: the smaller of `len` and
/// the bytes the list holds after `skip`, 0 when `skip` is at or past the
/// end.
///
/// On a linear provider every contiguous run of bytes, including runs that
/// continue across neighbouring entries at a page boundary, is one
/// `memset`; other providers
/// are mapped page by page. Written pages are flushed through the provider.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgListMut, VirtPages};
///
/// let mut bytes = [0xFFu8; 8];
/// let mut entry = SgEntry::new();
/// // SAFETY: `bytes` outlives the list and is not touched meanwhile.
/// unsafe { entry.init_one(NonNull::from(&mut bytes).cast(), 8) };
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let list = unsafe { SgListMut::new(core::slice::from_mut(&mut entry), &pages) };
/// assert_eq!(sg_copy::zero(list, 5, 100), 3);
/// assert_eq!(bytes, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0]);
/// ```
#[doc(alias = "sg_zero_buffer")]
pub fn zero<P: PageProvider>(list: SgListMut<'_, P>, skip: u64, len: u64) -> u64 {
    if len == 0 {
        return 0;
    }
    if list.as_list().provider().is_linear() {
        // SAFETY: the provider is linear and the view was exclusive; each
        // run's bytes are valid for writes while it is visited.
        return unsafe {
            for_each_run(list.into_list(), skip, len, true, |run, len| {
                run.write_bytes(0, len);
            })
        };
    }
    let mut writer = MappingIterMut::new(list);
    if !writer.skip(skip) {
        return 0;
    }
    let mut done = 0u64;
    while let Some(bytes) = writer.next() {
        let wanted = usize::try_from(len - done).unwrap_or(usize::MAX);
        let count = bytes.len().min(wanted);
        bytes[..count].fill(0);
        done += count as u64;
        if done == len {
            break;
        }
    }
    done
}
