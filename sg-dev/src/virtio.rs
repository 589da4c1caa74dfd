//! Virtio descriptors (Virtual I/O Device Specification 1.x, "Split
//! Virtqueues" and "Packed Virtqueues").
//!
//! A split queue's descriptor table holds 16-byte descriptors (`addr`,
//! `len`, `flags`, `next`, little-endian); a chain follows `next` while
//! [`VIRTQ_DESC_F_NEXT`] is set. A packed ring's descriptors are `addr`,
//! `len`, `id`, `flags`; a chain is consecutive descriptors (wrapping at
//! the ring's end) while `NEXT` is set, and the driver marks each
//! available with the `AVAIL` bit equal to its wrap counter and `USED`
//! its inverse.

use crate::{DevError, DmaVec};

/// The chain continues in the descriptor `next` names (split) or the
/// following one (packed).
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// The device writes the buffer (otherwise it reads it).
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// The buffer is a table of indirect descriptors.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;
/// Packed ring: the available flag.
pub const VIRTQ_DESC_F_AVAIL: u16 = 1 << 7;
/// Packed ring: the used flag.
pub const VIRTQ_DESC_F_USED: u16 = 1 << 15;

/// The largest queue: 32768 descriptors.
pub const MAX_QUEUE_SIZE: usize = 1 << 15;

/// One descriptor of a split queue's table (`struct virtq_desc`),
/// stored little-endian.
#[doc(alias = "virtq_desc")]
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VirtqDesc {
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
}

impl VirtqDesc {
    /// A descriptor with these fields.
    #[inline]
    pub const fn new(addr: u64, len: u32, flags: u16, next: u16) -> Self {
        VirtqDesc {
            addr: addr.to_le(),
            len: len.to_le(),
            flags: flags.to_le(),
            next: next.to_le(),
        }
    }

    /// The buffer's address.
    #[inline]
    pub const fn addr(&self) -> u64 {
        u64::from_le(self.addr)
    }

    /// The buffer's length.
    #[inline]
    pub const fn len(&self) -> u32 {
        u32::from_le(self.len)
    }

    /// Whether the buffer's length is 0.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The flags.
    #[inline]
    pub const fn flags(&self) -> u16 {
        u16::from_le(self.flags)
    }

    /// The index of the next descriptor (meaningful with `NEXT`).
    #[inline]
    pub const fn next(&self) -> u16 {
        u16::from_le(self.next)
    }
}

impl core::fmt::Debug for VirtqDesc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtqDesc")
            .field("addr", &format_args!("{:#x}", self.addr()))
            .field("len", &self.len())
            .field("flags", &format_args!("{:#x}", self.flags()))
            .field("next", &self.next())
            .finish()
    }
}

/// One descriptor of a packed ring (`struct pvirtq_desc`), stored
/// little-endian.
#[doc(alias = "pvirtq_desc")]
#[doc(alias = "vring_packed_desc")]
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VirtqPackedDesc {
    addr: u64,
    len: u32,
    id: u16,
    flags: u16,
}

impl VirtqPackedDesc {
    /// A descriptor with these fields.
    #[inline]
    pub const fn new(addr: u64, len: u32, id: u16, flags: u16) -> Self {
        VirtqPackedDesc {
            addr: addr.to_le(),
            len: len.to_le(),
            id: id.to_le(),
            flags: flags.to_le(),
        }
    }

    /// The buffer's address.
    #[inline]
    pub const fn addr(&self) -> u64 {
        u64::from_le(self.addr)
    }

    /// The buffer's length.
    #[inline]
    pub const fn len(&self) -> u32 {
        u32::from_le(self.len)
    }

    /// Whether the buffer's length is 0.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer id.
    #[inline]
    pub const fn id(&self) -> u16 {
        u16::from_le(self.id)
    }

    /// The flags.
    #[inline]
    pub const fn flags(&self) -> u16 {
        u16::from_le(self.flags)
    }
}

