"""One tool of ``drift_bench.py`` in a fresh process: load both Parquet tables, fit, test, print JSON.

``python drift_peer_worker.py TOOL REFERENCE.parquet CURRENT.parquet [--retest]``, TOOL one of ``bastion`` (run with the
project venv), ``evidently`` or ``whylogs`` (run with ``benchmarks/.peers/drift-venv``). Every tool is measured the
same way, so this one file holds the harness and the three adapters:

1. import the tool (its import time is reported apart, not in fit or test);
2. read both tables with ``pandas.read_parquet``, release pyarrow's unused pool memory, collect garbage;
3. reset the RSS high-water mark (``echo 5 > /proc/self/clear_refs``) so the transient copy made while reading
   Parquet is not charged to the tool, and record VmRSS as the baseline;
4. fit on the reference (Bastion: ``DriftMonitor().fit``; whylogs: profile the reference; Evidently has no fit),
   then test the current table (Bastion: ``monitor.test``; whylogs: profile the current table and
   ``calculate_drift_scores``; Evidently: ``Report([DataDriftPreset()]).run`` on both frames), each timed with
   ``time.process_time`` (CPU of every thread) and ``time.perf_counter``;
5. with ``--retest``, time a second test call on the same fitted state (after the peak memory was read): the
   steady cost of monitoring, without what the first call imports lazily;
6. read the per-column verdicts outside the timed sections.

Modules imported during fit and test are counted, since a lazy import in the first call is CPU charged to it.

Peak memory is ``ru_maxrss`` minus the baseline (VmHWM from ``/proc/self/status`` is reported beside it). The output
is one JSON object on stdout.
"""

from __future__ import annotations

import gc
import json
import re
import resource
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

Verdicts = dict[str, dict[str, Any]]
"""Column name -> ``drift`` (bool) plus the tool's own score fields."""


def _status_mib(field: str) -> float:
    """A ``kB`` field of ``/proc/self/status`` in MiB (0 where the file is missing)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0.0
    found = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def _maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def _reset_peak() -> bool:
    """Reset the RSS high-water mark (Linux >= 4.0); False where the kernel refuses."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _timed(call: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """The call's result, its CPU and wall seconds, the RSS high-water mark after it, and the modules it imported."""
    modules = set(sys.modules)
    cpu, wall = time.process_time(), time.perf_counter()
    result = call()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    imported = set(sys.modules) - modules
    return result, {"cpu_s": cpu, "wall_s": wall, "maxrss_mib": _maxrss_mib(), "hwm_mib": _status_mib("VmHWM"),
                    "modules_imported": len(imported),
                    "packages_imported": sorted({m.split(".")[0] for m in imported if not m.startswith("_")})}


# --------------------------------------------------------------------------- tools


def _bastion() -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any], Callable[[Any], Verdicts], dict[str, str]]:
    import bastion
    from bastion.monitor import DriftMonitor

    def fit(reference: Any) -> Any:
        return DriftMonitor().fit(reference)

    def verdicts(report: Any) -> Verdicts:
        return {c.name: {"drift": bool(c.drift), "p_value": _float(getattr(c, "p_value", None)),
                         "test": str(getattr(c, "test", "")), "kind": str(getattr(c, "kind", ""))}
                for c in report.columns}

    return fit, lambda monitor, current: monitor.test(current), verdicts, {"bastion": str(bastion.__version__)}


def _evidently() -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any], Callable[[Any], Verdicts], dict[str, str]]:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    def test(reference: Any, current: Any) -> Any:
        # include_tests adds one pass/fail test per ValueDrift metric: the per-column drift flag
        return Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference)

    return lambda reference: reference, test, _evidently_verdicts, {"evidently": version("evidently")}


