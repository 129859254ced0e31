#!/usr/bin/env python3
"""Fairness benchmark: Bastion's ``FairnessTest`` beside Fairlearn's ``MetricFrame`` on the same decisions.

Same inputs for both tools, from one run; ratios come from numbers measured in this run.

- Data (seeded): ``--rows`` rows (default 200,000); a sensitive column of ``--groups`` string values (pandas Series
  of ``str``, Zipf-like group sizes); each group its own base rate; a score = logistic(noisy signal + group shift)
  and the decision ``score >= 0.5``; labels 0/1.
- Metrics: Bastion's ``FairnessTest(resamples=0).run(y, y_pred, sensitive)`` (every group rate and every
  disparity it reports, about 40) against Fairlearn's ``MetricFrame`` with the equivalent dict (selection_rate,
  true/false positive/negative rates, precision_score, accuracy_score, count) plus its ``.difference()`` and
  ``.ratio()``. Time: one untimed warm-up each, then best of ``--repeat``.
- Bootstrap: Bastion's ``FairnessTest(resamples=100, privileged=..., ...).run(..., scores=...)`` (intervals for every
  group rate, every disparity, the AIF360-style comparisons and calibration by group: everything) in one call,
  against ``MetricFrame(n_boot=..., ci_quantiles=[0.025, 0.975])``. Fairlearn runs ``--peer-boot`` resamples (default
  5: each takes about as long as a whole MetricFrame) and its time for 100 is extrapolated from its time per
  resample, as printed.

Targets (the issue's): metrics at least 50x faster than MetricFrame, a 100-resample bootstrap under 5 s.

Usage: ``.venv/bin/python benchmarks/fairness_bench.py [--rows 200000] [--groups 2,4,8] [--skip-peers] [--repeat 5]
[--resamples 100] [--peer-boot 5] [--seed 0] [--json FILE]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from _targets import Row, print_targets, versions

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

TARGETS = {"speedup": 50.0, "bootstrap_seconds": 5.0}
"""The issue's targets: metrics >= 50x faster than MetricFrame; a 100-resample bootstrap of everything < 5 s."""
GROUP_NAMES = ("White", "Black", "Asian-Pac-Islander", "Amer-Indian-Eskimo", "Other", "Hispanic", "Mixed",
               "Unknown")



def make_data(rows: int, groups: int, seed: int) -> dict[str, Any]:
    """Seeded decisions: a string sensitive Series, 0/1 labels and predictions, and positive-class scores."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, groups + 1)
    group = rng.choice(groups, size=rows, p=weights / weights.sum())
    names = np.array([GROUP_NAMES[g] if g < len(GROUP_NAMES) else f"group-{g}" for g in range(groups)], dtype=object)
    base = np.linspace(0.35, 0.15, groups)[group]
    y = (rng.random(rows) < base).astype(np.int64)
    signal = 2.0 * y - 1.0 + rng.normal(0.0, 1.2, rows) + np.linspace(0.0, -0.4, groups)[group]
    scores = 1.0 / (1.0 + np.exp(-signal))
    return {"y": y, "pred": (scores >= 0.5).astype(np.int64), "scores": scores,
            "sensitive": pd.Series(names[group], name="race", dtype="str"), "privileged": {"race": names[0]}}


def best_of(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """One untimed warm-up call, then the best wall time of ``repeat`` calls and the last call's result."""
    run()
    best, out = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - started)
    return best, out


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    """One call's wall time and result."""
    started = time.perf_counter()
    out = run()
    return time.perf_counter() - started, out


def fairlearn_metrics() -> dict[str, Any]:
    """The MetricFrame dict equivalent to Bastion's group rates."""
    import sklearn.metrics as skm

    flm = peer("fairlearn.metrics")
    return {"selection_rate": flm.selection_rate, "tpr": flm.true_positive_rate, "fpr": flm.false_positive_rate,
            "fnr": flm.false_negative_rate, "tnr": flm.true_negative_rate, "precision": skm.precision_score,
            "accuracy": skm.accuracy_score, "count": flm.count}


