//! `svgp predict`: a saved model's predictions for every row of a data file, written as CSV a
//! chunk at a time.

use crate::data_file::{DataFormat, CHUNK_ROWS};
use crate::flags::PredictArgs;
use crate::output::target_names;
use crate::samples::Sampling;
use nalgebra::DMatrix;
use std::error::Error;
use std::io::Write;
use svgp::data::BinaryFile;
use svgp::tabular::{self, SavedModel};

/// One chunk of predictions: means and variances (b×P) and, with `--samples`, each output's
/// joint samples (b×K each; none otherwise).
struct Chunk<'a> {
    mean: &'a DMatrix<f64>,
    var: &'a DMatrix<f64>,
    samples: &'a [DMatrix<f64>],
}

/// The predictions a model makes for a data file, handed to a sink a chunk at a time.
type PredictionSink<'a> = dyn FnMut(&Chunk) -> svgp::Result<()> + 'a;

/// Reads the data (a binary table, or CSV with the model's feature columns) a chunk at a time
/// and writes rows as they are made: `mean,variance` (regression), `probability,variance`
/// (binary), one probability column per class headed by its label and the most probable label
/// (C classes), or `<target>_mean,<target>_variance` per output; with `--samples K`, every row
/// is read first and K joint samples of y per output follow ([`Sampling::header`]). A file
/// `--output` is removed when writing it fails.
///
/// # Errors
/// The model file's, the data's and the library's errors; a bad `--samples`; a failed write.
pub fn run(args: PredictArgs) -> Result<(), Box<dyn Error>> {
    let saved = SavedModel::load(&args.model)?;
    let format = DataFormat::of(&args.data)?;
    let sampling = (args.samples)
        .map(|k| Sampling::new(&saved, k, args.seed))
        .transpose()?;
    let mut header = vec![PredictionLayout::of(&saved).header()];
    let sampled = match &sampling {
        Some(s) => {
            header.extend(s.header(&saved).iter().map(|name| csv_field(name)));
            Some(s.predict(&saved, &args, &format)?)
        }
        None => None,
    };
    let options = args.csv_options();
    let produce = |sink: &mut PredictionSink| match (&sampled, format) {
        (Some((mean, var, samples)), _) => sink(&Chunk { mean, var, samples }),
        (None, DataFormat::BinaryTable) => {
            let file = BinaryFile::open(&args.data)?;
            tabular::predict_binary(&saved, &file, CHUNK_ROWS, |mean, var| {
                sink(&Chunk {
                    mean,
                    var,
                    samples: &[],
                })
            })
        }
        (None, DataFormat::Csv) => {
            tabular::predict_csv(&saved, &options, &args.data, CHUNK_ROWS, |mean, var| {
                sink(&Chunk {
                    mean,
                    var,
                    samples: &[],
                })
            })
        }
    };
    let layout = PredictionLayout::of(&saved);
    let header = header.join(",");
    match &args.output {
        Some(path) => {
            let file =
                std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let out = std::io::BufWriter::new(file);
            let written = write_predictions(out, &header, &layout, produce);
            if written.is_err() {
                let _ = std::fs::remove_file(path); // no partial predictions left behind
            }
            written
        }
        None => write_predictions(std::io::stdout().lock(), &header, &layout, produce),
    }
}

/// The columns `predict` writes for a model.
enum PredictionLayout {
    /// `mean,variance` or `probability,variance`: one predictive mean and variance per row.
    Scalar(&'static str),
    /// One probability per class, then the most probable class's label.
    Classes(Vec<String>),
    /// `<target>_mean,<target>_variance` for each of several outputs.
    Outputs(Vec<String>),
}

impl PredictionLayout {
    /// The layout for the model's likelihood and outputs.
    fn of(saved: &SavedModel) -> Self {
        match saved.model.likelihood().num_classes() {
            Some(2) if saved.model.num_latent() == 1 => Self::Scalar("probability,variance"),
            Some(c) => Self::Classes(
                saved
                    .classes
                    .clone()
                    .unwrap_or_else(|| (0..c).map(|k| k.to_string()).collect()),
            ),
            None if saved.extra_targets.is_empty() => Self::Scalar("mean,variance"),
            None => Self::Outputs(target_names(saved).cloned().collect()),
        }
    }

    /// The header line.
    fn header(&self) -> String {
        match self {
            Self::Scalar(header) => header.to_string(),
            Self::Classes(labels) => {
                let mut fields: Vec<String> = labels.iter().map(|l| csv_field(l)).collect();
                fields.push("predicted".into());
                fields.join(",")
            }
            Self::Outputs(names) => (names.iter())
                .map(|n| {
                    format!(
                        "{},{}",
                        csv_field(&format!("{n}_mean")),
                        csv_field(&format!("{n}_variance"))
                    )
                })
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// Row i of a chunk's predictions (`mean`, `var`: b×P).
    fn row(&self, mean: &DMatrix<f64>, var: &DMatrix<f64>, i: usize) -> String {
        match self {
            Self::Scalar(_) => format!("{},{}", mean[(i, 0)], var[(i, 0)]),
            Self::Classes(labels) => {
                let p = mean.row(i);
                let best = p.transpose().argmax().0;
                let mut fields: Vec<String> = p.iter().map(|v| v.to_string()).collect();
                fields.push(csv_field(&labels[best]));
                fields.join(",")
            }
            Self::Outputs(_) => (0..mean.ncols())
                .map(|p| format!("{},{}", mean[(i, p)], var[(i, p)]))
                .collect::<Vec<_>>()
                .join(","),
        }
    }
}

/// A CSV field: quoted (inner quotes doubled) when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Writes `header`, then one line per prediction `produce` hands over: the layout's columns,
/// then the chunk's samples (output by output, sample by sample). A write error stops
/// `produce` and is returned as it is (a closed pipe ends quietly).
fn write_predictions(
    mut out: impl Write,
    header: &str,
    layout: &PredictionLayout,
    produce: impl FnOnce(&mut PredictionSink) -> svgp::Result<()>,
) -> Result<(), Box<dyn Error>> {
    writeln!(out, "{header}")?;
    let mut failed: Option<std::io::Error> = None;
    let produced = produce(&mut |chunk| {
        let written = (0..chunk.mean.nrows()).try_for_each(|i| {
            write!(out, "{}", layout.row(chunk.mean, chunk.var, i))?;
            for draws in chunk.samples {
                draws.row(i).iter().try_for_each(|v| write!(out, ",{v}"))?;
            }
            writeln!(out)
        });
        written.map_err(|e| {
            let stop = svgp::SvgpError::Io {
                path: "the predictions".into(),
                reason: e.to_string(),
            };
            failed = Some(e);
            stop
        })
    });
    if let Some(e) = failed {
        return Err(Box::new(e));
    }
    produced?;
    out.flush()?;
    Ok(())
}
