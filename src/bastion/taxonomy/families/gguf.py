"""Rules for GGUF files, Jinja chat templates (in GGUF metadata, tokenizer configs, template files) and Hugging
Face JSON configs."""

from __future__ import annotations

from bastion.taxonomy.base import MODEL_FILE_REFS, Reference, Rule, Severity


def _cve(cve: str, title: str) -> Reference:
    return Reference(cve, f"{cve}: {title}", f"https://nvd.nist.gov/vuln/detail/{cve}")


REFERENCES: tuple[Reference, ...] = (
    Reference("CVE-2024-34359", "CVE-2024-34359 (GHSA-56xg-wfcc-g829, \"Llama Drama\"): llama-cpp-python renders "
              "GGUF chat templates with an unsandboxed Jinja2 environment (< 0.2.72)",
              "https://github.com/abetlen/llama-cpp-python/security/advisories/GHSA-56xg-wfcc-g829"),
    _cve("CVE-2024-21802", "llama.cpp GGUF tensor dimensions (info->ne) heap-based buffer overflow"),
    _cve("CVE-2024-21825", "llama.cpp GGUF_TYPE_ARRAY/GGUF_TYPE_STRING parsing heap-based buffer overflow"),
    _cve("CVE-2024-21836", "llama.cpp GGUF header.n_tensors integer overflow to heap-based buffer overflow"),
    _cve("CVE-2024-23496", "llama.cpp gguf_fread_str string length heap-based buffer overflow"),
    _cve("CVE-2024-23605", "llama.cpp GGUF header.n_kv heap-based buffer overflow"),
    Reference("databricks:gguf-2024", "Databricks: GGML GGUF file format vulnerabilities (CVE-2024-25664 to "
              "CVE-2024-25668, heap overflows in gguf_init_from_file)",
              "https://www.databricks.com/blog/ggml-gguf-file-format-vulnerabilities"),
    Reference("GHSA-vgg9-87g3-85w8", "llama.cpp GHSA-vgg9-87g3-85w8: integer overflow in gguf_init_from_file_impl "
              "tensor size accounting", "https://github.com/ggml-org/llama.cpp/security/advisories/GHSA-vgg9-87g3-85w8"),
    Reference("hf:custom-code", "Hugging Face Transformers: models with custom code (trust_remote_code, auto_map)",
              "https://huggingface.co/docs/transformers/en/models#custom-models"),
)
"""References these rules cite that the shared list does not hold."""

_GGUF_REFS = (*MODEL_FILE_REFS, "CVE-2024-21802", "CVE-2024-21825", "CVE-2024-21836", "CVE-2024-23496",
              "CVE-2024-23605", "databricks:gguf-2024", "GHSA-vgg9-87g3-85w8")
_TEMPLATE_REFS = (*MODEL_FILE_REFS, "CVE-2024-34359")
_GGUF_FIX = (
    "Do not load this file with a GGUF parser (llama.cpp, Ollama, llama-cpp-python, gguf-py). Obtain the model "
    "from its publisher through a verified channel and compare its checksum; keep GGUF loaders current."
)
_TEMPLATE_FIX = (
    "Do not render this template. Replace the chat template with the publisher's original (from a verified "
    "source), render templates only in jinja2's ImmutableSandboxedEnvironment, and upgrade llama-cpp-python to "
    "0.2.72 or later."
)
_REMOTE_CODE_FIX = (
    "Load the model without trust_remote_code=True, or read the referenced Python files first and pin the "
    "repository revision (revision=<commit>) so the code cannot change after review."
)

