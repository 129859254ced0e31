"""What the side-by-side benchmarks share: the versions they ran with, and the final PASS/FAIL table."""

from __future__ import annotations

import importlib
import platform
from collections.abc import Sequence

Row = tuple[str, str, str, str, bool | None]
"""(section, target or detail, Bastion's figure, the peer's figure, passed: True/False, None for a detail row)."""


def versions(modules: Sequence[str]) -> dict[str, str]:
    """Python's version and each module's ``__version__`` (or "not installed")."""
    found = {"python": platform.python_version()}
    for name in modules:
        try:
            found[name] = str(getattr(importlib.import_module(name), "__version__", "?"))
        except ImportError:
            found[name] = "not installed"
    return found


def print_targets(rows: list[Row], widths: tuple[int, int, int, int] = (10, 58, 24, 24)) -> bool:
    """The final table (column widths: section, target, Bastion, peer); True when no target row failed."""
    section_w, target_w, mine_w, peer_w = widths
    print(f"\n{'section':<{section_w}}{'target':<{target_w}}{'Bastion':>{mine_w}}{'peer':>{peer_w}}  result")
    for section, name, mine, theirs, ok in rows:
        verdict = "" if ok is None and name.startswith("  ") else ("PASS" if ok else ("FAIL" if ok is False else "-"))
        print(f"{section:<{section_w}}{name:<{target_w}}{mine:>{mine_w}}{theirs:>{peer_w}}  {verdict}")
    return all(ok is not False for *_, ok in rows)
