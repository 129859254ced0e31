"""ML frameworks, CUDA libraries and the NVIDIA driver: versions for the inventory (BST-DEP-005).

The wheels are PyPI packages and are audited like any other dependency. The driver is not a PyPI package and no
OSV ecosystem covers it (NVIDIA publishes security bulletins, not OSV records), so its version is recorded as a
fact and never matched: it is reported as not audited, not as clean.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass

from bastion.supplychain.deps.interface import Dependency

FRAMEWORKS = frozenset({
    "torch", "torchvision", "torchaudio", "tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-intel",
    "tensorflow-macos", "tf-nightly", "tf-keras", "keras", "jax", "jaxlib", "flax", "onnxruntime",
    "onnxruntime-gpu", "paddlepaddle", "paddlepaddle-gpu", "mxnet", "triton", "xformers", "tensorrt",
})
"""Deep-learning frameworks and runtimes (PEP 503 names)."""
_CUDA = re.compile(r"^(nvidia-.+|cupy-cuda.+|jax-cuda\d+-(plugin|pjrt)|tensorrt-cu\d+.*)$")
_TORCH_CUDA = re.compile(r"""^cuda\s*(?::[^=]*)?=\s*['"]([^'"]+)['"]""", re.MULTILINE)
NVIDIA_SMI_TIMEOUT = 10.0
"""Seconds ``nvidia-smi`` may take before the probe gives up."""


def category(name: str) -> str | None:
    """``framework`` or ``cuda`` for an ML framework or CUDA wheel (normalised name), else ``None``."""
    if name in FRAMEWORKS:
        return "framework"
    return "cuda" if _CUDA.match(name) else None


def inventory(dependencies: Iterable[Dependency]) -> dict[str, dict[str, str]]:
    """``{"frameworks": {name: version}, "cuda_libraries": {...}}`` of the dependencies that are either; a
    dependency without an exact version shows its constraint."""
    found: dict[str, dict[str, str]] = {"frameworks": {}, "cuda_libraries": {}}
    for dependency in dependencies:
        kind = category(dependency.name)
        if kind is not None:
            shown = dependency.version or dependency.specifier or "any version"
            found["frameworks" if kind == "framework" else "cuda_libraries"].setdefault(dependency.name, shown)
    return {key: value for key, value in found.items() if value}


def torch_cuda_version(version_file: str | None) -> str | None:
    """The CUDA version a torch build targets, read from the text of ``torch/version.py`` (never imported)."""
    if not version_file:
        return None
    match = _TORCH_CUDA.search(version_file)
    return match.group(1) if match else None


@dataclass(frozen=True)
class DriverProbe:
    """What ``nvidia-smi`` said."""

    version: str | None
    """The driver version(s), comma-separated when GPUs differ; ``None`` when unknown."""
    error: str | None
    """Why the version is unknown although ``nvidia-smi`` exists; ``None`` when it answered or is absent."""


def nvidia_driver(timeout: float = NVIDIA_SMI_TIMEOUT) -> DriverProbe | None:
    """Ask ``nvidia-smi`` for the driver version; ``None`` when it is not on PATH."""
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    try:
        # its own session, so a hung nvidia-smi and anything it started can be killed together
        process = subprocess.Popen([executable, "--query-gpu=driver_version", "--format=csv,noheader"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        return DriverProbe(None, f"nvidia-smi could not run: {exc.strerror or exc}")
    with process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill(process)
            return DriverProbe(None, f"nvidia-smi did not answer within {timeout:g} s")
    text = stdout[:4096].decode("utf-8", "replace")
    versions = sorted({line.strip() for line in text.splitlines() if re.fullmatch(r"\d+(\.\d+)*", line.strip())})
    if process.returncode != 0 or not versions:
        reason = stderr[:200].decode("utf-8", "replace").strip() or text.strip()[:200] or "no output"
        return DriverProbe(None, f"nvidia-smi exited {process.returncode}: {reason}")
    return DriverProbe(", ".join(versions), None)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process and its session (POSIX), then reap it."""
    import os
    import signal

    try:
        if hasattr(os, "killpg"):
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        pass  # it ended on its own meanwhile
    process.communicate()
