"""Name-based generic secrets: the assignment forms, the name rules, the length-aware entropy thresholds."""

from __future__ import annotations

import random
import string

import pytest
from secret_samples import B64, HEX, body

from bastion.supplychain.secrets import find_secrets
from bastion.supplychain.secrets.generic import entropy, looks_random, secret_name

VALUE = body(300, 40, B64)


def ids(text: str) -> list[str]:
    return [m.detector_id for m in find_secrets(text)]


@pytest.mark.parametrize("line", [
    f'API_KEY = "{VALUE}"', f"api_key='{VALUE}'", f"apiKey: '{VALUE}'", f'"api-key": "{VALUE}",',
    f"export SERVICE_TOKEN={VALUE}", f"SERVICE_TOKEN={VALUE}  # prod", f"  client_secret: {VALUE}",
    f'const accessToken = "{VALUE}";', f'os.environ["MY_SERVICE_SECRET"] = "{VALUE}"',
    f'config["secret_key"] = b"{VALUE}"', f"<apiKey>{VALUE}</apiKey>", f"--auth-token={VALUE}",
    f"SECRET_KEY_B64={VALUE}", f'secretKey := "{VALUE}"', f'"credentials" => "{VALUE}"',
    f"<tr><th>SERVICE_API_KEY</th><td>{VALUE}</td></tr>", f"x_auth = r'{VALUE}'",
    f'headers = {{"Authorization": "Bearer {VALUE}"}}', f"curl -H 'Authorization: bearer {VALUE}'",
])
def test_assignment_forms_are_found(line: str) -> None:
    matches = find_secrets(line)
    assert len(matches) == 1, line
    assert line.encode()[matches[0].start:matches[0].end].decode() == VALUE


@pytest.mark.parametrize(("name", "secret", "password"), [
    ("OPENAI_API_KEY", True, False), ("apiKey", True, False), ("db_password", True, True), ("DB_PASS", True, True),
    ("client_secret", True, False), ("SECRET_KEY_B64", True, False), ("x-api-key", True, False),
    ("SECRETKEY", True, False), ("keyboard", False, False), ("max_tokens", False, False),
    ("public_key", False, False), ("key_path", False, False), ("token_type", False, False),
    ("cache_key", False, False), ("monkey", False, False), ("bypass", False, False), ("secret_name", False, False),
])
def test_names(name: str, secret: bool, password: bool) -> None:
    assert secret_name(name.encode()) == (secret, password)


def test_entropy_thresholds_keep_random_keys_and_drop_words() -> None:
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits
    for size in (16, 20, 24, 32, 40, 64):
        kept = sum(looks_random("".join(rng.choice(alphabet) for _ in range(size)).encode()) for _ in range(400))
        assert kept >= 0.97 * 400 * (1 - (52 / 62) ** size) - 4, size  # all but keys without any digit
    for size in (20, 32, 40):
        kept = sum(looks_random("".join(rng.choice(HEX) for _ in range(size)).encode()) for _ in range(400))
        assert kept >= 390, size
    for word in (b"production_database", b"HelloWorldExample", b"application_default_credentials",
                 b"gpt-4o-mini-2024-07-18", b"sentence-transformers/all-MiniLM-L6-v2", b"aaaaaaaaaaaaaaaaaaaa1"):
        assert not looks_random(word), word


def test_entropy_is_shannon_bits_per_character() -> None:
    assert entropy(b"") == 0.0
    assert entropy(b"aaaa") == 0.0
    assert entropy(b"abab") == 1.0
    assert entropy(bytes(range(256))) == 8.0


@pytest.mark.parametrize("value", [
    "your-api-key-123456", "xxxxxxxxxxxxxxxxxxxx", "<INSERT_TOKEN_HERE>", "${OPENAI_API_KEY}", "{{ api_token }}",
    "changeme-1234567890", "example-key-0123456789", "test-secret-for-the-unit-tests-1", "REDACTED",
    "%(secret)s-and-more", "$(cat /run/secrets/token)",
])
def test_placeholders_are_not_secrets(value: str) -> None:
    assert ids(f'API_KEY = "{value}"') == []


@pytest.mark.parametrize("line", [
    "token = os.environ.get('TOKEN')", "api_key = settings.API_KEY", "secret = get_secret()",
    "password = getpass.getpass()", "key = lambda item: item[1]", "TOKEN = DEFAULT_TOKEN_VALUE",
    "def run(self, key: PKCS7PrivateKeyTypes) -> None:", "token_count = 123456789012345678",
    "api_key = $OPENAI_API_KEY", 'key = f"{prefix}-{uuid4().hex}"', "password: ClassVar[bool] = True",
    '_S + rb"(?P<secret>pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_]{50,1000}+)"', "url = f'postgres://app:{pw}@db/app'",
])
def test_code_is_not_a_secret(line: str) -> None:
    assert ids(line) == []


def test_passwords_need_length_variety_and_a_non_letter() -> None:
    weak, weaker = "Summer" + "2024!", "hunter" + "2x9"  # assembled, so this file holds no password literal
    assert ids(f'password = "{weak}"') == ["generic-password"]
    assert ids(f'db_pass = "{weaker}"') == ["generic-password"]
    assert ids('password = "short1"') == []
    assert ids('password = "Passphrase"') == []
    assert ids('password = "aaaaaaaaaaaa"') == []


def test_hex_values_need_length_and_both_kinds() -> None:
    assert ids(f'SIGNING_KEY = "{body(301, 32, HEX)}"') == ["generic-secret"]
    assert ids(f'SIGNING_KEY = "{body(302, 12, HEX)}"') == []
    assert ids('SIGNING_KEY = "1234567890123456789012"') == []


def test_generic_finding_names_the_assignment() -> None:
    (match,) = find_secrets(f"MY_SERVICE_TOKEN={VALUE}")
    assert (match.name, match.rule_id, match.provider) == ("MY_SERVICE_TOKEN", "BST-SEC-003", "unknown issuer")


def test_query_string_values_stop_at_the_next_parameter() -> None:
    (match,) = find_secrets(f"https://api.example.org/v1?api_key={VALUE}&format=json")
    assert match.length == len(VALUE)


def test_a_file_of_keywords_stays_linear() -> None:
    import time

    text = b"key=key=key " * 200_000 + b"token: " * 100_000
    started = time.perf_counter()
    assert find_secrets(text) == []
    assert time.perf_counter() - started < 10
