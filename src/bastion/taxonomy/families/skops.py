"""Rules for skops: the types and callables a skops schema makes the loader import and call."""

from __future__ import annotations

from bastion.taxonomy.base import DONT_LOAD, MODEL_FILE_REFS, Reference, Rule, Severity


def _cve(cve: str, title: str) -> Reference:
    return Reference(cve, f"{cve}: {title}", f"https://nvd.nist.gov/vuln/detail/{cve}")


REFERENCES: tuple[Reference, ...] = (
    _cve("CVE-2024-37065", "skops 0.6 and newer: a crafted model runs arbitrary code when loaded"),
    _cve("CVE-2025-54412", "skops OperatorFuncNode hides operator calls behind trusted types (skops < 0.12)"),
)
"""References these rules cite that the shared list does not hold."""

_SKOPS_REFS = (*MODEL_FILE_REFS, "CVE-2024-37065", "CVE-2025-54412")

RULES: tuple[Rule, ...] = (
    Rule("BST-SKO-001", Severity.CRITICAL, "skops schema references a dangerous callable or type",
         "schema.json names a function, method, type or constructor that runs commands or code, resolves "
         "callables from strings, builds code, reaches files, network or process state, or deserialises data "
         "(builtins.eval, os.system, operator.methodcaller, pickle.loads...). skops.io.load refuses it unless "
         "the user passes it in trusted=, but a user who trusts what get_untrusted_types() lists runs it.",
         DONT_LOAD, _SKOPS_REFS),
    Rule("BST-SKO-002", Severity.MEDIUM, "skops schema references a type outside the ML ecosystem",
         "schema.json names a type or function outside scikit-learn, NumPy, SciPy, skops and the Python "
         "containers that is not on Bastion's allow-list. skops.io.load refuses it unless it is passed in "
         "trusted=; trusting it imports its module and constructs or calls it with data from the file.",
         "Confirm the type is expected for this model and comes from code you trust before passing it in "
         "trusted=; add it to [pickle] allow in bastion.toml to accept it in future scans.", _SKOPS_REFS),
    Rule("BST-SKO-003", Severity.LOW, "skops schema is malformed",
         "schema.json has a node skops cannot load: a missing or invalid protocol, an unknown __loader__, "
         "missing __class__/__module__, a MethodNode or OperatorFuncNode whose declared type disagrees with "
         "what it builds, or a name that cannot be imported. skops refuses the file; crafted files often look "
         "like this.",
         "Re-export the model with skops.io.dump from a trusted environment.", MODEL_FILE_REFS),
)
"""The rules, in id order."""
