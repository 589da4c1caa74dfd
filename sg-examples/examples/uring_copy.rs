//! A file copied through one table with io_uring: the table owns 64 pages
//! (256 KiB, one entry per page, scattered in memory); each round reads
//! the next 256 KiB of the source into it with one `READV` and writes
//! what was read to the destination with one `WRITEV`, at the same
//! offset, until the source ends. Then the same copy again through the
//! table's pages registered as fixed buffers (`READ_FIXED`/`WRITE_FIXED`).
//! Where io_uring is not available, says so and copies with
//! `preadv`/`pwritev` instead.
//!
//! Run with `cargo run --release -p sg-examples --example uring_copy`.

#[cfg(target_os = "linux")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::os::fd::AsFd;

    use sg_alloc::PageList;
    use sg_copy::{Ring, RingError, read_list_at, write_list_at};
    use sg_core::VirtPages;

    let dir = std::env::temp_dir();
    let source_path = dir.join(format!("sg-uring-copy-source-{}", std::process::id()));
    let target_path = dir.join(format!("sg-uring-copy-target-{}", std::process::id()));
    // A source of 1 MiB and a bit, so that the last round is short.
    let data: Vec<u8> = (0..(1 << 20) + 12_345u32)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&source_path, &data)?;
    let source = std::fs::File::open(&source_path)?;
    let target = std::fs::File::create(&target_path)?;

    let mut table = PageList::new(VirtPages::new(), 256 * 1024)?;
    println!(
        "table: {} entries, {} bytes",
        table.nents(),
        table.byte_len()
    );

    let mut ring = match Ring::new(64) {
        Ok(ring) => Some(ring),
        Err(RingError::Unavailable(error)) => {
            println!("io_uring is not available here ({error}): copying with preadv/pwritev");
            None
        }
        Err(error) => return Err(error.into()),
    };

    let mut offset = 0u64;
    let mut rounds = 0;
    loop {
        // One scope per step: a scope borrows the table for its whole
        // life, exclusively to read into it, shared to write from it.
        let read = match &mut ring {
            Some(ring) => ring.scope(|scope| {
                scope
                    .read_at(source.as_fd(), table.as_list_mut(), offset)?
                    .wait()
            })?,
            None => read_list_at(&source, table.as_list_mut(), offset)?,
        };
        if read == 0 {
            break;
        }
        let part = table.as_list().slice(0, read)?;
        let written = match &mut ring {
            Some(ring) => {
                ring.scope(|scope| scope.write_at(target.as_fd(), part, offset)?.wait())?
            }
            None => write_list_at(&target, part, offset)?,
        };
        assert_eq!(written, read);
        offset += read;
        rounds += 1;
    }
    assert_eq!(std::fs::read(&target_path)?, data);
    println!("copied {offset} bytes in {rounds} rounds of READV + WRITEV: identical");

    if let Some(ring) = &mut ring {
        // The same copy through fixed buffers, registered once.
        let fixed_path = dir.join(format!("sg-uring-copy-fixed-{}", std::process::id()));
        let fixed_target = std::fs::File::create(&fixed_path)?;
        let copied = ring.scope(|scope| -> Result<u64, Box<dyn std::error::Error>> {
            let buffers = scope.register(table.as_list_mut())?;
            let mut offset = 0;
            loop {
                let read = scope
                    .read_fixed_at(source.as_fd(), &buffers, offset)?
                    .wait()?;
                if read == 0 {
                    return Ok(offset);
                }
                // Fixed writes send every buffer: the file is cut back to
                // the bytes read after the last round.
                scope
                    .write_fixed_at(fixed_target.as_fd(), &buffers, offset)?
                    .wait()?;
                offset += read;
            }
        })?;
        fixed_target.set_len(copied)?;
        assert_eq!(std::fs::read(&fixed_path)?, data);
        println!(
            "copied {copied} bytes again through {} fixed buffers: identical",
            table.nents()
        );
        std::fs::remove_file(&fixed_path)?;
    }
    std::fs::remove_file(&source_path)?;
    std::fs::remove_file(&target_path)?;
    Ok(())
}

#[cfg(not(target_os = "linux"))]
fn main() {
    println!("io_uring is a Linux interface: nothing to show here");
}
