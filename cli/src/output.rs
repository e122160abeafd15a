//! What the commands print on standard output: named fields, as one JSON object or as aligned
//! text, and the fields of a fit's summary and of test metrics.

use std::io::Write;
use std::path::Path;
use svgp::model::Metrics;
use svgp::tabular::{FitReport, SavedModel};

/// A named value for the summary of a command: a JSON object's member, or a text line.
pub type Field = (&'static str, serde_json::Value);

/// Prints `fields` as one JSON object or as aligned text (strings unquoted), then, as text only,
/// one line per file written (`saved`, `plot`: JSON carries the files it needs as fields).
///
/// # Errors
/// A failed write to standard output (a closed pipe is handled in `main`).
pub fn print_fields(
    fields: Vec<Field>,
    json: bool,
    files: &[(&str, &Path)],
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        let object: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        writeln!(out, "{}", serde_json::Value::Object(object))?;
    } else {
        for (k, v) in fields {
            for line in text_lines(v) {
                writeln!(out, "{k:>16}: {line}")?;
            }
        }
        for (name, path) in files {
            writeln!(out, "{name:>16}: {}", path.display())?;
        }
    }
    out.flush()
}

/// A field's value as lines of text: strings unquoted, a list of objects one line each (none
/// for an empty list), other lists comma-separated.
fn text_lines(v: serde_json::Value) -> Vec<String> {
    match v {
        serde_json::Value::String(text) => vec![text],
        serde_json::Value::Array(items) if items.iter().all(|i| i.is_object()) => {
            items.iter().map(object_text).collect()
        }
        serde_json::Value::Array(items) => {
            let texts: Vec<String> = items
                .iter()
                .map(|i| i.as_str().map_or(i.to_string(), str::to_string))
                .collect();
            vec![texts.join(",")]
        }
        v => vec![v.to_string()],
    }
}

/// A JSON object as `key=value` pairs (strings unquoted), `target` first.
fn object_text(item: &serde_json::Value) -> String {
    let mut entries: Vec<_> = item.as_object().into_iter().flatten().collect();
    entries.sort_by_key(|(k, _)| k.as_str() != "target");
    let pairs = entries.into_iter().map(|(k, v)| match v {
        serde_json::Value::String(text) => format!("{k}={text}"),
        v => format!("{k}={v}"),
    });
    pairs.collect::<Vec<_>>().join(" ")
}

/// The fields `fit` prints for a report, in order; `seconds` is the command's wall-clock time.
pub fn fit_fields(report: &FitReport, seconds: f64) -> Vec<Field> {
    let mut fields: Vec<Field> = vec![
        ("iterations", report.iterations.into()),
        ("elbo", report.elbo.into()),
        ("seconds", seconds.into()),
        ("train_seconds", report.train_seconds.into()),
        ("num_data", report.num_data.into()),
        ("num_inducing", report.saved.model.num_inducing().into()),
        ("target", target_field(&report.saved)),
        ("features", report.saved.feature_names.clone().into()),
        ("shortened_steps", report.shortened_steps.into()),
        ("stop_reason", format!("{:?}", report.stop_reason).into()),
    ];
    if let Some(path) = &report.checkpoint {
        fields.push(("checkpoint", path.display().to_string().into()));
    }
    if let Some(m) = &report.test {
        fields.extend(test_fields(m, &report.saved));
    }
    fields
}

/// Test metrics as fields: `test_rmse`, `test_accuracy`, `test_nlpd`, `test_brier` (those the
/// likelihood has), then, for several outputs, `test_outputs`: one object per output with its
/// target name, RMSE and NLPD (in the target's units).
pub fn test_fields(m: &Metrics, saved: &SavedModel) -> Vec<Field> {
    let mut fields: Vec<Field> = Vec::new();
    if let Some(r) = m.rmse {
        fields.push(("test_rmse", r.into()));
    }
    if let Some(a) = m.accuracy {
        fields.push(("test_accuracy", a.into()));
    }
    fields.push(("test_nlpd", m.nlpd.into()));
    if let Some(b) = m.brier {
        fields.push(("test_brier", b.into()));
    }
    if !m.outputs.is_empty() {
        let objects = (target_names(saved).zip(&m.outputs))
            .map(|(name, o)| serde_json::json!({ "target": name, "rmse": o.rmse, "nlpd": o.nlpd }));
        fields.push(("test_outputs", objects.collect()));
    }
    fields
}

/// The target column's name, or every target's for several outputs.
fn target_field(saved: &SavedModel) -> serde_json::Value {
    match saved.extra_targets.is_empty() {
        true => saved.target_name.clone().into(),
        false => target_names(saved)
            .map(|t| serde_json::Value::from(t.as_str()))
            .collect(),
    }
}

/// The model's target columns in output order (P names).
pub fn target_names(saved: &SavedModel) -> impl Iterator<Item = &String> {
    std::iter::once(&saved.target_name).chain(&saved.extra_targets)
}

#[cfg(test)]
mod tests {
    use super::text_lines;
    use serde_json::json;

    #[test]
    fn a_list_of_objects_is_one_line_per_object_with_its_target_first() {
        let outputs = json!([{ "rmse": 1.5, "target": "y" }, { "nlpd": -1, "target": "a,b" }]);
        assert_eq!(
            text_lines(outputs),
            ["target=y rmse=1.5", "target=a,b nlpd=-1"]
        );
    }

    #[test]
    fn strings_are_unquoted_other_lists_joined_by_commas_and_an_empty_list_prints_nothing() {
        assert_eq!(text_lines(json!("y")), ["y"]);
        assert_eq!(text_lines(json!(["x1", 2])), ["x1,2"]);
        assert_eq!(text_lines(json!(0.5)), ["0.5"]);
        assert!(text_lines(json!([])).is_empty());
    }
}
