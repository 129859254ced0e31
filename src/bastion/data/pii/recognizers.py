"""The pattern recognisers: one candidate regex per entity shape, a validator, a base score and context words.

Every pattern carries its own left boundary (a look-behind), so the combined locator built from them fails fast
in the middle of words and numbers. Patterns use named groups only (unique per recogniser) because they are
joined into one alternation, where numbered back-references would shift. No pattern is case-insensitive: where
case varies (month names, hex digits) the class lists both cases, so no global IGNORECASE slows the whole pass.

A recogniser's ``judge`` turns a candidate match into ``(entity_type, score, end)`` or None: it validates the
candidate (checksums, ranges, ``ipaddress``, ``phonenumbers``), may shorten it (an IBAN is cut at its country's
length, a URL loses trailing punctuation) and scores its shape. Context words then raise the score; negative
context (``version``, ``order``...) lowers weak shapes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bastion.data.pii import validators as v
from bastion.data.pii.phones import phone_score

Judgement = tuple[str, float, int]
"""(entity type, base score, end offset of the accepted span)."""
Judge = Callable[[str, "re.Match[str]"], Judgement | None]


@dataclass(frozen=True)
class Recognizer:
    """One candidate shape and how to judge it."""

    name: str
    """Short name, reported as the entity's ``recognizer``."""
    entity_types: tuple[str, ...]
    """The types it can produce (a 9-digit dashed number is an SSN or an ITIN)."""
    pattern: str
    """The candidate regex, with its own boundaries and uniquely named groups."""
    judge: Judge
    """Validate and score a candidate match; None rejects it."""
    first: str = "[0-9]"
    """A character class holding every character a candidate can start with (the engine tries the recogniser only
    at such positions; a test checks the class against the pattern)."""


_DIGIT_LEFT = r"(?<![\w.\-])"
_DIGIT_RIGHT = r"(?![\w]|[.\-/]\d)"
_WORD_LEFT = r"(?<![\w])"
_WORD_RIGHT = r"(?![\w])"

# Trailing characters that end a sentence rather than a URL.
_URL_TRAILING = ".,;:!?'\")]}>*"
_BARE_TLDS = (
    "com|org|net|edu|gov|mil|int|info|biz|io|co|ai|app|dev|me|tv|eu|uk|de|fr|es|it|nl|be|ch|at|se|no|dk|fi|ie|pt|"
    "cz|sk|hu|ro|bg|gr|ru|ua|tr|il|in|cn|jp|kr|tw|hk|sg|au|nz|ca|us|mx|br|ar|cl|za|ng|ke|eg|ae|sa|online|site|"
    "shop|store|tech|cloud|blog|news|xyz|club"
)
_MONTHS = (
    "[Jj]an(?:uary|\\.)?|[Ff]eb(?:ruary|\\.)?|[Mm]ar(?:ch|\\.)?|[Aa]pr(?:il|\\.)?|[Mm]ay|[Jj]un(?:e|\\.)?|"
    "[Jj]ul(?:y|\\.)?|[Aa]ug(?:ust|\\.)?|[Ss]ep(?:t(?:ember|\\.)?|\\.)?|[Oo]ct(?:ober|\\.)?|[Nn]ov(?:ember|\\.)?|"
    "[Dd]ec(?:ember|\\.)?|[Jj]anuar|[Ff]ebruar|[Mm]ärz|[Mm]ai|[Jj]uni|[Jj]uli|[Oo]ktober|[Dd]ezember|"
    "[Jj]anvier|[Ff]évrier|[Mm]ars|[Aa]vril|[Jj]uin|[Jj]uillet|[Aa]oût|[Ss]eptembre|[Oo]ctobre|[Nn]ovembre|"
    "[Dd]écembre|[Ee]nero|[Ff]ebrero|[Mm]arzo|[Aa]bril|[Mm]ayo|[Jj]unio|[Jj]ulio|[Aa]gosto|[Ss]eptiembre|"
    "[Oo]ctubre|[Nn]oviembre|[Dd]iciembre|[Gg]ennaio|[Ff]ebbraio|[Aa]prile|[Mm]aggio|[Gg]iugno|[Ll]uglio|"
    "[Ss]ettembre|[Oo]ttobre|[Dd]icembre|[Mm]aart|[Mm]ei|[Aa]ugustus"
)
_TIME = r"(?:,?\s(?:at\s)?\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:\s?[AaPp]\.?[Mm]\.?)?(?:\s?(?:UTC|GMT|Z))?)?"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _email(text: str, m: re.Match[str]) -> Judgement | None:
    local = m.group("em_local")
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    return "EMAIL_ADDRESS", 0.95, m.end()


