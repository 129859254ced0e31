"""What a PII detector returns: typed spans of a text, with entity names that match Microsoft Presidio's."""

from __future__ import annotations

from dataclasses import dataclass

ENTITY_TYPES: tuple[str, ...] = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "US_ITIN", "US_PASSPORT",
    "US_DRIVER_LICENSE", "UK_NHS", "UK_NINO", "DE_TAX_ID", "DE_ID_CARD", "ES_NIF", "ES_NIE", "IT_FISCAL_CODE",
    "FR_NIR", "IP_ADDRESS", "MAC_ADDRESS", "URL", "CRYPTO", "DATE_TIME", "API_KEY", "PERSON", "LOCATION",
    "ORGANIZATION", "NRP",
)
"""Every entity type Bastion can report; pattern mode finds all but the last four, which need an NER plug-in."""


def mask_characters(value: str, keep: int, from_end: bool = True, char: str = "*") -> str:
    """``value`` with every letter and digit but ``keep`` of them (the last ones, or the first) replaced by
    ``char``; separators stay, so the shape remains legible (``**** **** **** 1111``)."""
    positions = [i for i, ch in enumerate(value) if ch.isalnum()]
    shown = set(positions[-keep:] if from_end else positions[:keep]) if keep > 0 else set()
    return "".join(ch if (i in shown or not ch.isalnum()) else char for i, ch in enumerate(value))


@dataclass(frozen=True)
class Entity:
    """One piece of personal data found in a text."""

    type: str
    """Entity type, one of ``ENTITY_TYPES`` (Presidio's names, so users can switch)."""
    start: int
    """Offset of the first character in the text (a ``str`` index, not bytes)."""
    end: int
    """Offset just after the last character."""
    score: float
    """Confidence in [0, 1]: the recogniser's base score, raised by context words, lowered by weak formats."""
    recognizer: str = ""
    """Which recogniser produced it (``credit_card``, ``phone``, ``ner:spacy``...), for explanations."""
