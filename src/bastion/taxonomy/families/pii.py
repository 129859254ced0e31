"""Rules for personal data found in datasets (reported by the ``pii`` check of ``bastion scan``)."""

from __future__ import annotations

from bastion.taxonomy.base import Reference, Rule, Severity

REFERENCES: tuple[Reference, ...] = (
    Reference("seed:privacy", "Data privacy and compliance violations",
              "https://github.com/bastion-ai/bastion/blob/main/docs/risks.md"),
    Reference("GDPR:Art.5(1)(c)", "GDPR Article 5(1)(c): data minimisation",
              "https://eur-lex.europa.eu/eli/reg/2016/679/oj"),
    Reference("GDPR:Art.9", "GDPR Article 9: special categories and national identification numbers",
              "https://eur-lex.europa.eu/eli/reg/2016/679/oj"),
    Reference("EU-AI-Act:Art.10", "EU AI Act Article 10: data and data governance",
              "https://eur-lex.europa.eu/eli/reg/2024/1689/oj"),
    Reference("ISO42001:A.7.4", "ISO/IEC 42001:2023 Annex A.7.4 Quality of data for AI systems",
              "https://www.iso.org/standard/81230.html"),
    Reference("NIST-AI-RMF:MEASURE-2.10", "NIST AI RMF 1.0 MEASURE 2.10: privacy risk examined and documented",
              "https://airc.nist.gov/airmf-resources/airmf/5-sec-core/"),
    Reference("ATLAS:AML.T0057", "MITRE ATLAS AML.T0057 LLM Data Leakage",
              "https://atlas.mitre.org/techniques/AML.T0057"),
)
"""References these rules cite that the shared list does not hold."""

_REFS = ("seed:privacy", "OWASP-LLM02", "ATLAS:AML.T0057", "GDPR:Art.5(1)(c)", "EU-AI-Act:Art.10", "ISO42001:A.7.4",
         "NIST-AI-RMF:MEASURE-2.10")
_FIX = (
    "Keep personal data out of training and evaluation sets unless the purpose needs it. Drop the column, or "
    "anonymise it with bastion pii anonymize (keyed pseudonyms keep joins working, format-preserving encryption "
    "keeps formats, generalisation and k-anonymity keep statistics). Record the lawful basis and retention if the "
    "data must stay."
)

RULES: tuple[Rule, ...] = (
    Rule("BST-PII-001", Severity.HIGH, "Dataset holds financial or government identifiers",
         "A column holds payment card numbers (Luhn and issuer range checked), IBANs (mod-97), US SSNs or ITINs, "
         "passport or driving licence numbers, UK NHS or National Insurance numbers, German, Spanish, Italian or "
         "French national identifiers, or cryptocurrency wallet addresses. A model trained on them can memorise "
         "and reveal them, and a leaked copy of the dataset is a notifiable breach. Critical from 1,000 rows.",
         _FIX, (*_REFS, "GDPR:Art.9")),
    Rule("BST-PII-002", Severity.MEDIUM, "Dataset holds contact data or online identifiers",
         "A column holds e-mail addresses, phone numbers, IP or MAC addresses, or (by its name or an NER model) "
         "people's names or addresses: direct identifiers that link rows to people. High from 1,000 rows.",
         _FIX, _REFS),
    Rule("BST-PII-003", Severity.LOW, "Dataset holds quasi-identifiers",
         "A column holds dates of birth, other dates inside free text, or personal URLs. Alone they rarely name "
         "anyone; combined (birth date, ZIP code and sex identify most people) they do. Measure k-anonymity over "
         "them before the data is shared.",
         _FIX, _REFS),
)
