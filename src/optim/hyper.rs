//! Settings of the hyperparameter step beyond Adam's constants: priors on hyperparameters
//! (maximum a posteriori training) and hyperparameters held fixed, each keyed by its name in
//! [`Svgp::hyper_param_names`], resolved against a model into positions (docs/MATH.md §8).
//!
//! A prior p(θ) is on the constrained value θ = T(p) of the unconstrained p that Adam moves, and
//! the objective gains log p(T(p)) + log|T′(p)|: the prior carried to p, a density on p's whole
//! real line, as GPflow 1's `Parameter._build_prior` adds it (GPflow 2 adds the same log-Jacobian
//! when it samples p by HMC, `SamplingHelper`, but not in its MAP loss). Why: the optimiser
//! works in p, and with the Jacobian the objective is the log posterior density of p (up to a
//! constant), so its maximiser is a mode of a proper density in the coordinates being moved;
//! without it a prior whose density grows towards θ → 0 (a half-normal, a gamma with shape
//! below 1) would push p to −∞ with nothing to stop it. The price: the maximiser in θ is the
//! mode of the prior times |T′|, not of the prior alone (for a log-normal on a softplus θ ≫ 1
//! the two agree to O(e^(−θ)); for θ ≪ 1, where T ≈ exp, the log-normal's mode moves from
//! e^(μ−σ²) to e^μ).

use crate::error::{Result, SvgpError};
use crate::model::Svgp;
use crate::prior::Prior;
use crate::transform::Constraint;
use nalgebra::DVector;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Priors and fixed hyperparameters, keyed by the names of [`Svgp::hyper_param_names`]
/// (`kernel.variance`, `kernel.sum[1].lengthscale[0]`, `likelihood.noise_variance`, `z[i,d]`, …).
/// `Default` has neither: plain maximum-ELBO training of every hyperparameter.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HyperSettings {
    /// A prior on the constrained value of each named kernel or likelihood parameter (not on
    /// Z, whose entries are unconstrained positions while every prior has support θ > 0).
    pub priors: BTreeMap<String, Prior>,
    /// Hyperparameters that keep their initial values (any, Z entries included).
    pub fixed: BTreeSet<String>,
}

/// One prior term: the position of its parameter, the prior and the parameter's map.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PriorTerm {
    index: usize,
    prior: Prior,
    constraint: Constraint,
}

/// The priors of a [`HyperSettings`] resolved against a model: Σ over the priors of
/// log p(θ) + log|dθ/dp|, and its gradient with respect to the unconstrained hyperparameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogPrior {
    terms: Vec<PriorTerm>,
}

impl LogPrior {
    /// The priors of `priors` at their positions in `model.hyper_params()`.
    ///
    /// # Errors
    /// `UnknownHyperparameter { setting: "priors" }` for a name the model does not have;
    /// `InvalidParameter { name: "priors[NAME]" }` for a prior on a Z entry;
    /// `InvalidParameter { name: "priors[NAME]: <family>.<parameter>" }` for a bad prior.
    pub fn new(priors: &BTreeMap<String, Prior>, model: &Svgp) -> Result<Self> {
        if priors.is_empty() {
            return Ok(LogPrior::default());
        }
        let names = model.hyper_param_names();
        let constraints = super::constraints::hyper_constraints(model)?;
        let params = model.hyper_params();
        let mut terms = Vec::with_capacity(priors.len());
        for (name, prior) in priors {
            let index = index_of("priors", name, &names, model)?;
            prior.check().map_err(|e| match e {
                SvgpError::InvalidParameter {
                    name: what,
                    value,
                    reason,
                } => SvgpError::InvalidParameter {
                    name: format!("priors[{name}]: {what}"),
                    value,
                    reason,
                },
                other => other,
            })?;
            let constraint = constraints[index];
            if constraint == Constraint::Identity {
                return Err(SvgpError::InvalidParameter {
                    name: format!("priors[{name}]"),
                    value: params[index],
                    reason: "an inducing input is an unconstrained position; priors are on \
                             positive kernel and likelihood parameters",
                });
            }
            terms.push(PriorTerm {
                index,
                prior: *prior,
                constraint,
            });
        }
        Ok(LogPrior { terms })
    }

