"""The training parameters of every front door — the estimators, :class:`svgp.Model` and
:func:`svgp.distributed.fit` — declared once each: name, default, what it may be, one line of
doc. The defaults of the library's settings and the names of its named settings (likelihood,
kernel, parametrisation) come from the Rust library's schema (``FitOptions`` and ``FromStr``),
so Python, the command line and the library accept the same names and start from the same
values.

A class deriving from :class:`Parameters` declares its parameters as annotated class attributes
``name: type = setting(...)``; it gets a keyword-only ``__init__`` that only stores them (with
an explicit ``__signature__``, which scikit-learn's ``get_params`` reads), scikit-learn's
``_parameter_constraints``, and its docstring's ``{parameters}`` filled with their numpydoc
entries. Type checkers see the ``__init__`` through ``dataclass_transform``.
"""

from __future__ import annotations

import inspect
import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, ClassVar, TypeVar

from sklearn.utils._param_validation import Interval, StrOptions

from . import _svgp
from ._core import seed_of

if sys.version_info >= (3, 11):
    from typing import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[type], type]:
        """Python 3.10: the marker only type checkers read."""
        return lambda cls: cls


#: The library's default settings, by the library's field names.
DEFAULTS: dict[str, Any] = json.loads(_svgp.FIT_DEFAULTS)
#: Every name each named setting accepts (the library's ``FromStr``), canonical names first.
NAMES: dict[str, list[str]] = dict(_svgp.SETTING_NAMES)
#: The likelihoods whose targets are class indices 0 … C−1.
CLASS_LIKELIHOODS: tuple[str, ...] = tuple(_svgp.CLASS_LIKELIHOODS)
#: Every likelihood name.
LIKELIHOODS: tuple[str, ...] = tuple(NAMES["likelihood"])
#: The line of a docstring that the parameters' numpydoc entries replace.
MARKER = "    {parameters}"


@dataclass(frozen=True)
class Setting:
    """One parameter: its default, scikit-learn constraints, numpydoc type, one-line doc, and
    the library's field it sets (None for a parameter of Python's alone)."""

    default: Any
    constraints: list[Any]
    kind: str
    doc: str
    field: str | None


@dataclass(frozen=True)
class _Library:
    """The default of the library's field ``field``, resolved by :func:`setting`."""

    field: str


def library(field: str) -> Any:
    """The library's default of ``field`` as a parameter's default: ``setting(default=
    library("iterations"), …)`` takes it from ``FitOptions::default()`` and sets that field."""
    if field not in DEFAULTS:
        raise KeyError(f"the library has no setting {field!r}")
    return _Library(field)


def setting(
    *,
    default: Any,
    doc: str,
    constraints: Sequence[Any] = (),
    kind: str = "",
    choices: Sequence[str] = (),
    field: str | None = None,
) -> Any:
    """A parameter's declaration. ``choices`` are the names a string parameter takes (its
    constraint and numpydoc type); otherwise ``constraints`` and ``kind`` say what it takes.
    ``field`` is the library's field it sets; ``default=library(field)`` implies it."""
    if isinstance(default, _Library):
        field, default = default.field, DEFAULTS[default.field]
    if choices:
        constraints = [StrOptions(set(choices))]
        kind = "{" + ", ".join(f'"{c}"' for c in choices) + "}"
    return Setting(default, list(constraints), kind, doc, field)


def _shown(value: Any) -> str:
    """A default as numpydoc shows it: strings in double quotes."""
    return f'"{value}"' if isinstance(value, str) else repr(value)


def parameters_doc(settings: dict[str, Setting]) -> str:
    """The numpydoc entries of ``settings``, indented for a class or function docstring."""
    entries = []
    for name, s in settings.items():
        head = f"    {name} : {s.kind}, default={_shown(s.default)}"
        body = textwrap.fill(s.doc, width=96, initial_indent=" " * 8, subsequent_indent=" " * 8)
        entries.append(f"{head}\n{body}")
    return "\n".join(entries)


def signature_of(settings: dict[str, Setting]) -> list[inspect.Parameter]:
    """Keyword-only parameters with the settings' defaults."""
    kw = inspect.Parameter.KEYWORD_ONLY
    return [inspect.Parameter(n, kw, default=s.default) for n, s in settings.items()]


def _init_of(settings: dict[str, Setting]) -> Callable[..., None]:
    """An ``__init__`` that stores each parameter (its default when not given), refuses any
    other keyword, then calls ``_after_init``."""

    def __init__(self: Parameters, **kwargs: Any) -> None:
        unknown = [k for k in kwargs if k not in settings]
        if unknown:
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}"
            )
        for name, s in settings.items():
            setattr(self, name, kwargs.get(name, s.default))
        self._after_init()

    self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [self_parameter, *signature_of(settings)], return_annotation=None
    )
    return __init__


