//! Panic safety of the `std::io` adapters and io slices: a provider that
//! panics at any one of its calls leaves no CPU mapping live after the
//! panic, and the list's bytes each hold their old value or the new one.

mod panic_support;

use std::io::{Read, Seek, SeekFrom, Write};

use sg_copy::{ListCursor, ListReader, with_io_slices, with_io_slices_mut};

use panic_support::{ENTRIES, LEN, Mock, build, check_reader, check_writer, mocks, pattern};

#[test]
fn io_slices_leave_no_mapping_when_the_provider_panics() {
    for mock in mocks() {
        let built = build(&mock, &ENTRIES, 0);
        check_reader(&mock, &built, &pattern(0), |list| {
            with_io_slices(list, |slices| {
                slices.iter().flat_map(|slice| slice.to_vec()).collect()
            })
        });
    }
}

#[test]
fn io_slices_mut_leave_no_mapping_when_the_provider_panics() {
    let source = pattern(100);
    for mock in mocks() {
        let mut built = build(&mock, &ENTRIES, 0);
        check_writer(&mock, &mut built, &source, |_, list| {
            let mut from: &[u8] = &source;
            let read = with_io_slices_mut(list, |slices| from.read_vectored(slices))
                .expect("the entries do not overlap")
                .expect("reading a slice does not fail");
            assert_eq!(read, LEN);
        });
    }
}

#[test]
fn list_reader_leaves_no_mapping_when_the_provider_panics() {
    // Through the mapping iterators on either mock: the paged one maps
    // (and flushes) more often.
    {
        let mock = Mock::new();
        let built = build(&mock, &ENTRIES, 0);
        let mut expected = pattern(0);
        expected.extend_from_slice(&pattern(0)[30..50]);
        check_reader(&mock, &built, &expected, |list| {
            let mut reader = ListReader::new(list);
            let mut out = Vec::new();
            reader
                .read_to_end(&mut out)
                .expect("reading a list does not fail");
            reader
                .seek(SeekFrom::Start(30))
                .expect("seek within the list");
            let mut more = [0; 20];
            reader.read_exact(&mut more).expect("20 bytes are left");
            out.extend_from_slice(&more);
            // Dropped before `out` is returned, so that a panicking unmap
            // drops `out` too (rust-lang/rust#47949).
            drop(reader);
            out
        });
    }
}

#[test]
fn list_cursor_leaves_no_mapping_when_the_provider_panics() {
    let source = pattern(100);
    // Through the mapping iterators on either mock: the paged one maps
    // (and flushes) more often.
    {
        let mock = Mock::new();
        let mut built = build(&mock, &ENTRIES, 0);
        check_writer(&mock, &mut built, &source, |_, list| {
            let mut cursor = ListCursor::new(list);
            cursor
                .write_all(&source[..45])
                .expect("the list holds 45 bytes");
            cursor
                .seek(SeekFrom::Current(-10))
                .expect("seek within the list");
            let mut back = [0; 10];
            cursor.read_exact(&mut back).expect("10 bytes are left");
            assert_eq!(back[..], source[35..45]);
            cursor.write_all(&source[45..]).expect("the rest fits");
            cursor.flush().expect("a flush does not fail");
        });
    }
}
