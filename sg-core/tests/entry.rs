//! One entry on its own: emptiness, equality field by field, and what its
//! `Debug` shows.

use core::ptr::NonNull;

use sg_core::SgEntry;

/// A data entry of page 7, with `offset`, `length` and DMA fields.
fn data(offset: u32, length: u32, dma: (u64, u32)) -> SgEntry<u64> {
    let mut entry = SgEntry::new();
    // SAFETY: no list is made of this entry.
    unsafe { entry.set_page(7, offset, length) };
    entry.set_dma(dma.0, dma.1);
    entry
}

#[test]
fn an_entry_is_empty_exactly_when_it_holds_no_byte() {
    assert!(SgEntry::<u64>::new().is_empty());
    assert!(data(5, 0, (0, 0)).is_empty());
    assert!(!data(5, 1, (0, 0)).is_empty());
}

#[test]
fn entries_are_equal_exactly_when_every_field_is() {
    let base = data(8, 100, (0x1000, 64));
    assert_eq!(base, data(8, 100, (0x1000, 64)));
    assert_ne!(base, data(9, 100, (0x1000, 64)), "offset");
    assert_ne!(base, data(8, 101, (0x1000, 64)), "length");
    assert_ne!(base, data(8, 100, (0x2000, 64)), "DMA address");
    assert_ne!(base, data(8, 100, (0x1000, 65)), "DMA length");
    let mut marked = data(8, 100, (0x1000, 64));
    marked.mark_end();
    assert_ne!(base, marked, "end mark");
    let mut other_page = SgEntry::new();
    // SAFETY: no list is made of this entry.
    unsafe { other_page.set_page(8, 8, 100) };
    other_page.set_dma(0x1000, 64);
    assert_ne!(base, other_page, "page");

    let mut next: [SgEntry<u64>; 2] = Default::default();
    let target = NonNull::from(&mut next[..]);
    let mut link = SgEntry::new();
    let mut counted = SgEntry::new();
    // SAFETY: no list is made of these links.
    unsafe {
        link.set_link(target);
        counted.set_link(target);
        counted.set_array_bytes(300);
    }
    assert_ne!(link, counted, "array byte count");
    assert_ne!(link, SgEntry::new(), "a link and an empty entry");
    counted.clear_array_bytes();
    assert_eq!(link, counted);
}

#[test]
fn debug_shows_the_dma_fields_only_when_set_and_a_links_count() {
    let plain = format!("{:?}", data(8, 100, (0, 0)));
    assert!(!plain.contains("dma"), "{plain}");
    for dma in [(0x1000, 0), (0, 64), (0x1000, 64)] {
        let shown = format!("{:?}", data(8, 100, dma));
        assert!(
            shown.contains("dma_address") && shown.contains("dma_length"),
            "{shown}"
        );
    }
    let mut next: [SgEntry<u64>; 2] = Default::default();
    let mut link = SgEntry::<u64>::new();
    // SAFETY: no list is made of this link.
    unsafe { link.set_link(NonNull::from(&mut next[..])) };
    assert!(!format!("{link:?}").contains("array_bytes"));
    // SAFETY: as above.
    unsafe { link.set_array_bytes(300) };
    assert!(format!("{link:?}").contains("array_bytes: 300"), "{link:?}");
}
