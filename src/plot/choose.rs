//! Which data plot applies to a model: chosen from its likelihood and its number of inputs, the
//! one place the command line and the Python package decide it.

use crate::error::Result;
use crate::likelihood::LikelihoodSpec;
use crate::tabular::SavedModel;
use nalgebra::{DMatrix, DVector};
use std::path::Path;

/// Equal-width probability bins of the calibration diagram.
pub const CALIBRATION_BINS: usize = 10;

/// The plot of a model against data (x: N×D raw inputs, y: N raw targets or class indices, or
/// N×P column-major targets of P outputs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPlot {
    /// Regression with one input: the fit with ±2σ bands ([`super::fit_1d`]).
    Fit1d,
    /// Heteroscedastic regression with one input: the input-dependent noise band
    /// ([`super::heteroscedastic_1d`]).
    Heteroscedastic1d,
    /// Regression with several inputs or several outputs: predicted against observed
    /// ([`super::predicted_vs_observed`]).
    PredictedVsObserved,
    /// Two classes, two inputs: p(y = 1) over the plane ([`super::classification_2d`]).
    Classification2d,
    /// Two classes, other input counts: a calibration diagram ([`super::calibration`]).
    Calibration,
    /// C classes (one latent each), two inputs: the class map ([`super::classification_map_2d`]).
    ClassMap2d,
    /// C classes (one latent each), other input counts: the confusion matrix
    /// ([`super::confusion_matrix`]).
    Confusion,
}

impl DataPlot {
    /// The plot that applies to `saved` with `num_inputs` input columns.
    pub fn choose(saved: &SavedModel, num_inputs: usize) -> Self {
        let likelihood = saved.model.likelihood();
        let two_inputs = num_inputs == 2;
        if likelihood.num_classes().is_some() && saved.model.num_latent() > 1 {
            return if two_inputs {
                DataPlot::ClassMap2d
            } else {
                DataPlot::Confusion
            };
        }
        if likelihood.num_classes() == Some(2) {
            return if two_inputs {
                DataPlot::Classification2d
            } else {
                DataPlot::Calibration
            };
        }
        let heteroscedastic = matches!(likelihood.spec(), LikelihoodSpec::Heteroscedastic(_));
        if likelihood.num_outputs() > 1 {
            return DataPlot::PredictedVsObserved;
        }
        match num_inputs {
            1 if heteroscedastic => DataPlot::Heteroscedastic1d,
            1 => DataPlot::Fit1d,
            _ => DataPlot::PredictedVsObserved,
        }
    }

    /// The plot's name: "fit_1d", "heteroscedastic_1d", "predicted_vs_observed",
    /// "classification_2d", "calibration", "class_map_2d" or "confusion".
    pub fn name(self) -> &'static str {
        match self {
            DataPlot::Fit1d => "fit_1d",
            DataPlot::Heteroscedastic1d => "heteroscedastic_1d",
            DataPlot::PredictedVsObserved => "predicted_vs_observed",
            DataPlot::Classification2d => "classification_2d",
            DataPlot::Calibration => "calibration",
            DataPlot::ClassMap2d => "class_map_2d",
            DataPlot::Confusion => "confusion",
        }
    }

    /// The file name the command line's `--plots DIR` gives it (PNG).
    pub fn file_name(self) -> &'static str {
        match self {
            DataPlot::Fit1d | DataPlot::Heteroscedastic1d => "fit.png",
            DataPlot::PredictedVsObserved => "predicted_vs_observed.png",
            DataPlot::Classification2d | DataPlot::ClassMap2d => "classification.png",
            DataPlot::Calibration => "calibration.png",
            DataPlot::Confusion => "confusion.png",
        }
    }

    /// Writes the plot of `saved` against raw `x` (N×D) and `y` (N) to `path` (PNG or SVG by the
    /// extension).
    ///
    /// # Errors
    /// As the plot's own function.
    pub fn draw(
        self,
        path: &Path,
        saved: &SavedModel,
        x: &DMatrix<f64>,
        y: &DVector<f64>,
    ) -> Result<()> {
        match self {
            DataPlot::Fit1d => super::fit_1d(path, saved, x, y),
            DataPlot::Heteroscedastic1d => super::heteroscedastic_1d(path, saved, x, y, None),
            DataPlot::PredictedVsObserved => super::predicted_vs_observed(path, saved, x, y),
            DataPlot::Classification2d => super::classification_2d(path, saved, x, y),
            DataPlot::Calibration => super::calibration(path, saved, x, y, CALIBRATION_BINS),
            DataPlot::ClassMap2d => super::classification_map_2d(path, saved, x, y),
            DataPlot::Confusion => super::confusion_matrix(path, saved, x, y),
        }
    }
}
