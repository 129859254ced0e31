"""skops: the ``schema.json`` of a skops archive, walked for every type and callable the loader would import.

A skops file is a zip; its ``schema.json`` is a tree of nodes ``{"__class__", "__module__", "__loader__", ...}``
whose children sit under ``content``, ``attrs``, ``__reduce__``, ``key_types``, lists and dicts. ``skops.io.load``
resolves most nodes' ``(__module__, __class__)`` with ``getattr(importlib.import_module(module), name)`` and then
instantiates or calls it (ObjectNode, DictNode, ConstructorFromReduceNode, LossNode...), returns it as a function or
type (FunctionNode, TypeNode), binds a method (MethodNode), or builds an operator function (OperatorFuncNode). Its
audit refuses names outside a default trusted set unless the user passes them in ``trusted=``; this analyser does
the same audit itself, without importing skops, against Bastion's pickle policy:

- deny-listed names (builtins.eval, os.system, operator.methodcaller...) are critical whatever node holds them;
- scikit-learn, NumPy, SciPy, skops and the Python containers are the ML ecosystem and give nothing;
- names on the pickle allow-list (and the project's ``[pickle] allow``) give nothing;
- anything else is medium: skops refuses it unless trusted, and trusting it runs its module's code.

The ``.npy``/``.npz``/``.bin`` members the nodes point at are scanned by the container path, not here.

The analyser and its ``sniff`` (the top-level key check) live here; the walk and the audit live in
``_skops_impl``, imported only when a schema is analysed (its public names are re-exported lazily).
"""

from __future__ import annotations

from bastion.supplychain.formats.interface import MAX_JSON_BYTES, Blob, Report

_TOP_KEYS = frozenset({"__class__", "__module__", "__loader__", "protocol"})

_LAZY = frozenset({"MAX_DEPTH", "MAX_NODES"})
"""Names of the analysis half, served from ``_skops_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _skops_impl

        return getattr(_skops_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class SkopsAnalyzer:
    """Audits the types and callables a skops schema makes ``skops.io.load`` import."""

    kind = "skops"

    def sniff(self, blob: Blob) -> bool:
        """A JSON object with ``__class__``, ``__module__``, ``__loader__`` and ``protocol`` at the top."""
        if not blob.looks_like_json_object():
            # A schema.json too large to parse is still claimed, so that analyse reports it as not examined.
            start = blob.head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1]
            return blob.name == "schema.json" and start == b"{" and blob.size > MAX_JSON_BYTES
        # skops reads the member named schema.json; elsewhere the node keys must show in the first bytes.
        if blob.name != "schema.json" and b'"__loader__"' not in blob.head and b'"__module__"' not in blob.head:
            return False
        try:
            doc = blob.json()
        except ValueError:
            return False
        return isinstance(doc, dict) and doc.keys() >= _TOP_KEYS and isinstance(doc.get("__loader__"), str)

    def analyse(self, blob: Blob, report: Report) -> None:
        """Walk the schema, judge every name it makes skops import, and record what it says about the model."""
        from bastion.supplychain.formats._skops_impl import analyse

        analyse(blob, report)


ANALYZER = SkopsAnalyzer()
"""The skops analyser, registered in ``bastion.supplychain.formats``."""
