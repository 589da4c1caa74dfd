//! Virtio descriptor chains as tables: [`ChainTable`] checks a chain and
//! describes its readable and writable parts in a caller's entry array;
//! [`Reader`] and [`Writer`] copy through them.

use core::fmt;
use core::mem::{MaybeUninit, size_of};

use sg_core::{SgEntry, SgList, SgListMut};

use crate::{GUEST_PAGE_SIZE, GuestError, GuestPages, GuestRegions};

/// Flag of a descriptor followed by another in its chain.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// Flag of a descriptor the device writes (device-writable); the others
/// are device-readable.
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// Flag of a descriptor that points at a table of descriptors.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;

/// One descriptor of a chain, as in a virtqueue's descriptor table (its
/// `next` field aside: the chain's order is the order given).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[doc(alias = "virtq_desc")]
pub struct Descriptor {
    /// The guest address of the buffer.
    pub addr: u64,
    /// Its length in bytes.
    pub len: u32,
    /// [`VIRTQ_DESC_F_NEXT`], [`VIRTQ_DESC_F_WRITE`], [`VIRTQ_DESC_F_INDIRECT`].
    pub flags: u16,
}

impl Descriptor {
    /// Whether the device writes this buffer.
    #[inline]
    pub fn is_write_only(&self) -> bool {
        self.flags & VIRTQ_DESC_F_WRITE != 0
    }

    /// Whether another descriptor follows.
    #[inline]
    pub fn has_next(&self) -> bool {
        self.flags & VIRTQ_DESC_F_NEXT != 0
    }
}

impl From<(u64, u32, u16)> for Descriptor {
    #[inline]
    fn from((addr, len, flags): (u64, u32, u16)) -> Self {
        Descriptor { addr, len, flags }
    }
}

