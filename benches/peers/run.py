#!/usr/bin/env python3
"""Side-by-side harness (issue 7): svgp, GPflow 2 and GPyTorch on the same task, in one run.

For each case (M, B) on the peers' reg_8d data (N = 20000 train / 5000 test, D = 8, SE-ARD,
Gaussian likelihood), it runs, one after the other:
  * gpflow_natgrad.py and gpytorch_ngd.py (the peers' scripts, copied here), and
  * the crate's examples/peer_timing.rs (built with cargo --release),
all with the same Z (the first M training rows, written to a file for the crate), the same
minibatch index stream (peers_common.batch_indices, written to a file for the crate), the same
initial values and transforms, natgrad γ, Adam settings, iteration count and thread pinning.
It then prints ms/iter (median over the iterations after --warmup), the ratios svgp/peer, the
GFLOP/s of svgp by the issue's flop count, and the final test NLPD/RMSE of all three with
svgp − GPflow. With --gflops it also measures the machine's f64 matrix-product rate on 1 and
2 threads (matmul_gflops.py).

    /tmp/peersvenv/bin/python benches/peers/run.py            (venv: benches/peers/setup.sh)

Data and per-run files go under --work (default /tmp/svgp-peers); the data are generated there by
make_data.py on first use and checked against the sha256 in data_manifest.json. Every JSON line
(and the machine notes) is appended to <work>/results.jsonl.
"""

import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
LIBS = ("svgp", "gpflow", "gpytorch")


def parse():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--cases",
        default="100x256,500x1024",
        help="comma-separated MxB ('' with --gflops: only that)",
    )
    ap.add_argument("--iters", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=10, help="iterations excluded from the medians")
    ap.add_argument("--gamma", type=float, default=0.1)
    ap.add_argument("--adam-lr", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--repeats",
        type=int,
        default=1,
        help="run the three libraries this many times per case, in rotating order; "
        "the table shows the median of each library's medians and svgp / faster peer by repeat",
    )
    ap.add_argument(
        "--libs",
        default=",".join(LIBS),
        help="subset of svgp,gpflow,gpytorch, in the order of the first repeat",
    )
    ap.add_argument(
        "--gflops",
        action="store_true",
        help="also measure matrix-product GFLOP/s (1 and 2 threads)",
    )
    ap.add_argument("--work", default="/tmp/svgp-peers")
    a = ap.parse_args()
    a.cases = [tuple(int(v) for v in c.split("x")) for c in a.cases.split(",") if c]
    a.libs = [lib for lib in a.libs.split(",") if lib]
    if a.iters - a.warmup < 10:
        ap.error("at least 10 timed iterations after warm-up are needed")
    if a.iters - a.warmup < 50:
        print(
            f"run.py: only {a.iters - a.warmup} timed iterations per run; medians of fewer than 50 "
            "are noisier (meant for large M, issue 18)",
            file=sys.stderr,
        )
    return a


sys.path.insert(0, HERE)
import numpy as np  # the harness only writes files with it; the runs are subprocesses

import peers_common as pc

# Set by setup() when run as a script; time_to_accuracy.py imports the helpers that do not use them
# (log, build_svgp, git, busy_jiffies, run_json, machine).
args = argparse.Namespace()
DATA = RESULTS = ""


def setup() -> None:
    global args, DATA, RESULTS
    args = parse()
    DATA = os.path.join(args.work, "data")
    os.environ["SVGP_PEERS_DATA"] = DATA
    pc.DATA_DIR = DATA
    pc.set_threads(args.threads)
    os.environ["RAYON_NUM_THREADS"] = str(args.threads)
    RESULTS = os.path.join(args.work, "results.jsonl")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def record(obj):
    with open(RESULTS, "a") as fh:
        fh.write(json.dumps(obj) + "\n")


def sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def ensure_data():
    with open(os.path.join(HERE, "data_manifest.json")) as fh:
        manifest = json.load(fh)["datasets"]["reg_8d"]

    def ok():
        for split in ("train", "test"):
            p = os.path.join(DATA, manifest[f"{split}_file"])
            if not os.path.exists(p) or sha256(p) != manifest[f"{split}_sha256"]:
                return False
        return True

    if not ok():
        log(f"generating the peers' data sets into {DATA}")
        subprocess.run(
            [sys.executable, os.path.join(HERE, "make_data.py"), "--out", DATA],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        if not ok():
            sys.exit(
                "reg_8d does not match the sha256 in data_manifest.json (numpy's generator changed?)"
            )


def build_svgp() -> str:
    log("building examples/peer_timing.rs (cargo build --release)")
    out = subprocess.run(
        ["cargo", "build", "--release", "--example", "peer_timing", "--message-format=json"],
        cwd=REPO,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    ).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if (
            msg.get("reason") == "compiler-artifact"
            and msg["target"]["name"] == "peer_timing"
            and msg.get("executable")
        ):
            return str(msg["executable"])
    sys.exit("cargo did not report the peer_timing executable")


def git(*a: str) -> str:
    return subprocess.run(
        ["git", *a], cwd=REPO, check=False, stdout=subprocess.PIPE, text=True
    ).stdout.strip()


def busy_jiffies() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:9]]
    return sum(v), sum(v) - v[3] - v[4]


