//! Model files: a trained [`Svgp`] with its data schema and scalings, as versioned JSON, saved
//! atomically (a temporary file in the same folder, then a rename) and validated on load.

use crate::data::write_atomically;
use crate::data::Standardiser;
use crate::error::{Result, SvgpError};
use crate::kernel::KernelSpec;
use crate::likelihood::LikelihoodSpec;
use crate::model::Svgp;
use crate::variational::VariationalQ;
use nalgebra::{DMatrix, DVector};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::Path;

/// The `format` field of every model file.
pub const FORMAT: &str = "svgp-model";
/// The current format version, which saving writes; loading also reads version 1 (one kernel,
/// one latent, no class labels) and refuses any other.
pub const FORMAT_VERSION: u32 = 2;

/// A model with everything needed to predict from raw CSV columns.
#[derive(Debug, Clone)]
pub struct SavedModel {
    /// The model (in standardised units when scalings are present).
    pub model: Svgp,
    /// Input column names, in model order (length D).
    pub feature_names: Vec<String>,
    /// Target column name.
    pub target_name: String,
    /// Further target columns (several outputs: P = 1 + this many), in output order.
    pub extra_targets: Vec<String>,
    /// Input standardisation fitted on the training data, if any.
    pub input_scaling: Option<Standardiser>,
    /// Target standardisation (regression; one column per output), if any.
    pub target_scaling: Option<Standardiser>,
    /// The label of each class 0..C−1, in class order, for a classifier trained on labelled
    /// targets; `None` when the targets were the class indices themselves (or for regression).
    pub classes: Option<Vec<String>>,
}

#[derive(Serialize, Deserialize)]
struct Scaling {
    mean: Vec<f64>,
    scale: Vec<f64>,
}

/// The model file, version 2: matrices as lists of rows.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFile {
    format: String,
    format_version: u32,
    kernels: Vec<KernelSpec>,
    likelihood: LikelihoodSpec,
    jitter: f64,
    z: Vec<Vec<f64>>,
    latents: Vec<LatentFile>,
    feature_names: Vec<String>,
    target_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    extra_targets: Vec<String>,
    classes: Option<Vec<String>>,
    input_scaling: Option<Scaling>,
    target_scaling: Option<Scaling>,
}

/// One latent's q(v) in a model file.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LatentFile {
    m: Vec<f64>,
    l: Vec<Vec<f64>>,
}

/// The model file, version 1: one kernel and one latent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelFileV1 {
    format: String,
    format_version: u32,
    kernel: KernelSpec,
    likelihood: LikelihoodSpec,
    jitter: f64,
    z: Vec<Vec<f64>>,
    m: Vec<f64>,
    l: Vec<Vec<f64>>,
    feature_names: Vec<String>,
    target_name: String,
    input_scaling: Option<Scaling>,
    target_scaling: Option<Scaling>,
}

impl From<ModelFileV1> for ModelFile {
    fn from(v1: ModelFileV1) -> Self {
        ModelFile {
            format: v1.format,
            format_version: v1.format_version,
            kernels: vec![v1.kernel],
            likelihood: v1.likelihood,
            jitter: v1.jitter,
            z: v1.z,
            latents: vec![LatentFile { m: v1.m, l: v1.l }],
            feature_names: v1.feature_names,
            target_name: v1.target_name,
            extra_targets: Vec::new(),
            classes: None,
            input_scaling: v1.input_scaling,
            target_scaling: v1.target_scaling,
        }
    }
}

fn rows(a: &DMatrix<f64>) -> Vec<Vec<f64>> {
    (0..a.nrows())
        .map(|i| a.row(i).iter().copied().collect())
        .collect()
}

fn invalid(path: &Path, what: &str) -> SvgpError {
    SvgpError::InvalidModelFile {
        path: path.display().to_string(),
        reason: what.to_string(),
    }
}

fn matrix(path: &Path, name: &str, r: &[Vec<f64>], cols: usize) -> Result<DMatrix<f64>> {
    if let Some(i) = r.iter().position(|row| row.len() != cols) {
        return Err(invalid(
            path,
            &format!("{name} row {i} has {} entries, expected {cols}", r[i].len()),
        ));
    }
    if r.iter().flatten().any(|v| !v.is_finite()) {
        return Err(invalid(path, &format!("{name} has a non-finite entry")));
    }
    Ok(DMatrix::from_fn(r.len(), cols, |i, j| r[i][j]))
}

