//! The settings of a tabular fit, one schema for every front door: each enumerated setting
//! (likelihood, kernel family, ξ) has one set of names, parsed by `FromStr` and written by
//! `Display`, and [`FitOptions`] holds them with the numeric settings, their defaults written
//! once in its `Default`, serialised through the same names. The command line, the Python
//! package and checkpoints read and write names through these impls only.

use crate::error::{Result, SvgpError};
use crate::kernel::KernelFamily;
use crate::likelihood::{
    Bernoulli, BinaryLink, Gaussian, Heteroscedastic, Likelihood, MultiGaussian, NoiseLink,
    Poisson, PoissonLink, RobustMax, Softmax, StudentT, DEFAULT_DF, DEFAULT_EPSILON,
};
use crate::optim::{HyperSettings, Xi};
use crate::prior::Prior;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// An enumerated setting chosen by name.
pub trait Named: Copy + PartialEq + 'static {
    /// The setting's name, as the front doors call it (`likelihood`, `kernel`,
    /// `parametrisation`).
    const SETTING: &'static str;
    /// Every value, in the order the names are listed.
    const VALUES: &'static [Self];
    /// Further names accepted for a value (never written).
    const ALIASES: &'static [(&'static str, Self)];
    /// The value's name, which `Display` writes and `FromStr` reads back.
    fn name(self) -> &'static str;
}

/// A name that is none of a setting's names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} {value:?}: expected one of {}", quoted(.accepted))]
pub struct UnknownName {
    /// The setting, as [`Named::SETTING`].
    pub setting: &'static str,
    /// The name given.
    pub value: String,
    /// Every name the setting accepts, as [`accepted_names`].
    pub accepted: Vec<&'static str>,
}

/// `'a', 'b' or 'c'`.
fn quoted(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("'{n}'")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Every name `T` accepts: each value's name in [`Named::VALUES`] order, then the aliases.
pub fn accepted_names<T: Named>() -> Vec<&'static str> {
    let names = T::VALUES.iter().map(|v| v.name());
    names.chain(T::ALIASES.iter().map(|(n, _)| *n)).collect()
}

/// The value of `T` named `text` (exactly, case included).
///
/// # Errors
/// [`UnknownName`] naming the setting, `text` and the accepted names.
pub fn parse_name<T: Named>(text: &str) -> std::result::Result<T, UnknownName> {
    let by_name = T::VALUES.iter().copied().find(|v| v.name() == text);
    let by_alias = || T::ALIASES.iter().find(|(n, _)| *n == text).map(|(_, v)| *v);
    by_name.or_else(by_alias).ok_or_else(|| UnknownName {
        setting: T::SETTING,
        value: text.to_string(),
        accepted: accepted_names::<T>(),
    })
}

/// `FromStr` and `Display` through [`Named`].
macro_rules! named_text {
    ($t:ty) => {
        impl std::str::FromStr for $t {
            type Err = UnknownName;
            fn from_str(text: &str) -> std::result::Result<Self, UnknownName> {
                parse_name(text)
            }
        }
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_text!(LikelihoodChoice);
named_text!(KernelFamily);
named_text!(Xi);

/// The likelihoods a table can be fitted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LikelihoodChoice {
    /// Gaussian noise (regression; targets standardised).
    Gaussian,
    /// Bernoulli with probit link (classification, labels 0/1).
    Bernoulli,
    /// Student-t, ν = 3 fixed, learnable scale (robust regression; targets standardised).
    StudentT,
    /// Poisson with exp link (counts; targets kept as they are).
    Poisson,
    /// C classes, one latent GP each, robust-max with ε = 10⁻³ fixed (GPflow's `MultiClass`);
    /// C comes from the data.
    RobustMax,
    /// C classes, one latent GP each, softmax (seeded Monte Carlo expectations); C comes from
    /// the data.
    Softmax,
    /// Heteroscedastic Gaussian y ~ N(f, exp(g)²): two latent GPs, the mean and the log noise
    /// scale (regression; targets standardised).
    Heteroscedastic,
}

impl Named for LikelihoodChoice {
    const SETTING: &'static str = "likelihood";
    const VALUES: &'static [Self] = &[
        Self::Gaussian,
        Self::Bernoulli,
        Self::StudentT,
        Self::Poisson,
        Self::RobustMax,
        Self::Softmax,
        Self::Heteroscedastic,
    ];
    const ALIASES: &'static [(&'static str, Self)] = &[("student-t", Self::StudentT)];
    fn name(self) -> &'static str {
        match self {
            Self::Gaussian => "gaussian",
            Self::Bernoulli => "bernoulli",
            Self::StudentT => "student_t",
            Self::Poisson => "poisson",
            Self::RobustMax => "robustmax",
            Self::Softmax => "softmax",
            Self::Heteroscedastic => "heteroscedastic",
        }
    }
}

