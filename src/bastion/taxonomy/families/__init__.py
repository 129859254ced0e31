"""Rule families, one module per model format or feature; ``catalogue`` joins them into ``RULES``."""

from __future__ import annotations

from types import ModuleType

from bastion.taxonomy.families import (
    deps,
    gguf,
    keras,
    onnx,
    pii,
    safetensors,
    secrets,
    signing,
    skops,
    tensorflow,
)

FAMILIES: tuple[ModuleType, ...] = (keras, tensorflow, onnx, gguf, safetensors, skops, signing, deps, secrets, pii)
"""Each module has ``REFERENCES`` and ``RULES`` tuples."""