    /// Whether there is no prior (the value is then 0 and the gradient zero).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Σ log p(θᵢ) + log|dθᵢ/dpᵢ| over the priors at the unconstrained hyperparameters
    /// `params` (in [`Svgp::hyper_params`] order); 0 without priors.
    pub fn value(&self, params: &[f64]) -> f64 {
        self.terms.iter().map(|t| t.value(params[t.index])).sum()
    }

    /// [`LogPrior::value`] and its gradient with respect to `params` (same length, zero where
    /// there is no prior): (d log p/dθ)·(dθ/dp) + d log|dθ/dp|/dp by the chain rule.
    pub fn value_and_grad(&self, params: &[f64]) -> (f64, DVector<f64>) {
        let mut grad = DVector::zeros(params.len());
        let mut value = 0.0;
        for t in &self.terms {
            let p = params[t.index];
            let theta = t.constraint.forward(p);
            value += t.value(p);
            grad[t.index] = t.prior.d_log_density(theta) * t.constraint.derivative(p)
                + t.constraint.d_log_jacobian(p);
        }
        (value, grad)
    }
}

impl PriorTerm {
    /// log p(θ) + log|dθ/dp| at p.
    fn value(&self, p: f64) -> f64 {
        self.prior.log_density(self.constraint.forward(p)) + self.constraint.log_jacobian(p)
    }
}

/// The positions in `model.hyper_params()` of the names in `fixed`, ascending.
///
/// # Errors
/// `UnknownHyperparameter { setting: "fixed" }` for a name the model does not have.
pub fn fixed_positions(fixed: &BTreeSet<String>, model: &Svgp) -> Result<Vec<usize>> {
    let names = model.hyper_param_names();
    let mut positions = fixed
        .iter()
        .map(|name| index_of("fixed", name, &names, model))
        .collect::<Result<Vec<_>>>()?;
    positions.sort_unstable();
    Ok(positions)
}

/// `settings` resolved against `model`: its [`LogPrior`] and [`fixed_positions`].
///
/// # Errors
/// As those two.
pub(super) fn resolve(settings: &HyperSettings, model: &Svgp) -> Result<(LogPrior, Vec<usize>)> {
    let log_prior = LogPrior::new(&settings.priors, model)?;
    Ok((log_prior, fixed_positions(&settings.fixed, model)?))
}

/// The position of `name` among `names` (the model's), or the error naming the setting, the
/// closest names and those accepted.
fn index_of(setting: &'static str, name: &str, names: &[String], model: &Svgp) -> Result<usize> {
    if let Some(i) = names.iter().position(|n| n == name) {
        return Ok(i);
    }
    let mut scored: Vec<(usize, &String)> = names.iter().map(|n| (distance(name, n), n)).collect();
    scored.sort_by_key(|&(d, _)| d);
    let near = (name.chars().count() / 3).max(2);
    let closest = scored.iter().take_while(|(d, _)| *d <= near).take(3);
    let mut accepted: Vec<&str> = names
        .iter()
        .filter(|n| !n.starts_with("z["))
        .map(String::as_str)
        .collect();
    let z = format!(
        "z[i,d] for i < {}, d < {}",
        model.num_inducing(),
        model.input_dim()
    );
    accepted.push(&z);
    Err(SvgpError::UnknownHyperparameter {
        setting,
        name: name.to_string(),
        closest: closest.map(|(_, n)| n.to_string()).collect(),
        accepted: accepted.join(", "),
    })
}

/// The Levenshtein distance between `a` and `b` (insertions, deletions, substitutions).
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances_count_single_character_edits() {
        assert_eq!(distance("kernel.varaince", "kernel.variance"), 2);
        assert_eq!(distance("", "abc"), 3);
        assert_eq!(distance("lengthscale", "lengthscale"), 0);
        assert_eq!(distance("z[0,1]", "z[10,1]"), 1);
    }
}