impl Named for KernelFamily {
    const SETTING: &'static str = "kernel";
    const VALUES: &'static [Self] = &[
        Self::SquaredExponential,
        Self::Matern12,
        Self::Matern32,
        Self::Matern52,
    ];
    const ALIASES: &'static [(&'static str, Self)] = &[("rbf", Self::SquaredExponential)];
    fn name(self) -> &'static str {
        match self {
            Self::SquaredExponential => "se",
            Self::Matern12 => "matern12",
            Self::Matern32 => "matern32",
            Self::Matern52 => "matern52",
        }
    }
}

impl Named for Xi {
    const SETTING: &'static str = "parametrisation";
    const VALUES: &'static [Self] = &[Self::Natural, Self::Expectation, Self::MeanCholesky];
    const ALIASES: &'static [(&'static str, Self)] = &[];
    fn name(self) -> &'static str {
        match self {
            Self::Natural => "natural",
            Self::Expectation => "expectation",
            Self::MeanCholesky => "meansqrt",
        }
    }
}

impl LikelihoodChoice {
    /// Regression likelihoods have their targets standardised and report RMSE.
    pub fn standardises_targets(self) -> bool {
        matches!(
            self,
            Self::Gaussian | Self::StudentT | Self::Heteroscedastic
        )
    }

    /// Whether the number of classes C, and so the number of latents, comes from the data.
    pub fn is_multiclass(self) -> bool {
        matches!(self, Self::RobustMax | Self::Softmax)
    }

    /// Whether the targets are class indices 0..C−1 (C = 2 for Bernoulli).
    pub fn is_classifier(self) -> bool {
        self.is_multiclass() || self == Self::Bernoulli
    }

    /// The likelihood with its initial parameters (Gaussian σₙ² = 0.1; Student-t scale 0.3,
    /// ν = 3 fixed; probit; exp link; robust-max ε = 10⁻³ fixed; softmax with its default
    /// sample; the exp noise link), for `num_classes` classes when [`Self::is_multiclass`].
    ///
    /// # Errors
    /// `InvalidParameter { name: "num_classes" }` when a multiclass likelihood gets no class
    /// count or fewer than 2.
    pub fn build(self, num_classes: Option<usize>) -> Result<Box<dyn Likelihood>> {
        let classes = || match num_classes {
            Some(c) if c >= 2 => Ok(c),
            _ => Err(SvgpError::InvalidParameter {
                name: "num_classes".into(),
                value: num_classes.map_or(f64::NAN, |c| c as f64),
                reason: "a multiclass likelihood needs targets 0..C−1, C ≥ 2, each class present",
            }),
        };
        Ok(match self {
            Self::Gaussian => Box::new(Gaussian::new(0.1)?),
            Self::Bernoulli => Box::new(Bernoulli::new(BinaryLink::Probit)),
            Self::StudentT => Box::new(StudentT::new(0.3, DEFAULT_DF, false)?),
            Self::Poisson => Box::new(Poisson::new(PoissonLink::Exp)),
            Self::RobustMax => Box::new(RobustMax::new(classes()?, DEFAULT_EPSILON, false)?),
            Self::Softmax => Box::new(Softmax::new(classes()?)?),
            Self::Heteroscedastic => Box::new(Heteroscedastic::new(NoiseLink::Exp)),
        })
    }

    /// The likelihood for P ≥ 2 target columns (several outputs): Gaussian noise per output,
    /// each variance starting at 0.1 as the single-output Gaussian's does.
    ///
    /// # Errors
    /// `InvalidParameter { name: "likelihood" }` for any choice but Gaussian.
    pub fn build_outputs(self, outputs: usize) -> Result<Box<dyn Likelihood>> {
        match self {
            Self::Gaussian => Ok(Box::new(MultiGaussian::new(&vec![0.1; outputs])?)),
            _ => Err(SvgpError::InvalidParameter {
                name: "likelihood".into(),
                value: outputs as f64,
                reason: "several target columns (outputs) need the Gaussian likelihood",
            }),
        }
    }
}

