#!/usr/bin/env python3
"""Side-by-side benchmark of ``bastion scan`` against picklescan, modelscan and fickling.

Every tool runs as a separate subprocess per input; we record wall time, child CPU time
(user + sys) and the child's peak RSS from ``os.wait4``. Inputs are generated locally and
deterministically under ``benchmarks/.data/``; peer scanners live in their own venv under
``benchmarks/.peers/venv`` so their pins (numpy etc.) never touch the project venv.

Usage: ``python benchmarks/scan_bench.py [--scale 0.1] [--repeat 3] [--only torch-zip] [--tools bastion,picklescan]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pickle
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
PEER_VENV = BENCH_DIR / ".peers" / "venv"
PEER_BIN = PEER_VENV / "bin"
DATA_DIR = BENCH_DIR / ".data"
WORK_DIR = DATA_DIR / "work"  # cwd of every tool: fickling/modelscan read or write files relative to cwd
LOG_DIR = DATA_DIR / "logs"
RESULTS_PATH = DATA_DIR / "results.json"
DEFAULT_BASTION = ROOT / ".venv" / "bin" / "bastion"

MIB = 1024 * 1024
SEED = 1234
ARRAY_LEN = 1_000_000  # float32 elements per array/tensor: 4 MB each, 125 of them ~ 500 MB
FULL_ARRAYS = 125
FULL_DICTS = 1_000_000  # ~36 MB pickle at protocol 4
VERSION_CPU_TARGET_S = 0.3

TOOLS = ("bastion", "bastion-nohash", "picklescan", "modelscan", "fickling")
PEERS = TOOLS[2:]
# `bastion scan` records each file's SHA-256 by default (0.26 s per 500 MB here, at SHA-NI speed); no peer hashes
# anything, so the wall-time targets are judged on equal work (--no-hash) and the default is shown beside it.
# fickling 0.1.12 imports typing_extensions at runtime on Python < 3.12 but only declares it
# in its dev/lint extras, so a plain `pip install fickling` yields a CLI that crashes on import.
# modelscan 0.8.8 declares numpy>=1.24.3 but its .npy scanner calls np.lib.format._check_version, which numpy 2
# no longer exposes: every .npy file becomes a scan error. numpy<2 is the newest numpy it actually works with.
PEER_EXTRA_PACKAGES = {"fickling": ["typing_extensions"], "modelscan": ["numpy<2"]}

# Invocations checked against each CLI's --help (picklescan 1.0.5, modelscan 0.8.8, fickling 0.1.12).
INVOCATIONS: dict[str, list[str]] = {
    "bastion": ["{bastion}", "scan", "{path}", "--format", "json", "--output", os.devnull],
    "bastion-nohash": ["{bastion}", "scan", "{path}", "--no-hash", "--format", "json", "--output", os.devnull],
    "picklescan": ["{peer_bin}/picklescan", "--path", "{path}"],
    "modelscan": ["{peer_bin}/modelscan", "scan", "--path", "{path}"],
    # --json-output: otherwise fickling appends to ./safety_results.json on every run.
    "fickling": ["{peer_bin}/fickling", "--check-safety", "--json-output", os.devnull, "{path}"],
}
# Exit codes meaning "scan completed" (clean or findings); anything else is a tool error.
OK_CODES: dict[str, frozenset[int]] = {
    "bastion": frozenset({0, 1, 2}),
    "bastion-nohash": frozenset({0, 1, 2}),
    "picklescan": frozenset({0, 1}),
    "modelscan": frozenset({0, 1}),
    "fickling": frozenset({0, 1}),
}
# fickling's CLI opens its argument as one pickle stream, so a directory is not a valid input.
UNSUPPORTED: dict[str, set[str]] = {"fickling": {"mixed-dir"}}

INPUTS = ("numpy-pickle", "torch-zip", "dict-pickle", "mixed-dir")
MALICIOUS_PICKLES = {
    # Protocol 0: os.system("echo hi") via GLOBAL + REDUCE.
    "evil_os_system.pkl": b"cos\nsystem\n(S'echo hi'\ntR.",
    # Protocol 2: builtins.eval("print('hi')").
    "evil_eval.pkl": b"\x80\x02cbuiltins\neval\nq\x00X\x0b\x00\x00\x00print('hi')q\x01\x85q\x02Rq\x03.",
}


@dataclass
class Measurement:
    """Best-of-N numbers for one tool on one input; ``status`` explains missing numbers."""

    status: str  # ok | error | crash | timeout | unavailable | unsupported
    rc: int | None = None
    wall_s: float | None = None
    cpu_s: float | None = None
    peak_mib: float | None = None
    note: str = ""


# --------------------------------------------------------------------------- input generation
# numpy/torch/sklearn are imported inside the writers: once .data/ exists, the benchmark runs without them.


def _write_atomically(dest: Path, write: Callable[[Path], None]) -> Path:
    """Build into a temp name and rename, so an interrupted run never leaves a half file that gets reused."""
    if dest.exists():
        return dest
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.is_dir():
        shutil.rmtree(tmp)
    else:
        tmp.unlink(missing_ok=True)
    print(f"  generating {dest.relative_to(BENCH_DIR)} ...", flush=True)
    write(tmp)
    tmp.rename(dest)
    return dest


def _scaled(count: int, scale: float) -> int:
    return max(1, round(count * scale))


def write_numpy_pickle(dest: Path, scale: float) -> None:
    import numpy as np

    rng = np.random.default_rng(SEED)
    arrays = {
        f"layer{i}.weight": rng.standard_normal(ARRAY_LEN, dtype=np.float32) for i in range(_scaled(FULL_ARRAYS, scale))
    }
    with dest.open("wb") as fh:
        pickle.dump(arrays, fh, protocol=4)


def write_torch_zip(dest: Path, scale: float) -> None:
    import torch

    gen = torch.Generator().manual_seed(SEED)
    state = {
        f"layer{i}.weight": torch.randn(ARRAY_LEN, generator=gen, dtype=torch.float32)
        for i in range(_scaled(FULL_ARRAYS, scale))
    }
    torch.save(state, dest)  # zip container format (default since torch 1.6)


def write_dict_pickle(dest: Path, scale: float) -> None:
    # Many tiny objects: stresses per-opcode overhead rather than I/O.
    rows = [{"id": i, "name": f"user{i}", "score": float(i)} for i in range(_scaled(FULL_DICTS, scale))]
    with dest.open("wb") as fh:
        pickle.dump(rows, fh, protocol=4)


def _sklearn_models() -> list[Any]:
    import numpy as np
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((200, 8))
    y = (x[:, 0] > 0).astype(int)
    factories: list[Callable[[], Any]] = [
        lambda: LogisticRegression().fit(x, y),
        lambda: RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y),
        lambda: DecisionTreeClassifier(random_state=0).fit(x, y),
        lambda: StandardScaler().fit(x),
        lambda: PCA(n_components=3, random_state=0).fit(x),
        lambda: KMeans(n_clusters=3, n_init=1, random_state=0).fit(x),
        lambda: LinearRegression().fit(x, x[:, 1]),
    ]
    return [factories[i % len(factories)]() for i in range(12)]


def _write_mixed_models(out: Path) -> None:
    import numpy as np
    import torch

    for i, model in enumerate(_sklearn_models()):
        (out / f"sklearn_{i:02d}.pkl").write_bytes(pickle.dumps(model, protocol=4))
    rng = np.random.default_rng(SEED)
    for i in range(10):
        np.save(out / f"array_{i:02d}.npy", rng.standard_normal((64, 32 + i)).astype(np.float32))
    gen = torch.Generator().manual_seed(SEED)
    for i in range(8):
        layer = {"weight": torch.randn(16, 8 + i, generator=gen), "bias": torch.zeros(16)}
        torch.save(layer, out / f"layer_{i:02d}.pt")


def _write_mixed_text(out: Path) -> None:
    for i in range(6):
        (out / f"config_{i:02d}.json").write_text(json.dumps({"name": f"model{i}", "layers": list(range(i + 3))}))
        (out / f"data_{i:02d}.csv").write_text("id,score\n" + "".join(f"{r},{r * 0.5}\n" for r in range(50 * (i + 1))))
        (out / f"notes_{i:02d}.txt").write_text(f"Readme {i}\n" * (20 + i))
    for name, payload in MALICIOUS_PICKLES.items():
        (out / name).write_bytes(payload)  # raw bytes only: never produced by pickling anything


def write_mixed_dir(dest: Path, scale: float) -> None:
    # 12 sklearn + 10 npy + 8 pt + 18 text + 2 malicious = 50 files; small, so not scaled.
    del scale
    dest.mkdir(parents=True)
    _write_mixed_models(dest)
    _write_mixed_text(dest)


WRITERS: dict[str, tuple[str, Callable[[Path, float], None]]] = {
    "numpy-pickle": ("numpy_arrays.pkl", write_numpy_pickle),
    "torch-zip": ("state_dict.pt", write_torch_zip),
    "dict-pickle": ("small_dicts.pkl", write_dict_pickle),
    "mixed-dir": ("mixed", write_mixed_dir),
}


def ensure_input(name: str, scale: float) -> Path:
    filename, writer = WRITERS[name]
    scale_dir = DATA_DIR / f"scale-{scale:g}"  # separate folders so a smoke run never reuses full-size data
    scale_dir.mkdir(parents=True, exist_ok=True)
    return _write_atomically(scale_dir / filename, lambda tmp: writer(tmp, scale))


def input_size(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def warm_page_cache(path: Path) -> None:
    """Read inputs once so the first tool measured doesn't pay disk I/O the others don't."""
    for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        with file.open("rb") as fh:
            while fh.read(16 * MIB):
                pass


# --------------------------------------------------------------------------- peer venv


def _run_quiet(argv: list[str], log: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    with log.open("a") as fh:
        fh.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
    return result


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("WARNING")]
    return lines[-1][:200] if lines else "no output"


def _peer_version(tool: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({tool!r}))"
    out = subprocess.run([str(PEER_BIN / "python"), "-c", code], capture_output=True, text=True, check=False)
    return out.stdout.strip() or "?"


def ensure_peer(tool: str, log: Path) -> tuple[bool, str]:
    """Install one peer (separately, so one broken install cannot take the others down); return (ok, version|reason)."""
    cli = PEER_BIN / tool
    pkgs = [tool, *PEER_EXTRA_PACKAGES.get(tool, [])]
    # The stamp records what we asked pip for, so a changed package list reinstalls into a reused venv.
    stamp = PEER_VENV / f".bench-installed-{tool}"
    if not cli.exists() or not stamp.exists() or stamp.read_text() != " ".join(pkgs):
        print(f"  pip install {' '.join(pkgs)} ...", flush=True)
        result = _run_quiet([str(PEER_BIN / "python"), "-m", "pip", "install", "--quiet", *pkgs], log)
        if result.returncode != 0:
            return False, f"pip install failed: {_last_error_line(result.stderr)}"
        stamp.write_text(" ".join(pkgs))
    probe = _run_quiet([str(cli), "--help"], log)
    if probe.returncode != 0:
        return False, f"`{tool} --help` failed: {_last_error_line(probe.stderr or probe.stdout)}"
    return True, _peer_version(tool)


def ensure_peers(tools: Iterable[str]) -> dict[str, tuple[bool, str]]:
    log = BENCH_DIR / ".peers" / "install.log"
    if not (PEER_BIN / "python").exists():
        print(f"creating peer venv {PEER_VENV.relative_to(ROOT)} ...", flush=True)
        PEER_VENV.parent.mkdir(parents=True, exist_ok=True)
        python = shutil.which("python3") or sys.executable
        created = _run_quiet([python, "-m", "venv", str(PEER_VENV)], log)
        if created.returncode != 0:
            reason = f"venv creation failed: {_last_error_line(created.stderr)}"
            return dict.fromkeys(tools, (False, reason))
    return {tool: ensure_peer(tool, log) for tool in tools}


def compile_bytecode(bastion: Path) -> None:
    """Compile Bastion's sources first: pip compiles the peers' on install, but an editable install compiles on
    first import, and not at all under PYTHONDONTWRITEBYTECODE, which would bill Bastion 20 ms of compile per run."""
    python = bastion.parent / "python"
    if python.exists():
        subprocess.run([str(python), "-m", "compileall", "-q", str(ROOT / "src")], check=False, capture_output=True)


def check_bastion(bastion: Path) -> tuple[bool, str]:
    if not bastion.exists():
        return False, f"{bastion} not found"
    out = subprocess.run([str(bastion), "--version"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return False, f"`bastion --version` failed: {_last_error_line(out.stderr or out.stdout)}"
    return True, out.stdout.strip()


# --------------------------------------------------------------------------- measurement


# Spawns the tool and reports its own wait4() rusage. A middleman is needed because Linux carries the RSS
# high-water mark across exec(): a direct child of this benchmark (which held GBs while generating data)
# would inherit our peak as its ru_maxrss. This interpreter's ~8 MiB is the floor instead. wait4 on the
# one pid also keeps each run's CPU separate, unlike RUSAGE_CHILDREN which accumulates over all children.
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.posix_spawn(sys.argv[2], sys.argv[2:], os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as fh:
    fh.write(f"{os.waitstatus_to_exitcode(status)} {wall} {usage.ru_utime + usage.ru_stime} {usage.ru_maxrss}")
"""


