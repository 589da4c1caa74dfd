//! NVMe SGL descriptors (Scatter Gather Lists, NVM Express Base
//! Specification, "Scatter Gather List (SGL)").
//!
//! A descriptor is 16 bytes: an address (bytes 0-7), a length (8-11),
//! three reserved bytes, and the SGL identifier in byte 15 (the type in
//! bits 7:4, the sub type in bits 3:0). A command holds one descriptor
//! (SGL1): a data block for a one-segment transfer, else a segment or last
//! segment descriptor that points to an SGL segment, an array of
//! descriptors in memory. Inside a segment only the last descriptor may
//! point to the next segment (a segment descriptor, or a last segment
//! descriptor when the next segment is the last); a last segment holds
//! data blocks only.

use alloc::vec::Vec;

use crate::{DevError, DmaVec};

/// Descriptor type: data block.
pub const SGL_DATA_BLOCK: u8 = 0x0;
/// Descriptor type: bit bucket.
pub const SGL_BIT_BUCKET: u8 = 0x1;
/// Descriptor type: segment (points to an SGL segment that is not the
/// last).
pub const SGL_SEGMENT: u8 = 0x2;
/// Descriptor type: last segment (points to the last SGL segment).
pub const SGL_LAST_SEGMENT: u8 = 0x3;
/// Descriptor type: keyed data block.
pub const SGL_KEYED_DATA_BLOCK: u8 = 0x4;
/// Descriptor type: transport data block.
pub const SGL_TRANSPORT_DATA_BLOCK: u8 = 0x5;
/// Sub type: the address field is an address.
pub const SGL_SUBTYPE_ADDRESS: u8 = 0x0;
/// Sub type: the address field is an offset.
pub const SGL_SUBTYPE_OFFSET: u8 = 0x1;

/// One SGL descriptor, as the controller reads it (little-endian).
#[doc(alias = "nvme_sgl_desc")]
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SglDescriptor {
    addr: u64,
    len: u32,
    reserved: [u8; 3],
    id: u8,
}

impl SglDescriptor {
    /// A descriptor of `kind` (type, sub type [`SGL_SUBTYPE_ADDRESS`]).
    #[inline]
    pub const fn new(kind: u8, addr: u64, len: u32) -> Self {
        SglDescriptor {
            addr: addr.to_le(),
            len: len.to_le(),
            reserved: [0; 3],
            id: kind << 4 | SGL_SUBTYPE_ADDRESS,
        }
    }

    /// A data block of `len` bytes at `addr`.
    #[inline]
    pub const fn data_block(addr: u64, len: u32) -> Self {
        Self::new(SGL_DATA_BLOCK, addr, len)
    }

    /// The address field.
    #[inline]
    pub const fn addr(&self) -> u64 {
        u64::from_le(self.addr)
    }

    /// The length field.
    #[inline]
    pub const fn len(&self) -> u32 {
        u32::from_le(self.len)
    }

    /// Whether the length field is 0.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The descriptor type (bits 7:4 of the identifier).
    #[inline]
    pub const fn kind(&self) -> u8 {
        self.id >> 4
    }

    /// The sub type (bits 3:0 of the identifier).
    #[inline]
    pub const fn subtype(&self) -> u8 {
        self.id & 0xF
    }
}

impl core::fmt::Debug for SglDescriptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SglDescriptor")
            .field("kind", &self.kind())
            .field("addr", &format_args!("{:#x}", self.addr()))
            .field("len", &self.len())
            .finish()
    }
}

/// What the controller asks of data blocks (Identify Controller, `SGLS`
/// bits 1:0).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct SglOptions {
    /// Data blocks need dword-aligned addresses and lengths (`SGLS` =
    /// 10b).
    pub dword_aligned: bool,
}

