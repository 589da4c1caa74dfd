//! Zeroing a list's bytes.

use sg_core::{PageProvider, SgListMut};

use crate::copy::page_by_page;
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
#[must_use = "zeroing stops at the end of the list; the count says where"]
pub fn zero<P: PageProvider>(mut list: SgListMut<'_, P>, skip: u64, len: u64) -> u64 {
    if P::SHARED {
        return crate::volatile::zero(list, skip, len);
    }
    if len == 0 {
        return 0;
    }
    let linear = for_each_run(list.reborrow(), skip, len, |run, _, _| run.fill(0));
    if let Some(done) = linear {
        return done;
    }
    zero_page_by_page(list, skip, len)
}

/// [`zero`] on a provider that is not linear, kept out of line so that the
/// linear path inlines.
#[inline(never)]
fn zero_page_by_page<P: PageProvider>(list: SgListMut<'_, P>, skip: u64, len: u64) -> u64 {
    page_by_page(list, skip, len, |mappings, done| {
        let bytes = mappings.next_slice_mut()?;
        let count = bytes
            .len()
            .min(usize::try_from(len - done).unwrap_or(usize::MAX));
        bytes[..count].fill(0);
        Some(count)
    })
}
