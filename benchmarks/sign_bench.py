#!/usr/bin/env python3
"""Side-by-side benchmark of ``bastion sign``/``bastion verify`` against OpenSSF model-signing's CLI.

A 1 GB model folder (4 safetensors-like weight files and a few JSON files) is generated deterministically under
``benchmarks/.data/sign/`` and reused. model-signing is installed into its own venv ``benchmarks/.peers/sign-venv``;
if that fails the benchmark says so and still measures Bastion. Each signer signs the folder, then verifies it,
best of N runs with a warm page cache; wall time and the child's CPU time (user + sys, from ``os.wait4``) are
printed side by side with Bastion/model-signing ratios. Finally each tool verifies the other's ECDSA P-256
signature, which checks that the two formats interoperate.

Usage: ``.venv/bin/python benchmarks/sign_bench.py [--size-mb 1024] [--repeat 3] [--skip-peer]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / ".data" / "sign"
WORK_DIR = DATA_DIR / "work"  # keys, signatures and logs: outside the model folder so nothing signs itself
PEER_VENV = BENCH_DIR / ".peers" / "sign-venv"
PEER_CLI = PEER_VENV / "bin" / "model_signing"
DEFAULT_BASTION = ROOT / ".venv" / "bin" / "bastion"
MIB = 1024 * 1024
SEED = 20240601
WEIGHT_FILES = 4
# model-signing 1.1.1 imports pyOpenSSL (its certificate signer) on every start but does not declare it, so a plain
# `pip install model-signing` gives a CLI that fails with ModuleNotFoundError: OpenSSL.
PEER_PACKAGES = ["model-signing", "pyopenssl"]
SMALL_FILES = {
    "config.json": {"architectures": ["TinyForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32},
    "generation_config.json": {"do_sample": True, "temperature": 0.7},
    "tokenizer_config.json": {"model_max_length": 4096, "padding_side": "left"},
}


@dataclass
class Timing:
    """Best-of-N numbers for one command; ``status`` says why numbers are missing."""

    status: str  # ok | error | unavailable
    wall_s: float | None = None
    cpu_s: float | None = None
    rc: int | None = None
    note: str = ""


# --------------------------------------------------------------------------- the model folder


def _weights_file(path: Path, size: int, index: int) -> None:
    """A safetensors-shaped file: 8-byte header length, a JSON header padded with spaces, then float32 data."""
    import numpy as np

    header_room = 4096 - 8
    data_bytes = size - 4096
    header = json.dumps({"__metadata__": {"format": "pt"},
                         f"model.layers.{index}.weight": {"dtype": "F32", "shape": [data_bytes // 4],
                                                          "data_offsets": [0, data_bytes]}}).encode()
    rng = np.random.default_rng(SEED + index)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", header_room) + header.ljust(header_room, b" "))
        left = data_bytes
        while left:
            block = min(left, 16 * MIB)
            handle.write(rng.bytes(block))
            left -= block


def ensure_model(size_mb: int) -> Path:
    """The model folder for ``size_mb``, generated once (into a temporary name, renamed when complete)."""
    dest = DATA_DIR / f"model-{size_mb}mb"
    if dest.is_dir():
        return dest
    partial = dest.with_name(dest.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    print(f"  generating {dest.relative_to(BENCH_DIR)} ({size_mb} MB) ...", flush=True)
    each = size_mb * MIB // WEIGHT_FILES
    shards = {}
    for index in range(WEIGHT_FILES):
        name = f"model-{index + 1:05d}-of-{WEIGHT_FILES:05d}.safetensors"
        _weights_file(partial / name, each, index)
        shards[f"model.layers.{index}.weight"] = name
    for name, content in {**SMALL_FILES, "model.safetensors.index.json": {"weight_map": shards}}.items():
        (partial / name).write_text(json.dumps(content, indent=2) + "\n")
    partial.rename(dest)
    return dest


def warm_page_cache(folder: Path) -> int:
    """Read every file once so each tool sees the same warm cache; returns the byte count."""
    total = 0
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("rb", buffering=0) as handle:
                while chunk := handle.read(16 * MIB):
                    total += len(chunk)
    return total


# --------------------------------------------------------------------------- tools and keys


def ensure_peer() -> tuple[bool, str]:
    """model-signing in its own venv; (available, version or the reason it is not)."""
    log = WORK_DIR / "peer-install.log"
    if not PEER_CLI.exists():
        print("  installing model-signing into benchmarks/.peers/sign-venv ...", flush=True)
        with log.open("w") as out:
            steps = [[sys.executable, "-m", "venv", str(PEER_VENV)],
                     [str(PEER_VENV / "bin" / "pip"), "install", "--quiet", *PEER_PACKAGES]]
            for argv in steps:
                if subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT).returncode != 0:
                    return False, f"install failed (see {log.relative_to(BENCH_DIR)})"
    probe = subprocess.run([str(PEER_VENV / "bin" / "python"), "-c",
                            "import importlib.metadata as m, model_signing; print(m.version('model-signing'))"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return False, "installed but does not import: " + (probe.stderr.strip().splitlines() or ["?"])[-1]
    return True, probe.stdout.strip()


def make_keys(bastion: Path) -> dict[str, tuple[Path, Path]]:
    """(private, public) per key kind: Bastion's default Ed25519, and ECDSA P-256 (what model-signing accepts)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    keys = {}
    ed = WORK_DIR / "ed25519.pem"
    if not ed.exists():
        subprocess.run([str(bastion), "keys", "generate", str(ed)], check=True, capture_output=True)
    keys["ed25519"] = (ed, Path(f"{ed}.pub"))
    p256 = WORK_DIR / "p256.pem"
    if not p256.exists():  # written by cryptography, as a model-signing user would make it
        key = ec.generate_private_key(ec.SECP256R1())
        p256.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        p256.chmod(0o600)
        Path(f"{p256}.pub").write_bytes(key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    keys["p256"] = (p256, Path(f"{p256}.pub"))
    return keys


def commands(bastion: Path, model: Path, keys: dict[str, tuple[Path, Path]]) -> dict[str, tuple[list[str], list[str]]]:
    """Per signer: (sign argv, verify argv)."""
    def bastion_pair(kind: str) -> tuple[list[str], list[str]]:
        sig = str(WORK_DIR / f"bastion-{kind}.sig")
        private, public = keys[kind]
        return ([str(bastion), "sign", str(model), "--key", str(private), "--signature", sig],
                [str(bastion), "verify", str(model), "--key", str(public), "--signature", sig])

    peer_sig = str(WORK_DIR / "model_signing-p256.sig")
    private, public = keys["p256"]
    return {
        "bastion (ed25519)": bastion_pair("ed25519"),
        "bastion (ecdsa-p256)": bastion_pair("p256"),
        "model_signing (ecdsa-p256)": (
            [str(PEER_CLI), "sign", "key", str(model), "--private_key", str(private), "--signature", peer_sig],
            [str(PEER_CLI), "verify", "key", str(model), "--signature", peer_sig, "--public_key", str(public)]),
    }


# --------------------------------------------------------------------------- measuring


def run_once(argv: list[str], log: Path, timeout_s: float) -> tuple[int, float, float]:
    """(exit code, wall s, CPU s of the child and its waited-for children)."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=WORK_DIR)
        watchdog = threading.Timer(timeout_s, proc.kill)
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: keep Popen from waiting again
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime


def measure(name: str, argv: list[str], repeat: int, timeout_s: float) -> Timing:
    """One untimed warm-up (byte-compiles, settles the cache), then the best of ``repeat`` runs."""
    log = WORK_DIR / f"{name.replace(' ', '_').replace('(', '').replace(')', '')}.log"
    best = Timing("ok")
    for attempt in range(repeat + 1):
        rc, wall, cpu = run_once(argv, log, timeout_s)
        if rc != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            return Timing("error", rc=rc, note=tail[0][:160])
        if attempt == 0:
            continue
        best.rc = rc
        best.wall_s = wall if best.wall_s is None else min(best.wall_s, wall)
        best.cpu_s = cpu if best.cpu_s is None else min(best.cpu_s, cpu)
    return best


def cross_check(bastion: Path, model: Path, keys: dict[str, tuple[Path, Path]], timeout_s: float) -> dict[str, str]:
    """Each tool verifies the other's P-256 signature of the same folder."""
    private, public = keys["p256"]
    ours, theirs = WORK_DIR / "bastion-p256.sig", WORK_DIR / "model_signing-p256.sig"
    checks = {
        "model_signing verifies bastion's signature":
            [str(PEER_CLI), "verify", "key", str(model), "--signature", str(ours), "--public_key", str(public)],
        "bastion verifies model_signing's signature":
            [str(bastion), "verify", str(model), "--key", str(public), "--signature", str(theirs)],
    }
    results = {}
    for label, argv in checks.items():
        rc, _, _ = run_once(argv, WORK_DIR / "cross-check.log", timeout_s)
        results[label] = "ok" if rc == 0 else f"FAILED (exit {rc})"
    return results


# --------------------------------------------------------------------------- report


def _cell(value: float | None, unit: str = " s") -> str:
    return "-" if value is None else f"{value:.2f}{unit}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None or b == 0 else f"{a / b:.3f}"


def report(results: dict[str, dict[str, Timing]], size_bytes: int, peer: str) -> str:
    """The side-by-side table, throughput, and Bastion/model-signing ratios."""
    gb = size_bytes / 1e9
    lines = [f"{'signer':<28} {'sign wall':>10} {'sign cpu':>10} {'verify wall':>12} {'verify cpu':>11} "
             f"{'sign GB/s':>10} {'verify GB/s':>12}"]
    for name, timing in results.items():
        sign, check = timing["sign"], timing["verify"]
        if sign.status != "ok" or check.status != "ok":
            bad = sign if sign.status != "ok" else check
            lines.append(f"{name:<28} {bad.status}: {bad.note}")
            continue
        lines.append(f"{name:<28} {_cell(sign.wall_s):>10} {_cell(sign.cpu_s):>10} {_cell(check.wall_s):>12} "
                     f"{_cell(check.cpu_s):>11} {gb / sign.wall_s:>10.2f} {gb / check.wall_s:>12.2f}"
                     if sign.wall_s and check.wall_s else f"{name:<28} no numbers")
    peer_row = results.get("model_signing (ecdsa-p256)")
    if peer_row and all(t.status == "ok" for t in peer_row.values()):
        lines.append("")
        lines.append(f"ratios Bastion / model_signing {peer} (below 1 is faster):")
        for name in ("bastion (ed25519)", "bastion (ecdsa-p256)"):
            row = results[name]
            lines.append(f"  {name:<24} sign wall {_ratio(row['sign'].wall_s, peer_row['sign'].wall_s)}, "
                         f"sign cpu {_ratio(row['sign'].cpu_s, peer_row['sign'].cpu_s)}, "
                         f"verify wall {_ratio(row['verify'].wall_s, peer_row['verify'].wall_s)}, "
                         f"verify cpu {_ratio(row['verify'].cpu_s, peer_row['verify'].cpu_s)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="Model size in MiB (default 1024).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed runs per command; the best counts (default 3).")
    parser.add_argument("--skip-peer", action="store_true", help="Measure Bastion only.")
    parser.add_argument("--timeout", type=float, default=900, help="Seconds per run (default 900).")
    parser.add_argument("--bastion", type=Path, default=DEFAULT_BASTION, help="The bastion executable.")
    args = parser.parse_args(argv)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    model = ensure_model(args.size_mb)
    size = warm_page_cache(model)
    peer_ok, peer = (False, "skipped (--skip-peer)") if args.skip_peer else ensure_peer()
    print(f"model: {model.relative_to(ROOT)} ({size / 1e9:.2f} GB in {sum(1 for _ in model.iterdir())} files); "
          f"model-signing: {peer}; {platform.platform()}, {os.cpu_count()} CPUs; best of {args.repeat}",
          flush=True)
    keys = make_keys(args.bastion)
    results: dict[str, dict[str, Timing]] = {}
    for name, (sign_argv, verify_argv) in commands(args.bastion, model, keys).items():
        if name.startswith("model_signing") and not peer_ok:
            results[name] = {"sign": Timing("unavailable", note=peer), "verify": Timing("unavailable", note=peer)}
            continue
        print(f"  {name} ...", flush=True)
        results[name] = {"sign": measure(f"{name} sign", sign_argv, args.repeat, args.timeout),
                         "verify": measure(f"{name} verify", verify_argv, args.repeat, args.timeout)}
    print()
    print(report(results, size, peer))
    interop = cross_check(args.bastion, model, keys, args.timeout) if peer_ok else {}
    for label, verdict in interop.items():
        print(f"interop: {label}: {verdict}")
    (DATA_DIR / "results.json").write_text(json.dumps({
        "size_bytes": size, "repeat": args.repeat, "model_signing": peer, "platform": platform.platform(),
        "cpus": os.cpu_count(), "interop": interop,
        "results": {name: {step: asdict(t) for step, t in row.items()} for name, row in results.items()},
    }, indent=2) + "\n")
    failed = any(t.status == "error" for row in results.values() for t in row.values())
    return 1 if failed or any(v != "ok" for v in interop.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
