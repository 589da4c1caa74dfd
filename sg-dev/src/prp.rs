//! NVMe PRP entries (Physical Region Pages, NVM Express Base
//! Specification, "Physical Region Page Entry and List").
//!
//! The rules a view must obey, with `page` the controller's memory page
//! size (`CC.MPS`):
//!
//! - PRP1 is the address of the first byte; it may carry an offset in its
//!   page, and its two low bits are 0 (dword aligned).
//! - Every later entry is the address of a whole page: offset 0. So every
//!   segment after the first starts a page, and every segment before the
//!   last ends one (no gap inside a page).
//! - When the transfer reaches one page past PRP1's, PRP2 is that page;
//!   when it reaches more, PRP2 points to a PRP list: a page of 64-bit
//!   entries, whose last entry, when more entries are needed than fit,
//!   points to the next list page instead of data.

use alloc::vec::Vec;

use crate::{DevError, DmaVec, GapAt};

/// What a command's data pointer holds for a PRP transfer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Prp {
    /// PRP entry 1: the first byte's address.
    pub prp1: u64,
    /// PRP entry 2: 0, the second page, or the first list page's address.
    pub prp2: u64,
    /// List pages used.
    pub list_pages: usize,
}

/// Checks a page size: a power of two from 4 KiB to 128 MiB (`CC.MPS`
/// from 0 to 15).
pub fn check_page_size(page_size: u64) -> Result<(), DevError> {
    if page_size.is_power_of_two() && (4096..=1 << 27).contains(&page_size) {
        Ok(())
    } else {
        Err(DevError::InvalidPageSize { page_size })
    }
}

/// Checks `view` against the PRP rules and returns the number of PRP
/// entries it needs (PRP1 included); empty segments are skipped, and a
/// segment that starts where the one before it ends continues it (the
/// rules apply to the bytes the controller reaches, not to how the view
/// cut them).
///
/// # Errors
///
/// [`DevError::InvalidPageSize`], [`DevError::EmptyView`],
/// [`DevError::PrpMisaligned`] for a first address that is not dword
/// aligned, [`DevError::PrpGap`] naming the first segment that starts or
/// ends inside a page where the rules forbid it.
pub fn prp_entries(view: &[DmaVec], page_size: u64) -> Result<usize, DevError> {
    check_page_size(page_size)?;
    let mask = page_size - 1;
    let gap = |index: usize, at| DevError::PrpGap {
        index,
        address: view[index].addr,
        len: view[index].len,
        at,
    };
    let mut entries = 0usize;
    // The previous non-empty segment's index and end, and the next page
    // not yet given an entry.
    let mut previous: Option<(usize, u64)> = None;
    let mut next_page = 0u64;
    for (index, segment) in view.iter().enumerate() {
        if segment.len == 0 {
            continue;
        }
        let end = segment
            .addr
            .checked_add(segment.len)
            .ok_or(gap(index, GapAt::End))?;
        let mut page = match previous {
            None => {
                if segment.addr & 3 != 0 {
                    return Err(DevError::PrpMisaligned {
                        index,
                        address: segment.addr,
                    });
                }
                // PRP1's page.
                entries += 1;
                (segment.addr & !mask) + page_size
            }
            Some((_, previous_end)) if previous_end == segment.addr => next_page,
            Some((before, previous_end)) => {
                if previous_end & mask != 0 {
                    return Err(gap(before, GapAt::End));
                }
                if segment.addr & mask != 0 {
                    return Err(gap(index, GapAt::Start));
                }
                segment.addr
            }
        };
        if page < end {
            let pages = (end - page).div_ceil(page_size);
            entries = entries.saturating_add(usize::try_from(pages).unwrap_or(usize::MAX));
            page += pages * page_size;
        }
        next_page = page;
        previous = Some((index, end));
    }
    if previous.is_none() {
        return Err(DevError::EmptyView);
    }
    Ok(entries)
}

/// Whole list pages needed for `entries` PRP entries (PRP1 included) with
/// `page_size`-byte pages: 0 for up to two entries.
pub fn prp_list_pages(entries: usize, page_size: u64) -> usize {
    let per_page = (page_size / 8) as usize;
    match entries {
        0..=2 => 0,
        // The entries after PRP1; every list page but the last gives one
        // slot to the chain pointer.
        n => (n - 1 - 1).div_ceil(per_page - 1),
    }
}

