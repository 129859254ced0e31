"""Static analysers for model formats beyond pickle, one module per format, recognised by content.

``default_analyzers()`` is the list ``ModelFileCheck`` uses; each module named in ``_MODULES`` exposes
``ANALYZER``, or ``ANALYZERS`` when it recognises several kinds of content. Modules import their heavy
dependencies (h5py, jinja2) only inside ``analyse``, so a scan that meets no such file never pays for them.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from bastion.supplychain.formats.interface import MAX_JSON_BYTES, Blob, FormatAnalyzer, Report

__all__ = ["MAX_JSON_BYTES", "Blob", "FormatAnalyzer", "Report", "default_analyzers"]

_MODULES: tuple[str, ...] = (
    "keras", "gguf", "safetensors", "skops", "hf_config", "onnx", "tensorflow", "chat_template",
)
"""Analyser modules in sniffing order: the first whose ``sniff`` accepts a blob examines it."""


@lru_cache(maxsize=1)
def default_analyzers() -> tuple[FormatAnalyzer, ...]:
    """Every built-in format analyser, in sniffing order."""
    found: list[FormatAnalyzer] = []
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        found.extend(getattr(module, "ANALYZERS", (module.ANALYZER,)))
    return tuple(found)