def _evidently_verdicts(snapshot: Any) -> Verdicts:
    """Per-column method, score and drift flag from the snapshot's ValueDrift metrics and their tests."""
    data = snapshot.dict()
    out: Verdicts = {}
    for metric in data["metrics"]:
        config = metric["config"]
        if config.get("type", "").endswith("ValueDrift"):
            out[config["column"]] = {"method": config.get("method"), "threshold": config.get("threshold"),
                                     "score": _float(metric["value"]), "drift": None}
    for test in data.get("tests", []):
        params = test.get("metric_config", {}).get("params", {})
        if params.get("type", "").endswith("ValueDrift") and params.get("column") in out:
            out[params["column"]]["drift"] = test["status"] == "FAIL"
    return out


def _whylogs() -> tuple[Callable[[Any], Any], Callable[[Any, Any], Any], Callable[[Any], Verdicts], dict[str, str]]:
    import whylogs as why
    from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores

    def test(reference_view: Any, current: Any) -> Any:
        current_view = why.log(current).view()
        return calculate_drift_scores(target_view=current_view, reference_view=reference_view, with_thresholds=True)

    def verdicts(scores: dict[str, Any]) -> Verdicts:
        return {name: {"drift": s["drift_category"] == "DRIFT", "category": s["drift_category"],
                       "algorithm": s["algorithm"], "p_value": _float(s["pvalue"]), "statistic": _float(s["statistic"])}
                if s else {"drift": False, "category": None, "algorithm": None, "p_value": None}
                for name, s in scores.items()}

    return lambda reference: why.log(reference).view(), test, verdicts, {"whylogs": version("whylogs")}


TOOLS = {"bastion": _bastion, "evidently": _evidently, "whylogs": _whylogs}


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


# --------------------------------------------------------------------------- main


def _load(reference_path: str, current_path: str) -> tuple[Any, Any, dict[str, Any]]:
    """Both tables as pandas frames, with the reading time and the dtypes pandas gave them."""
    import pandas as pd
    import pyarrow as pa

    cpu, wall = time.process_time(), time.perf_counter()
    reference, current = pd.read_parquet(reference_path), pd.read_parquet(current_path)
    info = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall,
            "dtypes": {name: str(dtype) for name, dtype in reference.dtypes.items()},
            "pandas": pd.__version__, "pyarrow": pa.__version__}
    pa.default_memory_pool().release_unused()
    gc.collect()
    return reference, current, info


def run(tool: str, reference_path: str, current_path: str, retest: bool = False) -> dict[str, Any]:
    """Measure one tool; every number of the run as a JSON-ready dict. ``retest``: time a second test call too."""
    cpu, wall = time.process_time(), time.perf_counter()
    fit, test, verdicts, versions = TOOLS[tool]()
    imported = {"cpu_s": time.process_time() - cpu, "wall_s": time.perf_counter() - wall}
    reference, current, loaded = _load(reference_path, current_path)
    reset = _reset_peak()
    base = {"rss_mib": _status_mib("VmRSS"), "maxrss_mib": _maxrss_mib()}
    state, fitted = _timed(lambda: fit(reference))
    result, tested = _timed(lambda: test(state, current))
    peak = max(tested["maxrss_mib"], fitted["maxrss_mib"])
    # a second call on the same fitted state: the steady cost of monitoring, without first-call imports
    retested = _timed(lambda: test(state, current))[1] if retest else None
    return {"tool": tool, "versions": versions, "import": imported, "load": loaded, "peak_reset": reset,
            "baseline": base, "fit": fitted, "test": tested, "retest": retested,
            "peak_mib": peak - base["rss_mib"], "peak_hwm_mib": tested["hwm_mib"] - base["rss_mib"],
            "fit_peak_mib": fitted["maxrss_mib"] - base["rss_mib"],
            "columns": verdicts(result), "rows": [len(reference), len(current)]}


def main(argv: list[str]) -> int:
    """``TOOL REFERENCE CURRENT [--retest]`` -> one JSON object on stdout."""
    retest = "--retest" in argv
    args = [arg for arg in argv if arg != "--retest"]
    if len(args) != 3 or args[0] not in TOOLS:
        print(f"usage: drift_peer_worker.py {{{','.join(TOOLS)}}} REFERENCE.parquet CURRENT.parquet [--retest]",
              file=sys.stderr)
        return 2
    print(json.dumps(run(*args, retest=retest)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
