"""Seeded generator of English texts with labelled structured PII, for the PII detection benchmark.

``generate(n, seed, split)`` fills hand-written templates (support tickets, HR notes, logs, chat messages, CSV
lines, JSON snippets, e-mail headers) with fake values: names, companies and cities come from Faker in seven locales
(en_US, en_GB, de_DE, fr_FR, es_ES, it_IT, nl_NL); the structured entities are built here, valid by construction
(Luhn, mod-97, mod-11, base58check, bech32) and written in many national formats. Every sample carries the exact
character spans of the entities it contains. Template ``i`` belongs to the ``"tune"`` split when ``i`` is even and
to ``"eval"`` when it is odd, so a detector tuned on one half is scored on sentences it has never seen.

``distractors(n, seed)`` returns PII-free sentences full of numbers (order numbers, versions, prices, build
numbers, part numbers, hashes, 16-digit non-Luhn numbers, ISBNs, coordinates, percentages, file names) with no
spans: a detector should report nothing on them.

Both are deterministic for a seed (with the same Faker version). Run the module to print a few samples.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

STRUCTURED_TYPES: tuple[str, ...] = (
    "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "IP_ADDRESS", "URL", "DATE_TIME",
    "MAC_ADDRESS", "UK_NHS", "UK_NINO", "CRYPTO", "US_ITIN",
)
"""The entity types the generator plants (Presidio's names)."""

LOCALES: tuple[str, ...] = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL")
COUNTRY = {"en_US": "US", "en_GB": "GB", "de_DE": "DE", "fr_FR": "FR", "es_ES": "ES", "it_IT": "IT", "nl_NL": "NL"}
SPLITS = ("tune", "eval")
PLACEHOLDER = re.compile(r"\{([A-Za-z_]+)\}")
DIGITS = "0123456789"
UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass
class Sample:
    """One generated text and the entities planted in it."""

    text: str
    spans: list[tuple[str, int, int]] = field(default_factory=list)
    """``(entity type, start, end)``, ``str`` offsets, sorted by start."""
    template: int = -1
    """Index in ``TEMPLATES`` (or in ``DISTRACTORS`` for PII-free samples)."""
    locale: str = ""
    split: str = ""
    """``"tune"``, ``"eval"`` or ``"distractor"``."""


# --------------------------------------------------------------------------- templates

TEMPLATES: tuple[str, ...] = (
    # even index -> tune, odd index -> eval; neighbours cover similar types so both halves cover every type
    "Hi, this is {first} from {company}. Please reach me at {EMAIL_ADDRESS} or {PHONE_NUMBER} about ticket {ticket}.",
    "Customer {name} called from {PHONE_NUMBER} and asked us to use {EMAIL_ADDRESS} for all future invoices.",
    "Charge failed for card {CREDIT_CARD} (amount {amount}). Customer notified on {DATE_TIME}.",
    "Please refund {amount} to card {CREDIT_CARD} used for order {order}.",
    "Salary for {name} goes to IBAN {IBAN_CODE} from next month on.",
    "Wire the deposit of {amount} to {IBAN_CODE} before {DATE_TIME}, reference {order}.",
    "HR note: employee {name}, SSN {US_SSN}, start date {DATE_TIME}, department {dept}.",
    "W-2 correction requested by {name}; the social security number on file is {US_SSN} and should be checked.",
    "[{DATE_TIME}] WARN auth: failed login for user {user} from {IP_ADDRESS} (attempt {n})",
    "{DATE_TIME} INFO gateway accepted connection from {IP_ADDRESS} port {port}",
    "Device {MAC_ADDRESS} requested a DHCP lease and got {IP_ADDRESS}.",
    "Blocked unknown device: mac={MAC_ADDRESS} vlan={n} switch=sw-core-{n}",
    "Patient {name}, NHS number {UK_NHS}, booked for {DATE_TIME} at the {city} clinic.",
    "Referral letter: NHS no. {UK_NHS}. Contact the GP surgery on {PHONE_NUMBER}.",
    "Payroll query from {name}: National Insurance number {UK_NINO}, tax code 1257L.",
    "NI number {UK_NINO} was entered twice for {name}; please merge the records.",
    "Send the refund to my wallet {CRYPTO} instead of the card.",
    "Payout address: {CRYPTO} (network fee {amount}); confirmed by {EMAIL_ADDRESS}.",
    "ITIN {US_ITIN} belongs to {name}, who files as a nonresident alien.",
    "Form W-7 approved; the taxpayer identification number {US_ITIN} was issued on {DATE_TIME}.",
    "Reset link was sent to {EMAIL_ADDRESS}; it expires on {DATE_TIME}.",
    "Your account {user} now uses {EMAIL_ADDRESS} as its login. If this was not you, visit {URL}.",
    "Read the incident report at {URL} before the call on {DATE_TIME}.",
    "The download link {URL} was shared with {EMAIL_ADDRESS} by mistake.",
    "id,name,email,phone,joined\n{n},{name},{EMAIL_ADDRESS},{PHONE_NUMBER},{DATE_TIME}",
    "{n};{name};{IBAN_CODE};{amount};{DATE_TIME}",
    '{"user": "{user}", "email": "{EMAIL_ADDRESS}", "last_ip": "{IP_ADDRESS}", "plan": "pro"}',
    '{"event": "payment", "card": "{CREDIT_CARD}", "amount": "{amount}", "ts": "{DATE_TIME}"}',
    "hey can u text me at {PHONE_NUMBER}? my other phone died lol",
    "ok my number is {PHONE_NUMBER}, call me after lunch",
    "sure, its {IBAN_CODE} thanks!!",
    "use my card {CREDIT_CARD} for the booking pls",
    "Ticket {ticket}: user reports a phishing mail sent from {EMAIL_ADDRESS} linking to {URL}.",
    "Ticket {ticket}: VPN drops every few minutes. Client IP {IP_ADDRESS}, gateway {IP_ADDRESS}.",
    "Firewall rule added: allow tcp from {IP_ADDRESS} to {IP_ADDRESS} port 443.",
    "Suspicious traffic: {n} requests/min from {IP_ADDRESS}, user agent curl/8.5.0.",
    "Please update my bank details to {IBAN_CODE} and my phone to {PHONE_NUMBER}.",
    "New supplier {company}: IBAN {IBAN_CODE} please confirm by {DATE_TIME}.",
    "Card {CREDIT_CARD} and SSN {US_SSN} were found in a pasted log; rotate and notify.",
    "Identity check for {name}: SSN {US_SSN}, phone {PHONE_NUMBER}, email {EMAIL_ADDRESS}.",
    "Meeting moved to {DATE_TIME}, dial-in {PHONE_NUMBER}.",
    "Delivery scheduled for {DATE_TIME}; the courier will call {PHONE_NUMBER} on arrival.",
    "Access point {MAC_ADDRESS} at the {city} office rebooted on {DATE_TIME}.",
    "arp: {IP_ADDRESS} is-at {MAC_ADDRESS} on eth0",
    "NHS {UK_NHS} / NINO {UK_NINO}: records matched for {name}.",
    "Claim form: {name}, National Insurance {UK_NINO}, NHS number {UK_NHS}, phone {PHONE_NUMBER}.",
    "Donations accepted at {CRYPTO} or by card.",
    "tx from {CRYPTO} flagged by compliance on {DATE_TIME}",
    "Tax return for {name} lists ITIN {US_ITIN} and phone {PHONE_NUMBER}.",
    "{name} ({US_ITIN}) asked for the 1040 instructions by email at {EMAIL_ADDRESS}.",
    "| {name} | {EMAIL_ADDRESS} | {PHONE_NUMBER} |",
    "Contact: {name} <{EMAIL_ADDRESS}>, tel. {PHONE_NUMBER}",
    "Order {order} paid with {CREDIT_CARD} on {DATE_TIME}, shipped to {city}.",
    "Transaction declined: card number {CREDIT_CARD}, merchant {company}.",
    "Beneficiary {name}, account {IBAN_CODE}, amount {amount}.",
    "Standing order to IBAN: {IBAN_CODE} monthly, first payment on {DATE_TIME}.",
    "Error: request to {URL} timed out after 30 s (client {IP_ADDRESS}).",
    "GET {URL} 200 {n}ms ip={IP_ADDRESS}",
    "Backup finished {DATE_TIME}, {n} files, host {IP_ADDRESS}.",
    "Certificate for {URL} expires {DATE_TIME}.",
    "From: {EMAIL_ADDRESS}\nTo: {EMAIL_ADDRESS}\nSubject: invoice {order}",
    "Please CC {EMAIL_ADDRESS} on the reply and call me on {PHONE_NUMBER} if urgent.",
    "Employee record: SSN {US_SSN}; ITIN not applicable; hired {DATE_TIME}.",
    "Our records show SSN {US_SSN} for {name}; the signed copy arrived on {DATE_TIME}.",
    "Wallet {CRYPTO} belongs to {user}; see {URL} for details.",
    "Sent 0.05 coins to {CRYPTO} at {DATE_TIME}.",
    "Router {MAC_ADDRESS}, serial SN{n}, firmware 2.4.1, owner {EMAIL_ADDRESS}",
    "Lost laptop: MAC {MAC_ADDRESS}, last seen on {IP_ADDRESS}, owner {EMAIL_ADDRESS}.",
    "Dear {first}, your ITIN renewal ({US_ITIN}) is complete. Questions? Call {PHONE_NUMBER}.",
    "Nonresident {name} used ITIN {US_ITIN} instead of an SSN on the form.",
    "Pay {amount} by card ({CREDIT_CARD}) or bank transfer to {IBAN_CODE} thanks",
    "Card on file: {CREDIT_CARD}; billing email {EMAIL_ADDRESS}.",
)
"""Sentences with ``{ENTITY_TYPE}`` placeholders (planted and labelled) and ``{filler}`` ones (not labelled)."""


def template_indices(split: str) -> list[int]:
    """Indices of the templates of one split: even ones for ``"tune"``, odd ones for ``"eval"``."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    parity = 0 if split == "tune" else 1
    return [i for i in range(len(TEMPLATES)) if i % 2 == parity]


# --------------------------------------------------------------------------- small helpers


def _digits(rng: random.Random, size: int) -> str:
    return "".join(rng.choice(DIGITS) for _ in range(size))


def _group(value: str, sizes: tuple[int, ...], sep: str) -> str:
    """``value`` cut into groups of ``sizes`` joined by ``sep`` (the rest, if any, as a last group)."""
    parts, at = [], 0
    for size in sizes:
        parts.append(value[at:at + size])
        at += size
    if at < len(value):
        parts.append(value[at:])
    return sep.join(p for p in parts if p)


def luhn_digit(body: str) -> str:
    """The Luhn check digit to append to ``body``."""
    total = 0
    for i, char in enumerate(reversed(body)):
        digit = int(char)
        if i % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def luhn_valid(number: str) -> bool:
    """True when the digits of ``number`` pass the Luhn check."""
    digits = "".join(c for c in number if c.isdigit())
    return len(digits) > 1 and luhn_digit(digits[:-1]) == digits[-1]


# --------------------------------------------------------------------------- credit cards

CARD_NETWORKS: dict[str, tuple[tuple[str, ...], int, float]] = {
    "visa": (("4",), 16, 0.22),
    "mastercard": (("51", "52", "53", "54", "55"), 16, 0.14),
    "mastercard-2": (tuple(str(p) for p in range(2221, 2721)), 16, 0.16),
    "amex": (("34", "37"), 15, 0.12),
    "discover": (("6011", "65", "644", "645", "646", "647", "648", "649"), 16, 0.12),
    "jcb": (tuple(str(p) for p in range(3528, 3590)), 16, 0.12),
    "diners": (("300", "301", "302", "303", "304", "305", "36", "38"), 14, 0.12),
}
"""Network -> (prefixes, length, share)."""


def card_number(rng: random.Random, network: str | None = None) -> str:
    """A Luhn-valid card number of a network, compact or grouped with spaces or dashes as printed on cards."""
    if network is None:
        names = list(CARD_NETWORKS)
        network = rng.choices(names, weights=[CARD_NETWORKS[n][2] for n in names])[0]
    prefixes, length, _ = CARD_NETWORKS[network]
    body = rng.choice(prefixes)
    body += _digits(rng, length - 1 - len(body))
    number = body + luhn_digit(body)
    sep = rng.choice(("", " ", " ", "-"))
    sizes = {15: (4, 6, 5), 14: (4, 6, 4)}.get(length, (4, 4, 4, 4))
    return number if not sep else _group(number, sizes, sep)


# --------------------------------------------------------------------------- IBAN

IBAN_SPECS: dict[str, str] = {
    "DE": "18n", "GB": "4a14n", "FR": "10n11c2n", "ES": "20n", "IT": "1a10n12c", "NL": "4a10n", "BE": "12n",
    "AT": "16n", "CH": "5n12c", "PL": "24n", "SE": "20n", "IE": "4a14n", "PT": "21n", "LU": "3n13c", "DK": "14n",
    "NO": "11n", "FI": "14n",
}
"""Country -> BBAN structure (ISO 13616 notation: n digits, a upper-case letters, c alphanumerics)."""
BANK_CODES = {"GB": ("NWBK", "BARC", "HBUK", "LOYD", "MIDL"), "IE": ("AIBK", "BOFI"), "NL": ("ABNA", "RABO", "INGB")}


def _bban(rng: random.Random, country: str) -> str:
    """A random BBAN of the country's structure (bank codes from a short list where letters are expected)."""
    out = []
    for count, kind in re.findall(r"(\d+)([nac])", IBAN_SPECS[country]):
        size = int(count)
        if kind == "a" and country in BANK_CODES and size == 4:
            out.append(rng.choice(BANK_CODES[country]))
        elif kind == "a":
            out.append("".join(rng.choice(UPPER) for _ in range(size)))
        elif kind == "c":
            out.append("".join(rng.choice(DIGITS * 4 + UPPER) for _ in range(size)))
        else:
            out.append(_digits(rng, size))
    bban = "".join(out)
    if country == "BE":  # Belgian BBAN: 10 digits then their remainder mod 97 (97 for 0)
        bban = bban[:10] + f"{int(bban[:10]) % 97 or 97:02d}"
    return bban


def iban_check(country: str, bban: str) -> str:
    """The two ISO 7064 mod-97 check digits of an IBAN."""
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


def iban(rng: random.Random, country: str) -> str:
    """A valid IBAN of a country, compact or in the printed groups of four."""
    bban = _bban(rng, country)
    code = country + iban_check(country, bban) + bban
    return code if rng.random() < 0.5 else _group(code, (4,) * 8, " ")


# --------------------------------------------------------------------------- national numbers


def us_ssn(rng: random.Random) -> str:
    """A US SSN with a valid area (001-899 but 666), group and serial, dashed or spaced."""
    area = rng.choice([a for a in range(1, 900) if a != 666])
    number = f"{area:03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
    if number in ("078051120", "219099999", "123456789"):
        return us_ssn(rng)
    return _group(number, (3, 2, 4), rng.choice(("-", "-", "-", " ")))


def us_itin(rng: random.Random) -> str:
    """A US ITIN: 9XX, a group in 50-65, 70-88, 90-92 or 94-99, four digits; dashed or spaced."""
    group = rng.choice([*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)])
    number = f"9{_digits(rng, 2)}{group:02d}{_digits(rng, 4)}"
    return _group(number, (3, 2, 4), rng.choice(("-", "-", " ")))


