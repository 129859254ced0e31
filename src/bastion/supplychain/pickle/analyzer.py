"""Turn what the static pickle machine sees into hits: policy verdicts, calls, state injection, nested pickles."""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import re
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from bastion.findings import Severity
from bastion.supplychain.pickle.machine import Machine, MachineLimits, PickleError, PickleLimitError
from bastion.supplychain.pickle.policy import Policy, normalise
from bastion.supplychain.pickle.values import (
    INERT,
    PERSISTENT,
    Box,
    BufferSource,
    Bytes,
    Call,
    Global,
    LongText,
    Source,
    short_repr,
)

MAX_NESTED_BYTES = 64 * 1024 * 1024


@dataclass
class Hit:
    """One distinct problem in a stream: a rule broken by one global (or one construct)."""

    rule_id: str
    severity: Severity
    subject: str
    """The dotted global (or construct) the hit is about."""
    why: str
    offset: int
    member_suffix: str = ""
    """Appended to the member name for hits inside nested pickles (``!nested@123``)."""
    imports: int = 1
    calls: int = 0
    evidence: str = ""


@dataclass
class StreamResult:
    """Everything learned from one pickle stream."""

    hits: list[Hit] = field(default_factory=list)
    pickles: int = 0
    """Stacked pickles that ran to STOP."""
    opcodes: int = 0
    malformed: PickleError | None = None
    """The error that stopped the first pickle, if any."""
    limit: PickleLimitError | None = None
    """The bound that stopped examination, if any."""
    trailing_bytes: int = 0
    """Bytes after the last complete pickle that are not a pickle (raw tensors in legacy formats)."""
    nested_incomplete: list[str] = field(default_factory=list)
    """Nested payloads that could not be examined, with why."""


@dataclass(frozen=True)
class AnalysisLimits:
    """Bounds for one target's pickle analysis."""

    machine: MachineLimits = MachineLimits()
    max_depth: int = 8
    """Nesting depth of pickles inside pickles."""
    max_nested_bytes: int = MAX_NESTED_BYTES
    """Largest nested payload decoded and scanned."""


def _const_bytes(value: object) -> bytes | None:
    if isinstance(value, Call):
        value = value.value
    if isinstance(value, Bytes) and value.length <= MAX_NESTED_BYTES:
        return value.data()
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return None


def _const_text(value: object) -> str | None:
    if isinstance(value, Call):
        value = value.value
    return value if isinstance(value, str) else None


def _zlib(data: bytes) -> bytes:
    out = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data, MAX_NESTED_BYTES)
    return out


def _stream(factory: Callable[[], bz2.BZ2Decompressor | lzma.LZMADecompressor]) -> Callable[[bytes], bytes]:
    def run(data: bytes) -> bytes:
        return factory().decompress(data, MAX_NESTED_BYTES)

    return run


_BYTE_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "base64.b64decode": lambda d: base64.b64decode(d),
    "base64.standard_b64decode": lambda d: base64.standard_b64decode(d),
    "base64.urlsafe_b64decode": lambda d: base64.urlsafe_b64decode(d),
    "base64.decodebytes": base64.decodebytes,
    "base64.b32decode": lambda d: base64.b32decode(d),
    "base64.b16decode": lambda d: base64.b16decode(d, casefold=True),
    "base64.a85decode": lambda d: base64.a85decode(d),
    "base64.b85decode": lambda d: base64.b85decode(d),
    "binascii.a2b_base64": binascii.a2b_base64,
    "binascii.unhexlify": binascii.unhexlify,
    "binascii.a2b_hex": binascii.a2b_hex,
    "builtins.bytes.fromhex": lambda d: bytes.fromhex(d.decode("ascii")),
    "builtins.bytearray.fromhex": lambda d: bytes.fromhex(d.decode("ascii")),
    "zlib.decompress": _zlib,
    "gzip.decompress": _zlib,
    "bz2.decompress": _stream(bz2.BZ2Decompressor),
    "lzma.decompress": _stream(lzma.LZMADecompressor),
    "io.BytesIO": lambda d: d,
    "_io.BytesIO": lambda d: d,
    "builtins.bytes": lambda d: d,
    "builtins.bytearray": lambda d: d,
}
_CODEC_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "base64": base64.b64decode,
    "base64_codec": base64.b64decode,
    "hex": binascii.unhexlify,
    "hex_codec": binascii.unhexlify,
    "zlib": _zlib,
    "zlib_codec": _zlib,
    "bz2": _stream(bz2.BZ2Decompressor),
    "bz2_codec": _stream(bz2.BZ2Decompressor),
}


