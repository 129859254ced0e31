#!/usr/bin/env python3
"""Drift benchmark: Bastion's drift monitor beside Evidently and whylogs on the same Parquet tables, from one run.

Data (``drift_data.py``, seeded): reference and current tables of ``--rows`` rows x 25 columns (20 numeric of
varied shapes, 5 categorical), the current one an independent draw from the same distributions except three columns
with injected drift. Every tool reads the same two Parquet files in its own fresh process
(``drift_peer_worker.py``), so import, start-up and peak memory are per tool:

- Bastion (project venv): ``DriftMonitor().fit(reference)``, then ``monitor.test(current)``;
- Evidently (``benchmarks/.peers/drift-venv``, made on first use): ``Report([DataDriftPreset()]).run(current,
  reference)`` with its default drift methods; it has no separate fit, its one run reads both frames;
- whylogs (same venv): ``why.log(reference).view()`` as the fit, ``why.log(current).view()`` plus
  ``calculate_drift_scores(..., with_thresholds=True)`` as the test; DRIFT counts as an alarm, POSSIBLE_DRIFT is
  reported apart.

Measured per tool: fit and test CPU seconds (``time.process_time``, every thread) and wall seconds, and peak memory
(``ru_maxrss`` minus the RSS after loading the data, the high-water mark being reset once the data is loaded). Scored
per tool: false alarms on the 22 clean columns and drifts found of the 3 injected ones.

Every run also prints the exact verdict per column (scipy's two-sample KS on every value, or the chi-square test of
the category counts, Holm over all columns at 5%; computed once with the data), so an alarm on a clean column that
the exact test raises too is told apart from a tool's error.

Usage: ``.venv/bin/python benchmarks/drift_bench.py [--rows 1000000] [--seed 1] [--json FILE] [--skip-peers]
[--skip-bastion] [--no-retest] [--timeout S]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))

import drift_data  # noqa: E402

PEER_VENV = BENCH_DIR / ".peers" / "drift-venv"
PEER_PYTHON = PEER_VENV / "bin" / "python"
PEER_MARKER = PEER_VENV / "bench-pins.txt"
WORKER = BENCH_DIR / "drift_peer_worker.py"
DATA_SCRIPT = BENCH_DIR / "drift_data.py"
PEER_PINS = ("evidently==0.7.23", "whylogs[viz]==1.6.4", "pandas==2.3.3", "pyarrow==26.0.1")
"""The newest Evidently and whylogs pip found when this benchmark was written, plus what makes them run: Evidently
0.7.23 imports ``pandas.core.dtypes.common.infer_dtype_from_object``, which pandas 3 removed (hence pandas 2.3.3, the
newest 2.x); ``whylogs.viz`` (home of the drift scores) imports IPython, which only the ``viz`` extra installs."""
PEERS = ("evidently", "whylogs")
DEFAULT_ROWS = 1_000_000
DEFAULT_SEED = 1
"""A draw whose 22 clean columns pass the exact tests (smallest p 0.11). About 5% of seeds hold a clean column that a
correct test at family-wise 5% flags: seed 7, for one, has uniform_wide at exact KS p = 5.7e-5 (Holm-adjusted 0.001).
The exact verdicts are printed with every run, so such a fluke is told apart from a tool's error."""
TARGETS = {"test_cpu_s": 1.5, "fit_cpu_s": 3.0, "peak_mib": 500.0, "speedup": 90.0, "false_alarms": 0}
"""Bastion's targets, defined for the default size (1,000,000 rows)."""
METHOD_NAMES = {"Wasserstein distance (normed)": "wass", "Jensen-Shannon distance": "JS", "K-S p_value": "KS p",
                "chi-square p_value": "chi2 p", "Z-test p_value": "z p", "PSI": "PSI"}
"""Evidently's method names, shortened for the per-column table."""


# --------------------------------------------------------------------------- tools


def ensure_peers() -> Path | None:
    """The peer venv's python, (re)installing the pins on first use; ``None`` when the install fails."""
    pins = "\n".join(PEER_PINS)
    if PEER_PYTHON.exists() and PEER_MARKER.is_file() and PEER_MARKER.read_text() == pins:
        return PEER_PYTHON
    print(f"installing {', '.join(PEER_PINS)} into {PEER_VENV.relative_to(ROOT)} ...", flush=True)
    steps = ([sys.executable, "-m", "venv", str(PEER_VENV)],
             [str(PEER_VENV / "bin" / "pip"), "install", "--quiet", *PEER_PINS])
    for argv in steps:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"Evidently and whylogs unavailable: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
            return None
    PEER_MARKER.write_text(pins)
    return PEER_PYTHON


