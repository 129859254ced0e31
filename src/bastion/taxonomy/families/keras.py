"""Rules for Keras (.h5 and .keras)."""

from __future__ import annotations

from bastion.taxonomy.base import DONT_LOAD, MODEL_FILE_REFS, Reference, Rule, Severity


def _cve(cve: str, title: str) -> Reference:
    return Reference(cve, f"{cve}: {title}", f"https://nvd.nist.gov/vuln/detail/{cve}")


REFERENCES: tuple[Reference, ...] = (
    _cve("CVE-2024-3660", "Keras Lambda layers run arbitrary code when a model is loaded (TensorFlow Keras < 2.13)"),
    _cve("CVE-2025-1550", "Keras safe_mode bypass: config.json imports arbitrary modules and functions (Keras < 3.9)"),
    _cve("CVE-2025-8747", "Keras safe_mode bypass through keras.utils.get_file (Keras < 3.11)"),
    _cve("CVE-2025-9905", "Keras load_model ignores safe_mode for .h5 files and runs Lambda bytecode (Keras < 3.11.3)"),
    _cve("CVE-2025-9906", "Keras config.json calls keras.config.enable_unsafe_deserialization (Keras < 3.11)"),
    _cve("CVE-2025-49655", "Keras TorchModuleWrapper deserialises pickled torch modules (Keras 3.11.0-3.11.2)"),
    _cve("CVE-2025-12058", "Keras StringLookup vocabulary path reads local files or fetches URLs at load time"),
    _cve("CVE-2026-0897", "Keras HDF5 weight datasets declaring huge shapes exhaust memory at load time"),
    _cve("CVE-2026-1462", "Keras TFSMLayer loads an external SavedModel during deserialisation despite safe_mode"),
    _cve("CVE-2026-12479", "Keras layer names used as paths escape the temporary folder when a model is loaded"),
    _cve("CVE-2026-12481", "Keras Lambda.from_config deserialises bytecode when safe_mode is unset"),
)
"""References these rules cite that the shared list does not hold."""

_KERAS_UPGRADE = (
    "Do not load this model. If its source is trusted, rebuild it from code and re-save it without the "
    "offending object; otherwise obtain the model from its publisher through a verified channel. Keep Keras "
    "current (safe_mode=True only protects .keras files, and only against the bypasses fixed so far)."
)

RULES: tuple[Rule, ...] = (
    Rule("BST-KER-001", Severity.CRITICAL, "Keras Lambda layer carries Python code",
         "A Lambda layer (or a serialised `__lambda__` function) stores Python bytecode (base64 of marshal "
         "data) or source. Keras rebuilds the function with marshal when the model is loaded and runs it on "
         "the first call; the legacy .h5 loader does so even with safe_mode=True. The names the code "
         "references are decoded statically (never executed) and listed in the evidence.",
         _KERAS_UPGRADE,
         (*MODEL_FILE_REFS, "CVE-2024-3660", "CVE-2025-9905", "CVE-2026-12481")),
    Rule("BST-KER-002", Severity.CRITICAL, "Keras config imports a dangerous Python module or function",
         "An object in the model config names a `module` / `class_name` / `registered_name` outside Keras that "
         "runs commands, resolves callables, reaches files or network, or deserialises data (os, subprocess, "
         "builtins.exec, importlib...). Keras before 3.9 imports it even with safe_mode=True, and a Functional "
         "model calls it with arguments taken from the config.",
         DONT_LOAD, (*MODEL_FILE_REFS, "CVE-2025-1550")),
    Rule("BST-KER-003", Severity.MEDIUM, "Keras config needs custom objects from outside Keras",
         "An object in the model config comes from a module outside Keras (or is a registered custom object): "
         "loading the model imports that module or needs its code passed as custom_objects, so the model "
         "carries a dependency on code that is not part of the file.",
         "Confirm the module is expected for this model and that its code comes from a trusted source; prefer "
         "models built only from Keras layers.", MODEL_FILE_REFS),
    Rule("BST-KER-004", Severity.CRITICAL, "Keras config calls a file-download gadget",
         "The config references keras.utils.get_file (or Keras' archive extraction helpers). Loading the model "
         "calls it with arguments from the config, which downloads a URL and writes or extracts it anywhere the "
         "process may write, bypassing safe_mode.",
         DONT_LOAD, (*MODEL_FILE_REFS, "CVE-2025-8747")),
    Rule("BST-KER-005", Severity.CRITICAL, "Keras config disables safe mode",
         "The config references keras.config.enable_unsafe_deserialization. Deserialising it turns safe mode "
         "off for the rest of the load, so Lambda bytecode later in the same config runs.",
         DONT_LOAD, (*MODEL_FILE_REFS, "CVE-2025-9906")),
    Rule("BST-KER-006", Severity.HIGH, "Keras TorchModuleWrapper unpickles a torch module",
         "A TorchModuleWrapper layer stores a torch.save() payload that Keras passes to torch.load(weights_only="
         "False), i.e. an unrestricted pickle. The payload is decoded and scanned; findings inside it are "
         "reported with the member name ending in '!TorchModuleWrapper'.",
         DONT_LOAD, (*MODEL_FILE_REFS, "CVE-2025-49655")),
    Rule("BST-KER-007", Severity.HIGH, "Keras layer reads files, URLs or other models at load time",
         "A layer config points outside the model file: a lookup or text layer whose vocabulary is a path or URL "
         "(read through tf.io.gfile), a TFSMLayer or TF Hub KerasLayer that loads a SavedModel from a path or "
         "URL, a reference to another model loader, or a TF operation that reads or writes files. Loading the "
         "model reads local files (which then end up in the model state) or fetches URLs (SSRF).",
         "Do not load this model where it can reach files or networks it should not; rebuild the layer with an "
         "inline vocabulary or embedded weights.",
         (*MODEL_FILE_REFS, "CVE-2025-12058", "CVE-2026-1462")),
    Rule("BST-KER-008", Severity.HIGH, "Keras layer name is a path that escapes its folder",
         "A layer name is an absolute path or contains '..'. Keras uses layer names to build paths when it "
         "stores or restores weights, so such a name can write outside the intended folder.",
         DONT_LOAD, (*MODEL_FILE_REFS, "CVE-2026-12479")),
    Rule("BST-KER-009", Severity.MEDIUM, "Keras weight dataset declares more data than the file holds",
         "An HDF5 dataset declares a shape far larger than the file (hundreds of times its size, and gigabytes). "
         "Keras allocates the declared size when it loads the weights, exhausting memory.",
         "Do not load this file; re-export the weights from their source.",
         (*MODEL_FILE_REFS, "CVE-2026-0897")),
)
"""The rules, in id order."""
