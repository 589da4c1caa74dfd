//! Writing the data entries of a chain, never its links.

use core::cell::Cell;
use core::fmt;
use core::iter::FusedIterator;
use core::marker::PhantomData;
use core::ops::Deref;
use core::ptr::NonNull;

use sg_core::{ChunkAllocator, SgEntry};

use super::{Chain, link_target};

/// Iterator over the data entries of a table for writing them: see
/// [`SgTable::entries_mut`](crate::SgTable::entries_mut).
///
/// It never yields a chain link, so the chain cannot be broken through it.
/// It is neither `Send` nor `Sync`: the entries it yields share the table's
/// byte count with it.
pub struct EntriesMut<'a, Pg: Copy> {
    /// The current array.
    array: NonNull<SgEntry<Pg>>,
    /// Its slots.
    slots: usize,
    /// Its data entries: all slots but the link, or the tail's used ones.
    data_slots: usize,
    /// The next slot to yield in it.
    index: usize,
    arrays_left: usize,
    entries_left: usize,
    byte_len: &'a Cell<u64>,
    /// The sum of the tail's lengths (the chain's `tail_bytes`).
    tail_bytes: &'a Cell<u64>,
    _entries: PhantomData<&'a mut SgEntry<Pg>>,
}

impl<'a, Pg: Copy> Iterator for EntriesMut<'a, Pg> {
    type Item = EntryMut<'a, Pg>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.entries_left == 0 {
            return None;
        }
        if self.index == self.data_slots {
            // SAFETY: a non-tail array ends with an initialised link slot
            // (the chain's invariant); no `&mut` handed out covers it.
            let target = unsafe { link_target(self.array.add(self.slots - 1)) }?;
            self.array = target.cast();
            self.slots = target.len();
            self.index = 0;
            self.arrays_left -= 1;
            self.data_slots = if self.arrays_left == 1 {
                self.entries_left
            } else {
                self.slots - 1
            };
        }
        // SAFETY: `index < data_slots`: the slot is an initialised data
        // entry of an array the chain owns and this iterator borrows
        // exclusively for `'a`; each slot is handed out once.
        let entry = unsafe { self.array.add(self.index).as_mut() };
        self.index += 1;
        self.entries_left -= 1;
        // A non-tail array's last slot is its link, which carries the
        // array's byte count; the tail has no link.
        let link = (self.arrays_left > 1)
            // SAFETY: the array has `slots` slots.
            .then(|| unsafe { self.array.add(self.slots - 1) });
        Some(EntryMut {
            entry,
            byte_len: self.byte_len,
            link,
            tail_bytes: self.tail_bytes,
        })
    }

    #[inline]
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.entries_left, Some(self.entries_left))
    }
}

impl<Pg: Copy> ExactSizeIterator for EntriesMut<'_, Pg> {}

impl<Pg: Copy> FusedIterator for EntriesMut<'_, Pg> {}

impl<Pg: Copy> fmt::Debug for EntriesMut<'_, Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EntriesMut")
            .field("entries_left", &self.entries_left)
            .finish_non_exhaustive()
    }
}

/// One data entry of a table, for writing: see
/// [`SgTable::entries_mut`](crate::SgTable::entries_mut).
///
/// It reads like an [`SgEntry`] (through `Deref`) and can change the page,
/// length, offset and DMA fields, keeping the table's byte count right. It
/// cannot turn the entry into a link or move the end mark, so the table's
/// chain and its end stay as built.
pub struct EntryMut<'a, Pg: Copy> {
    entry: &'a mut SgEntry<Pg>,
    byte_len: &'a Cell<u64>,
    /// The link that ends the entry's array, when it is not the tail: its
    /// array byte count follows the entry's length. Never handed out; only
    /// the entries of its array reach it, one call at a time.
    link: Option<NonNull<SgEntry<Pg>>>,
    /// The sum of the tail's lengths, which follows the entry's length
    /// when the entry is the tail's (no `link`).
    tail_bytes: &'a Cell<u64>,
}

impl<Pg: Copy> EntryMut<'_, Pg> {
    /// Makes the entry describe `length` bytes at `offset` from the start
    /// of `page` (the kernel's `sg_set_page`); the end mark stays as it is.
    ///
    /// # Safety
    ///
    /// The contract of [`SgEntry::set_page`]: the bytes are initialised
    /// memory of valid pages for as long as the table is used, and no
    /// other list reaches them while one writes.
    #[doc(alias = "sg_set_page")]
    #[inline]
    pub unsafe fn set_page(&mut self, page: Pg, offset: u32, length: u32) {
        let old = u64::from(self.entry.len());
        // SAFETY: the caller's promise is `SgEntry::set_page`'s.
        unsafe { self.entry.set_page(page, offset, length) };
        // `old` is part of the total, so this cannot underflow.
        self.byte_len
            .set(self.byte_len.get() - old + u64::from(length));
        let Some(link) = self.link else {
            // A tail entry: `old` is part of the tail's sum.
            self.tail_bytes
                .set(self.tail_bytes.get() - old + u64::from(length));
            return;
        };
        // SAFETY: the link slot of the entry's array, initialised and owned
        // by the table this entry borrows; no reference to it lives
        // (`EntriesMut` never hands it out and reads it only inside `next`,
        // and entries are neither `Send` nor `Sync`).
        let link = unsafe { &mut *link.as_ptr() };
        if let Some(bytes) = link.array_bytes() {
            // `old` is part of the count, which counts this entry.
            let bytes = bytes - old + u64::from(length);
            // SAFETY: the count of the data entries before the link, with
            // this entry's new length: the chain made it right
            // (`write_link`) and every length change comes here.
            unsafe { link.set_array_bytes(bytes) };
        }
    }

    /// Stores the bus address and length a DMA mapper gave the entry.
    #[inline]
    pub fn set_dma(&mut self, address: u64, length: u32) {
        self.entry.set_dma(address, length);
    }
}

