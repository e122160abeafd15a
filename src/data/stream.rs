//! Minibatches streamed from a [`BinaryFile`] with memory bounded independently of N: each epoch
//! visits the file's blocks (`block_rows` consecutive rows) in a seeded random order, reads
//! `blocks_per_shuffle` of them at a time by positional reads, shuffles those rows together
//! (seeded) and hands them out B at a time. Every selected row appears exactly once per epoch;
//! the last batch of an epoch holds the N mod B rows left over (so it may be shorter than B).
//! Also: a seeded row-level hold-out, sequential scans and seeded row samples.

use super::binary::BinaryFile;
use crate::error::{Result, SvgpError};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use std::collections::HashSet;

/// A seeded hold-out decided row by row: row i is a test row when a hash of (seed, i), read as
/// a uniform number in [0, 1), is below `fraction`. Needs no list of rows, so it costs no memory
/// at any N; the test set holds about (not exactly) `fraction`·N rows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Holdout {
    /// Expected fraction of rows held out, in [0, 1).
    pub fraction: f64,
    /// Seed of the hash.
    pub seed: u64,
}

impl Holdout {
    /// Whether 0-based `row` is held out.
    pub fn is_test(&self, row: u64) -> bool {
        let u = (splitmix64(splitmix64(self.seed) ^ row) >> 11) as f64 / (1u64 << 53) as f64;
        u < self.fraction
    }
}

/// Which rows of a file a stream, a scan or a sample uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowSet {
    /// Every row.
    All,
    /// The rows a hold-out keeps for training.
    Train(Holdout),
    /// The rows a hold-out sets aside for testing.
    Test(Holdout),
}

impl RowSet {
    /// Whether 0-based `row` belongs to the set.
    pub fn contains(&self, row: u64) -> bool {
        match self {
            RowSet::All => true,
            RowSet::Train(h) => !h.is_test(row),
            RowSet::Test(h) => h.is_test(row),
        }
    }

    /// How many of the rows 0..`num_rows` belong to the set (one hash per row, no I/O).
    pub fn count(&self, num_rows: u64) -> u64 {
        match self {
            RowSet::All => num_rows,
            _ => (0..num_rows).filter(|&r| self.contains(r)).count() as u64,
        }
    }
}

/// SplitMix64 (Steele, Lea & Flood 2014): a bijective 64-bit mixer.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Block sizes of a [`BatchStream`]. Memory held is about 2 · 8(D + 1) · `block_rows` ·
/// `blocks_per_shuffle` bytes (≈ 38 MB for the defaults at D = 8), whatever N is (plus the
/// batch's own B rows when B exceeds a group of blocks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// Rows per block, the unit of the shuffled read order (default 65 536).
    pub block_rows: usize,
    /// Blocks read and shuffled together (default 4): rows of a batch come from up to this many
    /// random places in the file.
    pub blocks_per_shuffle: usize,
}

impl Default for StreamConfig {
    fn default() -> Self {
        StreamConfig {
            block_rows: 1 << 16,
            blocks_per_shuffle: 4,
        }
    }
}

/// Rows of a file: their 0-based indices, inputs and targets, in the file's units.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// 0-based file rows, length B.
    pub rows: Vec<u64>,
    /// Inputs, B×D.
    pub x: DMatrix<f64>,
    /// Targets, length B.
    pub y: DVector<f64>,
}

impl Batch {
    /// A batch from `rows` and their values, row-major with D + 1 values per row.
    fn from_values(rows: Vec<u64>, values: &[f64], d: usize) -> Self {
        let (b, w) = (rows.len(), d + 1);
        Batch {
            x: DMatrix::from_fn(b, d, |i, j| values[i * w + j]),
            y: DVector::from_fn(b, |i, _| values[i * w + d]),
            rows,
        }
    }
}

/// The endless stream of shuffled minibatches over a [`RowSet`] of a file (see the module
/// docs). Identical file, rows, B, configuration and seed give identical batches.
#[derive(Debug)]
pub struct BatchStream<'a> {
    file: &'a BinaryFile,
    rows: RowSet,
    num_rows: u64,
    batch_size: usize,
    config: StreamConfig,
    rng: StdRng,
    blocks: Vec<u64>,
    next_block: usize,
    pending_rows: Vec<u64>,
    pending_values: Vec<f64>,
    cursor: usize,
    block: Vec<f64>,
}

