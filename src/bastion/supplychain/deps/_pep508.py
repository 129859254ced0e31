"""PEP 508 requirement strings to Dependency records (shared by every format that writes them)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.supplychain.deps.interface import PYPI, Dependency, canonical_name

if TYPE_CHECKING:
    from packaging.markers import Marker
    from packaging.specifiers import SpecifierSet


ENV_VARIABLE = "names an environment variable, resolved only at install time"


class RequirementError(ValueError):
    """A requirement string is not valid PEP 508; the message says where it failed."""


def exact_version(specifier: SpecifierSet) -> str | None:
    """The one version ``specifier`` allows when it has ``==X`` (no wildcard) or ``===X``, else ``None``."""
    pins = {s.version for s in specifier if s.operator == "===" or (s.operator == "==" and not s.version.endswith("*"))}
    if len(pins) != 1:
        return None
    (version,) = pins
    return version if all(s.contains(version, prereleases=True) for s in specifier if s.operator != "===") else None


def exact_text(specifier: str) -> str | None:
    """``exact_version`` of a specifier string; ``None`` when it is empty, invalid or not one version."""
    if not specifier:
        return None
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        return exact_version(SpecifierSet(specifier))
    except InvalidSpecifier:
        return None


def marker_applies(marker: Marker | None) -> bool:
    """Whether ``marker`` holds for the running interpreter; an unevaluable marker counts as applying."""
    if marker is None:
        return True
    try:
        return bool(marker.evaluate({"extra": ""}))
    except Exception:  # packaging raises several types for markers it cannot evaluate; keep the dependency in
        return True


def marker_applies_text(marker: str | None) -> bool:
    """``marker_applies`` for a marker string; an invalid marker counts as applying (the dependency is kept)."""
    if not marker:
        return True
    from packaging.markers import InvalidMarker, Marker

    try:
        return marker_applies(Marker(marker))
    except InvalidMarker:
        return True


_UNPINNED = ("not pinned to one version", "no version constraint")


def unpinned_reason(specifier: str) -> str:
    """Why a dependency without an exact version cannot be audited."""
    return f"{_UNPINNED[0]}: {specifier}" if specifier else _UNPINNED[1]


def is_unpinned(dependency: Dependency) -> bool:
    """Whether ``dependency`` is unaudited only because it is a range (not a URL, path or checkout)."""
    return dependency.version is None and (dependency.unaudited or "").startswith(_UNPINNED)


def from_pep508(text: str, source: str, line: int | None = None, offset: int | None = None, group: str = "",
                hashes: tuple[str, ...] = (), ecosystem: str = PYPI) -> Dependency:
    """The Dependency that the PEP 508 string ``text`` declares; raises RequirementError when it is invalid."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        requirement = Requirement(text)
    except InvalidRequirement as exc:
        raise RequirementError(str(exc).splitlines()[0]) from None
    specifier = str(requirement.specifier)
    version = exact_version(requirement.specifier)
    unaudited: str | None = None
    if requirement.url:
        unaudited = direct_reference_reason(requirement.url)
        version = None
    elif "${" in text:
        unaudited = ENV_VARIABLE
    elif version is None:
        unaudited = unpinned_reason(specifier)
    marker = requirement.marker
    return Dependency(
        name=canonical_name(requirement.name), specifier=specifier, version=version, source=source, line=line,
        offset=offset, extras=tuple(sorted(requirement.extras)), markers=str(marker) if marker else None,
        applicable=marker_applies(marker), hashes=hashes, unaudited=unaudited, ecosystem=ecosystem, group=group)


def direct_reference_reason(url: str) -> str:
    """Why a dependency installed from ``url`` cannot be audited (credentials in the URL are never repeated)."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme.startswith(("git+", "hg+", "svn+", "bzr+")) or scheme in ("git", "hg", "svn", "bzr"):
        return f"installed from a {scheme.split('+')[0]} checkout; its code need not match any release"
    if scheme == "file" or not scheme:
        return "installed from a local path; its code need not match any release"
    return "installed from a URL; its code need not match any release"