def evaluate_decoder(dotted: str, args: object) -> object:
    """Statically evaluate pure decoding calls on constants (``_codecs.encode(s, 'latin1')``, b64decode...).

    Returns a ``Bytes`` or ``str`` value, or None when the call is not a decoder or its input is not constant.
    """
    if not isinstance(args, tuple) or not args:
        return None
    first = args[0]
    try:
        if dotted in ("_codecs.encode", "codecs.encode", "builtins.str.encode", "builtins.bytes", "builtins.bytearray"):
            text = _const_text(first)
            if text is not None:
                encoding = _const_text(args[1]) if len(args) > 1 else "utf-8"
                if encoding is not None and encoding.lower().replace("_", "-") in _TEXT_CODECS:
                    raw = text.encode(encoding, "surrogatepass")
                    return Bytes(None, 0, len(raw), raw)
        if dotted in ("_codecs.decode", "codecs.decode", "builtins.bytes.decode"):
            raw_in = _const_bytes(first)
            codec = _const_text(args[1]) if len(args) > 1 else None
            if raw_in is not None and codec is not None:
                if codec.lower() in _CODEC_DECODERS:
                    out = _CODEC_DECODERS[codec.lower()](raw_in)
                    return Bytes(None, 0, len(out), out)
                return raw_in.decode(codec)
        decoder = _BYTE_DECODERS.get(dotted)
        if decoder is not None:
            raw_in = _const_bytes(first)
            if raw_in is None:
                text = _const_text(first)
                raw_in = text.encode("latin-1") if text is not None else None
            if raw_in is not None:
                out = decoder(raw_in)
                return Bytes(None, 0, len(out), out)
    except (ValueError, TypeError, LookupError, zlib.error, lzma.LZMAError, OSError, binascii.Error):
        return None
    return None


_TEXT_CODECS = {"latin1", "latin-1", "iso-8859-1", "iso8859-1", "l1", "utf-8", "utf8", "ascii", "us-ascii", "cp1252"}


_DTYPE = re.compile(r"^[<>|=]?([a-zA-Z])(\d{1,12})(?!\d)")


