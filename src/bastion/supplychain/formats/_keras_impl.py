"""The analysis half of ``keras``: the config walker and the HDF5 reader, imported only when a Keras blob is
analysed (``keras`` keeps the analysers and their ``sniff``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from bastion.findings import Severity
from bastion.supplychain.formats.interface import MAX_JSON_BYTES, Blob, Report
from bastion.supplychain.formats.marshal_names import code_names
from bastion.supplychain.pickle import Policy, Verdict

__all__ = ["analyse_config", "analyse_h5", "examine_config"]

MAX_ATTRIBUTE_BYTES = MAX_JSON_BYTES
"""Largest ``model_config`` / ``training_config`` attribute read."""
MAX_NODES = 5_000_000
"""JSON values the walker visits per config before it stops (the target is then incomplete)."""
MAX_DEPTH = 256
"""JSON nesting the walker follows."""
MAX_H5_OBJECTS = 200_000
"""HDF5 groups and datasets visited for weight shapes."""
MAX_FINDINGS_PER_RULE = 50
"""Distinct findings of one rule per config; the rest are counted in one summary finding."""
HUGE_DATASET_BYTES = 4 * 1024**3
HUGE_DATASET_RATIO = 256
"""A dataset is implausible when it declares more than both HUGE_DATASET_BYTES and RATIO times the file size."""

_KERAS_PACKAGES = ("keras", "tf_keras", "tensorflow.keras", "tensorflow.python.keras", "keras_hub", "keras_nlp",
                   "keras_cv")
"""Modules whose objects Keras itself provides (its own packages and the Keras team's model libraries)."""

_GADGETS: dict[str, tuple[str, str]] = {
    "get_file": ("BST-KER-004", "downloads a URL and writes (or extracts) it to a path chosen by the config"),
    "extract_archive": ("BST-KER-004", "extracts an archive to a path chosen by the config"),
    "enable_unsafe_deserialization": ("BST-KER-005", "turns safe mode off for the rest of the load"),
    "func_load": ("BST-KER-001", "rebuilds a function from marshalled bytecode"),
    "load_model": ("BST-KER-007", "loads another model from a path or URL"),
    "load_model_from_hdf5": ("BST-KER-007", "loads another model from a path"),
}
"""Keras functions that are dangerous to reach from a config, by name."""
_FILE_MODULE = re.compile(r"^keras(\.src)?\.utils\.file_utils(\.|$)")
"""Every function of this module reaches the file system (copy, remove, rmtree, extract...)."""

_PATH_KEYS = ("vocabulary", "vocabulary_file", "vocab_file", "vocabulary_path", "merges", "proto")
"""Config keys whose string value lookup and tokenizer layers read as a file path (or URL) at load time."""
_LOADER_KEYS = {"TFSMLayer": "filepath", "KerasLayer": "handle"}
"""Layers that load a SavedModel from a path or URL given in their config."""
_TF_FILE_OPS = frozenset({
    "io", "gfile", "write_file", "read_file", "matching_files", "load_library", "load_op_library", "py_function",
    "numpy_function", "py_func", "saved_model", "WriteFile", "ReadFile", "MatchingFiles", "PyFunc", "EagerPyFunc",
})
"""Parts of a TFOpLambda function name that reach files or run Python."""

_KERAS_BUILTIN_FUNCTIONS = frozenset({
    "relu", "relu6", "sigmoid", "softmax", "softplus", "softsign", "tanh", "selu", "elu", "exponential",
    "hard_sigmoid", "hard_silu", "hard_swish", "linear", "silu", "swish", "gelu", "leaky_relu", "log_softmax",
    "mish", "celu", "glu", "log_sigmoid", "sparse_plus", "sparsemax", "squareplus", "tanh_shrink", "threshold",
    "soft_shrink", "hard_shrink", "hard_tanh", "sparse_sigmoid", "mean_squared_error", "mse", "mean_absolute_error",
    "mae", "mean_absolute_percentage_error", "mape", "mean_squared_logarithmic_error", "msle",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_focal_crossentropy",
    "categorical_focal_crossentropy", "hinge", "squared_hinge", "categorical_hinge", "kl_divergence", "kld",
    "kullback_leibler_divergence", "poisson", "log_cosh", "logcosh", "huber", "cosine_similarity", "ctc", "dice",
    "tversky", "accuracy", "acc", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
    "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
})
"""Functions Keras serialises with ``module: "builtins"`` and resolves among its own activations, losses and
metrics before it looks at Python's builtins."""

_DANGEROUS_NAMES = frozenset({
    "os", "posix", "nt", "system", "popen", "Popen", "subprocess", "check_output", "check_call", "getoutput",
    "getstatusoutput", "spawnl", "spawnv", "spawnve", "execl", "execv", "execve", "execvp", "fork", "eval", "exec",
    "compile", "__import__", "import_module", "importlib", "open", "builtins", "__builtins__", "getattr", "setattr",
    "globals", "socket", "urllib", "urlopen", "requests", "http", "shutil", "rmtree", "remove", "unlink", "pty",
    "sys", "marshal", "pickle", "loads", "ctypes", "webbrowser", "b64decode", "environ", "breakpoint", "runpy",
    "run_path", "tempfile",
})
"""Names that, referenced by Lambda code, point at commands, code loading, files or network."""

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_UNSAFE = "enable_unsafe_deserialization"


@lru_cache(maxsize=1)
def _policy() -> Policy:
    return Policy()


def _is_keras(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in _KERAS_PACKAGES)


def _clip(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---- the config walker ----


@dataclass
class _Walker:
    """One pass over one config: every JSON value, bounded in count, depth and time."""

    report: Report
    member: str | None
    source: str
    """Where the config came from, for details (``config.json``, ``model_config attribute``)."""
    nodes: int = 0
    too_deep: bool = False
    seen: set[tuple[str, str]] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)

    def run(self, root: object) -> None:
        stack: list[tuple[Iterator[object], int, str]] = [(iter((root,)), 0, "the model")]
        while stack:
            items, depth, where = stack[-1]
            value = next(items, _END)
            if value is _END:
                stack.pop()
                continue
            self.nodes += 1
            if self.nodes > MAX_NODES or (self.nodes & 0xFFF == 0 and time.monotonic() > self.report.deadline):
                why = f"more than {MAX_NODES} JSON values" if self.nodes > MAX_NODES else "the time limit was reached"
                self.report.not_examined(self.member, f"Keras {self.source} not walked to the end: {why}")
                break
            if isinstance(value, str):
                self._string(value, where)
            elif isinstance(value, (dict, list)):
                if depth >= MAX_DEPTH:  # the subtree is skipped; the rest of the config is still walked
                    if not self.too_deep:
                        self.too_deep = True
                        self.report.not_examined(self.member, f"Keras {self.source} nests deeper than {MAX_DEPTH}")
                    continue
                if isinstance(value, dict):
                    where = self._object(value, where)
                    children: Iterator[object] = _dict_values(value, self, where)
                else:
                    children = iter(value)
                stack.append((children, depth + 1, where))
        self._summarise()

    # -- reporting --
    def add(self, rule_id: str, key: str, title: str, detail: str, evidence: str,
            severity: Severity | None = None) -> None:
        """Report once per (rule, key); past MAX_FINDINGS_PER_RULE distinct keys, only count."""
        if (rule_id, key) in self.seen:
            return
        self.seen.add((rule_id, key))
        self.counts[rule_id] = self.counts.get(rule_id, 0) + 1
        if self.counts[rule_id] <= MAX_FINDINGS_PER_RULE:
            self.report.add(rule_id, title, f"{detail} (in the {self.source})", self.member, None,
                            _clip(evidence, 400), severity)

    def _summarise(self) -> None:
        for rule_id, count in self.counts.items():
            if count > MAX_FINDINGS_PER_RULE:
                more = count - MAX_FINDINGS_PER_RULE
                self.report.add(rule_id, f"{more} more findings of {rule_id} in this Keras config",
                                f"Only the first {MAX_FINDINGS_PER_RULE} distinct findings of this rule are listed.",
                                self.member, None, f"{count} in all")

    # -- values --
    def _string(self, value: str, where: str) -> None:
        if _UNSAFE in value:
            self._gadget(_UNSAFE, _clip(value), where)
        elif value.endswith("get_file") and len(value) < 200 and "." in value:
            self._gadget("get_file", value, where)

    def _object(self, obj: dict[str, Any], where: str) -> str:
        """Examine a dict that may be a serialised Keras object; returns how to name it in findings."""
        cls = obj.get("class_name")
        if not isinstance(cls, str):
            return where
        config = obj.get("config")
        name = config.get("name") if isinstance(config, dict) else None
        here = f"{cls} '{_clip(name, 80)}'" if isinstance(name, str) else _clip(cls, 80)
        special = _SPECIAL.get(cls)
        if special is not None:
            special(self, obj, config, where if cls == "__lambda__" else here)
        self._reference(obj, cls, here)
        if isinstance(config, dict):
            self._external(cls, config, here)
            if isinstance(name, str) and _escapes(name):
                self.add("BST-KER-008", name, f"Keras layer name is a path that escapes its folder: {_clip(name)}",
                         f"{here} is named {name!r}; Keras builds file paths from layer names.", name)
        return here

    # -- imports --
    def _reference(self, obj: dict[str, Any], cls: str, here: str) -> None:
        """Judge what ``module`` + ``class_name`` / ``config`` / ``registered_name`` make Keras import."""
        module = obj.get("module")
        registered = obj.get("registered_name")
        if cls == "__typespec__" and isinstance(module, str) and module.startswith("tensorflow."):
            return  # TensorFlow type specs (TensorSpec...) describe inputs; they run nothing
        judged_module = self.judge(module if isinstance(module, str) else None, _names(obj, cls), here)
        if not judged_module and isinstance(registered, str) and ">" in registered \
                and not _is_keras(registered.split(">", 1)[0]):
            self.add("BST-KER-003", registered, f"Keras config needs custom object {_clip(registered, 80)}",
                     f"{here} is the registered custom object {registered!r}; loading needs its code.", registered)

    def judge(self, module: str | None, names: list[str], here: str) -> bool:
        """Report what importing ``names`` from ``module`` reaches; True when a module outside Keras was judged."""
        if module and not _is_keras(module):
            self._foreign(module, names, here)
            return True
        for name in names:
            if name in _GADGETS:
                self._gadget(name, f"{module}.{name}" if module else name, here)
        if module and _FILE_MODULE.match(module) and names:
            subject = f"{module}.{names[0]}"
            self.add("BST-KER-004", subject, f"Keras config calls {_clip(subject, 100)}",
                     f"{here} references {subject}, a Keras file utility that reads, writes or deletes files with "
                     "arguments from the config.", subject)
        return False

    def _foreign(self, module: str, names: list[str], here: str) -> None:
        judged: list[tuple[str, Verdict]] = [
            (name, _policy().judge(module, name)) for name in names
            if not (module == "builtins" and name in _KERAS_BUILTIN_FUNCTIONS)
        ]
        if not judged:
            return
        name, verdict = max(judged, key=lambda item: item[1].severity or 0)
        subject = f"{module}.{name}"
        if verdict.rule_id is not None and verdict.severity is not None and verdict.severity > Severity.MEDIUM:
            self.add("BST-KER-002", subject, f"Keras config imports {_clip(subject, 100)}",
                     f"{here} makes Keras import {subject}, which {verdict.why}; Keras before 3.9 imports it even "
                     "with safe_mode=True, and a Functional model can call it with arguments from the config.",
                     subject, verdict.severity)
        else:
            self.add("BST-KER-003", subject, f"Keras config needs custom object {_clip(subject, 100)}",
                     f"{here} comes from {module}, outside Keras: loading imports that module or needs its code "
                     "as custom_objects.", subject)

    def _gadget(self, name: str, subject: str, where: str) -> None:
        rule_id, why = _GADGETS[name]
        self.add(rule_id, name, f"Keras config references {_clip(subject, 100)}",
                 f"{where} references {subject}, which {why} when the model is loaded.", subject)

    # -- layers that reach outside the file --
    def _external(self, cls: str, config: dict[str, Any], here: str) -> None:
        targets = [(key, config.get(key)) for key in _PATH_KEYS]
        if cls in _LOADER_KEYS:
            targets.append((_LOADER_KEYS[cls], config.get(_LOADER_KEYS[cls])))
        for key, value in targets:
            if isinstance(value, str) and value.strip():
                action = "fetches the URL" if _URL.match(value) else "reads the file"
                self.add("BST-KER-007", f"{cls}:{key}:{value}",
                         f"Keras layer {here} {action} {_clip(value, 100)} at load time",
                         f"{here} has {key}={value!r}; Keras {action} when it rebuilds the layer, even with "
                         "safe_mode=True.", f"{key}: {value}")
        function = config.get("function")
        if cls in ("TFOpLambda", "SlicingOpLambda") and isinstance(function, str):
            parts = set(re.split(r"[.\s]", function))
            if parts & _TF_FILE_OPS:
                self.add("BST-KER-007", f"{cls}:{function}", f"Keras layer {here} calls tf.{_clip(function, 80)}",
                         f"{here} wraps the TensorFlow operation {function}, which reads or writes files or runs "
                         "Python, with arguments from the config.", function)

    # -- code --
    def lambda_code(self, value: object, where: str, what: str) -> None:
        dangerous: list[str] = []
        if self.counts.get("BST-KER-001", 0) >= MAX_FINDINGS_PER_RULE or time.monotonic() > self.report.deadline:
            evidence = f"not decoded (finding or time limit): {_clip(repr(value), 80)}"
        else:
            evidence, dangerous = _describe_code(value)
        named = f" referencing {', '.join(dangerous[:6])}" if dangerous else ""
        self.add("BST-KER-001", f"{where}:{what}:{evidence}", f"Keras layer {where} carries Python code{named}",
                 f"{where} stores its {what} as Python code (marshalled bytecode, or source), which Keras rebuilds "
                 "with marshal.loads and runs when the layer is called; the .h5 loader does so even with "
                 "safe_mode=True.", evidence)


class _End:
    pass


_END = _End()


def _dict_values(obj: dict[str, Any], walker: _Walker, where: str) -> Iterator[object]:
    for key, value in obj.items():
        if _UNSAFE in key:
            walker._gadget(_UNSAFE, key, where)
        yield value


def _names(obj: dict[str, Any], cls: str) -> list[str]:
    """The names Keras looks up in ``module`` for this object."""
    if cls == "function":
        inner = obj.get("config")
        names = [inner] if isinstance(inner, str) else []
    elif cls == "__typespec__":
        spec = obj.get("spec_name")
        names = [spec] if isinstance(spec, str) else []
    elif cls.startswith("__") and cls.endswith("__"):
        names = []  # Keras value markers (__bytes__, __numpy__, __tensor__, __lambda__...)
    else:
        names = [cls]
    registered = obj.get("registered_name")
    if isinstance(registered, str) and registered not in ("", "function", *names) and ">" not in registered:
        names.append(registered)  # Keras falls back to it in the module ("function" marks a plain function)
    return names


def _escapes(name: str) -> bool:
    normal = name.replace("\\", "/")
    return normal.startswith("/") or re.match(r"^[A-Za-z]:/", normal) is not None or ".." in normal.split("/")


# -- special layers --


def _keras3_lambda(walker: _Walker, obj: dict[str, Any], config: object, where: str) -> None:
    """``{"class_name": "__lambda__", "config": {"code" | "value": ...}}`` (Lambda layers, serialization_lib)."""
    if isinstance(config, dict):
        code = config.get("code", config.get("value"))
        walker.lambda_code(code, where, "function")


def _legacy_lambda(walker: _Walker, obj: dict[str, Any], config: object, here: str) -> None:
    """Keras 2 ``Lambda`` configs: ``function`` (+ ``output_shape``) with a ``*_type`` of lambda/function/raw."""
    if not isinstance(config, dict):
        return
    for key, kind_key, module_key in (("function", "function_type", "module"),
                                      ("output_shape", "output_shape_type", "output_shape_module")):
        value, kind = config.get(key), config.get(kind_key)
        if value is None or isinstance(value, dict) or kind == "raw":
            continue  # dicts are objects the walk visits itself; raw values are not code
        module = config.get(module_key)
        named = isinstance(value, str) and (kind == "function" or (kind is None and _PLAIN_NAME.match(value)))
        if named and isinstance(value, str):
            walker.judge(module if isinstance(module, str) and module else "__main__", [value.rsplit(".", 1)[-1]],
                         f"{here} ({key})")
        elif kind == "lambda" or (kind is None and key == "function"):
            walker.lambda_code(value, here, key)


def _torch_module(walker: _Walker, obj: dict[str, Any], config: object, here: str) -> None:
    """TorchModuleWrapper: ``config.module`` is torch.save() output (base64, or a ``__bytes__`` object)."""
    payload = config.get("module") if isinstance(config, dict) else None
    if payload is None:
        return
    data = _payload_bytes(payload)
    member = f"{walker.member}!TorchModuleWrapper" if walker.member else "TorchModuleWrapper"
    size = f"{len(data)} bytes" if data is not None else "an unreadable payload"
    walker.add("BST-KER-006", f"{here}:{size}", f"Keras layer {here} unpickles a torch module on load",
               f"{here} stores a torch.save() payload ({size}) that Keras passes to torch.load(weights_only=False); "
               f"it is scanned as {member}.", f"module: {size}")
    if data:
        walker.report.nested(data, member)


_SPECIAL: dict[str, Callable[[_Walker, dict[str, Any], object, str], None]] = {
    "__lambda__": _keras3_lambda,
    "Lambda": _legacy_lambda,
    "TorchModuleWrapper": _torch_module,
}


def _payload_bytes(payload: object) -> bytes | None:
    if isinstance(payload, dict) and payload.get("class_name") == "__bytes__":
        inner = payload.get("config")
        value = inner.get("value") if isinstance(inner, dict) else None
        return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else None
    if not isinstance(payload, str):
        return None
    decoded = _b64(payload)
    if decoded is not None:
        return decoded
    try:
        return payload.encode("latin-1")
    except UnicodeEncodeError:
        return payload.encode("utf-8", "surrogateescape")


def _b64(text: str) -> bytes | None:
    compact = "".join(text.split())
    if not compact or len(compact) % 4:
        return None
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None


def _describe_code(value: object) -> tuple[str, list[str]]:
    """Evidence for a Lambda's stored code and the dangerous names it references, decoded statically."""
    text = value[0] if isinstance(value, (list, tuple)) and value else value
    if not isinstance(text, str):
        return f"function stored as {type(text).__name__}", []
    raw = _b64(text)
    names = code_names(raw) if raw is not None else None
    if raw is None and text[:1] in ("c", "\xe3"):  # Keras 2 func_load also takes unencoded marshal data
        unencoded = text.encode("raw_unicode_escape")
        names = code_names(unencoded)
        raw = unencoded if names is not None else None
    if raw is None:
        found = list(dict.fromkeys(_IDENTIFIER.findall(text[:65536])))
        dangerous = [n for n in found if n in _DANGEROUS_NAMES]
        return f"Python source: {_clip(text, 200)!r}", dangerous
    if names is None:
        return f"{len(raw)} bytes of base64 data that is not readable marshalled code", []
    dangerous = [n for n in dict.fromkeys((*names.names, *names.strings)) if n in _DANGEROUS_NAMES]
    strings = ", ".join(repr(_clip(s, 60)) for s in names.strings[:12])
    return (f"marshalled bytecode, {len(raw)} bytes, {names.code_objects} code object(s); names: "
            f"{_clip(', '.join(names.names), 200)}; strings: {_clip(strings, 200)}"), dangerous


# ---- facts and the shared entry point ----


def examine_config(doc: object, report: Report, member: str | None, source: str, facts: bool = True) -> None:
    """Walk one Keras config (a parsed JSON document) and report what loading it would run or reach."""
    if facts and isinstance(doc, dict):
        _config_facts(doc, report)
    _Walker(report, member, source).run(doc)


def _config_facts(doc: dict[str, Any], report: Report) -> None:
    cls = doc.get("class_name")
    config = doc.get("config")
    if isinstance(cls, str):
        report.fact("architecture", cls)
    if isinstance(config, dict) and isinstance(config.get("name"), str):
        report.fact("model_name", config["name"])
    layers = config.get("layers") if isinstance(config, dict) else config  # Keras <= 2.2 Sequential: a list
    if isinstance(layers, list) and isinstance(cls, str):
        report.fact("keras.layers", len(layers))
    for key in ("keras_version", "backend"):
        if isinstance(doc.get(key), str):
            report.fact(key, doc[key])


def analyse_config(blob: Blob, report: Report) -> None:
    """``KerasConfigAnalyzer.analyse``: walk a Keras JSON config."""
    doc = blob.json()
    report.fact("format", "keras")
    report.fact("framework", "keras")
    examine_config(doc, report, blob.member, blob.name or "config")


def analyse_h5(blob: Blob, report: Report) -> None:
    """``KerasH5Analyzer.analyse``: read an HDF5 file's Keras attributes and dataset shapes with h5py."""
    try:
        import h5py
    except ImportError:
        report.not_examined(blob.member, "h5py is not installed, so the HDF5 content was not examined")
        return
    try:
        if blob.member is None and blob.fs_path is not None and blob.fs_path.is_file():
            handle = h5py.File(str(blob.fs_path), "r", locking=False)
        else:
            handle = h5py.File(_ViewFile(blob.view()), "r")
    except (OSError, ValueError, RuntimeError) as exc:
        report.not_examined(blob.member, f"HDF5 file could not be opened: {exc}")
        return
    with handle:
        _H5(h5py, handle, blob, report).run()


_H5_ERRORS = (OSError, ValueError, RuntimeError, KeyError, TypeError)


class _ViewFile(io.RawIOBase):
    """A read-only file over a memoryview, so h5py reads an archive member without copying it."""

    def __init__(self, view: memoryview) -> None:
        super().__init__()
        self._view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        chunk = self._view[self._pos : self._pos + len(target)]
        target[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


@dataclass
class _H5:
    h5py: Any
    file: Any
    blob: Blob
    report: Report

    def run(self) -> None:
        attrs = self.file.attrs
        model_config = self._attribute("model_config")
        training_config = self._attribute("training_config")
        version, backend = self._attribute("keras_version", facts_only=True), self._attribute("backend", True)
        keras = (model_config is not None or version is not None or "layer_names" in attrs
                 or any(group in self.file for group in ("model_weights", "layers", "optimizer_weights")))
        if self.blob.member is None or model_config is not None:
            self.report.fact("format", "keras-h5" if keras else "hdf5")
        if keras:
            self.report.fact("framework", "keras")
        for key, text in (("keras_version", version), ("backend", backend)):
            if text is not None:
                self.report.fact(key, text)
        for key, text in (("model_config", model_config), ("training_config", training_config)):
            if text is None:
                continue
            try:
                doc = json.loads(text)
            except (ValueError, RecursionError) as exc:
                self.report.not_examined(self.blob.member, f"the {key} attribute is not valid JSON: {exc}")
                continue
            examine_config(doc, self.report, self.blob.member, f"{key} attribute", facts=key == "model_config")
        self._datasets(keras)

    def _attribute(self, name: str, facts_only: bool = False) -> str | None:
        """The attribute as text; ``facts_only``: a short string or nothing, without complaint."""
        attrs = self.file.attrs
        try:
            if name not in attrs:
                return None
            size = attrs.get_id(name).get_storage_size()
            if facts_only and size > 1024:
                return None
            if size > MAX_ATTRIBUTE_BYTES:
                self.report.not_examined(self.blob.member, f"the {name} attribute of {size} bytes exceeds "
                                                           f"{MAX_ATTRIBUTE_BYTES}")
                return None
            text = _as_text(attrs[name])
        except _H5_ERRORS as exc:
            self.report.not_examined(self.blob.member, f"the {name} attribute could not be read: {exc}")
            return None
        if facts_only:
            return text if text is not None and len(text) < 100 else None
        if text is None or len(text) > MAX_ATTRIBUTE_BYTES:
            self.report.not_examined(self.blob.member, f"the {name} attribute is not a string of at most "
                                                       f"{MAX_ATTRIBUTE_BYTES} bytes")
            return None
        return text

    def _datasets(self, keras: bool) -> None:
        """Parameter count and implausible shapes, from dataset metadata only (no data is read)."""
        shapes = _Shapes(self.h5py.Dataset, max(HUGE_DATASET_BYTES, HUGE_DATASET_RATIO * self.blob.size),
                         self.report.deadline)
        try:
            self.file.visititems(shapes.visit)
        except _H5_ERRORS as exc:
            self.report.not_examined(self.blob.member, f"HDF5 datasets could not be listed: {exc}")
            return
        for name, shape, size in shapes.huge[:10]:
            self.report.add("BST-KER-009", f"HDF5 dataset {_clip(name, 80)} declares {size} bytes",
                            f"Dataset {name} has shape {shape} ({size} bytes) in a file of {self.blob.size} bytes.",
                            self.blob.member, None, f"{name}: shape {shape}")
        if shapes.stopped:
            self.report.not_examined(self.blob.member, f"HDF5 shapes checked for the first {shapes.visited - 1} "
                                                       "objects only (object or time limit)")
        elif keras and shapes.parameters:
            self.report.fact("parameters", shapes.parameters)


@dataclass
class _Shapes:
    """An h5py ``visititems`` callback that sums weight shapes and notes implausible ones."""

    dataset_type: Any
    limit: int
    deadline: float
    visited: int = 0
    parameters: int = 0
    stopped: bool = False
    huge: list[tuple[str, tuple[int, ...], int]] = field(default_factory=list)

    def visit(self, name: str, obj: Any) -> bool | None:
        self.visited += 1
        if self.visited > MAX_H5_OBJECTS or (self.visited & 0x3FF == 0 and time.monotonic() > self.deadline):
            self.stopped = True
            return True  # stops the visit
        if not isinstance(obj, self.dataset_type) or obj.shape is None:
            return None
        count = math.prod(obj.shape)
        size = count * obj.dtype.itemsize
        if size > self.limit:
            self.huge.append((name, tuple(obj.shape), size))
        if name.split("/", 1)[0] not in ("optimizer_weights", "optimizer") and obj.dtype.kind in "biufc":
            self.parameters += count
        return None


def _as_text(value: object) -> str | None:
    """An HDF5 attribute value (bytes, str, numpy scalar or one-element array) as text."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if getattr(value, "size", None) == 1 and hasattr(value, "reshape"):
        item = value.reshape(-1)[0]
        if isinstance(item, (bytes, str)):
            return _as_text(item)
    return None