def bastion_ready() -> str:
    """Empty when ``bastion.monitor.DriftMonitor`` imports in the project venv, else the reason it does not."""
    done = subprocess.run([sys.executable, "-c", "from bastion.monitor import DriftMonitor"], capture_output=True,
                          text=True, check=False)
    return "" if done.returncode == 0 else (done.stderr.strip().splitlines() or ["import failed"])[-1]


def make_data(rows: int, seed: int) -> dict[str, Any]:
    """Write (or reuse) the Parquet files in a child process, which keeps this process small."""
    done = subprocess.run([sys.executable, str(DATA_SCRIPT), "--rows", str(rows), "--seed", str(seed)],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"drift_data.py failed: {done.stderr.strip()[-800:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def run_tool(tool: str, python: Path, meta: dict[str, Any], timeout: float, retest: bool) -> dict[str, Any]:
    """One tool's measurements from a fresh worker process, or ``{"error": ...}``."""
    argv = [str(python), str(WORKER), tool, meta["paths"]["reference"], meta["paths"]["current"]]
    argv += ["--retest"] if retest else []
    print(f"running {tool} ...", flush=True)
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=False,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout:.0f} s"}
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": f"exit {done.returncode}: {done.stderr.strip()[-600:]}"}
    return dict(json.loads(lines[-1]))


# --------------------------------------------------------------------------- scoring


def score(answer: dict[str, Any]) -> dict[str, Any]:
    """False alarms, found drifts and (whylogs) possible drifts, against the columns of ``drift_data``."""
    columns = answer["columns"]
    flagged = {name for name, verdict in columns.items() if verdict.get("drift")}
    possible = {name for name, verdict in columns.items() if verdict.get("category") == "POSSIBLE_DRIFT"}
    missing = [name for name in drift_data.CLEAN + drift_data.DRIFTED if name not in columns]
    return {"false_alarms": sorted(flagged & set(drift_data.CLEAN)), "found": sorted(flagged & set(drift_data.DRIFTED)),
            "possible_clean": sorted(possible & set(drift_data.CLEAN)),
            "possible_drifted": sorted(possible & set(drift_data.DRIFTED)), "untested": missing}


def summary(answer: dict[str, Any], has_fit: bool) -> dict[str, Any]:
    """The table's numbers of one tool."""
    fit_cpu = answer["fit"]["cpu_s"] if has_fit else 0.0
    retest = answer.get("retest") or {}
    return {"fit_cpu_s": fit_cpu if has_fit else None, "test_cpu_s": answer["test"]["cpu_s"],
            "retest_cpu_s": retest.get("cpu_s"), "retest_wall_s": retest.get("wall_s"),
            "total_cpu_s": fit_cpu + answer["test"]["cpu_s"],
            "wall_s": (answer["fit"]["wall_s"] if has_fit else 0.0) + answer["test"]["wall_s"],
            "peak_mib": answer["peak_mib"], **score(answer)}


