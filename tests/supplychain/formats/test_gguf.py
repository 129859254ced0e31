"""GGUF analyser: header parsing (v1-v3, both byte orders), parser-overflow triggers, tensor layout, templates.

Samples are written by the small writer below (the layout of gguf-py's GGUFWriter: metadata, tensor infos,
padding to the alignment, tensors in order, each padded to the alignment).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bastion.config import Limits, Settings
from bastion.findings import Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain.formats.gguf import ANALYZER, GGML_TYPES
from bastion.supplychain.formats.interface import Blob
from bastion.supplychain.modelfiles import ModelFileCheck
from bastion.supplychain.pickle import BufferSource
from bastion.taxonomy import rule

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
U8, I32, U32, F32, BOOL, STR, ARR, U64 = 0, 5, 4, 6, 7, 8, 9, 10
_FMT = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
BENIGN_TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}{% endfor %}"
EVIL_TEMPLATE = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"


# ---- a test-side GGUF writer ----
@dataclass
class Writer:
    version: int = 3
    order: str = "<"

    def pack(self, fmt: str, *values: object) -> bytes:
        return struct.pack(self.order + fmt, *values)

    def count(self, n: int) -> bytes:
        return self.pack("Q" if self.version >= 2 else "I", n)

    def string(self, text: str | bytes) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        return self.count(len(raw)) + raw

    def value(self, kind: int, value: object) -> bytes:
        if kind == STR:
            assert isinstance(value, (str, bytes))
            return self.string(value)
        if kind == ARR:
            assert isinstance(value, tuple)
            elem, items = value
            return self.pack("I", elem) + self.count(len(items)) + b"".join(self.value(elem, i) for i in items)
        return self.pack(_FMT[kind], value)


Tensor = tuple[str, tuple[int, ...], int] | tuple[str, tuple[int, ...], int, int]


def nbytes(dims: tuple[int, ...], ggml_type: int) -> int:
    _, block, size = GGML_TYPES[ggml_type]
    count = 1
    for d in dims:
        count *= d
    return count // block * size


def gguf(kv: Sequence[tuple[str, int, object]] = (), tensors: Sequence[Tensor] = (), version: int = 3,
         order: str = "<", alignment: int = 32, data: bool = True) -> bytes:
    """A GGUF file; a tensor given a fourth item is placed at that offset instead of the next free one."""
    w = Writer(version, order)
    head = [b"GGUF", w.pack("I", version), w.count(len(tensors)), w.count(len(kv))]
    for key, kind, value in kv:
        head += [w.string(key), w.pack("I", kind), w.value(kind, value)]
    offset = end = 0
    for tensor in tensors:
        name, dims, ggml_type, *placed = tensor
        at = placed[0] if placed else offset
        head.append(w.string(name) + w.pack("I", len(dims)) + b"".join(w.count(d) for d in dims)
                    + w.pack("I", ggml_type) + w.pack("Q", at))
        size = nbytes(dims, ggml_type)
        offset = -(-(at + size) // alignment) * alignment
        end = max(end, at + size)
    out = b"".join(head)
    out += b"\0" * (-len(out) % alignment)
    return out + (bytes(range(256)) * (end // 256 + 1))[:end] if data else out


KV: list[tuple[str, int, object]] = [
    ("general.architecture", STR, "llama"), ("general.name", STR, "Tiny Llama"), ("general.license", STR, "mit"),
    ("general.alignment", U32, 32), ("general.file_type", U32, 15),
    ("general.tags", ARR, (STR, ["text-generation", "llama"])), ("llama.context_length", U32, 2048),
    ("llama.rope.freq_base", F32, 10000.0), ("tokenizer.ggml.add_bos_token", BOOL, True),
    ("tokenizer.ggml.tokens", ARR, (STR, [f"tok{i}" for i in range(500)])),
    ("tokenizer.ggml.scores", ARR, (F32, [0.0] * 500)), ("tokenizer.ggml.token_type", ARR, (I32, [1] * 500)),
    ("tokenizer.chat_template", STR, BENIGN_TEMPLATE),
]
TENSORS: list[Tensor] = [("token_embd.weight", (256, 8), 12), ("blk.0.attn_q.weight", (256, 4), 14),
                         ("output_norm.weight", (256,), 0), ("output.weight", (64, 2), 1)]


# ---- running the analyser ----
@dataclass
class Recorder:
    """A Report that keeps everything; fails on unknown rule ids."""

    deadline: float = field(default_factory=lambda: time.monotonic() + 30)
    limits: Limits = field(default_factory=Limits)
    findings: list[tuple[str, Severity, str, int | None]] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        self.findings.append((rule_id, severity or rule(rule_id).severity, title, offset))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(why)

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        raise AssertionError("GGUF has no nested content")

    def rules(self, at_least: Severity = Severity.INFO) -> set[str]:
        return {f[0] for f in self.findings if f[1] >= at_least}


class CountingSource(BufferSource):
    """Counts the bytes the analyser reads."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.read = 0

    def read_at(self, offset: int, length: int) -> bytes:
        chunk = super().read_at(offset, length)
        self.read += len(chunk)
        return chunk


