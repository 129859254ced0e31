"""Checksum and structure validators that confirm PII candidates found by regular expressions.

Every validator takes the candidate exactly as it was found in the text (with the separators its
format allows: spaces, dashes, dots), returns a ``bool`` (``card_network`` returns a name or ``None``)
and never raises on any ``str``: malformed input gives ``False``. Only ASCII digits and letters are
accepted, so look-alike Unicode digits (``"٣"``, ``"²"``) never pass. Letters in national
identifiers must be upper-case, as they are printed on the documents.

Everything here is pure standard library: Luhn (ISO/IEC 7812), ISO 7064 MOD 97-10 (IBAN, ISO 13616),
ISO 7064 MOD 11,10 (German tax id), ICAO 9303 7-3-1 check digits, Base58Check, Bech32/Bech32m
(BIP-173, BIP-350) and a small Keccak-256 for EIP-55 (``hashlib.sha3_256`` is FIPS 202 SHA3, whose
padding differs from the original Keccak that Ethereum uses).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = [
    "IBAN_LENGTHS",
    "btc_address_ok",
    "card_network",
    "de_id_card_ok",
    "de_tax_id_ok",
    "es_nie_ok",
    "es_nif_ok",
    "eth_address_ok",
    "fr_nir_ok",
    "iban_ok",
    "ip_address_ok",
    "it_fiscal_code_ok",
    "keccak256",
    "luhn_ok",
    "mac_address_ok",
    "uk_nhs_ok",
    "uk_nino_ok",
    "us_itin_ok",
    "us_ssn_ok",
]


# --------------------------------------------------------------------------------------------- helpers


def _strip(text: str, separators: str = " -") -> str:
    """``text`` without any of the ``separators`` characters."""
    return text.translate({ord(c): None for c in separators})


def _is_digits(text: str) -> bool:
    """True for a non-empty string of ASCII digits only (``str.isdigit`` also accepts ``"²"``)."""
    return text.isascii() and text.isdigit()


def _mod97(numeric: str) -> int:
    """``int(numeric) % 97`` for an ASCII digit string of any length (ISO 7064 MOD 97-10)."""
    return int(numeric) % 97


def _char_value(char: str) -> int:
    """ISO 13616 / ICAO 9303 character value: ``0-9`` as is, ``A``=10 ... ``Z``=35, ``<``=0."""
    return 0 if char == "<" else int(char, 36)


def _icao_check_digit(chars: str) -> int:
    """ICAO Doc 9303 part 3 check digit: values weighted 7, 3, 1 repeating, sum modulo 10."""
    return sum(_char_value(c) * (7, 3, 1)[i % 3] for i, c in enumerate(chars)) % 10


def _all_same(digits: str) -> bool:
    """True when every character of ``digits`` is the same (``111111111``)."""
    return len(set(digits)) == 1


# --------------------------------------------------------------------------------------- payment cards


def luhn_ok(digits: str) -> bool:
    """Luhn (mod 10) check of a digit string; spaces and dashes are ignored.

    At least two digits are required (a payload and its check digit). Source: ISO/IEC 7812-1, Annex B
    (the Luhn formula, H. P. Luhn, US patent 2,950,048).
    """
    number = _strip(digits)
    if len(number) < 2 or not _is_digits(number):
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _lengths(low: int, high: int) -> frozenset[int]:
    return frozenset(range(low, high + 1))


# (network, IIN prefix ranges as equal-length digit strings, allowed lengths), most specific first: the
# first entry whose range and length both match wins, so co-branded ranges that sit inside a wider
# range (Elo inside Visa and Discover, Verve inside Discover, LankaPay inside JCB...) come before it.
_CARD_NETWORKS: tuple[tuple[str, tuple[tuple[str, str], ...], frozenset[int]], ...] = (
    ("elo", (
        ("401178", "401179"), ("431274", "431274"), ("438935", "438935"), ("451416", "451416"),
        ("457393", "457393"), ("457631", "457632"), ("504175", "504175"), ("506699", "506778"),
        ("509000", "509999"), ("627780", "627780"), ("636297", "636297"), ("636368", "636368"),
        ("650031", "650033"), ("650035", "650051"), ("650405", "650439"), ("650485", "650538"),
        ("650541", "650598"), ("650700", "650718"), ("650720", "650727"), ("650901", "650978"),
        ("651652", "651679"), ("655000", "655019"), ("655021", "655058"),
    ), frozenset({16})),
    ("verve", (("506099", "506198"), ("650002", "650027"), ("507865", "507964")), frozenset({16, 18, 19})),
    ("hipercard", (("606282", "606282"),), frozenset({16})),
    ("lankapay", (("357111", "357111"),), frozenset({16})),
    ("troy", (("9792", "9792"),), frozenset({16})),
    ("discover", (("6011", "6011"), ("644", "649"), ("65", "65"), ("622126", "622925")), _lengths(16, 19)),
    ("maestro", (
        ("5018", "5018"), ("5020", "5020"), ("5038", "5038"), ("5893", "5893"), ("6304", "6304"),
        ("6759", "6759"), ("6761", "6763"),
    ), _lengths(12, 19)),
    ("dankort", (("5019", "5019"),), frozenset({16})),
    ("mir", (("2200", "2204"),), _lengths(16, 19)),
    ("borica", (("2205", "2205"),), _lengths(16, 19)),
    ("mastercard", (("51", "55"), ("2221", "2720")), frozenset({16})),
    ("visa", (("4", "4"),), frozenset({13, 16, 19})),
    ("amex", (("34", "34"), ("37", "37")), frozenset({15})),
    ("jcb", (("3528", "3589"),), _lengths(16, 19)),
    ("diners", (("300", "305"), ("3095", "3095"), ("36", "36"), ("38", "39")), _lengths(14, 19)),
    ("unionpay", (("62", "62"),), _lengths(16, 19)),
    ("rupay", (("60", "60"), ("65", "65"), ("81", "82"), ("508", "508")), frozenset({16})),
    ("interpayment", (("636", "636"),), _lengths(16, 19)),
    ("instapayment", (("637", "639"),), frozenset({16})),
    ("uzcard", (("8600", "8600"),), frozenset({16})),
    ("humo", (("9860", "9860"),), frozenset({16})),
    ("t-union", (("31", "31"),), frozenset({19})),
    ("uatp", (("1", "1"),), frozenset({15})),
)


def card_network(number: str) -> str | None:
    """Name of the card network of ``number`` (``"visa"``, ``"mastercard"``...), or ``None``.

    Spaces and dashes are ignored. The number must have 12 to 19 digits, pass Luhn, start with an IIN
    range of the network and have a length that network issues. Ranges (ISO/IEC 7812 IINs, as the
    networks publish them): Visa 4; Mastercard 51-55, 2221-2720; Amex 34, 37; Discover 6011, 644-649,
    65, 622126-622925; JCB 3528-3589; Diners 300-305, 3095, 36, 38-39; UnionPay 62; Maestro 5018,
    5020, 5038, 5893, 6304, 6759, 6761-6763; Mir 2200-2204; RuPay 60, 65, 81, 82, 508; Verve
    506099-506198, 507865-507964, 650002-650027; Elo (its published BIN list); Troy 9792; UATP 1;
    plus Dankort, Hipercard, LankaPay, BORICA, InterPayment, InstaPayment, UzCard, Humo, China
    T-Union. Where ranges overlap the narrower (co-branded) range wins; RuPay's 65 is Discover's.
    """
    digits = _strip(number)
    if not 12 <= len(digits) <= 19 or not luhn_ok(digits):
        return None
    for name, ranges, lengths in _CARD_NETWORKS:
        if len(digits) in lengths and any(low <= digits[: len(low)] <= high for low, high in ranges):
            return name
    return None


# ------------------------------------------------------------------------------------------------ IBAN

IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
    "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
    "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
    "RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
    "SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}
"""IBAN length per country code, from the SWIFT IBAN Registry (ISO 13616 registration authority)."""

_IBAN_RE = re.compile(r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]+|(?: [A-Z0-9]{4})*(?: [A-Z0-9]{1,3})?)", re.ASCII)


def iban_ok(text: str) -> bool:
    """International Bank Account Number: ISO 13616 structure and ISO 7064 MOD 97-10 check digits.

    Accepts the electronic form (``GB29NWBK60161331926819``) or the paper form with a single space
    every four characters (``GB29 NWBK 6016 1331 9268 19``). Upper-case country code listed in
    ``IBAN_LENGTHS`` with that country's length, check digits 02-98, alphanumeric BBAN, and the number
    formed by moving the first four characters to the end (letters as 10-35) is 1 modulo 97.
    """
    if not _IBAN_RE.fullmatch(text):
        return False
    iban = text.replace(" ", "")
    if IBAN_LENGTHS.get(iban[:2]) != len(iban) or not 2 <= int(iban[2:4]) <= 98:
        return False
    return _mod97("".join(str(_char_value(c)) for c in iban[4:] + iban[:4])) == 1


# -------------------------------------------------------------------------------------------- US / UK

_SSN_RE = re.compile(r"([0-9]{3})([- ]?)([0-9]{2})\2([0-9]{4})", re.ASCII)
_SSN_ADVERTISED = frozenset({"078051120", "219099999", "123456789"})
_ITIN_GROUPS = frozenset(range(50, 66)) | frozenset(range(70, 89)) | {90, 91, 92} | frozenset(range(94, 100))


def us_ssn_ok(text: str) -> bool:
    """US Social Security Number, ``AAA-GG-SSSS``, ``AAA GG SSSS`` or nine digits.

    Rules of the Social Security Administration (still valid after the 2011 randomisation): area not
    000, 666 or 900-999 (the 9xx block is ITINs), group not 00, serial not 0000. Also rejects numbers
    published in advertising or used as examples (078-05-1120, 219-09-9999, 123-45-6789) and numbers
    made of one repeated digit.
    """
    match = _SSN_RE.fullmatch(text)
    if not match:
        return False
    area, _, group, serial = match.groups()
    digits = area + group + serial
    if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
        return False
    return digits not in _SSN_ADVERTISED and not _all_same(digits)


def us_itin_ok(text: str) -> bool:
    """US Individual Taxpayer Identification Number, ``9XX-GG-SSSS`` (same separators as an SSN).

    IRS rule: first digit 9, middle group in 50-65, 70-88, 90-92 or 94-99.
    """
    match = _SSN_RE.fullmatch(text)
    if not match:
        return False
    area, _, group, _serial = match.groups()
    return area[0] == "9" and int(group) in _ITIN_GROUPS


_NHS_RE = re.compile(r"([0-9]{3})([- ]?)([0-9]{3})\2([0-9]{4})", re.ASCII)


def uk_nhs_ok(text: str) -> bool:
    """NHS number (England, Wales, Isle of Man): 10 digits, optionally grouped 3-3-4 by spaces or dashes.

    NHS Data Dictionary, "NHS Number": digits 1-9 weighted 10 down to 2, check digit
    ``11 - (sum mod 11)``, where 11 becomes 0 and 10 means the number is invalid. Numbers made of one
    repeated digit (which pass the check) are rejected.
    """
    match = _NHS_RE.fullmatch(text)
    if not match:
        return False
    digits = match.group(1) + match.group(3) + match.group(4)
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits[:9])) % 11
    return check != 10 and check % 11 == int(digits[9]) and not _all_same(digits)


_NINO_RE = re.compile(r"([A-Z]{2}) ?([0-9]{2}) ?([0-9]{2}) ?([0-9]{2}) ?[A-D]", re.ASCII)
_NINO_BAD_PREFIXES = frozenset({"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"})


def uk_nino_ok(text: str) -> bool:
    """UK National Insurance number: two letters, six digits, suffix A-D (``AB 12 34 56 C``).

    HMRC National Insurance Manual NIM39110: first letter not D, F, I, Q, U, V; second letter not
    D, F, I, O, Q, U, V; prefixes BG, GB, KN, NK, NT, TN and ZZ are never issued. Single spaces may
    separate the prefix, the digit pairs and the suffix.
    """
    match = _NINO_RE.fullmatch(text)
    if not match:
        return False
    prefix = match.group(1)
    return prefix[0] not in "DFIQUV" and prefix[1] not in "DFIOQUV" and prefix not in _NINO_BAD_PREFIXES


# ------------------------------------------------------------------------------------------- Germany

_DE_TAX_RE = re.compile(r"([1-9][0-9]) ?([0-9]{3}) ?([0-9]{3}) ?([0-9]{3})", re.ASCII)


def _iso7064_mod11_10(digits: str) -> int:
    """Check digit of ``digits`` under ISO/IEC 7064 MOD 11,10 (hybrid system)."""
    product = 10
    for char in digits:
        total = (int(char) + product) % 10 or 10
        product = total * 2 % 11
    return (11 - product) % 10


def _de_tax_digits_ok(first10: str) -> bool:
    """The digit-repetition rule of the tax id (BZSt, since 2016) on its first ten digits."""
    counts = Counter(first10)
    repeated = [digit for digit, count in counts.items() if count > 1]
    if len(repeated) != 1:
        return False
    count = counts[repeated[0]]
    return count == 2 or (count == 3 and repeated[0] * 3 not in first10)


def de_tax_id_ok(text: str) -> bool:
    """German tax identification number (Steuerliche Identifikationsnummer, § 139b AO).

    Eleven digits, optionally grouped ``12 345 678 901``; the first is not 0. In the first ten digits
    exactly one digit occurs twice or three times (the others once, so one or two digits are missing);
    a digit occurring three times must not fill three adjacent positions (Bundeszentralamt für Steuern,
    rule in force since 2016). The eleventh digit is the ISO/IEC 7064 MOD 11,10 check digit.
    """
    match = _DE_TAX_RE.fullmatch(text)
    if not match:
        return False
    digits = "".join(match.groups())
    return _de_tax_digits_ok(digits[:10]) and _iso7064_mod11_10(digits[:10]) == int(digits[10])


_DE_ID_RE = re.compile(r"[0-9CFGHJKLMNPRTVWXYZ]{9}[0-9]", re.ASCII)


def de_id_card_ok(text: str) -> bool:
    """Document number of a German identity card (Personalausweis) issued since November 2010.

    Nine characters from the digits and the letters C F G H J K L M N P R T V W X Y Z (the
    Personalausweisverordnung alphabet), then an ICAO Doc 9303 check digit (weights 7, 3, 1, letters
    A=10 ... Z=35), e.g. ``T220001293`` on the specimen card.
    """
    return bool(_DE_ID_RE.fullmatch(text)) and _icao_check_digit(text[:9]) == int(text[9])


# --------------------------------------------------------------------------------------------- Spain

_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"
_NIF_RE = re.compile(r"([0-9]{8})[- ]?([A-Z])", re.ASCII)
_NIE_RE = re.compile(r"([XYZ])([0-9]{7})[- ]?([A-Z])", re.ASCII)


def es_nif_ok(text: str) -> bool:
    """Spanish DNI/NIF of a person: 8 digits and a control letter, optionally after a dash or space.

    Real Decreto 1553/2005: the letter is ``"TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]``.
    """
    match = _NIF_RE.fullmatch(text)
    return match is not None and _DNI_LETTERS[int(match.group(1)) % 23] == match.group(2)


def es_nie_ok(text: str) -> bool:
    """Spanish foreigner identity number (NIE): X, Y or Z, 7 digits and a control letter.

    The prefix stands for 0, 1 or 2 and the 8-digit number then takes the DNI control letter
    (Orden INT/2058/2008). A dash or space may precede the letter.
    """
    match = _NIE_RE.fullmatch(text)
    if not match:
        return False
    number = int(str("XYZ".index(match.group(1))) + match.group(2))
    return _DNI_LETTERS[number % 23] == match.group(3)


# --------------------------------------------------------------------------------------------- Italy

_OMOCODIA = "LMNPQRSTUV"  # replacement letters for the digits 0-9
_CF_DIGIT = "[0-9LMNPQRSTUV]"
_CF_RE = re.compile(
    rf"[A-Z]{{6}}{_CF_DIGIT}{{2}}[ABCDEHLMPRST]{_CF_DIGIT}{{2}}[A-Z]{_CF_DIGIT}{{3}}[A-Z]", re.ASCII
)
# Values of characters in odd positions (1st, 3rd, ...): index by digit value or letter (A=0 ... Z=25).
_CF_ODD = (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)


def _cf_value(char: str, odd: bool) -> int:
    index = int(char) if char.isdigit() else ord(char) - ord("A")
    return _CF_ODD[index] if odd else index


def it_fiscal_code_ok(text: str) -> bool:
    """Italian codice fiscale of a person, 16 upper-case characters.

    Structure (D.M. 23 dicembre 1976): 3 letters surname, 3 letters name, 2 digits year, month letter
    from ``ABCDEHLMPRST``, 2 digits day (plus 40 for women, so 01-31 or 41-71), a letter and 3 digits for
    the municipality or foreign country, and a check letter. Omocodia: any digit may be replaced by the
    letter ``LMNPQRSTUV`` of the same rank. Check letter: characters in odd positions are converted with
    the odd table, those in even positions to 0-9 / 0-25, and the sum modulo 26 gives A-Z.
    """
    if not _CF_RE.fullmatch(text):
        return False
    day = int("".join(str(_OMOCODIA.index(c)) if c in _OMOCODIA else c for c in text[9:11]))
    if not (1 <= day <= 31 or 41 <= day <= 71):
        return False
    total = sum(_cf_value(c, i % 2 == 0) for i, c in enumerate(text[:15]))
    return chr(ord("A") + total % 26) == text[15]


# -------------------------------------------------------------------------------------------- France

_NIR_RE = re.compile(
    r"([1-478]) ?([0-9]{2}) ?([0-9]{2}) ?([0-9]{2}|2[AB]) ?([0-9]{3}) ?([0-9]{3}) ?([0-9]{2})", re.ASCII
)


def fr_nir_ok(text: str) -> bool:
    """French social security number (NIR, INSEE registration number): 13 characters and a 2-digit key.

    Written compact or grouped ``1 85 05 78 006 084 36``. Sex digit 1 or 2 (3, 4, 7, 8 for temporary
    numbers), birth month 01-12, 20-42 or 50-99 (unknown or special months), department digits or 2A/2B
    for Corsica. Key (INSEE): ``97 - (number mod 97)``, computing with 2A as 19 and 2B as 18.
    """
    match = _NIR_RE.fullmatch(text)
    if not match:
        return False
    sex, year, month, department, commune, order, key = match.groups()
    month_number = int(month)
    if not (1 <= month_number <= 12 or 20 <= month_number <= 42 or month_number >= 50):
        return False
    department = {"2A": "19", "2B": "18"}.get(department, department)
    number = sex + year + month + department + commune + order
    return 97 - _mod97(number) == int(key)


# ------------------------------------------------------------------------------------------- Bitcoin

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_CONST = 1
_BECH32M_CONST = 0x2BC830A3
_BECH32_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)


def _base58check_payload(text: str) -> bytes | None:
    """Version byte and 20-byte hash of a 25-byte Base58Check string, or ``None`` if it is not one."""
    if not 25 <= len(text) <= 35:
        return None
    number = 0
    for char in text:
        value = _BASE58.find(char)
        if value < 0:
            return None
        number = number * 58 + value
    leading_zeros = len(text) - len(text.lstrip("1"))
    raw = b"\x00" * leading_zeros + number.to_bytes((number.bit_length() + 7) // 8, "big")
    if len(raw) != 25:
        return None
    payload, checksum = raw[:21], raw[21:]
    return payload if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] == checksum else None


def _bech32_polymod(values: Iterable[int]) -> int:
    """BCH checksum of BIP-173 over 5-bit values."""
    checksum = 1
    for value in values:
        top = checksum >> 25
        checksum = (checksum & 0x1FFFFFF) << 5 ^ value
        for i, generator in enumerate(_BECH32_GENERATOR):
            if top >> i & 1:
                checksum ^= generator
    return checksum


def _bech32_parse(text: str) -> tuple[str, list[int], int] | None:
    """Split a Bech32 or Bech32m string into (lower-case HRP, data without checksum, checksum constant).

    ``None`` when it breaks a BIP-173 rule: over 90 characters, characters outside 33-126, mixed case,
    no separator, empty HRP, checksum shorter than 6, a data character outside the charset, or a
    checksum that matches neither the Bech32 (1) nor the Bech32m (0x2bc830a3, BIP-350) constant.
    """
    if len(text) > 90 or any(not 33 <= ord(c) <= 126 for c in text):
        return None
    if text != text.lower() and text != text.upper():
        return None
    lowered = text.lower()
    separator = lowered.rfind("1")
    if separator < 1 or separator + 7 > len(lowered):
        return None
    hrp, tail = lowered[:separator], lowered[separator + 1 :]
    if any(c not in _BECH32_CHARSET for c in tail):
        return None
    data = [_BECH32_CHARSET.index(c) for c in tail]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    constant = _bech32_polymod(expanded + data)
    if constant not in (_BECH32_CONST, _BECH32M_CONST):
        return None
    return hrp, data[:-6], constant


def _five_to_eight_bits(data: Sequence[int]) -> bytes | None:
    """Regroup 5-bit values into bytes; ``None`` if the padding is over 4 bits or not zero."""
    accumulator, bits, out = 0, 0, bytearray()
    for value in data:
        accumulator = accumulator << 5 | value
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append(accumulator >> bits & 0xFF)
        accumulator &= (1 << bits) - 1
    return None if bits >= 5 or accumulator else bytes(out)


def _segwit_decode(hrp: str, text: str) -> tuple[int, bytes] | None:
    """(witness version, program) of a segwit address with human-readable part ``hrp``, else ``None``.

    BIP-173 / BIP-350 rules: version 0-16, program 2-40 bytes, 20 or 32 bytes for version 0 (BIP-141),
    Bech32 checksum for version 0 and Bech32m for versions 1 and above.
    """
    parsed = _bech32_parse(text)
    if parsed is None or parsed[0] != hrp or not parsed[1]:
        return None
    _, data, constant = parsed
    version, program = data[0], _five_to_eight_bits(data[1:])
    if version > 16 or program is None or not 2 <= len(program) <= 40:
        return None
    if version == 0 and len(program) not in (20, 32):
        return None
    expected = _BECH32_CONST if version == 0 else _BECH32M_CONST
    return (version, program) if constant == expected else None


def btc_address_ok(text: str) -> bool:
    """Bitcoin mainnet address.

    Base58Check (``1...`` P2PKH with version byte 0x00, ``3...`` P2SH with 0x05; checksum is the first
    4 bytes of double SHA-256) or a native segwit address with HRP ``bc``: Bech32 for version 0
    (BIP-173, ``bc1q...``) and Bech32m for versions 1-16 (BIP-350, ``bc1p...`` Taproot). Bech32
    addresses may be all lower-case or all upper-case, never mixed.
    """
    if text[:3].lower() == "bc1":
        return _segwit_decode("bc", text) is not None
    payload = _base58check_payload(text)
    return payload is not None and payload[0] in (0x00, 0x05)


# ------------------------------------------------------------------------------------------ Ethereum

_MASK64 = (1 << 64) - 1


def _keccak_round_constants() -> tuple[int, ...]:
    """The 24 iota constants, from the degree-8 LFSR x^8 + x^6 + x^5 + x^4 + 1 of the Keccak reference."""
    constants, state = [], 1
    for _ in range(24):
        constant = 0
        for j in range(7):
            if state & 1:
                constant |= 1 << ((1 << j) - 1)
            state = state << 1 ^ (0x171 if state & 0x80 else 0)
        constants.append(constant)
    return tuple(constants)


def _keccak_rotations() -> tuple[int, ...]:
    """Rho rotation offset of each lane ``x + 5*y``: (t+1)(t+2)/2 along the walk (x, y) -> (y, 2x+3y)."""
    offsets, x, y = [0] * 25, 1, 0
    for t in range(24):
        offsets[x + 5 * y] = (t + 1) * (t + 2) // 2 % 64
        x, y = y, (2 * x + 3 * y) % 5
    return tuple(offsets)


_KECCAK_RC = _keccak_round_constants()
_KECCAK_ROT = _keccak_rotations()


_KECCAK_PI = tuple((i % 5, (i // 5) + 5 * ((2 * (i % 5) + 3 * (i // 5)) % 5), _KECCAK_ROT[i]) for i in range(25))
"""Per source lane: its column (for theta), its destination after pi, and its rho rotation; computed once."""
_KECCAK_CHI = tuple((i, i - i % 5 + (i + 1) % 5, i - i % 5 + (i + 2) % 5) for i in range(25))
"""Per lane: itself and the two lanes to its right in its row (for chi)."""


def _keccak_f1600(lanes: list[int]) -> None:
    """Keccak-f[1600] permutation in place on 25 64-bit lanes, lane (x, y) at index x + 5*y.

    Index arithmetic is precomputed in ``_KECCAK_PI`` and ``_KECCAK_CHI``: an Ethereum address is checked inside
    the PII engine's hot loop, where this runs about three times faster than the textbook form.
    """
    moved = [0] * 25
    for round_constant in _KECCAK_RC:
        parity = [lanes[x] ^ lanes[x + 5] ^ lanes[x + 10] ^ lanes[x + 15] ^ lanes[x + 20] for x in range(5)]
        theta = [parity[x - 1] ^ (((parity[(x + 1) % 5] << 1) | (parity[(x + 1) % 5] >> 63)) & _MASK64)
                 for x in range(5)]
        for i, (x, dest, rotation) in enumerate(_KECCAK_PI):
            value = lanes[i] ^ theta[x]
            moved[dest] = ((value << rotation) | (value >> (64 - rotation))) & _MASK64
        for i, right, next_right in _KECCAK_CHI:
            lanes[i] = moved[i] ^ (~moved[right] & moved[next_right])
        lanes[0] ^= round_constant


def _keccak(data: bytes, suffix: int = 0x01, rate: int = 136, size: int = 32) -> bytes:
    """Keccak sponge: ``suffix`` 0x01 is original Keccak (Ethereum), 0x06 is FIPS 202 SHA3."""
    padded = bytearray(data)
    padded.append(suffix)
    padded.extend(bytes(-len(padded) % rate))
    padded[-1] |= 0x80
    lanes = [0] * 25
    for offset in range(0, len(padded), rate):
        for i in range(rate // 8):
            start = offset + 8 * i
            lanes[i] ^= int.from_bytes(padded[start : start + 8], "little")
        _keccak_f1600(lanes)
    return b"".join(lane.to_bytes(8, "little") for lane in lanes)[:size]


def keccak256(data: bytes) -> bytes:
    """Keccak-256 digest of ``data`` as used by Ethereum (original Keccak padding, not SHA3-256).

    Keccak-f[1600], rate 1088 bits, capacity 512, pad10*1 with domain byte 0x01 (The Keccak
    reference, version 3.0). ``keccak256(b"").hex()`` starts ``c5d24601``.
    """
    return _keccak(data)


_ETH_RE = re.compile(r"0x[0-9a-fA-F]{40}", re.ASCII)


def eth_address_ok(text: str) -> bool:
    """Ethereum address: ``0x`` and 40 hex digits, with an EIP-55 checksum when the case is mixed.

    All-lower-case and all-upper-case hex carry no checksum and are accepted. In mixed case each letter
    must be upper-case exactly when the matching nibble of Keccak-256 of the lower-case hex is >= 8.
    """
    if not _ETH_RE.fullmatch(text):
        return False
    hex_part = text[2:]
    if hex_part in (hex_part.lower(), hex_part.upper()):
        return True
    digest = keccak256(hex_part.lower().encode("ascii")).hex()
    return all(c.isupper() == (int(h, 16) >= 8) for c, h in zip(hex_part, digest, strict=False) if c.isalpha())


# ---------------------------------------------------------------------------------------- IP and MAC

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"  # 0-255, no leading zero
_IPV4_RE = re.compile(rf"{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}", re.ASCII)
_MAC_RE = re.compile(
    r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}|[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}",
    re.ASCII,
)


def ip_address_ok(text: str) -> bool:
    """IPv4 dotted quad (RFC 791) or IPv6 address (RFC 4291, parsed by :mod:`ipaddress`).

    IPv4 must have four decimal octets 0-255 without leading zeros (``01.2.3.4`` is ambiguous: octal
    to some parsers); ``1.2.3`` and other short forms are rejected.
    """
    if ":" not in text:
        return bool(_IPV4_RE.fullmatch(text))
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def mac_address_ok(text: str) -> bool:
    """IEEE 802 MAC-48 address as written by people and tools.

    Six hex pairs separated consistently by ``:`` or ``-`` (``00:1A:2B:3C:4D:5E``), or three
    dot-separated groups of four (Cisco, ``001a.2b3c.4d5e``). The all-zero and broadcast
    (``ff:ff:ff:ff:ff:ff``) addresses are rejected: they identify no device.
    """
    if not _MAC_RE.fullmatch(text):
        return False
    digits = _strip(text, ":-.").lower()
    return digits not in ("000000000000", "ffffffffffff")