RULES: tuple[Rule, ...] = (
    Rule("BST-GGUF-001", Severity.HIGH, "GGUF header declares counts or sizes that overflow parsers",
         "The header, a metadata string or array, or a tensor description declares a count or size that is both "
         "absurd and more than the file holds, or that overflows 64-bit arithmetic: over a million tensors or "
         "metadata entries, a string of hundreds of megabytes, an array of over 16 million elements, more than 4 "
         "tensor dimensions, a negative dimension, or a tensor whose element count or byte size does not fit in "
         "63 bits. These are the triggers of the 2024-2025 heap overflows in ggml's GGUF parser (gguf_fread_str, "
         "n_tensors, n_kv, tensor dimensions, size accounting); no converter writes such a file. (Plausible "
         "counts that merely run past the end of the file are reported as truncation, BST-GGUF-003.)",
         _GGUF_FIX, _GGUF_REFS),
    Rule("BST-GGUF-002", Severity.HIGH, "GGUF tensor data lies outside the file or overlaps another tensor",
         "A tensor's data region (data section start + offset, for its declared shape and type) ends beyond the "
         "end of the file although the layout is not a plain truncation, or two tensors share bytes. A loader "
         "that trusts the table reads outside its mapping or aliases weights; converters always write disjoint, "
         "aligned tensors inside the file, so this is a crafted or tampered layout.", _GGUF_FIX, _GGUF_REFS),
    Rule("BST-GGUF-003", Severity.MEDIUM, "GGUF file is truncated or malformed",
         "The file ends inside its header or tensor data, or the header breaks the format: an unknown metadata "
         "value type, an unknown tensor type, a tensor offset not on the alignment boundary, an invalid "
         "general.alignment, duplicate keys or tensor names, an over-long tensor name. llama.cpp refuses such "
         "files; other parsers may misread them. Parsing stops at the first structural error.",
         "Download the model again from its publisher and compare its checksum; do not load a file that fails "
         "validation.", _GGUF_REFS),
    Rule("BST-TPL-001", Severity.CRITICAL, "Chat template accesses Python internals (sandbox escape)",
         "The Jinja chat template reads dunder or interpreter-internal attributes (__class__, __mro__, "
         "__subclasses__, __globals__, __builtins__, __init__, f_globals...) through attribute access, "
         "subscripts, the attr filter or str.format fields. These walk from any object to os, subprocess or "
         "eval; rendering the template in an unsandboxed environment (llama-cpp-python < 0.2.72, CVE-2024-34359) "
         "runs commands on the host. Real chat templates never touch these names. The template is parsed, "
         "never rendered.", _TEMPLATE_FIX, _TEMPLATE_REFS),
    Rule("BST-TPL-002", Severity.HIGH, "Chat template builds attribute names at run time (obfuscation)",
         "An attribute or subscript name, or a string later usable as one, is assembled from pieces (~, +, "
         "join, format, replace, reverse, string repetition, chr()) and folds to an internal name, or is built "
         "from pieces containing underscores so that it cannot be resolved statically. This is how escape "
         "payloads hide __class__ or __globals__ from text searches.", _TEMPLATE_FIX, _TEMPLATE_REFS),
    Rule("BST-TPL-003", Severity.CRITICAL, "Chat template reaches code-execution functions or modules",
         "The template references os, subprocess, sys, builtins, importlib, eval, exec, compile, getattr or "
         "popen, or calls system() or open(). Chat templates only format messages; these names serve only to "
         "run commands, read files or resolve arbitrary callables once a sandbox is escaped.",
         _TEMPLATE_FIX, _TEMPLATE_REFS),
    Rule("BST-TPL-004", Severity.MEDIUM, "Chat template uses constructs unusual in chat formatting",
         "The template references Jinja or web-framework globals used as escape roots in template injection "
         "payloads (self, cycler, joiner, lipsum, config, request, url_for, get_flashed_messages), reads "
         "underscore-private attributes, or cannot be parsed yet mentions internal names. Nothing proves an "
         "escape, but chat formatting needs none of these.",
         "Compare the template with the publisher's original and remove the construct; render templates only in "
         "jinja2's ImmutableSandboxedEnvironment.", _TEMPLATE_REFS),
    Rule("BST-TPL-005", Severity.LOW, "Chat template does not parse",
         "Jinja2 rejects the template (syntax error). Jinja-based renderers (transformers, llama-cpp-python) "
         "cannot use it, so chat formatting fails at run time; the rest of the template was not analysed.",
         "Fix or replace the chat template with the publisher's original.", MODEL_FILE_REFS),
    Rule("BST-TPL-006", Severity.LOW, "Chat template includes or imports other templates",
         "The template uses include, import, from-import or extends. Hugging Face and llama-cpp-python render "
         "chat templates without a loader, so these fail there; a renderer configured with a file-system "
         "loader would read the named file into the prompt.",
         "Inline the needed parts into the chat template or remove the statement.", MODEL_FILE_REFS),
    Rule("BST-HF-001", Severity.MEDIUM, "Hugging Face config requires trust_remote_code",
         "The config's auto_map (or custom_pipelines) points Transformers at Python classes shipped in the "
         "model repository. Loading the model then requires trust_remote_code=True, which imports and runs "
         "those Python files with the user's privileges.", _REMOTE_CODE_FIX, MODEL_FILE_REFS + ("hf:custom-code",)),
    Rule("BST-HF-002", Severity.HIGH, "Hugging Face config loads code from another repository",
         "An auto_map entry has the form 'org/repo--module.Class': with trust_remote_code=True, Transformers "
         "downloads and runs Python from a different repository than the one being reviewed, whose owner can "
         "change it at any time.",
         "Do not load the model with trust_remote_code=True. If the external code is needed, review it and copy it "
         "into a repository you control, pinned to a reviewed commit.", MODEL_FILE_REFS + ("hf:custom-code",)),
)
"""The rules, in id order."""
