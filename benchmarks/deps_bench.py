"""Dependency audit benchmark: Bastion's offline audit beside pip-audit's behaviour without its online services.

It imports the PyPA advisory archive (``../shared/data/advisories``) into a temporary ``BASTION_HOME``, writes a
requirements file of N known-vulnerable pins (one listed version per advisory, newest advisories first), then
times ``bastion db import`` and ``bastion deps`` (best of ``--repeat``) and runs ``pip-audit`` on the same file
with its two services. pip-audit lives in its own venv, ``benchmarks/.peers/pip-audit-venv``, installed on first
use. Run with the project venv: ``.venv/bin/python benchmarks/deps_bench.py [--pins 200] [--repeat 3]``.

What pip-audit does when its services cannot be reached (observed with pip-audit 2.10.1, no route to pypi.org's
JSON API or api.osv.dev): ``-s pypi`` (the default) prints "No known vulnerabilities found", lists every pin as
"Dependency not found on PyPI and could not be audited" and exits 0 (only ``--strict`` turns that into exit 1);
``-s osv`` ends with a ConnectionError traceback, exit 1. Bastion audits from its local database and exits 1
with the findings; without a database it exits 2 (incomplete), never 0.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHIVE = ROOT.parent / "shared" / "data" / "advisories" / "pypa-advisory-database-vulns.tar.gz"
PEER_VENV = ROOT / "benchmarks" / ".peers" / "pip-audit-venv"
BASTION = ROOT / ".venv" / "bin" / "bastion"


def vulnerable_pins(archive: Path, count: int) -> list[str]:
    """``name==version`` for ``count`` packages, each a version that an advisory lists as affected."""
    import yaml
    from packaging.version import InvalidVersion, Version

    records = []
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.startswith("vulns/") and member.name.endswith(".yaml"):
                handle = tar.extractfile(member)
                data = yaml.load(handle.read(), Loader=yaml.CBaseLoader) if handle else None
                if isinstance(data, dict) and not data.get("withdrawn"):
                    records.append(data)
    pins: dict[str, str] = {}
    for data in sorted(records, key=lambda r: r["id"], reverse=True):
        affected = data["affected"][0]
        finals = []
        for text in affected.get("versions", []):
            try:
                if not Version(text).is_prerelease:
                    finals.append((Version(text), text))
            except InvalidVersion:
                continue
        name = affected["package"]["name"]
        if finals and name not in pins and len(pins) < count:
            pins[name] = max(finals)[1]
    return [f"{name}=={version}" for name, version in pins.items()]


def run(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, float, str]:
    """Exit code, wall seconds and combined output of one command."""
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600, check=False)
    return done.returncode, time.perf_counter() - started, done.stdout + done.stderr


def best(argv: list[str], env: dict[str, str], repeat: int) -> tuple[int, float, str]:
    """The fastest of ``repeat`` runs."""
    runs = [run(argv, env) for _ in range(repeat)]
    return min(runs, key=lambda r: r[1])


def ensure_pip_audit() -> Path | None:
    """pip-audit in its own venv, installed from the package index on first use; ``None`` when that fails."""
    executable = PEER_VENV / "bin" / "pip-audit"
    if executable.exists():
        return executable
    print(f"installing pip-audit into {PEER_VENV.relative_to(ROOT)} ...", flush=True)
    if run([sys.executable, "-m", "venv", str(PEER_VENV)])[0] != 0:
        return None
    code, _, output = run([str(PEER_VENV / "bin" / "pip"), "install", "--quiet", "pip-audit"])
    if code != 0:
        print(f"pip-audit unavailable: {output.strip().splitlines()[-1:]}")
        return None
    return executable


def main() -> int:
    """Print one table: what each run did, its exit code and its wall time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pins", type=int, default=200, help="Vulnerable pins in the requirements file.")
    parser.add_argument("--repeat", type=int, default=3, help="Best of N for the Bastion runs.")
    args = parser.parse_args()
    if not ARCHIVE.is_file():
        print(f"{ARCHIVE} is absent: the benchmark needs the shared PyPA archive")
        return 2
    with tempfile.TemporaryDirectory(prefix="deps-bench-") as work:
        folder = Path(work)
        env = {**os.environ, "BASTION_HOME": str(folder / "home")}
        requirements = folder / "requirements.txt"
        requirements.write_text("".join(f"{pin}\n" for pin in vulnerable_pins(ARCHIVE, args.pins)))
        rows = []
        code, seconds, output = best([str(BASTION), "db", "import", str(ARCHIVE)], env, args.repeat)
        rows.append(("bastion db import (PyPA tar.gz)", code, seconds, output.splitlines()[0] if output else ""))
        code, seconds, output = best([str(BASTION), "deps", str(requirements), "--format", "json"], env, args.repeat)
        report = json.loads(output[: output.rindex("}") + 1]) if "{" in output else {}
        facts = report.get("targets", [{}])[0].get("facts", {})
        rows.append((f"bastion deps ({args.pins} pins)", code, seconds,
                     f"{facts.get('vulnerable')} of {facts.get('dependencies')} pins vulnerable, "
                     f"{report.get('summary', {}).get('findings')} findings"))
        empty = {**env, "BASTION_HOME": str(folder / "empty-home")}
        code, seconds, _ = run([str(BASTION), "deps", str(requirements)], empty)
        rows.append(("bastion deps, no database", code, seconds, "incomplete (BST-DEP-003)" if code == 2 else "?"))
        pip_audit = ensure_pip_audit()
        for service in ("pypi", "osv"):
            if pip_audit is None:
                rows.append((f"pip-audit -s {service}", -1, 0.0, "unavailable"))
                continue
            code, seconds, output = run([str(pip_audit), "-r", str(requirements), "--no-deps", "--disable-pip",
                                         "-s", service, "--progress-spinner", "off"])
            said = next((line for line in output.splitlines() if "vulnerab" in line.lower() or "Error" in line), "")
            rows.append((f"pip-audit -s {service} (offline)", code, seconds, said[:90]))
    print(f"{'run':<34} {'exit':>4} {'wall s':>7}  outcome")
    for name, code, seconds, outcome in rows:
        print(f"{name:<34} {code:>4} {seconds:>7.2f}  {outcome}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
