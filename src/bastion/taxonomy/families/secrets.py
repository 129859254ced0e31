"""Rules for credentials written in clear (source, configuration, ``.env``, notebooks) and for generative-AI
services used without approval (reported by the ``secrets`` check)."""

from __future__ import annotations

from bastion.taxonomy.base import Reference, Rule, Severity

REFERENCES: tuple[Reference, ...] = (
    Reference("CWE-798", "CWE-798: Use of Hard-coded Credentials", "https://cwe.mitre.org/data/definitions/798.html"),
    Reference("CWE-312", "CWE-312: Cleartext Storage of Sensitive Information",
              "https://cwe.mitre.org/data/definitions/312.html"),
    Reference("OWASP-LLM02", "OWASP Top 10 for LLM Applications 2025 LLM02: Sensitive Information Disclosure",
              "https://genai.owasp.org/llmrisk/llm022025-sensitive-information-disclosure/"),
    Reference("ATLAS:AML.T0055", "MITRE ATLAS AML.T0055 Unsecured Credentials",
              "https://atlas.mitre.org/techniques/AML.T0055"),
    Reference("NIST-AI-RMF:GOVERN-1.6", "NIST AI RMF 1.0 GOVERN 1.6: mechanisms to inventory AI systems",
              "https://airc.nist.gov/airmf-resources/airmf/5-sec-core/"),
)
"""References these rules cite that the shared list does not hold."""

_SECRET_REFS = ("seed:supply-chain", "CWE-798", "CWE-312", "OWASP-LLM02", "ATLAS:AML.T0055",
                "NIST-AI-RMF:MEASURE-2.7")
_AI_REFS = ("NIST-AI-RMF:GOVERN-1.6", "NIST-AI-RMF:GOVERN-6.1", "ISO42001:A.10.3", "OWASP-LLM02")
_ROTATE = (
    "Revoke the credential at its issuer now and create a new one: it has been exposed to everyone who can read "
    "the file, its repository history, forks, images and shared copies. Then remove it from the file (and from "
    "history with git filter-repo if the repository is shared), load secrets from the environment or a secret "
    "manager, and clear notebook outputs before saving (jupyter nbconvert --clear-output). If the value is a "
    "reviewed test fixture, add its fingerprint to [secrets] allow in bastion.toml."
)

RULES: tuple[Rule, ...] = (
    Rule("BST-SEC-001", Severity.CRITICAL, "Provider credential in clear",
         "A credential in an issuer's own format is written in the file: an AI service key (OpenAI, Anthropic, "
         "Azure OpenAI, Google Gemini, Hugging Face, Cohere, Mistral, Groq, xAI, DeepSeek, Replicate, OpenRouter, "
         "LangSmith, Langfuse, Pinecone, Weights & Biases...), a cloud key (AWS, Azure, Google) or a code-host or "
         "SaaS token (GitHub, GitLab, Slack, Stripe...). Notebook sources and outputs are read as decoded "
         "strings, so keys echoed by print(), shown in tracebacks or hidden behind JSON escapes count. Formats "
         "that are identifiers or weaker tokens (AWS access key IDs, JWTs, URL passwords, Langfuse public keys) "
         "are reported at a lower severity. Reports show only a masked prefix and a fingerprint.",
         _ROTATE, _SECRET_REFS),
    Rule("BST-SEC-002", Severity.CRITICAL, "Private key or service-account key in clear",
         "A PEM, OpenSSH or PGP private key block is written in the file, or a Google Cloud service-account JSON "
         "carries its private_key. Whoever reads it can impersonate the service, sign as it or decrypt its "
         "traffic.", _ROTATE, _SECRET_REFS),
    Rule("BST-SEC-003", Severity.HIGH, "High-entropy secret assigned in clear",
         "A value with the randomness of a generated key (entropy thresholds that follow its length), or a "
         "password, is assigned to a name that says it is a secret (API_KEY, access_token, client_secret, "
         "password...), or sent as a bearer token. Its issuer is unknown, so it is less certain than a provider "
         "format, but such values are nearly always live credentials. Placeholders (your-api-key, xxxx, <token>, "
         "${VAR}, example and test values) and code references (os.environ[...]) are not reported.",
         _ROTATE, _SECRET_REFS),
    Rule("BST-AI-001", Severity.MEDIUM, "Generative-AI service not approved for this project",
         "The code imports an SDK of a generative-AI service, calls one of its API hosts or builds one of its "
         "clients, and the service is not in [ai] approved of bastion.toml. Data sent to an unapproved service "
         "(prompts, documents, personal data) leaves the organisation's control, under terms nobody reviewed.",
         "Use an approved service instead, or have the service reviewed (data processing terms, retention, "
         "region, security) and add its id to [ai] approved in bastion.toml.", _AI_REFS),
    Rule("BST-AI-002", Severity.INFO, "Generative-AI service in use",
         "The code uses a generative-AI service (SDK import, API host or client class). The project file has no "
         "[ai] table, so no service is approved or refused: this is the inventory of what the code reaches.",
         "Review the services listed and declare the approved ones in bastion.toml ([ai] approved = [...]); from "
         "then on, uses of any other service are reported as BST-AI-001.", _AI_REFS),
)
"""The rules, in id order."""
