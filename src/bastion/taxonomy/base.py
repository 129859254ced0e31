"""What every part of the rules catalogue shares: the Rule and Reference types, the references, common texts."""

from __future__ import annotations

from dataclasses import dataclass

from bastion.findings import Severity

__all__ = ["DONT_LOAD", "MODEL_FILE_REFS", "REFERENCE_LIST", "Reference", "Rule", "Severity"]


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


REFERENCE_LIST = (
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

MODEL_FILE_REFS = (
    "seed:supply-chain",
    "OWASP-ML06",
    "OWASP-LLM03",
    "ATLAS:AML.T0010.003",
    "ATLAS:AML.T0011.000",
    "ISO42001:A.10.3",
    "NIST-AI-RMF:GOVERN-6.1",
    "NIST-AI-RMF:MANAGE-3.1",
)
DONT_LOAD = (
    "Do not load this file. Obtain the model from its publisher through a verified channel, prefer a "
    "format that cannot carry code (safetensors), and load PyTorch files with torch.load(weights_only=True)."
)