impl core::fmt::Debug for VirtqPackedDesc {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VirtqPackedDesc")
            .field("addr", &format_args!("{:#x}", self.addr()))
            .field("len", &self.len())
            .field("id", &self.id())
            .field("flags", &format_args!("{:#x}", self.flags()))
            .finish()
    }
}

/// Checks a view for virtio descriptors in a queue of `queue_size`: every
/// segment fits a `u32` length, and there are at most `room` of them.
/// Empty segments are kept (a descriptor may have length 0).
fn check(view: &[DmaVec], queue_size: usize, room: usize) -> Result<(), DevError> {
    if queue_size > MAX_QUEUE_SIZE {
        return Err(DevError::QueueTooLarge { size: queue_size });
    }
    if view.is_empty() {
        return Err(DevError::EmptyView);
    }
    if let Some((index, segment)) = view
        .iter()
        .enumerate()
        .find(|(_, segment)| segment.len > u64::from(u32::MAX))
    {
        return Err(DevError::SegmentTooLong {
            index,
            len: segment.len,
            max: u64::from(u32::MAX),
        });
    }
    if view.len() > room {
        return Err(DevError::NoRoom {
            needed: view.len(),
            available: room,
        });
    }
    Ok(())
}

/// Writes `view` as a chain in a split queue's descriptor table, one
/// descriptor per segment at `first`, `first + 1`, ... (wrapping at the
/// table's end), each linked to the next with [`VIRTQ_DESC_F_NEXT`], with
/// [`VIRTQ_DESC_F_WRITE`] when the device writes; returns the head's
/// index (`first`) and the number written.
///
/// # Errors
///
/// [`DevError::QueueTooLarge`], [`DevError::EmptyView`],
/// [`DevError::SegmentTooLong`] naming a segment longer than a `u32`,
/// [`DevError::NoRoom`] when the table is too small, and
/// [`DevError::Malformed`] when `first` lies outside it; nothing is
/// written then.
///
/// ```
/// use sg_dev::{DmaVec, VirtqDesc, write_split, split_chain, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
///
/// let mut table = [VirtqDesc::default(); 4];
/// let view = [DmaVec::new(0x1000, 512), DmaVec::new(0x8000, 4096)];
/// let (head, n) = write_split(&view, &mut table, 3, true)?;
/// assert_eq!((head, n), (3, 2));
/// let chain: Vec<_> = split_chain(&table, head).collect();
/// let write = VIRTQ_DESC_F_WRITE;
/// assert_eq!(chain, [(0x1000, 512, write | VIRTQ_DESC_F_NEXT), (0x8000, 4096, write)]);
/// # Ok::<(), sg_dev::DevError>(())
/// ```
pub fn write_split(
    view: &[DmaVec],
    table: &mut [VirtqDesc],
    first: u16,
    device_writes: bool,
) -> Result<(u16, usize), DevError> {
    check(view, table.len(), table.len())?;
    let size = table.len();
    if usize::from(first) >= size {
        return Err(DevError::Malformed {
            at: usize::from(first),
            reason: "the head lies outside the table",
        });
    }
    let write = if device_writes { VIRTQ_DESC_F_WRITE } else { 0 };
    let mut at = usize::from(first);
    for (index, segment) in view.iter().enumerate() {
        let next = if at + 1 == size { 0 } else { at + 1 };
        let more = index + 1 < view.len();
        let (flags, next_field) = if more {
            (write | VIRTQ_DESC_F_NEXT, next as u16)
        } else {
            (write, 0)
        };
        // Checked: fits a u32.
        table[at] = VirtqDesc::new(segment.addr, segment.len as u32, flags, next_field);
        at = next;
    }
    Ok((first, view.len()))
}

/// The chain of a split queue's descriptor table from `head`: each
/// descriptor's `(addr, len, flags)`, following `next` while
/// [`VIRTQ_DESC_F_NEXT`] is set. It stops early at an index outside the
/// table or after as many descriptors as the table has (a loop);
/// [`SplitChain::error`] then says why.
pub fn split_chain(table: &[VirtqDesc], head: u16) -> SplitChain<'_> {
    SplitChain {
        table,
        at: Some(head),
        steps: 0,
        error: None,
    }
}

