//! Test-set metrics: RMSE and mean negative log predictive density (NLPD) for regression;
//! accuracy, NLPD and Brier score for classification; RMSE and NLPD per output as well for several
//! outputs.

use super::Svgp;
use crate::error::{check_targets_shape, Result};
use nalgebra::{DMatrix, DVector};

/// Metrics of a model on a labelled set. Regression fills `rmse`; classification fills
/// `accuracy` and `brier`; both fill `nlpd`; several outputs (P > 1) fill `outputs` too.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Number of points evaluated.
    pub num_points: usize,
    /// −(1/N) Σᵢ log p(yᵢ | data), in nats per point (yᵢ all P targets of point i).
    pub nlpd: f64,
    /// √((1/(NP)) Σᵢ Σₚ (yᵢₚ − E\[yᵢₚ\])²), regression only.
    pub rmse: Option<f64>,
    /// Fraction of points whose most probable class (p(yᵢ = 1) > ½ for a binary likelihood) is
    /// yᵢ, classification only.
    pub accuracy: Option<f64>,
    /// (1/N) Σᵢ (p(yᵢ = 1) − yᵢ)² for a binary likelihood, (1/N) Σᵢ Σ_c (p_c − [yᵢ = c])² for a
    /// C-class one; classification only.
    pub brier: Option<f64>,
    /// Each output's RMSE and NLPD when there are several (P > 1), in output order; empty for one.
    pub outputs: Vec<OutputMetrics>,
}

/// One output's metrics: RMSE of the predictive mean, and the NLPD of the Gaussian predictive
/// N(E\[yₚ\], Var\[yₚ\]) (exact for Gaussian outputs, the several-output likelihood).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputMetrics {
    /// √((1/N) Σᵢ (yᵢₚ − E\[yᵢₚ\])²).
    pub rmse: f64,
    /// −(1/N) Σᵢ log N(yᵢₚ; E\[yᵢₚ\], Var\[yᵢₚ\]).
    pub nlpd: f64,
}

impl Svgp {
    /// Metrics on (`x`: N×D, `y`: N×P column-major): accuracy and Brier score for a
    /// classifier (the binary Brier score (p(yᵢ = 1) − yᵢ)² for a one-probability binary
    /// likelihood, the sum over classes Σ_c (p_c − [yᵢ = c])² for a C-class one), RMSE of the
    /// predictive mean otherwise, and each output's RMSE and NLPD for P > 1. Computed
    /// [`Svgp::chunk_rows`] rows at a time and pooled ([`Metrics::pool`]): memory is a
    /// chunk's, whatever N is.
    ///
    /// # Errors
    /// As [`Svgp::log_predictive_density`].
    pub fn evaluate(&self, x: &DMatrix<f64>, y: &DVector<f64>) -> Result<Metrics> {
        let (n, outputs) = (x.nrows(), self.likelihood().num_outputs());
        check_targets_shape("test targets", n, outputs, y.len())?;
        self.likelihood().check_targets(y)?;
        let mut parts = Vec::new();
        self.predict_chunks(x, self.chunk_rows(), |start, mu, var| {
            let yc = super::chunks::target_rows(y, n, start, mu.nrows());
            parts.push(self.chunk_metrics(&yc, mu, var));
            Ok(())
        })?;
        let empty = || DMatrix::zeros(0, self.num_latent());
        Ok(Metrics::pool(&parts).unwrap_or_else(|| self.chunk_metrics(y, &empty(), &empty())))
    }

    /// Metrics of one chunk of b rows from its targets `y` (b×P column-major) and the latent
    /// marginals there (`mu`, `var`: b×L).
    fn chunk_metrics(&self, y: &DVector<f64>, mu: &DMatrix<f64>, var: &DMatrix<f64>) -> Metrics {
        let likelihood = self.likelihood();
        let lpd = likelihood.log_predictive_density(y, mu, var);
        let (rows, n) = (mu.nrows(), mu.nrows().max(1) as f64);
        let (mean, var) = likelihood.predict_y(mu, var);
        let mut metrics = Metrics {
            num_points: rows,
            nlpd: -lpd.sum() / n,
            rmse: None,
            accuracy: None,
            brier: None,
            outputs: Vec::new(),
        };
        if likelihood.num_classes().is_some() {
            let (correct, squared) = classification_counts(&mean, y);
            metrics.accuracy = Some(correct as f64 / n);
            metrics.brier = Some(squared / n);
            return metrics;
        }
        let outputs = likelihood.num_outputs();
        let truth = DMatrix::from_column_slice(rows, outputs, y.as_slice());
        let squared = (&truth - &mean).norm_squared();
        metrics.rmse = Some((squared / (n * outputs as f64)).sqrt());
        if outputs > 1 {
            metrics.outputs = (0..outputs)
                .map(|p| output_metrics(truth.column(p), mean.column(p), var.column(p)))
                .collect();
        }
        metrics
    }
}