fn scaling(
    path: &Path,
    name: &str,
    s: Option<Scaling>,
    len: usize,
) -> Result<Option<Standardiser>> {
    let Some(s) = s else { return Ok(None) };
    if s.mean.len() != len || s.scale.len() != len {
        return Err(invalid(
            path,
            &format!(
                "{name} has {} means and {} scales, expected {len}",
                s.mean.len(),
                s.scale.len()
            ),
        ));
    }
    if s.mean.iter().any(|v| !v.is_finite()) || s.scale.iter().any(|v| !(v.is_finite() && *v > 0.0))
    {
        return Err(invalid(
            path,
            &format!("{name} must have finite means and positive finite scales"),
        ));
    }
    Ok(Some(Standardiser {
        mean: DVector::from_vec(s.mean),
        scale: DVector::from_vec(s.scale),
    }))
}

impl SavedModel {
    /// Writes the model to `path` atomically: a temporary file in the same folder is written and
    /// flushed to disk, then renamed over `path`. On any failure the earlier file at `path`, if
    /// one exists, is untouched and the temporary file is removed.
    ///
    /// # Errors
    /// `Io { path }` for a failed write or rename.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let json = self.to_json()?;
        write_atomically(path, |w| w.write_all(json.as_bytes()))
    }

    /// The model file's text, exactly as [`SavedModel::save`] writes it (pretty-printed JSON,
    /// every float round-tripping exactly); [`SavedModel::from_json`] reads it back. For
    /// callers that keep models elsewhere than in files (bindings that pickle them, databases).
    ///
    /// # Errors
    /// None in practice (every field serialises); `InvalidModelFile` if serialisation failed.
    pub fn to_json(&self) -> Result<String> {
        let file = ModelFile {
            format: FORMAT.to_string(),
            format_version: FORMAT_VERSION,
            kernels: self.model.kernels().iter().map(|k| k.spec()).collect(),
            likelihood: self.model.likelihood().spec(),
            jitter: self.model.jitter(),
            z: rows(self.model.z()),
            latents: (self.model.qs().iter())
                .map(|q| LatentFile {
                    m: q.m().iter().copied().collect(),
                    l: rows(q.l()),
                })
                .collect(),
            feature_names: self.feature_names.clone(),
            target_name: self.target_name.clone(),
            extra_targets: self.extra_targets.clone(),
            classes: self.classes.clone(),
            input_scaling: self.input_scaling.as_ref().map(|s| Scaling {
                mean: s.mean.as_slice().to_vec(),
                scale: s.scale.as_slice().to_vec(),
            }),
            target_scaling: self.target_scaling.as_ref().map(|s| Scaling {
                mean: s.mean.as_slice().to_vec(),
                scale: s.scale.as_slice().to_vec(),
            }),
        };
        serde_json::to_string_pretty(&file)
            .map_err(|e| invalid(Path::new("(in memory)"), &e.to_string()))
    }

    /// Reads and validates a model file: format and version, shapes (Z is M×D with D the
    /// kernel's input dimension and the number of feature names, m has M entries, L is M×M lower
    /// triangular with a positive diagonal), finiteness, and the scalings' lengths.
    ///
    /// # Errors
    /// `Io` if the file cannot be read; `InvalidModelFile { path, reason }` for anything else.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| io_error(path, &e.to_string()))?;
        Self::from_json(&text, path)
    }

    /// Parses and validates model-file text; `path` names it in error messages.
    ///
    /// # Errors
    /// `InvalidModelFile { path, reason }`, as [`SavedModel::load`].
    pub fn from_json(text: &str, path: &Path) -> Result<Self> {
        let header: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(path, &format!("not JSON: {e}")))?;
        if header.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(invalid(
                path,
                "not an svgp model file (its format field is not svgp-model)",
            ));
        }
        let file: ModelFile = match header.get("format_version").and_then(|v| v.as_u64()) {
            Some(1) => serde_json::from_value::<ModelFileV1>(header)
                .map_err(|e| invalid(path, &e.to_string()))?
                .into(),
            Some(v) if v == u64::from(FORMAT_VERSION) => {
                serde_json::from_value(header).map_err(|e| invalid(path, &e.to_string()))?
            }
            Some(v) => {
                return Err(invalid(
                    path,
                    &format!("format version {v}; this svgp reads versions 1 to {FORMAT_VERSION}"),
                ))
            }
            None => return Err(invalid(path, "missing format_version")),
        };
        file.into_saved(path)
    }
}

