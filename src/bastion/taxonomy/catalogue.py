"""The one rules catalogue: every rule Bastion can report, with its default severity and references.

`docs/rules.md` is generated from this module (`bastion rules --format markdown`); a test fails when the
committed file is stale. Rules of each model format live in ``taxonomy/families/``; this module joins them.
"""

from __future__ import annotations

from bastion.taxonomy.base import DONT_LOAD, MODEL_FILE_REFS, REFERENCE_LIST, Reference, Rule, Severity
from bastion.taxonomy.families import FAMILIES

__all__ = ["REFERENCES", "RULES", "Reference", "Rule", "rule"]

_RULE_LIST = (
    Rule("BST-PKL-001", Severity.CRITICAL, "Pickle imports a code-execution callable",
         "The pickle references a callable that runs commands or code when the file is loaded (os.system, "
         "subprocess, eval, exec, runpy, pip, venv.create, debugger entry points, known ML-library gadgets...).",
         DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-002", Severity.CRITICAL, "Pickle resolves callables from strings",
         "The pickle references a string-to-callable resolver (getattr, importlib, pkgutil.resolve_name, "
         "pydoc.locate, operator.attrgetter/methodcaller...), the usual way to reach a forbidden function "
         "through an allowed object.", DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-003", Severity.CRITICAL, "Pickle builds code objects",
         "The pickle references a code-object constructor (marshal.loads, types.CodeType, types.FunctionType...), "
         "which turns bytes in the file into executable Python.", DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-004", Severity.CRITICAL, "Pickle reaches files, network or process state",
         "The pickle references a callable that reads or writes files, opens network connections, or changes "
         "interpreter or process state (open, shutil, socket, urllib, ctypes, sys, signal...).",
         DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-005", Severity.MEDIUM, "Pickle imports a global outside the allow-list",
         "The pickle references a module attribute that is not on the exact (module, name) allow-list of the ML "
         "ecosystem. Loading it imports that module and may call the attribute. Review it; if it is expected, "
         "add it to [pickle] allow in bastion.toml.",
         "Confirm the global is expected for this model and add it to the project allow-list, or re-export the "
         "model in a data-only format.", MODEL_FILE_REFS),
    Rule("BST-PKL-006", Severity.CRITICAL, "Pickle resolves a global from computed names",
         "A GLOBAL/STACK_GLOBAL/INST operand is not a constant string (it is the result of a call or another "
         "lookup), so the imported name is chosen at load time. Benign pickles never do this.",
         DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-007", Severity.CRITICAL, "Pickle modifies module or class state",
         "A BUILD (or setstate) is applied to an imported module, class or function rather than to a fresh "
         "object. This overwrites library attributes at load time (for example to swap an allowed name for eval).",
         DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-008", Severity.CRITICAL, "Pickle deserialises embedded data",
         "The pickle passes data to a deserialiser (pickle.loads, torch.load, numpy.load, joblib.load, dill, "
         "marshal...). The embedded payload is decoded statically and scanned; its own findings are reported "
         "with the member name ending in '!nested@OFFSET'.", DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-009", Severity.HIGH, "Pickle composes calls through higher-order functions",
         "The pickle references a callable combinator (functools.partial/reduce, map, filter, "
         "itertools...) that lets a loaded object call another callable later with chosen arguments.",
         DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-010", Severity.HIGH, "Embedded pickle carries dangerous globals",
         "A bytes value inside the pickle is itself a pickle that references dangerous globals. It runs "
         "if the application later unpickles that field.", DONT_LOAD, MODEL_FILE_REFS),
    Rule("BST-PKL-011", Severity.LOW, "Pickle stream is malformed",
         "The stream has an invalid opcode, a truncated argument, a bad frame length, a stack underflow or a "
         "missing memo key. Python's unpickler stops there, but anything it reached before ran; findings "
         "before the error are reported.",
         "Re-export the model from its source; a malformed stream is also a common sign of tampering.",
         MODEL_FILE_REFS),
    Rule("BST-NPY-001", Severity.LOW, "NumPy file holds pickled object arrays",
         "The .npy/.npz member stores an object array, which NumPy can only read with allow_pickle=True; "
         "the embedded pickle is scanned and its findings reported separately.",
         "Store numeric arrays only; load with allow_pickle=False.", MODEL_FILE_REFS),
    Rule("BST-ARC-001", Severity.HIGH, "Archive member path escapes the extraction folder",
         "A zip or tar member name is absolute or contains '..' (zip-slip), or a tar member is a link; "
         "extracting the archive writes outside the target folder.",
         "Do not extract the archive with a tool that honours such paths; rebuild it from trusted files.",
         ("seed:supply-chain", "OWASP-ML06", "ATLAS:AML.T0010.003", "ISO42001:A.10.3")),
    Rule("BST-ARC-002", Severity.HIGH, "Zip members share compressed data (zip bomb construction)",
         "Two entries of the zip point into the same compressed bytes. No archiver writes this; it is the "
         "construction of non-recursive zip bombs (a few kilobytes that expand to gigabytes when extracted) and "
         "a way to show different readers different files.",
         "Do not extract the archive; obtain the model from its publisher through a verified channel.",
         ("seed:supply-chain", "OWASP-ML06", "ATLAS:AML.T0010.003", "ISO42001:A.10.3")),
    Rule("BST-SCAN-001", Severity.LOW, "Target not examined completely",
         "A bound (size, decompressed bytes, nesting depth, opcode count, time) was reached, the content is "
         "encrypted, or a reader failed, so part of the target was not examined. This is never a pass: the "
         "scan exits 2 unless a finding at the threshold was found.",
         "Examine the named part by other means, or raise the bound in bastion.toml if the file is trusted "
         "to be that large.", ("NIST-AI-RMF:MEASURE-2.7", "ISO42001:A.6.2.4")),
)

RULES: dict[str, Rule] = {r.rule_id: r for r in (*_RULE_LIST, *(r for f in FAMILIES for r in f.RULES))}
REFERENCES: dict[str, Reference] = {
    r.ref_id: r for r in (*REFERENCE_LIST, *(r for family in FAMILIES for r in family.REFERENCES))
}


def rule(rule_id: str) -> Rule:
    """The catalogue entry for ``rule_id``; raises KeyError naming the unknown id."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"rule {rule_id!r} is not in the catalogue") from None