/// One output's RMSE and Gaussian NLPD from its targets and predictive moments (length N each).
fn output_metrics(
    truth: nalgebra::DVectorView<f64>,
    mean: nalgebra::DVectorView<f64>,
    var: nalgebra::DVectorView<f64>,
) -> OutputMetrics {
    let n = truth.len().max(1) as f64;
    let (mut squared, mut nll) = (0.0, 0.0);
    for ((&t, &m), &v) in truth.iter().zip(mean.iter()).zip(var.iter()) {
        squared += (t - m).powi(2);
        nll -= crate::likelihood::special::log_normal_density(t, m, v);
    }
    OutputMetrics {
        rmse: (squared / n).sqrt(),
        nlpd: nll / n,
    }
}

/// The number of points classified correctly and the summed squared error of the probabilities,
/// from `probs` (N×1: p(y = 1); N×C: each class's) and the classes `y`.
fn classification_counts(probs: &DMatrix<f64>, y: &DVector<f64>) -> (usize, f64) {
    if probs.ncols() == 1 {
        let p = probs.column(0);
        let correct = p
            .iter()
            .zip(y.iter())
            .filter(|(p, t)| (**p > 0.5) == (**t == 1.0));
        let squared = p.iter().zip(y.iter()).map(|(p, t)| (p - t).powi(2)).sum();
        return (correct.count(), squared);
    }
    let mut correct = 0;
    let mut squared = 0.0;
    for (i, &t) in y.iter().enumerate() {
        let row = probs.row(i);
        correct += usize::from(row.transpose().argmax().0 as f64 == t);
        squared += row
            .iter()
            .enumerate()
            .map(|(c, p)| (p - f64::from(u8::from(c as f64 == t))).powi(2))
            .sum::<f64>();
    }
    (correct, squared)
}

impl Metrics {
    /// The metrics of the union of disjoint sets from each set's metrics (for a test set
    /// evaluated in chunks): NLPD, accuracy, Brier score and squared error weighted by the sets'
    /// sizes. `None` for no parts or no points.
    pub fn pool(parts: &[Metrics]) -> Option<Metrics> {
        let n: usize = parts.iter().map(|m| m.num_points).sum();
        if n == 0 {
            return None;
        }
        let mean = |f: &dyn Fn(&Metrics) -> Option<f64>| -> Option<f64> {
            parts
                .iter()
                .map(|m| f(m).map(|v| v * m.num_points as f64))
                .sum::<Option<f64>>()
                .map(|s| s / n as f64)
        };
        Some(Metrics {
            num_points: n,
            nlpd: mean(&|m| Some(m.nlpd))?,
            rmse: mean(&|m| m.rmse.map(|r| r * r)).map(f64::sqrt),
            accuracy: mean(&|m| m.accuracy),
            brier: mean(&|m| m.brier),
            outputs: pool_outputs(parts),
        })
    }
}

/// Each output's metrics pooled over `parts` (weighted by size, RMSE through the mean squared
/// error); empty unless every part has the same number of outputs, at least 2.
fn pool_outputs(parts: &[Metrics]) -> Vec<OutputMetrics> {
    let outputs = parts.first().map_or(0, |m| m.outputs.len());
    if parts.iter().any(|m| m.outputs.len() != outputs) {
        return Vec::new();
    }
    let n: f64 = parts.iter().map(|m| m.num_points as f64).sum();
    (0..outputs)
        .map(|p| {
            let mean = |f: &dyn Fn(&OutputMetrics) -> f64| {
                parts
                    .iter()
                    .map(|m| f(&m.outputs[p]) * m.num_points as f64)
                    .sum::<f64>()
                    / n
            };
            OutputMetrics {
                rmse: mean(&|o| o.rmse * o.rmse).sqrt(),
                nlpd: mean(&|o| o.nlpd),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pooling chunks gives the metrics of the whole set: means weighted by size, RMSE through
    /// the mean squared error (exact up to rounding, 1e-15 at these magnitudes).
    #[test]
    fn pooled_metrics_are_size_weighted() {
        let part = |n, nlpd, rmse| Metrics {
            num_points: n,
            nlpd,
            rmse: Some(rmse),
            accuracy: None,
            brier: None,
            outputs: vec![OutputMetrics { rmse, nlpd }; 2],
        };
        let pooled = Metrics::pool(&[part(1, 2.0, 1.0), part(3, -2.0, 3.0)]).unwrap();
        assert_eq!(pooled.num_points, 4);
        assert!((pooled.nlpd - (2.0 - 6.0) / 4.0).abs() < 1e-15);
        assert!((pooled.rmse.unwrap() - (28.0f64 / 4.0).sqrt()).abs() < 1e-15);
        assert_eq!((pooled.accuracy, pooled.brier), (None, None));
        assert_eq!(pooled.outputs.len(), 2);
        assert!((pooled.outputs[1].rmse - pooled.rmse.unwrap()).abs() < 1e-15);
        assert!((pooled.outputs[0].nlpd - pooled.nlpd).abs() < 1e-15);
        assert_eq!(Metrics::pool(&[]), None);
    }
}
