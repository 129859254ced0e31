"""The rules catalogue and the references it maps onto (seed risks, OWASP, MITRE ATLAS, ISO/IEC 42001, NIST)."""

from bastion.taxonomy.catalogue import REFERENCES, RULES, Reference, Rule, rule
from bastion.taxonomy.markdown import rules_markdown

__all__ = ["REFERENCES", "RULES", "Reference", "Rule", "rule", "rules_markdown"]