def _kill_group(pid: int, fired: threading.Event) -> None:
    fired.set()
    with contextlib.suppress(ProcessLookupError):  # it may have exited just before the timer fired
        os.killpg(pid, signal.SIGKILL)  # the whole session: tools may fork helpers


def _maxrss_mib(ru_maxrss: int) -> float:
    # Linux reports KiB, macOS bytes.
    return ru_maxrss / MIB if sys.platform == "darwin" else ru_maxrss / 1024


def measure_once(argv: list[str], timeout_s: float, log_path: Path) -> tuple[int, float, float, float, bool]:
    """Run argv once via LAUNCHER; return (rc, wall s, cpu s, peak MiB, timed_out)."""
    fired = threading.Event()
    result_path = log_path.with_suffix(".rusage")
    result_path.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(result_path), *argv]
    with log_path.open("wb") as log:
        start = time.perf_counter()
        proc = subprocess.Popen(
            launcher,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=WORK_DIR,
            start_new_session=True,
        )
        timer = threading.Timer(timeout_s, _kill_group, args=(proc.pid, fired))
        timer.start()
        try:
            proc.wait()
        finally:
            timer.cancel()
        outer_wall = time.perf_counter() - start
    if fired.is_set() or not result_path.exists():
        return proc.returncode, outer_wall, 0.0, 0.0, fired.is_set()
    rc, wall, cpu, maxrss = result_path.read_text().split()
    return int(rc), float(wall), float(cpu), _maxrss_mib(int(maxrss)), False