def blob_of(data: bytes, source: BufferSource | None = None) -> Blob:
    return Blob(source or BufferSource(data), len(data), data[:512], None, "model.gguf", None,
                lambda: memoryview(data))


def analyse(data: bytes, deadline: float | None = None) -> Recorder:
    report = Recorder() if deadline is None else Recorder(deadline=deadline)
    blob = blob_of(data)
    assert ANALYZER.sniff(blob)
    ANALYZER.analyse(blob, report)
    return report


def examine(path: Path) -> CheckOutcome:
    return ModelFileCheck(analyzers=(ANALYZER,)).examine(Target(str(path), path, path.stat().st_size), Settings())


# ---- clean files ----
@pytest.mark.parametrize(("version", "order"), [(3, "<"), (2, "<"), (1, "<"), (3, ">")])
def test_clean_file_facts_and_no_findings(version: int, order: str) -> None:
    report = analyse(gguf(KV, TENSORS, version=version, order=order))
    assert report.findings == [] and report.incomplete == []
    facts = report.facts
    assert facts["format"] == "gguf" and facts["architecture"] == "llama" and facts["gguf.name"] == "Tiny Llama"
    assert facts["license"] == "mit" and facts["task"] == "text-generation" and facts["gguf.version"] == version
    assert facts["tensors"] == 4 and facts["parameters"] == 256 * 8 + 256 * 4 + 256 + 128
    assert facts["dtype"] == "Q4_K" and facts["gguf.file_type"] == "Q4_K_M"
    assert ("gguf.byte_order" in facts) == (order == ">")


def test_end_to_end_through_model_file_check(tmp_path: Path) -> None:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(gguf(KV, TENSORS))
    outcome = examine(path)
    assert outcome.kind == "gguf" and outcome.findings == [] and outcome.incomplete == []
    assert outcome.facts["parameters"] == 3456


def test_custom_alignment_and_empty_tensors_are_clean() -> None:
    kv = [("general.alignment", U32, 64)]
    assert analyse(gguf(kv, TENSORS, alignment=64)).findings == []
    assert analyse(gguf([("general.architecture", STR, "bert")])).facts.get("tensors") is None


def test_reads_only_the_header() -> None:
    data = gguf(KV, [*TENSORS, ("big.weight", (4096, 1024), 0)])  # 16 MiB of tensor data
    source = CountingSource(data)
    report = Recorder()
    ANALYZER.analyse(blob_of(data, source), report)
    assert report.findings == [] and source.read < 2 * 1024 * 1024 < len(data)


def test_large_vocabulary_is_fast() -> None:
    kv = [("tokenizer.ggml.tokens", ARR, (STR, [f"token-{i}" for i in range(200_000)])),
          ("tokenizer.ggml.merges", ARR, (STR, [f"a b{i}" for i in range(200_000)]))]
    started = time.monotonic()
    report = analyse(gguf(kv, TENSORS))
    assert report.findings == [] and report.incomplete == [] and time.monotonic() - started < 3


def test_nested_arrays_are_walked_and_bounded() -> None:
    nested = ("x.nested", ARR, (ARR, [(U32, [1, 2]), (STR, ["a", "b"])]))
    assert analyse(gguf([nested], TENSORS)).findings == []
    deep: tuple[int, object] = (U8, [1])
    for _ in range(5):
        deep = (ARR, [deep])
    report = analyse(gguf([("x.deep", ARR, deep)], TENSORS))
    assert report.findings == [] and "nests deeper" in report.incomplete[0]


