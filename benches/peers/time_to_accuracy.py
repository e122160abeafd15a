#!/usr/bin/env python3
"""Time to accuracy (issue 18, item 1): wall-clock training seconds until the test NLPD is within
--tol (0.01) of a converged value, for svgp, GPflow and GPyTorch, each at its best setting of a
small grid.

Cases (D = 8 and 9, Gaussian likelihood, SE-ARD):
  kin40k   M = 200, B = 256    datasets/kin40k.csv  (40 000 rows)
  protein  M = 500, B = 1024   datasets/protein.csv (45 730 rows)

The three libraries get what run.py gives them for reg_8d: the same split (numpy default_rng(0)
permutation, the first 10 % of it held out, inputs and target standardised by the training rows'
mean and standard deviation), written as CSV to <work>/data; Z = the first M training rows; the
minibatch stream of peers_common.batch_indices (seed 0) for --stream-epochs epochs, cycled; the
same initial values, transforms and thread pinning. Grid (each library, each case):
  natural gradients + Adam: γ in --gammas (0.1, 0.5, 1.0), Adam lr --ng-adam-lr (0.01) on the
      kernel, the noise and Z;
  Adam alone: lr in --adam-lrs (0.01, 0.03) on q (m and the Cholesky factor) and the rest.
Every run evaluates the test NLPD before its first iteration and after every --eval-every
iterations; evaluation time is NOT on the clock (the clock is the sum of the timed iterations:
minibatch gather and the training step, from the second iteration on; the first, which holds
GPflow's tracing and took up to 45 s on a loaded machine, is reported separately). A run
ends when its clock reaches the case's budget or at its first evaluation within --tol of the
reference (unless --no-stop).

The reference (converged) NLPD of a case comes from one long svgp run first (--ref-gamma, Adam
0.01, --ref-seconds): the mean test NLPD of its evaluations in the last 20 % of its clock.
The seconds to accuracy of a run are the clock at its first evaluation with NLPD <= reference +
--tol; a library's best setting is the one that gets there first (else the lowest final NLPD).

    /tmp/peersvenv/bin/python benches/peers/time_to_accuracy.py            (from the repository root)
    /tmp/peersvenv/bin/python benches/peers/time_to_accuracy.py --report-only   (tables and figure again)

Every JSON line goes to <work>/time_to_accuracy.jsonl; the tables are printed as markdown and the
figure is written to --figure (benches/peers/figures/time_to_accuracy.png).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import peers_common as pc
import run as harness  # run.py's helpers: build_svgp, git, run_json, machine, log

LIBS = ("svgp", "gpflow", "gpytorch")
NAMES = {"svgp": "svgp", "gpflow": "GPflow", "gpytorch": "GPyTorch"}
# name: (file in datasets/, M, B)
CASES: dict[str, tuple[str, int, int]] = {
    "kin40k": ("kin40k.csv", 200, 256),
    "protein": ("protein.csv", 500, 1024),
}
Result = dict[str, Any]


def per_case(text: str, cast: type) -> dict[str, Any]:
    """'kin40k=60,protein=90' -> {'kin40k': 60.0, 'protein': 90.0}."""
    out: dict[str, Any] = {}
    for item in text.split(","):
        if item:
            name, value = item.split("=")
            out[name] = cast(value)
    return out


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--cases", default="kin40k,protein")
    ap.add_argument("--libs", default=",".join(LIBS))
    ap.add_argument(
        "--budget", default="kin40k=60,protein=90", help="training-clock seconds per run"
    )
    ap.add_argument(
        "--ref-seconds", default="kin40k=180,protein=240", help="clock of the svgp reference run"
    )
    ap.add_argument(
        "--eval-every", default="kin40k=25,protein=10", help="iterations between test NLPDs"
    )
    ap.add_argument("--gammas", default="0.1,0.5,1.0")
    ap.add_argument("--ng-adam-lr", type=float, default=0.01)
    ap.add_argument("--adam-lrs", default="0.01,0.03")
    ap.add_argument("--ref-gamma", type=float, default=0.1)
    ap.add_argument("--tol", type=float, default=0.01)
    ap.add_argument("--stream-epochs", type=int, default=50)
    ap.add_argument("--test-fraction", type=float, default=0.1)
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads of every library (1: on a shared, loaded machine 2-thread eager torch spent "
        "most of its time in OpenMP barriers)",
    )
    ap.add_argument("--no-stop", action="store_true", help="run every setting to its budget")
    ap.add_argument("--since", default=None, help="report every invocation from this ISO date on")
    ap.add_argument(
        "--at-svgp-best",
        action="store_true",
        help="run only svgp's best setting of the runs since --since (longer peer budgets)",
    )
    ap.add_argument(
        "--reuse-reference",
        action="store_true",
        help="take each case's reference from the last one in <work>/time_to_accuracy.jsonl",
    )
    ap.add_argument("--work", default="/tmp/svgp-peers")
    ap.add_argument("--figure", default=os.path.join(HERE, "figures", "time_to_accuracy.png"))
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="tables and figure from <work>/time_to_accuracy.jsonl",
    )
    a = ap.parse_args(argv)
    a.cases = [c for c in a.cases.split(",") if c]
    a.libs = [lib for lib in a.libs.split(",") if lib]
    a.budget = per_case(a.budget, float)
    a.ref_seconds = per_case(a.ref_seconds, float)
    a.eval_every = per_case(a.eval_every, int)
    a.gammas = [float(g) for g in a.gammas.split(",") if g]
    a.adam_lrs = [float(v) for v in a.adam_lrs.split(",") if v]
    return a


def settings(a: argparse.Namespace) -> list[dict[str, Any]]:
    grid: list[dict[str, Any]] = [
        {"optimizer": "natgrad", "gamma": g, "lr": a.ng_adam_lr} for g in a.gammas
    ]
    return grid + [{"optimizer": "adam", "gamma": 0.0, "lr": lr} for lr in a.adam_lrs]


def label(s: dict[str, Any]) -> str:
    if s["optimizer"] == "natgrad":
        return f"NG γ={s['gamma']:g} + Adam {s['lr']:g}"
    return f"Adam {s['lr']:g}"


# ---------------------------------------------------------------- data


def split_and_standardise(table: Any, test_fraction: float, seed: int = 0) -> tuple[Any, Any]:
    """Rows of `table` (features then y) -> (train, test), permuted by default_rng(seed), the first
    test_fraction of the permutation held out, every column standardised by the training rows."""
    import numpy as np

    perm = np.random.default_rng(seed).permutation(table.shape[0])
    n_test = round(test_fraction * table.shape[0])
    test, train = table[perm[:n_test]], table[perm[n_test:]]
    mean, std = train.mean(axis=0), train.std(axis=0)
    std[std == 0] = 1.0
    return (train - mean) / std, (test - mean) / std


def prepare(a: argparse.Namespace, case: str) -> dict[str, str]:
    """Writes the case's train/test CSVs, Z and the minibatch stream; returns their paths."""
    import numpy as np

    fname, m, b = CASES[case]
    data = os.path.join(a.work, "data")
    os.makedirs(data, exist_ok=True)
    table = np.loadtxt(
        os.path.join(REPO, "datasets", fname), delimiter=",", skiprows=1, dtype=np.float64
    )
    train, test = split_and_standardise(table, a.test_fraction)
    d = table.shape[1] - 1
    header = ",".join([f"x{i + 1}" for i in range(d)] + ["y"])
    paths = {
        "train": os.path.join(data, f"{case}_train.csv"),
        "test": os.path.join(data, f"{case}_test.csv"),
        "z": os.path.join(a.work, f"z_{case}_M{m}.csv"),
        "batches": os.path.join(a.work, f"batches_{case}_B{b}_seed0_ep{a.stream_epochs}.csv"),
    }
    np.savetxt(paths["train"], train, delimiter=",", fmt="%.17g", header=header, comments="")
    np.savetxt(paths["test"], test, delimiter=",", fmt="%.17g", header=header, comments="")
    np.savetxt(
        paths["z"],
        train[:m, :d],
        delimiter=",",
        fmt="%.17g",
        comments="",
        header=",".join(header.split(",")[:d]),
    )
    n = train.shape[0]
    stream = pc.batch_indices(n, b, a.stream_epochs * (n // b), 0)  # type: ignore[no-untyped-call]
    np.savetxt(paths["batches"], stream, fmt="%d", delimiter=",")
    return paths


# ---------------------------------------------------------------- runs


def command(
    a: argparse.Namespace,
    lib: str,
    case: str,
    s: dict[str, Any],
    paths: dict[str, str],
    exe: str,
    seconds: float,
    target: float | None,
) -> list[str]:
    _, m, b = CASES[case]
    stop = ["--max-seconds", str(seconds)] + (
        [f"--target-nlpd={target!r}"] if target is not None else []
    )
    every = ["--eval-every", str(a.eval_every[case])]
    if lib == "svgp":
        cmd = [
            exe,
            "--train",
            paths["train"],
            "--test",
            paths["test"],
            "--z",
            paths["z"],
            "--batches",
            paths["batches"],
        ]
        cmd += [
            "--gamma",
            str(s["gamma"] or 0.1),
            "--adam-lr",
            str(s["lr"]),
            "--max-iters",
            str(10**9),
        ]
        return cmd + (["--adam-only"] if s["optimizer"] == "adam" else []) + every + stop
    script = "gpflow_natgrad.py" if lib == "gpflow" else "gpytorch_ngd.py"
    cmd = [sys.executable, os.path.join(HERE, script), "--data", case, "--M", str(m), "--B", str(b)]
    cmd += [
        "--iters",
        str(10**9),
        "--gamma",
        str(s["gamma"] or 0.1),
        "--adam-lr",
        str(s["lr"]),
        "--optimizer",
        s["optimizer"],
    ]
    cmd += ["--threads", str(a.threads), "--warmup", "0", "--stream-epochs", str(a.stream_epochs)]
    return cmd + every + stop


def reference_nlpd(curve: Sequence[Sequence[float]]) -> tuple[float, float, float]:
    """(mean NLPD of the evaluations in the last 20 % of the clock, their min, their max)."""
    end = curve[-1][1]
    tail = [row[2] for row in curve if row[1] >= 0.8 * end]
    return sum(tail) / len(tail), min(tail), max(tail)


def seconds_to(curve: Sequence[Sequence[float]], target: float) -> tuple[float, int] | None:
    """(clock seconds, iteration) of the first evaluation at or below target, or None."""
    for row in curve:
        if row[2] <= target:
            return float(row[1]), int(row[0])
    return None


def cpu_seconds_to(curve: Sequence[Sequence[float]], target: float) -> float | None:
    """The training CPU seconds (4th column) at the first evaluation at or below target."""
    for row in curve:
        if row[2] <= target:
            return float(row[3]) if len(row) > 3 else None
    return None


def best_run(runs: list[Result], target: float) -> Result | None:
    """The run that reaches target first; if none does, the one with the lowest final NLPD."""
    ok = [r for r in runs if r.get("curve")]
    reached = [r for r in ok if seconds_to(r["curve"], target) is not None]
    if reached:
        return min(reached, key=lambda r: seconds_to(r["curve"], target)[0])  # type: ignore[index]
    finite = [r for r in ok if r["curve"][-1][2] == r["curve"][-1][2]]
    return min(finite, key=lambda r: r["curve"][-1][2]) if finite else None


def execute(a: argparse.Namespace, out: str) -> None:
    os.makedirs(a.work, exist_ok=True)
    pc.set_threads(a.threads)  # type: ignore[no-untyped-call]
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    os.environ["SVGP_PEERS_DATA"] = os.path.join(a.work, "data")
    exe = harness.build_svgp()
    commit = harness.git("rev-parse", "--short", "HEAD") + (
        "-dirty" if harness.git("status", "--porcelain", "--untracked-files=no") else ""
    )
    info = harness.machine(commit)
    info.update(
        kind="tta_machine",
        uptime_start=uptime().stdout.strip(),
    )
    write(out, info)
    harness.log(json.dumps(info))
    for case in a.cases:
        paths = prepare(a, case)
        ref_setting = {"optimizer": "natgrad", "gamma": a.ref_gamma, "lr": 0.01}
        old = previous_reference(out, case) if a.reuse_reference else None
        if old is not None:
            harness.log(f"{case}: the reference run of {old.get('commit')} reused")
            ref = {**old, "reused": True}
        else:
            harness.log(
                f"{case}: svgp reference run, {label(ref_setting)}, {a.ref_seconds[case]} s"
            )
            cmd = command(a, "svgp", case, ref_setting, paths, exe, a.ref_seconds[case], None)
            ref = harness.run_json(cmd, check=False)
            ref.update(kind="tta_reference", case=case, setting=ref_setting, commit=commit)
        write(out, ref)
        if "error" in ref:
            harness.log(f"  reference failed: {ref['error']}")
            continue
        mean, lo, hi = reference_nlpd(ref["curve"])
        target = mean + a.tol
        harness.log(
            f"  reference NLPD {mean:.4f} (last 20 %: {lo:.4f}–{hi:.4f}), target {target:.4f}"
        )
        grid = settings(a)
        if a.at_svgp_best:
            found = best_run(
                [
                    r
                    for r in load_runs(out, a.since)
                    if r.get("kind") == "tta_run"
                    and r.get("case") == case
                    and r.get("lib") == "svgp"
                ],
                target,
            )
            if found is None:
                harness.log(f"  no svgp run of {case} recorded: --at-svgp-best skips the case")
                continue
            grid = [found["setting"]]
        for s in grid:
            for lib in a.libs:
                harness.log(f"{case} {lib} {label(s)}")
                stop_at = None if a.no_stop else target
                cmd = command(a, lib, case, s, paths, exe, a.budget[case], stop_at)
                res = harness.run_json(cmd, check=False)
                res.update(kind="tta_run", case=case, lib=lib, setting=s, commit=commit)
                res.update(reference=mean, target=target, budget_s=a.budget[case])
                write(out, res)
                hit = seconds_to(res.get("curve") or [], target)
                harness.log(
                    f"  {'error ' + str(res['error'])[:120] if 'error' in res else ''} "
                    f"{f'reached in {hit[0]:.2f} s' if hit else 'not reached'}, "
                    f"iters {res.get('iters')}, load {os.getloadavg()[0]:.2f}, "
                    f"other {res['harness']['other_busy_frac']}"
                )
    end = {
        "kind": "tta_end",
        "uptime_end": uptime().stdout.strip(),
    }
    end["date"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    write(out, end)


def uptime() -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uptime"], check=False, stdout=subprocess.PIPE, text=True)


def previous_reference(path: str, case: str) -> Result | None:
    """The last successful reference run of `case` recorded in `path`."""
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        refs = [json.loads(line) for line in fh if '"tta_reference"' in line]
    ok = [r for r in refs if r.get("case") == case and "error" not in r and r.get("curve")]
    return ok[-1] if ok else None


def write(path: str, obj: Result) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(obj) + "\n")


# ---------------------------------------------------------------- report


def load_runs(path: str, since: str | None = None) -> list[Result]:
    """The JSON lines of the last invocation (from its tta_machine line on), or with `since` (an
    ISO date) those of every invocation that started at or after it."""
    with open(path) as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    starts = [i for i, r in enumerate(rows) if r.get("kind") == "tta_machine"]
    if not starts:
        return rows
    if since is None:
        return rows[starts[-1] :]
    keep, on = [], False
    for r in rows:
        if r.get("kind") == "tta_machine":
            on = str(r.get("date", "")) >= since
        if on:
            keep.append(r)
    return keep


def fmt_s(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def report(a: argparse.Namespace, rows: list[Result]) -> None:
    """Prints the machine notes, the best-setting table and the every-run table; draws the figure."""
    print_header(rows)
    print(
        f"### Seconds to test NLPD within {a.tol:g} of the reference (training clock, evaluations excluded)\n"
    )
    print(
        "| case | M | B | reference NLPD (last 20 %) | library | best setting | seconds | iterations | ms/iter (median) "
        "| first iteration s | eval resolution s | other load | svgp / faster peer "
        "| CPU seconds | svgp / faster peer (CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    best_by_case = {case: best_rows(a, rows, case) for case in a.cases}
    print_every_run(a, rows)
    figure(a, rows, best_by_case)


def print_header(rows: list[Result]) -> None:
    """The machine, commit and load before and after the runs."""
    info = next((r for r in rows if r.get("kind") == "tta_machine"), {})
    end = next((r for r in reversed(rows) if r.get("kind") == "tta_end"), {})
    for r in rows:
        if r.get("kind") in ("tta_machine", "tta_end"):
            print(
                f"<!-- {r['kind']}: {r.get('date', '')} {r.get('uptime_start', r.get('uptime_end'))} -->"
            )
    print(
        f"\n{info.get('date')} to {end.get('date')}, commit {info.get('commit')}, {info.get('cpu')} ({info.get('nproc')} cores)"
    )
    print(f"uptime before: {info.get('uptime_start')}\nuptime after:  {end.get('uptime_end')}\n")


def best_rows(a: argparse.Namespace, rows: list[Result], case: str) -> dict[str, Result]:
    """Prints one case's rows of the best-setting table; returns each library's best run."""
    ref = next(
        (r for r in rows if r.get("kind") == "tta_reference" and r.get("case") == case), None
    )
    if ref is None or "error" in ref:
        return {}
    mean, lo, hi = reference_nlpd(ref["curve"])
    target = mean + a.tol
    _, m, b = CASES[case]
    best: dict[str, Result] = {}
    for lib in a.libs:
        runs = [
            x for x in rows if x.get("kind") == "tta_run" and x["case"] == case and x["lib"] == lib
        ]
        found = best_run(runs, target)
        if found is not None:
            best[lib] = found
    secs = {
        lib: (hit[0] if (hit := seconds_to(r["curve"], target)) else None)
        for lib, r in best.items()
    }
    cpu = {lib: cpu_seconds_to(r["curve"], target) for lib, r in best.items()}
    longest = max(
        (budget(run, a, case) for name, run in best.items() if name != "svgp"), default=0.0
    )
    ratio, ratio_cpu = speed_ratio(secs, longest), speed_ratio(cpu, longest)
    for i, lib in enumerate(lib for lib in a.libs if lib in best):
        r = best[lib]
        hit = seconds_to(r["curve"], target)
        ms = median_ms(r)
        res = a.eval_every[case] * ms / 1e3 if ms else None
        first = f"{r['first_iter_s']:.2f}" if "first_iter_s" in r else "—"
        seconds = (
            fmt_s(hit[0])
            if hit
            else f"not in {budget(r, a, case):g} s (final {r['curve'][-1][2]:.4f})"
        )
        lead = f"| {case} | {m} | {b} | {mean:.4f} ({lo:.4f}–{hi:.4f})" if i == 0 else "|  |  |  | "
        print(
            f"{lead} | {NAMES[lib]} | {label(r['setting'])} | {seconds} | "
            f"{hit[1] if hit else r.get('iters')} | {ms:.2f} | {first} | {fmt_s(res)} | {r['harness']['other_busy_frac']} | "
            f"{ratio if i == 0 else ''} | {fmt_s(cpu.get(lib))} | {ratio_cpu if i == 0 else ''} |"
        )
    return best


def print_every_run(a: argparse.Namespace, rows: list[Result]) -> None:
    """The every-run table: each setting's seconds to the target, or its final NLPD."""
    print(
        "\n### Every run: seconds to the target (— : not reached within the budget; final NLPD)\n"
    )
    print("| case | setting | " + " | ".join(NAMES[lib] for lib in a.libs) + " |")
    print("|---|---|" + "---|" * len(a.libs))
    for case in a.cases:
        runs = [r for r in rows if r.get("kind") == "tta_run" and r.get("case") == case]
        if not runs:
            continue
        for s in settings(a):
            cells = [
                "; ".join(
                    run_text(a, case, r, runs[0]["target"])
                    for r in runs
                    if r["lib"] == lib and r["setting"] == s
                )
                for lib in a.libs
            ]
            print(f"| {case} | {label(s)} | " + " | ".join(cells) + " |")


def run_text(a: argparse.Namespace, case: str, r: Result, target: float) -> str:
    """One run's cell of the every-run table."""
    if "error" in r and not r.get("curve"):
        return f"failed: {str(r['error'])[:60]}"
    hit = seconds_to(r["curve"], target)
    last = r["curve"][-1]
    text = (
        f"{hit[0]:.2f} s ({hit[1]} it.)"
        if hit
        else f"— in {budget(r, a, case):g} s ({last[0]} it., {last[2]:.4f})"
    )
    if "error" in r:
        text += f" (failed at iteration {last[0]}: {str(r['error'])[:50]})"
    return text


def speed_ratio(secs: dict[str, float | None], budget: float) -> str:
    """svgp's seconds over the faster peer's; an upper bound if no peer got there in the budget."""
    own = secs.get("svgp")
    peers = [v for k, v in secs.items() if k != "svgp" and v is not None]
    missed = [k for k, v in secs.items() if k != "svgp" and v is None]
    if own is None:
        return "—"
    if peers:
        return f"{own / min(peers):.3f}"
    if missed:
        return f"< {own / budget:.3f} (no peer within {budget:g} s)"
    return "—"


def budget(r: Result, a: argparse.Namespace, case: str) -> float:
    return float(r.get("budget_s", a.budget[case]))


def median_ms(r: Result) -> float:
    if "ms_per_iter_median" in r:
        return float(r["ms_per_iter_median"])
    curve = r.get("curve") or []
    return 1e3 * curve[-1][1] / max(curve[-1][0], 1) if curve else float("nan")


def figure(
    a: argparse.Namespace, rows: list[Result], best_by_case: dict[str, dict[str, Result]]
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    cases = [c for c in a.cases if best_by_case.get(c)]
    if not cases:
        return
    fig, axes = plt.subplots(2, len(cases), figsize=(6.2 * len(cases), 8.4), squeeze=False)
    colours = {"svgp": "tab:red", "gpflow": "tab:blue", "gpytorch": "tab:green"}
    for col, case in enumerate(cases):
        ref = next(r for r in rows if r.get("kind") == "tta_reference" and r.get("case") == case)
        mean, _, _ = reference_nlpd(ref["curve"])
        _, m, b = CASES[case]
        for row, (x_col, x_label) in enumerate(
            [(1, "training seconds, wall clock"), (3, "training CPU seconds of the process")]
        ):
            ax = axes[row][col]
            for lib, r in best_by_case[case].items():
                pts = [p for p in r["curve"][1:] if len(p) > x_col]
                ax.plot(
                    [p[x_col] for p in pts],
                    [p[2] for p in pts],
                    color=colours[lib],
                    lw=1.3,
                    label=f"{NAMES[lib]}: {label(r['setting'])}",
                )
            ax.axhline(
                mean, color="k", lw=0.8, ls="--", label=f"reference {mean:.3f} (svgp, long run)"
            )
            ax.axhspan(mean - a.tol, mean + a.tol, color="0.8", zorder=0, label=f"± {a.tol:g}")
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel(f"{x_label} (test evaluations excluded)")
            ax.set_ylabel("test NLPD (standardised y)")
            ax.set_title(f"{case}, M = {m}, B = {b}, {a.threads} thread(s)")
            ax.set_ylim(mean - 0.05, mean + 0.5)
            ax.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(a.figure), exist_ok=True)
    fig.savefig(a.figure, dpi=120)
    harness.log(f"figure written to {a.figure}")


def main() -> None:
    a = parse()
    out = os.path.join(a.work, "time_to_accuracy.jsonl")
    if not a.report_only:
        execute(a, out)
    report(a, load_runs(out, a.since))


if __name__ == "__main__":
    main()