/// A descriptor chain as two scatter-gather tables over guest memory: the
/// device-readable part, then the device-writable part, described in a
/// caller's entry array (no allocation per request).
///
/// A descriptor is one entry, or one per region when it spans regions
/// that meet; the array needs at least one entry per descriptor.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use sg_core::SgEntry;
/// use sg_guest::{ChainTable, GuestPages, HeapGuestMemory, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
///
/// let memory = HeapGuestMemory::new(&[(0, 0x4000), (0x10000, 0x4000)])?;
/// memory.write(0x100, b"request")?;
/// let guest = GuestPages::new(&memory);
/// let mut entries: [SgEntry<u64>; 4] = Default::default();
/// let chain = [
///     (0x100, 7, VIRTQ_DESC_F_NEXT),
///     (0x10000, 5, VIRTQ_DESC_F_WRITE),
/// ];
/// let mut table = ChainTable::build(&guest, &mut entries, 256, chain)?;
/// assert_eq!((table.readable_len(), table.writable_len()), (7, 5));
/// let (mut reader, mut writer) = table.reader_writer();
/// let mut request = [0u8; 7];
/// reader.read_exact(&mut request)?;
/// assert_eq!(&request, b"request");
/// writer.write_all(b"reply")?;
/// let mut reply = [0u8; 5];
/// memory.read(0x10000, &mut reply)?;
/// assert_eq!(&reply, b"reply");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Guest memory is shared with the guest, so no slice of it is lent:
/// sg-copy's io-slice export refuses the table's lists at compile time.
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 0)]).unwrap();
/// // Would hand out `&[u8]` over guest memory: does not compile.
/// sg_copy::with_io_slices(table.readable().unwrap(), |slices| slices.len());
/// ```
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 0)]).unwrap();
/// // A cursor lends slices too: does not compile.
/// let _ = sg_copy::ListReader::new(table.readable().unwrap());
/// ```
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 0)]).unwrap();
/// // `Buf::chunk` lends a slice: does not compile.
/// let _ = sg_copy::ListBuf::new(table.readable().unwrap());
/// ```
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 0)]).unwrap();
/// // sg-copy's vectored I/O makes `IoSlice`s (use this crate's
/// // `Reader::write_to`, which passes raw iovecs): does not compile.
/// let _ = sg_copy::write_list(std::io::stderr(), table.readable().unwrap());
/// ```
///
/// The writing forms are refused alike:
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let mut table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 2)]).unwrap();
/// // `IoSliceMut`s over guest memory: does not compile.
/// sg_copy::with_io_slices_mut(table.writable().unwrap(), |slices| slices.len());
/// ```
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let mut table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 2)]).unwrap();
/// // `BufMut::chunk_mut` lends guest memory: does not compile.
/// let _ = sg_copy::ListBufMut::new(table.writable().unwrap());
/// ```
///
/// The mapping iterators lend `&[u8]` and `&mut [u8]` of each piece, so
/// they do not compile over guest memory either (sg-copy's copies, which
/// take volatile paths there, do):
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 0)]).unwrap();
/// // `next_slice` would lend `&[u8]` of guest memory: does not compile.
/// let _ = sg_iter::MappingIter::new(table.readable().unwrap());
/// ```
///
/// ```compile_fail
/// # use sg_core::SgEntry;
/// # use sg_guest::{ChainTable, GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// # let mut entries: [SgEntry<u64>; 1] = Default::default();
/// let mut table = ChainTable::build(&guest, &mut entries, 8, [(0, 8, 2)]).unwrap();
/// // `next_slice_mut` would lend `&mut [u8]`: does not compile.
/// let _ = sg_iter::MappingIterMut::new(table.writable().unwrap());
/// ```
///
/// Nor does sg-core's mapping guard lend a slice of guest memory (its
/// `read_to`, `write_from` and `fill` copy with volatile accesses):
///
/// ```compile_fail
/// # use sg_core::{MappedBytes, Read};
/// # use sg_guest::{GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// // SAFETY: eight bytes of guest frame 0, which the memory holds.
/// let mapped = unsafe { MappedBytes::<_, Read>::new(&guest, 0, 0, 8) };
/// // Would be `&[u8]` of guest memory: does not compile.
/// let _ = mapped.bytes();
/// ```
///
/// ```compile_fail
/// # use sg_core::{MappedBytes, Write};
/// # use sg_guest::{GuestPages, HeapGuestMemory};
/// # let memory = HeapGuestMemory::new(&[(0, 0x4000)]).unwrap();
/// # let guest = GuestPages::new(&memory);
/// // SAFETY: eight bytes of guest frame 0, which the memory holds.
/// let mut mapped = unsafe { MappedBytes::<_, Write>::new(&guest, 0, 0, 8) };
/// // Would be `&mut [u8]` of guest memory: does not compile.
/// let _ = mapped.bytes_mut();
/// ```
#[doc(alias = "DescriptorChain")]
pub struct ChainTable<'a, M: GuestRegions> {
    guest: &'a GuestPages<M>,
    /// Entries `..readable` describe the readable part, end-marked at its
    /// last; `readable..readable + writable` the writable part, likewise.
    entries: &'a mut [SgEntry<u64>],
    readable: usize,
    writable: usize,
    readable_len: u64,
    writable_len: u64,
}

