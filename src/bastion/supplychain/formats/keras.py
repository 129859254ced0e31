"""Keras models: legacy HDF5 files (``.h5``) and Keras configs (``config.json`` / ``metadata.json`` of ``.keras``).

Two analysers share one config walker. ``ANALYZER`` reads an HDF5 file's ``model_config`` and ``training_config``
attributes with h5py (read-only, bounded) and the shapes of its datasets (never their data); ``CONFIG_ANALYZER``
reads the JSON config that a ``.keras`` zip holds as its ``config.json`` member (each member reaches the analysers
as its own blob; ``model.weights.h5`` is weights only). The walker reports what loading the model would run or
reach: Lambda bytecode, imports from outside Keras, known in-Keras gadgets, pickled torch modules, and layers that
read files or URLs. Nothing is imported, unmarshalled into a code object, or executed.

The analysers and their ``sniff`` live here; the walker and the HDF5 reader live in ``_keras_impl``, imported only
when a Keras blob is analysed (its public names, ``examine_config`` and the bounds, are re-exported lazily).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bastion.supplychain.formats.interface import Blob, Report

if TYPE_CHECKING:
    from bastion.supplychain.formats._keras_impl import examine_config

__all__ = ["ANALYZER", "ANALYZERS", "CONFIG_ANALYZER", "KerasConfigAnalyzer", "KerasH5Analyzer", "examine_config"]

HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SIGNATURE_OFFSETS = (0, 512, 1024, 2048)
"""Where HDF5 looks for its superblock (after a user block of 512, 1024 or 2048 bytes)."""

_LAZY = frozenset({
    "HUGE_DATASET_BYTES", "HUGE_DATASET_RATIO", "MAX_ATTRIBUTE_BYTES", "MAX_DEPTH", "MAX_FINDINGS_PER_RULE",
    "MAX_H5_OBJECTS", "MAX_NODES", "examine_config",
})
"""Names of the analysis half, served from ``_keras_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _keras_impl

        return getattr(_keras_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _is_keras_document(doc: object, name: str) -> bool:
    """A Keras model/layer config or a ``.keras`` metadata.json; strict, so other JSON is not taken."""
    if not isinstance(doc, dict):
        return False
    if "class_name" not in doc:
        return isinstance(doc.get("keras_version"), str) and isinstance(doc.get("date_saved"), str)
    if not isinstance(doc.get("class_name"), str) or "config" not in doc:
        return False
    if isinstance(doc.get("module"), str):
        return True
    if any(key in doc for key in ("registered_name", "build_config", "compile_config", "keras_version", "backend")):
        return True
    config = doc.get("config")
    layers = config.get("layers") if isinstance(config, dict) else config
    if isinstance(layers, list) and layers and all(isinstance(x, dict) and "class_name" in x for x in layers[:8]):
        return True
    return name in ("config.json", "model.json")


class KerasConfigAnalyzer:
    """Keras JSON configs: ``.keras`` config.json / metadata.json members and ``model.to_json()`` files."""

    kind = "keras-config"

    def sniff(self, blob: Blob) -> bool:
        if not blob.looks_like_json_object():
            return False
        try:
            doc = blob.json()
        except ValueError:
            return False
        return _is_keras_document(doc, blob.name)

    def analyse(self, blob: Blob, report: Report) -> None:
        from bastion.supplychain.formats._keras_impl import analyse_config

        analyse_config(blob, report)


# ---- HDF5 ----


class KerasH5Analyzer:
    """HDF5 files: Keras 2 (and Keras 3 legacy) ``.h5`` models and weights, and ``.keras`` weight members."""

    kind = "keras-h5"

    def sniff(self, blob: Blob) -> bool:
        if blob.head[:8] == HDF5_SIGNATURE:
            return True
        return any(blob.size >= off + 8 and blob.source.read_at(off, 8) == HDF5_SIGNATURE
                   for off in SIGNATURE_OFFSETS[1:])

    def analyse(self, blob: Blob, report: Report) -> None:
        from bastion.supplychain.formats._keras_impl import analyse_h5

        analyse_h5(blob, report)


ANALYZER = KerasH5Analyzer()
CONFIG_ANALYZER = KerasConfigAnalyzer()
ANALYZERS = (ANALYZER, CONFIG_ANALYZER)
"""Both analysers, in sniffing order."""