@dataclass_transform(kw_only_default=True, eq_default=False, field_specifiers=(setting,))
class Parameters:
    """Base of the classes that take the training parameters (see the module's doc)."""

    _settings: ClassVar[dict[str, Setting]] = {}
    _parameter_constraints: ClassVar[dict[str, list[Any]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = {n: v for n, v in vars(cls).items() if isinstance(v, Setting)}
        for name in own:
            delattr(cls, name)
        cls._settings = {**cls._settings, **own}
        cls._parameter_constraints = {n: s.constraints for n, s in cls._settings.items()}
        if own:
            cls.__init__ = _init_of(cls._settings)  # type: ignore[method-assign]
        if cls.__doc__:
            cls.__doc__ = cls.__doc__.replace(MARKER, parameters_doc(cls._settings))

    def _after_init(self) -> None:
        """Called at the end of ``__init__``; a subclass adds its own state here."""


F = TypeVar("F", bound=Callable[..., Any])


def takes_parameters(cls: type[Parameters], exclude: Sequence[str] = ()) -> Callable[[F], F]:
    """A decorator for a function taking ``cls``'s parameters (but ``exclude``) as
    ``**settings``: its signature lists them as keyword-only in place of ``**settings``, and
    its docstring's ``{parameters}`` is filled with their entries."""
    settings = {n: s for n, s in cls._settings.items() if n not in exclude}

    def decorate(f: F) -> F:
        sig = inspect.signature(f)
        params = [p for p in sig.parameters.values() if p.kind != p.VAR_KEYWORD]
        positional = [p for p in params if p.kind != p.KEYWORD_ONLY]
        keywords = [p for p in params if p.kind == p.KEYWORD_ONLY]
        f.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[*positional, *signature_of(settings), *keywords]
        )
        f.__doc__ = (f.__doc__ or "").replace(MARKER, parameters_doc(settings))
        return f

    return decorate


def fit_settings(source: Parameters, likelihood: str, classes: list[str] | None) -> dict[str, Any]:
    """The Rust core's settings, by the library's field names: each parameter of ``source``
    that sets a library field, its ``random_state`` as the library's seed, ``likelihood`` (the
    one ``source`` resolved) and a classifier's class labels."""
    settings = {s.field: getattr(source, name) for name, s in source._settings.items() if s.field}
    settings["seed"] = seed_of(settings["seed"])
    settings["likelihood"] = likelihood
    settings["classes"] = classes
    return settings


class TrainingParameters(Parameters):
    """The parameters every front door takes; each declares its own ``likelihood``."""

    kernel: str = setting(
        default=library("kernel"),
        choices=NAMES["kernel"],
        doc="The stationary kernel, with one lengthscale per input (ARD), initial variance 1 "
        'and lengthscales 1 on the standardised inputs; "rbf" is "se".',
    )
    num_inducing: int = setting(
        default=library("num_inducing"),
        constraints=[Interval(Integral, 1, None, closed="left")],
        kind="int",
        doc="M, the number of inducing inputs, placed by k-means++ on the standardised "
        "inputs; clipped to the number of training rows.",
    )
    batch_size: int = setting(
        default=library("batch_size"),
        constraints=[Interval(Integral, 1, None, closed="left")],
        kind="int",
        doc="B, the minibatch size (the full batch when B >= N).",
    )
    max_iter: int = setting(
        default=library("iterations"),
        constraints=[Interval(Integral, 0, None, closed="left")],
        kind="int",
        doc="Training iterations (one natural step on q and one Adam step each).",
    )
    parametrisation: str = setting(
        default=library("xi"),
        choices=NAMES["parametrisation"],
        doc="ξ, the parametrisation of the natural-gradient step: θ, η or (m, L).",
    )
    gamma: float | None = setting(
        default=library("gamma"),
        constraints=[Interval(Real, 0, None, closed="neither"), None],
        kind="float or None",
        doc="A constant natural step size; None for the likelihood's default (1 for a "
        "Gaussian likelihood with full batches, where one step is exact; else a ramp "
        "1e-4 → 0.1).",
    )
    adam_lr: float = setting(
        default=library("adam_learning_rate"),
        constraints=[Interval(Real, 0, None, closed="neither")],
        kind="float",
        doc="Adam's learning rate for the kernel, the likelihood and the inducing inputs.",
    )
    random_state: Any = setting(
        default=library("seed"),
        constraints=["random_state"],
        kind="int, RandomState or None",
        doc="Seed of the inducing inputs and the minibatches. An int gives the numbers the "
        "Rust library and the ``svgp`` command line give for that seed.",
    )
    verbose: bool = setting(
        default=False,
        constraints=["boolean"],
        kind="bool",
        doc="Draw a progress line (iteration, ELBO, γ) on stderr.",
    )