def run_json(cmd: list[str], check: bool = True) -> dict[str, Any]:
    """Runs cmd; returns its last stdout line as JSON, plus wall time, its CPU time and how busy
    the rest of the machine was meanwhile (other_busy_frac: fraction of all cores). With
    check=False a failed command gives {"error": ...} (its last JSON line, if any, merged in)."""
    r0, (t0, b0), w0 = (
        resource.getrusage(resource.RUSAGE_CHILDREN),
        busy_jiffies(),
        time.perf_counter(),
    )
    p = subprocess.run(cmd, check=False, capture_output=True, text=True)  # checked below
    wall = time.perf_counter() - w0
    r1, (t1, b1) = resource.getrusage(resource.RUSAGE_CHILDREN), busy_jiffies()
    if p.returncode != 0 and check:
        log(p.stderr[-3000:])
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}")
    lines = p.stdout.strip().splitlines()
    try:
        res = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        res = {}
    if p.returncode != 0:
        res.setdefault("error", f"exit {p.returncode}: {p.stderr.strip()[-300:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    ncpu = os.cpu_count() or 1
    sys_busy = (b1 - b0) / max(t1 - t0, 1)
    res["harness"] = {
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "cores_used": round(cpu / wall, 2),
        "other_busy_frac": round(max(0.0, sys_busy - cpu / (wall * ncpu)), 2),
        "loadavg1_after": round(os.getloadavg()[0], 2),
    }
    return res


def case_files(m, b):
    Xtr, _, _, _ = pc.load("reg_8d")
    z_path = os.path.join(args.work, f"z_reg_8d_M{m}.csv")
    np.savetxt(
        z_path,
        Xtr[:m],
        delimiter=",",
        fmt="%.17g",
        comments="",
        header=",".join(f"x{i + 1}" for i in range(Xtr.shape[1])),
    )
    b_path = os.path.join(args.work, f"batches_reg_8d_B{b}_seed0_it{args.iters}.csv")
    np.savetxt(b_path, pc.batch_indices(Xtr.shape[0], b, args.iters, 0), fmt="%d", delimiter=",")
    return z_path, b_path


def commands(m, b, exe, z_path, b_path):
    common = [
        "--M",
        str(m),
        "--B",
        str(b),
        "--iters",
        str(args.iters),
        "--gamma",
        str(args.gamma),
        "--adam-lr",
        str(args.adam_lr),
        "--threads",
        str(args.threads),
        "--warmup",
        str(args.warmup),
    ]
    peer = lambda lib, script: [
        sys.executable,
        os.path.join(HERE, script),
        "--data",
        "reg_8d",
        *common,
        "--trace",
        os.path.join(args.work, f"trace_{lib}_M{m}_B{b}.json"),
    ]
    return {
        "gpflow": peer("gpflow", "gpflow_natgrad.py"),
        "gpytorch": peer("gpytorch", "gpytorch_ngd.py"),
        "svgp": [
            exe,
            "--train",
            os.path.join(DATA, "reg_8d_train.csv"),
            "--test",
            os.path.join(DATA, "reg_8d_test.csv"),
            "--z",
            z_path,
            "--batches",
            b_path,
            "--gamma",
            str(args.gamma),
            "--adam-lr",
            str(args.adam_lr),
            "--warmup",
            str(args.warmup),
        ],
    }


def machine(commit: str) -> dict[str, Any]:
    info = {
        "kind": "machine",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "cpu": pc._cpu_model(),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": [round(v, 2) for v in os.getloadavg()],
        "rustc": subprocess.run(
            ["rustc", "--version"], check=False, stdout=subprocess.PIPE, text=True
        ).stdout.strip(),
    }
    try:
        from importlib.metadata import version

        for p in ("gpflow", "tensorflow-cpu", "gpytorch", "torch", "numpy"):
            info[p] = version(p)
    except Exception as e:  # noqa: BLE001  (versions are notes, not needed to run)
        info["versions_error"] = str(e)
    return info


def gflops():
    import matmul_gflops

    forced, note = matmul_gflops.coretype_to_force("SkylakeX", matmul_gflops.cpu_flags())
    coretypes = (None, "SkylakeX") if forced else (None,)
    rows = []
    for threads in (1, 2):
        for coretype in coretypes:
            cmd = [
                sys.executable,
                os.path.join(HERE, "matmul_gflops.py"),
                "--threads",
                str(threads),
            ]
            if coretype:
                cmd += ["--openblas-coretype", coretype]
            res = run_json(cmd)
            res["kind"] = "matmul"
            record(res)
            rows.append(res)
    print("\n### f64 matrix product, GFLOP/s (best / median of 10)\n")
    if not forced:
        print(
            f"numpy: {note} (the CPU cannot run SkylakeX kernels; only the detected ones are measured)\n"
        )
    print(
        "| threads | numpy BLAS | numpy 2000³ | numpy 500×1024×500 | torch (MKL) 2000³ | torch 500×1024×500 | other load |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        f = lambda k, r=r: f"{r[k]['best_gflops']} / {r[k]['median_gflops']}"
        print(
            f"| {r['threads']} | {r['numpy_blas']} | {f('numpy_square_2000')} | {f('numpy_svgp_500x1024x500')} | "
            f"{f('torch_square_2000')} | {f('torch_svgp_500x1024x500')} | {r['harness']['other_busy_frac']} |"
        )


def main():
    os.makedirs(args.work, exist_ok=True)
    ensure_data()
    exe = build_svgp() if "svgp" in args.libs and args.cases else None
    commit = git("rev-parse", "--short", "HEAD") + (
        "-dirty" if git("status", "--porcelain", "--untracked-files=no") else ""
    )
    info = machine(commit)
    record(info)
    log(json.dumps(info))
    table = []
    for m, b in args.cases:
        z_path, b_path = case_files(m, b)
        cmds = commands(m, b, exe, z_path, b_path)
        runs = {lib: [] for lib in args.libs}
        for rep in range(args.repeats):
            order = args.libs[rep % len(args.libs) :] + args.libs[: rep % len(args.libs)]
            for lib in order:
                log(f"M={m} B={b} {lib} (repeat {rep + 1}/{args.repeats})")
                res = run_json(cmds[lib])
                res.update(kind="run", case=f"M{m}_B{b}", repeat=rep, commit=commit)
                record(res)
                h = res["harness"]
                log(
                    f"  {res.get('ms_per_iter_median', float('nan')):.2f} ms/iter, NLPD {res.get('test_nlpd')}, "
                    f"RMSE {res.get('test_rmse')}, cores used {h['cores_used']}, other load {h['other_busy_frac']}"
                )
                runs[lib].append(res)
        table.append((m, b, runs))
    if table:
        report(info, table)
    if args.gflops:
        gflops()
    log(f"all JSON lines appended to {RESULTS}")


def paired_ratio(runs: dict[str, list[dict]]) -> str:
    """svgp's iteration time over the faster peer's within each repeat, whose runs are adjacent in
    time: "median (min–max)" over the repeats, or "—" without svgp or a peer. Less moved by the
    host's slow and fast phases than the ratio of the libraries' medians over all repeats."""
    peers = [lib for lib in ("gpflow", "gpytorch") if runs.get(lib)]
    if not runs.get("svgp") or not peers:
        return "—"
    ms = lambda lib, i: runs[lib][i]["ms_per_iter_median"]
    reps = min(len(runs[lib]) for lib in ["svgp", *peers])
    r = [ms("svgp", i) / min(ms(lib, i) for lib in peers) for i in range(reps)]
    return f"{np.median(r):.3f} ({min(r):.3f}–{max(r):.3f})"


def report(info, table):
    med = lambda rs, k: float(np.median([r[k] for r in rs]))
    print(
        f"\n{info['date']}, commit {info['commit']}, {info['cpu']} ({info['nproc']} cores), "
        f"{args.threads} threads, {args.iters} iterations (median of the last {args.iters - args.warmup}), "
        f"gamma {args.gamma}, Adam {args.adam_lr}, {args.repeats} repeat(s)\n"
    )
    print("### ms per iteration (median), ratios svgp / peer\n")
    print(
        "| M | B | svgp | GPflow | GPyTorch | svgp/GPflow | svgp/GPyTorch | svgp/faster peer "
        "| svgp/faster peer by repeat: median (range) | svgp GFLOP/s (6BM²+4M³) "
        "| cores used svgp / GPflow / GPyTorch | other load (max) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m, b, runs in table:
        ms = {lib: med(rs, "ms_per_iter_median") for lib, rs in runs.items()}
        cell = lambda lib, ms=ms: f"{ms[lib]:.2f} ms" if lib in ms else "—"
        ratio = lambda lib, ms=ms: (
            f"{ms['svgp'] / ms[lib]:.3f}" if "svgp" in ms and lib in ms else "—"
        )
        peers = [ms[lib] for lib in ("gpflow", "gpytorch") if lib in ms]
        faster = f"{ms['svgp'] / min(peers):.3f}" if "svgp" in ms and peers else "—"
        rate = (
            f"{(6 * b * m * m + 4 * m**3) / (ms['svgp'] * 1e-3) / 1e9:.1f}" if "svgp" in ms else "—"
        )
        cores = " / ".join(
            f"{med([r['harness'] for r in runs[lib]], 'cores_used'):.2f}" if lib in runs else "—"
            for lib in LIBS
        )
        load = max(r["harness"]["other_busy_frac"] for rs in runs.values() for r in rs)
        print(
            f"| {m} | {b} | {cell('svgp')} | {cell('gpflow')} | {cell('gpytorch')} | {ratio('gpflow')} | "
            f"{ratio('gpytorch')} | {faster} | {paired_ratio(runs)} | {rate} | {cores} | {load:.2f} |"
        )
    print(f"\n### final test metrics after {args.iters} iterations (reg_8d, 5000 test rows)\n")
    print(
        "| M | B | NLPD svgp | NLPD GPflow | NLPD GPyTorch | ΔNLPD svgp−GPflow | RMSE svgp | RMSE GPflow | "
        "RMSE GPyTorch | ΔRMSE svgp−GPflow | final ELBO svgp / GPflow / GPyTorch |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for m, b, runs in table:
        last = {lib: rs[-1] for lib, rs in runs.items()}  # metrics are deterministic across repeats
        val = lambda lib, k, last=last: f"{last[lib][k]:.4f}" if lib in last else "—"
        diff = lambda k, last=last: (
            f"{last['svgp'][k] - last['gpflow'][k]:+.1e}"
            if {"svgp", "gpflow"} <= last.keys()
            else "—"
        )
        elbo = " / ".join(f"{last[lib]['final_elbo']:.2f}" if lib in last else "—" for lib in LIBS)
        print(
            f"| {m} | {b} | {val('svgp', 'test_nlpd')} | {val('gpflow', 'test_nlpd')} | {val('gpytorch', 'test_nlpd')} | "
            f"{diff('test_nlpd')} | {val('svgp', 'test_rmse')} | {val('gpflow', 'test_rmse')} | "
            f"{val('gpytorch', 'test_rmse')} | {diff('test_rmse')} | {elbo} |"
        )


if __name__ == "__main__":
    setup()
    main()
