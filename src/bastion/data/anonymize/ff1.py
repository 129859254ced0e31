"""FF1 format-preserving encryption (NIST SP 800-38G Rev. 1, Algorithms 7 and 8) over AES.

FF1 encrypts a string of numerals in base ``radix`` into another string of the same length in
the same base: a 16-digit card number stays a 16-digit number, a lowercase word stays a lowercase
word. It is a ten-round Feistel network whose round function is AES in CBC-MAC mode (the PRF of
the standard) followed by AES in counter-like expansion when more than 16 bytes are needed.

Implementation notes:

* The Feistel halves are kept as Python integers (``NUM_radix`` of each half) for the whole
  network; numerals are converted only on the way in and out, which is exact because
  ``STR_radix`` followed by ``NUM_radix`` is the identity.
* One AES-ECB context per thread is reused for every block; CBC-MAC chaining is done with
  integer XOR. (A fresh CBC context per PRF call measured roughly ten times slower, because it
  pays for the context set-up and key schedule every time.)
* The CBC-MAC state after the block ``P`` and the whole blocks of the constant ``T || 0^pad``
  start of ``Q`` is computed once per (length, tweak) and cached. What is left of ``Q`` is then a
  single block whenever ``b <= 15``, so for inputs with ``b <= 12`` (``d <= 16``: up to 28 decimal
  digits per half, i.e. 56 digits) every round is exactly one AES call, which has an unrolled loop.
* ``b = ceil(ceil(v * log2(radix)) / 8)`` is computed exactly as ``ceil(bitlen(radix**v - 1) / 8)``,
  since ``ceil(log2(N)) == (N - 1).bit_length()`` for every integer ``N >= 1``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from cryptography.hazmat.primitives.ciphers import Cipher, CipherContext, algorithms, modes

__all__ = ["FF1"]

_ROUNDS = 10
_BLOCK = 16
_MIN_DOMAIN = 1_000_000
_MAX_LEN = 2**32
_MAX_RADIX = 2**16
_CACHE_LIMIT = 4096

_K = TypeVar("_K")
_V = TypeVar("_V")


@dataclass(frozen=True, slots=True)
class _Layout:
    """Everything FF1 derives from the input length ``n`` alone (steps 1, 3, 4 and part of 5)."""

    u: int
    v: int
    b: int
    d: int
    mods: tuple[int, int]
    """``(radix**u, radix**v)``: the modulus of the even rounds, then of the odd rounds."""

    @property
    def one_block(self) -> bool:
        """Whether every round is one AES block of CBC-MAC and ``S`` is a prefix of ``R`` (b <= 12)."""
        return self.d <= _BLOCK

    @property
    def shift(self) -> int:
        """Right shift taking ``R`` (as an integer) to its first ``d`` bytes when ``d <= 16``."""
        return 8 * (_BLOCK - self.d)


@dataclass(frozen=True, slots=True)
class _Rounds:
    """What FF1 derives from the length and tweak, computed once and reused by all ten rounds.

    ``Q = T || 0^pad || [i]^1 || [NUM_radix(half)]^b``. The CBC-MAC of ``P`` and of the whole
    blocks of ``T || 0^pad`` is ``state``; the bytes of ``Q`` after those blocks form ``blocks``
    16-byte blocks whose value, before the half is OR-ed in, is ``rest[i]`` for round ``i``.
    With a single block left (whenever ``b <= 15``, whatever the tweak), ``first[i] = state ^ rest[i]``
    is the whole CBC-MAC input of the round but for ``half``.
    """

    state: int
    blocks: int
    rest: tuple[int, ...]
    first: tuple[int, ...]


class FF1:
    """FF1 format-preserving cipher with a fixed AES key and alphabet.

    Args:
        key: AES key of 16, 24 or 32 bytes.
        alphabet: the characters of the numeral system, numeral ``i`` being ``alphabet[i]``;
            its length is the radix (2 to 65536) and no character may repeat.
        max_tweak_length: the largest tweak accepted, in bytes (``maxTlen`` of the standard).

    Inputs must be at least ``min_length`` numerals long, the smallest length whose domain
    ``radix ** length`` holds a million values (6 for decimal digits), and at most 2**32.
    An instance may be shared between threads: each thread gets its own AES context.
    """

    def __init__(self, key: bytes, alphabet: str = "0123456789", max_tweak_length: int = 256) -> None:
        """Check the key, alphabet and tweak bound, and prepare the AES key schedule."""
        if not isinstance(key, bytes | bytearray | memoryview):
            raise TypeError(f"FF1 key must be bytes, got {type(key).__name__}")
        if len(key) not in (16, 24, 32):
            raise ValueError(f"FF1 key must be 16, 24 or 32 bytes (AES-128/192/256), got {len(key)} bytes")
        _check_alphabet(alphabet)
        if not 0 <= max_tweak_length < _MAX_LEN:
            raise ValueError(f"max_tweak_length must be between 0 and {_MAX_LEN - 1}, got {max_tweak_length}")
        self._cipher = Cipher(algorithms.AES(bytes(key)), modes.ECB())
        self._local = threading.local()
        self.alphabet = alphabet
        self.radix = len(alphabet)
        self.max_tweak_length = max_tweak_length
        self.min_length = _min_length(self.radix)
        self._index = {ch: i for i, ch in enumerate(alphabet)}
        shown = alphabet if len(alphabet) <= 64 else alphabet[:61] + "..."
        self._alphabet_name = f"FF1 alphabet {shown!r} ({self.radix} characters)"
        self._layouts: dict[int, _Layout] = {}
        self._rounds: dict[tuple[int, bytes], _Rounds] = {}

    def encrypt(self, text: str, tweak: bytes = b"") -> str:
        """Encrypt ``text`` (characters of the alphabet) into a string of the same length."""
        return self._to_text(self.encrypt_numerals(self._to_numerals(text), tweak))

    def decrypt(self, text: str, tweak: bytes = b"") -> str:
        """Decrypt ``text`` produced by :meth:`encrypt` with the same key, alphabet and tweak."""
        return self._to_text(self.decrypt_numerals(self._to_numerals(text), tweak))

    def encrypt_numerals(self, numerals: Sequence[int], tweak: bytes = b"") -> list[int]:
        """FF1.Encrypt (Algorithm 7) on a numeral string: each numeral an int in ``[0, radix)``."""
        layout, a, b = self._split(numerals)
        enc, rounds = self._round_setup(len(numerals), tweak)
        return self._join(layout, *_encrypt_halves(enc, rounds, layout, a, b))

    def decrypt_numerals(self, numerals: Sequence[int], tweak: bytes = b"") -> list[int]:
        """FF1.Decrypt (Algorithm 8) on a numeral string: each numeral an int in ``[0, radix)``."""
        layout, a, b = self._split(numerals)
        enc, rounds = self._round_setup(len(numerals), tweak)
        return self._join(layout, *_decrypt_halves(enc, rounds, layout, a, b))

    # -- per-length and per-tweak set-up -------------------------------------------------------

    def _round_setup(self, n: int, tweak: bytes) -> tuple[CipherContext, _Rounds]:
        """This thread's AES context and the :class:`_Rounds` for length ``n`` and ``tweak``."""
        if not isinstance(tweak, bytes | bytearray | memoryview):
            raise TypeError(f"FF1 tweak must be bytes, got {type(tweak).__name__}")
        if len(tweak) > self.max_tweak_length:
            raise ValueError(f"FF1 tweak is {len(tweak)} bytes, more than max_tweak_length={self.max_tweak_length}")
        enc = self._encryptor()
        key = (n, bytes(tweak))
        rounds = self._rounds.get(key)
        if rounds is None:
            rounds = self._make_rounds(enc, self._layout(n), n, key[1])
            _remember(self._rounds, key, rounds)
        return enc, rounds

    def _make_rounds(self, enc: CipherContext, layout: _Layout, n: int, tweak: bytes) -> _Rounds:
        """Step 5 and the constant part of step 6.i: run CBC-MAC over ``P`` and the tweak's whole blocks."""
        t = len(tweak)
        p = bytes((1, 2, 1)) + self.radix.to_bytes(3, "big") + bytes((10, layout.u % 256))
        p += n.to_bytes(4, "big") + t.to_bytes(4, "big")
        constant = tweak + bytes((-t - layout.b - 1) % _BLOCK)
        whole = len(constant) - len(constant) % _BLOCK
        state = _cbc_mac(enc, 0, p + constant[:whole])
        tail = int.from_bytes(constant[whole:], "big") << (8 * (layout.b + 1))
        rest = tuple(tail | (i << (8 * layout.b)) for i in range(_ROUNDS))
        blocks = (len(constant) - whole + 1 + layout.b) // _BLOCK
        return _Rounds(state, blocks, rest, tuple(state ^ q for q in rest))

    def _encryptor(self) -> CipherContext:
        """The calling thread's AES-ECB context (ECB contexts keep no state between whole blocks)."""
        enc: CipherContext | None = getattr(self._local, "enc", None)
        if enc is None:
            enc = self._cipher.encryptor()
            self._local.enc = enc
        return enc

    # -- numerals, halves and lengths ----------------------------------------------------------

    def _layout(self, n: int) -> _Layout:
        """The cached :class:`_Layout` for length ``n`` (assumed already validated)."""
        layout = self._layouts.get(n)
        if layout is None:
            u = n // 2
            v = n - u
            mod_v = self.radix**v
            b = ((mod_v - 1).bit_length() + 7) // 8
            layout = _Layout(u, v, b, 4 * ((b + 3) // 4) + 4, (self.radix**u, mod_v))
            _remember(self._layouts, n, layout)
        return layout

    def _split(self, numerals: Sequence[int]) -> tuple[_Layout, int, int]:
        """Check the length and numerals, then return the layout and ``NUM_radix`` of both halves."""
        n = len(numerals)
        if not self.min_length <= n <= _MAX_LEN:
            raise ValueError(
                f"FF1 input is {n} characters long: the minimum length for an alphabet of {self.radix} characters "
                f"is {self.min_length} (radix**length >= {_MIN_DOMAIN:,}) and the maximum is 2**32"
            )
        layout = self._layout(n)
        return layout, self._num(numerals[: layout.u], 0), self._num(numerals[layout.u :], layout.u)

    def _num(self, numerals: Sequence[int], offset: int) -> int:
        """``NUM_radix``: the integer a numeral string stands for, most significant numeral first."""
        radix = self.radix
        value = 0
        for pos, x in enumerate(numerals):
            if not 0 <= x < radix:
                raise ValueError(f"numeral {x!r} at position {offset + pos} is outside [0, {radix})")
            value = value * radix + x
        return value

    def _join(self, layout: _Layout, a: int, b: int) -> list[int]:
        """``STR_radix^u(a) || STR_radix^v(b)``: the output numeral string."""
        return _str_radix(a, self.radix, layout.u) + _str_radix(b, self.radix, layout.v)

    def _to_numerals(self, text: str) -> list[int]:
        """Map characters to numerals, naming the first character not in the alphabet."""
        index = self._index
        try:
            return [index[ch] for ch in text]
        except KeyError:
            pos, ch = next((p, c) for p, c in enumerate(text) if c not in index)
            raise ValueError(f"character {ch!r} at position {pos} is not in the {self._alphabet_name}") from None

    def _to_text(self, numerals: list[int]) -> str:
        """Map numerals back to characters of the alphabet."""
        alphabet = self.alphabet
        return "".join([alphabet[x] for x in numerals])


def _encrypt_halves(enc: CipherContext, rounds: _Rounds, layout: _Layout, a: int, b: int) -> tuple[int, int]:
    """Step 6 of Algorithm 7 on the halves as integers; returns ``(NUM_radix(A), NUM_radix(B))``."""
    mods = layout.mods
    if layout.one_block:  # the common case, unrolled: one AES call per round
        update, first, shift = enc.update, rounds.first, layout.shift
        for i in range(_ROUNDS):
            y = int.from_bytes(update((first[i] ^ b).to_bytes(_BLOCK, "big")), "big") >> shift
            a, b = b, (a + y) % mods[i & 1]
        return a, b
    for i in range(_ROUNDS):
        a, b = b, (a + _round_value(enc, rounds, layout, i, b)) % mods[i & 1]
    return a, b


def _decrypt_halves(enc: CipherContext, rounds: _Rounds, layout: _Layout, a: int, b: int) -> tuple[int, int]:
    """Step 6 of Algorithm 8 on the halves as integers; returns ``(NUM_radix(A), NUM_radix(B))``."""
    mods = layout.mods
    if layout.one_block:
        update, first, shift = enc.update, rounds.first, layout.shift
        for i in reversed(range(_ROUNDS)):
            y = int.from_bytes(update((first[i] ^ a).to_bytes(_BLOCK, "big")), "big") >> shift
            a, b = (b - y) % mods[i & 1], a
        return a, b
    for i in reversed(range(_ROUNDS)):
        a, b = (b - _round_value(enc, rounds, layout, i, a)) % mods[i & 1], a
    return a, b


def _round_value(enc: CipherContext, rounds: _Rounds, layout: _Layout, i: int, half: int) -> int:
    """Steps 6.i-6.iv in general: ``y = NUM(S)`` for round ``i``, ``half`` being ``NUM_radix`` of B (or A)."""
    if rounds.blocks == 1:
        r = int.from_bytes(enc.update((rounds.first[i] ^ half).to_bytes(_BLOCK, "big")), "big")
    else:
        r = _cbc_mac(enc, rounds.state, (rounds.rest[i] | half).to_bytes(_BLOCK * rounds.blocks, "big"))
    if layout.one_block:
        return r >> layout.shift
    return int.from_bytes(_expand(enc, r, layout.d), "big")


def _cbc_mac(enc: CipherContext, state: int, data: bytes) -> int:
    """Continue a CBC-MAC (zero IV at the start) from chaining value ``state`` over ``data``."""
    for start in range(0, len(data), _BLOCK):
        block = state ^ int.from_bytes(data[start : start + _BLOCK], "big")
        state = int.from_bytes(enc.update(block.to_bytes(_BLOCK, "big")), "big")
    return state


def _expand(enc: CipherContext, r: int, d: int) -> bytes:
    """Step 6.iii: ``S = R || CIPH(R ^ [1]^16) || CIPH(R ^ [2]^16) || ...`` cut to ``d`` bytes."""
    count = (d + _BLOCK - 1) // _BLOCK
    blocks = b"".join((r ^ j).to_bytes(_BLOCK, "big") for j in range(1, count))
    return (r.to_bytes(_BLOCK, "big") + enc.update(blocks))[:d]


def _str_radix(x: int, radix: int, m: int) -> list[int]:
    """``STR_radix^m``: the ``m`` numerals of ``x`` (``x < radix**m``), most significant first."""
    out = [0] * m
    for pos in range(m - 1, -1, -1):
        if not x:
            break
        x, out[pos] = divmod(x, radix)
    return out


def _min_length(radix: int) -> int:
    """The least ``minlen >= 2`` with ``radix**minlen >= 1,000,000`` (SP 800-38G Rev. 1, 5.2)."""
    length = 2
    while radix**length < _MIN_DOMAIN:
        length += 1
    return length


def _check_alphabet(alphabet: str) -> None:
    """Reject alphabets outside 2..65536 characters and alphabets that repeat a character."""
    if not 2 <= len(alphabet) <= _MAX_RADIX:
        raise ValueError(f"FF1 alphabet must have 2 to {_MAX_RADIX} characters, got {len(alphabet)}")
    if len(set(alphabet)) != len(alphabet):
        seen: set[str] = set()
        for pos, ch in enumerate(alphabet):
            if ch in seen:
                raise ValueError(f"FF1 alphabet repeats character {ch!r} (at position {pos})")
            seen.add(ch)


def _remember(cache: dict[_K, _V], key: _K, value: _V) -> None:
    """Store ``value`` in a bounded cache, emptying it when it grows past its limit."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