impl<'a, M: GuestRegions> ChainTable<'a, M> {
    /// Checks the chain `descriptors` (plain `(addr, len, flags)` tuples
    /// or [`Descriptor`]s, in chain order) and describes it in `entries`.
    ///
    /// The chain ends at the first descriptor without
    /// [`VIRTQ_DESC_F_NEXT`]; the iterator is not asked for more.
    ///
    /// # Errors
    ///
    /// Virtio's rules, each its own [`GuestError`]:
    /// [`ReadableAfterWritable`](GuestError::ReadableAfterWritable),
    /// [`ZeroLength`](GuestError::ZeroLength),
    /// [`LengthOverflow`](GuestError::LengthOverflow) (a descriptor past the
    /// last address, or a total past `u32::MAX`),
    /// [`ChainTooLong`](GuestError::ChainTooLong) (more than `queue_size`),
    /// [`Indirect`](GuestError::Indirect),
    /// [`Unterminated`](GuestError::Unterminated),
    /// [`Empty`](GuestError::Empty); and
    /// [`Hole`](GuestError::Hole) for bytes outside every region,
    /// [`SharedPage`](GuestError::SharedPage) for bytes in a page that
    /// starts in another region, and
    /// [`TooManyEntries`](GuestError::TooManyEntries) when `entries` is too
    /// small.
    pub fn build<I>(
        guest: &'a GuestPages<M>,
        entries: &'a mut [SgEntry<u64>],
        queue_size: u16,
        descriptors: I,
    ) -> Result<Self, GuestError>
    where
        I: IntoIterator,
        I::Item: Into<Descriptor>,
    {
        let capacity = entries.len();
        sg_core::init_table(entries).map_err(|_| GuestError::TooManyEntries { capacity })?;
        let mut used = 0usize;
        let mut first_writable = None;
        let mut lengths = [0u64; 2];
        let mut total = 0u32;
        let mut more = true;
        let mut index = 0usize;
        let mut descriptors = descriptors.into_iter();
        while more {
            let Some(descriptor) = descriptors.next() else {
                return Err(if index == 0 {
                    GuestError::Empty
                } else {
                    GuestError::Unterminated
                });
            };
            let descriptor: Descriptor = descriptor.into();
            if index >= usize::from(queue_size) {
                return Err(GuestError::ChainTooLong { queue_size });
            }
            if descriptor.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                return Err(GuestError::Indirect { index });
            }
            if descriptor.len == 0 {
                return Err(GuestError::ZeroLength { index });
            }
            let writes = descriptor.is_write_only();
            if writes {
                first_writable.get_or_insert(used);
            } else if first_writable.is_some() {
                return Err(GuestError::ReadableAfterWritable { index });
            }
            total = total
                .checked_add(descriptor.len)
                .ok_or(GuestError::LengthOverflow { index })?;
            descriptor
                .addr
                .checked_add(u64::from(descriptor.len))
                .ok_or(GuestError::LengthOverflow { index })?;
            used = describe(guest, entries, used, index, descriptor)?;
            lengths[usize::from(writes)] += u64::from(descriptor.len);
            more = descriptor.has_next();
            index += 1;
        }
        let readable = first_writable.unwrap_or(used);
        if readable > 0 {
            entries[readable - 1].mark_end();
        }
        entries[used - 1].mark_end();
        Ok(ChainTable {
            guest,
            entries,
            readable,
            writable: used - readable,
            readable_len: lengths[0],
            writable_len: lengths[1],
        })
    }

    /// Bytes the device may read.
    pub fn readable_len(&self) -> u64 {
        self.readable_len
    }

    /// Bytes the device may write.
    pub fn writable_len(&self) -> u64 {
        self.writable_len
    }

    /// Entries used by the readable and the writable part.
    pub fn entry_counts(&self) -> (usize, usize) {
        (self.readable, self.writable)
    }

    /// The readable part as a list, `None` when it is empty.
    pub fn readable(&self) -> Option<SgList<'_, GuestPages<M>>> {
        (self.readable > 0).then(|| {
            // SAFETY: `build` made these entries' claims: bytes of guest
            // regions the provider reaches while it is borrowed; a shared
            // provider's lists need not be exclusive (`PageProvider::SHARED`).
            unsafe { SgList::new(&self.entries[..self.readable], self.guest) }
        })
    }

    /// The writable part as a list, `None` when it is empty.
    pub fn writable(&mut self) -> Option<SgListMut<'_, GuestPages<M>>> {
        let range = self.readable..self.readable + self.writable;
        (self.writable > 0).then(|| {
            // SAFETY: as in `readable`; the provider is shared, so the view
            // need not be the only way to the bytes.
            unsafe { SgListMut::new(&mut self.entries[range], self.guest) }
        })
    }

    /// The writable part as a shared list, `None` when it is empty.
    fn writable_list(&self) -> Option<SgList<'_, GuestPages<M>>> {
        (self.writable > 0).then(|| {
            // SAFETY: as in `readable`.
            unsafe {
                SgList::new(
                    &self.entries[self.readable..self.readable + self.writable],
                    self.guest,
                )
            }
        })
    }

    /// A reader of the readable part.
    pub fn reader(&self) -> Reader<'_, M> {
        Reader {
            list: self.readable(),
            start: 0,
            position: 0,
            end: self.readable_len,
        }
    }

    /// A writer of the writable part.
    pub fn writer(&mut self) -> Writer<'_, M> {
        self.reader_writer().1
    }

    /// A reader of the readable part and a writer of the writable part,
    /// as a device model uses them.
    pub fn reader_writer(&mut self) -> (Reader<'_, M>, Writer<'_, M>) {
        let this = &*self;
        let writer = Writer {
            list: this.writable_list(),
            start: 0,
            position: 0,
            end: this.writable_len,
        };
        (this.reader(), writer)
    }
}

