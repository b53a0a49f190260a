//! The number of fields of every record of a CSV file, checked against its header's.
//!
//! Polars' CSV reader reads a short record as if its missing fields were empty: a field lost in
//! the middle of a line shifts the rest of the line into the wrong columns, and the row is read
//! without a word whenever the shifted values still parse. The feature pipeline's own scanner
//! refuses such a line; the tables read through polars (one-table features, drift, binning,
//! exploration, serving a single table) are checked here first, in one pass over the bytes.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// Bytes read at a time.
const CHUNK: usize = 1 << 22;

/// Checks that every record of the CSV file at `path` (the header too) has `width` fields.
/// Quoted fields may hold separators, quotes (doubled) and line ends; blank lines are skipped,
/// as the readers skip them. A record of another width is an error naming its first line.
pub fn check(path: &Path, width: usize) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(io)?;
    let mut widths = Widths::new(width);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 4096);
    loop {
        let start = buf.len();
        buf.resize(start + CHUNK, 0);
        let n = file.read(&mut buf[start..]).map_err(io)?;
        buf.truncate(start + n);
        if n == 0 {
            break;
        }
        // Whole lines now; the unfinished last one waits for the next read.
        let Some(end) = memchr::memrchr(b'\n', &buf) else {
            continue;
        };
        widths.lines(&buf[..=end]).map_err(|w| w.error(path))?;
        buf.drain(..=end);
    }
    widths.lines(&buf).map_err(|w| w.error(path))?;
    widths.finish().map_err(|w| w.error(path))
}

/// The commas of `line`, counted 64 bytes at a time in a byte-wide counter (which the compiler
/// turns into vector compares).
fn commas(line: &[u8]) -> usize {
    let mut blocks = line.chunks_exact(64);
    let mut n = 0;
    for block in &mut blocks {
        let k = block.iter().fold(0u8, |k, &b| k + u8::from(b == b','));
        n += usize::from(k);
    }
    n + blocks.remainder().iter().filter(|&&b| b == b',').count()
}

/// A record of the wrong width: its first line and its fields.
#[derive(Debug, PartialEq, Eq)]
struct Wrong {
    line: u64,
    found: usize,
    expected: usize,
}

impl Wrong {
    fn error(self, path: &Path) -> Error {
        Error::BadLine {
            path: path.to_owned(),
            line: self.line,
            message: format!(
                "found {} fields, the header has {}",
                self.found, self.expected
            ),
        }
    }
}

/// The state of the scan between lines.
struct Widths {
    width: usize,
    /// The line being read (1-based) and the first line of the record being read.
    line: u64,
    record_line: u64,
    /// Separators seen in the record so far, outside quotes.
    separators: usize,
    in_quotes: bool,
    /// Nothing but `\r` seen in the record so far.
    blank: bool,
}

impl Widths {
    fn new(width: usize) -> Self {
        Widths {
            width,
            line: 1,
            record_line: 1,
            separators: 0,
            in_quotes: false,
            blank: true,
        }
    }

    /// Reads `bytes`, whole lines except perhaps at the end of the file.
    fn lines(&mut self, bytes: &[u8]) -> std::result::Result<(), Wrong> {
        // The common case: no quote in the chunk, every comma a separator.
        let unquoted = !self.in_quotes && memchr::memchr(b'"', bytes).is_none();
        let mut rest = bytes;
        while !rest.is_empty() {
            let (line, ends) = match memchr::memchr(b'\n', rest) {
                Some(i) => (&rest[..i], true),
                None => (rest, false),
            };
            rest = &rest[line.len() + usize::from(ends)..];
            if unquoted || (!self.in_quotes && memchr::memchr(b'"', line).is_none()) {
                self.separators += commas(line);
                self.blank &= line.iter().all(|&b| b == b'\r');
            } else {
                self.quoted(line);
            }
            if ends {
                self.line_end()?;
            }
        }
        Ok(())
    }

