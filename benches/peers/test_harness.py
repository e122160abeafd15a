"""Checks of the harness's own logic (not of the libraries it times); run by hand with the peers' venv:

    /tmp/peersvenv/bin/python -m pytest benches/peers/test_harness.py      (or: python benches/peers/test_harness.py)

The end-to-end check of matmul_gflops.py runs it on a fake /proc/cpuinfo and needs numpy,
threadpoolctl and torch (the peers' venv); it is skipped where they are missing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import matmul_gflops

AVX2_ONLY = "processor\t: 0\nflags\t\t: fpu sse sse2 ssse3 sse4_1 sse4_2 avx avx2 fma bmi2\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n"
AVX512 = "processor\t: 0\nflags\t\t: fpu sse2 avx avx2 fma avx512f avx512dq avx512bw avx512vl\n"


def fake_cpuinfo(text: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".cpuinfo", delete=False) as fh:
        fh.write(text)
    return fh.name


def test_flags_are_read_from_the_first_processor() -> None:
    flags = matmul_gflops.cpu_flags(fake_cpuinfo(AVX2_ONLY))
    assert "avx2" in flags and "fma" in flags and "avx512f" not in flags
    assert "avx512f" in matmul_gflops.cpu_flags(fake_cpuinfo(AVX512))
    assert matmul_gflops.cpu_flags("/nonexistent/cpuinfo") == set()


def test_skylakex_is_forced_only_with_avx512f() -> None:
    avx2 = matmul_gflops.cpu_flags(fake_cpuinfo(AVX2_ONLY))
    forced, note = matmul_gflops.coretype_to_force("SkylakeX", avx2)
    assert forced is None and "not forced" in note and "avx512f" in note
    forced, note = matmul_gflops.coretype_to_force(
        "SkylakeX", matmul_gflops.cpu_flags(fake_cpuinfo(AVX512))
    )
    assert forced == "SkylakeX" and "forced" in note and "not" not in note
    assert matmul_gflops.coretype_to_force("cooperlake", avx2)[0] is None
    # a family that needs no AVX-512 is passed on as asked; no request forces nothing
    assert matmul_gflops.coretype_to_force("Haswell", avx2)[0] == "Haswell"
    assert matmul_gflops.coretype_to_force(None, avx2)[0] is None


def _run_matmul(cpuinfo_text: str) -> dict[str, object]:
    cmd = [sys.executable, os.path.join(HERE, "matmul_gflops.py"), "--threads", "1", "--reps", "1"]
    cmd += ["--openblas-coretype", "SkylakeX", "--cpuinfo", fake_cpuinfo(cpuinfo_text)]
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def test_matmul_gflops_end_to_end_on_fake_flags() -> None:
    if any(importlib.util.find_spec(m) is None for m in ("numpy", "threadpoolctl", "torch")):
        import pytest

        pytest.skip("needs the peers' venv (numpy, threadpoolctl, torch)")
    no_avx512 = _run_matmul(AVX2_ONLY)
    assert no_avx512["openblas_coretype_forced"] is None
    assert "not forced" in str(no_avx512["openblas_note"])
    with_avx512 = _run_matmul(AVX512)
    assert with_avx512["openblas_coretype_forced"] == "SkylakeX"
    if (
        "avx512f" in matmul_gflops.cpu_flags()
    ):  # the real CPU can run them: OpenBLAS must have taken them
        assert with_avx512["openblas_architecture"] == "SkylakeX"


if __name__ == "__main__":
    import pytest

    sys.exit(pytest.main([__file__, "-q"]))
