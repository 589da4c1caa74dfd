//! Your own memory as pages: `PageProvider` for a region of a real file
//! mapped into memory, with frames numbered by the file's pages. The
//! provider vouches for its pages in one place: it lends some of them as a
//! `Pages` set (the proof that safe builders take), and the rest of the
//! example is safe code. It builds a table over the set (consecutive frames
//! merge into one entry), iterates it, copies a message through it, and
//! then reads the file back with `std::fs` to show that its bytes changed.
//!
//! Run with `cargo run --release -p sg-examples --example file_provider
//! [PATH]` (unix only). The file is made at PATH, or in the temporary
//! directory, and left there.

#[cfg(unix)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    mapped::main()
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example maps a file with mmap, which needs a unix target");
}

#[cfg(unix)]
mod mapped {
    use std::error::Error as StdError;
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::path::PathBuf;
    use std::ptr::{self, NonNull};

    use rustix::mm::{MapFlags, ProtFlags, mmap, munmap};
    use sg_alloc::SgTable;
    use sg_copy::{copy_from_slice, copy_to_slice};
    use sg_core::{Error, PageProvider, Pages};
    use sg_iter::{MappingIter, PageIter};

    /// Bytes in one page of the provider.
    const PAGE: usize = 4096;

    /// Pages of the file the example makes.
    const FILE_PAGES: u64 = 32;

    /// The file page where the mapped region starts: 64 KiB into the file,
    /// a multiple of every common system page size (mapping offsets must
    /// be).
    const REGION_START: u64 = 16;

    /// Pages in the mapped region.
    const REGION_PAGES: usize = 16;

    /// A page of a [`MappedRegion`]: its index in the region.
    ///
    /// Only [`MappedRegion::lend`] (and `nth`, which stays in the region)
    /// makes one, for an index inside the region, so every handle names a
    /// whole page that exists.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub(crate) struct FilePage(usize);

    /// Pages of a file mapped shared, for reading and writing: writes
    /// through a list over them change the file.
    pub(crate) struct MappedRegion {
        /// The first byte of the mapping.
        base: NonNull<u8>,
        /// Pages in the mapping.
        pages: usize,
        /// The file page the mapping starts at.
        first_file_page: u64,
    }

