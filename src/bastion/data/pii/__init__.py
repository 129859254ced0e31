"""Personal data in texts and tables: detection with validated patterns, context and an optional NER plug-in.

``PiiDetector().detect(text)`` returns ``Entity`` spans with Presidio's entity names. ``scan_table(path)`` classifies
the columns of a CSV, Parquet or JSON Lines file and counts personal data exactly; ``detect_records`` streams a
JSON Lines or text file. ``PiiCheck`` is the ``bastion.checks`` plug-in that reports datasets holding personal data
in ``bastion scan``. Names load on first access, so importing the package costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bastion.data.pii.check import PiiCheck
    from bastion.data.pii.engine import NER_TYPES, PiiDetector
    from bastion.data.pii.entities import ENTITY_TYPES, Entity
    from bastion.data.pii.ner import NerModel, load_ner
    from bastion.data.pii.records import RecordResult, detect_records
    from bastion.data.pii.tables import ColumnReport, TableReport, scan_table

__all__ = [
    "ENTITY_TYPES", "NER_TYPES", "ColumnReport", "Entity", "NerModel", "PiiCheck", "PiiDetector", "RecordResult",
    "TableReport", "detect_records", "load_ner", "scan_table",
]

_LAZY = {
    "PiiCheck": "check", "NER_TYPES": "engine", "PiiDetector": "engine", "ENTITY_TYPES": "entities",
    "Entity": "entities", "NerModel": "ner", "load_ner": "ner", "RecordResult": "records",
    "detect_records": "records", "ColumnReport": "tables", "TableReport": "tables", "scan_table": "tables",
}
"""Public name -> the module of this package that defines it."""


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
