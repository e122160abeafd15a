//! The `.svgpb` binary table: a validated header (names, N, D, per-column mean and standard
//! deviation), then N rows of D features and the target as little-endian f64. Written in one
//! pass (from a CSV by [`convert_csv`], or by any row generator through [`write_binary_file`]) and
//! read by positional reads of any row range, so training can stream it without loading it.
//!
//! Layout, version 1 (all integers little-endian):
//!
//! | offset | bytes | field |
//! |---|---|---|
//! | 0 | 8 | magic `SVGPBIN\0` |
//! | 8 | 4 | format version (1), u32 |
//! | 12 | 4 | D, the number of features, u32 (≥ 1) |
//! | 16 | 8 | N, the number of rows, u64 (≥ 1) |
//! | 24 | 8 | data offset H, u64: the header's length, a multiple of 8 |
//! | 32 | … | D + 1 column names (features in order, then the target): u32 length, UTF-8 bytes |
//! | … | 8(D+1) | column means, f64 |
//! | … | 8(D+1) | column standard deviations (population, divisor N), f64 |
//! | … | … | zero padding up to H |
//! | H | 8N(D+1) | rows: x₁ … x_D, y |
//!
//! The file's length must be exactly H + 8N(D+1); every value is finite.

use super::atomic::write_atomically;
use super::csv_options::{Categorical, CsvOptions};
use crate::error::{Result, SvgpError};
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// The first 8 bytes of every `.svgpb` file.
pub const MAGIC: [u8; 8] = *b"SVGPBIN\0";
/// The format version this build reads and writes.
pub const BINARY_VERSION: u32 = 1;
/// Largest number of features a header may declare (a corrupt count must not allocate wildly).
const MAX_FEATURES: u32 = 1 << 16;
/// Largest column name, in bytes.
const MAX_NAME_BYTES: u32 = 1 << 12;

/// The header of a binary table: column names, N, D and the columns' moments.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryHeader {
    /// Names of the D feature columns, in row order.
    pub feature_names: Vec<String>,
    /// Name of the target column (the last value of each row).
    pub target_name: String,
    /// Number of rows N (≥ 1).
    pub num_rows: u64,
    /// Means of the D features then the target (length D + 1), over all N rows.
    pub mean: Vec<f64>,
    /// Population standard deviations (divisor N) of the D features then the target (length
    /// D + 1), each finite and ≥ 0.
    pub sd: Vec<f64>,
}

impl BinaryHeader {
    /// D, the number of features.
    pub fn num_features(&self) -> usize {
        self.feature_names.len()
    }

    /// Values per row, D + 1.
    pub fn row_len(&self) -> usize {
        self.feature_names.len() + 1
    }

    /// The header's length in bytes H, where the rows start (a multiple of 8).
    pub fn data_offset(&self) -> u64 {
        let names: usize = self.names().map(|n| 4 + n.len()).sum();
        let len = 32 + names + 16 * self.row_len();
        len.div_ceil(8) as u64 * 8
    }