def _url(text: str, m: re.Match[str]) -> Judgement | None:
    end = m.end()
    while end > m.start() and text[end - 1] in _URL_TRAILING:
        if text[end - 1] == ")" and text.count("(", m.start(), end) >= text.count(")", m.start(), end):
            break  # a balanced parenthesis belongs to the URL (Wikipedia links)
        end -= 1
    body = text[m.start():end]
    if "." not in body.split("://", 1)[-1]:
        return None
    scheme = "://" in body
    return "URL", (0.9 if scheme else 0.8 if body.startswith("www.") else 0.6), end


def _card(text: str, m: re.Match[str]) -> Judgement | None:
    found = m.group()
    if not v.card_network(found):
        return None
    digits = sum(ch.isdigit() for ch in found)
    # 12- and 13-digit numbers are mostly barcodes (EAN-13) that happen to pass Luhn; cards that short are rare.
    return "CREDIT_CARD", (0.4 if digits < 14 else 0.9), m.end()


def _iban(text: str, m: re.Match[str]) -> Judgement | None:
    # Cut at the country's length, so a following word in capitals ("... 3000 PLEASE") never joins the IBAN.
    length = v.IBAN_LENGTHS.get(m.group()[:2].upper())
    if length is None:
        return None
    count, end = 0, m.start()
    while end < m.end() and count < length:
        if text[end] != " ":
            count += 1
        end += 1
    if count < length or (end < len(text) and text[end].isalnum()):
        return None
    found = text[m.start():end]
    if not v.iban_ok(found.upper()):
        return None
    return "IBAN_CODE", (0.95 if found[0].isupper() else 0.8), end


def _ssn(text: str, m: re.Match[str]) -> Judgement | None:
    found = m.group()
    separated = not found.isdigit()
    if v.us_itin_ok(found):
        return "US_ITIN", (0.8 if separated else 0.3), m.end()
    if v.us_ssn_ok(found):
        return "US_SSN", (0.85 if separated else 0.3), m.end()
    return None


def _phone(text: str, m: re.Match[str]) -> Judgement | None:
    score = phone_score(m.group())
    return ("PHONE_NUMBER", score, m.end()) if score else None


def _ip(text: str, m: re.Match[str]) -> Judgement | None:
    found = m.group()
    address = found.split("/", 1)[0]
    if not v.ip_address_ok(address):
        return None
    if ":" in address:
        return ("IP_ADDRESS", 0.85, m.end()) if sum(c.isalnum() for c in address) >= 4 else None
    return "IP_ADDRESS", (0.4 if address in ("0.0.0.0", "255.255.255.255") else 0.8), m.end()


def _mac(text: str, m: re.Match[str]) -> Judgement | None:
    return ("MAC_ADDRESS", 0.8, m.end()) if v.mac_address_ok(m.group()) else None