def nhs_number(rng: random.Random) -> str:
    """A UK NHS number with a valid mod-11 check digit, as ``943 476 5919``, compact or dashed."""
    while True:
        body = str(rng.randint(4, 7)) + _digits(rng, 8)
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        if check == 11:
            check = 0
        if check != 10:
            break
    number = body + str(check)
    return _group(number, (3, 3, 4), rng.choice((" ", " ", "", "-")))


def nhs_valid(number: str) -> bool:
    """True when a 10-digit string passes the NHS mod-11 check."""
    if len(number) != 10 or not number.isdigit():
        return False
    check = 11 - sum(int(d) * w for d, w in zip(number[:9], range(10, 1, -1), strict=True)) % 11
    return (0 if check == 11 else check) == int(number[9])


def uk_nino(rng: random.Random) -> str:
    """A UK National Insurance number with an allowed prefix, as ``QQ 12 34 56 C`` or compact."""
    first_ok = [c for c in UPPER if c not in "DFIQUV"]
    second_ok = [c for c in first_ok if c != "O"]
    while True:
        prefix = rng.choice(first_ok) + rng.choice(second_ok)
        if prefix not in ("BG", "GB", "KN", "NK", "NT", "TN", "ZZ"):
            break
    digits = _digits(rng, 6)
    suffix = rng.choice("ABCD")
    if rng.random() < 0.5:
        return f"{prefix}{digits}{suffix}"
    return f"{prefix} {digits[:2]} {digits[2:4]} {digits[4:]} {suffix}"


