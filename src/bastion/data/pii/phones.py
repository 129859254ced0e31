"""Phone numbers: cheap shape filters first, ``phonenumbers`` (Google's libphonenumber metadata) only after them.

A candidate is any run of digit groups; most such runs in real text are prices, counts and versions, so the shape
is judged before the comparatively slow metadata lookup: 7 to 15 digits, at most one group of one digit outside
the country code, no single-digit groups run together. ``phonenumbers`` then says whether the number is valid in
its own country (international form) or in one of the commonly seen regions (national form).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

REGIONS: tuple[str, ...] = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "BE", "CH", "AT", "IE", "AU", "IN", "CA",
                            "BR", "MX", "PL", "SE", "DK", "NO", "PT", "CZ", "IL", "JP", "ZA", "NZ")
"""Regions tried, in order, for a number written without a country code."""

_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension|#)\s?\d{1,6}$")
_GROUP = re.compile(r"\d+")
_NOT_PHONE = re.compile(r"\d{3}([ \-])\d{2}\1\d{4}|\d{4}([\-/.])\d{1,2}\2\d{1,2}")
"""3-2-4 digits is how SSNs are written and 4-2-2 how dates are: an invalid one in that shape is not a phone."""
_NANP = re.compile(r"(?:\+?1[ .\-]?)?(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4}")


@lru_cache(maxsize=1)
def _library() -> Any:
    import phonenumbers

    return phonenumbers


def _valid(number: str, region: str | None) -> tuple[bool, bool]:
    """(valid, possible) according to ``phonenumbers``; unparsable numbers are neither."""
    library = _library()
    try:
        parsed = library.parse(number, region)
    except library.NumberParseException:
        return False, False
    return library.is_valid_number(parsed), library.is_possible_number(parsed)


def _shape_ok(body: str) -> tuple[bool, int]:
    groups = _GROUP.findall(body)
    digits = sum(len(group) for group in groups)
    if not 7 <= digits <= 15 or len(groups) > 6:
        return False, digits
    inner = groups[1:] if body.startswith(("+", "00")) else groups
    if sum(len(group) == 1 for group in inner) > 1 or len(set("".join(groups))) < 3:
        return False, digits
    return True, digits


@lru_cache(maxsize=8192)
def phone_score(candidate: str) -> float:
    """The base score of ``candidate`` as a phone number, 0.0 when it is not one (cached: logs repeat numbers)."""
    body = _EXTENSION.sub("", candidate)
    if _NOT_PHONE.fullmatch(body):
        return 0.0
    ok, digits = _shape_ok(body)
    if not ok:
        return 0.0
    international = body.startswith(("+", "00"))
    separated = any(not ch.isdigit() for ch in body.lstrip("+"))
    if international:
        number = "+" + body[2:] if body.startswith("00") else body
        valid, possible = _valid(number, None)
        if valid:
            return 0.9
        return 0.6 if possible else 0.0
    if _NANP.fullmatch(body):
        return 0.85 if _valid(body, "US")[0] else 0.7
    valid = any(_valid(body, region)[0] for region in REGIONS)
    if "(" in body:
        return 0.75 if valid else 0.6
    if not separated:
        return 0.4 if valid and digits >= 10 else 0.2
    if valid and body.startswith("0"):
        return 0.6  # a national trunk prefix (020 7946 0958, 06 12 34 56 78) is how people write their numbers
    return 0.45 if valid else 0.35  # other grouped digits are phone-like but so are part numbers: context decides