impl<M: GuestRegions> fmt::Debug for ChainTable<'_, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainTable")
            .field("readable", &self.readable_len)
            .field("writable", &self.writable_len)
            .field("entries", &(self.readable, self.writable))
            .finish()
    }
}

/// Describes `descriptor` (number `index` of its chain) in `entries` from
/// slot `used` on, one entry per region it touches; returns the slots used
/// after it.
fn describe<M: GuestRegions>(
    guest: &GuestPages<M>,
    entries: &mut [SgEntry<u64>],
    mut used: usize,
    index: usize,
    descriptor: Descriptor,
) -> Result<usize, GuestError> {
    let page_size = GUEST_PAGE_SIZE as u64;
    let mut address = descriptor.addr;
    let mut left = u64::from(descriptor.len);
    while left > 0 {
        let region = guest
            .memory()
            .region(address)
            .ok_or(GuestError::Hole { address })?;
        let page_start = address - address % page_size;
        if !region.contains(page_start) {
            return Err(GuestError::SharedPage { index, address });
        }
        let count = left.min(region.guest_start + region.len - address);
        let slot = entries
            .get_mut(used)
            .ok_or(GuestError::TooManyEntries { capacity: used })?;
        // SAFETY: the `count` bytes at `address` lie in `region`, valid
        // while the provider is borrowed (`GuestRegions`), and so does the
        // first byte of their page, which `map` reaches; `count` fits a
        // `u32` (at most the descriptor's length) and the offset a page.
        // The provider is shared, so no exclusivity is claimed.
        unsafe {
            slot.set_page(
                address / page_size,
                (address % page_size) as u32,
                count as u32,
            )
        };
        used += 1;
        address += count;
        left -= count;
    }
    Ok(used)
}

/// Plain old data: a type whose every byte pattern is a valid value and
/// which has no padding, so that it is read from and written to guest
/// memory as bytes (a virtio request header, a status byte).
///
/// # Safety
///
/// Every sequence of `size_of::<Self>()` initialised bytes is a valid
/// value, and the type has no padding bytes (a `#[repr(C)]` struct of
/// `Pod` fields laid out without gaps, an integer, an array of `Pod`).
pub unsafe trait Pod: Copy + 'static {}

macro_rules! pod {
    ($($t:ty),*) => {$(
        // SAFETY: an integer: no padding, every bit pattern valid.
        unsafe impl Pod for $t {}
    )*};
}
pod!(
    u8, u16, u32, u64, u128, usize, i8, i16, i32, i64, i128, isize
);
// SAFETY: an array of `Pod` has no padding between its elements.
unsafe impl<T: Pod, const N: usize> Pod for [T; N] {}

macro_rules! cursor {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, " part of a [`ChainTable`] from a position on, as virtio-queue's `", stringify!($name), "`.")]
        pub struct $name<'a, M: GuestRegions> {
            /// The part's list; `None` when the part is empty.
            pub(crate) list: Option<SgList<'a, GuestPages<M>>>,
            /// Where this cursor's bytes start in the part.
            pub(crate) start: u64,
            /// Where the next byte is, `start..=end`.
            pub(crate) position: u64,
            /// Where this cursor's bytes end.
            pub(crate) end: u64,
        }

        impl<'a, M: GuestRegions> $name<'a, M> {
            /// Bytes left.
            pub fn available_bytes(&self) -> usize {
                (self.end - self.position) as usize
            }

            /// Bytes done.
            pub fn bytes_done(&self) -> usize {
                (self.position - self.start) as usize
            }

            /// Splits off the bytes from `offset` (counted from the
            /// position) on into a new cursor; this one keeps those before.
            ///
            /// # Errors
            ///
            /// [`GuestError::ShortChain`] when fewer than `offset` bytes
            /// are left.
            pub fn split_at(&mut self, offset: usize) -> Result<Self, GuestError> {
                let available = self.available_bytes();
                if offset > available {
                    return Err(GuestError::ShortChain {
                        needed: offset,
                        available,
                    });
                }
                let middle = self.position + offset as u64;
                let end = core::mem::replace(&mut self.end, middle);
                Ok($name {
                    list: self.list,
                    start: middle,
                    position: middle,
                    end,
                })
            }
        }

        impl<M: GuestRegions> fmt::Debug for $name<'_, M> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("done", &self.bytes_done())
                    .field("available", &self.available_bytes())
                    .finish()
            }
        }
    };
}

