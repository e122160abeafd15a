#!/usr/bin/env python3
"""Prints the table of results/gamma_grid/*.json: final full-training ELBO after 150 iterations of
constant gamma, or the iteration at which GPflow failed."""

import json
import os

import cases as cs

G = ["0.001", "0.01", "0.1", "0.3", "1.0"]
print("| case | " + " | ".join(f"γ = {g}" for g in G) + " |")
print("|---|" + "---|" * len(G))
for c in ("wine_robustmax", "penguins_robustmax", "hetero1d_hetero", "hetero1d_gaussian"):
    cells = []
    for g in G:
        p = os.path.join(cs.RESULTS, "gamma_grid", f"{c}_gamma{g}.json")
        if not os.path.exists(p):
            cells.append("")
            continue
        with open(p) as fh:
            r = json.load(fh)
        if r["failed"]:
            why = (
                "NaN in q_mu/q_sqrt after the natural step"
                if "incompatible with this parameter" in r["failed"]["error"]
                else r["failed"]["error"][:60]
            )
            cells.append(f"FAILED at iteration {r['failed']['iteration']} ({why})")
        else:
            cells.append(f"{r['final_elbo']:.2f} (NLPD {r['test_nlpd']:.3f})")
    print(f"| {c} | " + " | ".join(cells) + " |")