/// Where and how often a fit writes its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpointing {
    /// The checkpoint file (replaced atomically at each write).
    pub path: PathBuf,
    /// Write every this many iterations (≥ 1), and when training stops early.
    pub every: u64,
}

/// Everything a fit needs besides the data; the error for a bad value names the field.
/// `Default` gives every front door's defaults. Serialised (JSON) with the named settings as
/// their names and missing fields at their defaults; the checkpoint, resume and interrupt
/// fields are where and how this run goes, not settings, and are not serialised.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FitOptions {
    /// The likelihood (default Gaussian).
    #[serde(with = "by_name")]
    pub likelihood: LikelihoodChoice,
    /// The kernel family, ARD, initial variance 1 and lengthscales 1 on standardised inputs
    /// (default squared exponential).
    #[serde(with = "by_name")]
    pub kernel: KernelFamily,
    /// One kernel per latent GP, each of `kernel`'s family and initial values, instead of one
    /// shared by all (default false; the same for a single latent).
    pub kernel_per_latent: bool,
    /// M (default 50; must not exceed the number of training rows).
    pub num_inducing: usize,
    /// B (default 256; the full batch when larger than N).
    pub batch_size: usize,
    /// Training iterations (default 1000).
    pub iterations: u64,
    /// ξ (default θ).
    #[serde(with = "by_name")]
    pub xi: Xi,
    /// Constant γ; `None` for the default of the likelihood
    /// ([`crate::optim::Schedule::default_for`]).
    pub gamma: Option<f64>,
    /// Adam's learning rate for hyperparameters and Z (default 0.01).
    pub adam_learning_rate: f64,
    /// Seed of the split, the inducing inputs and the batches (default 0).
    pub seed: u64,
    /// Fraction of rows held out for testing, in [0, 1) (default 0.1).
    pub test_fraction: f64,
    /// A prior on the constrained value of each named hyperparameter, names as
    /// [`crate::model::Svgp::hyper_param_names`] gives them (`kernel.variance`,
    /// `likelihood.noise_variance`, …): MAP training of those (default none; not written when empty).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub priors: BTreeMap<String, Prior>,
    /// Hyperparameters kept at their initial values, by name, Z entries (`z[i,d]`) included
    /// (default none; not written when empty).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub fixed: BTreeSet<String>,
    /// Write a checkpoint this often, and when training stops (default none).
    #[serde(skip)]
    pub checkpoint: Option<Checkpointing>,
    /// Continue from this checkpoint, written by a fit with the same settings on the same data;
    /// `iterations` counts from the start of the original fit (default none).
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Stop at the next iteration boundary when this flag is set, e.g. by a signal handler
    /// (default none); the checkpoint is then written and the full-data passes are skipped.
    #[serde(skip)]
    pub interrupt: Option<&'static std::sync::atomic::AtomicBool>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            likelihood: LikelihoodChoice::Gaussian,
            kernel: KernelFamily::SquaredExponential,
            kernel_per_latent: false,
            num_inducing: 50,
            batch_size: 256,
            iterations: 1000,
            xi: Xi::Natural,
            gamma: None,
            adam_learning_rate: 0.01,
            seed: 0,
            test_fraction: 0.1,
            priors: BTreeMap::new(),
            fixed: BTreeSet::new(),
            checkpoint: None,
            resume: None,
            interrupt: None,
        }
    }
}

impl FitOptions {
    /// The priors and fixed hyperparameters, as the trainer takes them.
    pub fn hyper_settings(&self) -> HyperSettings {
        HyperSettings {
            priors: self.priors.clone(),
            fixed: self.fixed.clone(),
        }
    }
}

/// Serde of a [`Named`] setting as its name.
mod by_name {
    use super::{parse_name, Named};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the value's name.
    pub fn serialize<T: Named, S: Serializer>(
        value: &T,
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(value.name())
    }