    impl MappedRegion {
        /// Maps `pages` pages of `file` from file page `first` on.
        ///
        /// # Safety
        ///
        /// Nothing else (another mapping, another process, a `write` to the
        /// file) changes the region's bytes or shrinks the file while the
        /// region is mapped: lists hand its bytes out as Rust slices.
        pub(crate) unsafe fn new(file: &File, first: u64, pages: usize) -> io::Result<Self> {
            let too_large = || io::Error::new(io::ErrorKind::InvalidInput, "region too large");
            let len = pages
                .checked_mul(PAGE)
                .filter(|&len| len > 0)
                .ok_or_else(too_large)?;
            let end = first.checked_add(pages as u64).ok_or_else(too_large)?;
            // Bytes of a mapping past the end of the file fault when touched,
            // so the file must hold the whole region.
            if file.metadata()?.len() < end * PAGE as u64 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file ends before the region does",
                ));
            }
            // SAFETY: a new shared mapping at an address the system chooses
            // (the null hint), so it replaces nothing; the file is open for
            // reading and writing and holds every byte of the region.
            let base = unsafe {
                mmap(
                    ptr::null_mut(),
                    len,
                    ProtFlags::READ | ProtFlags::WRITE,
                    MapFlags::SHARED,
                    file,
                    first * PAGE as u64,
                )?
            };
            let base = NonNull::new(base.cast::<u8>()).ok_or_else(io::Error::last_os_error)?;
            Ok(MappedRegion {
                base,
                pages,
                first_file_page: first,
            })
        }

        /// The region's pages at `indices`, in that order, as a set that
        /// tables can be built from, and write through.
        ///
        /// The set borrows the region exclusively: while it, or a table
        /// built from it, lives, the region lends no other set, so no two
        /// tables reach one byte; and the region outlives them all.
        ///
        /// # Errors
        ///
        /// [`Error::NotInSet`] for an index past the region's end,
        /// [`Error::RepeatedPosition`] for a page asked for twice, and [`Error::NoPages`] for no page at all.
        pub(crate) fn lend(&mut self, indices: &[usize]) -> Result<Pages<&Self>, Error> {
            if indices.is_empty() {
                return Err(Error::NoPages);
            }
            let mut lent = vec![false; self.pages];
            for (at, &index) in indices.iter().enumerate() {
                let Some(seen) = lent.get_mut(index) else {
                    return Err(Error::NotInSet {
                        end: index.saturating_add(1),
                        pages: self.pages,
                    });
                };
                if std::mem::replace(seen, true) {
                    let first = indices.iter().position(|&other| other == index);
                    return Err(Error::RepeatedPosition {
                        position: index,
                        first: first.unwrap_or(0),
                        second: at,
                    });
                }
            }
            let handles: Vec<FilePage> = indices.iter().map(|&index| FilePage(index)).collect();
            let region: &Self = self;
            // SAFETY: every handle is an index below `pages` (checked
            // above), so it names a whole page of the mapping, valid and
            // initialised until the region is dropped (see the
            // `PageProvider` impl below), and the set borrows the region, so
            // it goes first. No page appears twice (checked above). The set
            // keeps the region's exclusive borrow, so no other set of its
            // pages exists while it lives, the region itself never touches
            // the bytes, and `new`'s caller keeps everyone outside the
            // program away.
            Ok(unsafe { Pages::from_raw(region, handles) })
        }
    }

    impl Drop for MappedRegion {
        fn drop(&mut self) {
            // SAFETY: the mapping made in `new`, of this length, released
            // once; lists over the region borrow it, so none is left.
            let result = unsafe { munmap(self.base.as_ptr().cast(), self.pages * PAGE) };
            debug_assert!(result.is_ok(), "munmap failed: {result:?}");
        }
    }

    // SAFETY: handles are indices below `pages` (only `page` makes them, and
    // `nth` stays in the region), so each names a whole page of the mapping,
    // which is valid for reads and writes and initialised (the file holds
    // every byte, checked in `new`) until the region is dropped, which no
    // list outlives since lists borrow the provider; the region itself never
    // touches the bytes, and `new`'s caller keeps everyone else away. Frame
    // numbers are file page numbers: the page `k` frames after another is
    // `k` indices after it. The mapping is one contiguous range, so page
    // `i + k` is mapped `k` pages after page `i` and a run of consecutive
    // frames is one range of bytes (the provider is linear). It allocates
    // nothing: `alloc_pages` always fails.
    unsafe impl PageProvider for MappedRegion {
        type Page = FilePage;
        type Pfn = u64;
        const PAGE_SIZE: usize = PAGE;

        fn pfn(&self, page: FilePage) -> u64 {
            self.first_file_page + page.0 as u64
        }

        fn nth(&self, page: FilePage, n: usize) -> FilePage {
            // Lists only ask for pages inside their runs, which lie in the
            // region; stay inside it in any case.
            FilePage(page.0.saturating_add(n).min(self.pages - 1))
        }

        fn map(&self, page: FilePage) -> NonNull<u8> {
            // SAFETY: `page.0 < pages`, so the result lies in the mapping.
            unsafe { self.base.add(page.0 * PAGE) }
        }

        unsafe fn unmap(&self, _page: FilePage, _mapping: NonNull<u8>) {
            // The region stays mapped as a whole until it is dropped.
        }

        fn is_linear(&self) -> bool {
            true
        }

        fn alloc_pages(&self, order: u32) -> Result<FilePage, Error> {
            // The region lends the file's pages; it has none to give away.
            Err(Error::PagesUnavailable { order })
        }

        unsafe fn free_pages(&self, _page: FilePage, _order: u32) {
            unreachable!("MappedRegion never allocates pages");
        }
    }

    pub(super) fn main() -> Result<(), Box<dyn StdError>> {
        // A file of 32 pages, page k full of the letter 'a' + k % 26, where
        // the first argument says, or in the temporary directory; it is
        // left there to look at.
        let path = std::env::args_os().nth(1).map_or_else(
            || std::env::temp_dir().join("sg-file-provider.bin"),
            PathBuf::from,
        );
        let contents: Vec<u8> = (0..FILE_PAGES as usize * PAGE)
            .map(|index| b'a' + (index / PAGE % 26) as u8)
            .collect();
        std::fs::write(&path, &contents)?;
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        println!(
            "made {} ({} pages); mapping file pages {}..{}",
            path.display(),
            FILE_PAGES,
            REGION_START,
            REGION_START + REGION_PAGES as u64
        );
        // SAFETY: the file is this example's own, in a new temporary file;
        // nothing else writes it while it is mapped.
        let mut region = unsafe { MappedRegion::new(&file, REGION_START, REGION_PAGES)? };

        // A set never holds a page twice, so no two writers of a byte can
        // be made from it.
        let refused = region.lend(&[3, 4, 3]).err();
        assert_eq!(
            refused,
            Some(Error::RepeatedPosition {
                position: 3,
                first: 0,
                second: 2
            })
        );
        println!("lending region pages 3, 4, 3 is refused: {refused:?}");

        // From here on, safe code: the region lends its pages 0-2 (one run
        // of frames), 5-6 (another), and 9 as a set, which the table owns.
        let pages = region.lend(&[0, 1, 2, 5, 6, 9])?;
        let size = (pages.len() * PAGE - 100 - 50) as u64;
        let mut table = SgTable::from_pages(pages, 100, size)?;
        // The table's provider is the set, which maps through the region.
        let provider = table.provider();
        println!("\na table over region pages 0, 1, 2, 5, 6, 9 (offset 100, {size} bytes):");
        for (index, entry) in table.as_list().iter().enumerate() {
            let page = entry.page().expect("a data entry");
            let first = provider.pfn(page);
            let last = first + (u64::from(entry.offset() + entry.len()) - 1) / PAGE as u64;
            println!(
                "  entry {index}: file pages {first}..={last}, offset {:>3}, {:>5} bytes",
                entry.offset(),
                entry.len()
            );
        }

        println!("\niterating:");
        let touched: Vec<u64> = PageIter::new(table.as_list(), 0)
            .map(|page| provider.pfn(page))
            .collect();
        println!("  pages, one by one: file pages {touched:?}");
        let mut reader = MappingIter::new(table.as_list());
        while let Some(bytes) = reader.next_slice() {
            println!(
                "  a mapping of {:>5} bytes starting {:?}",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..6])
            );
        }
        drop(reader);

        // A message that starts near the end of the first entry and runs
        // into the second: the last 10 bytes of file page 18, then the
        // start of file page 21.
        let message = b"written through a scatter-gather list";
        let skip = table
            .as_list()
            .first()
            .map_or(0, |entry| u64::from(entry.len()))
            - 10;
        let written = copy_from_slice(table.as_list_mut(), skip, message);
        let mut back = vec![0u8; message.len()];
        let read = copy_to_slice(table.as_list(), skip, &mut back);
        assert_eq!(read, written, "the bytes copied in read back");
        println!(
            "\ncopied {written} bytes in at byte {skip} of the list, read back {:?}",
            String::from_utf8_lossy(&back)
        );
        drop(table); // gives the set back: the region is no longer borrowed
        drop(region); // unmapped: every write is in the file

        let after = std::fs::read(&path)?;
        let first_part = (REGION_START as usize + 3) * PAGE - 10;
        let second_part = (REGION_START as usize + 5) * PAGE;
        println!("\nthe file, read again with std::fs:");
        println!(
            "  bytes {first_part}..{}: {:?}",
            first_part + 10,
            String::from_utf8_lossy(&after[first_part..first_part + 10])
        );
        println!(
            "  bytes {second_part}..{}: {:?}",
            second_part + message.len() - 10,
            String::from_utf8_lossy(&after[second_part..second_part + message.len() - 10])
        );
        assert_eq!(&after[first_part..first_part + 10], &message[..10]);
        assert_eq!(
            &after[second_part..second_part + message.len() - 10],
            &message[10..]
        );
        let changed = after
            .iter()
            .zip(&contents)
            .filter(|(new, old)| new != old)
            .count();
        println!("  {changed} bytes differ from what was written at the start");
        assert!(changed > 0 && changed <= message.len());
        println!(
            "\nthe file stays at {} (try `xxd -s {first_part} -l 48 {}`)",
            path.display(),
            path.display()
        );
        Ok(())
    }
}