/// Writes `view` as PRP entries: returns PRP1 and PRP2, and fills the
/// list pages that `list_page` hands out (a page of `page_size / 8`
/// entries and its bus address, for example from a pool; asked for only
/// when needed, in order, chained through their last entries). The first
/// list may instead be the tail of a page (at least two entries, ending at
/// the page's end, like the kernel's small pool of 256-byte lists): PRP2
/// then carries its offset. Entries are written little-endian, as the
/// controller reads them.
///
/// The view is checked first ([`prp_entries`]), so nothing is written and
/// no list page is asked for when it breaks a rule.
///
/// # Errors
///
/// As [`prp_entries`]; [`DevError::NoListPage`] when `list_page` returns
/// `None` or a slice that is not `page_size / 8` entries long.
///
/// # Examples
///
/// 8 KiB at offset 512 of a page: three pages, so PRP2 points to a list
/// of two entries.
///
/// ```
/// use sg_dev::{DmaVec, build_prp};
///
/// let mut list = vec![0u64; 512];
/// let mut pages = Some((&mut list[..], 0xF000_0000u64));
/// let prp = build_prp(&[DmaVec::new(0x10_0200, 8192)], 4096, || pages.take())?;
/// assert_eq!((prp.prp1, prp.prp2, prp.list_pages), (0x10_0200, 0xF000_0000, 1));
/// assert_eq!(list[..2], [0x10_1000u64.to_le(), 0x10_2000u64.to_le()]);
/// # Ok::<(), sg_dev::DevError>(())
/// ```
#[doc(alias = "nvme_pci_setup_prps")]
pub fn build_prp<'a>(
    view: &[DmaVec],
    page_size: u64,
    mut list_page: impl FnMut() -> Option<(&'a mut [u64], u64)>,
) -> Result<Prp, DevError> {
    let entries = prp_entries(view, page_size)?;
    let mask = page_size - 1;
    let per_page = (page_size / 8) as usize;
    let mut segments = view.iter().filter(|segment| segment.len > 0);
    let first = *segments.next().ok_or(DevError::EmptyView)?;
    let prp1 = first.addr;
    // The page addresses after PRP1's, in order: a segment that continues
    // the one before it starts at the first page not yet given an entry.
    let mut next_page = (first.addr & !mask) + page_size;
    let mut previous_end = first.addr;
    let mut rest = core::iter::once(first)
        .chain(segments.copied())
        .flat_map(move |segment| {
            let start = if segment.addr == previous_end {
                next_page
            } else {
                segment.addr
            };
            let end = segment.end();
            let pages = if start < end {
                (end - start).div_ceil(page_size)
            } else {
                0
            };
            next_page = start + pages * page_size;
            previous_end = end;
            (0..pages).map(move |page| start + page * page_size)
        });
    match entries {
        1 => {
            return Ok(Prp {
                prp1,
                prp2: 0,
                list_pages: 0,
            });
        }
        2 => {
            let second = rest.next().unwrap_or(0);
            return Ok(Prp {
                prp1,
                prp2: second,
                list_pages: 0,
            });
        }
        _ => {}
    }
    let mut pages_used = 0usize;
    // The first list may be the tail of a page (PRP2 may carry an offset,
    // qword aligned: a small pool's block); the lists it chains to are
    // whole pages (their pointers carry no offset).
    let mut next_page = || {
        let page = pages_used;
        pages_used += 1;
        match list_page() {
            Some((slots, address))
                if slots.len() >= 2
                    && address & 7 == 0
                    && (address & mask) + 8 * slots.len() as u64 == page_size
                    && (page == 0 || slots.len() == per_page) =>
            {
                Ok((slots, address))
            }
            _ => Err(DevError::NoListPage { page }),
        }
    };
    let (mut slots, prp2) = next_page()?;
    let mut slot = 0usize;
    // Entries still to write after PRP1.
    let mut left = entries - 1;
    for page in rest {
        if slot == slots.len() - 1 && left > 1 {
            let (next, address) = next_page()?;
            slots[slot] = address.to_le();
            slots = next;
            slot = 0;
        }
        slots[slot] = page.to_le();
        slot += 1;
        left -= 1;
    }
    debug_assert_eq!(left, 0);
    Ok(Prp {
        prp1,
        prp2,
        list_pages: pages_used,
    })
}

/// Walks PRP1 and PRP2 as a controller does for a transfer of `len`
/// bytes, reading list pages through `read_list` (the page's entries, as
/// stored: little-endian), and returns the byte ranges it reaches, in
/// order, contiguous neighbours merged.
///
/// # Errors
///
/// [`DevError::Malformed`] for an entry with an offset where the rules
/// forbid one, a list pointer that is not qword aligned, or a list page
/// `read_list` does not have.
pub fn walk_prp<'a>(
    prp1: u64,
    prp2: u64,
    len: u64,
    page_size: u64,
    mut read_list: impl FnMut(u64) -> Option<&'a [u64]>,
) -> Result<Vec<DmaVec>, DevError> {
    check_page_size(page_size)?;
    let mask = page_size - 1;
    let mut out: Vec<DmaVec> = Vec::new();
    let mut push = |addr: u64, len: u64| match out.last_mut() {
        Some(last) if last.end() == addr => last.len += len,
        _ => out.push(DmaVec::new(addr, len)),
    };
    let malformed = |at, reason| DevError::Malformed { at, reason };
    if prp1 & 3 != 0 {
        return Err(malformed(0, "PRP1 is not dword aligned"));
    }
    let first = len.min(page_size - (prp1 & mask));
    push(prp1, first);
    let mut left = len - first;
    if left == 0 {
        return Ok(out);
    }
    if left <= page_size {
        if prp2 & mask != 0 {
            return Err(malformed(1, "PRP2 is a data page with an offset"));
        }
        push(prp2, left);
        return Ok(out);
    }
    if prp2 & 7 != 0 {
        return Err(malformed(1, "the PRP list pointer is not qword aligned"));
    }
    let per_page = (page_size / 8) as usize;
    let mut list = prp2 & !mask;
    let mut slot = ((prp2 & mask) / 8) as usize;
    let mut read = 0usize;
    loop {
        let entries = read_list(list).ok_or(malformed(read, "no such list page"))?;
        if entries.len() < per_page {
            return Err(malformed(read, "a list page is short"));
        }
        while slot < per_page {
            let entry = u64::from_le(entries[slot]);
            let pages_left = left.div_ceil(page_size);
            if slot == per_page - 1 && pages_left > 1 {
                // The last entry of a list page points to the next one.
                if entry & mask != 0 {
                    return Err(malformed(read, "a chained list page has an offset"));
                }
                list = entry;
                slot = 0;
                read += 1;
                break;
            }
            if entry & mask != 0 {
                return Err(malformed(read, "a list entry has an offset"));
            }
            let piece = left.min(page_size);
            push(entry, piece);
            left -= piece;
            read += 1;
            slot += 1;
            if left == 0 {
                return Ok(out);
            }
        }
        if slot == per_page {
            return Err(malformed(read, "a full list page does not chain"));
        }
    }
}
