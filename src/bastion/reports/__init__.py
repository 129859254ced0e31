"""Renderers: table, JSON, SARIF. Formats register under the ``bastion.formats`` entry-point group."""

from __future__ import annotations

from bastion.plugins import plugins
from bastion.reports.interface import Format
from bastion.reports.json_format import JsonFormat, report_dict
from bastion.reports.sarif import SarifFormat, sarif_dict
from bastion.reports.table import TableFormat

_BUILTIN: dict[str, type] = {"table": TableFormat, "json": JsonFormat, "sarif": SarifFormat}


def available_formats() -> dict[str, type]:
    """Format name -> class, the built-in ones plus any registered by plug-ins."""
    formats = dict(_BUILTIN)
    for entry in plugins("bastion.formats"):
        loaded = entry.load()
        if isinstance(loaded, type):
            formats.setdefault(entry.name, loaded)
    return formats


def get_format(name: str) -> Format:
    """An instance of the named format; raises ValueError listing the choices."""
    formats = available_formats()
    if name not in formats:
        raise ValueError(f"unknown format {name!r}; choose one of: {', '.join(sorted(formats))}")
    instance: Format = formats[name]()
    return instance


__all__ = ["Format", "JsonFormat", "SarifFormat", "TableFormat", "available_formats", "get_format", "report_dict",
           "sarif_dict"]
