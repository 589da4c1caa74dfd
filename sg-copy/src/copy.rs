//! Copying between a list and a linear buffer, and between two lists.

use sg_core::{ListView, PageProvider, SgList, SgListMut};
use sg_iter::{MappingIter, MappingIterMut};

use crate::runs::{Run, RunCopy, for_each_run};

/// Copies the list's bytes from `skip` on into `buffer` (the kernel's
/// `sg_pcopy_to_buffer`; `sg_copy_to_buffer` is `skip` 0).
///
/// Returns the bytes copied: the smaller of `buffer.len()` and the bytes
/// the list holds after `skip`, 0 when `skip` is at or past the end.
///
/// On a linear provider every contiguous run of bytes, including runs that
/// continue across neighbouring entries at a page boundary, is one
/// `memcpy`; other providers
/// are mapped page by page.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgList, VirtPages};
///
/// let mut hello = *b"hello, ";
/// let mut world = *b"world";
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut hello).cast(), 7);
///     entries[1].set_buf(NonNull::from(&mut world).cast(), 5);
/// }
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let list = unsafe { SgList::new(&entries, &pages) };
///
/// let mut out = [0u8; 8];
/// assert_eq!(sg_copy::copy_to_slice(list, 3, &mut out), 8);
/// assert_eq!(&out, b"lo, worl");
/// assert_eq!(sg_copy::copy_to_slice(list, 10, &mut out), 2);
/// assert_eq!(sg_copy::copy_to_slice(list, 99, &mut out), 0);
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_copy_to_buffer")]
#[doc(alias = "sg_pcopy_to_buffer")]
#[doc(alias = "sg_copy_buffer")]
#[inline]
#[must_use = "the copy stops at the end of the list or the buffer; the count says where"]
pub fn copy_to_slice<P: PageProvider>(list: SgList<'_, P>, skip: u64, buffer: &mut [u8]) -> usize {
    if P::SHARED {
        return crate::volatile::copy_to_slice(list, skip, buffer);
    }
    let linear = linear_copy(
        list,
        skip,
        buffer.len(),
        #[inline(always)]
        |run, done, how| {
            // SAFETY: not a shared provider (returned above for those).
            let bytes = unsafe { run.bytes_unchecked() };
            how.copy(bytes, &mut buffer[done..done + run.len()]);
        },
    );
    linear.unwrap_or_else(|| copy_out_page_by_page(list, skip, buffer))
}

/// The linear fast path of both copies: visits the runs of `len` bytes of
/// the view from `skip` on, calling `copy` with each, the bytes done
/// before it and the way to copy it; returns the bytes done, or `None` on
/// a provider that is not linear. Nothing is visited for `len` 0.
#[inline(always)]
fn linear_copy<'v, V: ListView<'v>>(
    list: V,
    skip: u64,
    len: usize,
    mut copy: impl FnMut(&mut Run<'_, 'v, V>, usize, RunCopy),
) -> Option<usize> {
    if len == 0 {
        return Some(0);
    }
    // `len` fits a usize, and so does every count of bytes done below it.
    let done = for_each_run(
        list,
        skip,
        len as u64,
        #[inline(always)]
        move |run, done, how| copy(run, done as usize, how),
    )?;
    Some(done as usize)
}

/// [`copy_to_slice`] on a provider that is not linear, kept out of line so
/// that the linear path inlines.
#[inline(never)]
fn copy_out_page_by_page<P: PageProvider>(
    list: SgList<'_, P>,
    skip: u64,
    buffer: &mut [u8],
) -> usize {
    // At most `buffer.len()` bytes are done, so the count fits.
    page_by_page(list, skip, buffer.len() as u64, |mappings, done| {
        let bytes = mappings.next_slice()?;
        let rest = &mut buffer[done as usize..];
        let count = bytes.len().min(rest.len());
        rest[..count].copy_from_slice(&bytes[..count]);
        Some(count)
    }) as usize
}

