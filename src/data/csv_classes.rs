//! Class labels in a CSV target column, as users have them (`Adelie`, `3`, `yes`), mapped to
//! classes 0..C−1. A label is its cell's trimmed text; a missing cell (empty, `NA`, `N/A`,
//! `NaN`, `?`, or only whitespace) is no label and follows [`super::Missing`].
//!
//! **Class order** of labels found in a file ([`ClassLabels::Auto`]): numerically ascending when
//! every label reads as a finite number (Rust's `f64` syntax: `2`, `-1.5`, `1e3`), so `2` comes
//! before `10`; otherwise byte-lexicographic (as `numpy.unique` and scikit-learn order strings),
//! so `10` < `2` < `cat`. Two labels with different text and the same number (`1` and `1.0`)
//! are refused when ordering numerically. Labels given in class order ([`ClassLabels::Given`],
//! a saved model's) are matched by their exact text.

use crate::error::{Result, SvgpError};
use std::collections::HashMap;

/// The most labels listed in a message about an unknown label.
const LISTED: usize = 10;

/// How the target column is read: a number, or a class label mapped to its class 0..C−1.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ClassLabels {
    /// The target is a number (the default).
    #[default]
    None,
    /// The target holds class labels (any text); the classes are the distinct labels of the
    /// rows read, in the class order of the module docs. Reading needs the whole file
    /// ([`super::CsvOptions::read`]). One label (or none) is not refused here: the fit reports
    /// single-class data.
    Auto,
    /// The target holds class labels, these in class order (as a saved model keeps them); a
    /// label not among them is refused where it is.
    Given(Vec<String>),
}

/// The labels of a target column as its rows are read: each label's index in `labels`, which
/// for [`ClassLabels::Given`] is the class order and for [`ClassLabels::Auto`] the order of
/// first appearance (put into class order by [`Classes::finish`]).
#[derive(Debug, Clone)]
pub(super) struct Classes {
    labels: Vec<String>,
    index: HashMap<String, usize>,
    /// The 1-based line of each label's first cell ([`ClassLabels::Auto`]; empty otherwise).
    first_lines: Vec<u64>,
    /// Whether a label not in `labels` is added (Auto) or refused (Given).
    grows: bool,
}

impl Classes {
    /// The reading state for `option`; `None` for [`ClassLabels::None`].
    ///
    /// # Errors
    /// `InvalidParameter { name: "classes", value: k }` when given label `k` (0-based) is a
    /// missing-cell spelling, has surrounding whitespace or repeats an earlier one, or
    /// `value: 0` when no label is given.
    pub(super) fn new(option: &ClassLabels) -> Result<Option<Self>> {
        let given = match option {
            ClassLabels::None => return Ok(None),
            ClassLabels::Auto => &[][..],
            ClassLabels::Given(labels) => labels.as_slice(),
        };
        let refuse = |k: usize, reason| SvgpError::InvalidParameter {
            name: "classes".into(),
            value: k as f64,
            reason,
        };
        if given.is_empty() && matches!(option, ClassLabels::Given(_)) {
            return Err(refuse(0, "no class labels given"));
        }
        let mut index = HashMap::with_capacity(given.len());
        for (k, label) in given.iter().enumerate() {
            if super::csv_lines::is_missing(label.trim()) || label.trim() != label {
                return Err(refuse(k, "a class label must be trimmed, non-missing text"));
            }
            if index.insert(label.clone(), k).is_some() {
                return Err(refuse(k, "class labels must be distinct"));
            }
        }
        Ok(Some(Classes {
            labels: given.to_vec(),
            index,
            first_lines: Vec::new(),
            grows: matches!(option, ClassLabels::Auto),
        }))
    }

    /// The index of `label` (a trimmed, non-missing cell starting on line `line`), adding it
    /// when labels are found as read; `None` for a label not among given ones.
    pub(super) fn index(&mut self, label: &str, line: u64) -> Option<usize> {
        if let Some(&k) = self.index.get(label) {
            return Some(k);
        }
        if !self.grows {
            return None;
        }
        let k = self.labels.len();
        self.labels.push(label.to_string());
        self.index.insert(label.to_string(), k);
        self.first_lines.push(line);
        Some(k)
    }