# ---- chat templates ----
def test_malicious_chat_template_is_found_at_its_offset() -> None:
    data = gguf([*KV, ("tokenizer.chat_template.tool_use", STR, EVIL_TEMPLATE)], TENSORS)
    report = analyse(data)
    found = {f[0]: f for f in report.findings}
    assert found["BST-TPL-001"][1] is Severity.CRITICAL and found["BST-TPL-003"][1] is Severity.CRITICAL
    offset = found["BST-TPL-001"][3]
    assert offset is not None and data[offset:offset + len(EVIL_TEMPLATE)] == EVIL_TEMPLATE.encode()
    assert "tool_use" not in found["BST-TPL-001"][2] and "__globals__" in found["BST-TPL-001"][2]


def test_template_under_the_main_key_with_a_syntax_error_is_low() -> None:
    report = analyse(gguf([("tokenizer.chat_template", STR, "{% for m in messages %}")], TENSORS))
    assert [(f[0], f[1]) for f in report.findings] == [("BST-TPL-005", Severity.LOW)]


# ---- parser-overflow triggers (high) ----
def _patch(data: bytes, at: int, value: bytes) -> bytes:
    return data[:at] + value + data[at + len(value):]


@pytest.mark.parametrize(("name", "mutate"), [
    ("n_tensors", lambda d: _patch(d, 8, struct.pack("<Q", 0x1D1D1D1D1D1D1D1D))),
    ("n_kv", lambda d: _patch(d, 16, struct.pack("<Q", 0xFFFFFFFF))),
    ("key length", lambda d: _patch(d, 24, struct.pack("<Q", 1 << 62))),
    ("token length", lambda d: _patch(d, d.index(b"tok7") - 8, struct.pack("<Q", (1 << 64) - 1))),
    ("array length", lambda d: _patch(d, d.index(b"tok0") - 16, struct.pack("<Q", 1 << 40))),
])
def test_absurd_counts_are_high_and_stop_parsing(name: str, mutate: Callable[[bytes], bytes]) -> None:
    report = analyse(mutate(gguf(KV, TENSORS)))
    assert report.rules(Severity.HIGH) == {"BST-GGUF-001"}, (name, report.findings)
    assert report.incomplete and "GGUF header" in report.incomplete[0]


@pytest.mark.parametrize(("tensor", "title"), [
    (("t", (32, 1, 1, 1, 1), 0), "declares 5 dimensions"),
    (("t", (32, (1 << 64) - 1), 0), "negative dimension"),
    (("t", (1 << 40, 1 << 40), 0), "size overflows"),
])
def test_invalid_tensor_shapes_are_high(tensor: Tensor, title: str) -> None:
    report = analyse(gguf(KV, [tensor], data=False))
    assert report.rules(Severity.HIGH) == {"BST-GGUF-001"} and title in report.findings[0][2]


def test_too_many_dimensions_stop_parsing() -> None:
    report = analyse(gguf(KV, [("t", (32,) + (1,) * 8, 0)]))
    assert report.rules() == {"BST-GGUF-001"} and report.incomplete


# ---- layout (high) and truncation (medium) ----
def test_overlapping_tensors_are_high() -> None:
    report = analyse(gguf(KV, [("a", (64,), 0, 0), ("b", (32,), 0, 128), ("c", (32,), 0, 64)]))
    assert report.rules() == {"BST-GGUF-002"}
    assert "overlap" in report.findings[0][2] and "1 more" in report.findings[0][2]


def test_tensor_far_beyond_the_file_is_high() -> None:
    report = analyse(gguf(KV, [("a", (64,), 0, 0), ("b", (32,), 0, 1 << 40)], data=False))
    assert report.rules() == {"BST-GGUF-002"} and "beyond the end" in report.findings[0][2]


def test_truncated_download_is_medium_not_high() -> None:
    data = gguf(KV, TENSORS)
    cut_data = analyse(data[:-100])
    assert [(f[0], f[1]) for f in cut_data.findings] == [("BST-GGUF-003", Severity.MEDIUM)]
    cut_header = analyse(data[:600])
    assert cut_header.rules() == {"BST-GGUF-003"} and cut_header.incomplete


