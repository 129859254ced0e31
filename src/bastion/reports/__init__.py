"""Renderers: table, JSON, SARIF. Formats register under the ``bastion.formats`` entry-point group."""

from __future__ import annotations

from importlib.metadata import entry_points

from bastion.reports.interface import Format
from bastion.reports.json_format import JsonFormat, report_dict
from bastion.reports.sarif import SarifFormat, sarif_dict
from bastion.reports.table import TableFormat

_BUILTIN: dict[str, type] = {"table": TableFormat, "json": JsonFormat, "sarif": SarifFormat}


def available_formats() -> dict[str, type]:
    """Format name -> class, the built-in ones plus any registered by plug-ins."""
    formats = dict(_BUILTIN)
    for entry in entry_points(group="bastion.formats"):
        formats.setdefault(entry.name, entry.load())
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
