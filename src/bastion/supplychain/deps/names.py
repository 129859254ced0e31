"""Which file names can be dependency manifests: a check on the name alone, so ``bastion scan`` opens (and imports
the parsers for) only the files that may be one."""

from __future__ import annotations

from pathlib import PurePath

EXACT_NAMES = frozenset({"pyproject.toml", "poetry.lock", "uv.lock", "Pipfile", "Pipfile.lock"})
"""Manifests recognised by their exact name."""


def is_requirements_name(path: str) -> bool:
    """``*requirements*.txt``, or any ``.txt`` in a ``requirements/`` folder."""
    pure = PurePath(path)
    name = pure.name.lower()
    return name.endswith(".txt") and ("requirements" in name or pure.parent.name.lower() == "requirements")


def is_conda_name(path: str) -> bool:
    """A YAML file named like a conda environment (``environment.yml``, ``conda-gpu.yaml``...)."""
    name = PurePath(path).name.lower()
    return name.endswith((".yml", ".yaml")) and ("environment" in name or name.startswith("conda"))


def is_pylock_name(path: str) -> bool:
    """``pylock.toml`` or ``pylock.NAME.toml`` (PEP 751)."""
    name = PurePath(path).name
    return name.startswith("pylock.") and name.endswith(".toml") and "/" not in name[7:-5]


def could_be_manifest(path: str) -> bool:
    """Whether the name alone allows the file at ``path`` to be a manifest."""
    return (PurePath(path).name in EXACT_NAMES or is_requirements_name(path) or is_conda_name(path)
            or is_pylock_name(path))