def _iso_date(text: str, m: re.Match[str]) -> Judgement | None:
    year, month, day = (int(m.group(name)) for name in ("iso_y", "iso_m", "iso_d"))
    if not (1800 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return "DATE_TIME", 0.75, m.end()


def _numeric_date(text: str, m: re.Match[str]) -> Judgement | None:
    first, second, year_text = int(m.group("nd_a")), int(m.group("nd_b")), m.group("nd_y")
    if len(year_text) == 2 and m.group("nd_sep") == ".":
        return None  # 1.2.34 is a version number far more often than a date
    year = int(year_text)
    if len(year_text) == 4 and not 1800 <= year <= 2200:
        return None
    day_month = 1 <= first <= 31 and 1 <= second <= 12
    month_day = 1 <= first <= 12 and 1 <= second <= 31
    return ("DATE_TIME", 0.7, m.end()) if day_month or month_day else None


def _named_date(text: str, m: re.Match[str]) -> Judgement | None:
    day = m.group("wd_d") or m.group("wd_d2") or m.group("wd_d3")
    if day is not None and not 1 <= int(day) <= 31:
        return None
    year = m.group("wd_y") or m.group("wd_y2") or m.group("wd_y3")
    if year is not None and len(year) == 4 and not 1800 <= int(year) <= 2200:
        return None
    return "DATE_TIME", 0.75, m.end()


def _checked(entity: str, test: Callable[[str], bool], score: float) -> Judge:
    def judge(text: str, m: re.Match[str]) -> Judgement | None:
        return (entity, score, m.end()) if test(m.group()) else None

    return judge


def _shaped(entity: str, score: float) -> Judge:
    """A format with no checksum: only its shape and (through context words) its surroundings speak for it."""

    def judge(text: str, m: re.Match[str]) -> Judgement | None:
        return entity, score, m.end()

    return judge


def _driver_licence(text: str, m: re.Match[str]) -> Judgement | None:
    found = m.group()
    digits = _digits(found)
    if len(set(digits)) < 3:
        return None
    return "US_DRIVER_LICENSE", 0.25, m.end()


def _crypto(text: str, m: re.Match[str]) -> Judgement | None:
    found = m.group()
    valid = v.eth_address_ok(found) if found.startswith("0x") else v.btc_address_ok(found)
    return ("CRYPTO", 0.95, m.end()) if valid else None


RECOGNIZERS: tuple[Recognizer, ...] = (
    Recognizer(
        "email", ("EMAIL_ADDRESS",),
        r"(?<![\w.%+\-])(?P<em_local>[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63})@"
        r"(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w\-])",
        _email, first="[A-Za-z0-9]"),
    Recognizer(
        "url", ("URL",),
        r"(?<![\w@/.])(?:(?:[Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp][Ss]?)://|www\.)[^\s<>\"'`{}|\\^\[\]]+"
        r"|(?<![\w@./\-])(?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+(?:" + _BARE_TLDS + r")"
        r"(?![\w\-@])(?:/[^\s<>\"'`{}|\\^\[\]]*)?",
        _url, first="[A-Za-z0-9]"),
    Recognizer(
        "crypto", ("CRYPTO",),
        r"(?<![\w])(?:[13][1-9A-HJ-NP-Za-km-z]{25,34}|bc1[02-9ac-hj-np-z]{6,87}|BC1[02-9AC-HJ-NP-Z]{6,87}"
        r"|0x[0-9a-fA-F]{40})(?![\w])",
        _crypto, first="[13bB0]"),
    Recognizer(
        "iban", ("IBAN_CODE",),
        r"(?<![\w])(?:[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}|[a-z]{2}\d{2}(?: ?[a-z0-9]){11,30})(?![A-Za-z0-9])",
        _iban, first="[A-Za-z]"),
    Recognizer(
        "mac", ("MAC_ADDRESS",),
        r"(?<![\w:\-.])(?:[0-9A-Fa-f]{2}(?P<mac_sep>[:\-])(?:[0-9A-Fa-f]{2}(?P=mac_sep)){4}[0-9A-Fa-f]{2}"
        r"|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4})(?![\w:\-]|\.\w)",
        _mac, first="[0-9A-Fa-f]"),
    Recognizer(
        "ipv6", ("IP_ADDRESS",),
        r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.\d{1,3}){0,3}(?:/\d{1,3})?(?![\w:]|\.\d)",
        _ip, first="[0-9A-Fa-f:]"),
    Recognizer(
        "ipv4", ("IP_ADDRESS",),
        _DIGIT_LEFT + r"(?:\d{1,3}\.){3}\d{1,3}(?:/\d{1,2})?" + _DIGIT_RIGHT,
        _ip),
    Recognizer(
        "iso_date", ("DATE_TIME",),
        _DIGIT_LEFT + r"(?P<iso_y>\d{4})(?P<iso_sep>[\-/.])(?P<iso_m>\d{1,2})(?P=iso_sep)(?P<iso_d>\d{1,2})"
        r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+\-]\d{2}:?\d{2})?)?" + _DIGIT_RIGHT,
        _iso_date),
    Recognizer(
        "numeric_date", ("DATE_TIME",),
        _DIGIT_LEFT + r"(?P<nd_a>\d{1,2})(?P<nd_sep>[/.\-])(?P<nd_b>\d{1,2})(?P=nd_sep)(?P<nd_y>\d{4}|\d{2})"
        + _TIME + _DIGIT_RIGHT,
        _numeric_date),
    Recognizer(
        "named_date", ("DATE_TIME",),
        r"(?<![\w])(?:(?:" + _MONTHS + r")\s(?P<wd_d>\d{1,2})(?:st|nd|rd|th)?,?\s(?P<wd_y>\d{4})"
        r"|(?P<wd_d2>\d{1,2})(?:st|nd|rd|th|\.)?\s(?:of\s)?(?:" + _MONTHS + r")\.?,?\s(?P<wd_y2>\d{4})"
        r"|(?P<wd_d3>\d{1,2})(?P<wd_sep>[\-/ ])(?:" + _MONTHS + r")(?P=wd_sep)(?P<wd_y3>\d{4}|\d{2}))"
        + _TIME + r"(?![\w])",
        _named_date, first="[A-Za-z0-9]"),
    Recognizer(
        "weekday", ("DATE_TIME",),
        r"(?<![\w])(?:[Mm]onday|[Tt]uesday|[Ww]ednesday|[Tt]hursday|[Ff]riday|[Ss]aturday|[Ss]unday)(?![\w])",
        _shaped("DATE_TIME", 0.3), first="[MmTtWwFfSs]"),
    Recognizer(
        "card", ("CREDIT_CARD",),
        _DIGIT_LEFT + r"(?:\d{4}(?P<cc_sep>[ \-]?)\d{4}(?P=cc_sep)\d{4}(?P=cc_sep)\d{1,7}"
        r"|\d{4}(?P<cc_sep2>[ \-]?)\d{6}(?P=cc_sep2)\d{4,5}|\d{12,19})" + _DIGIT_RIGHT,
        _card),
    Recognizer(
        "ssn", ("US_SSN", "US_ITIN"),
        _DIGIT_LEFT + r"\d{3}(?P<ssn_sep>[ \-]?)\d{2}(?P=ssn_sep)\d{4}" + _DIGIT_RIGHT,
        _ssn),
    Recognizer(
        "uk_nhs", ("UK_NHS",),
        _DIGIT_LEFT + r"\d{3}(?P<nhs_sep>[ \-]?)\d{3}(?P=nhs_sep)\d{4}" + _DIGIT_RIGHT,
        _checked("UK_NHS", v.uk_nhs_ok, 0.5)),
    Recognizer(
        "uk_nino", ("UK_NINO",),
        _WORD_LEFT + r"[A-CEGHJ-PR-TW-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]" + _WORD_RIGHT,
        _checked("UK_NINO", v.uk_nino_ok, 0.85), first="[A-Z]"),
    Recognizer(
        "de_tax_id", ("DE_TAX_ID",),
        _DIGIT_LEFT + r"(?:\d{2} \d{3} \d{3} \d{3}|\d{11})" + _DIGIT_RIGHT,
        _checked("DE_TAX_ID", v.de_tax_id_ok, 0.45)),
    Recognizer(
        "de_id_card", ("DE_ID_CARD",),
        _WORD_LEFT + r"[CFGHJKLMNPRTVWXYZ][CFGHJKLMNPRTVWXYZ0-9]{8}\d" + _WORD_RIGHT,
        _checked("DE_ID_CARD", v.de_id_card_ok, 0.4), first="[A-Z]"),
    Recognizer(
        "es_nif", ("ES_NIF",),
        _DIGIT_LEFT + r"\d{8}[ \-]?[A-Z]" + _WORD_RIGHT,
        _checked("ES_NIF", v.es_nif_ok, 0.8)),
    Recognizer(
        "es_nie", ("ES_NIE",),
        _WORD_LEFT + r"[XYZ][ \-]?\d{7}[ \-]?[A-Z]" + _WORD_RIGHT,
        _checked("ES_NIE", v.es_nie_ok, 0.85), first="[XYZ]"),
    Recognizer(
        "it_fiscal_code", ("IT_FISCAL_CODE",),
        _WORD_LEFT + r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]"
        + _WORD_RIGHT,
        _checked("IT_FISCAL_CODE", v.it_fiscal_code_ok, 0.95), first="[A-Z]"),
    Recognizer(
        "fr_nir", ("FR_NIR",),
        _DIGIT_LEFT + r"[1-478] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2}" + _DIGIT_RIGHT,
        _checked("FR_NIR", v.fr_nir_ok, 0.8)),
    Recognizer(
        "us_passport", ("US_PASSPORT",),
        r"(?<![\w.\-])(?:[A-Z]\d{8}|\d{9})" + _WORD_RIGHT,
        _shaped("US_PASSPORT", 0.2), first="[A-Z0-9]"),
    Recognizer(
        "us_driver_license", ("US_DRIVER_LICENSE",),
        r"(?<![\w.\-])(?:[A-Za-z]{1,2}\d{5,14}[A-Z]?|\d{7,12}[A-Z]?)" + _WORD_RIGHT,
        _driver_licence, first="[A-Za-z0-9]"),
    Recognizer(
        "phone", ("PHONE_NUMBER",),
        r"(?<![\w.\-+(/])(?:(?:\+|00)\d{1,3}[ .\-]?)?(?:\(0?\d{1,5}\)[ .\-]?)?\d{1,12}"
        r"(?:(?:[ .\-/]|\s-\s)\d{1,10}){0,5}"
        r"(?:\s?(?:x|ext\.?|extension|#)\s?\d{1,6})?" + _DIGIT_RIGHT,
        _phone, first="[0-9+(]"),
)
"""Every pattern recogniser, in priority order for equal scores."""


