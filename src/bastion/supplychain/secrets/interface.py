"""The records of the secrets and shadow-AI scanner: what a detector is, and what it reports.

A ``Detector`` is one row of the provider table (``detectors.py``); ``SecretMatch`` is one credential found in a
text and ``AIUse`` one use of a generative-AI service. Neither record ever holds a secret: a match carries the
span where the secret lies in the scanned text, its masked form and a keyed fingerprint, so a record can be
logged, stored or rendered without leaking what it describes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bastion.findings import Severity

Validator = Callable[[bytes], bool]
"""An extra test of a candidate secret's bytes (a checksum, a marker, a shape) that the pattern cannot express."""
Canonical = Callable[[bytes], bytes]
"""Turns a secret as written into the form that identifies it (line breaks and escapes removed)."""


@dataclass(frozen=True)
class Detector:
    """One kind of credential: where to look for it (needles), what it looks like (pattern) and how bad it is."""

    detector_id: str
    """Stable identifier (``openai-project-key``), used in ``[secrets] disable`` and in reports."""
    provider: str
    """Who issues the credential (``OpenAI``, ``AWS``...)."""
    label: str
    """What the credential is (``project API key``), for finding titles."""
    needles: tuple[bytes, ...]
    """Lower-case byte strings searched in the lower-cased text; the detector runs only where one occurs."""
    pattern: bytes
    """Case-sensitive regular expression over the original bytes; its ``secret`` group is the credential.
    Quantifiers are bounded or possessive, so a match never backtracks far."""
    rule_id: str = "BST-SEC-001"
    """Catalogue rule of its findings."""
    reach: int = 0
    """How far before a needle occurrence a match may start (``gsk_`` keys start one byte before ``sk_``)."""
    window: int = 0
    """For shape-only credentials: search the pattern within this many bytes around each needle (a context word
    such as ``cohere``) instead of at the needle itself."""
    max_length: int = 256
    """Longest match, in bytes; the search never looks further than this past its start."""
    context: tuple[bytes, ...] = ()
    """Lower-case words one of which must occur within ``CONTEXT_BYTES`` of the match (``deepseek`` for the
    ``sk-`` + 32 hex keys that DeepSeek issues)."""
    keyed: bool = False
    """For plain shapes (hex, UUID): a word that names a secret (key, token, secret, password, login...) must
    precede the value on its line, besides the context word nearby."""
    refine: tuple[tuple[bytes, str], ...] = ()
    """(lower-case context word, provider): the first word found near the match names the provider more exactly
    (``gemini`` turns a Google API key into a Google Gemini key)."""
    prefix: str = ""
    """The public, constant start of the format; that many characters (at most 6) show in the masked form."""
    min_entropy: float = 0.0
    """Smallest Shannon entropy (bits per character) of the secret; rejects ``xxxx`` and ``AAAA`` bodies."""
    severity: Severity | None = None
    """Severity of its findings when it differs from the rule's default."""
    validator: Validator | None = None
    """Extra acceptance test on the secret's bytes, or None."""
    canonical: Canonical | None = None
    """The form the fingerprint is computed over (a PEM body without line breaks), or None for the bytes as found."""


@dataclass(frozen=True)
class SecretMatch:
    """One credential found in a text; the secret itself is not kept (``text[start:end]`` recovers it)."""

    detector_id: str
    """The detector that found it."""
    provider: str
    """Who issued it (may be refined by context: ``Google Gemini`` for an ``AIza`` key next to Gemini code)."""
    label: str
    """What it is (``project API key``)."""
    rule_id: str
    """Catalogue rule of the finding."""
    severity: Severity
    """Severity of the finding."""
    start: int
    """Byte offset of the secret's first byte in the scanned text."""
    end: int
    """Byte offset just after the secret."""
    line: int
    """1-based line of ``start`` in the scanned text."""
    masked: str
    """At most 6 characters of the public prefix and the last 2 characters, e.g. ``sk-pro...Q2``."""
    fingerprint: str
    """16 hex digits of HMAC-SHA256 of the secret under this installation's key: equal secrets, equal prints."""
    length: int
    """Length of the secret in bytes."""
    name: str = ""
    """The name the secret is assigned to (``DB_PASSWORD``) for the name-based detectors; empty otherwise."""


@dataclass(frozen=True)
class AIUse:
    """One sign that code uses a generative-AI service: an SDK import, an API host, or a client class."""

    service: str
    """Service identifier as written in ``[ai] approved`` (``openai``, ``azure-openai``, ``anthropic``...)."""
    kind: str
    """``import`` (a module or package), ``host`` (an API host name) or ``client`` (a client class)."""
    indicator: str
    """What was seen: ``import openai``, ``host api.anthropic.com``, ``client AzureOpenAI``."""
    start: int
    """Byte offset of the indicator in the scanned text."""
    line: int
    """1-based line of the indicator."""


@dataclass(frozen=True)
class Service:
    """One generative-AI service and the signs of its use: SDK modules, npm packages, API hosts, client classes."""

    service_id: str
    """Identifier written in ``[ai] approved`` (``openai``, ``azure-openai``, ``anthropic``...)."""
    name: str
    """Display name (``Azure OpenAI``)."""
    python: tuple[str, ...] = ()
    """Python modules whose import means use (a dotted prefix matches its submodules)."""
    javascript: tuple[str, ...] = ()
    """npm packages whose import or require means use (``@scope/`` matches every package of the scope)."""
    hosts: tuple[str, ...] = ()
    """Lower-case API host names; a leading dot matches any subdomain (``.openai.azure.com``), a leading dash any
    regional prefix (``-aiplatform.googleapis.com``)."""
    classes: tuple[str, ...] = ()
    """Client class names that mean this service even when imported from another SDK (``AzureOpenAI``)."""