def _log_tail(path: Path, limit: int = 300) -> str:
    text = path.read_text(errors="replace")
    return text[-limit:].strip()


def _classify(tool: str, rc: int, log_path: Path) -> str:
    text = log_path.read_text(errors="replace")
    # A Python traceback means the tool died mid-scan even when its exit code looks like "findings" (1).
    if "Traceback (most recent call last)" in text:
        return "crash"
    if tool.startswith("bastion") and rc == 2 and ("No such command" in text or "usage:" in text.lower()):
        return "error"  # CLI usage error, not a scan result
    return "ok" if rc in OK_CODES[tool] else "error"


def measure(tool: str, argv: list[str], repeat: int, timeout_s: float, log_name: str) -> Measurement:
    """Best of ``repeat`` runs; each metric is its own minimum, which filters scheduler noise."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_path = LOG_DIR / f"{log_name}.log"
    runs: list[tuple[int, float, float, float]] = []
    for _ in range(repeat):
        rc, wall, cpu, peak, timed_out = measure_once(argv, timeout_s, log_path)
        if timed_out:
            return Measurement("timeout", rc, wall, cpu, peak, f"killed after {timeout_s:g} s")
        runs.append((rc, wall, cpu, peak))
    rc = runs[-1][0]
    status = _classify(tool, rc, log_path)
    note = "" if status == "ok" else _log_tail(log_path)
    return Measurement(status, rc, min(r[1] for r in runs), min(r[2] for r in runs), min(r[3] for r in runs), note)


def tool_argv(tool: str, path: Path, bastion: Path) -> list[str]:
    fields = {"bastion": str(bastion.resolve()), "peer_bin": str(PEER_BIN), "path": str(path)}
    return [part.format(**fields) for part in INVOCATIONS[tool]]


# --------------------------------------------------------------------------- report


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


SHORT_STATUS = {"unavailable": "n/a", "unsupported": "unsup", "timeout": "timeout", "crash": "crash"}


def _cells(m: Measurement) -> list[str]:
    if m.status in SHORT_STATUS:
        return [SHORT_STATUS[m.status], "", ""]
    mark = "" if m.status == "ok" else "!"  # numbers from a run that exited with an error code
    return [_fmt(m.wall_s) + mark, _fmt(m.cpu_s) + mark, _fmt(m.peak_mib, 0) + mark]


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


def _usable(m: Measurement | None) -> bool:
    return m is not None and m.status == "ok"


def ratio_cells(bastion: Measurement | None, peer: Measurement | None) -> list[str]:
    if not (_usable(bastion) and _usable(peer)):
        return ["-", "-", "-"]
    assert bastion is not None and peer is not None
    pairs = ((bastion.wall_s, peer.wall_s), (bastion.cpu_s, peer.cpu_s), (bastion.peak_mib, peer.peak_mib))
    return [_fmt(_ratio(a, b)) + "x" if _ratio(a, b) is not None else "-" for a, b in pairs]


def build_table(results: dict[str, dict[str, Any]], tools: list[str]) -> list[list[str]]:
    peers = [t for t in tools if t in PEERS] if "bastion" in tools else []
    groups = [*tools, *(f"B/{p}" for p in peers)]
    head1 = ["", "", *(g for g in groups for _ in range(3)), "B peak"]
    head2 = [
        "input",
        "MiB",
        *(["wall s", "CPU s", "MiB"] * len(tools)),
        *(["wall", "CPU", "mem"] * len(peers)),
        "/size",
    ]
    rows = [head1, head2]
    for name, entry in results.items():
        runs: dict[str, Measurement] = entry["runs"]
        row = [name, _fmt(entry["size_bytes"] / MIB, 1)]
        for tool in tools:
            row += _cells(runs[tool])
        for peer in peers:
            row += ratio_cells(runs.get("bastion"), runs.get(peer))
        bast = runs.get("bastion")
        per_size = _ratio(bast.peak_mib, entry["size_bytes"] / MIB) if _usable(bast) and bast else None
        row.append(_fmt(per_size) + "x" if per_size is not None else "-")
        rows.append(row)
    return rows


def _group_header(groups: list[str], widths: list[int]) -> str:
    """Centre each tool name over its 3 metric columns instead of widening every column to fit the name."""
    parts = [" " * widths[0], " " * widths[1]]
    for g in range(len(groups)):
        span = sum(widths[2 + 3 * g : 5 + 3 * g]) + 2 * 2  # three columns joined by two 2-space gaps
        parts.append(groups[g][:span].center(span, "-"))
    parts.append(" " * widths[-1])
    return "  ".join(parts).rstrip()


def print_table(rows: list[list[str]]) -> None:
    body = rows[1:]
    widths = [max(len(r[i]) for r in body) for i in range(len(body[0]))]
    print(_group_header(rows[0][2:-1:3], widths))
    for row in body:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))))


def evaluate_targets(results: dict[str, dict[str, Any]], version_cpu: float | None) -> list[dict[str, Any]]:
    """The acceptance targets; a target whose inputs weren't measured is N/A, never PASS."""

    def runs(name: str, variant: str = "bastion") -> tuple[Measurement | None, Measurement | None]:
        entry = results.get(name, {}).get("runs", {})
        return entry.get(variant), entry.get("picklescan")

    def wall_ratio(name: str, limit: float, variant: str) -> dict[str, Any]:
        bast, pick = runs(name, variant)
        ratio = _ratio(bast.wall_s, pick.wall_s) if _usable(bast) and _usable(pick) and bast and pick else None
        label = "Bastion --no-hash" if variant == "bastion-nohash" else "Bastion (with SHA-256)"
        return {"target": f"{name}: {label} wall <= {limit:g}x picklescan", "value": ratio, "limit": limit}

    targets = []
    for name, limit in (("numpy-pickle", 1.0), ("torch-zip", 1.0), ("dict-pickle", 0.5)):
        targets.append(wall_ratio(name, limit, "bastion-nohash"))
        targets.append({**wall_ratio(name, limit, "bastion"), "info": True})
    bast, _ = runs("dict-pickle")
    size = results.get("dict-pickle", {}).get("size_bytes")
    mem = _ratio(bast.peak_mib, size / MIB) if _usable(bast) and bast and size else None
    targets.append({"target": "dict-pickle: Bastion peak RSS <= 2x file size", "value": mem, "limit": 2.0})
    targets.append(
        {
            "target": f"bastion --version CPU < {VERSION_CPU_TARGET_S} s",
            "value": version_cpu,
            "limit": VERSION_CPU_TARGET_S,
            "strict": True,
        }
    )
    for t in targets:
        ok = t["value"] is not None and (
            t["value"] < t["limit"] if t.pop("strict", False) else t["value"] <= t["limit"]
        )
        t["result"] = "N/A" if t["value"] is None else ("PASS" if ok else "FAIL")
        if t.pop("info", False) and t["value"] is not None:
            t["result"] = "info"  # the default run does more work than the peer; shown, not judged
    return targets