    fn names(&self) -> impl Iterator<Item = &String> {
        self.feature_names
            .iter()
            .chain(std::iter::once(&self.target_name))
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data_offset() as usize);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&BINARY_VERSION.to_le_bytes());
        out.extend_from_slice(&(self.num_features() as u32).to_le_bytes());
        out.extend_from_slice(&self.num_rows.to_le_bytes());
        out.extend_from_slice(&self.data_offset().to_le_bytes());
        for name in self.names() {
            out.extend_from_slice(&(name.len() as u32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
        }
        for v in self.mean.iter().chain(&self.sd) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.resize(self.data_offset() as usize, 0);
        out
    }

    /// Parses and validates a header from the start of `source`; `path` names the file.
    fn read(source: &mut impl Read, path: &str) -> Result<Self> {
        let bad = |reason: String| invalid(path, reason);
        let mut r = HeaderReader { source, path };
        if r.take(8, "magic bytes")? != MAGIC {
            return Err(bad("not an svgp binary table (wrong magic bytes)".into()));
        }
        let version = r.u32("version")?;
        if version != BINARY_VERSION {
            return Err(bad(format!(
                "format version {version}, this build reads version {BINARY_VERSION}"
            )));
        }
        let d = r.u32("number of features")?;
        if d == 0 || d > MAX_FEATURES {
            return Err(bad(format!(
                "{d} features declared (must be 1 to {MAX_FEATURES})"
            )));
        }
        let num_rows = r.u64("number of rows")?;
        if num_rows == 0 {
            return Err(bad("no data rows".into()));
        }
        let offset = r.u64("data offset")?;
        let mut names = r.column_names(d as usize + 1)?;
        let mut moments = (0..2 * names.len())
            .map(|_| r.f64("column moments"))
            .collect::<Result<Vec<_>>>()?;
        let target_name = names.pop().unwrap_or_default();
        let sd = moments.split_off(names.len() + 1);
        let header = BinaryHeader {
            feature_names: names,
            target_name,
            num_rows,
            mean: moments,
            sd,
        };
        header.check(offset, path)?;
        Ok(header)
    }

    /// Checks the moments (finite, sd ≥ 0) and that `offset` is where this header ends.
    fn check(&self, offset: u64, path: &str) -> Result<()> {
        let bad = |reason: String| Err(invalid(path, reason));
        let columns = 0..self.row_len();
        if let Some(c) = columns
            .clone()
            .find(|&c| !(self.mean[c].is_finite() && self.sd[c].is_finite()))
        {
            return bad(format!("column {} has a non-finite mean or sd", c + 1));
        }
        if let Some(c) = columns.clone().find(|&c| self.sd[c] < 0.0) {
            return bad(format!("column {} has a negative sd", c + 1));
        }
        if offset != self.data_offset() {
            return bad(format!(
                "data offset {offset} does not match the header's length {}",
                self.data_offset()
            ));
        }
        Ok(())
    }
}

/// Little-endian fields read from the start of a header, with errors naming the file and the
/// field the file ends inside.
struct HeaderReader<'a, R: Read> {
    source: &'a mut R,
    path: &'a str,
}

impl<R: Read> HeaderReader<'_, R> {
    fn take(&mut self, n: usize, what: &str) -> Result<Vec<u8>> {
        let mut buf = vec![0; n];
        self.source
            .read_exact(&mut buf)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    invalid(self.path, format!("file ends inside the header ({what})"))
                }
                _ => io_error(self.path, &e),
            })?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8, what)?.try_into().unwrap_or([0; 8]),
        ))
    }

    fn f64(&mut self, what: &str) -> Result<f64> {
        Ok(f64::from_le_bytes(
            self.take(8, what)?.try_into().unwrap_or([0; 8]),
        ))
    }

    /// `count` length-prefixed UTF-8 column names, each 1 to `MAX_NAME_BYTES` long, distinct.
    fn column_names(&mut self, count: usize) -> Result<Vec<String>> {
        let mut names: Vec<String> = Vec::with_capacity(count);
        for c in 1..=count {
            let len = self.u32("column name length")?;
            if len == 0 || len > MAX_NAME_BYTES {
                return Err(invalid(
                    self.path,
                    format!("column {c} name length {len} (must be 1 to {MAX_NAME_BYTES})"),
                ));
            }
            let name = String::from_utf8(self.take(len as usize, "column name")?)
                .map_err(|_| invalid(self.path, format!("column {c} name is not UTF-8")))?;
            if names.contains(&name) {
                return Err(invalid(
                    self.path,
                    format!("duplicate column name {name:?}"),
                ));
            }
            names.push(name);
        }
        Ok(names)
    }
}

/// A `.svgpb` file opened for positional reads. Holds only the header and the file handle: any
/// range of rows is read on demand, so memory does not grow with N.
#[derive(Debug)]
pub struct BinaryFile {
    file: File,
    path: String,
    header: BinaryHeader,
}

