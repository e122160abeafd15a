//! The fit settings as Python passes them, read into the library's `FitOptions` with the
//! library's names (`FromStr` of each named setting, no name table here), and the schema the
//! Python package builds its parameters from: `FIT_DEFAULTS` (the options' defaults as JSON),
//! `SETTING_NAMES` (every accepted name of each named setting) and `CLASS_LIKELIHOODS`.

use crate::errors::value_error;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use svgp::kernel::KernelFamily;
use svgp::optim::Xi;
use svgp::tabular::{accepted_names, FitOptions, LikelihoodChoice, Named};

/// The settings of a fit as Python passes them: the fields of `FitOptions` it sets, by their
/// library names, named settings as text.
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
pub struct Settings {
    likelihood: String,
    kernel: String,
    num_inducing: Option<usize>,
    batch_size: usize,
    iterations: u64,
    xi: String,
    gamma: Option<f64>,
    adam_learning_rate: f64,
    seed: u64,
    /// The class labels of a classifier's targets 0..C−1 (kept in the model file).
    pub classes: Option<Vec<String>>,
}

/// The value `text` names, or `ValueError` naming the setting, the value and the names.
fn parse<T: Named>(text: &str) -> PyResult<T> {
    svgp::tabular::parse_name(text).map_err(|e| value_error(e.to_string()))
}

impl Settings {
    /// The library's options for N rows (M defaults to min(50, N), as `svgp::Estimator`), with
    /// no hold-out.
    pub fn options(&self, n: usize) -> PyResult<FitOptions> {
        if self.gamma.is_some_and(|g| !(g.is_finite() && g > 0.0)) {
            return Err(value_error(format!(
                "gamma = {}: must be finite and positive",
                self.gamma.unwrap_or(f64::NAN)
            )));
        }
        let defaults = FitOptions::default();
        Ok(FitOptions {
            likelihood: parse(&self.likelihood)?,
            kernel: parse(&self.kernel)?,
            num_inducing: self.num_inducing.unwrap_or(n.min(defaults.num_inducing)),
            batch_size: self.batch_size,
            iterations: self.iterations,
            xi: parse(&self.xi)?,
            gamma: self.gamma,
            adam_learning_rate: self.adam_learning_rate,
            seed: self.seed,
            test_fraction: 0.0,
            ..defaults
        })
    }
}

/// Adds `FIT_DEFAULTS`, `SETTING_NAMES` and `CLASS_LIKELIHOODS` to the module.
pub fn add_schema(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let defaults = serde_json::to_string(&FitOptions::default())
        .map_err(|e| value_error(format!("the default settings: {e}")))?;
    m.add("FIT_DEFAULTS", defaults)?;
    let names = PyDict::new(py);
    names.set_item(
        LikelihoodChoice::SETTING,
        accepted_names::<LikelihoodChoice>(),
    )?;
    names.set_item(KernelFamily::SETTING, accepted_names::<KernelFamily>())?;
    names.set_item(Xi::SETTING, accepted_names::<Xi>())?;
    m.add("SETTING_NAMES", names)?;
    let classifiers = LikelihoodChoice::VALUES
        .iter()
        .filter(|l| l.is_classifier());
    let classifiers: Vec<String> = classifiers.map(ToString::to_string).collect();
    m.add("CLASS_LIKELIHOODS", classifiers)?;
    Ok(())
}