/// Iterator of [`split_chain`].
#[derive(Debug, Clone)]
pub struct SplitChain<'a> {
    table: &'a [VirtqDesc],
    at: Option<u16>,
    steps: usize,
    error: Option<DevError>,
}

impl SplitChain<'_> {
    /// Why the chain stopped early, if it did (once the iterator is done).
    pub fn error(&self) -> Option<DevError> {
        self.error
    }
}

impl Iterator for SplitChain<'_> {
    type Item = (u64, u32, u16);

    fn next(&mut self) -> Option<(u64, u32, u16)> {
        let at = usize::from(self.at.take()?);
        let Some(descriptor) = self.table.get(at) else {
            self.error = Some(DevError::Malformed {
                at,
                reason: "a descriptor index outside the table",
            });
            return None;
        };
        self.steps += 1;
        if self.steps > self.table.len() {
            self.error = Some(DevError::Malformed {
                at,
                reason: "the chain is longer than the table (a loop)",
            });
            return None;
        }
        let flags = descriptor.flags();
        if flags & VIRTQ_DESC_F_NEXT != 0 {
            self.at = Some(descriptor.next());
        }
        Some((descriptor.addr(), descriptor.len(), flags))
    }
}

/// Writes `view` as a chain in a packed ring from index `start`, with
/// wrap counter `wrap`: consecutive descriptors (the counter flips where
/// the ring wraps), [`VIRTQ_DESC_F_NEXT`] on all but the last, buffer id
/// `id` in each, [`VIRTQ_DESC_F_WRITE`] when the device writes, and each
/// made available (`AVAIL` = its wrap counter, `USED` = the inverse).
/// Returns the index and wrap counter after the chain.
///
/// The head's flags are written last, as the specification asks of a
/// driver (the device may see the chain once the head is available);
/// publishing it across threads (a release fence before the store, for a
/// ring in shared memory) stays the caller's part.
///
/// # Errors
///
/// As [`write_split`] (with room for the whole ring).
///
/// ```
/// use sg_dev::{DmaVec, VirtqPackedDesc, write_packed, packed_chain, VIRTQ_DESC_F_NEXT};
///
/// let mut ring = [VirtqPackedDesc::default(); 4];
/// let view = [DmaVec::new(0x1000, 512), DmaVec::new(0x8000, 4096)];
/// let (next, wrap) = write_packed(&view, &mut ring, 3, true, 7, false)?;
/// assert_eq!((next, wrap), (1, false)); // wrapped
/// let chain: Vec<_> = packed_chain(&ring, 3).map(|(addr, len, flags)| (addr, len, flags & VIRTQ_DESC_F_NEXT)).collect();
/// assert_eq!(chain, [(0x1000, 512, VIRTQ_DESC_F_NEXT), (0x8000, 4096, 0)]);
/// # Ok::<(), sg_dev::DevError>(())
/// ```
pub fn write_packed(
    view: &[DmaVec],
    ring: &mut [VirtqPackedDesc],
    start: u16,
    wrap: bool,
    id: u16,
    device_writes: bool,
) -> Result<(u16, bool), DevError> {
    check(view, ring.len(), ring.len())?;
    let size = ring.len();
    if usize::from(start) >= size {
        return Err(DevError::Malformed {
            at: usize::from(start),
            reason: "the start lies outside the ring",
        });
    }
    let write = if device_writes { VIRTQ_DESC_F_WRITE } else { 0 };
    let available = |wrap: bool| {
        if wrap {
            VIRTQ_DESC_F_AVAIL
        } else {
            VIRTQ_DESC_F_USED
        }
    };
    let (mut at, mut counter) = (usize::from(start), wrap);
    let mut head = None;
    for (index, segment) in view.iter().enumerate() {
        let more = if index + 1 < view.len() {
            VIRTQ_DESC_F_NEXT
        } else {
            0
        };
        let flags = write | more | available(counter);
        // Checked: fits a u32.
        let descriptor = VirtqPackedDesc::new(segment.addr, segment.len as u32, id, flags);
        if index == 0 {
            head = Some(descriptor);
        } else {
            ring[at] = descriptor;
        }
        at += 1;
        if at == size {
            at = 0;
            counter = !counter;
        }
    }
    if let Some(descriptor) = head {
        ring[usize::from(start)] = descriptor;
    }
    Ok((at as u16, counter))
}

