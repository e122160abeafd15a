#!/usr/bin/env python3
"""Prints the markdown table of results/*.json (the recorded GPflow references)."""

import json
import os

import cases as cs

rows = []
for case in cs.CASES:
    p = os.path.join(cs.RESULTS, f"{case}.json")
    if not os.path.exists(p):
        continue
    with open(p) as fh:
        r = json.load(fh)
    metric = (
        (f"acc {r['test_acc']:.4f}" if "test_acc" in r else f"RMSE {r['test_rmse']:.4f}")
        if not r["failed"]
        else ""
    )
    rows.append(
        f"| {case} | {r['likelihood']} | {r['N_train']}/{r['N_test']} | {r['D']} | {r['M']} | {r['B']} | "
        f"{r['iters']} | {r['gamma']} | {r['adam_lr']} | "
        f"{r.get('test_nlpd', float('nan')):.4f} | {metric} | {r['final_elbo']:.3f} | "
        f"{r.get('train_seconds', float('nan')):.1f} | {r.get('ms_per_iter_median', float('nan')):.2f} | "
        f"{r['load']['other_busy_frac']:.2f} | {r['failed'] or ''} |"
    )
print(
    "| case | likelihood | N train/test | D | M | B | iters | γ | Adam lr | test NLPD | test acc / RMSE | "
    "final ELBO (full train) | train s | ms/iter median | other load | failed |"
)
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