    /// A line with quotes, or inside a quoted field, byte by byte. A doubled quote inside quotes
    /// closes and reopens them, which counts the same.
    fn quoted(&mut self, line: &[u8]) {
        for &b in line {
            if self.in_quotes {
                self.in_quotes = b != b'"';
                continue;
            }
            match b {
                b',' => self.separators += 1,
                b'"' => self.in_quotes = true,
                b'\r' => continue,
                _ => {}
            }
            self.blank = false;
        }
    }

    fn line_end(&mut self) -> std::result::Result<(), Wrong> {
        self.line += 1;
        if self.in_quotes {
            return Ok(());
        }
        let done = self.record_end();
        self.record_line = self.line;
        done
    }

    fn record_end(&mut self) -> std::result::Result<(), Wrong> {
        let (blank, found) = (self.blank, self.separators + 1);
        self.separators = 0;
        self.blank = true;
        if blank || found == self.width {
            return Ok(());
        }
        Err(Wrong {
            line: self.record_line,
            found,
            expected: self.width,
        })
    }

    /// The last record, when the file does not end with a line end.
    fn finish(&mut self) -> std::result::Result<(), Wrong> {
        self.record_end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(text: &str, width: usize) -> std::result::Result<(), Wrong> {
        let mut w = Widths::new(width);
        w.lines(text.as_bytes())?;
        w.finish()
    }

    fn wrong(line: u64, found: usize) -> std::result::Result<(), Wrong> {
        Err(Wrong {
            line,
            found,
            expected: 3,
        })
    }

    #[test]
    fn every_record_has_the_header_width() {
        assert_eq!(scan("a,b,c\n1,2,3\n4,,\n", 3), Ok(()));
        // No final line end, CRLF, blank lines.
        assert_eq!(scan("a,b,c\r\n1,2,3\r\n\r\n\n4,5,6", 3), Ok(()));
        // A short line, a long one, a last line short without its line end.
        assert_eq!(scan("a,b,c\n1,2,3\n4,5\n", 3), wrong(3, 2));
        assert_eq!(scan("a,b,c\n1,2,3,4\n", 3), wrong(2, 4));
        assert_eq!(scan("a,b,c\n1,2,3\n4,5", 3), wrong(3, 2));
        // A lone value on a line is a record of one field.
        assert_eq!(scan("a,b,c\n1,2,3\nx\n", 3), wrong(3, 1));
    }

    #[test]
    fn quoted_fields_hold_separators_quotes_and_line_ends() {
        assert_eq!(scan("a,b,c\n1,\"x, y\",3\n", 3), Ok(()));
        assert_eq!(scan("a,b,c\n1,\"say \"\"hi\"\", then\",3\n", 3), Ok(()));
        // A record over three lines; the short record after it is named by its own line.
        let text = "a,b,c\n1,\"one\r\ntwo,\nthree\",3\n4,5\n";
        assert_eq!(scan(text, 3), wrong(5, 2));
        // A quoted header.
        assert_eq!(scan("\"a\",\"b,c\"\n1,2\n", 2), Ok(()));
    }

    #[test]
    fn lines_may_arrive_in_pieces() {
        // The file is read in chunks that end on a line end, except the last.
        let mut w = Widths::new(3);
        assert_eq!(w.lines(b"a,b,c\n1,\"x\n"), Ok(()));
        assert_eq!(w.lines(b"y\",3\n"), Ok(()));
        assert_eq!(w.lines(b"4,5"), Ok(()));
        assert_eq!(
            w.finish(),
            Err(Wrong {
                line: 4,
                found: 2,
                expected: 3
            })
        );
    }

    #[test]
    fn a_file_is_checked_across_reads() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t.csv");
        // More than one read's worth of lines, a short one near the end.
        let mut text = String::from("id,x,y\n");
        let rows = CHUNK / 10 + 100;
        for i in 0..rows {
            text.push_str(&format!("{i},\"{i}\",7\n"));
        }
        std::fs::write(&path, &text).expect("write");
        assert!(check(&path, 3).is_ok());
        text.push_str("1,2\n");
        std::fs::write(&path, &text).expect("write");
        let err = check(&path, 3).expect_err("short").to_string();
        let line = rows + 2;
        assert!(
            err.ends_with(&format!("t.csv:{line}: found 2 fields, the header has 3")),
            "{err}"
        );
    }
}
