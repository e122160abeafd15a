"""Ctrl-C: SIGINT sent to a child process running a long fit stops training at an iteration
boundary, raises KeyboardInterrupt, and leaves a usable model."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

# The child restores Python's own SIGINT handler first: a test runner started in the background
# (`nohup`, `cmd &` without job control) passes SIGINT down ignored, and Python then leaves it so.
CHILD = textwrap.dedent(
    """
    import signal, sys, numpy as np, svgp
    signal.signal(signal.SIGINT, signal.default_int_handler)
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, size=(2000, 3))
    y = np.sin(X[:, 0]) + 0.1 * rng.standard_normal(2000)
    est = svgp.SVGPRegressor(num_inducing=40, max_iter=10**8, batch_size=128)
    print("fitting", flush=True)
    try:
        est.fit(X, y)
    except KeyboardInterrupt:
        mean = est.predict(X)
        assert np.isfinite(mean).all()
        assert 0 < est.n_iter_ < 10**8 and est.stop_reason_ == "interrupted"
        print("interrupted", est.n_iter_, float(np.mean((mean - y) ** 2)), flush=True)
        sys.exit(0)
    sys.exit(3)
    """
)


def test_sigint_stops_a_fit_and_keeps_the_model() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "fitting"
    time.sleep(2.0)
    started = time.monotonic()
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert time.monotonic() - started < 5.0
    words = out.split()
    assert words[0] == "interrupted", out
    assert int(words[1]) > 1
    assert float(words[2]) < 1.0