impl BinaryFile {
    /// Opens `path` and validates its header and its length (H + 8N(D + 1) bytes exactly).
    ///
    /// # Errors
    /// `Io { path }` if it cannot be opened or read; `InvalidBinaryFile { path, reason }` for a
    /// wrong magic or version, a corrupt header, or a truncated or overlong file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path_ref = path.as_ref();
        let path = path_ref.display().to_string();
        let mut file = File::open(path_ref).map_err(|e| io_error(&path, &e))?;
        let header = BinaryHeader::read(&mut std::io::BufReader::new(&mut file), &path)?;
        let len = file.metadata().map_err(|e| io_error(&path, &e))?.len();
        let expected = header
            .num_rows
            .checked_mul(8 * header.row_len() as u64)
            .and_then(|rows| rows.checked_add(header.data_offset()))
            .ok_or_else(|| invalid(&path, format!("{} rows overflow", header.num_rows)))?;
        if len != expected {
            return Err(invalid(
                &path,
                format!(
                    "{len} bytes, but the header's {} rows × {} values need {expected} (truncated or corrupt)",
                    header.num_rows,
                    header.row_len()
                ),
            ));
        }
        Ok(BinaryFile { file, path, header })
    }

    /// The validated header.
    pub fn header(&self) -> &BinaryHeader {
        &self.header
    }

    /// The file's name, for messages.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads rows `first .. first + count` (0-based) into `out`, row-major, (D + 1)·count values
    /// (features then target per row), replacing its contents.
    ///
    /// # Errors
    /// `InvalidParameter` for a range beyond N; `Io { path }` for a failed read;
    /// `InvalidBinaryFile { path, reason }` naming the row and column of a non-finite value.
    pub fn read_rows(&self, first: u64, count: usize, out: &mut Vec<f64>) -> Result<()> {
        let h = &self.header;
        if first.saturating_add(count as u64) > h.num_rows {
            return Err(SvgpError::InvalidParameter {
                name: format!("rows {first}..{} of {}", first + count as u64, self.path),
                value: h.num_rows as f64,
                reason: "row range beyond the file's rows",
            });
        }
        let width = h.row_len();
        let mut bytes = vec![0u8; 8 * width * count];
        positional::read_exact_at(
            &self.file,
            &mut bytes,
            h.data_offset() + 8 * width as u64 * first,
        )
        .map_err(|e| io_error(&self.path, &e))?;
        out.clear();
        out.extend(
            bytes
                .chunks_exact(8)
                .map(|b| f64::from_le_bytes(b.try_into().unwrap_or([0; 8]))),
        );
        if let Some(k) = out.iter().position(|v| !v.is_finite()) {
            return Err(invalid(
                &self.path,
                format!(
                    "row {}, column {} is not finite",
                    first + (k / width) as u64,
                    k % width + 1
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `path` starts with the `.svgpb` magic bytes (false for a shorter file).
///
/// # Errors
/// `Io { path }` if it cannot be opened or read.
pub fn is_binary_file(path: impl AsRef<Path>) -> Result<bool> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let mut file = File::open(path).map_err(|e| io_error(&name, &e))?;
    let mut start = [0u8; 8];
    let mut filled = 0;
    while filled < 8 {
        match file.read(&mut start[filled..]) {
            Ok(0) => return Ok(false),
            Ok(n) => filled += n,
            Err(e) => return Err(io_error(&name, &e)),
        }
    }
    Ok(start == MAGIC)
}

/// Writes rows one at a time after a placeholder header, accumulating each column's mean and
/// variance (Welford); [`BinaryWriter::finish`] writes the real header. Memory is O(D).
pub struct BinaryWriter<W: Write + Seek> {
    out: W,
    header: BinaryHeader,
    m2: Vec<f64>,
    bytes: Vec<u8>,
}

impl<W: Write + Seek> BinaryWriter<W> {
    /// Starts a table with these columns at the current start of `out` (which must be empty).
    ///
    /// # Errors
    /// `InvalidParameter` for no features, more than 65 536, an empty, duplicate or over-long
    /// (> 4096 bytes) name; `Io { path: "output" }` for a failed write.
    pub fn new(mut out: W, feature_names: &[String], target_name: &str) -> Result<Self> {
        let d = feature_names.len();
        let bad = |value: f64, reason| SvgpError::InvalidParameter {
            name: "binary table columns".into(),
            value,
            reason,
        };
        if d == 0 || d > MAX_FEATURES as usize {
            return Err(bad(d as f64, "between 1 and 65536 features are needed"));
        }
        let names: Vec<&String> = feature_names.iter().collect();
        for (c, name) in names.iter().chain([&&target_name.to_string()]).enumerate() {
            if name.is_empty() || name.len() > MAX_NAME_BYTES as usize {
                return Err(bad(c as f64, "column names must have 1 to 4096 bytes"));
            }
        }
        if (1..d).any(|c| names[..c].contains(&names[c])) || names.contains(&&target_name.into()) {
            return Err(bad(d as f64, "column names must be distinct"));
        }
        let header = BinaryHeader {
            feature_names: feature_names.to_vec(),
            target_name: target_name.to_string(),
            num_rows: 0,
            mean: vec![0.0; d + 1],
            sd: vec![0.0; d + 1],
        };
        out.write_all(&header.to_bytes())
            .map_err(|e| io_error("output", &e))?;
        Ok(BinaryWriter {
            out,
            m2: vec![0.0; d + 1],
            bytes: Vec::with_capacity(8 * (d + 1)),
            header,
        })
    }

    /// Appends one row: D finite features and a finite target.
    ///
    /// # Errors
    /// `ShapeMismatch` for a wrong number of features; `NonFiniteValue` for NaN or ±inf;
    /// `Io { path: "output" }` for a failed write.
    pub fn push(&mut self, features: &[f64], target: f64) -> Result<()> {
        let h = &mut self.header;
        crate::error::check_shape(
            "binary table row",
            crate::error::Shape::new(1, h.feature_names.len()),
            crate::error::Shape::new(1, features.len()),
        )?;
        if !(target.is_finite() && features.iter().all(|v| v.is_finite())) {
            return Err(SvgpError::NonFiniteValue {
                quantity: "binary table row",
            });
        }
        h.num_rows += 1;
        let n = h.num_rows as f64;
        self.bytes.clear();
        for (c, &v) in features.iter().chain([&target]).enumerate() {
            let delta = v - h.mean[c];
            h.mean[c] += delta / n;
            self.m2[c] += delta * (v - h.mean[c]);
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        self.out
            .write_all(&self.bytes)
            .map_err(|e| io_error("output", &e))
    }

    /// Rows written so far.
    pub fn num_rows(&self) -> u64 {
        self.header.num_rows
    }

    /// Writes the final header (N, the means and the standard deviations) over the placeholder
    /// and flushes; returns the header and the output.
    ///
    /// # Errors
    /// `EmptyFile { path: "output" }` if no row was written; `Io` for a failed write.
    pub fn finish(mut self) -> Result<(BinaryHeader, W)> {
        let n = self.header.num_rows;
        if n == 0 {
            return Err(SvgpError::EmptyFile {
                path: "output".into(),
            });
        }
        for (sd, m2) in self.header.sd.iter_mut().zip(&self.m2) {
            *sd = (m2 / n as f64).max(0.0).sqrt();
        }
        let write = |out: &mut W, header: &BinaryHeader| -> std::io::Result<()> {
            out.seek(SeekFrom::Start(0))?;
            out.write_all(&header.to_bytes())?;
            out.flush()
        };
        write(&mut self.out, &self.header).map_err(|e| io_error("output", &e))?;
        Ok((self.header, self.out))
    }
}

/// Writes a binary table to `path` atomically (a temporary file, then a rename): `fill` pushes
/// the rows; the header is completed when it returns.
///
/// # Errors
/// `fill`'s error, with any `"output"` path in it replaced by `path`; as [`BinaryWriter::new`]
/// and [`BinaryWriter::finish`]; `Io { path }` for a failed write or rename. On error no file is
/// left at `path` (an earlier one stays untouched).
pub fn write_binary_file(
    path: impl AsRef<Path>,
    feature_names: &[String],
    target_name: &str,
    fill: impl FnOnce(&mut BinaryWriter<BufWriter<&mut File>>) -> Result<()>,
) -> Result<BinaryHeader> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let mut outcome: Result<BinaryHeader> = Err(SvgpError::EmptyFile { path: name.clone() });
    let written = write_atomically(path, |file| {
        let result = BinaryWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            feature_names,
            target_name,
        )
        .and_then(|mut w| {
            fill(&mut w)?;
            w.finish().map(|(header, _)| header)
        });
        let ok = result.is_ok();
        outcome = result;
        if ok {
            Ok(())
        } else {
            Err(std::io::Error::other("not written"))
        }
    });
    let rename = |e: SvgpError| match e {
        SvgpError::Io { path: p, reason } if p == "output" => SvgpError::Io {
            path: name.clone(),
            reason,
        },
        SvgpError::EmptyFile { path: p } if p == "output" => {
            SvgpError::EmptyFile { path: name.clone() }
        }
        other => other,
    };
    match (written, outcome) {
        (Ok(()), Ok(header)) => Ok(header),
        (_, Err(e)) => Err(rename(e)),
        (Err(e), Ok(_)) => Err(e),
    }
}

/// Converts a CSV file into a binary table at `out`, reading and writing one row at a time
/// (memory independent of the file's length). Columns are chosen as in
/// [`crate::data::read_csv`]; every cell is validated the same way. [`CsvOptions::convert`]
/// chooses the delimiter and what to do with missing cells.
///
/// # Errors
/// As [`crate::data::read_csv`], naming the CSV file, line and column (`EmptyFile` for no data
/// rows); `Io` naming `out` for a failed write. On error no file is left at `out`.
pub fn convert_csv(
    csv: impl AsRef<Path>,
    target: Option<&str>,
    features: Option<&[&str]>,
    out: impl AsRef<Path>,
) -> Result<BinaryHeader> {
    CsvOptions::columns(target, features)
        .convert(csv, out)
        .map(|c| c.header)
}

/// What [`CsvOptions::convert`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The binary table's header (columns, row count, moments).
    pub header: BinaryHeader,
    /// CSV rows left out for a missing cell ([`crate::data::Missing::Drop`]).
    pub rows_dropped: u64,
}

impl CsvOptions {
    /// Converts the CSV file `csv`, read with these options, into a binary table at `out`, one
    /// row at a time, as [`convert_csv`] does. With [`crate::data::ClassLabels::Given`] the
    /// target written is each row's class 0..C−1 (the binary table does not keep the labels).
    ///
    /// # Errors
    /// As [`convert_csv`] and [`CsvOptions::rows`]; `InvalidParameter { name: "categorical" }`
    /// for categorical columns (their levels need the whole file: name the indicator features);
    /// `InvalidParameter { name: "classes" }` for `ClassLabels::Auto` (the class order needs the
    /// whole file: give the labels).
    pub fn convert(&self, csv: impl AsRef<Path>, out: impl AsRef<Path>) -> Result<Converted> {
        if self.categorical != Categorical::None {
            return Err(SvgpError::InvalidParameter {
                name: "categorical".into(),
                value: 1.0,
                reason: "one-hot encoding needs the table in memory; name indicator features `column=level` instead",
            });
        }
        if !self.extra_targets.is_empty() {
            return Err(SvgpError::InvalidParameter {
                name: "targets".into(),
                value: (self.extra_targets.len() + 1) as f64,
                reason: "a binary table holds one target column; several targets (outputs) are read from CSV into memory",
            });
        }
        let csv = csv.as_ref();
        let csv_name = csv.display().to_string();
        let source = File::open(csv).map_err(|e| io_error(&csv_name, &e))?;
        let mut rows = self.rows(
            std::io::BufReader::with_capacity(1 << 20, source),
            &csv_name,
        )?;
        let feature_names = rows.feature_names.clone();
        let target_name = rows.target_name.clone();
        let header = write_binary_file(out, &feature_names, &target_name, |w| {
            let mut features = Vec::with_capacity(feature_names.len());
            loop {
                features.clear();
                match rows.next_row(&mut features)? {
                    Some((y, _line)) => w.push(&features, y)?,
                    None if w.num_rows() == 0 => {
                        return Err(SvgpError::EmptyFile {
                            path: csv_name.clone(),
                        })
                    }
                    None => return Ok(()),
                }
            }
        })?;
        Ok(Converted {
            header,
            rows_dropped: rows.rows_dropped,
        })
    }
}

/// `read_exact_at(file, buf, offset)`: fills `buf` from byte `offset` of `file`, through `&File`
/// so that threads sharing a [`BinaryFile`] can read at once, on every platform std supports.
mod positional {
    use std::fs::File;
    use std::io;

    /// Unix: `pread`, which leaves the file's cursor alone.
    #[cfg(unix)]
    pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
    }

    /// Windows: `seek_read` (ReadFile at an offset) may return short counts; loop until full.
    #[cfg(windows)]
    pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        fill_at(buf, offset, |b, o| {
            std::os::windows::fs::FileExt::seek_read(file, b, o)
        })
    }

    /// Any other target: seek, then read, under a lock, so two readers cannot interleave
    /// between one's seek and its read.
    #[cfg(not(any(unix, windows)))]
    pub(super) fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        seek_and_read_locked(file, buf, offset)
    }

    /// Fills `buf` from `offset` by repeated calls of `read_at(part, at)`, which may return
    /// fewer bytes than asked; 0 bytes before `buf` is full is an early end of file.
    #[cfg(any(windows, test))]
    pub(super) fn fill_at(
        mut buf: &mut [u8],
        mut offset: u64,
        mut read_at: impl FnMut(&mut [u8], u64) -> io::Result<usize>,
    ) -> io::Result<()> {
        while !buf.is_empty() {
            match read_at(buf, offset) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    buf = &mut std::mem::take(&mut buf)[n..];
                    offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// The portable fallback: seek and read_exact through `&File`, under one process-wide lock
    /// (the cursor is shared by every handle to the file, and this path is for rare targets).
    #[cfg(any(not(any(unix, windows)), test))]
    pub(super) fn seek_and_read_locked(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        static CURSOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = CURSOR
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut file = file;
        file.seek(SeekFrom::Start(offset))?;
        file.read_exact(buf)
    }
}

fn invalid(path: &str, reason: String) -> SvgpError {
    SvgpError::InvalidBinaryFile {
        path: path.to_string(),
        reason,
    }
}

fn io_error(path: &str, e: &std::io::Error) -> SvgpError {
    SvgpError::Io {
        path: path.to_string(),
        reason: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn header() -> BinaryHeader {
        BinaryHeader {
            feature_names: vec!["a".into(), "bé".into()],
            target_name: "y".into(),
            num_rows: 3,
            mean: vec![1.0, -2.5, 0.0],
            sd: vec![0.5, 0.0, 3.0],
        }
    }

    #[test]
    fn header_round_trips_and_is_padded_to_eight_bytes() {
        let h = header();
        let bytes = h.to_bytes();
        assert_eq!(bytes.len() as u64, h.data_offset());
        assert_eq!(h.data_offset() % 8, 0);
        assert_eq!(BinaryHeader::read(&mut Cursor::new(bytes), "t").unwrap(), h);
    }

    #[test]
    fn writer_moments_match_two_pass_formulas() {
        let rows = [[1.0, 10.0, -1.0], [2.0, 10.0, 0.5], [4.0, 10.0, 7.0]];
        let mut w =
            BinaryWriter::new(Cursor::new(Vec::new()), &["a".into(), "b".into()], "y").unwrap();
        for r in &rows {
            w.push(&r[..2], r[2]).unwrap();
        }
        let (h, out) = w.finish().unwrap();
        for c in 0..3 {
            let mean = rows.iter().map(|r| r[c]).sum::<f64>() / 3.0;
            let var = rows.iter().map(|r| (r[c] - mean).powi(2)).sum::<f64>() / 3.0;
            // Welford vs two-pass: a few ulps at these magnitudes.
            assert!((h.mean[c] - mean).abs() < 1e-14, "column {c}");
            assert!((h.sd[c] - var.sqrt()).abs() < 1e-14, "column {c}");
        }
        assert_eq!(out.into_inner().len() as u64, h.data_offset() + 3 * 3 * 8);
    }

    #[test]
    fn writer_refuses_bad_columns_and_rows() {
        let new = |names: &[&str], target: &str| {
            let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
            BinaryWriter::new(Cursor::new(Vec::new()), &names, target)
        };
        assert!(new(&[], "y").is_err());
        assert!(new(&["a", "a"], "y").is_err());
        assert!(new(&["a"], "a").is_err());
        assert!(new(&[""], "y").is_err());
        let mut w = new(&["a"], "y").unwrap();
        assert!(w.push(&[1.0, 2.0], 0.0).is_err());
        assert!(w.push(&[f64::NAN], 0.0).is_err());
        assert!(matches!(
            new(&["a"], "y").unwrap().finish(),
            Err(SvgpError::EmptyFile { .. })
        ));
    }

    /// A scratch file of 4096 bytes, byte k = k mod 251 (a prime, so no offset aliases another).
    fn scratch_file(name: &str) -> (std::path::PathBuf, File) {
        let path = std::env::temp_dir().join(format!("svgp-{}-{name}", std::process::id()));
        let bytes: Vec<u8> = (0..4096u32).map(|k| (k % 251) as u8).collect();
        std::fs::write(&path, bytes).unwrap();
        let file = File::open(&path).unwrap();
        (path, file)
    }

    fn expected_bytes(offset: u64, len: usize) -> Vec<u8> {
        (offset..offset + len as u64)
            .map(|k| (k % 251) as u8)
            .collect()
    }

    /// The platform's positional read and the seek-and-read fallback both return the bytes at
    /// the offset, from several threads sharing one handle at once, and fail with
    /// `UnexpectedEof` past the end.
    #[test]
    fn positional_reads_return_the_bytes_at_the_offset() {
        let (path, file) = scratch_file("positional");
        type ReadAt = fn(&File, &mut [u8], u64) -> std::io::Result<()>;
        let readers: [(&str, ReadAt); 2] = [
            ("platform", positional::read_exact_at),
            ("fallback", positional::seek_and_read_locked),
        ];
        for (what, read) in readers {
            std::thread::scope(|s| {
                for t in 0..4u64 {
                    let file = &file;
                    s.spawn(move || {
                        for k in 0..200u64 {
                            let (offset, len) = ((t * 977 + k * 131) % 4000, 1 + (k % 96) as usize);
                            let mut buf = vec![0u8; len];
                            read(file, &mut buf, offset).unwrap();
                            assert_eq!(buf, expected_bytes(offset, len), "{what} at {offset}");
                        }
                    });
                }
            });
            let mut buf = [0u8; 8];
            let e = read(&file, &mut buf, 4090).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{what}");
        }
        std::fs::remove_file(path).unwrap();
    }

    /// The loop behind the Windows read: short reads (3 bytes at a time) and an interruption
    /// are retried until the buffer is full; a read of 0 bytes is an early end of file; other
    /// errors pass through.
    #[test]
    fn fill_at_retries_short_and_interrupted_reads() {
        let data = expected_bytes(0, 100);
        let mut calls = 0;
        let mut buf = [0u8; 20];
        positional::fill_at(&mut buf, 50, |b, at| {
            calls += 1;
            if calls == 2 {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = b.len().min(3).min(data.len().saturating_sub(at as usize));
            b[..n].copy_from_slice(&data[at as usize..at as usize + n]);
            Ok(n)
        })
        .unwrap();
        assert_eq!(buf.to_vec(), expected_bytes(50, 20));
        assert_eq!(
            calls,
            7 + 1,
            "seven reads of up to 3 bytes and one interruption"
        );
        let mut past = [0u8; 20];
        let e = positional::fill_at(&mut past, 90, |b, at| {
            let n = b.len().min(data.len().saturating_sub(at as usize));
            b[..n].copy_from_slice(&data[at as usize..at as usize + n]);
            Ok(n)
        })
        .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        let e = positional::fill_at(&mut past, 0, |_, _| {
            Err(std::io::ErrorKind::PermissionDenied.into())
        })
        .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied);
    }
}