    /// The labels known, quoted, in order, the list shortened after [`LISTED`] of them.
    pub(super) fn known(&self) -> String {
        let mut listed: Vec<String> = self
            .labels
            .iter()
            .take(LISTED)
            .map(|l| format!("{l:?}"))
            .collect();
        if self.labels.len() > LISTED {
            listed.push(format!("… ({} more)", self.labels.len() - LISTED));
        }
        listed.join(", ")
    }

    /// The labels in class order, and for each index handed out by [`Classes::index`] its
    /// class. `path` and `column` (1-based) locate errors.
    ///
    /// # Errors
    /// `Csv { path, line, column }` at the first cell of the later of two labels that read as
    /// the same number, when the labels are ordered numerically.
    pub(super) fn finish(self, path: &str, column: usize) -> Result<(Vec<String>, Vec<usize>)> {
        if !self.grows {
            let identity = (0..self.labels.len()).collect();
            return Ok((self.labels, identity));
        }
        let order = class_order(&self.labels).map_err(|(a, b)| {
            let (first, later) = match self.first_lines[a] <= self.first_lines[b] {
                true => (a, b),
                false => (b, a),
            };
            SvgpError::Csv {
                path: path.to_string(),
                line: self.first_lines[later],
                column,
                reason: format!(
                    "class labels {:?} and {:?} (line {}) are the same number",
                    self.labels[later], self.labels[first], self.first_lines[first]
                ),
            }
        })?;
        let mut class_of = vec![0; order.len()];
        for (class, &k) in order.iter().enumerate() {
            class_of[k] = class;
        }
        let labels = order.iter().map(|&k| self.labels[k].clone()).collect();
        Ok((labels, class_of))
    }
}

/// The indices of `labels` in class order (see the module docs): numeric when every label reads
/// as a finite number, else byte-lexicographic.
///
/// # Errors
/// The indices of two labels that read as the same number (numeric order only).
fn class_order(labels: &[String]) -> std::result::Result<Vec<usize>, (usize, usize)> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    let numbers: Option<Vec<f64>> = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    let Some(numbers) = numbers else {
        order.sort_by(|&a, &b| labels[a].as_bytes().cmp(labels[b].as_bytes()));
        return Ok(order);
    };
    order.sort_by(|&a, &b| numbers[a].total_cmp(&numbers[b]));
    match order.windows(2).find(|w| numbers[w[0]] == numbers[w[1]]) {
        Some(w) => Err((w[0], w[1])),
        None => Ok(order),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(labels: &[&str]) -> Vec<String> {
        let owned: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        let order = class_order(&owned).unwrap();
        order.iter().map(|&k| owned[k].clone()).collect()
    }

    #[test]
    fn numbers_order_numerically_and_text_bytewise() {
        assert_eq!(
            ordered(&["10", "2", "-1.5", "1e3"]),
            ["-1.5", "2", "10", "1e3"]
        );
        assert_eq!(ordered(&["10", "cat", "2"]), ["10", "2", "cat"]);
        assert_eq!(ordered(&["b", "B", "a", "Ä"]), ["B", "a", "b", "Ä"]);
        assert_eq!(ordered(&["inf", "1"]), ["1", "inf"]); // not finite: text
    }

    #[test]
    fn equal_numbers_with_different_text_are_reported() {
        let labels: Vec<String> = ["1", "2", "1.0"].iter().map(|l| l.to_string()).collect();
        assert_eq!(class_order(&labels), Err((0, 2)));
        let zeros: Vec<String> = ["-0", "0"].iter().map(|l| l.to_string()).collect();
        assert!(class_order(&zeros).is_err());
    }

    #[test]
    fn given_labels_are_checked() {
        for bad in [vec![], vec!["a", "a"], vec!["a", " b"], vec!["NA"]] {
            let given = ClassLabels::Given(bad.iter().map(|l| l.to_string()).collect());
            assert!(Classes::new(&given).is_err(), "{bad:?}");
        }
        assert!(Classes::new(&ClassLabels::None).unwrap().is_none());
    }

    #[test]
    fn long_label_lists_are_shortened() {
        let given = ClassLabels::Given((0..12).map(|k| k.to_string()).collect());
        let classes = Classes::new(&given).unwrap().unwrap();
        assert_eq!(
            classes.known(),
            "\"0\", \"1\", \"2\", \"3\", \"4\", \"5\", \"6\", \"7\", \"8\", \"9\", … (2 more)"
        );
    }
}