# --------------------------------------------------------------------------- crypto addresses

B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
EIP55_EXAMPLES = (
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
)
"""The checksummed Ethereum addresses given as examples in EIP-55."""


def base58check(payload: bytes) -> str:
    """Base58 of ``payload`` followed by the first four bytes of its double SHA-256."""
    data = payload + hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]
    value, out = int.from_bytes(data, "big"), ""
    while value:
        value, rest = divmod(value, 58)
        out = B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _bech32_polymod(values: list[int]) -> int:
    generators = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    check = 1
    for value in values:
        top = check >> 25
        check = (check & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate(generators):
            if (top >> i) & 1:
                check ^= gen
    return check


def segwit_address(program: bytes, version: int, hrp: str = "bc") -> str:
    """A bech32 (version 0, BIP-173) or bech32m (version 1+, BIP-350) segwit address."""
    acc, bits, data = 0, 0, [version]
    for byte in program:  # regroup 8-bit bytes into 5-bit words, zero-padded at the end
        acc, bits = (acc << 8) | byte, bits + 8
        while bits >= 5:
            bits -= 5
            data.append((acc >> bits) & 31)
    if bits:
        data.append((acc << (5 - bits)) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    const = 1 if version == 0 else 0x2BC830A3
    polymod = _bech32_polymod(expanded + data + [0] * 6) ^ const
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(BECH32[d] for d in data + checksum)


def crypto_address(rng: random.Random) -> str:
    """A valid Bitcoin (P2PKH, P2SH, bech32 v0, bech32m v1) or Ethereum address."""
    kind = rng.choice(("p2pkh", "p2pkh", "p2sh", "wpkh", "taproot", "eth", "eth-eip55"))
    if kind == "p2pkh":
        return base58check(b"\x00" + rng.randbytes(20))
    if kind == "p2sh":
        return base58check(b"\x05" + rng.randbytes(20))
    if kind == "wpkh":
        return segwit_address(rng.randbytes(20), 0)
    if kind == "taproot":
        return segwit_address(rng.randbytes(32), 1)
    if kind == "eth":
        return "0x" + rng.randbytes(20).hex()  # all lower case: valid, carries no EIP-55 checksum
    return rng.choice(EIP55_EXAMPLES)


# --------------------------------------------------------------------------- network identifiers


def ip_address(rng: random.Random) -> str:
    """An IPv4 address (private or public) or an IPv6 address (compressed, often with a ``::`` run, or full)."""
    if rng.random() < 0.65:
        first = rng.choice((10, 172, 192, rng.randint(1, 223)))
        if first == 127:
            first = 128
        second = {172: rng.randint(16, 31), 192: 168}.get(first, rng.randint(0, 255))
        return f"{first}.{second}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
    groups = [rng.randint(0, 0xFFFF) for _ in range(8)]
    groups[0] = rng.choice((0x2001, 0x2A00, 0x2600, 0xFE80, 0xFD12, groups[0] | 0x2000))
    if groups[0] == 0x2001:
        groups[1] = 0xDB8
    if rng.random() < 0.7:  # a run of zero groups, shown as "::" when compressed
        at, size = rng.randint(1, 5), rng.randint(2, 4)
        for i in range(at, min(at + size, 8)):
            groups[i] = 0
    address = ipaddress.IPv6Address(int("".join(f"{g:04x}" for g in groups), 16))
    return address.exploded if rng.random() < 0.2 else address.compressed


def mac_address(rng: random.Random) -> str:
    """A MAC address with colons or dashes (upper or lower case) or in Cisco's dotted form."""
    raw = rng.randbytes(6).hex()
    style = rng.choice(("colon", "colon", "dash", "cisco"))
    if style == "cisco":
        return _group(raw, (4, 4, 4), ".")
    text = _group(raw, (2,) * 6, ":" if style == "colon" else "-")
    return text.upper() if rng.random() < 0.5 else text


def url(rng: random.Random, fake: Any) -> str:
    """A web address: scheme or ``www.``, sub-domains, paths, queries and fragments."""
    domain = fake.domain_name()
    path = fake.uri_path()
    forms = (
        f"https://{domain}/{path}", f"https://www.{domain}/", f"http://{rng.choice(('app', 'docs', 'portal'))}."
        f"{domain}/{path}?id={rng.randint(1, 99999)}", f"https://{domain}", f"www.{domain}/{path}",
        f"https://{domain}/{path}#section-{rng.randint(1, 9)}", f"https://{domain}/{path}.html?ref=mail&lang=en",
    )
    return rng.choice(forms)


# --------------------------------------------------------------------------- phone numbers


def _us_phone(rng: random.Random) -> str:
    area = rng.choice(("212", "415", "646", "312", "617", "206", "303", "512", "702", "919", "404", "305", "718"))
    exchange, line = (("555", f"01{_digits(rng, 2)}") if rng.random() < 0.25
                      else (str(rng.randint(201, 989)), _digits(rng, 4)))
    return rng.choice((f"({area}) {exchange}-{line}", f"{area}-{exchange}-{line}", f"{area}.{exchange}.{line}",
                       f"+1 {area} {exchange} {line}", f"+1-{area}-{exchange}-{line}", f"+1 ({area}) {exchange}-{line}",
                       f"1-{area}-{exchange}-{line}"))


def _gb_phone(rng: random.Random) -> str:
    kind = rng.choice(("london", "manchester", "mobile"))
    if kind == "london":
        area, rest = "20", f"7{_digits(rng, 3)} {_digits(rng, 4)}"
    elif kind == "manchester":
        area, rest = "161", f"{rng.randint(200, 999)} {_digits(rng, 4)}"
    else:
        area, rest = f"7{rng.choice(('700', '911', '480', '824', '956'))}", f"{rng.randint(100000, 999999)}"
    return rng.choice((f"+44 {area} {rest}", f"0{area} {rest}", f"+44 (0){area} {rest}"))


def _de_phone(rng: random.Random) -> str:
    area = rng.choice(("30", "89", "40", "69", "221", "151", "160", "170", "176"))
    rest = _digits(rng, 8 if area.startswith("1") else rng.choice((7, 8)))
    rest = rest.lstrip("0") or "1234567"
    return rng.choice((f"0{area} {rest}", f"+49 {area} {rest}", f"+49 (0){area} {rest}", f"0{area}/{rest}",
                       f"0{area}-{rest}"))


def _fr_phone(rng: random.Random) -> str:
    first = rng.choice("1234567")
    pairs = [_digits(rng, 2) for _ in range(4)]
    return rng.choice((f"+33 {first} {' '.join(pairs)}", f"0{first} {' '.join(pairs)}", f"0{first}.{'.'.join(pairs)}",
                       f"0{first}{''.join(pairs)}"))


def _es_phone(rng: random.Random) -> str:
    number = rng.choice(("91", "93", "96", "95", "6", "6", "71", "72", "73", "74"))
    number += _digits(rng, 9 - len(number))
    return rng.choice((f"+34 {_group(number, (3, 3, 3), ' ')}", _group(number, (3, 3, 3), " "), f"+34 {number}",
                       _group(number, (2, 3, 2, 2), " ")))


def _it_phone(rng: random.Random) -> str:
    if rng.random() < 0.5:
        area = rng.choice(("06", "02", "011", "055"))
        rest = _digits(rng, 10 - len(area))
        return rng.choice((f"+39 {area} {_group(rest, (4, 4), ' ')}", f"{area} {_group(rest, (4, 4), ' ')}"))
    mobile = rng.choice(("333", "345", "347", "320", "338")) + _digits(rng, 7)
    return rng.choice((f"{mobile[:3]} {mobile[3:6]} {mobile[6:]}", f"+39 {mobile[:3]} {mobile[3:]}", mobile))


def _nl_phone(rng: random.Random) -> str:
    if rng.random() < 0.5:
        area = rng.choice(("20", "10", "70", "30"))
        rest = str(rng.randint(2, 9)) + _digits(rng, 6)
        return rng.choice((f"+31 {area} {rest[:3]} {rest[3:]}", f"0{area} {rest[:3]} {rest[3:]}", f"0{area}-{rest}"))
    rest = str(rng.randint(1, 9)) + _digits(rng, 7)
    return rng.choice((f"06-{rest}", f"+31 6 {rest}", f"06 {rest[:2]} {rest[2:4]} {rest[4:6]} {rest[6:]}"))


PHONES: dict[str, Callable[[random.Random], str]] = {
    "US": _us_phone, "GB": _gb_phone, "DE": _de_phone, "FR": _fr_phone, "ES": _es_phone, "IT": _it_phone,
    "NL": _nl_phone,
}


def phone_number(rng: random.Random, country: str) -> str:
    """A phone number of the locale's country (70%) or of another, in a national or international format."""
    if rng.random() > 0.7:
        country = rng.choice(list(PHONES))
    return PHONES[country](rng)


# --------------------------------------------------------------------------- dates


def date_time(rng: random.Random) -> str:
    """A date or date and time between 2019 and 2027 in one of many written formats."""
    moment = datetime(2019, 1, 1) + timedelta(minutes=rng.randint(0, 9 * 365 * 24 * 60))
    d, m, y = moment.day, moment.month, moment.year
    month, short, hm = MONTHS[m - 1], MONTHS[m - 1][:3], f"{moment.hour:02d}:{moment.minute:02d}"
    forms = (
        f"{y}-{m:02d}-{d:02d}", f"{d:02d}/{m:02d}/{y}", f"{m:02d}/{d:02d}/{y}", f"{month} {d}, {y}",
        f"{d} {short} {y} {hm}", f"{d} {month} {y}", f"{y}-{m:02d}-{d:02d}T{hm}:{moment.second:02d}Z",
        f"{d:02d}.{m:02d}.{y}", f"{short} {d}, {y}", f"{DAYS[moment.weekday()]}, {d} {month} {y}",
        f"{y}-{m:02d}-{d:02d} {hm}:{moment.second:02d}", f"{d:02d}-{short}-{y}", f"{m}/{d}/{y} {hm}",
    )
    return rng.choice(forms)


# --------------------------------------------------------------------------- rendering


class _Filler:
    """Values for the placeholders of one sample."""

    def __init__(self, rng: random.Random, fake: Any, locale: str) -> None:
        self.rng, self.fake, self.country = rng, fake, COUNTRY[locale]

    def entity(self, kind: str) -> str:
        """A value of a structured entity type."""
        rng = self.rng
        makers: dict[str, Callable[[], str]] = {
            "EMAIL_ADDRESS": self._email, "PHONE_NUMBER": lambda: phone_number(rng, self.country),
            "CREDIT_CARD": lambda: card_number(rng), "IBAN_CODE": self._iban, "US_SSN": lambda: us_ssn(rng),
            "IP_ADDRESS": lambda: ip_address(rng), "URL": lambda: url(rng, self.fake),
            "DATE_TIME": lambda: date_time(rng), "MAC_ADDRESS": lambda: mac_address(rng),
            "UK_NHS": lambda: nhs_number(rng), "UK_NINO": lambda: uk_nino(rng), "CRYPTO": lambda: crypto_address(rng),
            "US_ITIN": lambda: us_itin(rng),
        }
        return makers[kind]()

    def filler(self, kind: str) -> str:
        """A value of a non-labelled placeholder (names, companies, ticket numbers...)."""
        rng, fake = self.rng, self.fake
        values: dict[str, Callable[[], str]] = {
            "first": fake.first_name, "name": fake.name, "company": fake.company, "city": fake.city,
            "user": fake.user_name,
            "ticket": lambda: f"{rng.choice(('INC', 'REQ', 'SUP'))}-{rng.randint(1000, 99999):05d}",
            "order": lambda: f"{rng.choice(('A', 'B', 'SO'))}-{rng.randint(10000, 99999)}-{rng.randint(10, 99)}",
            "amount": lambda: rng.choice(("$", "EUR ", "£", "€")) + f"{rng.randint(5, 4999)}.{rng.randint(0, 99):02d}",
            "n": lambda: str(rng.randint(1, 999)), "port": lambda: str(rng.randint(1024, 65535)),
            "dept": lambda: rng.choice(("Finance", "Engineering", "Sales", "Support", "Legal")),
        }
        return values[kind]()

    def _email(self) -> str:
        rng, fake = self.rng, self.fake
        style = rng.random()
        if style < 0.4:
            return fake.email()
        if style < 0.6:
            return fake.free_email()
        user = fake.user_name()
        if style < 0.8:
            return f"{user}+{rng.choice(('billing', 'news', 'test', 'hr'))}@{fake.domain_name()}"
        return f"{user}.{rng.randint(1, 99)}@{rng.choice(('mail', 'corp', 'eu'))}.{fake.domain_name()}"

    def _iban(self) -> str:
        country = self.country if self.country in IBAN_SPECS and self.rng.random() < 0.5 else None
        return iban(self.rng, country or self.rng.choice(list(IBAN_SPECS)))


def render(template: str, filler: _Filler) -> tuple[str, list[tuple[str, int, int]]]:
    """Fill a template; return the text and the spans of its structured entities."""
    out: list[str] = []
    spans: list[tuple[str, int, int]] = []
    at, length = 0, 0
    for match in PLACEHOLDER.finditer(template):
        literal = template[at:match.start()]
        out.append(literal)
        length += len(literal)
        name = match.group(1)
        value = filler.entity(name) if name.isupper() else filler.filler(name)
        if name.isupper():
            spans.append((name, length, length + len(value)))
        out.append(value)
        length += len(value)
        at = match.end()
    out.append(template[at:])
    return "".join(out), spans


def _fakers(seed: int) -> dict[str, Any]:
    from faker import Faker

    fakers: dict[str, Any] = {}
    for locale in LOCALES:
        fake = Faker(locale)
        fake.seed_instance(seed)
        fakers[locale] = fake
    return fakers


def generate(n: int, seed: int, split: str) -> list[Sample]:
    """``n`` samples from the templates of ``split``; entity types are cycled so each gets about ``n/13`` texts."""
    indices = template_indices(split)
    by_type = {kind: [i for i in indices if "{" + kind + "}" in TEMPLATES[i]] for kind in STRUCTURED_TYPES}
    fakers = _fakers(seed)
    samples = []
    for number in range(n):
        rng = random.Random(f"pii-corpus:{seed}:{split}:{number}")
        kind = STRUCTURED_TYPES[number % len(STRUCTURED_TYPES)]
        template = rng.choice(by_type[kind])
        locale = rng.choice(LOCALES)
        fake = fakers[locale]
        fake.seed_instance(rng.getrandbits(48))
        text, spans = render(TEMPLATES[template], _Filler(rng, fake, locale))
        samples.append(Sample(text, spans, template, locale, split))
    return samples


# --------------------------------------------------------------------------- PII-free distractors


def _non_luhn16(rng: random.Random) -> str:
    body = rng.choice("45") + _digits(rng, 14)
    bad = str((int(luhn_digit(body)) + rng.randint(1, 9)) % 10)
    return _group(body + bad, (4, 4, 4, 4), rng.choice(("", " ", "-")))


def _non_nhs10(rng: random.Random) -> str:
    while True:
        number = str(rng.randint(1, 9)) + _digits(rng, 9)
        if not nhs_valid(number):
            return number


def _isbn13(rng: random.Random) -> str:
    body = "978" + _digits(rng, 9)
    check = (10 - sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(body)) % 10) % 10
    return f"{body[:3]}-{body[3]}-{body[4:8]}-{body[8:]}-{check}"


def _version(rng: random.Random) -> str:
    return f"{rng.randint(0, 12)}.{rng.randint(0, 30)}.{rng.randint(0, 40)}"


def _price(rng: random.Random) -> str:
    whole = rng.randint(1, 99999)
    cents = f"{rng.randint(0, 99):02d}"
    european = f"{whole:,}".replace(",", ".")
    return rng.choice((f"${whole:,}.{cents}", f"€{european},{cents}", f"{whole} EUR", f"£{whole}.{cents}"))


def _hex(rng: random.Random, size: int) -> str:
    return rng.randbytes(size // 2).hex()


def _float(rng: random.Random, top: int = 100) -> str:
    return f"{rng.uniform(0, top):.{rng.randint(1, 3)}f}"


DISTRACTORS: tuple[Callable[[random.Random], str], ...] = (
    lambda r: f"Order #{_digits(r, 7)} contains {r.randint(1, 40)} items, total {_price(r)}.",
    lambda r: f"Upgraded numpy from {_version(r)} to {_version(r)}; tests pass on Python 3.{r.randint(9, 13)}.",
    lambda r: f"Build {r.randint(2019, 2026)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}.{_digits(r, 4)} finished in "
              f"{_float(r, 900)} s with {r.randint(0, 80)} warnings.",
    lambda r: f"Part number {r.randint(1000, 9999)}-{r.choice(('AX', 'BT', 'KR'))}-{_digits(r, 4)} "
              f"({r.randint(2, 500)} pcs at {_price(r)} each).",
    lambda r: f"Commit {_hex(r, 40)} fixed the flaky test; artifact sha256 {_hex(r, 64)}.",
    lambda r: f"Tracking number {_non_luhn16(r)} is not in our system yet.",
    lambda r: f"ISBN {_isbn13(r)}, {r.randint(120, 900)} pages, {r.randint(1, 12)}th edition.",
    lambda r: f"The sensor sits at {r.uniform(-80, 80):.4f}, {r.uniform(-170, 170):.4f} "
              f"(elevation {r.randint(0, 3000)} m).",
    lambda r: f"Conversion rate rose from {_float(r, 10)}% to {_float(r, 10)}% in week {r.randint(1, 52)}.",
    lambda r: f"Temperature {_float(r, 40)} °C, pressure {r.randint(950, 1050)} hPa, humidity {r.randint(10, 99)}%.",
    lambda r: f"Invoice INV-{r.randint(2019, 2026)}-{_digits(r, 6)} totals {_price(r)} incl. {r.randint(5, 25)}% VAT.",
    lambda r: f"The model reached {_float(r, 100)}% accuracy after {r.randint(2, 300)} epochs with lr "
              f"{r.randint(1, 9)}e-{r.randint(3, 6)} and batch size {2 ** r.randint(3, 10)}.",
    lambda r: f"Room {r.randint(100, 999)}, floor {r.randint(1, 30)}, capacity {r.randint(4, 400)} people.",
    lambda r: f"Serial {r.choice(UPPER)}{r.choice(UPPER)}{_digits(r, 8)}, firmware v{_version(r)}, bootloader "
              f"{_version(r)}.",
    lambda r: f"Dimensions: {r.randint(10, 999)} x {r.randint(10, 999)} x {r.randint(10, 999)} mm, weight "
              f"{_float(r, 50)} kg.",
    lambda r: f"Stock moved from {r.randint(0, 9999)} to {r.randint(0, 9999)} units; reorder point "
              f"{r.randint(10, 500)}.",
    lambda r: f"The query scanned {r.randint(1000, 99999999):,} rows in {_float(r, 5000)} ms.",
    lambda r: f"Version {_version(r)} fixes CVE-{r.randint(2019, 2026)}-{r.randint(1000, 49999)} and "
              f"{r.randint(2, 40)} other bugs.",
    lambda r: f"Final score {r.randint(0, 9)}-{r.randint(0, 9)} after {r.randint(90, 120)} minutes, "
              f"{r.randint(1000, 80000):,} spectators.",
    lambda r: f"Reference number {_digits(r, 9)} was merged into case {_non_nhs10(r)}.",
    lambda r: f"Saved checkpoint epoch_{r.randint(1, 99):03d}.pt ({_float(r, 30)} GB) and config.json.",
    lambda r: f"Docker image sha256:{_hex(r, 64)} is {_float(r, 4000)} MB.",
    lambda r: f"{r.randint(10, 999)} + {r.randint(10, 999)} = {r.randint(20, 1998)}, and pi is about 3.14159.",
    lambda r: f"The job used {r.randint(1, 64)} GPUs, {r.randint(1, 2048)} GB of memory and {_float(r, 99)}% "
              f"of the quota.",
    lambda r: f"EAN {_digits(r, 13)}, pack of {r.randint(2, 48)}, unit price {_price(r)}.",
    lambda r: f"Ticket {r.randint(100000, 999999)} was closed after {r.randint(2, 90)} comments and "
              f"{r.randint(1, 40)} attachments.",
    lambda r: f"Q{r.randint(1, 4)} revenue: {_price(r)} ({'+' if r.random() < 0.5 else '-'}{_float(r, 30)}% "
              f"year over year).",
    lambda r: f"Benchmark: {r.randint(100, 99999):,} requests/s at p99 {_float(r, 80)} ms on {r.randint(2, 128)} "
              f"cores.",
    lambda r: f"Pipe {r.choice(('DN', 'PN'))}{r.randint(10, 400)}, length {_float(r, 100)} m, "
              f"{r.randint(2, 16)} bar.",
    lambda r: f"Lot {_digits(r, 6)}-{r.choice(UPPER)}{_digits(r, 2)}, batch {r.randint(1, 99)} of "
              f"{r.randint(99, 400)}.",
)
"""PII-free sentences full of numbers: no written dates or times, no valid IPv4 address, no Luhn-valid 16-digit
number, no 10-digit number that passes the NHS check (build numbers that start with a YYYYMMDD stamp are in)."""


def distractors(n: int, seed: int) -> list[Sample]:
    """``n`` PII-free sentences (each template in turn), with empty spans."""
    samples = []
    for number in range(n):
        rng = random.Random(f"pii-distractor:{seed}:{number}")
        index = number % len(DISTRACTORS)
        samples.append(Sample(DISTRACTORS[index](rng), [], index, "", "distractor"))
    return samples


def main(argv: list[str]) -> int:
    """Print a few samples of each split: ``python benchmarks/pii_corpus.py [n] [seed]``."""
    count = int(argv[0]) if argv else 5
    seed = int(argv[1]) if len(argv) > 1 else 7
    for split in SPLITS:
        for sample in generate(count, seed, split):
            marks = ", ".join(f"{kind}={sample.text[s:e]!r}" for kind, s, e in sample.spans)
            print(f"[{split} t{sample.template} {sample.locale}] {sample.text!r}\n    {marks}")
    for sample in distractors(count, seed):
        print(f"[distractor d{sample.template}] {sample.text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
