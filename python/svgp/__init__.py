"""Sparse variational Gaussian processes trained by natural gradients, on a Rust core.

The scikit-learn estimators :class:`SVGPRegressor` and :class:`SVGPClassifier` fit raw
tabular data (inputs, and regression targets, are standardised inside), with natural steps on
q(u) (Salimbeni, Eleftheriadis & Hensman, 2018) and Adam on the kernel, the likelihood and the
inducing inputs. :class:`Model` gives the lower-level controls (likelihood, γ, callbacks per
iteration, latent predictions, the ELBO). Models are saved as the versioned model file of the
``svgp`` command line: :func:`load` reads one, ``model.save(path)`` writes one, and pickling
goes through the same file format.
"""

from ._estimators import SVGPClassifier, SVGPRegressor
from ._model import Model, load, save
from ._svgp import MODEL_FORMAT_VERSION, ModelFileError, NumericalError, __version__

__all__ = [
    "MODEL_FORMAT_VERSION",
    "Model",
    "ModelFileError",
    "NumericalError",
    "SVGPClassifier",
    "SVGPRegressor",
    "__version__",
    "load",
    "save",
]