def print_targets(targets: list[dict[str, Any]]) -> None:
    print("\nTargets:")
    for t in targets:
        print(f"  [{t['result']:>4}] {t['target']:<48} measured: {_fmt(t['value'], 3)}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--scale",
        type=float,
        default=float(os.environ.get("BASTION_BENCH_SCALE", "1")),
        help="input size multiplier, e.g. 0.05 for a smoke run (env BASTION_BENCH_SCALE; default 1)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement; best is kept (default 1)")
    parser.add_argument("--only", action="append", choices=INPUTS, help="input(s) to run; repeatable (default all)")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--timeout", type=float, default=900.0, help="per-run timeout in seconds (default 900)")
    parser.add_argument("--bastion", type=Path, default=DEFAULT_BASTION, help="bastion executable")
    args = parser.parse_args(argv)
    args.tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = set(args.tools) - set(TOOLS)
    if unknown or not args.tools:
        parser.error(f"--tools: unknown {sorted(unknown)}; choose from {', '.join(TOOLS)}")
    if args.scale <= 0 or args.repeat < 1:
        parser.error("--scale must be > 0 and --repeat >= 1")
    return args


def tool_availability(tools: list[str], bastion: Path) -> dict[str, tuple[bool, str]]:
    avail = ensure_peers([t for t in tools if t in PEERS])
    for variant in ("bastion", "bastion-nohash"):
        if variant in tools:
            avail[variant] = check_bastion(bastion)
    for tool in tools:
        ok, info = avail[tool]
        print(f"  {tool:<10} {'version ' + info if ok else 'UNAVAILABLE: ' + info}")
    return avail


