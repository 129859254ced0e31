"""The manifest formats, recognised by file name and a content check, and the pairing of a project file with
its lock: ``pyproject.toml`` ranges resolve through ``uv.lock``, ``poetry.lock`` or ``pylock.toml`` beside it,
``Pipfile`` ranges through ``Pipfile.lock``.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path, PurePath

from bastion.supplychain.deps._pep508 import is_unpinned
from bastion.supplychain.deps.conda import CondaEnvironmentSource
from bastion.supplychain.deps.interface import Dependency, DependencySource, Manifest, ManifestError, ManifestLimits
from bastion.supplychain.deps.names import could_be_manifest
from bastion.supplychain.deps.pipfile import PipfileSource
from bastion.supplychain.deps.pipfile_lock import PipfileLockSource
from bastion.supplychain.deps.poetry_lock import PoetryLockSource
from bastion.supplychain.deps.pylock import PylockSource
from bastion.supplychain.deps.pyproject import PyprojectSource
from bastion.supplychain.deps.requirements import RequirementsSource
from bastion.supplychain.deps.uv_lock import UvLockSource

SOURCES: tuple[DependencySource, ...] = (
    RequirementsSource(), PyprojectSource(), PoetryLockSource(), UvLockSource(), PipfileSource(),
    PipfileLockSource(), PylockSource(), CondaEnvironmentSource(),
)
"""Every manifest format, asked in this order."""
LOCKS = {"pyproject": ("uv.lock", "poetry.lock", "pylock.toml"), "pipfile": ("Pipfile.lock",)}
"""Project-file kind -> lock files beside it that resolve its ranges, in order of preference."""
_HEAD_BYTES = 8192


def recognise(shown: str, fs_path: Path, explicit: bool = False) -> DependencySource | None:
    """The format of the file at ``fs_path`` (reported as ``shown``), ``None`` when it is no manifest.

    Only files whose name could be a manifest are opened. An ``explicit`` file (named by the user) ending in
    ``.txt`` or ``.in`` that no format claims is read as a requirements file.
    """
    name = PurePath(shown).name
    if not explicit and not could_be_manifest(shown):
        return None
    try:
        with open(fs_path, "rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError:
        return None
    for source in SOURCES:
        if source.recognises(shown, head):
            return source
    if explicit and name.lower().endswith((".txt", ".in")) and b"\0" not in head:
        return SOURCES[0]
    return None


def read_manifest(source: DependencySource, fs_path: Path, shown: str, limits: ManifestLimits) -> Manifest:
    """Parse the manifest and, for a project file, resolve its ranges through the lock beside it."""
    manifest = source.parse(fs_path, shown, limits)
    locks = LOCKS.get(manifest.kind, ())
    lock_name = next((name for name in locks if (fs_path.parent / name).is_file()), None)
    if lock_name is None:
        return manifest
    lock_shown = os.path.join(os.path.dirname(shown), lock_name)
    lock_source = recognise(lock_shown, fs_path.parent / lock_name)
    if lock_source is None:
        return replace(manifest, problems=(*manifest.problems, f"{lock_shown}: not a readable lock; the ranges of "
                                           f"{shown} were not resolved"))
    try:
        lock = lock_source.parse(fs_path.parent / lock_name, lock_shown, limits)
    except ManifestError as exc:
        return replace(manifest, problems=(*manifest.problems, f"{exc}; the ranges of {shown} were not resolved"))
    return resolve_with_lock(manifest, lock)


def resolve_with_lock(manifest: Manifest, lock: Manifest) -> Manifest:
    """``manifest`` with each unpinned range pinned to the version ``lock`` resolves it to, when the range allows
    it; a range the lock does not resolve, or resolves outside the range, stays unaudited and says why."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    locked = {d.name: d for d in lock.dependencies if d.auditable}
    out: list[Dependency] = []
    for dependency in manifest.dependencies:
        if not is_unpinned(dependency):
            out.append(dependency)
            continue
        pin = locked.get(dependency.name)
        if pin is None or pin.version is None:
            out.append(replace(dependency, unaudited=f"{dependency.unaudited}, and {lock.path} does not lock it"))
            continue
        try:
            allowed = SpecifierSet(dependency.specifier).contains(pin.version, prereleases=True)
        except InvalidSpecifier:
            allowed = True  # a constraint PEP 440 cannot express (Poetry's ||): the lock is the resolver's answer
        if allowed:
            out.append(replace(dependency, version=pin.version, unaudited=None, resolved_by=lock.path))
        else:
            out.append(replace(dependency, unaudited=f"{lock.path} locks {pin.version}, which {dependency.specifier} "
                                                     "does not allow: the lock is stale"))
    return replace(manifest, dependencies=tuple(out), files=(*manifest.files, lock.path))
