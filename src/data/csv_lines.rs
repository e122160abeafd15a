//! The byte-level helpers of the CSV reader: exact line numbers for every line ending (`\n`,
//! `\r\n`, a lone `\r`, and breaks inside quoted fields), delimiter detection from the header
//! line, and the spellings of a missing cell.

use std::collections::VecDeque;
use std::io::{Chain, Cursor, Read};

/// The delimiters detected from a header line.
const CANDIDATES: [u8; 3] = [b',', b';', b'\t'];

/// The most bytes read ahead to find the header line for delimiter detection.
const HEADER_PEEK: usize = 1 << 16;

/// A reader that passes its bytes through unchanged and remembers, for the bytes not yet
/// consumed by the CSV parser, where each non-blank line starts. A line break is `\n`, `\r\n`
/// or a lone `\r`; a blank line holds only line breaks (the parser skips those).
pub(super) struct LineCounter<R> {
    inner: R,
    /// Bytes passed through so far.
    offset: u64,
    /// 1-based line of the byte at `offset`.
    line: u64,
    /// The last byte was `\r` (a following `\n` belongs to the same break).
    after_cr: bool,
    /// A line starts at `offset` (file start or just after a break).
    at_line_start: bool,
    /// (byte offset, 1-based line) of each non-blank line start not yet passed by a query.
    starts: VecDeque<(u64, u64)>,
}

impl<R: Read> LineCounter<R> {
    /// Counts the lines of `inner`.
    pub(super) fn new(inner: R) -> Self {
        LineCounter {
            inner,
            offset: 0,
            line: 1,
            after_cr: false,
            at_line_start: true,
            starts: VecDeque::new(),
        }
    }

    /// The line of the first non-blank line start at or after byte `byte` (a record that the
    /// parser began reading at `byte` starts there: it skips the `\n` of a `\r\n` and blank
    /// lines first). Forgets earlier line starts, so queries must not go backwards.
    pub(super) fn line_from(&mut self, byte: u64) -> Option<u64> {
        while self.starts.front().is_some_and(|&(at, _)| at < byte) {
            self.starts.pop_front();
        }
        self.starts.front().map(|&(_, line)| line)
    }

    /// Updates the line state with the bytes just read.
    fn scan(&mut self, bytes: &[u8]) {
        let is_break = |b: &u8| *b == b'\n' || *b == b'\r';
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if is_break(&b) {
                if !(b == b'\n' && self.after_cr) {
                    self.line += 1;
                    self.at_line_start = true;
                }
                self.after_cr = b == b'\r';
                i += 1;
                continue;
            }
            self.after_cr = false;
            if self.at_line_start {
                self.starts.push_back((self.offset + i as u64, self.line));
                self.at_line_start = false;
            }
            // the rest of the line's content, up to the next break
            i += 1 + bytes[i + 1..]
                .iter()
                .position(is_break)
                .unwrap_or(bytes.len() - i - 1);
        }
        self.offset += bytes.len() as u64;
    }
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.scan(&buf[..n]);
        Ok(n)
    }
}

/// Line breaks in a field's text (`\n`, `\r\n` and a lone `\r` count one each).
pub(super) fn line_breaks(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let lone_cr = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\r' && bytes.get(i + 1) != Some(&b'\n'))
        .count();
    (bytes.iter().filter(|&&b| b == b'\n').count() + lone_cr) as u64
}

/// A source whose first bytes (up to the end of the header line) were read ahead.
pub(super) type Peeked<R> = Chain<Cursor<Vec<u8>>, R>;

/// Reads `source` up to the end of its first line (at most [`HEADER_PEEK`] bytes) and returns
/// the delimiter that line implies, with the source unchanged.
///
/// The delimiter is `,`, `;` or tab when splitting the line on it (outside quotes) gives at
/// least two fields and splitting on the other two does not; `None` otherwise.
pub(super) fn detect_delimiter<R: Read>(mut source: R) -> std::io::Result<(Option<u8>, Peeked<R>)> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while head.len() < HEADER_PEEK && !head.iter().any(|&b| b == b'\n' || b == b'\r') {
        let n = match source.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let delimiter = delimiter_of(&head);
    Ok((delimiter, Cursor::new(head).chain(source)))
}

/// The delimiter of the first line of `bytes` (leading blank lines skipped), as
/// [`detect_delimiter`] defines it.
fn delimiter_of(bytes: &[u8]) -> Option<u8> {
    let start = bytes.iter().position(|&b| b != b'\n' && b != b'\r')?;
    let rest = &bytes[start..];
    let end = rest
        .iter()
        .position(|&b| b == b'\n' || b == b'\r')
        .unwrap_or(rest.len());
    let line = &rest[..end];
    let splits: Vec<u8> = CANDIDATES
        .into_iter()
        .filter(|&d| unquoted_count(line, d) > 0)
        .collect();
    match splits[..] {
        [d] => Some(d),
        _ => None,
    }
}

/// Occurrences of `delimiter` in `line` outside double quotes.
fn unquoted_count(line: &[u8], delimiter: u8) -> usize {
    let mut quoted = false;
    let mut count = 0;
    for &b in line {
        if b == b'"' {
            quoted = !quoted;
        } else if b == delimiter && !quoted {
            count += 1;
        }
    }
    count
}

/// Whether a trimmed cell spells a missing value: empty, `NA`, `N/A`, `NaN` (any case) or `?`.
pub fn is_missing(text: &str) -> bool {
    text.is_empty()
        || text == "?"
        || ["NA", "N/A", "NaN"]
            .iter()
            .any(|m| text.eq_ignore_ascii_case(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines_of_starts(text: &[u8]) -> Vec<(u64, u64)> {
        let mut counter = LineCounter::new(text);
        std::io::copy(&mut counter, &mut std::io::sink()).unwrap();
        counter.starts.into_iter().collect()
    }

    #[test]
    fn every_line_ending_counts_once() {
        // a\n b\r\n (blank)\r\n c\r d
        assert_eq!(
            lines_of_starts(b"a\nb\r\n\r\nc\rd"),
            vec![(0, 1), (2, 2), (7, 4), (9, 5)]
        );
        assert_eq!(line_breaks("a\r\nb\rc\nd"), 3);
    }

    #[test]
    fn delimiters_are_detected_only_when_unambiguous() {
        assert_eq!(delimiter_of(b"a;b;y\r\n1;2;3"), Some(b';'));
        assert_eq!(delimiter_of(b"\na\tb\n"), Some(b'\t'));
        assert_eq!(delimiter_of(b"a,b;c\n"), None);
        assert_eq!(delimiter_of(b"\"a;b\",c\n"), Some(b','));
        assert_eq!(delimiter_of(b"y\n1\n"), None);
    }
}
