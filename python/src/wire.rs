//! What travels between the driver and the shards' workers: q's packed as one float64 array
//! per latent (m, then the lower triangle of L column by column: M + M(M+1)/2 numbers), and
//! `DataTerms` as a tuple of numpy arrays (no Python float per number).

use crate::errors::{to_py, value_error};
use nalgebra::{DMatrix, DVector};
use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyList;
use svgp::model::{DataTerms, GradScope};
use svgp::variational::VariationalQ;

/// Packed q's as Python passes them: one array per latent.
pub type PackedQs<'py> = Vec<PyReadonlyArray1<'py, f64>>;

/// The numbers of a packed q with M inducing points.
pub fn packed_len(m: usize) -> usize {
    m + m * (m + 1) / 2
}

/// The q's as packed arrays (a list, one per latent).
pub fn pack_qs<'py>(py: Python<'py>, qs: &[VariationalQ]) -> PyResult<Bound<'py, PyList>> {
    let arrays = qs.iter().map(|q| {
        let (m, l) = (q.m(), q.l());
        let n = m.len();
        let mut packed = Vec::with_capacity(packed_len(n));
        packed.extend_from_slice(m.as_slice());
        for j in 0..n {
            packed.extend_from_slice(&l.as_slice()[j * n + j..(j + 1) * n]);
        }
        PyArray1::from_vec(py, packed)
    });
    PyList::new(py, arrays)
}

/// The hyperparameters and packed q's of the model in `model_json` (a model file's text), as
/// the driver sends them to the workers: to ask a `ShardWorker` about a model on its own.
#[pyfunction]
pub fn model_state<'py>(
    py: Python<'py>,
    model_json: &str,
) -> PyResult<(Vec<f64>, Bound<'py, PyList>)> {
    let saved = svgp::tabular::SavedModel::from_json(model_json, std::path::Path::new("(model)"))
        .map_err(to_py)?;
    let hyper = saved.model.hyper_params().as_slice().to_vec();
    Ok((hyper, pack_qs(py, saved.model.qs())?))
}

/// The q's of packed arrays, for M inducing points (L's upper triangle is zero).
pub fn unpack_qs(qs: &PackedQs<'_>, m: usize) -> PyResult<Vec<VariationalQ>> {
    qs.iter()
        .map(|packed| {
            let packed = packed.as_slice()?;
            if packed.len() != packed_len(m) {
                return Err(value_error(format!(
                    "a packed q has {} numbers; M = {m} needs {}",
                    packed.len(),
                    packed_len(m)
                )));
            }
            let mean = DVector::from_column_slice(&packed[..m]);
            let mut l = DMatrix::zeros(m, m);
            let mut from = m;
            for j in 0..m {
                let len = m - j;
                l.as_mut_slice()[j * m + j..(j + 1) * m].copy_from_slice(&packed[from..from + len]);
                from += len;
            }
            VariationalQ::new(mean, l).map_err(to_py)
        })
        .collect()
}

/// Whether two sets of q's are the same numbers, bit for bit.
pub fn same_qs(a: &[VariationalQ], b: &[VariationalQ]) -> bool {
    let bits = |x: &[f64], y: &[f64]| {
        x.len() == y.len() && x.iter().zip(y).all(|(u, v)| u.to_bits() == v.to_bits())
    };
    a.len() == b.len()
        && a.iter().zip(b).all(|(p, q)| {
            bits(p.m().as_slice(), q.m().as_slice()) && bits(p.l().as_slice(), q.l().as_slice())
        })
}

/// The scope's name as the workers receive it.
pub fn scope_name(scope: GradScope) -> &'static str {
    match scope {
        GradScope::Eta => "eta",
        GradScope::Q => "q",
        GradScope::Hyper => "hyper",
        GradScope::All => "all",
    }
}

/// The scope named `name`.
pub fn scope_of(name: &str) -> PyResult<GradScope> {
    Ok(match name {
        "eta" => GradScope::Eta,
        "q" => GradScope::Q,
        "hyper" => GradScope::Hyper,
        "all" => GradScope::All,
        _ => {
            return Err(value_error(format!(
                "scope {name:?}: expected eta, q, hyper or all"
            )))
        }
    })
}

/// `DataTerms` as a worker returns them: (scope, c Σ ve, d_m arrays or None, d_s arrays
/// (M×M column-major) or None, d_hyper or None).
pub type TermsTuple<'py> = (
    String,
    f64,
    Option<Vec<Bound<'py, PyArray1<f64>>>>,
    Option<Vec<Bound<'py, PyArray1<f64>>>>,
    Option<Bound<'py, PyArray1<f64>>>,
);

/// The terms as a tuple of numpy arrays.
pub fn terms_to_tuple(py: Python<'_>, t: DataTerms) -> TermsTuple<'_> {
    let arrays = |v: Vec<&[f64]>| v.into_iter().map(|x| PyArray1::from_slice(py, x)).collect();
    (
        scope_name(t.scope).to_string(),
        t.ve,
        t.d_m
            .map(|v| arrays(v.iter().map(|x| x.as_slice()).collect())),
        t.d_s
            .map(|v| arrays(v.iter().map(|x| x.as_slice()).collect())),
        t.d_hyper.map(|d| PyArray1::from_slice(py, d.as_slice())),
    )
}

/// A worker's terms as the driver receives them.
pub type TermsIn<'py> = (
    String,
    f64,
    Option<Vec<PyReadonlyArray1<'py, f64>>>,
    Option<Vec<PyReadonlyArray1<'py, f64>>>,
    Option<PyReadonlyArray1<'py, f64>>,
);

/// The terms of a tuple, for M inducing points.
pub fn terms_of_tuple(t: TermsIn<'_>, m: usize) -> PyResult<DataTerms> {
    let sized = |v: &PyReadonlyArray1<'_, f64>, n: usize| -> PyResult<Vec<f64>> {
        let s = v.as_slice()?;
        match s.len() == n {
            true => Ok(s.to_vec()),
            false => Err(value_error(format!(
                "a shard returned {} numbers, expected {n}",
                s.len()
            ))),
        }
    };
    let d_m = t.2.map(|v| {
        v.iter()
            .map(|x| sized(x, m).map(DVector::from_vec))
            .collect::<PyResult<Vec<_>>>()
    });
    let d_s = t.3.map(|v| {
        v.iter()
            .map(|x| sized(x, m * m).map(|x| DMatrix::from_vec(m, m, x)))
            .collect::<PyResult<Vec<_>>>()
    });
    let d_hyper = t.4.map(|d| d.as_slice().map(DVector::from_column_slice));
    Ok(DataTerms {
        scope: scope_of(&t.0)?,
        ve: t.1,
        d_m: d_m.transpose()?,
        d_s: d_s.transpose()?,
        d_hyper: d_hyper.transpose()?,
    })
}