/// The chain of a packed ring from `start`: each descriptor's `(addr,
/// len, flags)`, consecutive (wrapping) while [`VIRTQ_DESC_F_NEXT`] is
/// set, at most the ring's size.
pub fn packed_chain(
    ring: &[VirtqPackedDesc],
    start: u16,
) -> impl Iterator<Item = (u64, u32, u16)> + '_ {
    let mut at = Some(usize::from(start));
    let mut steps = 0;
    core::iter::from_fn(move || {
        let index = at.take()?;
        let descriptor = ring.get(index)?;
        steps += 1;
        if steps > ring.len() {
            return None;
        }
        let flags = descriptor.flags();
        if flags & VIRTQ_DESC_F_NEXT != 0 {
            at = Some(if index + 1 == ring.len() {
                0
            } else {
                index + 1
            });
        }
        Some((descriptor.addr(), descriptor.len(), flags))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptors_are_sixteen_little_endian_bytes() {
        use core::mem::{offset_of, size_of};
        assert_eq!(
            (size_of::<VirtqDesc>(), size_of::<VirtqPackedDesc>()),
            (16, 16)
        );
        assert_eq!(
            [
                offset_of!(VirtqDesc, addr),
                offset_of!(VirtqDesc, len),
                offset_of!(VirtqDesc, flags),
                offset_of!(VirtqDesc, next)
            ],
            [0, 8, 12, 14]
        );
        assert_eq!(
            [
                offset_of!(VirtqPackedDesc, addr),
                offset_of!(VirtqPackedDesc, len),
                offset_of!(VirtqPackedDesc, id),
                offset_of!(VirtqPackedDesc, flags)
            ],
            [0, 8, 12, 14]
        );
        let split = VirtqDesc::new(0x0102_0304_0506_0708, 0x1112_1314, 0x2122, 0x3132);
        assert_eq!(split.addr.to_ne_bytes(), [8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(split.len.to_ne_bytes(), [0x14, 0x13, 0x12, 0x11]);
        assert_eq!(
            (split.flags.to_ne_bytes(), split.next.to_ne_bytes()),
            ([0x22, 0x21], [0x32, 0x31])
        );
        let packed = VirtqPackedDesc::new(1, 2, 0x0304, 0x0506);
        assert_eq!(
            (packed.id.to_ne_bytes(), packed.flags.to_ne_bytes()),
            ([4, 3], [6, 5])
        );
    }

    #[test]
    fn a_loop_stops_the_read_back() {
        let table = [
            VirtqDesc::new(1, 1, VIRTQ_DESC_F_NEXT, 1),
            VirtqDesc::new(2, 2, VIRTQ_DESC_F_NEXT, 0),
        ];
        let mut chain = split_chain(&table, 0);
        assert_eq!(chain.by_ref().count(), 2);
        assert!(matches!(chain.error(), Some(DevError::Malformed { .. })));
        let outside = [VirtqDesc::new(1, 1, VIRTQ_DESC_F_NEXT, 9)];
        let mut chain = split_chain(&outside, 0);
        assert_eq!(chain.by_ref().count(), 1);
        assert_eq!(
            chain.error(),
            Some(DevError::Malformed {
                at: 9,
                reason: "a descriptor index outside the table"
            })
        );
    }

    #[test]
    fn a_long_segment_is_named() {
        let mut table = [VirtqDesc::default(); 4];
        let view = [DmaVec::new(0, 1), DmaVec::new(0, 1 << 32)];
        assert_eq!(
            write_split(&view, &mut table, 0, false),
            Err(DevError::SegmentTooLong {
                index: 1,
                len: 1 << 32,
                max: u64::from(u32::MAX)
            })
        );
        assert_eq!(table, [VirtqDesc::default(); 4]);
    }
}
