"""The one way the CLI opens a model file: the model-file scan first, then the loader for what the content is.

Formats are told by content: ONNX protobufs (onnxruntime), TorchScript archives (``torch.jit.load``), PyTorch zips
holding a whole module (``torch.save(model)``), skops files, and pickle / joblib files of scikit-learn estimators.
A file is loaded only when ``bastion.supplychain.gate`` found nothing at medium severity or above, so a pickle is
unpickled only when every global it names is on the allow-list; ``allow_unsafe`` overrides that, loudly and on
record.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from bastion.model.base import ModelAdapter, ModelError, require_torch
from bastion.supplychain.gate import gate

_ONNX_SUFFIXES = (".onnx", ".ort")
_JOBLIB_COMPRESSED = (b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")
"""Magic numbers of joblib's compressed files (zlib, gzip, bz2, xz); the scan decompresses them first."""


def sniff(path: Path) -> str:
    """``onnx``, ``torchscript``, ``torch``, ``skops`` or ``pickle``, from the file's content (suffix for ONNX)."""
    if path.suffix.lower() in _ONNX_SUFFIXES:
        return "onnx"
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if "schema.json" in names:
            return "skops"
        if any(name.endswith("constants.pkl") or "/code/" in name for name in names):
            return "torchscript"
        if any(name.endswith("data.pkl") for name in names):
            return "torch"
        raise ModelError(f"{path}: a zip archive that is neither a TorchScript, PyTorch nor skops model")
    with open(path, "rb") as handle:
        head = handle.read(6)
    if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"]", b"}") or head.startswith(_JOBLIB_COMPRESSED):
        return "pickle"
    if head[:1] == b"\x08":  # protobuf field 1 (ir_version), varint: an ONNX model without the usual suffix
        return "onnx"
    raise ModelError(f"{path}: not a model format Bastion loads (ONNX, TorchScript, PyTorch, skops, pickle/joblib)")


def load_model(path: str | Path, *, input_shape: tuple[int, ...] | None = None, allow_unsafe: bool = False,
               name: str | None = None) -> ModelAdapter:
    """Scan ``path`` with the model-file check, refuse it on medium-or-worse findings, then wrap it as an adapter.

    ``input_shape`` is the shape of one sample; tabular models infer it, image models need it (``1,8,8``).
    Raises ``UnsafeLoadError`` (with the scan) when refused, ``ModelError`` for anything else.
    """
    label = name or Path(path).name
    return wrap(load_object(path, input_shape=input_shape, allow_unsafe=allow_unsafe, name=label),
                input_shape=input_shape, name=label)


def load_object(path: str | Path, *, input_shape: tuple[int, ...] | None = None, allow_unsafe: bool = False,
                name: str | None = None) -> Any:
    """What ``load_model`` loads before wrapping: a scikit-learn object as it is (regressors and pipelines on
    DataFrames included, for fairness tests and explanations), or an adapter for ONNX and torch files.

    The same gate applies: ``UnsafeLoadError`` when refused, ``ModelError`` for anything else.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    gate(path, what="model", allow_unsafe=allow_unsafe)
    label = name or path.name
    kind = sniff(path)
    if kind == "onnx":
        from bastion.model.adapters.onnx import OnnxClassifier

        return OnnxClassifier(path, input_shape=input_shape, name=label)
    if kind in ("torchscript", "torch"):
        return _torch_model(path, kind, input_shape, label)
    return _skops(path) if kind == "skops" else _unpickle(path)


def wrap(obj: Any, *, input_shape: tuple[int, ...] | None = None, name: str = "model") -> ModelAdapter:
    """An adapter for an in-memory model: a ``ModelAdapter`` as is, a torch module, or a scikit-learn classifier."""
    if isinstance(obj, ModelAdapter):
        return obj
    if _is_torch_module(obj):
        if input_shape is None:
            raise ModelError(f"{name}: a PyTorch model needs the shape of one sample (--input-shape, e.g. 64 or 1,8,8)")
        from bastion.model.adapters.torch import TorchClassifier

        return TorchClassifier(obj, input_shape, name=name)
    if hasattr(obj, "classes_"):
        from bastion.model.adapters.sklearn import SklearnClassifier

        return SklearnClassifier(obj, name=name, input_shape=input_shape)
    raise ModelError(f"{name}: a {type(obj).__module__}.{type(obj).__qualname__} is not a classifier Bastion can "
                     f"test (scikit-learn classifiers, PyTorch modules, ONNX and TorchScript files)")


def _is_torch_module(obj: Any) -> bool:
    return any(f"{c.__module__}.{c.__qualname__}" in ("torch.nn.modules.module.Module", "torch.jit.ScriptModule")
               for c in type(obj).__mro__)


def _torch_model(path: Path, kind: str, input_shape: tuple[int, ...] | None, name: str) -> ModelAdapter:
    torch = require_torch(f"{path}: PyTorch models")
    try:
        if kind == "torchscript":
            jit_load: Any = torch.jit.load
            module = jit_load(str(path), map_location="cpu")
        else:  # the gate allowed every global of the pickle, so the full unpickler is confined to known classes
            module = torch.load(str(path), map_location="cpu", weights_only=False)
    except (RuntimeError, ValueError, OSError, EOFError) as exc:
        raise ModelError(f"{path}: torch could not load the model: {exc}") from exc
    if isinstance(module, dict):
        raise ModelError(f"{path}: holds a state dict (weights without the network); save the whole model with "
                         f"torch.jit.script(model).save(...) or export it to ONNX")
    return wrap(module, input_shape=input_shape, name=name)


def _skops(path: Path) -> Any:
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ModelError(f"{path}: skops files need skops: pip install skops") from exc
    untrusted: list[str] = sio.get_untrusted_types(file=str(path))
    foreign = [t for t in untrusted if not t.startswith(("sklearn.", "numpy.", "scipy."))]
    if foreign:
        raise ModelError(f"{path}: the skops file names types outside scikit-learn, NumPy and SciPy: {foreign[:5]}")
    load: Any = sio.load
    return load(str(path), trusted=untrusted)


def _unpickle(path: Path) -> Any:
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a malformed file can raise anything from the unpickler
        raise ModelError(f"{path}: could not be read as a pickle or joblib file: {type(exc).__name__}: {exc}") from exc
