//! Plots (plotters): a 1-D fit (and a heteroscedastic one beside a homoscedastic one), 2-D
//! classification probabilities (two classes) or class regions (C classes), ELBO traces and
//! other line charts, predicted vs observed values, a calibration diagram and a confusion matrix
//! for classification; [`DataPlot`] picks the one that applies to a model. Axes carry the
//! model's column names, legends its class labels, placed in the corner that hides least data. Each function writes PNG or SVG by the file
//! extension; text is drawn with the bundled DejaVu Sans (assets/, its licence beside
//! it), so no system font is needed.

mod calibration;
mod choose;
mod elbo;
mod fit;
mod heteroscedastic;
mod legend;
mod lines;
mod multiclass;
mod ticks;

pub use calibration::calibration;
pub use choose::{DataPlot, CALIBRATION_BINS};
pub use elbo::elbo_traces;
pub use fit::{classification_2d, fit_1d, predicted_vs_observed};
pub use heteroscedastic::heteroscedastic_1d;
pub use lines::{line_chart, LineChart, Scale, Series};
pub use multiclass::{classification_map_2d, confusion_matrix};

use crate::error::{Result, SvgpError};
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Plot size in pixels.
pub const SIZE: (u32, u32) = (900, 600);

/// Font of the axis names (plotters' default is 10 px at this size).
const AXIS_NAME_FONT: (&str, u32) = ("sans-serif", 15);

/// Font of the tick labels.
const TICK_FONT: (&str, u32) = ("sans-serif", 12);

/// What drawing on a plotters area returns: its error as text (plotters' errors are generic
/// over the backend), turned into [`SvgpError::Plot`] with the file's path by [`render`].
type Drawn = std::result::Result<(), String>;

/// A plotters error as text, for [`Drawn`].
fn err(x: impl std::fmt::Debug) -> String {
    format!("{x:?}")
}

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut failed = false;
    ONCE.call_once(|| {
        failed = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_err()
    });
    if failed {
        return Err(SvgpError::Plot {
            path: String::new(),
            reason: "the bundled font did not load".into(),
        });
    }
    Ok(())
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> SvgpError {
    SvgpError::Plot {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// A figure that can draw itself on any plotters backend.
trait Figure {
    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, plotters::coord::Shift>,
    ) -> std::result::Result<(), String>;

    /// The figure's size in pixels.
    fn size(&self) -> (u32, u32) {
        SIZE
    }
}

/// Draws `figure` to a PNG or SVG file chosen by `path`'s extension.
fn render(path: &Path, figure: &impl Figure) -> Result<()> {
    register_font()?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => figure.draw(BitMapBackend::new(path, figure.size()).into_drawing_area()),
        Some("svg") => figure.draw(SVGBackend::new(path, figure.size()).into_drawing_area()),
        _ => Err("the file name must end in .png or .svg".to_string()),
    }
    .map_err(|e| plot_error(path, e))
}

/// Draws `figure` into an RGB buffer of its size (row-major, 3 bytes a pixel), for tests.
#[cfg(test)]
fn render_to_buffer(figure: &impl Figure) -> Vec<u8> {
    register_font().unwrap();
    let size = figure.size();
    let mut buffer = vec![0u8; (size.0 * size.1 * 3) as usize];
    figure
        .draw(BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area())
        .unwrap();
    buffer
}

/// (min, max) of values, padded by 5% (or ±1 around a constant), ignoring non-finite values.
fn padded_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = if hi > lo { 0.05 * (hi - lo) } else { 1.0 };
    (lo - pad, hi + pad)
}
