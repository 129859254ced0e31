"""Generic secrets: a high-entropy value assigned to a name that says it is a secret, and bearer tokens.

The search starts at the words that name secrets (``key``, ``token``, ``secret``, ``pass``, ``pwd``,
``credential``, ``auth``), found with a substring search of the lower-cased text, and reads the assignment
from there: the rest of the name, an operator (``=``, ``:``, ``:=``, ``=>``, ``==``, an XML ``>``, or the next
cell of an HTML table row) and a quoted or bare value. The whole name must end in a secret word
(``OPENAI_API_KEY``, ``apiKey``, ``db_password``), not merely contain one (``keyboard``, ``max_tokens``,
``public_key``, ``key_path``).

Values must look random, with thresholds that follow the length, because the Shannon entropy of a random string
is bounded by the logarithm of its length (detect-secrets' fixed 4.5 bits misses about half of all random
40-character base62 keys): base62/base64 values need a digit and a letter and at least ``log2(n) - 0.8`` bits
per character (at most 4.4), hex values ``min(3.0, 0.6 log2(n) + 0.2)`` bits, and names made of words
(``NonNestedLiteral``) are code. Passwords need 8 characters of at least two kinds, not all letters.
Placeholders (``your-api-key``, ``xxxx``, ``<token>``, ``${VAR}``, ``{{ var }}``, ``changeme``, example and test
values) and code (``os.environ[...]``, ``settings.API_KEY``, ``get_key()``) are not secrets.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

__all__ = ["KEYWORDS", "Assignment", "entropy", "find_assignments", "is_placeholder", "looks_random", "name_words",
           "secret_name"]

KEYWORDS = (b"key", b"token", b"secret", b"pass", b"pwd", b"credential", b"auth")
"""Lower-case words that start the search for an assignment."""
_BEARER = b"bearer"

_TAIL = re.compile(
    rb"(?P<rest>[A-Za-z0-9_.\-]{0,40}+)(?:\\?[\"'`])?\]?[ \t]{0,4}"
    rb"(?P<op>:=|=>|==|[:=>]|</t[hd]>[ \t]{0,4}<td[^<>]{0,40}>)[ \t]{0,4}"
    rb"(?:(?:[rRbBuUfF]{1,2})?\\?[\"'`](?P<qv>[^\"'`\\\s\x00]{6,512}+)(?=\\?[\"'`])"
    rb"|(?P<uv>[^\s\"'`\\<>,;&(){}\[\]\x00]{8,512}+))"
)
"""After a keyword: the rest of the name, a closing quote or bracket, the operator, then the value."""
_BEARER_VALUE = re.compile(rb"[ \t]{1,4}(?P<v>[A-Za-z0-9_\-.~+/]{16,2048}+=*)")
_NAME_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")
_CAMEL = re.compile(rb"([a-z0-9])([A-Z])")
_WORD_SPLIT = re.compile(rb"[^A-Za-z0-9]+")
_IDENTIFIER_PATH = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+(?:\[[^\]]*\])?")
"""A dotted name (``settings.API_KEY``, ``config.secrets["x"]``): code, not a value."""
_CONSTANT_NAME = re.compile(rb"(?:[A-Z]+[0-9]*_)+[A-Z]+[0-9]*|(?:[a-z]+[0-9]*_)+[a-z]+[0-9]*")
"""A SNAKE_CASE or snake_case name (``API_KEY_FROM_ENV2``): code; random keys mix cases between underscores."""
_HEX = re.compile(rb"[0-9a-fA-F]+")

_SECRET_WORDS = frozenset({
    b"key", b"apikey", b"token", b"secret", b"password", b"passwd", b"pwd", b"passphrase", b"credential",
    b"credentials", b"secretkey", b"accesskey", b"privatekey", b"authtoken", b"accesstoken", b"apitoken",
    b"clientsecret", b"apisecret", b"appsecret", b"appkey", b"masterkey", b"signingkey", b"encryptionkey",
    b"sessiontoken", b"refreshtoken", b"secretaccesskey", b"subscriptionkey", b"pat", b"pass", b"auth",
})
"""A name is a secret's when its last word is one of these."""
_PASSWORD_WORDS = frozenset({b"password", b"passwd", b"pwd", b"passphrase", b"pass"})
_QUALIFIERS = frozenset({
    b"b64", b"base64", b"hex", b"value", b"val", b"str", b"string", b"raw", b"plain", b"enc", b"encoded", b"prod",
    b"production", b"dev", b"live", b"staging", b"main", b"primary", b"secondary", b"new", b"old", b"default",
})
"""Trailing words that qualify the secret word before them (``SECRET_KEY_B64``, ``api_key_prod``)."""
_NOT_SECRET = frozenset({
    b"public", b"publishable", b"pub", b"sort", b"cache", b"foreign", b"partition", b"dict", b"lookup",
    b"translation", b"hash", b"hashed", b"digest", b"checksum", b"fingerprint", b"max", b"num", b"count",
})
"""Words that make a name something other than a secret (``public_key``, ``cache_key``, ``max_tokens``)."""
FORMAT_PLACEHOLDERS = (b"xxxx", b"XXXX", b"your", b"YOUR", b"example", b"EXAMPLE", b"placeholder", b"redacted",
                       b"REDACTED", b"*", b"<", b">", b"${", b"{{")
