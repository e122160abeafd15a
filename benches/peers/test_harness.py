"""Checks of the harness's own logic (not of the libraries it times). ./scripts/test runs them;
by hand, with any Python that has numpy and pytest:

    python -m pytest benches/peers/test_harness.py      (or: python benches/peers/test_harness.py)

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


def test_time_to_accuracy_helpers() -> None:
    import time_to_accuracy as tta

    curve = [(0, 0.0, 1.5), (10, 1.0, 0.9), (20, 2.0, 0.52), (30, 3.0, 0.49), (40, 4.0, 0.51)]
    assert tta.seconds_to(curve, 0.51) == (3.0, 30)
    assert tta.seconds_to(curve, 0.4) is None
    mean, lo, hi = tta.reference_nlpd(
        [(i, float(i), 1.0 if i < 8 else 0.5 + 0.01 * (i - 8)) for i in range(11)]
    )
    assert (lo, hi) == (0.5, 0.52) and abs(mean - 0.51) < 1e-12  # evaluations at clock >= 8 of 10
    fast = {"curve": [(0, 0.0, 2.0), (5, 0.5, 0.6)]}
    slow = {"curve": [(0, 0.0, 2.0), (5, 2.0, 0.6)]}
    low = {"curve": [(0, 0.0, 2.0), (5, 9.0, 0.55)]}
    assert tta.best_run([slow, fast], 0.6) is fast
    assert tta.best_run([slow, low], 0.5) is low  # none reaches: the lowest final NLPD
    assert tta.per_case("kin40k=60,protein=90.5", float) == {"kin40k": 60.0, "protein": 90.5}


def test_report_reads_invocations_since_a_date_and_bounds_the_ratio() -> None:
    import time_to_accuracy as tta

    lines = [
        {"kind": "tta_machine", "date": "2026-01-01T10:00:00+00:00"},
        {"kind": "tta_run", "n": 1},
        {"kind": "tta_machine", "date": "2026-01-01T11:00:00+00:00"},
        {"kind": "tta_run", "n": 2},
        {"kind": "tta_machine", "date": "2026-01-01T12:00:00+00:00"},
        {"kind": "tta_run", "n": 3},
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        fh.write("\n".join(json.dumps(r) for r in lines) + "\n")

    def runs(since: str | None) -> list[int]:
        return [int(r["n"]) for r in tta.load_runs(fh.name, since) if "n" in r]

    assert runs(None) == [3] and runs("2026-01-01T11:00") == [2, 3] and runs("2027") == []
    assert tta.speed_ratio({"svgp": 10.0, "gpflow": 50.0, "gpytorch": 40.0}, 60) == "0.250"
    assert tta.speed_ratio({"svgp": 10.0, "gpflow": None, "gpytorch": None}, 50).startswith(
        "< 0.200"
    )
    assert tta.speed_ratio({"svgp": None, "gpflow": 5.0}, 60) == "—"


def test_paired_ratio_takes_each_repeat_against_its_own_faster_peer() -> None:
    import run

    ms = lambda *values: [{"ms_per_iter_median": v} for v in values]
    runs = {"svgp": ms(1.0, 2.0, 1.5), "gpflow": ms(5.0, 8.0, 6.0), "gpytorch": ms(10.0, 4.0, 7.5)}
    # repeat by repeat: 1/5, 2/4, 1.5/6
    assert run.paired_ratio(runs) == "0.250 (0.200–0.500)"
    assert run.paired_ratio({"svgp": ms(1.0)}) == "—"
    assert run.paired_ratio({"gpflow": ms(1.0), "svgp": []}) == "—"


def test_split_is_a_partition_standardised_by_the_training_rows() -> None:
    import numpy as np

    import time_to_accuracy as tta

    table = np.arange(60.0).reshape(20, 3) ** 1.5
    train, test = tta.split_and_standardise(table, 0.1)
    perm = np.random.default_rng(0).permutation(20)
    rows_train, rows_test = table[perm[2:]], table[perm[:2]]
    mean, std = rows_train.mean(axis=0), rows_train.std(axis=0)
    assert train.shape == (18, 3) and test.shape == (2, 3)
    assert np.allclose(train, (rows_train - mean) / std) and np.allclose(
        test, (rows_test - mean) / std
    )
    assert np.allclose(train.mean(axis=0), 0.0) and np.allclose(train.std(axis=0), 1.0)


def test_batch_stream_cycles_whole_epochs() -> None:
    import peers_common as pc

    idx = pc.batch_indices(100, 30, 3 * (100 // 30), 0)  # type: ignore[no-untyped-call]
    assert idx.shape == (9, 30)
    for epoch in range(3):
        rows = idx[3 * epoch : 3 * epoch + 3].reshape(-1)
        assert len(set(rows.tolist())) == 90  # one permutation per epoch, remainder dropped


if __name__ == "__main__":
    import pytest

    sys.exit(pytest.main([__file__, "-q"]))