class StreamAnalyzer:
    """The sink for one pickle stream: applies the policy and collects hits."""

    def __init__(self, source: Source, policy: Policy, limits: AnalysisLimits, depth: int = 0) -> None:
        self.source = source
        self.policy = policy
        self.limits = limits
        self.depth = depth
        self.result = StreamResult()
        self._by_key: dict[tuple[str, str, str], Hit] = {}
        self._by_subject: dict[str, Hit] = {}  # first top-level hit per subject, for counting calls

    # ---- Sink ----
    def on_global(self, glob: Global) -> None:
        """Judge an imported name."""
        if glob.dynamic:
            self._hit("BST-PKL-006", Severity.CRITICAL, glob.dotted, "the imported name is computed at load time",
                      glob.offset)
            return
        verdict = self.policy.judge(glob.module, glob.name)
        if verdict.rule_id is not None and verdict.severity is not None:
            self._hit(verdict.rule_id, verdict.severity, _display(glob), verdict.why, glob.offset)

    def on_call(self, call: Call, opcode: str) -> None:
        """Count calls, evaluate decoders, scan payloads given to deserialisers, check argument-checked globals."""
        func = call.func
        if func is PERSISTENT:  # the loader's persistent_load supplied it (legacy torch module classes)
            return
        if not isinstance(func, Global):
            if isinstance(func, (Call, Box, Bytes, str, LongText)) or func is INERT:
                self._hit("BST-PKL-006", Severity.CRITICAL, f"<call of {short_repr(func, 60)}>",
                          f"{opcode} calls a value that is not an imported global", call.offset,
                          evidence=short_repr(call))
            return
        if func.dynamic:
            return
        module, name = normalise(func.module, func.name)
        dotted = f"{module}.{name}"
        key_hit = self._existing_hit_for(_display(func))
        if key_hit is not None:
            key_hit.calls += 1
            if not key_hit.evidence:
                key_hit.evidence = short_repr(call, 240)
        call.value = evaluate_decoder(dotted, call.args)
        if module in ("numpy.core", "numpy._core") and name == "_ufunc_reconstruct":
            self._check_ufunc(call)
        if self.policy.is_deserialiser(module, name):
            self._scan_payloads(call)

    def on_build(self, target: object, state: object, offset: int, resume_at: int) -> int | None:
        """BUILD on an imported global mutates a module or class; joblib arrays carry raw data inline."""
        if isinstance(target, Global):
            self._hit("BST-PKL-007", Severity.CRITICAL, _display(target),
                      "BUILD sets attributes on an imported module, class or function", offset,
                      evidence=f"state {short_repr(state)}")
            return None
        func = target.func if isinstance(target, Call) else None
        if isinstance(func, Global) and isinstance(state, Box) and func.name == "NumpyArrayWrapper" \
                and func.module.endswith("numpy_pickle"):
            return self._skip_joblib_array(state, offset, resume_at)
        return None

    def _skip_joblib_array(self, state: Box, offset: int, resume_at: int) -> int:
        """Where the pickle resumes after a joblib array written inline (or its inline object pickle)."""
        dtype = state.get("dtype")
        shape = state.get("shape")
        code = _const_text(dtype.args[0]) if isinstance(dtype, Call) and isinstance(dtype.args, tuple) else None
        match = _DTYPE.match(code or "")
        if match is None or not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
            raise PickleLimitError("joblib array with a dtype or shape that cannot be read statically", offset)
        if match.group(1) == "O":  # object arrays are an inline pickle of their own
            return Machine(self.source, self, self.limits.machine).run(resume_at)
        itemsize = int(match.group(2)) * (4 if match.group(1) == "U" else 1)
        count = 1
        for n in shape:
            count *= n
        if isinstance(state.get("numpy_array_alignment_bytes"), int):
            padding = self.source.read_at(resume_at, 1)
            if not padding:
                raise PickleError("joblib array padding runs past the end of the data", resume_at)
            resume_at += 1 + padding[0]
        return resume_at + count * itemsize

    def on_bytes(self, value: Bytes) -> None:
        """A byte string that starts like a pickle: scan it as an embedded pickle."""
        if self.depth >= self.limits.max_depth or value.length > self.limits.max_nested_bytes:
            return
        head = value.head(2)
        if len(head) == 2 and 2 <= head[1] <= 5:
            self._nested(value.data(), value.offset, loaded=False)

    # ---- helpers ----
    def _existing_hit_for(self, subject: str) -> Hit | None:
        return self._by_subject.get(subject)

    def _hit(
        self,
        rule_id: str,
        severity: Severity,
        subject: str,
        why: str,
        offset: int,
        evidence: str = "",
        suffix: str = "",
    ) -> Hit:
        key = (rule_id, subject, suffix)
        hit = self._by_key.get(key)
        if hit is None:
            hit = Hit(rule_id, severity, subject, why, offset, suffix, evidence=evidence)
            self._by_key[key] = hit
            if not suffix:
                self._by_subject.setdefault(subject, hit)
            self.result.hits.append(hit)
        else:
            hit.imports += 1
        return hit

    def _check_ufunc(self, call: Call) -> None:
        args = call.args if isinstance(call.args, tuple) else ()
        mod = _const_text(args[0]) if len(args) > 0 else None
        name = _const_text(args[1]) if len(args) > 1 else None
        safe = (
            mod is not None
            and name is not None
            and (mod == "numpy" or mod.startswith(("numpy.", "scipy.special")))
            and name.isidentifier()
            and not name.startswith("_")
        )
        if not safe:
            self._hit("BST-PKL-002", Severity.CRITICAL, f"numpy _ufunc_reconstruct({mod!r}, {name!r})",
                      "resolves an arbitrary module attribute by name", call.offset, evidence=short_repr(call))

    def _scan_payloads(self, call: Call) -> None:
        args = call.args if isinstance(call.args, tuple) else (call.args,)
        for arg in args:
            raw = _const_bytes(arg)
            if raw is None:
                if isinstance(arg, Bytes) and arg.length > self.limits.max_nested_bytes:
                    self.result.nested_incomplete.append(
                        f"payload of {arg.length} bytes at byte {arg.offset} exceeds the nested-scan bound")
                continue
            if self.depth >= self.limits.max_depth:
                self.result.nested_incomplete.append(f"nesting deeper than {self.limits.max_depth} at byte "
                                                     f"{call.offset}")
                continue
            self._nested(raw, call.offset, loaded=True)

    def _nested(self, raw: bytes, offset: int, loaded: bool) -> None:
        inner = analyse_stream(BufferSource(raw), self.policy, self.limits, self.depth + 1)
        suffix = f"!nested@{offset}"
        if loaded:
            for hit in inner.hits:
                self._adopt(hit, suffix)
            if inner.limit is not None:
                self.result.nested_incomplete.append(f"nested pickle at byte {offset}: {inner.limit}")
            self.result.nested_incomplete.extend(inner.nested_incomplete)
            return
        serious = [h for h in inner.hits if h.severity >= Severity.MEDIUM]
        if inner.pickles and serious:
            names = ", ".join(sorted({h.subject for h in serious}))
            worst = max(h.severity for h in serious)
            self._hit("BST-PKL-010", min(worst, Severity.HIGH), f"embedded pickle at byte {offset}",
                      f"a {len(raw)}-byte value is a pickle that imports {names}", offset,
                      evidence=names)

    def _adopt(self, hit: Hit, suffix: str) -> None:
        mine = self._hit(hit.rule_id, hit.severity, hit.subject, hit.why, hit.offset, hit.evidence,
                         suffix + hit.member_suffix)
        mine.calls += hit.calls


