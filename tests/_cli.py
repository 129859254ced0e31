"""What the CLI tests share: running the installed command as users do, and the standard sample pickles."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

MALICIOUS = b"cos\nsystem\n(S'echo hi'\ntR."
"""A protocol-0 pickle that would call os.system; written as bytes and never loaded."""
BENIGN = pickle.dumps({"weights": [0.5, 1.5], "name": "head"}, protocol=4)
MALFORMED = BENIGN[:12]


def run_bastion(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -m bastion ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "bastion", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def scan_report(fmt: str, *args: str, cwd: Path) -> tuple[int, dict[str, Any]]:
    """Run `bastion scan ARGS --format FMT`; return the exit code and the parsed report."""
    run = run_bastion("scan", *args, "--format", fmt, cwd=cwd)
    assert run.stdout, run.stderr
    return run.returncode, json.loads(run.stdout)
