//! Reading and writing a mock's bytes from the test's side, and the fill
//! pattern.

use sg_core::{PageProvider, SgList};

use super::{MockPage, MockPages};

impl<const PAGE_SIZE: usize> MockPages<PAGE_SIZE> {
    /// Reads `len` bytes starting `offset` bytes after the start of `page`
    /// (crossing into the following frames of its run), straight from the
    /// pages' memory.
    ///
    /// While a [`Mapping::Copied`](super::Mapping::Copied) mapping is live,
    /// writes through it are not visible here until it is released.
    ///
    /// # Panics
    ///
    /// When a page in the range does not exist, and, unless mappings are
    /// copies, when a live mapping may reach one (a list's slice could be
    /// writing it: reading beside it would alias).
    pub fn read(&self, page: MockPage, offset: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        self.access(page, offset, len, |memory, range| {
            out[range.clone()].copy_from_slice(memory);
        });
        out
    }

    /// Writes `bytes` starting `offset` bytes after the start of `page`,
    /// straight into the pages' memory.
    ///
    /// # Panics
    ///
    /// When a page in the range does not exist, and, unless mappings are
    /// copies, when a live mapping may reach one (a list's slice could be
    /// reading or writing it).
    pub fn write(&self, page: MockPage, offset: u64, bytes: &[u8]) {
        self.access_mut(page, offset, bytes.len(), |memory, range| {
            memory.copy_from_slice(&bytes[range]);
        });
    }

    fn access(
        &self,
        page: MockPage,
        offset: u64,
        len: usize,
        mut each: impl FnMut(&[u8], std::ops::Range<usize>),
    ) {
        self.access_mut(page, offset, len, |memory, range| each(memory, range));
    }

    fn access_mut(
        &self,
        page: MockPage,
        offset: u64,
        len: usize,
        mut each: impl FnMut(&mut [u8], std::ops::Range<usize>),
    ) {
        let state = self.lock();
        let mut done = 0;
        while done < len {
            let (pfn, in_page) = Self::locate(page, offset + done as u64);
            let piece = (PAGE_SIZE - in_page).min(len - done);
            let memory = Self::page_memory(&state, pfn);
            if let Some(mapped) = self.mapped_in_region(&state, pfn) {
                drop(state);
                panic!(
                    "MockPages: page {pfn} is reachable through a live mapping of page {mapped}; \
                     read or write it after the mapping is released"
                );
            }
            // SAFETY: `in_page + piece <= PAGE_SIZE` bytes of a live page.
            // No mapping hands out this memory now (checked just above: a
            // mapping of the page's region could reach it, and a copied
            // mapping is other memory), and none can be made while the
            // mutex is held, so no reference into these bytes is live.
            let bytes =
                unsafe { std::slice::from_raw_parts_mut(memory.add(in_page).as_ptr(), piece) };
            each(bytes, done..done + piece);
            done += piece;
        }
    }

    /// Fills every existing page with bytes derived from `seed` and the
    /// frame number ([`pattern_page`]), so that neighbouring bytes differ and
    /// no page repeats another at a small shift (below the page size, at
    /// least 256 bytes and at most 4 KiB).
    ///
    /// Each page is a window into one pseudo-random table, at a phase that
    /// depends on `seed` and the frame: the table is computed once per call
    /// and pages are copied from it, which keeps this cheap under Miri.
    pub fn fill(&self, seed: u64) {
        let table = pattern_table(seed, PAGE_SIZE);
        let pfns: Vec<(u64, u64)> = self
            .lock()
            .regions
            .iter()
            .map(|(&first, region)| (first, region.frames))
            .collect();
        for (first, frames) in pfns {
            for pfn in first..first + frames {
                let phase = pattern_phase(seed, pfn, PAGE_SIZE);
                self.write(MockPage(pfn), 0, &table[phase..phase + PAGE_SIZE]);
            }
        }
    }

    /// The bytes a list describes, in order, read straight from the pages.
    pub fn list_bytes<P>(&self, list: SgList<'_, P>) -> Vec<u8>
    where
        P: PageProvider<Page = MockPage>,
    {
        let mut out = Vec::new();
        for segment in list.segments() {
            out.extend(self.read(segment.page, segment.offset, segment.len as usize));
        }
        out
    }

    /// Writes `bytes` over the bytes a list describes, in order.
    ///
    /// # Panics
    ///
    /// When `bytes` is not exactly as long as the list.
    pub fn set_list_bytes<P>(&self, list: SgList<'_, P>, bytes: &[u8])
    where
        P: PageProvider<Page = MockPage>,
    {
        let mut done = 0;
        for segment in list.segments() {
            let len = segment.len as usize;
            self.write(segment.page, segment.offset, &bytes[done..done + len]);
            done += len;
        }
        assert_eq!(
            done,
            bytes.len(),
            "set_list_bytes: length differs from the list"
        );
    }

    /// Whether the `len` bytes starting `offset` bytes after the start of
    /// `page` (running on into the following frames) all lie on pages this
    /// mock has; always true for `len` 0.
    pub fn holds(&self, page: MockPage, offset: u64, len: u64) -> bool {
        if len == 0 {
            return true;
        }
        let page_size = PAGE_SIZE as u64;
        let (Some(first), Some(last)) = (
            page.0.checked_add(offset / page_size),
            offset
                .checked_add(len - 1)
                .and_then(|end| page.0.checked_add(end / page_size)),
        ) else {
            return false;
        };
        let state = self.lock();
        (first..=last).all(|pfn| Self::find(&state, pfn).is_some())
    }
}

/// Phases of [`MockPages::fill`]'s table for a page size: a page starts at
/// one of these, so pages are never shifted copies of each other by less.
fn pattern_phases(page_size: usize) -> usize {
    page_size.clamp(256, 4096)
}

/// Mixes a word into a well-spread one (a 64-bit finaliser).
fn mix(mut value: u64) -> u64 {
    value ^= value >> 31;
    value = value.wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^= value >> 29;
    value = value.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value ^ (value >> 32)
}

/// Where in the table the page of frame `pfn` starts.
fn pattern_phase(seed: u64, pfn: u64, page_size: usize) -> usize {
    (mix(seed ^ pfn.wrapping_mul(0x9E37_79B9_7F4A_7C15)) % pattern_phases(page_size) as u64)
        as usize
}

/// The table pages are cut from: `page_size` bytes plus the phases, each
/// different from its neighbours.
fn pattern_table(seed: u64, page_size: usize) -> Vec<u8> {
    let len = page_size + pattern_phases(page_size);
    let mut table = Vec::with_capacity(len);
    let mut state = mix(seed.wrapping_add(0x2545_F491_4F6C_DD1D));
    let mut previous = 0u8;
    while table.len() < len {
        state = mix(state.wrapping_add(0x9E37_79B9_7F4A_7C15));
        for byte in state.to_le_bytes() {
            // Never repeat the previous byte, so neighbours always differ.
            let byte = if byte == previous { byte ^ 0x5A } else { byte };
            table.push(byte);
            previous = byte;
        }
    }
    table.truncate(len);
    table
}

/// The bytes [`MockPages::fill`] with `seed` puts in the `page_size`-byte
/// page of frame `pfn`.
pub fn pattern_page(seed: u64, pfn: u64, page_size: usize) -> Vec<u8> {
    let phase = pattern_phase(seed, pfn, page_size);
    pattern_table(seed, page_size)[phase..phase + page_size].to_vec()
}