def bench_input(name: str, args: argparse.Namespace, avail: dict[str, tuple[bool, str]]) -> dict[str, Any]:
    path = ensure_input(name, args.scale)
    size = input_size(path)
    print(f"\n{name}: {path.relative_to(ROOT)} ({size / MIB:.1f} MiB, {size:,} bytes)", flush=True)
    warm_page_cache(path)
    runs: dict[str, Measurement] = {}
    for tool in args.tools:
        ok, info = avail[tool]
        if not ok:
            runs[tool] = Measurement("unavailable", note=info)
        elif name in UNSUPPORTED.get(tool, set()):
            runs[tool] = Measurement("unsupported", note="CLI accepts a single pickle file only")
        else:
            runs[tool] = measure(tool, tool_argv(tool, path, args.bastion), args.repeat, args.timeout, f"{name}.{tool}")
        m = runs[tool]
        print(
            f"  {tool:<10} {m.status:<11} rc={m.rc} wall={_fmt(m.wall_s)}s cpu={_fmt(m.cpu_s)}s "
            f"peak={_fmt(m.peak_mib, 0)}MiB",
            flush=True,
        )
    return {"path": str(path), "size_bytes": size, "runs": runs}


def bench_version(args: argparse.Namespace, avail: dict[str, tuple[bool, str]]) -> Measurement | None:
    if "bastion" not in args.tools:
        return None
    if not avail["bastion"][0]:
        return Measurement("unavailable", note=avail["bastion"][1])
    # Startup cost matters for CLI ergonomics and pre-commit hooks; best of 5 hides cold-cache noise.
    return measure("bastion", [str(args.bastion.resolve()), "--version"], 5, 60, "bastion-version")