/// Checks `view` against the SGL rules and returns the number of data
/// blocks it needs (empty segments are skipped).
///
/// # Errors
///
/// [`DevError::EmptyView`], [`DevError::SegmentTooLong`] for a segment
/// longer than `u32::MAX`, [`DevError::SglMisaligned`] when the options
/// ask for dword alignment.
pub fn sgl_blocks(view: &[DmaVec], options: SglOptions) -> Result<usize, DevError> {
    let mut blocks = 0;
    for (index, segment) in view.iter().enumerate() {
        if segment.len == 0 {
            continue;
        }
        if segment.len > u64::from(u32::MAX) {
            return Err(DevError::SegmentTooLong {
                index,
                len: segment.len,
                max: u64::from(u32::MAX),
            });
        }
        if options.dword_aligned && (segment.addr | segment.len) & 3 != 0 {
            return Err(DevError::SglMisaligned {
                index,
                address: segment.addr,
                len: segment.len,
            });
        }
        blocks += 1;
    }
    if blocks == 0 {
        return Err(DevError::EmptyView);
    }
    Ok(blocks)
}

/// Writes `view` as an SGL: returns the command's SGL1 descriptor, and
/// fills the SGL segments that `segment_page` hands out (an array of
/// descriptors, at least 2, and its bus address; asked for only when
/// needed, in order). A one-segment view needs no segment page.
///
/// The view is checked first ([`sgl_blocks`]), so nothing is written
/// when it breaks a rule.
///
/// # Errors
///
/// As [`sgl_blocks`]; [`DevError::NoListPage`] when `segment_page`
/// returns `None` or fewer than 2 slots.
///
/// # Examples
///
/// ```
/// use sg_dev::{DmaVec, SglDescriptor, SglOptions, build_sgl, SGL_LAST_SEGMENT};
///
/// let view = [DmaVec::new(0x10_0200, 3584), DmaVec::new(0x20_0000, 4096)];
/// let mut segment = [SglDescriptor::default(); 256];
/// let mut pages = Some((&mut segment[..], 0xF000_0000u64));
/// let sgl1 = build_sgl(&view, SglOptions::default(), || pages.take())?;
/// assert_eq!((sgl1.kind(), sgl1.addr(), sgl1.len()), (SGL_LAST_SEGMENT, 0xF000_0000, 32));
/// assert_eq!(segment[1], SglDescriptor::data_block(0x20_0000, 4096));
/// # Ok::<(), sg_dev::DevError>(())
/// ```
#[doc(alias = "nvme_pci_setup_sgls")]
pub fn build_sgl<'a>(
    view: &[DmaVec],
    options: SglOptions,
    mut segment_page: impl FnMut() -> Option<(&'a mut [SglDescriptor], u64)>,
) -> Result<SglDescriptor, DevError> {
    let blocks = sgl_blocks(view, options)?;
    // Checked above: every length fits a u32.
    let mut data = view
        .iter()
        .filter(|segment| segment.len > 0)
        .map(|segment| SglDescriptor::data_block(segment.addr, segment.len as u32));
    if blocks == 1 {
        return data.next().ok_or(DevError::EmptyView);
    }
    let mut pages = 0usize;
    let mut next_page = || {
        let page = pages;
        pages += 1;
        match segment_page() {
            Some((slots, address)) if slots.len() >= 2 => Ok((slots, address)),
            _ => Err(DevError::NoListPage { page }),
        }
    };
    // A pointer to a segment of `count` descriptors, the last segment when
    // they are all the data left.
    let pointer = |address: u64, count: usize, last: bool| {
        let kind = if last { SGL_LAST_SEGMENT } else { SGL_SEGMENT };
        SglDescriptor::new(kind, address, (count * 16) as u32)
    };
    let (mut slots, address) = next_page()?;
    let mut left = blocks;
    let fits = left <= slots.len();
    let count = if fits { left } else { slots.len() };
    let sgl1 = pointer(address, count, fits);
    loop {
        let capacity = slots.len();
        if left <= capacity {
            for (slot, block) in slots.iter_mut().zip(data.by_ref()) {
                *slot = block;
            }
            return Ok(sgl1);
        }
        let (head, tail) = slots.split_at_mut(capacity - 1);
        for (slot, block) in head.iter_mut().zip(data.by_ref()) {
            *slot = block;
        }
        left -= capacity - 1;
        let (next, address) = next_page()?;
        let fits = left <= next.len();
        let count = if fits { left } else { next.len() };
        tail[0] = pointer(address, count, fits);
        slots = next;
    }
}

