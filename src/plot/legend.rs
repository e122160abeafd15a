//! Where a legend goes: the corner of the plotting area that covers the fewest drawn points and
//! lines, so the legend hides as little data as it can.

use super::{err, Drawn};
use crate::tabular::SavedModel;
use plotters::coord::ranged1d::Ranged;
use plotters::element::MultiLineText;
use plotters::prelude::*;

/// The labels of C classes: the model's saved labels (the target column's values when it was
/// fitted), or "⟨target⟩ = k" for k = 0, …, C − 1 when it has none or a different number.
pub(super) fn class_labels(saved: &SavedModel, c: usize) -> Vec<String> {
    let target = &saved.target_name;
    saved
        .classes
        .clone()
        .filter(|labels| labels.len() == c)
        .unwrap_or_else(|| (0..c).map(|k| format!("{target} = {k}")).collect())
}

/// Spacing in pixels of the samples taken along a line when counting what a legend covers.
const SAMPLE_SPACING: f64 = 4.0;

/// Pixels kept free around a legend, for markers centred just outside it.
const CLEARANCE: i32 = 6;

/// The four corners a legend may take, in order of preference on ties.
const CORNERS: [SeriesLabelPosition; 4] = [
    SeriesLabelPosition::UpperRight,
    SeriesLabelPosition::UpperLeft,
    SeriesLabelPosition::LowerRight,
    SeriesLabelPosition::LowerLeft,
];

/// The corner of a `area` (width, height) pixel plotting area where a `legend` (width, height)
/// box placed as plotters places it (5 px from both edges) covers the fewest samples of `paths`
/// (pixel polylines relative to the area's upper-left corner; a single point is a path of one
/// point, a line is sampled every [`SAMPLE_SPACING`] pixels). Ties go to the upper right, then
/// the upper left, the lower right and the lower left.
pub(super) fn emptiest_corner(
    paths: &[Vec<(i32, i32)>],
    area: (i32, i32),
    legend: (i32, i32),
) -> SeriesLabelPosition {
    let samples: Vec<(f64, f64)> = paths.iter().flat_map(|p| sample_path(p)).collect();
    let covered = |corner: &SeriesLabelPosition| {
        let (x0, y0) = corner_origin(corner, area, legend);
        let inside = |&&(x, y): &&(f64, f64)| {
            let (x, y) = (x as i32, y as i32);
            (x0 - CLEARANCE..=x0 + legend.0 + CLEARANCE).contains(&x)
                && (y0 - CLEARANCE..=y0 + legend.1 + CLEARANCE).contains(&y)
        };
        samples.iter().filter(inside).count()
    };
    CORNERS
        .into_iter()
        .enumerate()
        .min_by_key(|(k, corner)| (covered(corner), *k))
        .map_or(SeriesLabelPosition::UpperRight, |(_, corner)| corner)
}

/// The upper-left pixel of a `legend` box at `corner` of `area`, as plotters lays it out.
fn corner_origin(corner: &SeriesLabelPosition, area: (i32, i32), legend: (i32, i32)) -> (i32, i32) {
    let right = area.0 - legend.0 - 5;
    let lower = area.1 - legend.1 - 5;
    match corner {
        SeriesLabelPosition::UpperLeft => (5, 5),
        SeriesLabelPosition::LowerRight => (right, lower),
        SeriesLabelPosition::LowerLeft => (5, lower),
        _ => (right, 5),
    }
}

/// The vertices of `path` and points every [`SAMPLE_SPACING`] pixels between them.
fn sample_path(path: &[(i32, i32)]) -> Vec<(f64, f64)> {
    let mut samples: Vec<(f64, f64)> = path.iter().map(|&(x, y)| (x as f64, y as f64)).collect();
    for pair in path.windows(2) {
        let (a, b) = (
            (pair[0].0 as f64, pair[0].1 as f64),
            (pair[1].0 as f64, pair[1].1 as f64),
        );
        let steps = ((b.0 - a.0).hypot(b.1 - a.1) / SAMPLE_SPACING).floor() as usize;
        samples.extend((1..steps).map(|k| {
            let t = k as f64 / steps as f64;
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        }));
    }
    samples
}

/// Draws the chart's series labels (`labels`, in the order the series were labelled) with a
/// white, bordered background in the corner that covers least of `paths` (polylines in data
/// coordinates; a single point is a path of one point).
pub(super) fn draw_legend<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    paths: &[Vec<(f64, f64)>],
    labels: &[&str],
) -> Drawn
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let pixels: Vec<Vec<(i32, i32)>> = paths
        .iter()
        .map(|p| {
            p.iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|c| chart.backend_coord(c))
                .map(|(x, y)| (x - xs.start, y - ys.start))
                .collect()
        })
        .collect();
    let area = (xs.end - xs.start, ys.end - ys.start);
    let corner = emptiest_corner(&pixels, area, legend_size(labels)?);
    chart
        .configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// The pixel size plotters gives a legend of `labels` (its default 12 px font, 30 px for the
/// symbols, 10 px margins).
fn legend_size(labels: &[&str]) -> Result<(i32, i32), String> {
    let mut text = MultiLineText::<_, &str>::new((0, 0), ("sans-serif", 12));
    for label in labels {
        text.push_line(*label);
    }
    let (w, h) = text.estimate_dimension().map_err(err)?;
    Ok((w + 30 + 20, h + 20))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AREA: (i32, i32) = (800, 500);
    const LEGEND: (i32, i32) = (150, 60);

    /// Points clustered in every corner but one: the legend takes the empty one.
    #[test]
    fn legend_takes_the_corner_without_points() {
        let near = |x: i32, y: i32| (0..10).map(move |k| vec![(x + k, y + k)]);
        let upper_left = near(20, 20);
        let upper_right = near(700, 20);
        let lower_right = near(700, 450);
        let lower_left = near(20, 450);
        let all = |skip: usize| -> Vec<Vec<(i32, i32)>> {
            [
                upper_right.clone().collect::<Vec<_>>(),
                upper_left.clone().collect(),
                lower_right.clone().collect(),
                lower_left.clone().collect(),
            ]
            .into_iter()
            .enumerate()
            .filter(|(k, _)| *k != skip)
            .flat_map(|(_, p)| p)
            .collect()
        };
        for (skip, corner) in CORNERS.iter().enumerate() {
            assert_eq!(&emptiest_corner(&all(skip), AREA, LEGEND), corner, "{skip}");
        }
    }

    /// A line crossing the upper right corner with no vertex inside it still counts there: a
    /// rising line from the lower left to the upper right sends the legend to the upper left.
    #[test]
    fn lines_are_counted_between_their_vertices() {
        let diagonal = vec![vec![(0, 500), (800, 0)]];
        assert_eq!(
            emptiest_corner(&diagonal, AREA, LEGEND),
            SeriesLabelPosition::UpperLeft
        );
        assert_eq!(
            emptiest_corner(&[], AREA, LEGEND),
            SeriesLabelPosition::UpperRight
        );
    }
}