    /// Reads a name; the error is [`super::UnknownName`]'s message.
    pub fn deserialize<'de, T: Named, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<T, D::Error> {
        let text = String::deserialize(d)?;
        parse_name(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value of `T` is written as a name that reads back as it, the names are distinct,
    /// and every alias reads as its value.
    fn round_trips<T: Named + std::fmt::Display + std::str::FromStr + std::fmt::Debug>() {
        for v in T::VALUES {
            let text = v.to_string();
            assert_eq!(parse_name::<T>(&text), Ok(*v), "{text}");
        }
        for (alias, v) in T::ALIASES {
            assert_eq!(parse_name::<T>(alias), Ok(*v), "{alias}");
        }
        let names = accepted_names::<T>();
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(distinct.len(), names.len(), "{names:?}");
    }

    #[test]
    fn every_name_round_trips_through_from_str_and_display() {
        round_trips::<LikelihoodChoice>();
        round_trips::<KernelFamily>();
        round_trips::<Xi>();
    }

    #[test]
    fn an_unknown_name_is_refused_naming_the_setting_the_value_and_the_names() {
        let e = "cosine".parse::<KernelFamily>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "kernel \"cosine\": expected one of 'se', 'matern12', 'matern32', 'matern52' or 'rbf'"
        );
        let e = "Natural".parse::<Xi>().unwrap_err();
        assert!(e
            .to_string()
            .starts_with("parametrisation \"Natural\": expected one of 'natural'"));
    }

    #[test]
    fn options_serialise_through_the_names_and_read_back() {
        let o = FitOptions {
            likelihood: LikelihoodChoice::StudentT,
            kernel: KernelFamily::Matern32,
            xi: Xi::MeanCholesky,
            gamma: Some(0.25),
            ..FitOptions::default()
        };
        let json = serde_json::to_string(&o).unwrap();
        assert!(json.contains(r#""likelihood":"student_t""#), "{json}");
        assert!(json.contains(r#""kernel":"matern32""#), "{json}");
        assert!(json.contains(r#""xi":"meansqrt""#), "{json}");
        let back: FitOptions = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
    }

    /// Priors and fixed names round-trip through the JSON; without them the JSON has neither
    /// field, as before they existed (so earlier checkpoints' settings still match).
    #[test]
    fn priors_and_fixed_names_round_trip_and_are_omitted_when_empty() {
        let plain = serde_json::to_string(&FitOptions::default()).unwrap();
        assert!(
            !plain.contains("priors") && !plain.contains("fixed"),
            "{plain}"
        );
        let mut o = FitOptions::default();
        o.priors.insert(
            "kernel.variance".into(),
            Prior::LogNormal {
                mu: 0.5,
                sigma: 0.25,
            },
        );
        o.priors.insert(
            "likelihood.noise_variance".into(),
            Prior::HalfNormal { sigma: 0.3 },
        );
        o.fixed.insert("z[0,1]".into());
        o.fixed.insert("kernel.lengthscale[0]".into());
        let json = serde_json::to_string(&o).unwrap();
        assert!(
            json.contains(r#""kernel.variance":{"family":"log_normal","mu":0.5,"sigma":0.25}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""fixed":["kernel.lengthscale[0]","z[0,1]"]"#),
            "{json}"
        );
        let back: FitOptions = serde_json::from_str(&json).unwrap();
        assert_eq!(back.hyper_settings(), o.hyper_settings());
        assert_eq!(serde_json::to_string(&back).unwrap(), json);
        let bad = r#"{"priors": {"kernel.variance": {"family": "cauchy", "scale": 1}}}"#;
        assert!(serde_json::from_str::<FitOptions>(bad).is_err());
    }

    #[test]
    fn missing_fields_read_as_the_defaults_and_bad_names_are_refused() {
        let o: FitOptions = serde_json::from_str(r#"{"kernel": "rbf", "seed": 3}"#).unwrap();
        assert_eq!(o.kernel, KernelFamily::SquaredExponential);
        assert_eq!((o.seed, o.num_inducing, o.xi), (3, 50, Xi::Natural));
        let e = serde_json::from_str::<FitOptions>(r#"{"likelihood": "gamma"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("likelihood \"gamma\": expected one of"),
            "{e}"
        );
        assert!(serde_json::from_str::<FitOptions>(r#"{"inducing": 3}"#).is_err());
    }
}