@pytest.mark.parametrize(("kv", "tensors", "title"), [
    ([*KV, ("general.name", STR, "again")], TENSORS, "Duplicate GGUF metadata key"),
    (KV, [*TENSORS, ("output.weight", (32,), 0)], "Duplicate GGUF tensor name"),
    ([("general.alignment", U32, 48)], TENSORS, "Invalid GGUF general.alignment"),
    ([("general.alignment", I32, 32)], TENSORS, "not a uint32"),
    (KV, [("a", (32,), 0, 0), ("b", (32,), 0, 136)], "Misaligned"),
    (KV, [("n" * 80, (32,), 0)], "Over-long GGUF tensor name"),
    (KV, [("q", (100,), 12)], "do not fill whole blocks"),
])
def test_format_violations_are_medium(kv: list[tuple[str, int, object]], tensors: list[Tensor], title: str) -> None:
    report = analyse(gguf(kv, tensors))
    assert report.rules() == {"BST-GGUF-003"} and title in report.findings[0][2], report.findings


def test_unknown_types_are_medium() -> None:
    data = gguf(KV, TENSORS)
    key = data.index(b"general.license") + len(b"general.license")
    bad_value = analyse(_patch(data, key, struct.pack("<I", 13)))
    assert bad_value.rules() == {"BST-GGUF-003"} and bad_value.incomplete
    bad_tensor = analyse(gguf(KV, [("a", (32,), 0)]).replace(b"a" + struct.pack("<IQI", 1, 32, 0),
                                                             b"a" + struct.pack("<IQI", 1, 32, 77)))
    assert bad_tensor.rules() == {"BST-GGUF-003"} and "Unknown ggml type 77" in bad_tensor.findings[0][2]


# ---- recognition and bounds ----
@pytest.mark.parametrize("head", [b"GGUF is a file format for models\n", b"GGML\x03\0\0\0" + b"\0" * 32,
                                  b"GGUF\0\0\0\0" + b"\0" * 32, b"GGU"])
def test_sniff_is_strict(head: bytes) -> None:
    assert not ANALYZER.sniff(blob_of(head))


def test_future_version_is_not_examined() -> None:
    report = analyse(b"GGUF" + struct.pack("<I", 4) + b"\0" * 64)
    assert report.findings == [] and "version 4" in report.incomplete[0]


def test_deadline_stops_parsing() -> None:
    report = analyse(gguf(KV, TENSORS), deadline=time.monotonic() - 1)
    assert report.findings == [] and "time limit" in report.incomplete[0]


# ---- fuzzing: nothing may raise ----
def _never_raises(data: bytes) -> None:
    blob = blob_of(data)
    if ANALYZER.sniff(blob):
        report = Recorder(deadline=time.monotonic() + 5)
        ANALYZER.analyse(blob, report)
        for rule_id, _, _, _ in report.findings:
            assert rule_id.startswith(("BST-GGUF-", "BST-TPL-"))


@FUZZ
@given(st.sampled_from([1, 2, 3]), st.sampled_from(["<", ">"]), st.binary(max_size=600))
def test_random_headers_never_raise(version: int, order: str, tail: bytes) -> None:
    _never_raises(b"GGUF" + struct.pack(order + "I", version) + tail)


SAMPLE = gguf([*KV, ("tokenizer.chat_template.x", STR, EVIL_TEMPLATE), ("x.nested", ARR, (ARR, [(U8, [1])]))],
              TENSORS, version=3)
SAMPLE_V1 = gguf(KV[:6], TENSORS, version=1)


@FUZZ
@given(st.sampled_from([SAMPLE, SAMPLE_V1]),
       st.lists(st.tuples(st.integers(min_value=0, max_value=8000), st.integers(min_value=0, max_value=255)),
                max_size=6),
       st.integers(min_value=8, max_value=9000))
def test_mutated_samples_never_raise(sample: bytes, flips: list[tuple[int, int]], keep: int) -> None:
    data = bytearray(sample)
    for at, value in flips:
        data[at % len(data)] = value
    _never_raises(bytes(data[:keep]))
