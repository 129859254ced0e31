"""The one rules catalogue: every rule Bastion can report, with its default severity and references.

`docs/rules.md` is generated from this module (`bastion rules --format markdown`); a test fails when the
committed file is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

from bastion.findings import Severity


@dataclass(frozen=True)
class Reference:
    """One entry of an external risk taxonomy."""

    ref_id: str
    """Bastion's short id for it, as written in ``Finding.refs`` (``ATLAS:AML.T0011.000``)."""
    title: str
    """The entry's own title."""
    url: str
    """Where the entry is published."""


@dataclass(frozen=True)
class Rule:
    """One rule of the catalogue."""

    rule_id: str
    """Stable identifier (``BST-<AREA>-<NNN>``); never reused for another meaning."""
    severity: Severity
    """Default severity of its findings."""
    title: str
    """What the rule detects, in one line."""
    description: str
    """Why it matters, in a few sentences."""
    remediation: str
    """The general fix."""
    refs: tuple[str, ...]
    """Reference ids (see ``REFERENCES``)."""


_REFERENCE_LIST = (
    Reference("seed:supply-chain", "Supply-chain compromise (malicious model files, vulnerable "
              "dependencies, leaked keys)", "https://github.com/bastion-ai/bastion/blob/main/docs/risks.md"),
    Reference("seed:poisoning", "Model and data poisoning",
              "https://github.com/bastion-ai/bastion/blob/main/docs/risks.md"),
    Reference("OWASP-ML06", "OWASP ML Top 10 2023 ML06: AI Supply Chain Attacks",
              "https://owasp.org/www-project-machine-learning-security-top-10/docs/ML06_2023-AI_Supply_Chain_Attacks"),
    Reference("OWASP-LLM03", "OWASP Top 10 for LLM Applications 2025 LLM03: Supply Chain",
              "https://genai.owasp.org/llmrisk/llm032025-supply-chain/"),
    Reference("OWASP-LLM04", "OWASP Top 10 for LLM Applications 2025 LLM04: Data and Model Poisoning",
              "https://genai.owasp.org/llmrisk/llm042025-data-and-model-poisoning/"),
    Reference("ATLAS:AML.T0010.003", "MITRE ATLAS AML.T0010.003 ML Supply Chain Compromise: Model",
              "https://atlas.mitre.org/techniques/AML.T0010.003"),
    Reference("ATLAS:AML.T0011.000", "MITRE ATLAS AML.T0011.000 User Execution: Unsafe ML Artifacts",
              "https://atlas.mitre.org/techniques/AML.T0011.000"),
    Reference("ATLAS:AML.T0018", "MITRE ATLAS AML.T0018 Manipulate AI Model",
              "https://atlas.mitre.org/techniques/AML.T0018"),
    Reference("ISO42001:A.10.3", "ISO/IEC 42001:2023 Annex A.10.3 Suppliers",
              "https://www.iso.org/standard/81230.html"),
    Reference("ISO42001:A.6.2.4", "ISO/IEC 42001:2023 Annex A.6.2.4 AI system verification and validation",
              "https://www.iso.org/standard/81230.html"),
    Reference("NIST-AI-RMF:GOVERN-6.1", "NIST AI RMF 1.0 GOVERN 6.1: policies for third-party risks",
              "https://airc.nist.gov/airmf-resources/airmf/5-sec-core/"),
    Reference("NIST-AI-RMF:MANAGE-3.1", "NIST AI RMF 1.0 MANAGE 3.1: third-party resources monitored",
              "https://airc.nist.gov/airmf-resources/airmf/5-sec-core/"),
    Reference("NIST-AI-RMF:MEASURE-2.7", "NIST AI RMF 1.0 MEASURE 2.7: security and resilience evaluated",
              "https://airc.nist.gov/airmf-resources/airmf/5-sec-core/"),
)

REFERENCES: dict[str, Reference] = {r.ref_id: r for r in _REFERENCE_LIST}

_MODEL_FILE_REFS = (
    "seed:supply-chain",
    "OWASP-ML06",
    "OWASP-LLM03",
    "ATLAS:AML.T0010.003",
    "ATLAS:AML.T0011.000",
    "ISO42001:A.10.3",
    "NIST-AI-RMF:GOVERN-6.1",
    "NIST-AI-RMF:MANAGE-3.1",
)
_DONT_LOAD = (
    "Do not load this file. Obtain the model from its publisher through a verified channel, prefer a "
    "format that cannot carry code (safetensors), and load PyTorch files with torch.load(weights_only=True)."
)

