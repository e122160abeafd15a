//! Tick labels that stay short at any magnitude: plain decimals between 0.01 and 10⁵,
//! `-4.5e8` style beyond, trailing zeros dropped.

/// Significant digits a tick label keeps.
const SIGNIFICANT: i32 = 4;

/// The label of an axis value `v`: "0" for zero; plain decimals with at most four significant
/// digits for 0.01 ≤ |v| < 10⁵ ("-80", "0.25", "12345"); otherwise a mantissa with at most
/// four significant digits and a base-10 exponent ("-4.5e8", "1e-4"). Non-finite values
/// print as Rust prints them.
pub(super) fn tick_label(v: f64) -> String {
    let a = v.abs();
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { v.to_string() };
    }
    if (1e-2..1e5).contains(&a) {
        let decimals = (SIGNIFICANT - 1 - a.log10().floor() as i32).max(0) as usize;
        return trim_zeros(&format!("{v:.decimals$}"));
    }
    let text = format!("{v:.prec$e}", prec = (SIGNIFICANT - 1) as usize);
    match text.split_once('e') {
        Some((mantissa, exponent)) => format!("{}e{exponent}", trim_zeros(mantissa)),
        None => text,
    }
}

/// `text` without trailing zeros after a decimal point (and without the point if nothing
/// follows it).
fn trim_zeros(text: &str) -> String {
    if !text.contains('.') {
        return text.to_string();
    }
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Labels by hand across magnitudes and signs, including the ELBO values that used to print
    /// as "-450000000.0".
    #[test]
    fn labels_are_short_at_every_magnitude() {
        for (v, label) in [
            (0.0, "0"),
            (-450_000_000.0, "-4.5e8"),
            (1.25e6, "1.25e6"),
            (123_456.0, "1.235e5"),
            (99_999.0, "99999"),
            (1000.0, "1000"),
            (-80.0, "-80"),
            (2.5, "2.5"),
            (0.25, "0.25"),
            (0.1 + 0.2, "0.3"),
            (0.0123, "0.0123"),
            (1e-4, "1e-4"),
            (-3.5e-7, "-3.5e-7"),
        ] {
            assert_eq!(tick_label(v), label, "{v}");
        }
    }

    /// Neighbouring ticks of a narrow range far from zero keep distinct labels.
    #[test]
    fn ticks_one_step_apart_differ() {
        for (a, b) in [
            (-450_100_000.0, -450_200_000.0),
            (101.5, 102.0),
            (0.011, 0.012),
        ] {
            assert_ne!(tick_label(a), tick_label(b), "{a} vs {b}");
        }
    }
}
