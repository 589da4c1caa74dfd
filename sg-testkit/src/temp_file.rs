//! `TempFile`: a file of its own in the temporary directory, for tests
//! that do real I/O.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A new, empty, readable and writable file in the temporary directory
/// with a name no other test or process uses; removed on drop.
///
/// # Examples
///
/// ```
/// # #[cfg(miri)] fn main() {} // Miri cannot create files
/// # #[cfg(not(miri))]
/// # fn main() {
/// use std::io::Write;
/// use sg_testkit::TempFile;
///
/// let mut temp = TempFile::new("example");
/// temp.file.write_all(b"bytes").unwrap();
/// assert_eq!(temp.bytes(), b"bytes");
/// let path = temp.path().to_owned();
/// drop(temp);
/// assert!(!path.exists());
/// # }
/// ```
#[derive(Debug)]
pub struct TempFile {
    path: PathBuf,
    /// The open file.
    pub file: File,
}

impl TempFile {
    /// Creates the file; `name` goes into its name, to tell tests apart.
    ///
    /// # Panics
    ///
    /// When the file cannot be created (a test setup failure).
    pub fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "sg-test-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .expect("a new temporary file");
        TempFile { path, file }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's whole contents, read anew.
    ///
    /// # Panics
    ///
    /// When the file cannot be read.
    pub fn bytes(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("the temporary file reads")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
