"""FF1 (NIST SP 800-38G Rev. 1): the nine NIST sample vectors, long-input vectors, round trips and errors."""

from __future__ import annotations

import math
import string
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.data.anonymize.ff1 import FF1

KEY_128 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3C")
KEY_192 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F")
KEY_256 = bytes.fromhex("2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94")
TWEAK_10 = bytes.fromhex("39383736353433323130")
TWEAK_11 = bytes.fromhex("3737373770717273373737")
DIGITS = string.digits
BASE36 = string.digits + string.ascii_lowercase

# NIST CSRC "FF1samples.pdf", samples 1 to 9: (key, alphabet, tweak, plaintext, ciphertext).
NIST_SAMPLES = [
    (KEY_128, DIGITS, b"", "0123456789", "2433477484"),
    (KEY_128, DIGITS, TWEAK_10, "0123456789", "6124200773"),
    (KEY_128, BASE36, TWEAK_11, "0123456789abcdefghi", "a9tv40mll9kdu509eum"),
    (KEY_192, DIGITS, b"", "0123456789", "2830668132"),
    (KEY_192, DIGITS, TWEAK_10, "0123456789", "2496655549"),
    (KEY_192, BASE36, TWEAK_11, "0123456789abcdefghi", "xbj3kv35jrawxv32ysr"),
    (KEY_256, DIGITS, b"", "0123456789", "6657667009"),
    (KEY_256, DIGITS, TWEAK_10, "0123456789", "1001623463"),
    (KEY_256, BASE36, TWEAK_11, "0123456789abcdefghi", "xs8a0azh2avyalyzuwd"),
]
SAMPLE_IDS = [f"sample-{i}" for i in range(1, 10)]

# Published vectors that exercise what the NIST samples do not: d > 16 (several AES blocks in
# the expansion of step 6.iii) and a tweak long enough for several CBC-MAC blocks.
# Radix 36, 128 characters (capitalone/fpe ff1_test.go, also in str4d/fpe's test vectors).
LONG_36_PT = ("xs8a0azh2avyalyzuwd" * 7)[:128]
LONG_36_CT = (
    "lwulibfp1ju3ksztumqomwenpv7duy9q7pg7zf3eg3rjlfy46gmgkqjfwvromfjjktmbey8meqk9zkcmgvkv4s9ll5ctozme1hf15w7xo6z"
    "sylqcr0nbx9jbf10umzok"
)
# Radix 2, 88 bits (zcash-test-vectors ff1.py, also in str4d/fpe's test vectors).
BINARY_VECTORS = [
    (b"", "0" * 88, "0000100100110101011101111111110011000001101100111110011101110101011010100100010011001111"),
    (
        b"",
        "0000100100110101011101111111110011000001101100111110011101110101011010100100010011001111",
        "1101101011010001100011110000010011001111110110011101010110100001111001000101011111011000",
    ),
    (b"", "01" * 44, "0000111101000001111011010111011111110001100101000000001101101110100010010111001100100110"),
    (
        bytes(range(255)),
        "01" * 44,
        "0111110110001000000111010110000100010101101000000011100111100100100010101101111010100011",
    ),
]


@pytest.mark.parametrize(("key", "alphabet", "tweak", "plaintext", "ciphertext"), NIST_SAMPLES, ids=SAMPLE_IDS)
def test_nist_samples_encrypt(key: bytes, alphabet: str, tweak: bytes, plaintext: str, ciphertext: str) -> None:
    assert FF1(key, alphabet).encrypt(plaintext, tweak) == ciphertext


@pytest.mark.parametrize(("key", "alphabet", "tweak", "plaintext", "ciphertext"), NIST_SAMPLES, ids=SAMPLE_IDS)
def test_nist_samples_decrypt(key: bytes, alphabet: str, tweak: bytes, plaintext: str, ciphertext: str) -> None:
    assert FF1(key, alphabet).decrypt(ciphertext, tweak) == plaintext


def test_nist_sample_numerals() -> None:
    cipher = FF1(KEY_256, BASE36)
    numerals = list(range(19))
    expected = [33, 28, 8, 10, 0, 10, 35, 17, 2, 10, 31, 34, 10, 21, 34, 35, 30, 32, 13]
    assert cipher.encrypt_numerals(numerals, TWEAK_11) == expected
    assert cipher.decrypt_numerals(expected, TWEAK_11) == numerals


def test_long_radix36_vector_multi_block_expansion() -> None:
    cipher = FF1(KEY_256, BASE36)
    assert cipher.encrypt(LONG_36_PT) == LONG_36_CT
    assert cipher.decrypt(LONG_36_CT) == LONG_36_PT


@pytest.mark.parametrize(
    ("tweak", "plaintext", "ciphertext"), BINARY_VECTORS, ids=["zeros", "chained", "01", "01-tweak255"]
)
def test_binary_vectors(tweak: bytes, plaintext: str, ciphertext: str) -> None:
    cipher = FF1(KEY_256, "01")
    assert cipher.encrypt(plaintext, tweak) == ciphertext
    assert cipher.decrypt(ciphertext, tweak) == plaintext


@st.composite
def _cases(draw: st.DrawFn) -> tuple[bytes, str, str, bytes]:
    key = draw(
        st.binary(min_size=16, max_size=16) | st.binary(min_size=24, max_size=24) | st.binary(min_size=32, max_size=32)
    )
    alphabet = draw(st.sampled_from([DIGITS, "0123456789abcdef", string.ascii_lowercase]))
    minimum = FF1(key, alphabet).min_length
    text = draw(st.text(alphabet=alphabet, min_size=minimum, max_size=80))
    tweak = draw(st.binary(max_size=40))
    return key, alphabet, text, tweak


