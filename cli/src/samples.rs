//! `svgp predict --samples K`: joint samples of y over every row of a data file, drawn from the
//! full predictive covariance, so the rows are read whole and their number is bounded.

use crate::data_file::{DataFormat, CHUNK_ROWS};
use crate::flags::PredictArgs;
use crate::output::target_names;
use nalgebra::DMatrix;
use std::error::Error;
use svgp::data::BinaryFile;
use svgp::model::JointOf;
use svgp::tabular::{self, SavedModel};
use svgp::SvgpError;

/// The most rows `--samples` takes, the library's bound on joint predictions: each output's N×N
/// covariance is then 3.2 GB. Checked here while the rows are read, before they are all held.
pub const MAX_SAMPLE_ROWS: usize = svgp::model::MAX_JOINT_ROWS;

/// Predictive means and variances (N×P) and each output's joint samples (N×K).
pub type Sampled = (DMatrix<f64>, DMatrix<f64>, Vec<DMatrix<f64>>);

/// Joint samples asked for on the command line: K ≥ 1 of them from a seed, for a model whose
/// outputs are their latents plus Gaussian noise.
pub struct Sampling {
    /// K, the samples per output.
    pub count: usize,
    /// The seed of the draws.
    pub seed: u64,
}

impl Sampling {
    /// `--samples count` and `--seed seed` for `saved`, checked.
    ///
    /// # Errors
    /// A message naming `--samples` for K = 0 or a model whose y has no joint Gaussian law.
    pub fn new(saved: &SavedModel, count: usize, seed: u64) -> Result<Self, Box<dyn Error>> {
        if count == 0 {
            return Err("--samples 0: K must be at least 1".into());
        }
        if saved
            .model
            .likelihood()
            .additive_noise_variances()
            .is_none()
        {
            return Err(format!(
                "--samples draws joint samples of y and needs a Gaussian likelihood; this model's \
                 is {}",
                saved.model.likelihood().name()
            )
            .into());
        }
        Ok(Sampling { count, seed })
    }

    /// The sample columns' names: `sample_1` … `sample_K`, or `<target>_sample_k` per output.
    pub fn header(&self, saved: &SavedModel) -> Vec<String> {
        let several = !saved.extra_targets.is_empty();
        let names: Vec<&String> = target_names(saved).collect();
        let column = |name: &str, k: usize| match several {
            true => format!("{name}_sample_{k}"),
            false => format!("sample_{k}"),
        };
        (names.iter())
            .flat_map(|name| (1..=self.count).map(move |k| column(name, k)))
            .collect()
    }

    /// Predictive means and variances (N×P) and K joint samples of each output (N×K each) for
    /// every row of the data file.
    ///
    /// # Errors
    /// The data's errors; a message naming `--samples` for more than [`MAX_SAMPLE_ROWS`] rows
    /// or K·N·P above [`MAX_SAMPLE_ROWS`]²; the library's.
    pub fn predict(
        &self,
        saved: &SavedModel,
        args: &PredictArgs,
        format: &DataFormat,
    ) -> Result<Sampled, Box<dyn Error>> {
        let x = read_inputs(saved, args, format)?;
        let (n, outputs) = (x.nrows(), saved.model.likelihood().num_outputs());
        let values = self.count.saturating_mul(n).saturating_mul(outputs);
        if values > MAX_SAMPLE_ROWS * MAX_SAMPLE_ROWS {
            return Err(format!(
                "--samples {}: {} samples × {n} rows × {outputs} output(s) is {values} values, \
                 above the {} (3.2 GB) allowed",
                self.count,
                self.count,
                MAX_SAMPLE_ROWS * MAX_SAMPLE_ROWS
            )
            .into());
        }
        let (mean, var) = tabular::predict(saved, &x)?;
        let samples = tabular::sample_joint(saved, &x, JointOf::Y, self.count, self.seed)?;
        Ok((mean, var, samples))
    }
}

/// Every row's inputs (N×D, raw units) of the data file, refusing more than
/// [`MAX_SAMPLE_ROWS`] rows as soon as they are seen.
fn read_inputs(
    saved: &SavedModel,
    args: &PredictArgs,
    format: &DataFormat,
) -> Result<DMatrix<f64>, Box<dyn Error>> {
    let mut parts: Vec<DMatrix<f64>> = Vec::new();
    let mut rows = 0;
    let mut keep = |x: &DMatrix<f64>| {
        rows += x.nrows();
        if rows > MAX_SAMPLE_ROWS {
            return Err(SvgpError::InvalidParameter {
                name: "--samples".into(),
                value: rows as f64,
                reason: "too many rows",
            });
        }
        parts.push(x.clone());
        Ok(())
    };
    let read = match format {
        DataFormat::BinaryTable => {
            let file = BinaryFile::open(&args.data)?;
            tabular::inputs_binary(saved, &file, CHUNK_ROWS, &mut keep)
        }
        DataFormat::Csv => tabular::inputs_csv(
            saved,
            &args.csv_options(),
            &args.data,
            CHUNK_ROWS,
            &mut keep,
        ),
    };
    if rows > MAX_SAMPLE_ROWS {
        return Err(format!(
            "--samples: {} has more than {MAX_SAMPLE_ROWS} rows; joint samples need each \
             output's N×N covariance in memory (8·N² bytes, 3.2 GB at {MAX_SAMPLE_ROWS} rows): \
             predict a smaller file",
            args.data.display()
        )
        .into());
    }
    read?;
    let mut x = DMatrix::zeros(rows, saved.feature_names.len());
    let mut start = 0;
    for part in parts {
        x.rows_mut(start, part.nrows()).copy_from(&part);
        start += part.nrows();
    }
    Ok(x)
}
