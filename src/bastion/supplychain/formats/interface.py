"""The interface of a model-format analyser: recognise content cheaply, then examine it statically.

``ModelFileCheck`` opens files and containers and hands every piece of content (a whole file, or one member of a
zip, tar or compressed wrapper) to the first analyser whose ``sniff`` accepts it. Analysers never import, load or
execute what they read; they report through ``Report`` and stay within ``Report.limits`` and ``Report.deadline``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bastion.config import Limits
from bastion.findings import Severity
from bastion.supplychain.pickle import Source

MAX_JSON_BYTES = 64 * 1024 * 1024
"""Largest JSON document parsed (configs, schemas, tokenizer files); larger ones are not treated as JSON."""


@dataclass
class Blob:
    """One piece of content to analyse: a whole file, or a member of a container."""

    source: Source
    """Positional reads of the content."""
    size: int
    """Its length in bytes."""
    head: bytes
    """Its first 512 bytes (fewer when it is shorter)."""
    member: str | None
    """Its name inside the containers (``outer.zip!inner/config.json``); None for the file itself."""
    name: str
    """The base name of the file or member, for hints only (never the sole basis of recognition)."""
    fs_path: Path | None
    """The file on disk when ``member`` is None (ONNX external data is resolved against its folder)."""
    view: Callable[[], memoryview]
    """The whole content without copying (a memory map for files); call only when needed."""
    _json: object = field(default=None, repr=False)
    _json_error: str | None = field(default=None, repr=False)
    _json_parsed: bool = field(default=False, repr=False)

    def looks_like_json_object(self) -> bool:
        """Whether the content starts like a JSON object (``{`` after optional BOM and whitespace)."""
        text = self.head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
        return text[:1] == b"{" and self.size <= MAX_JSON_BYTES

    def json(self) -> object:
        """The content parsed as JSON, parsed once and cached; raises ValueError when it is not JSON."""
        if not self._json_parsed:
            self._json_parsed = True
            if self.size > MAX_JSON_BYTES:
                self._json_error = f"JSON document of {self.size} bytes exceeds {MAX_JSON_BYTES}"
            else:
                try:
                    self._json = json.loads(bytes(self.view()).decode("utf-8-sig"))
                except (UnicodeDecodeError, ValueError, RecursionError) as exc:
                    self._json_error = f"not valid JSON: {exc}"
        if self._json_error is not None:
            raise ValueError(self._json_error)
        return self._json


class Report(Protocol):
    """Where an analyser puts what it learns about the blob it examines."""

    @property
    def limits(self) -> Limits:
        """The bounds of this scan."""
        ...

    @property
    def deadline(self) -> float:
        """``time.monotonic()`` value after which the analyser must stop and call ``not_examined``."""
        ...

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        """Record a finding of catalogue rule ``rule_id`` (default severity unless ``severity`` is given)."""
        ...

    def not_examined(self, member: str | None, why: str) -> None:
        """Record that part of the content could not be examined (the target becomes incomplete)."""
        ...

    def fact(self, key: str, value: object) -> None:
        """Record what the content says about itself (``format``, ``architecture``, ``parameters``, ``task``...).

        The first value recorded for a key wins, so the outermost analyser names the format."""
        ...

    def nested(self, data: bytes | memoryview, member: str) -> None:
        """Examine embedded content (a pickle inside a Keras config, an h5 inside a zip) with every analyser."""
        ...


class FormatAnalyzer(Protocol):
    """A static analyser for one model format."""

    kind: str
    """What the content is reported as (``safetensors``, ``gguf``, ``keras-h5``...)."""

    def sniff(self, blob: Blob) -> bool:
        """Whether ``blob`` is this format, judged from content (``head``, a few reads); must be cheap."""
        ...

    def analyse(self, blob: Blob, report: Report) -> None:
        """Examine ``blob``; never execute, import or load it; stay within ``report.limits``."""
        ...