impl<Pg: Copy> Deref for EntryMut<'_, Pg> {
    type Target = SgEntry<Pg>;

    #[inline]
    fn deref(&self) -> &SgEntry<Pg> {
        self.entry
    }
}

impl<Pg: Copy + fmt::Debug> fmt::Debug for EntryMut<'_, Pg> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.entry, f)
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Chain<Pg, C> {
    /// The data entries for writing, never the links.
    pub(crate) fn entries_mut(&mut self) -> EntriesMut<'_, Pg> {
        EntriesMut {
            array: self.head,
            slots: self.head_slots,
            data_slots: if self.arrays <= 1 {
                self.entries
            } else {
                self.head_slots - 1
            },
            index: 0,
            arrays_left: self.arrays,
            entries_left: self.entries,
            byte_len: Cell::from_mut(&mut self.byte_len),
            tail_bytes: Cell::from_mut(&mut self.tail_bytes),
            _entries: PhantomData,
        }
    }
}

/// The data entries of a chain walked twice at once, for mapping it for
/// DMA: a reader that goes ahead, and a writer of DMA fields that only
/// writes entries the reader has passed.
///
/// Mapping reads each entry's run and stores the merged segments in the
/// first entries (segment `j` in entry `j`), so the writer lags behind the
/// reader. Both walks belong to this type alone, which never lets two
/// references to one entry live at once: the reader's entry is lent for a
/// borrow of `self` only, and the writer makes its reference to an entry
/// after the reader is done with it.
pub(crate) struct DmaFieldsMut<'a, Pg: Copy> {
    reader: EntriesMut<'a, Pg>,
    writer: EntriesMut<'a, Pg>,
    /// Entries the reader has yielded.
    read: usize,
    /// Entries the writer has written.
    written: usize,
}

impl<Pg: Copy> DmaFieldsMut<'_, Pg> {
    /// The next entry, for reading; `None` after the last one.
    #[inline]
    pub(crate) fn read(&mut self) -> Option<&SgEntry<Pg>> {
        let entry = self.reader.next()?;
        self.read += 1;
        Some(entry.entry)
    }

    /// Stores a segment in the DMA fields of the next entry to write.
    /// Returns `false`, writing nothing, when the reader has not passed
    /// that entry yet.
    #[inline]
    pub(crate) fn write(&mut self, address: u64, length: u32) -> bool {
        if self.written >= self.read {
            return false;
        }
        match self.writer.next() {
            Some(mut entry) => {
                entry.set_dma(address, length);
                self.written += 1;
                true
            }
            None => false,
        }
    }

    /// Clears the DMA fields of every entry the writer has not written.
    pub(crate) fn clear_rest(self) {
        // The reader is done: its walk ends here.
        let DmaFieldsMut { writer, .. } = self;
        for mut entry in writer {
            entry.set_dma(0, 0);
        }
    }
}

impl<Pg: Copy, C: ChunkAllocator<Pg>> Chain<Pg, C> {
    /// The data entries for mapping: see [`DmaFieldsMut`].
    pub(crate) fn dma_fields_mut(&mut self) -> DmaFieldsMut<'_, Pg> {
        let data_slots = if self.arrays <= 1 {
            self.entries
        } else {
            self.head_slots - 1
        };
        let byte_len = Cell::from_mut(&mut self.byte_len);
        let tail_bytes = Cell::from_mut(&mut self.tail_bytes);
        // Two walks over the same entries, each handing out every entry
        // once, so every entry is reached twice: `DmaFieldsMut` keeps this
        // sound by never holding the reader's reference to an entry when
        // the writer makes one, and by never letting either out.
        let walk = || EntriesMut {
            array: self.head,
            slots: self.head_slots,
            data_slots,
            index: 0,
            arrays_left: self.arrays,
            entries_left: self.entries,
            byte_len,
            tail_bytes,
            _entries: PhantomData,
        };
        DmaFieldsMut {
            reader: walk(),
            writer: walk(),
            read: 0,
            written: 0,
        }
    }
}
