//! A line chart as SVG text, for the figures of `reproduce --timing`, whose x axis is seconds
//! (the library's ELBO figure plots against iterations).

use std::fmt::Write;
use std::path::Path;
use svgp::error::{Result, SvgpError};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 460.0;
/// Left, right, top and bottom margins of the plot area.
const MARGIN: [f64; 4] = [95.0, 20.0, 20.0, 55.0];
const COLOURS: [&str; 6] = [
    "#1f4fd1", "#d12a1f", "#1f9d3a", "#a01fd1", "#0fa5b0", "#000000",
];
const TICKS: usize = 5;

/// Writes `series` (label, (x, y) points) as lines on shared linear axes to `path` (SVG),
/// with a legend; non-finite points are skipped.
///
/// # Errors
/// `Io` naming the path if it cannot be written.
pub(super) fn write_lines(
    path: &Path,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> Result<()> {
    let finite = || {
        series
            .iter()
            .flat_map(|(_, p)| p.iter())
            .filter(|(x, y)| x.is_finite() && y.is_finite())
    };
    let x_hi = finite().map(|p| p.0).fold(0.0, f64::max).max(1e-9);
    let (y_lo, y_hi) = finite().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (y_lo, y_hi) = if y_lo < y_hi {
        let pad = 0.05 * (y_hi - y_lo);
        (y_lo - pad, y_hi + pad)
    } else {
        (y_lo - 1.0, y_lo + 1.0)
    };
    let [left, right, top, bottom] = MARGIN;
    let (w, h) = (WIDTH - left - right, HEIGHT - top - bottom);
    let px = |x: f64| left + w * x / x_hi;
    let py = |y: f64| top + h * (y_hi - y) / (y_hi - y_lo);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" \
         fill=\"white\"/>\n<rect x=\"{left}\" y=\"{top}\" width=\"{w}\" height=\"{h}\" \
         fill=\"none\" stroke=\"black\"/>\n"
    );
    for i in 0..=TICKS {
        let f = i as f64 / TICKS as f64;
        let (x, y) = (x_hi * f, y_lo + (y_hi - y_lo) * f);
        let _ = writeln!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <line x1=\"{left}\" x2=\"{:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>",
            px(x),
            top + h + 18.0,
            tick(x),
            left - 6.0,
            py(y) + 4.0,
            tick(y),
            left + w,
            py(y),
            py(y)
        );
    }
    let _ = writeln!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x_label}</text>\
         <text transform=\"translate(18,{:.1}) rotate(-90)\" text-anchor=\"middle\">{y_label}</text>",
        left + w / 2.0,
        HEIGHT - 12.0,
        top + h / 2.0
    );
    for (k, (label, points)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let path_points: Vec<String> = points
            .iter()
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let ly = top + 18.0 + 18.0 * k as f64;
        let _ = writeln!(
            s,
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\
             <line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{ly:.1}\" y2=\"{ly:.1}\" stroke=\"{colour}\" \
             stroke-width=\"2\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            path_points.join(" "),
            left + w - 230.0,
            left + w - 205.0,
            left + w - 198.0,
            ly + 4.0,
            label.replace('&', "&amp;").replace('<', "&lt;")
        );
    }
    s.push_str("</svg>\n");
    std::fs::write(path, s).map_err(|e| SvgpError::Io {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// A tick label: plain for moderate magnitudes, scientific otherwise.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && !(1e-2..1e5).contains(&a) {
        format!("{v:.2e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}
