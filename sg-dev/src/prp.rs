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
/// One pass over the view: the rules are checked as it goes, so a view
/// that breaks one is refused after the list pages handed out so far (the
/// caller's, to give back) received the entries before the segment at
/// fault. [`prp_entries`] checks a view without writing anything.
///
/// # Errors
///
/// As [`prp_entries`]; [`DevError::NoListPage`] when `list_page` returns
/// `None`, or a list that is not a page (the first: a page's tail) of
/// qword entries at a matching bus address.
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
    list_page: impl FnMut() -> Option<(&'a mut [u64], u64)>,
) -> Result<Prp, DevError> {
    check_page_size(page_size)?;
    let mask = page_size - 1;
    let shift = page_size.trailing_zeros();
    let gap = |index: usize, at| DevError::PrpGap {
        index,
        address: view[index].addr,
        len: view[index].len,
        at,
    };
    let first_index = view
        .iter()
        .position(|segment| segment.len > 0)
        .ok_or(DevError::EmptyView)?;
    let first = view[first_index];
    if first.addr & 3 != 0 {
        return Err(DevError::PrpMisaligned {
            index: first_index,
            address: first.addr,
        });
    }
    let mut writer = Writer {
        list_page,
        page_size,
        pending: 0,
        entries: 0,
        slots: &mut [],
        slot: 0,
        prp2: 0,
        pages_used: 0,
    };
    // The first page not yet given an entry, and where the previous
    // segment ended.
    let mut next_page = (first.addr & !mask) + page_size;
    let mut previous_end = first.addr;
    // The list page being filled and the next slot in it, once entries go
    // to list pages (empty before).
    let mut slots: &mut [u64] = &mut [];
    let mut slot = 0usize;
    for (offset, segment) in view[first_index..].iter().enumerate() {
        // The hot case of a view of scattered pages: a whole page after a
        // segment that ended a page, with room in the list page.
        if ((segment.addr | previous_end) & mask) | (segment.len ^ page_size) == 0 {
            if let (Some(entry), Some(end)) =
                (slots.get_mut(slot), segment.addr.checked_add(page_size))
            {
                *entry = segment.addr.to_le();
                slot += 1;
                previous_end = end;
                next_page = end;
                continue;
            }
        }
        if segment.len == 0 {
            continue;
        }
        let index = first_index + offset;
        let end = segment
            .addr
            .checked_add(segment.len)
            .ok_or(gap(index, GapAt::End))?;
        let start = if segment.addr == previous_end {
            // PRP1's segment, or one that continues the previous.
            next_page
        } else if (previous_end | segment.addr) & mask != 0 {
            // A gap inside a page: which end, found off the hot path.
            if previous_end & mask != 0 {
                // The previous non-empty segment ends inside a page.
                let before = view[..index]
                    .iter()
                    .rposition(|segment| segment.len > 0)
                    .unwrap_or(first_index);
                return Err(gap(before, GapAt::End));
            }
            return Err(gap(index, GapAt::Start));
        } else {
            segment.addr
        };
        if start < end {
            let pages = (end - start + mask) >> shift;
            match slots.get_mut(slot) {
                // The common case of scattered pages, on locals (the
                // writer's fields would carry the slot through memory).
                Some(entry) if pages == 1 => {
                    *entry = start.to_le();
                    slot += 1;
                }
                _ => {
                    writer.slots = core::mem::take(&mut slots);
                    writer.slot = slot;
                    writer.run(start, pages)?;
                    // Only once past PRP2 do entries go to a list page.
                    if writer.entries >= 2 {
                        slots = core::mem::take(&mut writer.slots);
                        slot = writer.slot;
                    }
                }
            }
            next_page = start + (pages << shift);
        }
        previous_end = end;
    }
    let prp2 = match writer.entries {
        0 => 0,
        1 => writer.pending,
        _ => writer.prp2,
    };
    Ok(Prp {
        prp1: first.addr,
        prp2,
        list_pages: writer.pages_used,
    })
}

/// Writes the entries after PRP1: the first is held back (it is PRP2 when
/// it is the only one); from the second on they go to list pages, and
/// when a page is full and another entry comes, its last entry moves to
/// the next page and the chain pointer takes its place.
struct Writer<'a, F> {
    list_page: F,
    page_size: u64,
    /// The first entry, until a list page is taken.
    pending: u64,
    /// Entries written so far after PRP1, counted up to 2 (only whether
    /// there are none, one or more matters).
    entries: usize,
    slots: &'a mut [u64],
    slot: usize,
    prp2: u64,
    pages_used: usize,
}

impl<'a, F: FnMut() -> Option<(&'a mut [u64], u64)>> Writer<'a, F> {
    /// A list page from the caller, checked.
    fn take_page(&mut self) -> Result<(&'a mut [u64], u64), DevError> {
        let page = self.pages_used;
        self.pages_used += 1;
        let per_page = (self.page_size / 8) as usize;
        let mask = self.page_size - 1;
        match (self.list_page)() {
            Some((slots, address))
                if slots.len() >= 2
                    && address & 7 == 0
                    && (address & mask) + 8 * slots.len() as u64 == self.page_size
                    && (page == 0 || slots.len() == per_page) =>
            {
                Ok((slots, address))
            }
            _ => Err(DevError::NoListPage { page }),
        }
    }

    /// Writes `pages` entries for the pages from `start`.
    #[inline(never)]
    fn run(&mut self, mut start: u64, mut pages: u64) -> Result<(), DevError> {
        while pages > 0 {
            match self.entries {
                0 => {
                    self.pending = start;
                    self.entries = 1;
                    start += self.page_size;
                    pages -= 1;
                    continue;
                }
                1 => {
                    let (slots, address) = self.take_page()?;
                    slots[0] = self.pending.to_le();
                    self.slots = slots;
                    self.slot = 1;
                    self.prp2 = address;
                }
                _ => {}
            }
            if self.slot == self.slots.len() {
                let (next, address) = self.take_page()?;
                let last = self.slots.len() - 1;
                next[0] = self.slots[last];
                self.slots[last] = address.to_le();
                self.slots = next;
                self.slot = 1;
            }
            let room = (self.slots.len() - self.slot) as u64;
            let take = pages.min(room) as usize;
            let page_size = self.page_size;
            for (k, slot) in self.slots[self.slot..self.slot + take]
                .iter_mut()
                .enumerate()
            {
                *slot = (start + k as u64 * page_size).to_le();
            }
            self.slot += take;
            self.entries = 2;
            start += take as u64 * page_size;
            pages -= take as u64;
        }
        Ok(())
    }
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
