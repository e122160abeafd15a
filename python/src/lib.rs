//! `svgp._svgp`: the Rust core of the Python package `svgp`, over the library's public API.
//! `fit::fit` trains through `svgp::tabular::fit` with the GIL released, `fitted::Fitted`
//! predicts, scores, saves and plots; the scikit-learn estimators and `svgp.Model` are Python
//! classes (python/svgp/) over these two.

use pyo3::prelude::*;

mod arrays;
mod driver;
mod errors;
mod fit;
mod fitted;
mod record;
mod settings;
mod shard;
mod watch;
mod wire;

/// The module `svgp._svgp`.
#[pymodule]
fn _svgp(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_function(wrap_pyfunction!(fit::fit, m)?)?;
    m.add_class::<fitted::Fitted>()?;
    m.add_class::<shard::ShardWorker>()?;
    m.add_function(wrap_pyfunction!(driver::fit_sharded, m)?)?;
    m.add_function(wrap_pyfunction!(shard::column_moments, m)?)?;
    m.add_function(wrap_pyfunction!(wire::model_state, m)?)?;
    m.add_function(wrap_pyfunction!(shard::read_table, m)?)?;
    m.add("NumericalError", py.get_type::<errors::NumericalError>())?;
    m.add("ModelFileError", py.get_type::<errors::ModelFileError>())?;
    settings::add_schema(m)?;
    m.add("MODEL_FORMAT_VERSION", svgp::tabular::FORMAT_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
