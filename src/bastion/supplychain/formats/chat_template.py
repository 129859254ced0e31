"""Static analysis of Jinja chat templates: parse, never render, and flag sandbox-escape patterns.

Chat templates travel in tokenizer configs, GGUF metadata and ``chat_template.jinja`` files, and are rendered with
Jinja2 by transformers and llama-cpp-python. A template that walks from a string to Python internals
(``''.__class__.__mro__[1].__subclasses__()``) runs commands wherever it is rendered without a sandbox
(llama-cpp-python < 0.2.72: CVE-2024-34359, "Llama Drama"). ``analyse_template`` parses the text with Jinja's own
parser (``ImmutableSandboxedEnvironment.parse``: no compilation, no rendering) and walks the AST; names assembled
at run time are constant-folded where possible. jinja2 is imported only when a template is analysed.

The file analyser, its ``sniff`` and ``looks_like_template`` live here; the parser and the walker live in
``_chat_template_impl``, imported only when a template is analysed (its public names, such as
``analyse_template`` and ``report_template``, are re-exported lazily).
"""

from __future__ import annotations

import codecs
from typing import TYPE_CHECKING

from bastion.supplychain.formats.interface import Blob, Report

if TYPE_CHECKING:
    from bastion.supplychain.formats._chat_template_impl import TemplateIssue, analyse_template, report_template

__all__ = ["ANALYZER", "MAX_TEMPLATE_CHARS", "TemplateIssue", "analyse_template", "looks_like_template",
           "report_template"]

MAX_TEMPLATE_CHARS = 1 << 20
"""Longest template text analysed; longer ones are reported as not examined."""
_TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2", ".template")

_LAZY = frozenset({
    "DYNAMIC", "EXEC", "INCLUDES", "INTERNALS", "MAX_HITS", "MAX_NODES", "NOT_EXAMINED", "ODD", "SYNTAX",
    "TemplateIssue", "UNKNOWN", "analyse_template", "report_template",
})
"""Names of the analysis half, served from ``_chat_template_impl`` on first access."""


def __getattr__(name: str) -> object:
    if name in _LAZY:
        from bastion.supplychain.formats import _chat_template_impl

        return getattr(_chat_template_impl, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def looks_like_template(text: str) -> bool:
    """Whether ``text`` contains Jinja markup (an expression or a statement)."""
    return "{{" in text or "{%" in text


class TemplateFileAnalyzer:
    """Standalone Jinja template files (``chat_template.jinja`` and kin): recognised by markup, not by name alone."""

    kind = "jinja-template"

    def sniff(self, blob: Blob) -> bool:
        """A text file named like a template (.jinja, .jinja2, .j2, .template) with Jinja markup near its start."""
        if not blob.size or not blob.name.lower().endswith(_TEMPLATE_SUFFIXES):
            return False
        probe = blob.head if blob.size <= len(blob.head) else blob.source.read_at(0, 1 << 16)
        if b"\x00" in probe:
            return False
        try:
            codecs.getincrementaldecoder("utf-8")().decode(probe, final=blob.size <= len(probe))
        except UnicodeDecodeError:
            return False
        return b"{{" in probe or b"{%" in probe

    def analyse(self, blob: Blob, report: Report) -> None:
        """Analyse the whole file as one template."""
        from bastion.supplychain.formats._chat_template_impl import analyse_file

        analyse_file(blob, report)


ANALYZER = TemplateFileAnalyzer()
