"""Rules for model signatures (reported by ``bastion scan --trust KEY.pub``)."""

from __future__ import annotations

from bastion.taxonomy.base import Reference, Rule, Severity

REFERENCES: tuple[Reference, ...] = (
    Reference("OpenSSF-OMS", "OpenSSF Model Signing (OMS) specification v1.0",
              "https://github.com/ossf/model-signing-spec"),
)
"""References these rules cite that the shared list does not hold."""

_REFS = ("seed:supply-chain", "OWASP-ML06", "OWASP-LLM03", "ATLAS:AML.T0010.003", "ISO42001:A.10.3",
         "NIST-AI-RMF:MANAGE-3.1", "OpenSSF-OMS")

RULES: tuple[Rule, ...] = (
    Rule("BST-SIG-001", Severity.HIGH, "Model is not signed",
         "Trusted keys were given (--trust) but the model has no signature file beside it (PATH.sig). Nothing "
         "shows that its files are the ones the publisher released: a swapped or poisoned model would look "
         "the same.",
         "Get the signature from the publisher and verify it (bastion verify PATH --key KEY.pub), or review the "
         "model and sign it yourself (bastion sign PATH --key KEY) so later changes are caught.", _REFS),
    Rule("BST-SIG-002", Severity.CRITICAL, "Model signature does not verify",
         "The signature file is malformed, its signature does not verify with the trusted key, or files were "
         "modified, added or removed after signing (each is named). The model on disk is not the model that "
         "was signed.",
         "Do not load the model. Download it again from the publisher and verify it; if the publisher changed "
         "it on purpose, obtain the new signature.", (*_REFS, "ATLAS:AML.T0018")),
    Rule("BST-SIG-003", Severity.HIGH, "Model signed by an untrusted key",
         "The signature names a key that is not among the trusted keys and does not verify with any of them. "
         "Anyone can sign a model with a key of their own, so this proves nothing about where it came from.",
         "Confirm the publisher's public key through a separate channel and pass it with --trust if you trust "
         "it; otherwise treat the model as unsigned.", _REFS),
)
"""The rules, in id order."""
