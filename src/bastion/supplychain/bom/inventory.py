"""What the ML-BOM lists: the scan's targets sorted into models, datasets and other files. Pure data, no CycloneDX.

A folder holding a Hugging Face config (any ``hf-*`` format, ``config.json`` first) or a TensorFlow SavedModel is one
logical model: its weight shards, alternative weight formats, configs and tokenizer files become the files of one
model, and the config facts describe that model. Files under such a folder belong to the nearest one (so diffusers
sub-models and an ``onnx/`` export folder stay where an auditor expects them). A model file anywhere else is a model
of its own. Datasets are never part of a model, wherever they lie.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bastion.findings import ScanResult, TargetResult, TargetStatus
from bastion.supplychain.bom.datasets import DatasetInfo, sniff_dataset

MODEL_FORMAT_PREFIXES = (
    "pickle", "pytorch", "torch", "joblib", "dill", "cloudpickle", "safetensors", "gguf", "ggml", "onnx", "keras",
    "tensorflow", "tflite", "skops", "coreml", "mlmodel", "openvino", "paddle", "mxnet", "caffe", "flax", "nemo",
)
"""Formats (``facts["format"]`` or the target kind) whose files hold a model, matched as prefixes."""
ARRAY_FORMATS = frozenset({"npy", "npz"})
"""NumPy arrays: weights inside a model folder, data anywhere else."""
CONTAINER_KINDS = frozenset({
    "zip", "tar", "7z", "gzip", "gz", "bz2", "xz", "lzma", "zlib", "too-large", "unrecognised",
})
"""Kinds that say how a file is wrapped (or that it could not be read), not what it holds."""
DATASET_FORMATS = frozenset({"csv", "tsv", "parquet", "arrow", "feather", "orc", "avro", "jsonl"})
"""Formats that a data analyser may report in ``facts["format"]``."""
MODEL_NAME_SUFFIXES = frozenset({
    ".pkl", ".pickle", ".pt", ".pth", ".pt2", ".joblib", ".jbl", ".ckpt", ".bin", ".sav", ".dill", ".model", ".mdl",
    ".keras", ".h5", ".hdf5", ".onnx", ".safetensors", ".gguf", ".tflite", ".pb", ".skops",
})
"""Names that promise a model: a container or unreadable file with one of them is listed as a model."""
_SHARD = re.compile(r"-?\d{1,6}-of-\d{1,6}")
_FOLDER_MARKERS = ("hf-", "tensorflow-savedmodel")


@dataclass(frozen=True)
class FileEntry:
    """One scanned file as the BOM shows it."""

    target: TargetResult
    """What the scan said about it."""
    name: str
    """Its path relative to the scanned root, with ``/`` separators."""
    format: str
    """``facts["format"]``, else the target kind (``unknown`` when nothing recognised it)."""

    @property
    def ref(self) -> str:
        """Its bom-ref."""
        return f"file:{self.name}"


@dataclass(frozen=True)
class Model:
    """One logical model: a model folder with its files, or a single model file."""

    ref: str
    """Its bom-ref."""
    name: str
    """The folder or file path relative to the root."""
    files: tuple[FileEntry, ...]
    """The files of a model folder (empty for a single-file model)."""
    single: FileEntry | None
    """The file itself, for a single-file model."""
    facts: Mapping[str, Any]
    """Facts describing the model: config facts first, then those of the weight files (first value wins)."""
    formats: tuple[str, ...]
    """The weight formats, in file order without repeats."""
    parameters: int | None
    """Parameter count: shards of one weight set summed, the largest weight set when there are several."""
    tensors: int | None
    """Tensor count, aggregated like ``parameters``."""

    @property
    def entries(self) -> tuple[FileEntry, ...]:
        """Every file of the model."""
        return self.files if self.single is None else (self.single,)


@dataclass(frozen=True)
class Dataset:
    """One dataset file."""

    entry: FileEntry
    """The file."""
    info: DatasetInfo
    """Its format and column names."""

    @property
    def ref(self) -> str:
        """Its bom-ref."""
        return f"data:{self.entry.name}"


@dataclass(frozen=True)
class Inventory:
    """Everything the BOM lists, and which bom-refs a finding at a given path affects."""

    models: tuple[Model, ...]
    """Logical models."""
    datasets: tuple[Dataset, ...]
    """Dataset files."""
    files: tuple[FileEntry, ...]
    """Other files worth listing: recognised ones, and any with findings or an incomplete scan."""
    affected: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Reported target path -> bom-refs of the component holding it (and of its model, for a model's file)."""


def relative_name(path: str, root: str) -> str:
    """``path`` relative to the scanned ``root`` with ``/`` separators; a root that is a file gives its base name."""
    if os.path.normpath(path) == os.path.normpath(root):
        return os.path.basename(os.path.normpath(os.path.abspath(root)))
    return os.path.relpath(path, root).replace(os.sep, "/")