def ratios(tools: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Each peer's total CPU over Bastion's test CPU and over Bastion's fit+test CPU (and the same on wall time)."""
    bastion = tools.get("bastion", {}).get("summary")
    if not bastion:
        return {}
    out = {}
    for name in PEERS:
        peer = tools.get(name, {}).get("summary")
        if peer:
            out[name] = {"cpu_vs_test": peer["total_cpu_s"] / max(bastion["test_cpu_s"], 1e-9),
                         "cpu_vs_fit_test": peer["total_cpu_s"] / max(bastion["total_cpu_s"], 1e-9),
                         "wall_vs_fit_test": peer["wall_s"] / max(bastion["wall_s"], 1e-9)}
            if peer["retest_cpu_s"] is not None and bastion["retest_cpu_s"] is not None:
                # steady state: the peer's cost per monitoring run (Evidently's run, whylogs' profile + scores)
                # over Bastion's second test call
                out[name]["retest_cpu_vs_retest"] = peer["retest_cpu_s"] / max(bastion["retest_cpu_s"], 1e-9)
    return out


def targets(tools: dict[str, dict[str, Any]], speed: dict[str, dict[str, float]]) -> list[tuple[str, str, bool | None]]:
    """(target, Bastion's value, pass) rows; ``None`` where Bastion or Evidently was not measured, or for a row that
    is information beside a target (its name starts with a space)."""
    b = tools.get("bastion", {}).get("summary")
    evidently = speed.get("evidently", {})
    ratio = evidently.get("cpu_vs_test")

    def row(name: str, value: Any, fmt: str, ok: bool | None) -> tuple[str, str, bool | None]:
        return (name, "-", None) if value is None else (name, format(value, fmt), ok)

    get = (lambda key: b[key]) if b else (lambda key: None)
    return [
        row(f"test CPU <= {TARGETS['test_cpu_s']} s", get("test_cpu_s"), ".3f",
            b is not None and b["test_cpu_s"] <= TARGETS["test_cpu_s"]),
        row(f"fit CPU <= {TARGETS['fit_cpu_s']} s", get("fit_cpu_s"), ".3f",
            b is not None and b["fit_cpu_s"] <= TARGETS["fit_cpu_s"]),
        row(f"peak memory <= {TARGETS['peak_mib']:.0f} MiB", get("peak_mib"), ".1f",
            b is not None and b["peak_mib"] <= TARGETS["peak_mib"]),
        row(f"Evidently CPU / Bastion test CPU >= {TARGETS['speedup']:.0f}x", ratio if b else None, ".1f",
            ratio is not None and ratio >= TARGETS["speedup"]),
        row("  info: Evidently CPU / Bastion fit+test CPU", evidently.get("cpu_vs_fit_test"), ".1f", None),
        row("  info: the same on second test calls", evidently.get("retest_cpu_vs_retest"), ".1f", None),
        row(f"false alarms on {len(drift_data.CLEAN)} clean columns = {TARGETS['false_alarms']}",
            len(b["false_alarms"]) if b else None, "d", b is not None and not b["false_alarms"]),
        row(f"drifts found = {len(drift_data.DRIFTED)}/{len(drift_data.DRIFTED)}", len(b["found"]) if b else None,
            "d", b is not None and len(b["found"]) == len(drift_data.DRIFTED)),
    ]


# --------------------------------------------------------------------------- report


def _label(name: str, answer: dict[str, Any]) -> str:
    versions = answer.get("versions", {})
    return f"{name} {versions[name]}" if name in versions else name


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(tools: dict[str, dict[str, Any]]) -> None:
    """The main table: one row per tool."""
    n_clean, n_drift = len(drift_data.CLEAN), len(drift_data.DRIFTED)
    print(f"\n{'tool':<20}{'fit CPU s':>10}{'test CPU s':>11}{'total CPU s':>12}{'wall s':>9}{'peak MiB':>10}"
          f"  {'false alarms':<22}{'drifts found':<18}{'retest CPU s':>12}")
    for name, tool in tools.items():
        if "error" in tool:
            print(f"{name:<20}  unavailable: {tool['error'].splitlines()[-1] if tool['error'] else ''}")
            continue
        s = tool["summary"]
        alarms = f"{len(s['false_alarms'])}/{n_clean}"
        found = f"{len(s['found'])}/{n_drift}"
        if name == "whylogs":
            alarms += f" (+{len(s['possible_clean'])} possible)"
            found += f" (+{len(s['possible_drifted'])} possible)"
        print(f"{tool['label']:<20}{_num(s['fit_cpu_s']):>10}{_num(s['test_cpu_s']):>11}{_num(s['total_cpu_s']):>12}"
              f"{_num(s['wall_s']):>9}{_num(s['peak_mib'], 1):>10}  {alarms:<22}{found:<18}"
              f"{_num(s['retest_cpu_s']):>12}")
    print("  fit/test: first calls in a fresh process (imports of the tool itself excluded); wall = fit + test;\n"
          "  peak = max RSS during fit and test minus RSS after loading both tables; retest: a second test call")
    for name, tool in tools.items():
        print_notes(name, tool)


def print_notes(name: str, tool: dict[str, Any]) -> None:
    """False alarms, untested columns, and modules a tool imported inside its timed calls."""
    s = tool.get("summary")
    if not s:
        return
    if s["false_alarms"] or s["untested"]:
        print(f"  {name}: false alarms on {', '.join(s['false_alarms']) or '-'}"
              + (f"; not tested: {', '.join(s['untested'])}" if s["untested"] else ""))
    for phase in ("fit", "test"):
        count = tool[phase].get("modules_imported", 0)
        if count:
            packages = tool[phase]["packages_imported"]
            shown = ", ".join(packages[:8]) + (", ..." if len(packages) > 8 else "")
            print(f"  {name}: its first {phase} call imported {count} modules ({shown}); their import is in its "
                  f"{phase} CPU")


def print_ratios(tools: dict[str, dict[str, Any]], speed: dict[str, dict[str, float]]) -> None:
    """Peer CPU over Bastion CPU."""
    if not speed:
        return
    print("\nRatios (peer / Bastion; the peer's total CPU, fit + test):")
    for name, r in speed.items():
        print(f"  {tools[name]['label']:<18} total CPU / Bastion test CPU {r['cpu_vs_test']:>7.1f}x   "
              f"/ Bastion fit+test CPU {r['cpu_vs_fit_test']:>7.1f}x   wall / Bastion fit+test wall "
              f"{r['wall_vs_fit_test']:>6.1f}x")
        if "retest_cpu_vs_retest" in r:
            print(f"  {'':<18} second test calls: its CPU / Bastion's {r['retest_cpu_vs_retest']:>7.1f}x")


def _cell(name: str, verdict: dict[str, Any] | None) -> str:
    """One tool's verdict on one column, in a few characters."""
    if verdict is None:
        return "not tested"
    flag = "DRIFT" if verdict.get("drift") else "-"
    if name == "evidently":
        method = METHOD_NAMES.get(str(verdict.get("method")), str(verdict.get("method")))
        return f"{method} {_num(verdict.get('score'), 4)} {flag}"
    if name == "whylogs":
        flag = "possible" if verdict.get("category") == "POSSIBLE_DRIFT" else flag
        p = verdict.get("p_value")
        return f"{verdict.get('algorithm')} p={'-' if p is None else format(p, '.1e')} {flag}"
    p = verdict.get("p_value")
    return f"{verdict.get('test') or ''} p={'-' if p is None else format(p, '.1e')} {flag}".strip()


def print_columns(tools: dict[str, dict[str, Any]], exact: dict[str, dict[str, Any]]) -> None:
    """Every column's verdict per tool (p-values before any correction; Evidently: its distance and threshold)."""
    names = [name for name, tool in tools.items() if "columns" in tool]
    print(f"\n{'column':<24}{'injected drift':<22}{'exact test':<22}"
          + "".join(f"{tools[n]['label']:<28}" for n in names))
    for spec in drift_data.COLUMNS:
        truth = exact.get(spec.name, {})
        oracle = f"{truth.get('test', '')} p={truth.get('p_value', float('nan')):.1e} " \
                 f"{'DRIFT' if truth.get('drift') else '-'}"
        cells = "".join(f"{_cell(n, tools[n]['columns'].get(spec.name)):<28}" for n in names)
        print(f"{spec.name:<24}{spec.drift or '-':<22}{oracle:<22}{cells}")
    print("  exact test: scipy's two-sample KS on every value / chi-square of the 2 x k table, Holm over all columns "
          "at 5%")
    for name in names:
        agree = sum(bool(tools[name]["columns"].get(c, {}).get("drift")) == bool(v["drift"]) for c, v in exact.items())
        print(f"  {tools[name]['label']}: same verdict as the exact test on {agree}/{len(exact)} columns")
    if "evidently" in names:
        thresholds = {v.get("threshold") for v in tools["evidently"]["columns"].values()}
        print(f"  Evidently: drift when the distance >= its threshold ({', '.join(map(str, sorted(thresholds)))}); "
              "wass = Wasserstein (normed), JS = Jensen-Shannon")
    if "whylogs" in names:
        print("  whylogs: DRIFT when p < 0.05, possible when 0.05 <= p < 0.15 (its default thresholds)")


def print_targets(rows: list[tuple[str, str, bool | None]], n_rows: int) -> None:
    """Bastion's targets with PASS/FAIL."""
    note = "" if n_rows == DEFAULT_ROWS else f" (defined for {DEFAULT_ROWS:,} rows; this run has {n_rows:,})"
    print(f"\nBastion targets{note}")
    for name, value, ok in rows:
        status = ("info" if name.startswith(" ") else "N/A") if ok is None else ("PASS" if ok else "FAIL")
        if value != "-" or status != "info":
            print(f"  {name:<48}{value:>10}  {status}")


def print_context(meta: dict[str, Any], tools: dict[str, dict[str, Any]]) -> None:
    """What was compared: sizes, files, and how each tool's pandas read the columns."""
    size = sum(meta["bytes"].values()) / 2**20
    print(f"Data: reference and current, {meta['rows']:,} rows x {len(meta['columns'])} columns each, seed "
          f"{meta['seed']}, {size:.0f} MiB of Parquet in {Path(meta['paths']['reference']).parent}")
    drifted = [f"{spec.name} ({spec.drift})" for spec in drift_data.COLUMNS if spec.drift]
    print(f"  drift injected in: {', '.join(drifted)}")
    exact = meta.get("exact", {})
    flagged = [name for name in drift_data.CLEAN if exact.get(name, {}).get("drift")]
    found = sum(bool(exact.get(name, {}).get("drift")) for name in drift_data.DRIFTED)
    print(f"  exact tests on the full tables (Holm, 5%): {found}/{len(drift_data.DRIFTED)} drifts found, "
          f"{len(flagged)}/{len(drift_data.CLEAN)} clean columns flagged"
          + (f" ({', '.join(flagged)}: a fluke of this draw, which a correct test flags too; try another --seed)"
             if flagged else ""))
    for tool in tools.values():
        load = tool.get("load")
        if load:
            kinds = sorted({str(d) for d in load["dtypes"].values()})
            print(f"  {tool['label']}: pandas {load['pandas']}, pyarrow {load['pyarrow']}; dtypes read: "
                  f"{', '.join(kinds)}; load {load['wall_s']:.2f} s, import {tool['import']['wall_s']:.2f} s, "
                  f"RSS after load {tool['baseline']['rss_mib']:.0f} MiB")
    print(f"  CPUs: {os.cpu_count()}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="Rows per table (default 1,000,000).")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"Data seed (default {DEFAULT_SEED}).")
    parser.add_argument("--json", type=Path, help="Write every number of the run to this file.")
    parser.add_argument("--skip-peers", action="store_true", help="Bastion only.")
    parser.add_argument("--skip-bastion", action="store_true", help="Evidently and whylogs only.")
    parser.add_argument("--timeout", type=float, default=1800.0, help="Seconds per tool (default 1800).")
    parser.add_argument("--no-retest", action="store_true", help="Skip the timed second test call of every tool.")
    return parser.parse_args(argv)


def collect(args: argparse.Namespace, meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Run every selected tool; measurements, verdicts and summaries by tool name."""
    plan: list[tuple[str, Path]] = []
    if not args.skip_bastion:
        why = bastion_ready()
        if why:
            print(f"Bastion's DriftMonitor unavailable ({why}); use --skip-bastion to silence this")
        else:
            plan.append(("bastion", Path(sys.executable)))
    python = None if args.skip_peers else ensure_peers()
    plan += [(name, python) for name in PEERS if python is not None]
    tools: dict[str, dict[str, Any]] = {}
    for name, interpreter in plan:
        answer = run_tool(name, interpreter, meta, args.timeout, retest=not args.no_retest)
        if "error" in answer:
            print(f"{name} failed: {answer['error']}")
        else:
            answer["summary"] = summary(answer, has_fit=name != "evidently")
        tools[name] = {**answer, "label": _label(name, answer)}
    return tools


def main(argv: list[str] | None = None) -> int:
    """Generate, run each tool in its own process, print, and exit 1 when a Bastion target fails."""
    args = parse_args(argv)
    meta = make_data(args.rows, args.seed)
    tools = collect(args, meta)
    if not any("summary" in tool for tool in tools.values()):
        print("no tool could run")
        return 2
    speed = ratios(tools)
    rows = targets(tools, speed)
    print()
    print_context(meta, tools)
    print_table(tools)
    print_ratios(tools, speed)
    print_columns(tools, meta.get("exact", {}))
    print_targets(rows, args.rows)
    if args.json:
        report = {"config": {"rows": args.rows, "seed": args.seed, "cpus": os.cpu_count(), "pins": PEER_PINS},
                  "data": meta, "tools": tools, "ratios": speed,
                  "targets": [{"target": n, "value": v, "pass": ok} for n, v, ok in rows]}
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 1 if any(ok is False for *_, ok in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