impl<'a> BatchStream<'a> {
    /// A stream of batches of `batch_size` rows of `rows`, shuffled with `seed`.
    ///
    /// # Errors
    /// `InvalidParameter` for B = 0 or a zero block size; `EmptyFile` when the set is empty.
    pub fn new(
        file: &'a BinaryFile,
        rows: RowSet,
        batch_size: usize,
        config: StreamConfig,
        seed: u64,
    ) -> Result<Self> {
        let bad = |name: &str, value: usize| SvgpError::InvalidParameter {
            name: name.to_string(),
            value: value as f64,
            reason: "must be at least 1",
        };
        if batch_size == 0 {
            return Err(bad("batch_size", 0));
        }
        if config.block_rows == 0 || config.blocks_per_shuffle == 0 {
            return Err(bad("stream block size", 0));
        }
        let num_rows = rows.count(file.header().num_rows);
        if num_rows == 0 {
            return Err(SvgpError::EmptyFile {
                path: file.path().to_string(),
            });
        }
        let mut stream = BatchStream {
            file,
            rows,
            num_rows,
            batch_size,
            config,
            rng: StdRng::seed_from_u64(seed),
            blocks: Vec::new(),
            next_block: 0,
            pending_rows: Vec::new(),
            pending_values: Vec::new(),
            cursor: 0,
            block: Vec::new(),
        };
        stream.start_epoch();
        Ok(stream)
    }

    /// The file streamed.
    pub fn file(&self) -> &'a BinaryFile {
        self.file
    }

    /// Rows in the streamed set, N (the ELBO's scale for a batch of b rows is N/b).
    pub fn num_rows(&self) -> u64 {
        self.num_rows
    }

    /// Batches per epoch, ⌈N/B⌉.
    pub fn batches_per_epoch(&self) -> u64 {
        self.num_rows.div_ceil(self.batch_size as u64)
    }

    fn start_epoch(&mut self) {
        let n = self.file.header().num_rows;
        self.blocks = (0..n.div_ceil(self.config.block_rows as u64)).collect();
        self.blocks.shuffle(&mut self.rng);
        self.next_block = 0;
    }

    /// Takes the next `blocks_per_shuffle` blocks of the epoch, keeps the set's rows, shuffles
    /// them and appends them to what is pending; their values are read only when `read` (the
    /// rows and the generator's draws do not depend on them).
    fn refill(&mut self, read: bool) -> Result<()> {
        let w = self.file.header().row_len();
        self.pending_rows.drain(..self.cursor);
        if read {
            self.pending_values.drain(..self.cursor * w);
        }
        self.cursor = 0;
        let (mut rows, mut values) = (Vec::new(), Vec::new());
        let n = self.file.header().num_rows;
        let end = (self.next_block + self.config.blocks_per_shuffle).min(self.blocks.len());
        for &b in &self.blocks[self.next_block..end] {
            let first = b * self.config.block_rows as u64;
            let count = (n - first).min(self.config.block_rows as u64) as usize;
            if read {
                self.file.read_rows(first, count, &mut self.block)?;
            }
            for (k, row) in (first..first + count as u64).enumerate() {
                if self.rows.contains(row) {
                    rows.push(row);
                    if read {
                        values.extend_from_slice(&self.block[k * w..(k + 1) * w]);
                    }
                }
            }
        }
        self.next_block = end;
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.shuffle(&mut self.rng);
        for k in order {
            self.pending_rows.push(rows[k]);
            if read {
                self.pending_values
                    .extend_from_slice(&values[k * w..(k + 1) * w]);
            }
        }
        Ok(())
    }

    /// The positions in `pending_rows` of the next batch (B rows, or the rows left at the end
    /// of an epoch), refilling (values read only when `read`) and starting epochs as needed.
    fn advance(&mut self, read: bool) -> Result<std::ops::Range<usize>> {
        loop {
            let available = self.pending_rows.len() - self.cursor;
            let take = if available >= self.batch_size {
                self.batch_size
            } else if self.next_block < self.blocks.len() {
                self.refill(read)?;
                continue;
            } else if available > 0 {
                available
            } else {
                self.start_epoch();
                continue;
            };
            let start = self.cursor;
            self.cursor += take;
            return Ok(start..self.cursor);
        }
    }

    /// The next batch: B rows, or the rows left at the end of an epoch.
    ///
    /// # Errors
    /// As [`BinaryFile::read_rows`].
    pub fn next_batch(&mut self) -> Result<Batch> {
        let w = self.file.header().row_len();
        let range = self.advance(true)?;
        Ok(Batch::from_values(
            self.pending_rows[range.clone()].to_vec(),
            &self.pending_values[range.start * w..range.end * w],
            w - 1,
        ))
    }

    /// Moves past `batches` batches as [`BatchStream::next_batch`] would, reading no values but
    /// those of the rows still pending afterwards (one shuffle group at most): resuming a long
    /// run costs one hash per row passed, not a read of every block.
    ///
    /// # Errors
    /// As [`BinaryFile::read_rows`].
    pub fn skip(&mut self, batches: u64) -> Result<()> {
        self.pending_rows.drain(..self.cursor);
        self.cursor = 0;
        self.pending_values.clear();
        for _ in 0..batches {
            self.advance(false)?;
        }
        self.pending_rows.drain(..self.cursor);
        self.cursor = 0;
        let mut one = Vec::new();
        for &row in &self.pending_rows {
            self.file.read_rows(row, 1, &mut one)?;
            self.pending_values.extend_from_slice(&one);
        }
        Ok(())
    }
}