impl ModelFile {
    /// The validated model this file describes; `path` names it in errors.
    fn into_saved(self, path: &Path) -> Result<SavedModel> {
        let d = self.feature_names.len();
        let z = matrix(path, "z", &self.z, d)?;
        let num_inducing = z.nrows();
        if num_inducing == 0 {
            return Err(invalid(path, "z has no rows"));
        }
        let qs = (self.latents.iter().enumerate())
            .map(|(k, latent)| latent.q(path, k, num_inducing))
            .collect::<Result<Vec<_>>>()?;
        let kernels = (self.kernels.iter().enumerate())
            .map(|(k, spec)| kernel(path, k, spec, d))
            .collect::<Result<Vec<_>>>()?;
        let likelihood = self
            .likelihood
            .build()
            .map_err(|e| invalid(path, &format!("likelihood: {e}")))?;
        check_classes(path, self.classes.as_deref(), likelihood.num_classes())?;
        let outputs = likelihood.num_outputs();
        if self.extra_targets.len() + 1 != outputs {
            return Err(invalid(
                path,
                &format!(
                    "{} target names for a likelihood of {outputs} outputs",
                    self.extra_targets.len() + 1
                ),
            ));
        }
        let model = Svgp::with_qs(kernels, likelihood, z, qs, self.jitter)
            .map_err(|e| invalid(path, &e.to_string()))?;
        Ok(SavedModel {
            model,
            feature_names: self.feature_names,
            input_scaling: scaling(path, "input_scaling", self.input_scaling, d)?,
            target_scaling: scaling(path, "target_scaling", self.target_scaling, outputs)?,
            target_name: self.target_name,
            extra_targets: self.extra_targets,
            classes: self.classes,
        })
    }
}

impl LatentFile {
    /// Latent k's q, with M inducing points.
    fn q(&self, path: &Path, k: usize, num_inducing: usize) -> Result<VariationalQ> {
        let l = matrix(path, &format!("latent {k} l"), &self.l, num_inducing)?;
        if self.l.len() != num_inducing || self.m.len() != num_inducing {
            return Err(invalid(
                path,
                &format!(
                    "latent {k}: m has {} entries and l {} rows, expected {num_inducing}",
                    self.m.len(),
                    self.l.len()
                ),
            ));
        }
        if self.m.iter().any(|v| !v.is_finite()) {
            return Err(invalid(
                path,
                &format!("latent {k}: m has a non-finite entry"),
            ));
        }
        let m = DVector::from_vec(self.m.clone());
        VariationalQ::new(m, l).map_err(|e| invalid(path, &format!("latent {k} q(v): {e}")))
    }
}

/// Kernel k built from its spec, checked to take the file's D inputs.
fn kernel(
    path: &Path,
    k: usize,
    spec: &KernelSpec,
    d: usize,
) -> Result<Box<dyn crate::kernel::Kernel>> {
    let kernel = spec
        .build()
        .map_err(|e| invalid(path, &format!("kernel {k}: {e}")))?;
    if kernel.input_dim() != d {
        return Err(invalid(
            path,
            &format!(
                "kernel {k} input dimension {} but {d} feature names",
                kernel.input_dim()
            ),
        ));
    }
    Ok(kernel)
}

/// `InvalidModelFile` unless class labels, if any, are one per class of a classifier, distinct.
fn check_classes(path: &Path, classes: Option<&[String]>, expected: Option<usize>) -> Result<()> {
    let Some(classes) = classes else {
        return Ok(());
    };
    if expected != Some(classes.len()) {
        return Err(invalid(
            path,
            &format!(
                "{} class labels for a likelihood of {} classes",
                classes.len(),
                expected.map_or("no".to_string(), |c| c.to_string())
            ),
        ));
    }
    let distinct: std::collections::BTreeSet<&String> = classes.iter().collect();
    if distinct.len() != classes.len() {
        return Err(invalid(path, "class labels repeat"));
    }
    Ok(())
}

fn io_error(path: &Path, reason: &str) -> SvgpError {
    SvgpError::Io {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}