_RULE_LIST = (
    Rule("BST-PKL-001", Severity.CRITICAL, "Pickle imports a code-execution callable",
         "The pickle references a callable that runs commands or code when the file is loaded (os.system, "
         "subprocess, eval, exec, runpy, pip, venv.create, debugger entry points, known ML-library gadgets...).",
         _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-002", Severity.CRITICAL, "Pickle resolves callables from strings",
         "The pickle references a string-to-callable resolver (getattr, importlib, pkgutil.resolve_name, "
         "pydoc.locate, operator.attrgetter/methodcaller...), the usual way to reach a forbidden function "
         "through an allowed object.", _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-003", Severity.CRITICAL, "Pickle builds code objects",
         "The pickle references a code-object constructor (marshal.loads, types.CodeType, types.FunctionType...), "
         "which turns bytes in the file into executable Python.", _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-004", Severity.CRITICAL, "Pickle reaches files, network or process state",
         "The pickle references a callable that reads or writes files, opens network connections, or changes "
         "interpreter or process state (open, shutil, socket, urllib, ctypes, sys, signal...).",
         _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-005", Severity.MEDIUM, "Pickle imports a global outside the allow-list",
         "The pickle references a module attribute that is not on the exact (module, name) allow-list of the ML "
         "ecosystem. Loading it imports that module and may call the attribute. Review it; if it is expected, "
         "add it to [pickle] allow in bastion.toml.",
         "Confirm the global is expected for this model and add it to the project allow-list, or re-export the "
         "model in a data-only format.", _MODEL_FILE_REFS),
    Rule("BST-PKL-006", Severity.CRITICAL, "Pickle resolves a global from computed names",
         "A GLOBAL/STACK_GLOBAL/INST operand is not a constant string (it is the result of a call or another "
         "lookup), so the imported name is chosen at load time. Benign pickles never do this.",
         _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-007", Severity.CRITICAL, "Pickle modifies module or class state",
         "A BUILD (or setstate) is applied to an imported module, class or function rather than to a fresh "
         "object. This overwrites library attributes at load time (for example to swap an allowed name for eval).",
         _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-008", Severity.CRITICAL, "Pickle deserialises embedded data",
         "The pickle passes data to a deserialiser (pickle.loads, torch.load, numpy.load, joblib.load, dill, "
         "marshal...). The embedded payload is decoded statically and scanned; its own findings are reported "
         "with the member name ending in '!nested@OFFSET'.", _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-009", Severity.HIGH, "Pickle composes calls through higher-order functions",
         "The pickle references a callable combinator (functools.partial/reduce, map, filter, "
         "itertools...) that lets a loaded object call another callable later with chosen arguments.",
         _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-010", Severity.HIGH, "Embedded pickle carries dangerous globals",
         "A bytes value inside the pickle is itself a pickle that references dangerous globals. It runs "
         "if the application later unpickles that field.", _DONT_LOAD, _MODEL_FILE_REFS),
    Rule("BST-PKL-011", Severity.LOW, "Pickle stream is malformed",
         "The stream has an invalid opcode, a truncated argument, a bad frame length, a stack underflow or a "
         "missing memo key. Python's unpickler stops there, but anything it reached before ran; findings "
         "before the error are reported.",
         "Re-export the model from its source; a malformed stream is also a common sign of tampering.",
         _MODEL_FILE_REFS),
    Rule("BST-NPY-001", Severity.LOW, "NumPy file holds pickled object arrays",
         "The .npy/.npz member stores an object array, which NumPy can only read with allow_pickle=True; "
         "the embedded pickle is scanned and its findings reported separately.",
         "Store numeric arrays only; load with allow_pickle=False.", _MODEL_FILE_REFS),
    Rule("BST-ARC-001", Severity.HIGH, "Archive member path escapes the extraction folder",
         "A zip or tar member name is absolute or contains '..' (zip-slip), or a tar member is a link; "
         "extracting the archive writes outside the target folder.",
         "Do not extract the archive with a tool that honours such paths; rebuild it from trusted files.",
         ("seed:supply-chain", "OWASP-ML06", "ATLAS:AML.T0010.003", "ISO42001:A.10.3")),
    Rule("BST-SCAN-001", Severity.LOW, "Target not examined completely",
         "A bound (size, decompressed bytes, nesting depth, opcode count, time) was reached, the content is "
         "encrypted, or a reader failed, so part of the target was not examined. This is never a pass: the "
         "scan exits 2 unless a finding at the threshold was found.",
         "Examine the named part by other means, or raise the bound in bastion.toml if the file is trusted "
         "to be that large.", ("NIST-AI-RMF:MEASURE-2.7", "ISO42001:A.6.2.4")),
)

RULES: dict[str, Rule] = {r.rule_id: r for r in _RULE_LIST}


def rule(rule_id: str) -> Rule:
    """The catalogue entry for ``rule_id``; raises KeyError naming the unknown id."""
    try:
        return RULES[rule_id]
    except KeyError:
        raise KeyError(f"rule {rule_id!r} is not in the catalogue") from None