"""Fragments that make even a value in a provider's format a stand-in (``sk-proj-xxxx...``, ``AKIA...EXAMPLE``)."""
_PLACEHOLDERS = (
    b"your", b"xxx", b"***", b"...", b"<", b">", b"${", b"{{", b"}}", b"%(", b"$(", b"example", b"placeholder",
    b"changeme", b"change_me", b"change-me", b"dummy", b"sample", b"redacted", b"replace", b"insert", b"fixme",
    b"todo", b"fake", b"mock", b"test", b"secret", b"password", b"token", b"api_key", b"apikey", b"none", b"null",
    b"undefined", b"0000000", b"1234567", b"abcdefg", b"qwerty",
)
"""Lower-case fragments of values that stand for a secret rather than being one."""
_PLACEHOLDER_SEARCH = re.compile(b"|".join(re.escape(fragment) for fragment in _PLACEHOLDERS))
_CODE_STARTS = (b"$", b"%", b"&", b"@", b"os.", b"env.", b"process.", b"settings.", b"config.", b"self.",
                b"args.", b"options.", b"secrets.", b"vars.")


@dataclass(frozen=True)
class Assignment:
    """A generic secret: where its value lies, and the name it was assigned to."""

    start: int
    """Byte offset of the value."""
    end: int
    """Byte offset just after the value."""
    name: str
    """The name as written (``OPENAI_API_KEY``), or ``Bearer`` for an authorization header."""
    password: bool
    """Whether the name says password (judged by length and variety rather than randomness)."""
    random: bool = True
    """Whether the value passes the generic test (random enough, or a plausible password). Assignments that fail
    it are still returned, for formats recognised by their name and shape (``TWILIO_API_KEY = SK...``)."""


def entropy(data: bytes) -> float:
    """Shannon entropy in bits per character."""
    size = len(data)
    if not size:
        return 0.0
    return -sum(count / size * math.log2(count / size) for count in Counter(data).values())


def is_placeholder(value: bytes, *, formatted: bool = False) -> bool:
    """Whether the value is a stand-in (``your-api-key``, ``xxxx``, ``<token>``, ``${VAR}``, ``example``...).

    ``formatted``: the value already matched a provider's format, so only the unmistakable stand-ins count (a
    generated key may well contain ``test`` or ``none`` by chance; it never contains ``xxxx`` or ``EXAMPLE``)."""
    if formatted:
        return any(fragment in value for fragment in FORMAT_PLACEHOLDERS)
    return _PLACEHOLDER_SEARCH.search(value.lower()) is not None


def looks_random(value: bytes) -> bool:
    """Whether a value without a known format has the entropy of a generated key for its length."""
    size = len(value)
    has_digit = any(48 <= c <= 57 for c in value)
    if _HEX.fullmatch(value):
        letters = any(c >= 65 for c in value)
        return size >= 20 and has_digit and letters and entropy(value) >= min(3.0, 0.6 * math.log2(size) + 0.2)
    if size < 16:
        return False
    threshold = min(4.4, math.log2(size) - 0.8)
    bits = entropy(value)
    if has_digit and any(c >= 65 for c in value):
        return bits >= threshold
    # No digit: only a mixed-case run without separators, a little more random than the threshold.
    mixed = value != value.lower() and value != value.upper() and value.isalpha()
    return mixed and bits >= threshold + 0.2


_LOWER_RUNS = re.compile(rb"[a-z]+")
_PLAIN_NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")


def _wordlike(value: bytes) -> bool:
    """A name made of words (``NonNestedLiteral``, ``PKCS7PrivateKeyTypes``, ``_import_der``): its lower-case runs
    average 3 letters or more, where a random base62 string averages under 2."""
    if not _PLAIN_NAME.fullmatch(value):
        return False
    runs = _LOWER_RUNS.findall(value)
    return bool(runs) and sum(map(len, runs)) / len(runs) >= 3


