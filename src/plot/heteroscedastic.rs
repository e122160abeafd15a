//! A 1-D heteroscedastic fit, its noise band varying with the input, beside a homoscedastic fit
//! of the same data on the same vertical scale.

use super::fit::{fit_figure, Fit1d};
use super::{err, Drawn};
use super::{render, Figure, SIZE};
use crate::error::Result;
use crate::tabular::{evaluate, SavedModel};
use nalgebra::{DMatrix, DVector};
use plotters::prelude::*;
use std::path::Path;

/// Fit panels side by side, sharing the vertical range.
struct Panels {
    panels: Vec<Fit1d>,
}

impl Figure for Panels {
    fn size(&self) -> (u32, u32) {
        match self.panels.len() {
            0 | 1 => SIZE,
            n => (750 * n as u32, SIZE.1),
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, plotters::coord::Shift>) -> Drawn {
        root.fill(&WHITE).map_err(err)?;
        let range = self
            .panels
            .iter()
            .map(Fit1d::y_range)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), (lo, hi)| {
                (a.min(lo), b.max(hi))
            });
        let areas = root.split_evenly((1, self.panels.len().max(1)));
        for (panel, area) in self.panels.iter().zip(&areas) {
            panel.draw_on(area, range)?;
        }
        root.present().map_err(err)
    }
}

/// The panel of one model, captioned with its kind and its mean NLPD on (`x`, `y`).
fn panel(kind: &str, saved: &SavedModel, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<Fit1d> {
    let nlpd = evaluate(saved, x, y)?.nlpd;
    fit_figure(format!("{kind} (NLPD {nlpd:.3})"), saved, x, y)
}

/// A 1-D heteroscedastic regression fit: the data, the predictive mean, the ±2σ band of the
/// latent f and the ±2σ predictive band of y (f plus the input-dependent noise), and the
/// inducing inputs; with `homoscedastic`, the same for that model (for example a Gaussian fit of
/// the same data) in a second panel on its right, on the same vertical scale. Each panel's
/// title gives the model's mean NLPD on (`x`, `y`). `x` is N×1 raw inputs, `y` N raw targets.
/// Any 1-input regression model is drawn the same way; the noise band varies with x when the
/// model's noise does.
///
/// # Errors
/// `ShapeMismatch` unless each model has one input; `Plot`; model errors.
pub fn heteroscedastic_1d(
    path: impl AsRef<Path>,
    saved: &SavedModel,
    x: &DMatrix<f64>,
    y: &DVector<f64>,
    homoscedastic: Option<&SavedModel>,
) -> Result<()> {
    let mut panels = vec![panel("heteroscedastic", saved, x, y)?];
    if let Some(other) = homoscedastic {
        panels.push(panel("homoscedastic", other, x, y)?);
    }
    render(path.as_ref(), &Panels { panels })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::SquaredExponential;
    use crate::likelihood::{Gaussian, Heteroscedastic, Likelihood, NoiseLink};
    use crate::model::Svgp;
    use crate::variational::VariationalQ;

    /// A 1-input model with inducing inputs −2, 0, 2 and the given likelihood; with two latents,
    /// the noise latent g rises from −2 to 1.5 across them (noise sd from 0.14 to 4.5).
    fn model(likelihood: Box<dyn Likelihood>) -> SavedModel {
        let z = DMatrix::from_column_slice(3, 1, &[-2.0, 0.0, 2.0]);
        let f = VariationalQ::new(
            DVector::from_column_slice(&[-1.0, 0.0, 1.0]),
            DMatrix::identity(3, 3) * 0.1,
        );
        let g = VariationalQ::new(
            DVector::from_column_slice(&[-2.0, 0.0, 1.5]),
            DMatrix::identity(3, 3) * 0.1,
        );
        let qs = [f.unwrap(), g.unwrap()][..likelihood.num_latent()].to_vec();
        let kernel = SquaredExponential::new(1.0, vec![1.0]).unwrap();
        SavedModel {
            model: Svgp::with_qs(vec![Box::new(kernel)], likelihood, z, qs, 1e-6).unwrap(),
            feature_names: vec!["x".into()],
            target_name: "y".into(),
            extra_targets: Vec::new(),
            input_scaling: None,
            target_scaling: None,
            classes: None,
        }
    }

    /// Pixels of a column that are bluish (the bands and the mean line).
    fn blue_in_column(pixels: &[u8], width: usize, column: usize) -> usize {
        (0..SIZE.1 as usize)
            .map(|r| 3 * (r * width + column))
            .filter(|&k| u16::from(pixels[k + 2]) > u16::from(pixels[k]) + 10)
            .count()
    }

    /// Two panels side by side: the heteroscedastic model's band is much taller on the right,
    /// where its noise is larger, than on the left; the homoscedastic model's is about even.
    /// The public function writes a file with or without the comparison.
    #[test]
    fn the_noise_band_follows_the_noise() {
        let hetero = model(Box::new(Heteroscedastic::new(NoiseLink::Exp)));
        let homo = model(Box::new(Gaussian::new(1.0).unwrap()));
        let x = DMatrix::from_fn(40, 1, |i, _| -2.5 + 5.0 * i as f64 / 39.0);
        let y = DVector::from_fn(40, |i, _| {
            let t = x[(i, 0)];
            0.5 * t + (0.2 + (t + 2.5)) * ((i * 13) as f64).sin()
        });
        let figure = Panels {
            panels: vec![
                panel("heteroscedastic", &hetero, &x, &y).unwrap(),
                panel("homoscedastic", &homo, &x, &y).unwrap(),
            ],
        };
        assert_eq!(figure.size(), (1500, 600));
        let pixels = super::super::render_to_buffer(&figure);
        let band = |column| blue_in_column(&pixels, 1500, column);
        let (left, right) = (band(190), band(520));
        assert!(
            right > 3 * left && left > 10,
            "heteroscedastic: {left}, {right}"
        );
        let (left, right) = (band(750 + 190), band(750 + 520));
        let ratio = right as f64 / left as f64;
        assert!(
            (0.7..1.4).contains(&ratio) && left > 50,
            "homoscedastic: {left}, {right}"
        );
        let path = std::env::temp_dir().join(format!("svgp-hetero-{}.png", std::process::id()));
        for other in [None, Some(&homo)] {
            heteroscedastic_1d(&path, &hetero, &x, &y, other).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 10_000);
        }
        let wrong = DMatrix::zeros(40, 2);
        assert!(heteroscedastic_1d(&path, &hetero, &wrong, &y, None).is_err());
    }
}