/// Walks an SGL from the command's SGL1 as a controller does, reading
/// segments through `read_segment` (given a segment's address and its
/// number of descriptors), and returns the byte ranges of the data blocks
/// in order, contiguous neighbours merged.
///
/// # Errors
///
/// [`DevError::Malformed`] for a descriptor type other than data block,
/// segment and last segment, a segment pointer that is not a segment's
/// last descriptor, a pointer inside a last segment, a segment length
/// that is not a multiple of 16, or a segment `read_segment` does not
/// have.
pub fn walk_sgl<'a>(
    sgl1: SglDescriptor,
    mut read_segment: impl FnMut(u64, usize) -> Option<&'a [SglDescriptor]>,
) -> Result<Vec<DmaVec>, DevError> {
    let mut out: Vec<DmaVec> = Vec::new();
    let mut push = |descriptor: &SglDescriptor| {
        let (addr, len) = (descriptor.addr(), u64::from(descriptor.len()));
        match out.last_mut() {
            Some(last) if last.end() == addr => last.len += len,
            _ if len == 0 => {}
            _ => out.push(DmaVec::new(addr, len)),
        }
    };
    let malformed = |at, reason| DevError::Malformed { at, reason };
    let mut pointer = sgl1;
    let mut seen = 0usize;
    loop {
        match pointer.kind() {
            SGL_DATA_BLOCK if seen == 0 => {
                push(&pointer);
                return Ok(out);
            }
            SGL_SEGMENT | SGL_LAST_SEGMENT => {}
            _ => return Err(malformed(seen, "a descriptor type the walk does not take")),
        }
        let last = pointer.kind() == SGL_LAST_SEGMENT;
        let bytes = pointer.len() as usize;
        if bytes == 0 || bytes % 16 != 0 {
            return Err(malformed(seen, "a segment length is not a multiple of 16"));
        }
        let count = bytes / 16;
        let segment = read_segment(pointer.addr(), count)
            .filter(|segment| segment.len() >= count)
            .ok_or(malformed(seen, "no such segment"))?;
        let mut next = None;
        for (at, descriptor) in segment[..count].iter().enumerate() {
            match descriptor.kind() {
                SGL_DATA_BLOCK => push(descriptor),
                SGL_SEGMENT | SGL_LAST_SEGMENT if !last && at == count - 1 => {
                    next = Some(*descriptor);
                }
                SGL_SEGMENT | SGL_LAST_SEGMENT => {
                    return Err(malformed(
                        seen + at,
                        "a segment pointer inside a last segment or before a segment's end",
                    ));
                }
                _ => {
                    return Err(malformed(
                        seen + at,
                        "a descriptor type the walk does not take",
                    ));
                }
            }
        }
        seen += count;
        match next {
            Some(descriptor) => pointer = descriptor,
            None if last => return Ok(out),
            None => {
                return Err(malformed(
                    seen,
                    "a segment that is not the last ends the list",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_descriptor_is_sixteen_bytes_with_its_identifier_last() {
        use core::mem::{offset_of, size_of};
        assert_eq!(size_of::<SglDescriptor>(), 16);
        assert_eq!(
            (
                offset_of!(SglDescriptor, addr),
                offset_of!(SglDescriptor, len),
                offset_of!(SglDescriptor, id)
            ),
            (0, 8, 15)
        );
        let descriptor = SglDescriptor::new(SGL_LAST_SEGMENT, 0x1122_3344_5566_7788, 0x30);
        assert_eq!(
            descriptor.addr.to_ne_bytes(),
            0x1122_3344_5566_7788u64.to_le_bytes()
        );
        assert_eq!(descriptor.len.to_ne_bytes(), 0x30u32.to_le_bytes());
        assert_eq!((descriptor.id, descriptor.reserved), (0x30, [0; 3]));
    }
}
