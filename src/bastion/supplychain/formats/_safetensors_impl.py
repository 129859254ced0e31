"""The analysis half of ``safetensors``: the layout checks and the metadata classifier, imported only when a
safetensors file or shard index is analysed (``safetensors`` keeps the analyser, its ``sniff`` and the header
parse that ``sniff`` and ``analyse`` share).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bastion.findings import Severity
from bastion.supplychain.formats.interface import Blob, Report
from bastion.supplychain.formats.safetensors import _WS, _Header, _short
from bastion.taxonomy import rule

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

__all__ = ["CRATE_MAX_HEADER"]

CRATE_MAX_HEADER = 100_000_000
_U64 = 1 << 64
_FIELDS = ("dtype", "shape", "data_offsets")
_DTYPE_BITS = {
    "BOOL": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6, "U8": 8, "I8": 8, "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8,
    "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8, "I16": 16, "U16": 16, "F16": 16, "BF16": 16, "I32": 32, "U32": 32,
    "F32": 32, "C64": 64, "F64": 64, "I64": 64, "U64": 64,
}
"""Every dtype the reference crate accepts, with its width in bits (F4/F6 are packed sub-byte types)."""
_FRAMEWORKS = {"pt": "pytorch", "tf": "tensorflow", "flax": "flax", "np": "numpy", "numpy": "numpy", "mlx": "mlx",
               "paddle": "paddlepaddle"}
_PER_RULE = 20
"""Findings reported per rule and file; the rest are summarised in one more finding."""
_CHECK_EVERY = 4096
_VALUE_CHARS = 4 << 20
"""Characters of one metadata value that are classified."""
_METADATA_CHARS = 16 << 20
"""Characters of metadata classified per file."""
_MAX_BLOBS = 64
"""Encoded blobs decoded per metadata value."""
_MAX_BLOB_CHARS = 16 << 20


@dataclass(frozen=True)
class _Tensor:
    """A tensor entry that passed the per-entry checks."""

    name: str
    dtype: str
    begin: int
    end: int
    elements: int
    needed: int
    """Bytes prod(shape) x dtype width requires (rounded up for sub-byte dtypes)."""


@dataclass(frozen=True)
class _Signal:
    """One thing the metadata classifier found in one value."""

    rule_id: str
    severity: Severity
    what: str
    excerpt: str


@dataclass(frozen=True)
class _Spec:
    """One text pattern of the metadata classifier."""

    rule_id: str
    severity: Severity
    what: str
    pattern: str
    needs_untrusted_url: bool = False
    """Only counts when the match names a URL outside the trusted hosts (a download from github is fine)."""


# ---- reporting helpers ----
class _Sink:
    """Findings of one blob, at most ``_PER_RULE`` per rule; the rest are summarised by ``flush``."""

    def __init__(self, report: Report, member: str | None) -> None:
        self.report = report
        self.member = member
        self.counts: dict[str, int] = {}
        self.worst: dict[str, Severity] = {}

    def add(self, rule_id: str, title: str, detail: str, offset: int | None, evidence: str = "",
            severity: Severity | None = None) -> None:
        count = self.counts[rule_id] = self.counts.get(rule_id, 0) + 1
        if count <= _PER_RULE:
            self.report.add(rule_id, title, detail, self.member, offset, evidence, severity)
            return
        level = severity if severity is not None else rule(rule_id).severity
        self.worst[rule_id] = max(level, self.worst.get(rule_id, Severity.INFO))

    def flush(self) -> None:
        for rule_id, level in self.worst.items():
            more = self.counts[rule_id] - _PER_RULE
            entry = rule(rule_id)
            self.report.add(rule_id, f"{entry.title}: {more} more occurrence{'s' if more != 1 else ''}",
                            f"{more} further findings of this rule in the same file are not listed one by one; "
                            f"the worst of them is {level.label}.", self.member, None, severity=level)


def _sub(member: str | None, name: str) -> str:
    return f"{member}!{name}" if member else name


def _timed_out(report: Report, member: str | None, what: str) -> bool:
    if time.monotonic() <= report.deadline:
        return False
    report.not_examined(member, f"time limit reached while checking {what}")
    return True


# ---- the binary file ----
def _analyse_file(blob: Blob, header: _Header, report: Report) -> None:
    report.fact("format", "safetensors")
    sink = _Sink(report, blob.member)
    length = len(header.raw)
    if header.value is None:
        sink.add("BST-ST-001", f"Safetensors header is {header.error}",
                 f"The {length}-byte header is {header.error}; the safetensors library refuses the file and "
                 "nothing after the header could be interpreted.", 8 + header.error_at,
                 evidence=_short(repr(header.raw[max(0, header.error_at - 40) : header.error_at + 40])))
        report.not_examined(blob.member, f"safetensors header is {header.error}")
        sink.flush()
        return
    _check_envelope(blob, header, sink)
    tensors = _check_entries(header.value, length, blob.size - 8 - length, sink, report)
    if tensors is not None:
        _check_layout(blob, tensors, 8 + length, sink, report)
        _record_tensor_facts(header.value, tensors, report)
    judge = _MetadataJudge(report, sink, blob.member, header.raw)
    judge.metadata(header.value.get("__metadata__"), "__metadata__" in header.value)
    judge.entry_fields(header.value)
    sink.flush()


def _check_envelope(blob: Blob, header: _Header, sink: _Sink) -> None:
    """Header size, padding and duplicate keys."""
    length = len(header.raw)
    if length > CRATE_MAX_HEADER:
        sink.add("BST-ST-001", f"Safetensors header of {length} bytes exceeds the loader's limit",
                 f"The reference loader refuses headers over {CRATE_MAX_HEADER} bytes; this one is {length}.", 0)
    _check_padding(blob, header, sink)
    for key, first, second in header.duplicates:
        differs = first != second
        if key == "__metadata__":
            sink.add("BST-ST-001", "Safetensors header repeats __metadata__",
                     "__metadata__ appears twice; the reference loader refuses the file, other parsers keep the "
                     "first or the last copy.", 8, evidence=_short(f"{first!r} / {second!r}"),
                     severity=Severity.HIGH if differs else None)
            continue
        sink.add("BST-ST-008", f"Safetensors header repeats the key {_short(key, 80)!r}",
                 f"The key {key!r} appears twice in one JSON object"
                 + (" with different values, so parsers that keep the first copy and parsers that keep the last "
                    "see different content." if differs else " with the same value."),
                 8 + max(0, header.raw.find(json.dumps(key).encode())),
                 evidence=_short(f"{first!r} / {second!r}"), severity=Severity.HIGH if differs else None)


def _check_padding(blob: Blob, header: _Header, sink: _Sink) -> None:
    padding = header.raw[header.json_end :]
    stripped = padding.strip(b" ")
    if not stripped:
        return
    offset = 8 + header.json_end
    if not padding.strip(_WS):
        sink.add("BST-ST-007", "Safetensors header padding holds tabs or newlines",
                 "The JSON object is followed by whitespace other than spaces; the reference writer pads with "
                 "spaces only.", offset, evidence=_short(repr(padding[:40])), severity=Severity.LOW)
        return
    if not padding.strip(_WS + b"\0"):
        sink.add("BST-ST-007", f"Safetensors header padding holds {padding.count(0)} NUL bytes",
                 "The JSON object is followed by NUL bytes; the reference loader refuses the file ('trailing "
                 "characters').", offset, evidence=_short(repr(padding[:40])))
        return
    sink.add("BST-ST-007", f"Safetensors header hides {len(stripped)} bytes after its JSON",
             f"{len(padding)} bytes follow the JSON object inside the declared header, and they are not padding: "
             "the reference loader refuses the file, parsers that stop at the closing brace ignore them. They are "
             "scanned as embedded content.", offset, evidence=_short(repr(stripped[:60])), severity=Severity.HIGH)
    sink.report.nested(blob.view()[offset : 8 + len(header.raw)], _sub(blob.member, "header-padding"))


def _check_entries(value: dict[str, object], header_length: int, data_size: int, sink: _Sink,
                   report: Report) -> list[_Tensor] | None:
    """Validate each tensor entry; the valid ones, or None when the time ran out."""
    tensors: list[_Tensor] = []
    names = [k for k in value if k != "__metadata__"]
    data_start = 8 + header_length
    for index, name in enumerate(names):
        if index % _CHECK_EVERY == 0 and _timed_out(report, sink.member, "tensor entries"):
            return None
        tensor = _check_entry(name, value[name], sink)
        if tensor is None:
            continue
        tensors.append(tensor)
        _check_size(tensor, data_size, data_start, sink)
    return tensors


def _check_entry(name: str, entry: object, sink: _Sink) -> _Tensor | None:
    if not isinstance(entry, dict):
        sink.add("BST-ST-002", f"{_label(name)} is a JSON {type(entry).__name__}, not an object",
                 "Each tensor entry must be an object with dtype, shape and data_offsets.", 8,
                 evidence=_short(repr(entry)))
        return None
    missing = [f for f in _FIELDS if f not in entry]
    extra = sorted(k for k in entry if k not in _FIELDS) if len(entry) != len(_FIELDS) - len(missing) else []
    if extra:
        sink.add("BST-ST-002", f"{_label(name)} has fields the format does not define: {_short(', '.join(extra), 80)}",
                 "The reference loader ignores them, so they carry data no loader uses.", 8,
                 evidence=_short(repr({k: entry[k] for k in extra[:3]})), severity=Severity.LOW)
    if missing:
        sink.add("BST-ST-002", f"{_label(name)} lacks {', '.join(missing)}",
                 "The reference loader refuses entries without dtype, shape and data_offsets.", 8,
                 evidence=_short(repr(entry)))
        return None
    why, tensor = _read_entry(name, entry)
    if tensor is None:
        sink.add("BST-ST-002", f"{_label(name)} {why}",
                 f"The entry {why}; the reference loader refuses the file.", 8, evidence=_short(repr(entry)))
    return tensor


def _label(name: str) -> str:
    return f"Tensor {_short(name, 80)!r}"


def _read_entry(name: str, entry: dict[str, object]) -> tuple[str, _Tensor | None]:
    """Why the entry is invalid, or the tensor it describes."""
    dtype = entry["dtype"]
    bits = _DTYPE_BITS.get(dtype) if isinstance(dtype, str) else None
    if bits is None or not isinstance(dtype, str):
        return f"has an unknown dtype {_short(repr(dtype), 40)}", None
    shape = entry["shape"]
    # type() is int, not isinstance: JSON true/false are bools, which the crate refuses as sizes.
    if type(shape) is not list or not all(type(d) is int and 0 <= d < _U64 for d in shape):
        return "has a shape that is not a list of non-negative integers", None
    offsets = entry["data_offsets"]
    if type(offsets) is not list or len(offsets) != 2 or not all(type(o) is int and 0 <= o < _U64 for o in offsets):
        return "has data_offsets that are not [begin, end]", None
    begin, end = offsets[0], offsets[1]
    if begin > end:
        return f"has data_offsets [{begin}, {end}] with begin after end", None
    elements = _product(shape)
    if elements is None or elements * bits >= _U64:
        return "has a size that overflows 64 bits", None
    if elements * bits % 8:
        return f"is a {dtype} tensor of {elements} elements that does not end on a byte boundary", None
    return "", _Tensor(name, dtype, begin, end, elements, elements * bits // 8)


def _is_u64(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _U64


def _product(shape: list[int]) -> int | None:
    """prod(shape), or None on a 64-bit overflow (checked in order, as the crate does)."""
    total = 1
    for dim in shape:
        total *= dim
        if total >= _U64:
            return None
    return total


def _check_size(tensor: _Tensor, data_size: int, data_start: int, sink: _Sink) -> None:
    span = tensor.end - tensor.begin
    if tensor.end <= data_size and span == tensor.needed:
        return
    label = _label(tensor.name)
    if tensor.end > data_size:
        sink.add("BST-ST-004", f"{label} ends {tensor.end - data_size} bytes past the end of the file",
                 f"data_offsets [{tensor.begin}, {tensor.end}] reach beyond the {data_size}-byte data section.",
                 data_start + min(tensor.begin, data_size), evidence=f"data_offsets=[{tensor.begin}, {tensor.end}]")
    if span == tensor.needed:
        return
    past = tensor.begin + tensor.needed > data_size
    sink.add("BST-ST-003", f"{label} spans {span} bytes but its shape and dtype need {tensor.needed}",
             f"{tensor.elements} elements of {tensor.dtype} need {tensor.needed} bytes; data_offsets "
             f"[{tensor.begin}, {tensor.end}] give {span}."
             + (" A loader that trusts the shape reads past the end of the file." if past else ""),
             data_start + min(tensor.begin, data_size), evidence=f"data_offsets=[{tensor.begin}, {tensor.end}]",
             severity=Severity.HIGH if past else None)


def _check_layout(blob: Blob, tensors: list[_Tensor], data_start: int, sink: _Sink, report: Report) -> None:
    """The tensors must tile the data section: no overlap, no gap, nothing after the last one."""
    data_size = blob.size - data_start
    cursor, previous = 0, ""
    for tensor in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if tensor.begin < cursor:
            empty = tensor.begin == tensor.end
            sink.add("BST-ST-005", f"{_label(tensor.name)} overlaps tensor {_short(previous, 80)!r}",
                     f"It starts at data byte {tensor.begin}, inside {previous!r} which ends at {cursor}"
                     + (" (it is empty, so no bytes are shared)." if empty else "; the bytes are shared."),
                     data_start + min(tensor.begin, data_size), evidence=f"data_offsets=[{tensor.begin}, {tensor.end}]",
                     severity=Severity.MEDIUM if empty else None)
        elif tensor.begin > cursor and cursor < data_size:
            _report_gap(blob, cursor, min(tensor.begin, data_size), data_start, f"before {tensor.name!r}", sink)
        if tensor.end > cursor:
            cursor, previous = tensor.end, tensor.name
        if time.monotonic() > report.deadline:
            report.not_examined(blob.member, "time limit reached while checking the tensor layout")
            return
    if cursor < data_size:
        _report_gap(blob, cursor, data_size, data_start, "after the last tensor", sink)


def _report_gap(blob: Blob, begin: int, end: int, data_start: int, where: str, sink: _Sink) -> None:
    start = data_start + begin
    zero = _all_zero(blob, start, data_start + end, sink.report.deadline)
    size = end - begin
    detail = (f"Data bytes [{begin}, {end}) ({size} bytes, {where}) belong to no tensor; the reference loader "
              "refuses non-contiguous layouts.")
    if zero:
        sink.add("BST-ST-006", f"Data section has {size} zero bytes no tensor covers ({where})",
                 detail + " They are all zero.", start, severity=Severity.MEDIUM)
        return
    sink.add("BST-ST-006", f"Data section hides {size} bytes no tensor covers ({where})",
             detail + " They are not zero-filled and are scanned as embedded content.", start,
             evidence=_short(repr(bytes(blob.view()[start : start + 48]))))
    limit = sink.report.limits.max_member_bytes
    if size > limit:
        sink.report.not_examined(blob.member, f"hidden region of {size} bytes exceeds max_member_bytes={limit}")
        return
    sink.report.nested(blob.view()[start : data_start + end], _sub(blob.member, f"data@{begin}"))


def _all_zero(blob: Blob, start: int, end: int, deadline: float) -> bool:
    """Whether the region is zero-filled (False when the time runs out: the region is then treated as content)."""
    view = blob.view()
    step = 1 << 22
    for at in range(start, end, step):
        chunk = bytes(view[at : min(end, at + step)])
        if chunk.count(0) != len(chunk) or time.monotonic() > deadline:
            return False
    return True


def _record_tensor_facts(value: dict[str, object], tensors: list[_Tensor], report: Report) -> None:
    report.fact("tensors", sum(1 for k in value if k != "__metadata__"))
    report.fact("parameters", sum(t.elements for t in tensors))
    weight: dict[str, int] = {}
    for tensor in tensors:
        weight[tensor.dtype] = weight.get(tensor.dtype, 0) + max(tensor.elements, 1)
    if weight:
        report.fact("dtype", max(weight, key=lambda d: weight[d]))


def _analyse_index(blob: Blob, report: Report) -> None:
    doc = blob.json()
    if not isinstance(doc, dict) or not isinstance(doc.get("weight_map"), dict):
        report.not_examined(blob.member, "safetensors index has no weight_map object")
        return
    report.fact("format", "safetensors-index")
    weight_map: dict[str, object] = doc["weight_map"]
    sink = _Sink(report, blob.member)
    shards: set[str] = set()
    for index, (tensor, shard) in enumerate(weight_map.items()):
        if index % _CHECK_EVERY == 0 and _timed_out(report, blob.member, "the weight_map"):
            break
        if not isinstance(shard, str):
            report.not_examined(blob.member, f"weight_map entry {_short(tensor, 80)!r} is not a file name")
            continue
        shards.add(shard)
        if _escapes(shard):
            sink.add("BST-ST-016", f"Shard index maps {_short(tensor, 60)!r} to {_short(shard, 80)!r}",
                     f"The shard path {shard!r} is absolute or climbs out of the model folder with '..'.", None,
                     evidence=_short(f"{tensor!r}: {shard!r}"))
    report.fact("safetensors.shards", len(shards))
    report.fact("safetensors.indexed_tensors", len(weight_map))
    metadata = doc.get("metadata")
    if isinstance(metadata, dict):
        total = metadata.get("total_size")
        if _is_u64(total):
            report.fact("safetensors.total_size", total)
        judge = _MetadataJudge(report, sink, blob.member, b"")
        judge.values(((f"metadata[{k!r}]", k, v) for k, v in metadata.items() if isinstance(v, str)))
    sink.flush()


def _escapes(path: str) -> bool:
    normal = path.replace("\\", "/")
    return (normal.startswith("/") or re.match(r"^[A-Za-z]:", normal) is not None or "\0" in normal
            or ".." in normal.split("/"))


# ---- the metadata classifier ----
_PY = "BST-ST-010"
_SH = "BST-ST-011"
_WEB = "BST-ST-012"
_SPECS: tuple[_Spec, ...] = (
    _Spec(_PY, Severity.HIGH, "calls exec/eval/compile", r"(?<![\w.])(?:exec|eval|compile)\((?!\s*\))"),
    _Spec(_PY, Severity.HIGH, "calls __import__", r"\b__import__\s*\("),
    _Spec(_PY, Severity.HIGH, "calls os process or file functions",
          r"\bos\s*\.\s*(?:system|popen|exec[lv]p?e?|spawn\w*|startfile|fork|kill|remove|unlink|rmdir|removedirs)"
          r"\s*\("),
    _Spec(_PY, Severity.HIGH, "uses subprocess",
          r"\bsubprocess\s*\.\s*(?:run|call|Popen|check_output|check_call|getoutput|getstatusoutput)\b"),
    _Spec(_PY, Severity.HIGH, "imports a module that runs commands, reaches the network or decodes code",
          r"(?:^|[;\n])[ \t]*(?:import|from)[ \t]+(?:os|subprocess|socket|pty|ctypes|marshal|pickle|base64|shutil|"
          r"sys|builtins|importlib|urllib|urllib2|requests|http|codecs|runpy|zlib|webbrowser)\b"),
    _Spec(_PY, Severity.HIGH, "deserialises data", r"\b(?:pickle|cPickle|marshal|dill|joblib)\s*\.\s*loads?\s*\("),
    _Spec(_PY, Severity.HIGH, "opens a socket or a pty", r"\b(?:socket\s*\.\s*socket|pty\s*\.\s*spawn)\s*\("),
    _Spec(_PY, Severity.HIGH, "walks interpreter internals",
          r"__builtins__|__globals__|__subclasses__\s*\(|__getattribute__\s*\("),
    _Spec(_PY, Severity.MEDIUM, "decodes base64 at run time", r"\bb(?:64|32|16|85)decode\s*\("),
    _Spec(_SH, Severity.HIGH, "pipes a download into a shell",
          r"\b(?:curl|wget)\b[^\n|;&]{0,300}\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b"),
    _Spec(_SH, Severity.HIGH, "deletes recursively (rm -rf)",
          r"\brm\s+-(?:[a-zA-Z]*[rR][a-zA-Z]*f|[a-zA-Z]*f[a-zA-Z]*[rR])"),
    _Spec(_SH, Severity.HIGH, "opens a reverse shell",
          r"\bnc(?:at)?\b[^\n|;&]{0,80}\s-[a-zA-Z]*e\s|/dev/(?:tcp|udp)/|\bmkfifo\b|\b(?:ba)?sh\s+-i\b"),
    _Spec(_SH, Severity.HIGH, "runs a shell", r"(?<![\w/.-])/bin/(?:ba|z|da)?sh\b|\b(?:bash|sh|zsh)\s+-c\s+['\"]"),
    _Spec(_SH, Severity.HIGH, "runs encoded or downloaded PowerShell",
          r"(?i:\bpowershell(?:\.exe)?\b[^\n]{0,100}\s-(?:e|ec|enc|encodedcommand|w\s+hidden|nop|noprofile)\b|"
          r"\biex\s*\(|\binvoke-expression\b|\bdownloadstring\s*\()"),
    _Spec(_SH, Severity.MEDIUM, "downloads a file",
          r"\b(?:curl|wget)\s+(?:-{1,2}[\w-]+(?:[ =]\S+)?\s+)*['\"]?(?:https?|ftp)://\S+", needs_untrusted_url=True),
    _Spec(_SH, Severity.MEDIUM, "makes a file executable or world-writable",
          r"\bchmod\s+(?:-\w+\s+)*(?:[0-7]?[0-7]{2}7\b|\+x\b|[ugoa]+\+[rw]*x\b)"),
    _Spec(_SH, Severity.MEDIUM, "edits scheduled commands", r"\bcrontab\s+-[a-z]"),
    _Spec(_WEB, Severity.MEDIUM, "holds a script or iframe tag", r"(?i:<\s*(?:script|iframe)\b)"),
    _Spec(_WEB, Severity.MEDIUM, "holds a javascript: URL", r"(?i:\bjavascript:[^\s])"),
    _Spec(_WEB, Severity.MEDIUM, "holds an HTML event handler",
          r"(?i:<[a-z][^>]{0,200}\son(?:error|load|click|mouseover|focus|begin)\s*=)"),
)


@lru_cache(maxsize=1)
def _text_pattern() -> re.Pattern[str]:
    """All text patterns as one alternation, so each value is scanned once (compiled on first use)."""
    return re.compile("|".join(f"(?P<p{i}>{s.pattern})" for i, s in enumerate(_SPECS)), re.M)


@lru_cache(maxsize=1)
def _url_pattern() -> re.Pattern[str]:
    return re.compile(r"(?i:\b(?:https?|ftp)://[^\s\"'<>`)\]}\\]+)")


@lru_cache(maxsize=1)
def _blob_pattern() -> re.Pattern[str]:
    """Base64 (standard or URL-safe), hex, and runs of \\xNN escapes."""
    return re.compile(r"(?<![A-Za-z0-9+/_=-])[A-Za-z0-9+/_-]{40,}={0,2}|(?:\\x[0-9A-Fa-f]{2}){8,}")


_TRUSTED_HOSTS = (
    "huggingface.co", "hf.co", "hf.space", "github.com", "githubusercontent.com", "github.io", "gitlab.com",
    "arxiv.org", "doi.org", "pytorch.org", "tensorflow.org", "python.org", "pypi.org", "readthedocs.io",
    "readthedocs.org", "kaggle.com", "paperswithcode.com", "creativecommons.org", "opensource.org", "apache.org",
    "spdx.org", "wikipedia.org", "civitai.com", "nvidia.com", "microsoft.com", "google.com", "openai.com",
    "meta.com", "ai.meta.com", "stability.ai", "modelscope.cn", "aclanthology.org", "openreview.net",
)
_STAGING_HOSTS = (
    "pastebin.com", "paste.ee", "pastie.org", "hastebin.com", "ghostbin.co", "rentry.co", "dpaste.com",
    "dpaste.org", "controlc.com", "justpaste.it", "termbin.com", "ix.io", "sprunge.us", "0x0.st", "transfer.sh",
    "file.io", "anonfiles.com", "gofile.io", "ngrok.io", "ngrok-free.app", "ngrok.app", "ngrok.dev",
    "trycloudflare.com", "serveo.net", "loca.lt", "localtunnel.me", "localhost.run", "pipedream.net", "webhook.site",
    "requestbin.com", "requestbin.net", "hookbin.com", "beeceptor.com", "burpcollaborator.net", "oastify.com",
    "interact.sh", "oast.fun", "oast.live", "oast.me", "oast.pro", "oast.site", "oast.online", "canarytokens.com",
    "duckdns.org", "ddns.net", "no-ip.com", "no-ip.org", "hopto.org", "zapto.org", "sytes.net", "portmap.io",
    "bit.ly", "tinyurl.com", "is.gd", "cutt.ly", "rb.gy", "api.telegram.org",
)
_PAYLOAD_SUFFIX = re.compile(r"\.(?:sh|bash|ps1|psm1|bat|cmd|vbs|hta|exe|dll|scr|msi|jar|elf|apk|py|pyc|so)$")
_PAYLOAD_WORDS = frozenset({"payload", "payloads", "exfil", "exfiltrate", "exfiltration", "backdoor", "beacon",
                            "stager", "implant", "revshell", "webshell", "malware", "dropper"})
_ACTION_KEY = re.compile(r"callback|webhook|hook|exfil|beacon|upload|telemetry|report_?to|notify|ping_?url|"
                         r"(?:^|[_.-])(?:c2|cnc)(?:$|[_.-])", re.I)
_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\0", b"MM\0*")
_ARCHIVE_MAGIC = (b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"BZh", b"\xfd7zXZ\0", b"\x93NUMPY")
_EXECUTABLE_MAGIC = ((b"\x7fELF", "an ELF executable"), (b"\xcf\xfa\xed\xfe", "a Mach-O executable"),
                     (b"\xce\xfa\xed\xfe", "a Mach-O executable"), (b"\xca\xfe\xba\xbe", "a Mach-O or Java binary"))
_TITLES = {
    "BST-ST-010": "carries Python code", "BST-ST-011": "carries shell commands",
    "BST-ST-012": "carries active web content", "BST-ST-013": "links to a suspicious host",
    "BST-ST-014": "embeds", "BST-ST-015": "holds an opaque encoded blob",
}


class _MetadataJudge:
    """Classifies metadata strings and reports one finding per (value, rule)."""

    def __init__(self, report: Report, sink: _Sink, member: str | None, raw_header: bytes) -> None:
        self.report = report
        self.sink = sink
        self.member = member
        self.raw = raw_header
        self.budget = _METADATA_CHARS

    def metadata(self, metadata: object, present: bool) -> None:
        """Check ``__metadata__`` is a str->str map, record its facts, classify its values."""
        if not present or metadata is None:
            return
        if not isinstance(metadata, dict):
            self.sink.add("BST-ST-009", f"Safetensors __metadata__ is a JSON {type(metadata).__name__}",
                          "The format defines __metadata__ as an object of strings.", 8,
                          evidence=_short(repr(metadata)))
            return
        self.report.fact("safetensors.metadata_keys", sorted(metadata)[:200])
        framework = _FRAMEWORKS.get(str(metadata.get("format", "")).lower())
        if framework:
            self.report.fact("framework", framework)
        items: list[tuple[str, str, str]] = []
        for key, value in metadata.items():
            if not isinstance(value, str):
                self.sink.add("BST-ST-009", f"Safetensors metadata value {_short(key, 60)!r} is a JSON "
                              f"{type(value).__name__}, not a string",
                              "The reference loader refuses non-string metadata values.", self._offset(key),
                              evidence=_short(repr(value)))
                value = json.dumps(value)  # still classified: a nested object can carry the same payloads
            items.append((f"__metadata__[{key!r}]", key, value))
            items.append((f"__metadata__ key {_short(key, 60)!r}", "", key))
        self.values(iter(items))

    def entry_fields(self, value: dict[str, object]) -> None:
        """Classify strings held in tensor-entry fields the format does not define (no loader reads them)."""
        items = ((f"field {f!r} of tensor {name!r}", f, v) for name, entry in value.items()
                 if name != "__metadata__" and isinstance(entry, dict)
                 for f, v in entry.items() if f not in _FIELDS and isinstance(v, str))
        self.values(items)

    def values(self, items: Iterator[tuple[str, str, str]]) -> None:
        """Classify each (label, key, text) and report what was found."""
        for label, key, text in items:
            if time.monotonic() > self.report.deadline:
                self.report.not_examined(self.member, "time limit reached while classifying metadata")
                return
            if self.budget <= 0:
                self.report.not_examined(self.member, f"metadata beyond {_METADATA_CHARS} characters not classified")
                return
            if len(text) > _VALUE_CHARS:
                self.report.not_examined(self.member, f"only the first {_VALUE_CHARS} of {len(text)} characters of "
                                                      f"{label} were classified")
            text = text[: min(_VALUE_CHARS, self.budget)]
            self.budget -= len(text)
            self._report(label, key, list(self._signals(label, key, text, 0)))

    def _signals(self, label: str, key: str, text: str, depth: int) -> Iterator[_Signal]:
        yield from _text_signals(text)
        yield from _url_signals(key, text)
        if depth < 2:
            yield from self._decoded_signals(label, key, text, depth)

    def _decoded_signals(self, label: str, key: str, text: str, depth: int) -> Iterator[_Signal]:
        for count, match in enumerate(_blob_pattern().finditer(text)):
            if count >= _MAX_BLOBS or len(match.group(0)) > _MAX_BLOB_CHARS:
                break
            if len(set(match.group(0)[:4096])) < 8:  # runs of a few letters ("xxxx", "abab") are not encodings
                continue
            decoded = _decode(match.group(0))
            if decoded is None:
                continue
            encoding, data = decoded
            yield from self._judge_bytes(label, key, encoding, data, match.group(0), depth)

    def _judge_bytes(self, label: str, key: str, encoding: str, data: bytes, source: str,
                     depth: int) -> Iterator[_Signal]:
        excerpt = _short(source, 80)
        kind = _binary_kind(data)
        if kind == "a pickle" or kind == "an archive":
            self.report.nested(data, _sub(self.member, label))
        if kind is not None:
            level = Severity.MEDIUM if kind == "an archive" else Severity.HIGH
            yield _Signal("BST-ST-014", level, f"{kind} ({encoding}, {len(data)} bytes)", excerpt)
            return
        if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
            return
        text = _as_text(data)
        if text is not None:
            for signal in self._signals(label, key, text, depth + 1):
                yield _Signal(signal.rule_id, signal.severity, f"{signal.what} ({encoding}-encoded)", excerpt)
            return
        if len(data) >= 1024:
            yield _Signal("BST-ST-015", Severity.LOW, f"{len(data)} bytes of unrecognised binary ({encoding})",
                          excerpt)

    def _report(self, label: str, key: str, signals: list[_Signal]) -> None:
        by_rule: dict[str, list[_Signal]] = {}
        for signal in signals:
            by_rule.setdefault(signal.rule_id, []).append(signal)
        for rule_id, found in by_rule.items():
            whats = list(dict.fromkeys(s.what for s in found))
            worst = max(s.severity for s in found)
            entry = rule(rule_id)
            self.sink.add(rule_id, f"Safetensors {label} {_TITLES[rule_id]}: {_short('; '.join(whats), 120)}",
                          f"{label} {'; '.join(whats)}. {entry.description}", self._offset(key),
                          evidence=found[0].excerpt, severity=worst)

    def _offset(self, key: str) -> int | None:
        if not self.raw or not key:
            return None
        for spelling in (json.dumps(key), json.dumps(key, ensure_ascii=False)):
            at = self.raw.find(spelling.encode("utf-8"))
            if at >= 0:
                return 8 + at
        return None


def _text_signals(text: str) -> Iterator[_Signal]:
    for match in _text_pattern().finditer(text):
        spec = _SPECS[int((match.lastgroup or "p0")[1:])]
        if spec.needs_untrusted_url and all(_trusted(_host(u)) for u in _url_pattern().findall(match.group(0))):
            continue
        yield _Signal(spec.rule_id, spec.severity, spec.what, _excerpt(text, match.start(), match.end()))


def _url_signals(key: str, text: str) -> Iterator[_Signal]:
    for count, match in enumerate(_url_pattern().finditer(text)):
        if count >= 256:
            return
        why = _url_reason(key, match.group(0))
        if why:
            yield _Signal("BST-ST-013", Severity.MEDIUM, why, _short(match.group(0), 120))


def _url_reason(key: str, url: str) -> str | None:
    """Why a URL is suspicious, or None."""
    host = _host(url)
    if not host or _trusted(host):
        return None
    address = _ip(host)
    if address is not None:
        private = address.is_private or address.is_loopback or address.is_link_local or address.is_unspecified
        return None if private else f"points at the raw IP address {host}"
    if _suffix_in(host, _STAGING_HOSTS) or (host.endswith(("discord.com", "discordapp.com"))
                                             and "/api/webhooks" in url.lower()):
        return f"points at {host}, a paste, tunnel, webhook, shortener or dynamic-DNS host"
    path = url.split("://", 1)[-1].partition("/")[2].split("?")[0].split("#")[0].lower()
    if _PAYLOAD_SUFFIX.search(path):
        return f"fetches a script or executable from {host}"
    if _PAYLOAD_WORDS & set(re.split(r"[/._]", path)):
        return f"names a payload or exfiltration path on {host}"
    if key and _ACTION_KEY.search(key):
        return f"sits under the key {key!r}, which names a network action, and points at {host}"
    return None


def _host(url: str) -> str:
    from urllib.parse import urlsplit  # here: urllib.parse is only needed when metadata holds URLs

    try:
        return (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def _ip(host: str) -> IPv4Address | IPv6Address | None:
    import ipaddress  # here: only needed when metadata holds URLs

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _trusted(host: str) -> bool:
    return bool(host) and _suffix_in(host, _TRUSTED_HOSTS)


def _suffix_in(host: str, domains: tuple[str, ...]) -> bool:
    return any(host == d or host.endswith("." + d) for d in domains)


def _excerpt(text: str, start: int, end: int) -> str:
    return _short(text[max(0, start - 30) : min(len(text), end + 60)], 160)


def _decode(candidate: str) -> tuple[str, bytes] | None:
    """Decode a base64, hex or \\xNN candidate; None when it is not decodable."""
    import base64
    import binascii

    if candidate.startswith("\\x"):
        return "\\x-escaped", bytes(int(candidate[i + 2 : i + 4], 16) for i in range(0, len(candidate), 4))
    if len(candidate) % 2 == 0 and re.fullmatch(r"[0-9A-Fa-f]+", candidate):
        return "hex", bytes.fromhex(candidate)
    body = candidate.rstrip("=")
    padded = body + "=" * (-len(body) % 4)
    try:
        if "-" in body or "_" in body:
            return "base64", base64.urlsafe_b64decode(padded)
        return "base64", base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _binary_kind(data: bytes) -> str | None:
    """What a decoded blob is when it is executable or a container worth scanning."""
    if _is_pickle(data):
        return "a pickle"
    for magic, name in _EXECUTABLE_MAGIC:
        if data.startswith(magic):
            return name
    if data[:2] == b"MZ" and len(data) >= 64 and b"PE\0\0" in data[64:1024]:
        return "a Windows executable"
    if data.startswith(_ARCHIVE_MAGIC):
        return "an archive"
    return None


def _is_pickle(data: bytes) -> bool:
    if not data.endswith(b"."):
        return False
    if len(data) >= 3 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    return re.match(rb"c[\w.]+\n[\w.]+\n|\((?:dp|lp|S'|I\d|V)", data) is not None


def _as_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for c in text if c.isprintable() or c in "\n\r\t")
    return text if text and printable >= 0.9 * len(text) else None