def peer(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SystemExit(f"{module.split('.')[0]} is not installed ({exc}): pip install fairlearn, or --skip-peers")\
            from exc


def bench_groups(data: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Metrics (best of ``--repeat``) and bootstrap (one run) for both tools on one dataset."""
    from bastion.model.fairness.report import FairnessTest

    y, pred, sensitive = data["y"], data["pred"], data["sensitive"]
    plain = FairnessTest(resamples=0)
    seconds, report = best_of(lambda: plain.run(y, pred, sensitive), args.repeat)
    out: dict[str, Any] = {"groups": len(report.groups), "bastion_metrics_s": seconds,
                           "bastion_metric_count": len(report.metrics) + sum(len(g.values) for g in report.groups)}
    full = FairnessTest(resamples=args.resamples, privileged=data["privileged"], seed=args.seed)
    out["bastion_bootstrap_s"], boot = timed(lambda: full.run(y, pred, sensitive, scores=data["scores"]))
    counts = FairnessTest(resamples=args.resamples, privileged=data["privileged"], seed=args.seed)
    out["bastion_bootstrap_counts_s"], _ = timed(lambda: counts.run(y, pred, sensitive))
    out["bastion_intervals"] = len(boot.intervals) + sum(len(g.intervals) for g in boot.groups)
    if args.skip_peers:
        return out
    flm = peer("fairlearn.metrics")
    funcs = fairlearn_metrics()

    def metric_frame() -> Any:
        frame = flm.MetricFrame(metrics=funcs, y_true=y, y_pred=pred, sensitive_features=sensitive)
        return frame, frame.difference(), frame.ratio()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["fairlearn_metrics_s"], (frame, _, _) = best_of(metric_frame, args.peer_repeat)
        out["fairlearn_one_metric_s"], _ = timed(lambda: flm.MetricFrame(
            metrics=flm.selection_rate, y_true=y, y_pred=pred, sensitive_features=sensitive).difference())
        out["fairlearn_boot_run_s"], _ = timed(lambda: flm.MetricFrame(
            metrics=funcs, y_true=y, y_pred=pred, sensitive_features=sensitive, n_boot=args.peer_boot,
            ci_quantiles=[0.025, 0.975], random_state=args.seed))
    per_resample = max(out["fairlearn_boot_run_s"] - out["fairlearn_metrics_s"], 0.0) / args.peer_boot
    out["fairlearn_per_resample_s"] = per_resample
    out["fairlearn_bootstrap_s"] = out["fairlearn_metrics_s"] + per_resample * args.resamples
    out["max_abs_gap"] = agreement(report, frame)
    return out


def agreement(report: Any, frame: Any) -> float:
    """Largest |Bastion - Fairlearn| over the group rates both compute (a sanity check that both did the work)."""
    by_group = frame.by_group
    gap = 0.0
    for group in report.groups:
        row = by_group.loc[group.group["race"]]
        for key in ("selection_rate", "tpr", "fpr", "fnr", "tnr", "precision", "accuracy"):
            gap = max(gap, abs(group.values[key] - float(row[key])))
    return gap


def print_section(groups: int, r: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\n== {args.rows:,} rows, {groups} groups ==")
    print(f"  Bastion metrics (resamples=0): {r['bastion_metrics_s'] * 1e3:.2f} ms best of {args.repeat} "
          f"({r['bastion_metric_count']} numbers: group rates and disparities)")
    print(f"  Bastion bootstrap, {args.resamples} resamples, everything (rates, disparities, AIF360 comparisons, "
          f"calibration by group): {r['bastion_bootstrap_s']:.3f} s, {r['bastion_intervals']} intervals; without "
          f"scores (count tables only, multinomial draws): {r['bastion_bootstrap_counts_s']:.3f} s")
    if "fairlearn_metrics_s" not in r:
        return
    print(f"  Fairlearn MetricFrame (8 metrics) + difference() + ratio(): {r['fairlearn_metrics_s']:.3f} s best of "
          f"{args.peer_repeat}; speedup {r['fairlearn_metrics_s'] / r['bastion_metrics_s']:.0f}x")
    print(f"  Fairlearn MetricFrame with selection_rate alone + difference(): {r['fairlearn_one_metric_s']:.3f} s "
          f"(one call; its cost grows with the number of metrics): Bastion's whole report is "
          f"{r['fairlearn_one_metric_s'] / r['bastion_metrics_s']:.0f}x faster than this one metric")
    print(f"  Fairlearn MetricFrame(n_boot={args.peer_boot}): {r['fairlearn_boot_run_s']:.2f} s, so "
          f"{r['fairlearn_per_resample_s']:.3f} s per resample; extrapolated to {args.resamples} resamples: "
          f"{r['fairlearn_bootstrap_s']:.1f} s")
    print(f"  largest |Bastion - Fairlearn| over group rates: {r['max_abs_gap']:.1e}")


def rows_for(groups: int, r: dict[str, Any], args: argparse.Namespace) -> list[Row]:
    section = f"{groups} groups"
    peer_metrics = r.get("fairlearn_metrics_s")
    speedup = None if peer_metrics is None else peer_metrics / r["bastion_metrics_s"]
    rows: list[Row] = [
        (section, f"metrics >= {TARGETS['speedup']:.0f}x faster than MetricFrame",
         f"{r['bastion_metrics_s'] * 1e3:.2f} ms", "-" if peer_metrics is None else f"{peer_metrics:.3f} s",
         None if speedup is None else speedup >= TARGETS["speedup"]),
        (section, "  speedup", "-" if speedup is None else f"{speedup:.0f}x", "", None),
        (section, f"{args.resamples}-resample bootstrap < {TARGETS['bootstrap_seconds']:.0f} s",
         f"{r['bastion_bootstrap_s']:.3f} s",
         "-" if peer_metrics is None else f"~{r['fairlearn_bootstrap_s']:.0f} s (extrapolated)",
         r["bastion_bootstrap_s"] < TARGETS["bootstrap_seconds"])]
    if peer_metrics is not None:
        rows.insert(2, (section, "  info: speedup over MetricFrame(selection_rate)",
                        f"{r['fairlearn_one_metric_s'] / r['bastion_metrics_s']:.0f}x", "", None))
        rows.append((section, "  bootstrap speedup (extrapolated)",
                     f"{r['fairlearn_bootstrap_s'] / r['bastion_bootstrap_s']:.0f}x", "", None))
    return rows




def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000, help="Rows (default 200,000).")
    parser.add_argument("--groups", default="2,4,8", help="Group counts, one section each (default 2,4,8).")
    parser.add_argument("--skip-peers", action="store_true", help="Bastion only (no Fairlearn).")
    parser.add_argument("--repeat", type=int, default=5, help="Bastion metrics: best of N after a warm-up (default 5).")
    parser.add_argument("--peer-repeat", type=int, default=2,
                        help="Fairlearn MetricFrame: best of N after a warm-up (default 2).")
    parser.add_argument("--resamples", type=int, default=100, help="Bootstrap resamples (default 100).")
    parser.add_argument("--peer-boot", type=int, default=5,
                        help="Resamples Fairlearn actually runs; its time for --resamples is extrapolated (default 5).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the data and of both bootstraps (default 0).")
    parser.add_argument("--json", type=Path, help="Write every number of the run to this file.")
    args = parser.parse_args(argv)
    try:
        args.groups = [int(g) for g in args.groups.split(",") if g.strip()]
    except ValueError:
        parser.error("--groups takes counts, e.g. 2,4,8")
    if min([args.rows, args.repeat, args.peer_repeat, args.resamples, args.peer_boot, *args.groups]) < 1:
        parser.error("--rows, --groups, --repeat, --peer-repeat, --resamples and --peer-boot must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.disable(logging.WARNING)
    print("command: .venv/bin/python benchmarks/fairness_bench.py " + " ".join(sys.argv[1:] if argv is None
                                                                                 else argv))
    found = versions(("numpy", "pandas", "sklearn", "fairlearn", "bastion"))
    print("versions: " + ", ".join(f"{k} {v}" for k, v in found.items()) + f"; {os.cpu_count()} CPUs")
    results: dict[str, Any] = {"versions": found, "args": {k: str(v) for k, v in vars(args).items()}}
    rows: list[Row] = []
    for groups in args.groups:
        data = make_data(args.rows, groups, args.seed)
        results[f"groups_{groups}"] = r = bench_groups(data, args)
        print_section(groups, r, args)
        rows += rows_for(groups, r, args)
    ok = print_targets(rows, (11, 46, 12, 26))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
