"""Jupyter notebooks as their reader sees them: every cell source and every output as a decoded string.

Scanners that read a notebook as text see JSON: keys written with escapes (``\\u002d`` for ``-``, ``\\n`` inside
a PEM block), split over list items, or buried in HTML and traceback outputs. Here the file is parsed with
``json`` (bounded in size by the caller; Python's parser bounds the nesting) and split into segments: each cell's
source (a string or a list of lines, nbformat 4, or the ``input`` of nbformat 3), each part of each output
(stream text, every ``data`` MIME type, ``traceback``, error name and value), and everything else (cell and
notebook metadata, attachments, unknown keys, and values that a duplicated key hid from ``json``), so nothing a
raw-text scan could see is lost. Only base64 payloads of binary MIME types (PNG, JPEG, PDF...) are skipped: their
bytes decode to an image, not to text. Segment labels read ``cell 3 (code)``, ``cell 3 (output 1, text/html)``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_DEPTH", "Segment", "json_string_segments", "looks_like_notebook", "notebook_segments"]

MAX_DEPTH = 64
"""Nesting walked inside metadata and outputs; deeper values are reported as not examined."""
BINARY_MIMES = frozenset({
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/tiff", "application/pdf",
    "application/octet-stream", "audio/wav", "audio/mpeg", "video/mp4",
})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+/\- ]{0,39}")


def _label(key: object) -> str:
    """A JSON key fit for a report: shown when it is a short, plain, non-random name (``text/html``,
    ``execution_count``, ``image.png``), else ``?``, because a key may itself be the secret."""
    from bastion.supplychain.secrets.generic import looks_random

    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key) and not looks_random(key.encode("utf-8")):
        return key
    return "?"


@dataclass(frozen=True)
class Segment:
    """One string of a notebook, with where it is and what it is."""

    where: str
    """``cell 3 (code)``, ``cell 3 (output 1)``, ``cell 3 (output 2, text/html)``, ``metadata``..."""
    text: str
    """The decoded string (lists of lines joined)."""
    kind: str
    """``code``, ``markdown``, ``raw``, ``output`` or ``other`` (metadata, attachments, unknown keys)."""


def looks_like_notebook(head: bytes, name: str) -> bool:
    """A JSON object that announces cells or an nbformat early, or any file named ``*.ipynb``."""
    if name.lower().endswith(".ipynb"):
        return True
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return text[:1] == b"{" and (b'"cells"' in head or b'"nbformat"' in head or b'"worksheets"' in head)


def notebook_segments(data: bytes) -> tuple[list[Segment], list[str]]:
    """The segments of a notebook and the parts that could not be examined.

    Raises ValueError (without quoting the content) when ``data`` is not a notebook: not UTF-8 JSON, nested
    beyond the parser's limit, or without ``cells``/``worksheets`` and an integer ``nbformat``."""
    dropped: list[Any] = []
    try:
        doc = json.loads(data.decode("utf-8-sig"), object_pairs_hook=_keeping(dropped))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from None
    except RecursionError:
        raise ValueError("JSON nested deeper than the parser allows") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("nbformat"), int):
        raise ValueError("JSON without an integer nbformat")
    cells = _cells(doc)
    if cells is None:
        raise ValueError("JSON without a cells list")
    walker = _Walker()
    for number, cell in enumerate(cells, 1):
        walker.cell(number, cell)
    walker.strings("metadata", doc.get("metadata"))
    rest = {k: v for k, v in doc.items() if k not in ("cells", "worksheets", "metadata", "nbformat")}
    walker.strings("notebook", rest)
    walker.strings("notebook (value of a duplicated key)", dropped)
    return walker.segments, walker.problems


def _keeping(dropped: list[Any]) -> Any:
    """An ``object_pairs_hook`` that builds dicts but keeps the values a repeated key would overwrite."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out:
                dropped.append(out[key])
            out[key] = value
        return out

    return pairs


def _cells(doc: dict[str, Any]) -> list[Any] | None:
    cells = doc.get("cells")
    if isinstance(cells, list):
        return cells
    sheets = doc.get("worksheets")  # nbformat 3
    if isinstance(sheets, list):
        return [c for s in sheets if isinstance(s, dict) and isinstance(s.get("cells"), list) for c in s["cells"]]
    return None


def _joined(value: Any) -> str | None:
    """A string, or a list of strings joined as nbformat stores multi-line text; None for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "".join(value)
    return None