CONTEXT: dict[str, frozenset[str]] = {
    "CREDIT_CARD": frozenset({"card", "credit", "debit", "visa", "mastercard", "amex", "cc", "payment", "pan",
                              "karte", "kreditkarte", "carte", "tarjeta", "carta"}),
    "IBAN_CODE": frozenset({"iban", "account", "bank", "transfer", "sepa", "wire", "konto", "compte", "cuenta"}),
    "US_SSN": frozenset({"ssn", "social", "security", "ss"}),
    "US_ITIN": frozenset({"itin", "taxpayer", "tax"}),
    "PHONE_NUMBER": frozenset({"phone", "tel", "telephone", "mobile", "cell", "call", "fax", "contact", "reach",
                               "whatsapp", "sms", "dial", "ring", "landline", "hotline", "téléphone", "telefon",
                               "teléfono", "telefono", "handy", "portable", "móvil", "cellulare",
                               "mob", "office", "home", "work", "direct", "answering", "ruf", "anrufen",
                               "appelez", "appeler", "llame", "llamar", "chiama", "chiamare", "bel", "bellen", "called",
                               "calling", "phoned", "texted", "dialled", "dialed"}),
    "EMAIL_ADDRESS": frozenset({"email", "mail", "contact"}),
    "IP_ADDRESS": frozenset({"ip", "ipv4", "ipv6", "address", "host", "server", "client", "from", "src", "dst"}),
    "MAC_ADDRESS": frozenset({"mac", "ethernet", "wifi", "device", "hardware", "hwaddr", "bssid"}),
    "DATE_TIME": frozenset({"born", "birth", "dob", "date", "birthday", "since", "on", "geboren", "né", "née",
                            "meet", "meeting", "next", "last", "until", "due", "from", "appointment"}),
    "US_PASSPORT": frozenset({"passport"}),
    "US_DRIVER_LICENSE": frozenset({"driver", "drivers", "license", "licence", "dl", "driving", "permit", "lic"}),
    "UK_NHS": frozenset({"nhs", "health", "patient"}),
    "UK_NINO": frozenset({"nino", "national", "insurance", "ni"}),
    "DE_TAX_ID": frozenset({"steuer", "steuernummer", "steuerid", "idnr", "steueridentifikationsnummer", "tax", "id"}),
    "DE_ID_CARD": frozenset({"personalausweis", "ausweis", "ausweisnummer", "identity", "id"}),
    "ES_NIF": frozenset({"dni", "nif", "documento", "identidad"}),
    "ES_NIE": frozenset({"nie", "nif", "extranjero"}),
    "IT_FISCAL_CODE": frozenset({"codice", "fiscale", "cf"}),
    "FR_NIR": frozenset({"sécurité", "securite", "sociale", "nir", "insee", "sécu", "secu"}),
    "CRYPTO": frozenset({"bitcoin", "btc", "wallet", "eth", "ethereum", "crypto", "address"}),
    "URL": frozenset({"url", "link", "website", "site", "http", "visit"}),
}
"""Words near an entity that make it more likely (Presidio's context enhancement: +0.35)."""

NEGATIVE_CONTEXT = frozenset({
    "version", "ver", "v", "release", "build", "order", "invoice", "sku", "isbn", "part", "model", "serial",
    "ticket", "tracking", "ref", "reference", "item", "batch", "lot", "revision", "rev", "issue", "pr", "commit",
    "port", "pid", "doi", "arxiv", "iban", "account", "acct", "konto", "bic", "swift", "apt", "apartment", "suite",
    "unit", "box", "floor", "room", "flat", "ean", "gtin", "upc", "barcode", "asin",
})
"""Words that say a number is an identifier of a thing, not of a person; they lower shapes without a checksum."""

WEAK_TYPES = frozenset({"CREDIT_CARD", "PHONE_NUMBER", "US_PASSPORT", "US_DRIVER_LICENSE", "IP_ADDRESS",
                        "DE_TAX_ID", "DE_ID_CARD", "UK_NHS", "US_SSN", "US_ITIN"})
"""Types whose formats are weak enough that negative context may veto them."""