def write_results(
    args: argparse.Namespace,
    avail: dict[str, tuple[bool, str]],
    results: dict[str, dict[str, Any]],
    version: Measurement | None,
    targets: list[dict[str, Any]],
) -> None:
    payload = {
        "meta": {
            "scale": args.scale,
            "repeat": args.repeat,
            "timeout_s": args.timeout,
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "invocations": {t: " ".join(INVOCATIONS[t]) for t in args.tools},
            "bastion": str(args.bastion),
            "peer_bin": str(PEER_BIN),
        },
        "tools": {t: {"available": ok, "info": info} for t, (ok, info) in avail.items()},
        "bastion_version": asdict(version) if version else None,
        "inputs": {n: {**e, "runs": {t: asdict(m) for t, m in e["runs"].items()}} for n, e in results.items()},
        "targets": targets,
    }
    RESULTS_PATH.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"\nresults written to {RESULTS_PATH.relative_to(ROOT)}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    print(f"scale={args.scale:g} repeat={args.repeat} tools={','.join(args.tools)}")
    compile_bytecode(args.bastion)
    avail = tool_availability(args.tools, args.bastion)
    results = {name: bench_input(name, args, avail) for name in (args.only or INPUTS)}
    version = bench_version(args, avail)
    print()
    print_table(build_table(results, args.tools))
    print("\n'!' = tool exited with an error code (see .data/logs); B/peer = Bastion / peer ratio (< 1 is better)")
    if version is not None:
        print(
            f"\nbastion --version: {version.status}, CPU {_fmt(version.cpu_s, 3)} s "
            f"(target < {VERSION_CPU_TARGET_S} s), wall {_fmt(version.wall_s, 3)} s"
        )
    targets = evaluate_targets(results, version.cpu_s if version and version.status == "ok" else None)
    print_targets(targets)
    if args.scale != 1:
        print(f"  (targets are defined for --scale 1; at --scale {args.scale:g} interpreter start-up dominates)")
    write_results(args, avail, results, version, targets)
    return 0


if __name__ == "__main__":
    sys.exit(main())