def _password_ok(value: bytes) -> bool:
    kinds = (any(97 <= c <= 122 for c in value) + any(65 <= c <= 90 for c in value) + any(48 <= c <= 57 for c in value)
             + any(not (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) for c in value))
    letters_only = value.isalpha()  # "Passphrase": a word, not a password someone chose
    return len(value) >= 8 and kinds >= 2 and not letters_only and entropy(value) >= 2.5


def name_words(name: bytes) -> list[bytes]:
    """The lower-case words of a name: ``OPENAI_API_KEY``, ``openaiApiKey`` and ``openai-api-key`` alike."""
    return _name_words(name)


def _name_words(name: bytes) -> list[bytes]:
    return [w for w in _WORD_SPLIT.split(_CAMEL.sub(rb"\1 \2", name).lower()) if w]


def secret_name(name: bytes) -> tuple[bool, bool]:
    """(names a secret, names a password) for an assignment target such as ``OPENAI_API_KEY``."""
    words = _name_words(name)
    while len(words) > 1 and (words[-1] in _QUALIFIERS or words[-1].isdigit()):
        words.pop()
    if not words or words[-1] not in _SECRET_WORDS or _NOT_SECRET.intersection(words):
        return False, False
    return True, words[-1] in _PASSWORD_WORDS


def _plausible(value: bytes, quoted: bool) -> bool:
    """Not a stand-in and not code."""
    if is_placeholder(value) or value.isdigit() or (b"{" in value and b"}" in value):  # {x}: a template
        return False
    return quoted or not (value.startswith(_CODE_STARTS) or _IDENTIFIER_PATH.fullmatch(value)
                          or _CONSTANT_NAME.fullmatch(value))


def _value_ok(value: bytes, quoted: bool, password: bool) -> bool:
    if password:
        return _password_ok(value) and (quoted or not _wordlike(value))
    return not _wordlike(value) and looks_random(value)


def _name_start(text: bytes, position: int) -> int:
    start = position
    limit = max(0, position - 64)
    while start > limit and text[start - 1] in _NAME_CHARS:
        start -= 1
    return start


def _assignment_at(text: bytes, position: int, keyword: bytes) -> Assignment | None:
    match = _TAIL.match(text, position + len(keyword))
    if match is None:
        return None
    start = _name_start(text, position)
    if match.group("op") == b">" and (text[start - 1:start] != b"<" or text[match.end():match.end() + 2] != b"</"):
        return None  # ">" only as in <apiKey>value</apiKey>
    name = text[start:match.end("rest")]
    is_secret, password = secret_name(name)
    if not is_secret:
        return None
    quoted = match.group("qv") is not None
    group = "qv" if quoted else "uv"
    value = match.group(group)
    if not _plausible(value, quoted):
        return None
    return Assignment(match.start(group), match.end(group), name.decode("ascii", "replace"), password,
                      _value_ok(value, quoted, password))


def _bearer_at(text: bytes, position: int) -> Assignment | None:
    match = _BEARER_VALUE.match(text, position + len(_BEARER))
    if match is None:
        return None
    value = match.group("v")
    if is_placeholder(value) or not looks_random(value.rstrip(b"=")):
        return None
    return Assignment(match.start("v"), match.end("v"), "Bearer", False)


def find_assignments(text: bytes, lower: bytes, deadline: float | None = None) -> tuple[list[Assignment], bool]:
    """Every assignment of a plausible value to a secret's name in ``text`` (``lower`` is ``text.lower()``; those
    with ``random`` set are generic secrets) and whether the search finished before ``deadline`` (a
    ``time.monotonic()`` value). Each keyword site costs a bounded match, so the work is linear."""
    import time

    found: dict[int, Assignment] = {}
    sites = 0
    for keyword in (*KEYWORDS, _BEARER):
        position = lower.find(keyword)
        while position >= 0:
            sites += 1
            if deadline is not None and not sites & 0xFFF and time.monotonic() > deadline:
                return sorted(found.values(), key=lambda a: a.start), False
            hit = _bearer_at(text, position) if keyword is _BEARER else _assignment_at(text, position, keyword)
            if hit is not None:
                found.setdefault(hit.start, hit)
            position = lower.find(keyword, position + len(keyword))
    return sorted(found.values(), key=lambda a: a.start), True
