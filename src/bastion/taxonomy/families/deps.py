"""Rules of the dependency audit (``bastion deps``, and ``bastion scan`` on every manifest it finds)."""

from __future__ import annotations

from bastion.taxonomy.base import Reference, Rule, Severity

REFERENCES: tuple[Reference, ...] = (
    Reference("CWE-1395", "CWE-1395: Dependency on Vulnerable Third-Party Component",
              "https://cwe.mitre.org/data/definitions/1395.html"),
    Reference("OWASP-A06", "OWASP Top 10 2021 A06: Vulnerable and Outdated Components",
              "https://owasp.org/Top10/A06_2021-Vulnerable_and_Outdated_Components/"),
    Reference("ATLAS:AML.T0010.001", "MITRE ATLAS AML.T0010.001 ML Supply Chain Compromise: ML Software",
              "https://atlas.mitre.org/techniques/AML.T0010.001"),
    Reference("OSV", "Open Source Vulnerability (OSV) schema", "https://ossf.github.io/osv-schema/"),
)
"""References these rules cite that the shared list does not hold."""

_REFS = ("seed:supply-chain", "OWASP-ML06", "OWASP-LLM03", "OWASP-A06", "CWE-1395", "ATLAS:AML.T0010.001",
         "ISO42001:A.10.3", "NIST-AI-RMF:GOVERN-6.1", "NIST-AI-RMF:MANAGE-3.1")
_DB_REFS = ("seed:supply-chain", "OSV", "NIST-AI-RMF:MANAGE-3.1", "NIST-AI-RMF:MEASURE-2.7", "ISO42001:A.6.2.4")

RULES: tuple[Rule, ...] = (
    Rule("BST-DEP-001", Severity.HIGH, "Dependency version has a known vulnerability",
         "A pinned or installed dependency is at a version that an advisory of the local OSV database affects "
         "(ECOSYSTEM ranges and explicit version lists, compared with PEP 440 ordering). The finding's severity "
         "comes from the advisory: the CVSS base score (9.0+ critical, 7.0+ high, 4.0+ medium, else low), else "
         "the database's own severity label, else high.",
         "Upgrade to the smallest fixed version named in the finding (it also lists every fixed version), or "
         "remove the dependency; if the vulnerable code is unreachable, record the advisory id in [deps] ignore.",
         _REFS),
    Rule("BST-DEP-002", Severity.MEDIUM, "Dependency could not be audited",
         "The dependency is not pinned to one version (a range, a wildcard, no version), comes from a URL, a VCS "
         "checkout or a local path, names an environment variable, has a version that is not PEP 440, or its "
         "lock file does not resolve it. No advisory can be matched against it, so it is reported rather than "
         "passed.",
         "Pin an exact version (name==X.Y.Z, ideally with --hash) or audit the lock file that resolves it; "
         "install from an index rather than from URLs or checkouts you cannot audit.", _REFS),
    Rule("BST-DEP-003", Severity.LOW, "Advisory database missing or empty",
         "There is no usable local advisory database (never imported, empty, unreadable, or from another schema "
         "version), so no dependency was checked for known vulnerabilities. The manifest is reported as "
         "incomplete (exit 2): this is never a pass.",
         "Import OSV advisories: bastion db import all.zip (OSV's PyPI export) or a directory or .tar.gz of OSV "
         "records such as the PyPA advisory database; check with bastion db status.", _DB_REFS),
    Rule("BST-DEP-004", Severity.LOW, "Advisory database is stale",
         "The newest advisory in the local database was modified longer ago than [deps] max_age_days (default 7), "
         "so vulnerabilities published since then are not known to the audit.",
         "Import a fresh export of the advisory database (bastion db import SOURCE), or raise [deps] max_age_days "
         "if the data is refreshed on another schedule.", _DB_REFS),
    Rule("BST-DEP-005", Severity.INFO, "ML framework, CUDA library or GPU driver version",
         "A deep-learning framework (torch, tensorflow, jax, jaxlib...), an NVIDIA CUDA wheel, or the NVIDIA "
         "driver (from nvidia-smi) was found; its version is recorded for the inventory. Wheels are matched "
         "against PyPI advisories like any dependency (BST-DEP-001); the driver has no OSV ecosystem and is "
         "recorded, not audited.",
         "Keep frameworks and CUDA libraries on supported releases; check the driver against NVIDIA's security "
         "bulletins.", ("seed:supply-chain", "OWASP-ML06", "ATLAS:AML.T0010.001", "ISO42001:A.10.3")),
)
"""The rules, in id order."""