def build_inventory(result: ScanResult, root: str) -> Inventory:
    """Sort the scan's targets into models, datasets and other files."""
    entries = [FileEntry(t, relative_name(t.path, root), str(t.facts.get("format") or t.kind)) for t in result.targets]
    folders = _model_folders(entries)
    with_findings = {f.location.path for f in result.findings}
    grouped: dict[str, list[FileEntry]] = {folder: [] for folder in folders}
    models: list[Model] = []
    datasets: list[Dataset] = []
    files: list[FileEntry] = []
    for entry in entries:
        owner = _owner(entry.name, folders)
        info = _dataset(entry, owner is not None)
        if info is not None:
            datasets.append(Dataset(entry, info))
        elif owner is not None and (_recognised(entry) or posixpath.dirname(entry.name) == owner):
            grouped[owner].append(entry)
        elif owner is None and _is_model(entry, in_model_folder=False):
            models.append(_model(entry.name, f"model:{entry.name}", (), entry))
        elif _recognised(entry) or entry.target.path in with_findings or entry.target.status is TargetStatus.INCOMPLETE:
            files.append(entry)
    for folder, members in grouped.items():
        name = folder or relative_name(root, root)  # the scanned root is itself a model folder
        models.append(_model(name, f"model:{folder or '.'}", tuple(members), None))
    return Inventory(tuple(models), tuple(datasets), tuple(files), _affected(models, datasets, files))


def _model_folders(entries: list[FileEntry]) -> set[str]:
    """Folders with a model config or SavedModel that hold (at any depth, nearest first) at least one weight file."""
    candidates = {posixpath.dirname(e.name) for e in entries if e.format.startswith(_FOLDER_MARKERS)}
    return {owner for e in entries if (owner := _owner(e.name, candidates)) is not None
            and _is_model(e, in_model_folder=True)}


def _owner(name: str, folders: set[str]) -> str | None:
    """The nearest model folder holding ``name``, or None."""
    folder = posixpath.dirname(name)
    while True:
        if folder in folders:
            return folder
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def _recognised(entry: FileEntry) -> bool:
    return entry.format != "unknown"


def _suffixes(name: str) -> set[str]:
    return {"." + part for part in posixpath.basename(name).lower().split(".")[1:]}


def _is_model(entry: FileEntry, in_model_folder: bool) -> bool:
    fmt = entry.format
    if fmt in ARRAY_FORMATS or (fmt == "zip" and ".npz" in _suffixes(entry.name)):
        return in_model_folder
    if fmt.startswith(MODEL_FORMAT_PREFIXES):
        return True
    return fmt in CONTAINER_KINDS and bool(_suffixes(entry.name) & MODEL_NAME_SUFFIXES)


def _dataset(entry: FileEntry, in_model_folder: bool) -> DatasetInfo | None:
    """Dataset facts reported by the scan, an array outside model folders, or a sniff of an unrecognised file."""
    target = entry.target
    if entry.format in DATASET_FORMATS:
        columns = target.facts.get("columns")
        names = tuple(str(c) for c in columns) if isinstance(columns, (list, tuple)) else ()
        return DatasetInfo(entry.format, names)
    if entry.format in ARRAY_FORMATS or (entry.format == "zip" and ".npz" in _suffixes(entry.name)):
        return None if in_model_folder else DatasetInfo("npz" if entry.format == "zip" else entry.format)
    if entry.format != "unknown" or target.size is None:
        return None  # recognised as something else, or never opened (a skipped symlink)
    return sniff_dataset(target.path, target.size)


def _model(name: str, ref: str, files: tuple[FileEntry, ...], single: FileEntry | None) -> Model:
    members = files or ((single,) if single is not None else ())
    weights = [m for m in members if _is_model(m, in_model_folder=True)]
    ordered = sorted(members, key=lambda m: (m.format != "hf-config", not m.format.startswith("hf-")))
    facts: dict[str, Any] = {}
    for member in ordered:
        for key, value in member.target.facts.items():
            facts.setdefault(key, value)
    formats = tuple(dict.fromkeys(w.format for w in weights))
    return Model(ref, name, files, single, facts, formats, _largest_set(weights, "parameters"),
                 _largest_set(weights, "tensors"))


def _largest_set(weights: Iterable[FileEntry], key: str) -> int | None:
    """Sum ``key`` over the shards of each weight set, then take the largest set (alternative formats repeat)."""
    sums: dict[str, int] = {}
    for entry in weights:
        value = entry.target.facts.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            weight_set = _SHARD.sub("", posixpath.basename(entry.name))
            sums[weight_set] = sums.get(weight_set, 0) + value
    return max(sums.values(), default=None)


def _affected(models: list[Model], datasets: list[Dataset], files: list[FileEntry]) -> dict[str, tuple[str, ...]]:
    affected: dict[str, tuple[str, ...]] = {}
    for model in models:
        if model.single is not None:
            affected[model.single.target.path] = (model.ref,)
        for entry in model.files:
            affected[entry.target.path] = (entry.ref, model.ref)
    for dataset in datasets:
        affected[dataset.entry.target.path] = (dataset.ref,)
    for entry in files:
        affected[entry.target.path] = (entry.ref,)
    return affected
