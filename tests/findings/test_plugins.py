"""Entry-point discovery reads only bastion groups, tolerates odd files, and lets the first on sys.path win."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bastion import plugins as plugin_module
from bastion.plugins import Plugin, plugins


def test_parse_keeps_only_bastion_groups_and_skips_junk() -> None:
    text = (
        "# comment\n[console_scripts]\nbastion = bastion.cli.entry:main\n\n"
        "[bastion.checks]\n; another comment\nmodel-files = pkg.mod:Check\nbroken line\n = nameless\n"
        "[bastion.formats]\nhtml=pkg.html:Html\n"
    )
    assert plugin_module._parse_entry_points(text) == [
        Plugin("bastion.checks", "model-files", "pkg.mod:Check"),
        Plugin("bastion.formats", "html", "pkg.html:Html"),
    ]


def test_installed_distributions_register_our_checks_and_formats() -> None:
    assert "model-files" in {p.name for p in plugins("bastion.checks")}
    assert {"json", "sarif", "table"} <= {p.name for p in plugins("bastion.formats")}


def test_first_distribution_on_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder, target in (("a", "first:Check"), ("b", "second:Check")):
        info = tmp_path / folder / "extra-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "entry_points.txt").write_text(f"[bastion.checks]\nextra = {target}\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path / "a"), str(tmp_path / "b"), *sys.path])
    plugin_module._all_plugins.cache_clear()
    try:
        extra = [p for p in plugins("bastion.checks") if p.name == "extra"]
    finally:
        plugin_module._all_plugins.cache_clear()
    assert [p.value for p in extra] == ["first:Check"]