cursor!(Reader, "reader of the device-readable");
cursor!(Writer, "writer of the device-writable");

impl<M: GuestRegions> Reader<'_, M> {
    /// Bytes read.
    pub fn bytes_read(&self) -> usize {
        self.bytes_done()
    }

    /// Reads a plain-old-data value (a request header).
    ///
    /// # Errors
    ///
    /// [`GuestError::ShortChain`] when fewer bytes are left (nothing is
    /// read then).
    pub fn read_obj<T: Pod>(&mut self) -> Result<T, GuestError> {
        let needed = size_of::<T>();
        let available = self.available_bytes();
        if needed > available {
            return Err(GuestError::ShortChain { needed, available });
        }
        let mut value = MaybeUninit::<T>::zeroed();
        // SAFETY: the zeroed bytes of `value` are initialised, and a view
        // of them as bytes lives only in this statement.
        let bytes =
            unsafe { core::slice::from_raw_parts_mut(value.as_mut_ptr().cast::<u8>(), needed) };
        let read = self.read_into(bytes);
        if read < needed {
            return Err(GuestError::ShortChain {
                needed,
                available: read,
            });
        }
        // SAFETY: every byte pattern is a valid `T` (`Pod`).
        Ok(unsafe { value.assume_init() })
    }

    /// Copies up to `buffer.len()` bytes from the position on; returns the
    /// count (volatile reads of guest memory).
    fn read_into(&mut self, buffer: &mut [u8]) -> usize {
        let Some(list) = self.list else {
            return 0;
        };
        let count = buffer.len().min(self.available_bytes());
        let read = sg_copy::copy_to_slice(list, self.position, &mut buffer[..count]);
        self.position += read as u64;
        read
    }
}

impl<M: GuestRegions> std::io::Read for Reader<'_, M> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        Ok(self.read_into(buffer))
    }
}

impl<M: GuestRegions> Writer<'_, M> {
    /// Bytes written.
    pub fn bytes_written(&self) -> usize {
        self.bytes_done()
    }

    /// Writes a plain-old-data value (a status byte, a reply header).
    ///
    /// # Errors
    ///
    /// [`GuestError::ShortChain`] when fewer bytes are left (nothing is
    /// written then).
    pub fn write_obj<T: Pod>(&mut self, value: T) -> Result<(), GuestError> {
        let needed = size_of::<T>();
        let available = self.available_bytes();
        if needed > available {
            return Err(GuestError::ShortChain { needed, available });
        }
        // SAFETY: `T` has no padding (`Pod`), so its bytes are initialised;
        // `value` lives until the end of the function.
        let bytes = unsafe { core::slice::from_raw_parts((&raw const value).cast::<u8>(), needed) };
        let written = self.write_from(bytes);
        if written < needed {
            return Err(GuestError::ShortChain {
                needed,
                available: written,
            });
        }
        Ok(())
    }

    /// Copies up to `buffer.len()` bytes to the position on; returns the
    /// count (volatile writes of guest memory).
    fn write_from(&mut self, buffer: &[u8]) -> usize {
        let Some(list) = self.list else {
            return 0;
        };
        let count = buffer.len().min(self.available_bytes());
        // SAFETY: the list's provider is shared (guest memory): its lists
        // need not be exclusive (`PageProvider::SHARED`), since sg-copy
        // reaches their bytes with volatile copies only.
        let list = unsafe { SgListMut::from_list(list) };
        let written = sg_copy::copy_from_slice(list, self.position, &buffer[..count]);
        self.position += written as u64;
        written
    }
}

impl<M: GuestRegions> std::io::Write for Writer<'_, M> {
    fn write(&mut self, buffer: &[u8]) -> std::io::Result<usize> {
        Ok(self.write_from(buffer))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
