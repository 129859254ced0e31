"""The optional NER plug-in of the PII engine: finds names, places and organisations that no pattern can.

``load_ner("spacy:PATH")``, ``"gliner:PATH"`` or ``"onnx:PATH"`` opens a model from a local directory (or, for
ONNX, a ``model.onnx`` file) after Bastion's own model-file scanner has examined it. Models are never loaded by
name, because every library would then try to download them. The adapters live beside this file, one per library
(``ner_spacy``, ``ner_gliner``, ``ner_onnx``), and import their library only when used.
"""

from __future__ import annotations

import importlib
import logging
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from bastion.data.pii.entities import Entity
from bastion.findings import ScanResult

log = logging.getLogger("bastion.pii")

LABEL_MAP: dict[str, str] = {
    "PER": "PERSON", "PERSON": "PERSON", "NAME": "PERSON", "PERSON_NAME": "PERSON",
    "LOC": "LOCATION", "LOCATION": "LOCATION", "GPE": "LOCATION", "FAC": "LOCATION", "ADDRESS": "LOCATION",
    "CITY": "LOCATION", "COUNTRY": "LOCATION",
    "ORG": "ORGANIZATION", "ORGANIZATION": "ORGANIZATION", "ORGANISATION": "ORGANIZATION", "COMPANY": "ORGANIZATION",
    "NORP": "NRP", "NRP": "NRP",
    "DATE": "DATE_TIME", "TIME": "DATE_TIME", "DATE_TIME": "DATE_TIME", "DATETIME": "DATE_TIME",
    "EMAIL": "EMAIL_ADDRESS", "EMAIL_ADDRESS": "EMAIL_ADDRESS",
    "PHONE": "PHONE_NUMBER", "PHONE_NUMBER": "PHONE_NUMBER",
    "CREDIT_CARD": "CREDIT_CARD", "CREDIT_CARD_NUMBER": "CREDIT_CARD",
    "IBAN": "IBAN_CODE", "IBAN_CODE": "IBAN_CODE",
    "IP_ADDRESS": "IP_ADDRESS", "URL": "URL",
}
"""Model label (upper case, spaces and hyphens as ``_``) -> Presidio entity type; other labels are dropped.

spaCy's OntoNotes labels (PERSON, GPE, LOC, FAC, ORG, NORP, DATE, TIME), CoNLL's (PER, LOC, ORG; MISC is
dropped) and the plain-English labels one gives GLiNER ("person", "phone number") all land on Presidio's names.
"""

SCHEMES = ("spacy", "gliner", "onnx")
"""The spec prefixes ``load_ner`` understands."""


class NerError(Exception):
    """A NER model could not be opened or run; the message says why and what to do."""


class UnsafeModelError(NerError):
    """The model-file scanner found something dangerous in the model's files; the model was not loaded."""

    def __init__(self, message: str, result: ScanResult) -> None:
        super().__init__(message)
        self.result = result
        """The scan that refused the model, for reports."""


class NerModel(Protocol):
    """A named-entity recogniser the PII engine can ask for names, places and organisations."""

    name: str
    """Short name of the backend (``spacy``, ``gliner``, ``onnx``); entities carry ``ner:<name>``."""
    entity_types: frozenset[str]
    """The Presidio entity types this model can report."""

    def find(self, texts: Sequence[str]) -> list[list[Entity]]:
        """The entities of each text, in text order; offsets are ``str`` indices into that text."""
        ...


def map_label(label: str) -> str | None:
    """Presidio's name for a model label (``GPE`` -> ``LOCATION``), ``None`` when Bastion has no use for it."""
    return LABEL_MAP.get(re.sub(r"[\s\-]+", "_", label.strip().upper()))


def require(module: str, install: str) -> Any:
    """Import an optional library, or raise NerError saying what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise NerError(f"this NER backend needs the {module!r} package, which is not installed: {install}") from exc


def parse_spec(spec: str) -> tuple[str, Path]:
    """Split ``scheme:PATH`` and check that PATH is an existing local file or directory."""
    scheme, sep, raw = spec.partition(":")
    scheme = scheme.strip().lower()
    if not sep or scheme not in SCHEMES:
        raise NerError(f"unknown NER model {spec!r}: write spacy:PATH, gliner:PATH or onnx:PATH")
    if not raw.strip():
        raise NerError(f"{spec!r} names no path: give the local directory that holds the model")
    path = Path(raw).expanduser()
    if path.exists():
        return scheme, path
    if "/" not in raw and "\\" not in raw:
        raise NerError(f"{raw!r} is not an existing file or directory; Bastion does not load NER models by package "
                       f"or hub name, because that would download them: give the path of a local copy")
    raise NerError(f"{raw!r}: no such file or directory (NER models are only loaded from local paths)")


def gate(path: Path, *, allow_unsafe: bool = False) -> ScanResult:
    """Scan the model's files; refuse them when a finding is at least MEDIUM, unless ``allow_unsafe``."""
    from bastion.supplychain.gate import UnsafeLoadError
    from bastion.supplychain.gate import gate as scan_gate

    try:
        return scan_gate(path, what="NER model", allow_unsafe=allow_unsafe)
    except UnsafeLoadError as exc:
        raise UnsafeModelError(str(exc), exc.result) from exc


def _open_spacy(path: Path) -> NerModel:
    from bastion.data.pii.ner_spacy import SpacyNer

    return SpacyNer(path)


def _open_gliner(path: Path) -> NerModel:
    from bastion.data.pii.ner_gliner import GlinerNer

    return GlinerNer(path)


def _open_onnx(path: Path) -> NerModel:
    from bastion.data.pii.ner_onnx import OnnxTokenNer

    return OnnxTokenNer(path)


_OPENERS: dict[str, Callable[[Path], NerModel]] = {"spacy": _open_spacy, "gliner": _open_gliner, "onnx": _open_onnx}


def load_ner(spec: str, *, allow_unsafe: bool = False) -> NerModel:
    """Open ``spacy:PATH``, ``gliner:PATH`` or ``onnx:PATH`` after the model-file scan has passed its files."""
    scheme, path = parse_spec(spec)
    if scheme != "onnx" and not path.is_dir():
        raise NerError(f"{path} is not a directory: a {scheme} model is a folder (the one its library saved)")
    gate(path, allow_unsafe=allow_unsafe)
    return _OPENERS[scheme](path)
