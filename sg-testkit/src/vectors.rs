//! The kernel's published test vectors, as typed cases.

use std::fmt;

/// `vectors/from_pages.tsv`, a copy of the workspace's shared vectors kept
/// in the crate so that it works from a published package too.
pub const FROM_PAGES_TSV: &str = include_str!("../vectors/from_pages.tsv");

/// What a [`FromPagesCase`] expects.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Expected {
    /// The table has this many entries.
    Entries(usize),
    /// The build is refused (the kernel's `EINVAL`).
    Invalid,
}

/// One row of `from_pages.tsv`: build a table from pages (and, when
/// `append_pfns` is given, append more), then count its entries.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FromPagesCase {
    /// Line number in the file, for failure messages.
    pub line: usize,
    /// Frame numbers of the pages of the first call.
    pub pfns: Vec<u64>,
    /// Frame numbers of a second, appending call, if any.
    pub append_pfns: Option<Vec<u64>>,
    /// Valid bytes (for each call); the offset is 0.
    pub size: u64,
    /// Maximum segment size in bytes.
    pub max_segment: u32,
    /// The expected outcome.
    pub expected: Expected,
}

impl fmt::Display for FromPagesCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}: pfns {:?} append {:?} size {} max_segment {} expected {:?}",
            self.line, self.pfns, self.append_pfns, self.size, self.max_segment, self.expected
        )
    }
}

/// A line of the vectors that could not be read.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ParseError {
    /// Line number.
    pub line: usize,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for ParseError {}

/// Parses the from-pages vectors: tab-separated `pfns`, `append_pfns` (or
/// `-`), `size`, `max_segment`, `expected` (a count or `EINVAL`); lines
/// starting with `#` and blank lines are skipped.
///
/// # Errors
///
/// The first line that does not parse.
///
/// # Examples
///
/// ```
/// use sg_testkit::vectors::{Expected, parse_from_pages};
///
/// let cases = parse_from_pages("# comment\n0,1\t-\t8192\t4294967295\t1\n").unwrap();
/// assert_eq!(cases[0].pfns, [0, 1]);
/// assert_eq!(cases[0].expected, Expected::Entries(1));
/// ```
pub fn parse_from_pages(text: &str) -> Result<Vec<FromPagesCase>, ParseError> {
    let mut cases = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let error = |reason: String| ParseError { line, reason };
        let fields: Vec<&str> = trimmed.split('\t').collect();
        let [pfns, append, size, max_segment, expected] = fields[..] else {
            return Err(error(format!(
                "expected 5 tab-separated fields, got {}",
                fields.len()
            )));
        };
        let pfn_list = |field: &str| -> Result<Vec<u64>, ParseError> {
            field
                .split(',')
                .map(|pfn| {
                    pfn.trim()
                        .parse()
                        .map_err(|_| error(format!("bad frame number `{pfn}`")))
                })
                .collect()
        };
        cases.push(FromPagesCase {
            line,
            pfns: pfn_list(pfns)?,
            append_pfns: if append == "-" {
                None
            } else {
                Some(pfn_list(append)?)
            },
            size: size
                .parse()
                .map_err(|_| error(format!("bad size `{size}`")))?,
            max_segment: max_segment
                .parse()
                .map_err(|_| error(format!("bad max_segment `{max_segment}`")))?,
            expected: if expected == "EINVAL" {
                Expected::Invalid
            } else {
                Expected::Entries(
                    expected
                        .parse()
                        .map_err(|_| error(format!("bad expected `{expected}`")))?,
                )
            },
        });
    }
    Ok(cases)
}

/// The from-pages cases of the copy kept in the crate.
///
/// # Panics
///
/// Never for the copy shipped with the crate (a test parses it).
pub fn from_pages_cases() -> Vec<FromPagesCase> {
    parse_from_pages(FROM_PAGES_TSV).expect("the shipped vectors parse")
}