class _Walker:
    """Collects segments; every string of the document ends up in exactly one."""

    def __init__(self) -> None:
        self.segments: list[Segment] = []
        self.problems: list[str] = []

    def add(self, where: str, text: str | None, kind: str) -> None:
        if text:
            self.segments.append(Segment(where, text, kind))

    def cell(self, number: int, cell: Any) -> None:
        label = f"cell {number}"
        if not isinstance(cell, dict):
            self.strings(label, cell)
            return
        cell_type = cell.get("cell_type")
        kind = cell_type if isinstance(cell_type, str) and cell_type in ("code", "markdown", "raw") else "raw"
        source_key = "input" if "input" in cell and "source" not in cell else "source"
        source = _joined(cell.get(source_key))
        self.add(f"{label} ({kind})", source, kind)
        if source is None:
            self.strings(f"{label} ({kind})", cell.get(source_key))
        outputs = cell.get("outputs")
        if isinstance(outputs, list):
            for index, output in enumerate(outputs, 1):
                self.output(f"{label} (output {index}", output)
        else:
            self.strings(f"{label} (outputs)", outputs)
        self.mime_bundle(f"{label} (attachments", cell.get("attachments"))
        rest = {k: v for k, v in cell.items() if k not in (source_key, "outputs", "attachments", "cell_type")}
        self.strings(f"{label} (metadata)", rest)

    def output(self, label: str, output: Any) -> None:
        if not isinstance(output, dict):
            self.strings(label + ")", output)
            return
        for key, value in output.items():
            if key == "data":
                self.mime_bundle(label, value)
            elif key in ("text", "traceback"):
                text = "\n".join(value) if key == "traceback" and isinstance(value, list) else _joined(value)
                part = "" if key == "text" else ", traceback"
                if text is None:
                    self.strings(f"{label}{part})", value)
                else:
                    self.add(f"{label}{part})", text, "output")
            elif key in ("evalue", "ename") and isinstance(value, str):
                self.add(f"{label}, error)", value, "output")
            elif key not in ("output_type", "name", "execution_count"):
                self.strings(f"{label}, {_label(key)})", value)

    def mime_bundle(self, label: str, bundle: Any) -> None:
        """Each MIME part of an output's ``data`` (or of attachments, one bundle per file name)."""
        if not isinstance(bundle, dict):
            self.strings(label + ")", bundle)
            return
        for mime, value in bundle.items():
            name = _label(mime)
            if isinstance(value, dict) and not mime.count("/"):  # attachments: file name -> bundle
                self.mime_bundle(f"{label}, {name}", value)
                continue
            text = _joined(value)
            if text is None:
                self.strings(f"{label}, {name})", value)
            elif not (mime in BINARY_MIMES and _BASE64.fullmatch(text)):
                self.add(f"{label}, {name})", text, "output")

    def strings(self, where: str, value: Any) -> None:
        """Every string (keys included) under ``value``, as one segment of lines (``key: value`` for a string
        value), to ``MAX_DEPTH``."""
        lines = list(self._strings(value, where))
        if lines:
            self.add(where, "\n".join(lines), "other")

    def _strings(self, value: Any, where: str) -> Iterator[str]:
        """Depth first, in document order: a key on its own line before its contents, ``key: value`` for strings."""
        stack: list[tuple[Any, Any, int]] = [(None, value, 0)]
        while stack:
            key, item, depth = stack.pop()
            if isinstance(item, str):
                yield item if key is None else f"{key}: {item}"
                continue
            if isinstance(key, str):
                yield key
            if not isinstance(item, (dict, list)):
                continue
            if depth >= MAX_DEPTH:
                self.problems.append(f"{where}: nested deeper than {MAX_DEPTH} levels; the rest not examined")
                continue
            children = item.items() if isinstance(item, dict) else ((None, v) for v in item)
            stack.extend(reversed([(k, v, depth + 1) for k, v in children]))

def json_string_segments(data: bytes) -> tuple[list[Segment], list[str]]:
    """Every string of a JSON document (keys included) decoded, one segment per string, labelled by its path
    (``$.config.api_key``; keys that are not plain names show as ``?``). Raises ValueError when not JSON."""
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, RecursionError, json.JSONDecodeError):
        raise ValueError("not JSON") from None
    segments: list[Segment] = []
    problems: list[str] = []
    stack: list[tuple[Any, str, int]] = [(doc, "$", 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            segments.append(Segment(f"JSON string {path}", item, "other"))
        elif isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                problems.append(f"{path}: nested deeper than {MAX_DEPTH} levels; the rest not examined")
                continue
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            children = []
            for key, value in pairs:
                child = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{_label(key)}"
                if isinstance(key, str):
                    segments.append(Segment(f"JSON key at {child}", key, "other"))
                children.append((value, child, depth + 1))
            stack.extend(reversed(children))
    return segments, problems