/// Walks the view's bytes from `skip` on with a mapping iterator, page by
/// page, for providers that are not linear: calls `step` with the iterator
/// and the bytes done so far until it returns `None` or `len` bytes are
/// done; `step` takes the next mapping and returns how many of its bytes it
/// used. Returns the bytes done (0 when `skip` is past the end).
///
/// Instantiated for every provider by the copies' dispatch, run only for
/// private ones: the callers return earlier for shared providers (which
/// take sg-copy's volatile paths), and so does this function.
#[inline]
pub(crate) fn page_by_page<'a, V: ListView<'a>>(
    list: V,
    skip: u64,
    len: u64,
    mut step: impl FnMut(&mut MappingIter<'a, V::Provider, V::Access>, u64) -> Option<usize>,
) -> u64 {
    if <V::Provider as PageProvider>::SHARED {
        return 0;
    }
    // SAFETY: not a shared provider (returned just above for those).
    let mut mappings = unsafe { MappingIter::new_unchecked(list) };
    if mappings.advance(skip).is_err() {
        return 0;
    }
    let mut done = 0;
    while done < len {
        let Some(count) = step(&mut mappings, done) else {
            break;
        };
        done += count as u64;
    }
    done
}

/// Copies `buffer` into the list's bytes from `skip` on (the kernel's
/// `sg_pcopy_from_buffer`; `sg_copy_from_buffer` is `skip` 0).
///
/// Returns the bytes copied: the smaller of `buffer.len()` and the bytes
/// the list holds after `skip`, 0 when `skip` is at or past the end.
/// Written pages are flushed through the provider.
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgListMut, VirtPages};
///
/// let mut first = [0u8; 4];
/// let mut second = [0u8; 4];
/// let mut entries: [SgEntry<_>; 2] = Default::default();
/// sg_core::init_table(&mut entries)?;
/// // SAFETY: the buffers outlive the list and are not touched meanwhile.
/// unsafe {
///     entries[0].set_buf(NonNull::from(&mut first).cast(), 4);
///     entries[1].set_buf(NonNull::from(&mut second).cast(), 4);
/// }
/// let pages = VirtPages::new();
/// // SAFETY: the entries describe bytes of pages this provider holds valid,
/// // and nothing else reaches them while the view is used.
/// let list = unsafe { SgListMut::new(&mut entries, &pages) };
/// assert_eq!(sg_copy::copy_from_slice(list, 2, b"abcdefgh"), 6);
/// assert_eq!((&first, &second), (b"\0\0ab", b"cdef"));
/// # Ok::<(), sg_core::Error>(())
/// ```
#[doc(alias = "sg_copy_from_buffer")]
#[doc(alias = "sg_pcopy_from_buffer")]
#[doc(alias = "sg_copy_buffer")]
#[inline]
#[must_use = "the copy stops at the end of the list or the buffer; the count says where"]
pub fn copy_from_slice<P: PageProvider>(
    mut list: SgListMut<'_, P>,
    skip: u64,
    buffer: &[u8],
) -> usize {
    if P::SHARED {
        return crate::volatile::copy_from_slice(list, skip, buffer);
    }
    let linear = linear_copy(
        list.reborrow(),
        skip,
        buffer.len(),
        #[inline(always)]
        move |run, done, how| {
            let source = &buffer[done..done + run.len()];
            // SAFETY: not a shared provider (returned above for those).
            how.copy(source, unsafe { run.bytes_mut_unchecked() });
        },
    );
    linear.unwrap_or_else(|| copy_in_page_by_page(list, skip, buffer))
}

/// [`copy_from_slice`] on a provider that is not linear, kept out of line
/// so that the linear path inlines.
#[inline(never)]
fn copy_in_page_by_page<P: PageProvider>(
    list: SgListMut<'_, P>,
    skip: u64,
    buffer: &[u8],
) -> usize {
    // At most `buffer.len()` bytes are done, so the count fits.
    page_by_page(list, skip, buffer.len() as u64, |mappings, done| {
        let bytes = mappings.next_slice_mut()?;
        let rest = &buffer[done as usize..];
        let count = bytes.len().min(rest.len());
        bytes[..count].copy_from_slice(&rest[..count]);
        Some(count)
    }) as usize
}

/// Copies up to `len` bytes from one list to another, each from its own
/// skip; returns the bytes copied: the least of `len` and the bytes each
/// list holds after its skip.
///
/// The two lists may use different providers. They must not describe the
/// same bytes (an [`SgListMut`] is exclusive; see the safety model of
/// `sg-core`).
///
/// # Examples
///
/// ```
/// use core::ptr::NonNull;
/// use sg_core::{SgEntry, SgList, SgListMut, VirtPages};
///
/// let mut source = *b"0123456789";
/// let mut target = [b'.'; 6];
/// let mut from: [SgEntry<_>; 1] = Default::default();
/// let mut to: [SgEntry<_>; 1] = Default::default();
/// // SAFETY: the buffers outlive the lists and are not touched meanwhile.
/// unsafe {
///     from[0].init_one(NonNull::from(&mut source).cast(), 10);
///     to[0].init_one(NonNull::from(&mut target).cast(), 6);
/// }
/// let pages = VirtPages::new();
/// let copied = sg_copy::copy_list(
///     // SAFETY: the entries describe bytes of pages this provider holds valid,
///     // and nothing else reaches them while the view is used.
///     unsafe { SgListMut::new(&mut to, &pages) },
///     1,
///     // SAFETY: the entries describe bytes of pages this provider holds valid,
///     // and nothing else reaches them while the view is used.
///     unsafe { SgList::new(&from, &pages) },
///     7,
///     100,
/// );
/// assert_eq!(copied, 3);
/// assert_eq!(&target, b".789..");
/// ```
#[must_use = "the copy stops at the end of either list; the count says where"]
pub fn copy_list<D: PageProvider, S: PageProvider>(
    destination: SgListMut<'_, D>,
    destination_skip: u64,
    source: SgList<'_, S>,
    source_skip: u64,
    len: u64,
) -> u64 {
    if D::SHARED || S::SHARED {
        return crate::volatile::copy_list(destination, destination_skip, source, source_skip, len);
    }
    if len == 0 {
        return 0;
    }
    // SAFETY: neither provider is shared (returned above for those).
    let mut writer = unsafe { MappingIterMut::new_unchecked(destination) }.merge_adjacent();
    // SAFETY: as above.
    let mut reader = unsafe { MappingIter::new_unchecked(source) }.merge_adjacent();
    if writer.advance(destination_skip).is_err() || reader.advance(source_skip).is_err() {
        return 0;
    }
    let mut done = 0u64;
    while done < len {
        let Some(target) = writer.next_slice_mut() else {
            break;
        };
        let Some(bytes) = reader.next_slice() else {
            break;
        };
        let wanted = usize::try_from(len - done).unwrap_or(usize::MAX);
        let count = target.len().min(bytes.len()).min(wanted);
        target[..count].copy_from_slice(&bytes[..count]);
        writer.consume(count);
        reader.consume(count);
        done += count as u64;
    }
    done
}