@settings(max_examples=150, deadline=None)
@given(_cases())
def test_round_trip(case: tuple[bytes, str, str, bytes]) -> None:
    key, alphabet, text, tweak = case
    cipher = FF1(key, alphabet)
    encrypted = cipher.encrypt(text, tweak)
    assert len(encrypted) == len(text)
    assert set(encrypted) <= set(alphabet)
    assert cipher.decrypt(encrypted, tweak) == text


def test_tweaks_give_different_ciphertexts() -> None:
    cipher = FF1(KEY_128)
    card = "4111111111111111"
    outputs = {cipher.encrypt(card, tweak) for tweak in (b"", b"a", b"b", b"customers.card", bytes(100))}
    assert len(outputs) == 5
    assert cipher.decrypt(cipher.encrypt(card, b"a"), b"b") != card


def test_deterministic_and_keyed() -> None:
    card = "4111111111111111"
    assert FF1(KEY_128).encrypt(card) == FF1(KEY_128).encrypt(card)
    assert FF1(KEY_128).encrypt(card) != FF1(KEY_256).encrypt(card)


def test_threads_share_an_instance() -> None:
    cipher = FF1(KEY_128)
    texts = [f"{i:016d}" for i in range(200)]
    expected = [cipher.encrypt(t) for t in texts]
    results: list[list[str]] = []

    def work() -> None:
        results.append([cipher.encrypt(t) for t in texts])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [expected] * 4


@pytest.mark.parametrize("radix", [2, 3, 10, 16, 26, 36, 62, 255, 256, 1000, 65536])
def test_b_is_exact(radix: int) -> None:
    cipher = FF1(KEY_128, "".join(chr(0x100 + i) for i in range(radix)))
    for n in range(cipher.min_length, 120):
        v = n - n // 2
        domain = radix**v
        bits = max(0, int(v * math.log2(radix)) - 2)  # float estimate, then the least k with 2**k >= radix**v
        while 2**bits < domain:
            bits += 1
        layout = cipher._layout(n)
        assert layout.b == math.ceil(bits / 8)
        assert layout.d == 4 * math.ceil(layout.b / 4) + 4


@pytest.mark.parametrize("size", [0, 8, 15, 17, 31, 33, 64])
def test_bad_key_length(size: int) -> None:
    with pytest.raises(ValueError, match=f"16, 24 or 32 bytes.*got {size} bytes"):
        FF1(bytes(size))


def test_key_must_be_bytes() -> None:
    with pytest.raises(TypeError, match="key must be bytes"):
        FF1("0123456789abcdef")  # type: ignore[arg-type]


def test_char_outside_alphabet() -> None:
    with pytest.raises(ValueError, match=r"character 'x' at position 3 is not in the FF1 alphabet"):
        FF1(KEY_128).encrypt("123x56789")
    with pytest.raises(ValueError, match=r"character '-' at position 4"):
        FF1(KEY_128).decrypt("4111-1111-1111-1111")


@pytest.mark.parametrize(("alphabet", "minimum"), [(DIGITS, 6), ("0123456789abcdef", 5), ("01", 20), (BASE36, 4)])
def test_too_short(alphabet: str, minimum: int) -> None:
    cipher = FF1(KEY_128, alphabet)
    assert cipher.min_length == minimum
    with pytest.raises(ValueError, match=f"minimum length for an alphabet of {len(alphabet)} characters is {minimum}"):
        cipher.encrypt(alphabet[1] * (minimum - 1))
    with pytest.raises(ValueError, match=f"is {minimum - 1} characters long"):
        cipher.decrypt_numerals([0] * (minimum - 1))
    assert len(cipher.encrypt(alphabet[1] * minimum)) == minimum


def test_five_digits_rejected() -> None:
    with pytest.raises(ValueError, match="minimum length .* is 6"):
        FF1(KEY_128).encrypt("12345")


def test_repeated_alphabet_characters() -> None:
    with pytest.raises(ValueError, match=r"repeats character '3' \(at position 10\)"):
        FF1(KEY_128, "01234567893")


@pytest.mark.parametrize("alphabet", ["", "a", "".join(chr(i) for i in range(65537))])
def test_alphabet_size(alphabet: str) -> None:
    with pytest.raises(ValueError, match="2 to 65536 characters"):
        FF1(KEY_128, alphabet)


def test_radix_65536() -> None:
    alphabet = "".join(chr(i) for i in range(65536))
    cipher = FF1(KEY_128, alphabet)
    assert cipher.min_length == 2
    text = "\u1234\uffff\u0000"
    assert cipher.decrypt(cipher.encrypt(text)) == text


def test_numeral_out_of_range() -> None:
    with pytest.raises(ValueError, match=r"numeral 10 at position 7 is outside \[0, 10\)"):
        FF1(KEY_128).encrypt_numerals([1, 2, 3, 4, 5, 6, 7, 10])


def test_tweak_length_limit() -> None:
    cipher = FF1(KEY_128, max_tweak_length=8)
    assert cipher.decrypt(cipher.encrypt("123456", bytes(8)), bytes(8)) == "123456"
    with pytest.raises(ValueError, match="tweak is 9 bytes, more than max_tweak_length=8"):
        cipher.encrypt("123456", bytes(9))
    with pytest.raises(TypeError, match="tweak must be bytes"):
        cipher.encrypt("123456", "tweak")  # type: ignore[arg-type]