def _display(glob: Global) -> str:
    module, name = normalise(glob.module, glob.name)
    shown = f"{module}.{name}"
    if (module, name) != (glob.module, glob.name):
        shown += f" (written as {glob.module}.{glob.name})"
    return shown


# A payload hidden behind a spot where this emulator and the real unpickler disagree must not hide: after a
# parse error the rest of the stream is swept for global references in their textual and binary forms.
_SWEEP_TEXT = re.compile(rb"[ci]([A-Za-z_][\w.]{0,200})\n([A-Za-z_][\w.]{0,200})\n")
_SWEEP_BINARY = re.compile(
    rb"[\x8cX]\x00{0,3}[\x01-\x7f]\x00{0,3}([A-Za-z_][\w.]{0,126})(?:\x94|q.)?"
    rb"[\x8cX][\x01-\x7f]\x00{0,3}([A-Za-z_][\w.]{0,126})(?:\x94|q.)?\x93",
    re.DOTALL,
)
_MAX_SWEEP = 64 * 1024 * 1024


def sweep(source: Source, start: int, analyzer: StreamAnalyzer) -> None:
    """Report dangerous global references found anywhere after ``start`` (no emulation)."""
    data = source.read_at(start, min(source.size - start, _MAX_SWEEP))
    for pattern in (_SWEEP_TEXT, _SWEEP_BINARY):
        for match in pattern.finditer(data):
            module = match.group(1).decode("ascii", "replace")
            name = match.group(2).decode("ascii", "replace")
            verdict = analyzer.policy.judge(module, name)
            if verdict.rule_id is not None and verdict.severity is not None and verdict.severity >= Severity.HIGH:
                analyzer._hit(verdict.rule_id, verdict.severity, f"{module}.{name}",
                              f"{verdict.why} (found by a raw sweep after the parse error)", start + match.start())


def analyse_stream(source: Source, policy: Policy, limits: AnalysisLimits, depth: int = 0,
                   sweep_after_error: bool = True) -> StreamResult:
    """Run every stacked pickle in ``source`` through the static machine and collect hits.

    ``sweep_after_error=False`` keeps only what the emulation itself reached, for deciding whether unknown
    content is a pickle at all (a raw sweep finds "module\nname\n" shapes in any text)."""
    analyzer = StreamAnalyzer(source, policy, limits, depth)
    result = analyzer.result
    machine = Machine(source, analyzer, limits.machine)
    offset = 0
    while offset < source.size:
        try:
            offset = machine.run(offset)
            result.pickles += 1
        except PickleLimitError as exc:
            result.limit = exc
            break
        except (PickleError, IndexError, struct.error) as exc:
            error = exc if isinstance(exc, PickleError) else PickleError("argument runs past the end", source.size)
            if result.pickles == 0:
                result.malformed = error
            else:
                result.trailing_bytes = source.size - offset
            if sweep_after_error:
                sweep(source, min(error.offset, offset) if result.pickles else error.offset, analyzer)
            break
    result.opcodes = machine.opcodes
    return result