/// Calls `f` on the rows of `rows` in file order, `chunk_rows` file rows at a time (a chunk
/// holds the set's rows among them, and is skipped when it has none).
///
/// # Errors
/// As [`BinaryFile::read_rows`]; `InvalidParameter` for `chunk_rows` = 0; `f`'s errors.
pub fn scan_rows(
    file: &BinaryFile,
    rows: RowSet,
    chunk_rows: usize,
    mut f: impl FnMut(Batch) -> Result<()>,
) -> Result<()> {
    if chunk_rows == 0 {
        return Err(SvgpError::InvalidParameter {
            name: "scan chunk rows".into(),
            value: 0.0,
            reason: "must be at least 1",
        });
    }
    let (n, w) = (file.header().num_rows, file.header().row_len());
    let (mut block, mut values) = (Vec::new(), Vec::new());
    let mut first = 0;
    while first < n {
        let count = (n - first).min(chunk_rows as u64) as usize;
        file.read_rows(first, count, &mut block)?;
        let kept: Vec<u64> = (first..first + count as u64)
            .filter(|&r| rows.contains(r))
            .collect();
        if !kept.is_empty() {
            values.clear();
            for &r in &kept {
                let k = (r - first) as usize;
                values.extend_from_slice(&block[k * w..(k + 1) * w]);
            }
            f(Batch::from_values(kept, &values, w - 1))?;
        }
        first += count as u64;
    }
    Ok(())
}

/// A seeded sample of `count` distinct rows of `rows`, in file order; every row of the set,
/// in file order, when it has at most `count`. Reads only the sampled rows when the sample is
/// less than half the set, so a small sample of a large file is cheap.
///
/// # Errors
/// As [`BinaryFile::read_rows`]; `EmptyFile` when the set is empty.
pub fn sample_rows(file: &BinaryFile, rows: RowSet, count: usize, seed: u64) -> Result<Batch> {
    let n = file.header().num_rows;
    let available = rows.count(n);
    if available == 0 {
        return Err(SvgpError::EmptyFile {
            path: file.path().to_string(),
        });
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let chosen: Vec<u64> = if 2 * count as u64 >= available {
        let all: Vec<u64> = (0..n).filter(|&r| rows.contains(r)).collect();
        if count as u64 >= available {
            all
        } else {
            let mut picked: Vec<u64> = rand::seq::index::sample(&mut rng, all.len(), count)
                .into_iter()
                .map(|k| all[k])
                .collect();
            picked.sort_unstable();
            picked
        }
    } else {
        // Fewer than half the rows: rejection sampling needs < 2 draws per row on average.
        let mut picked = HashSet::with_capacity(count);
        while picked.len() < count {
            let r = rng.random_range(0..n);
            if rows.contains(r) {
                picked.insert(r);
            }
        }
        let mut picked: Vec<u64> = picked.into_iter().collect();
        picked.sort_unstable();
        picked
    };
    let w = file.header().row_len();
    let (mut one, mut values) = (Vec::new(), Vec::with_capacity(chosen.len() * w));
    for &r in &chosen {
        file.read_rows(r, 1, &mut one)?;
        values.extend_from_slice(&one);
    }
    Ok(Batch::from_values(chosen, &values, w - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holdout_is_seeded_and_near_its_fraction() {
        let h = Holdout {
            fraction: 0.2,
            seed: 5,
        };
        let test = RowSet::Test(h).count(100_000);
        // Binomial(1e5, 0.2): sd ≈ 126, so ±1000 is ~8 sd.
        assert!((test as i64 - 20_000).abs() < 1000, "{test}");
        assert_eq!(RowSet::Train(h).count(100_000), 100_000 - test);
        let other = Holdout { seed: 6, ..h };
        assert!((0..100).any(|r| h.is_test(r) != other.is_test(r)));
    }
}
