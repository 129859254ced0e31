"""The model-file check: recognise content, open containers, and run the pickle analyser on every pickle inside.

Formats are recognised by content, never by name. Containers are opened as leniently as the loaders users
run (PyTorch zips with bad CRCs or odd flags, pickles stacked in one stream, joblib arrays inline, NumPy object
arrays, gzip/bz2/xz/zip/tar/7z wrappers), and everything is bounded by ``Settings.limits``.
"""

from __future__ import annotations

import ast
import mmap
import os
import re
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from bastion.config import Limits, Settings
from bastion.findings import Finding, Location, Severity
from bastion.scan.check import CheckOutcome, Target
from bastion.supplychain import archives
from bastion.supplychain.formats import Blob, FormatAnalyzer, default_analyzers
from bastion.supplychain.pickle import (
    AnalysisLimits,
    BufferSource,
    FileSource,
    Hit,
    MachineLimits,
    Policy,
    Source,
    analyse_stream,
)
from bastion.taxonomy import rule

# Extensions that promise a model or serialized object: unrecognised content under them is not a pass.
MODEL_SUFFIXES = frozenset({
    ".pkl", ".pickle", ".pk", ".p", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".jbl", ".npy", ".npz", ".sav",
    ".model", ".mdl", ".dill", ".cloudpkl", ".pt2", ".tar", ".zip", ".7z", ".gz", ".bz2", ".xz", ".lzma", ".dat",
    ".data", ".onnx", ".safetensors", ".gguf", ".keras", ".h5", ".hdf5", ".skops",
})
_TORCH_STORAGE = re.compile(r"(^|/)data/\d+$")
_IDENTIFIERS = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*\Z")


@dataclass
class _Run:
    """State for examining one target: where findings go, what was not examined, and the budgets.

    It is the ``Report`` that format analysers write to."""

    target: Target
    policy: Policy
    limits: Limits
    deadline: float
    examine_nested: Callable[[_Run, memoryview, str, int], None]
    findings: list[Finding] = field(default_factory=list)
    incomplete: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    facts: dict[str, object] = field(default_factory=dict)
    decompressed: int = 0
    depth: int = 0

    def where(self, member: str | None) -> str:
        return f"{self.target.path}{'!' + member if member else ''}"

    def add(self, rule_id: str, title: str, detail: str, member: str | None, offset: int | None,
            evidence: str = "", severity: Severity | None = None) -> None:
        entry = rule(rule_id)
        self.findings.append(Finding(
            rule_id=rule_id,
            severity=severity if severity is not None else entry.severity,
            title=title,
            detail=detail,
            location=Location(self.target.path, member, offset),
            evidence=evidence,
            remediation=entry.remediation,
            refs=entry.refs,
        ))

    def not_examined(self, member: str | None, why: str) -> None:
        self.incomplete.append(f"{self.where(member)}: {why}")

    def fact(self, key: str, value: object) -> None:
        self.facts.setdefault(key, value)

    def nested(self, data: bytes | memoryview, member: str) -> None:
        self.examine_nested(self, memoryview(data), member, self.depth + 1)


def sniff(head: bytes) -> str | None:
    """The container or serialization format that ``head`` starts with, or None."""
    return _sniff_magic(head) or _sniff_pickle(head)


def _sniff_magic(head: bytes) -> str | None:
    """Formats with an unambiguous magic number: NumPy, archives and compressed wrappers."""
    if head[:6] == b"\x93NUMPY":
        return "npy"
    return archives.sniff_compression(head)


def _sniff_pickle(head: bytes) -> str | None:
    # Two bytes are a weak signature (a safetensors header length can start 0x80 0x01), so format analysers
    # with stronger ones are asked first.
    if len(head) >= 2 and head[0] == 0x80 and head[1] <= 5:
        return "pickle"
    return None


def _probe_pickle(source: Source, policy: Policy) -> bool:
    """Whether a stream without a PROTO header is a protocol 0/1 pickle.

    It is when the emulation runs to STOP, or when it calls an importable name before failing (Python's unpickler
    would have made that call too: a payload followed by garbage). Text reads as opcodes surprisingly often ("c"
    is GLOBAL, "P" PERSID, "T" a string with a length), so names alone, or a stream that merely runs out, do not
    make a pickle; a truncated pickle under a model's name is still reported, as unrecognised content.
    """
    probe = BufferSource(source.read_at(0, 1 << 16))
    result = analyse_stream(probe, policy, AnalysisLimits(machine=MachineLimits(max_opcodes=200_000), max_depth=0),
                            sweep_after_error=False)
    if result.pickles:
        return True
    return any(h.calls and _IDENTIFIERS.match(h.subject) and h.why != "names an invalid or obfuscated identifier"
               for h in result.hits)


class ModelFileCheck:
    """Finds code hidden in model files: pickle-based formats, the other model formats, and their containers."""

    name = "model-files"

    def __init__(self, analyzers: tuple[FormatAnalyzer, ...] | None = None) -> None:
        """``analyzers``: the format analysers to use, in sniffing order (default: every built-in one)."""
        self.analyzers = analyzers

    def examine(self, target: Target, settings: Settings) -> CheckOutcome:
        """Examine one file; never imports, unpickles or executes any of it."""
        limits = settings.limits
        run = _Run(target, Policy(settings.pickle_allow), limits, time.monotonic() + limits.timeout_seconds,
                   self._nested)
        if target.size > limits.max_file_bytes:
            run.not_examined(None, f"file of {target.size} bytes exceeds max_file_bytes={limits.max_file_bytes}")
            return CheckOutcome("too-large", [], run.incomplete)
        with ExitStack() as stack:
            fd = os.open(target.fs_path, os.O_RDONLY)
            stack.callback(os.close, fd)
            mapped: list[memoryview] = []

            def whole_file() -> memoryview:
                # Mapped on first use only: pickles are read through pread, most formats need only headers.
                if not mapped:
                    if target.size == 0:
                        return memoryview(b"")
                    region = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
                    if hasattr(mmap, "MADV_RANDOM"):  # headers are read here and there: no readahead of tensors
                        region.madvise(mmap.MADV_RANDOM)
                    stack.callback(_close_quietly, region)
                    mapped.append(memoryview(region))
                return mapped[0]

            self._blob(run, FileSource(fd, target.size), None, 0, whole_file, fs_path=target.fs_path)
        recognised = str(run.facts.get("format") or (run.kinds[0] if run.kinds else "")) or None
        if recognised is None and target.fs_path.suffix.lower() in MODEL_SUFFIXES and target.size:
            run.not_examined(None, f"the name suggests a model file ({target.fs_path.suffix}) but the content is "
                                   "not a format Bastion recognises")
            recognised = "unrecognised"
        return CheckOutcome(recognised, _dedupe(run.findings), run.incomplete, run.facts)

    # ---- dispatch ----
    def _nested(self, run: _Run, data: memoryview, member: str, depth: int) -> None:
        self._blob(run, BufferSource(data), member, depth, lambda: data)

    def _blob(self, run: _Run, source: Source, member: str | None, depth: int,
              buffer: Callable[[], memoryview], fs_path: Path | None = None) -> None:
        if depth > run.limits.max_depth:
            run.not_examined(member, f"containers nested deeper than max_depth={run.limits.max_depth}")
            return
        if time.monotonic() > run.deadline:
            run.not_examined(member, f"time limit of {run.limits.timeout_seconds} s reached")
            return
        head = source.read_at(0, 512)
        kind = _sniff_magic(head)
        if kind is None:
            name = (member or str(fs_path or "")).rsplit("!", 1)[-1].rsplit("/", 1)[-1]
            blob = Blob(source, source.size, head, member, name, fs_path, buffer)
            if self._analyse_format(run, blob, depth):
                return
            kind = _sniff_pickle(head)
        if kind is None and _looks_like_tar(source):
            kind = "tar"
        if kind is None and source.size and _probe_pickle(source, run.policy):
            kind = "pickle"
        if kind is None:
            return
        run.kinds.append(kind)
        if kind == "pickle":
            self._pickle(run, source, member, 0)
        elif kind == "npy":
            self._npy(run, source, member)
        else:
            self._container(run, kind, buffer(), member, depth)

    def _analyse_format(self, run: _Run, blob: Blob, depth: int) -> bool:
        """Hand ``blob`` to the first format analyser that recognises it; False when none does."""
        for analyzer in self.analyzers if self.analyzers is not None else default_analyzers():
            if not analyzer.sniff(blob):
                continue
            run.kinds.append(analyzer.kind)
            outer, run.depth = run.depth, depth
            try:
                analyzer.analyse(blob, run)
            except Exception as exc:  # an analyser bug must not hide the rest of the target, nor pass it
                run.not_examined(blob.member, f"{analyzer.kind} analyser failed: {type(exc).__name__}: {exc}")
            finally:
                run.depth = outer
            return True
        return False

    def _pickle(self, run: _Run, source: Source, member: str | None, base: int) -> None:
        limits = AnalysisLimits(
            machine=MachineLimits(max_opcodes=run.limits.max_opcodes, deadline=run.deadline),
            max_depth=run.limits.max_depth,
        )
        result = analyse_stream(source, run.policy, limits)
        for hit in result.hits:
            self._report_hit(run, hit, member, base)
        if result.malformed is not None:
            run.add("BST-PKL-011", "Pickle stream is malformed",
                    f"The stream stops being a valid pickle: {result.malformed}. A real unpickler stops here too; "
                    "what came before was examined, and the rest was swept for global references.",
                    member, base + result.malformed.offset)
            run.not_examined(member, f"malformed pickle ({result.malformed})")
        if result.limit is not None:
            run.not_examined(member, f"pickle analysis stopped: {result.limit}")
        for why in result.nested_incomplete:
            run.not_examined(member, why)

    def _report_hit(self, run: _Run, hit: Hit, member: str | None, base: int) -> None:
        entry = rule(hit.rule_id)
        where = (member or "") + hit.member_suffix
        calls = f"; called {hit.calls} time{'s' if hit.calls != 1 else ''}" if hit.calls else "; not called directly"
        seen = f"referenced {hit.imports} time{'s' if hit.imports != 1 else ''}{calls}"
        run.add(hit.rule_id, f"{entry.title}: {hit.subject}",
                f"{hit.subject} {hit.why} ({seen}). {entry.description}",
                where or None, base + hit.offset, evidence=hit.evidence or hit.subject, severity=hit.severity)

    def _npy(self, run: _Run, source: Source, member: str | None) -> None:
        head = source.read_at(0, 12)
        major = head[6] if len(head) > 6 else 0
        width = 2 if major == 1 else 4
        if len(head) < 8 + width or major not in (1, 2, 3):
            run.not_examined(member, "truncated or unknown NumPy header")
            return
        length = int.from_bytes(head[8 : 8 + width], "little")
        if length > 1 << 20:
            run.not_examined(member, f"NumPy header of {length} bytes is implausibly large")
            return
        start = 8 + width
        raw = source.read_at(start, length)
        try:
            header = ast.literal_eval(raw.decode("latin-1"))
            descr = header["descr"]
        except (ValueError, SyntaxError, KeyError, TypeError, MemoryError, RecursionError):
            run.not_examined(member, "NumPy header is not a valid dictionary literal")
            return
        if not _has_object(descr):
            return
        offset = start + length
        run.add("BST-NPY-001", "NumPy file holds pickled object arrays",
                f"dtype {str(descr)[:80]} stores Python objects as an embedded pickle at byte {offset}; it is "
                "scanned below.", member, offset)
        self._pickle(run, _Slice(source, offset), member, offset)

    # ---- containers ----
    def _container(self, run: _Run, kind: str, view: memoryview, member: str | None, depth: int) -> None:
        limits = archives.ArchiveLimits(
            max_members=run.limits.max_members,
            max_member_bytes=run.limits.max_member_bytes,
            max_total_bytes=max(0, run.limits.max_decompressed_bytes - run.decompressed),
        )
        try:
            if kind == "zip":
                self._zip(run, view, member, depth, limits)
            elif kind in ("tar", "7z"):
                reader = archives.iter_tar if kind == "tar" else archives.iter_7z
                for entry, read in reader(view, limits):
                    self._member(run, entry, read, member, depth)
            else:
                room = min(run.limits.max_member_bytes, limits.max_total_bytes)
                data = archives.decompress(kind, view, room)
                run.decompressed += len(data)
                inner = f"{member}!{kind}" if member else f"<{kind}>"
                self._blob(run, BufferSource(data), inner, depth + 1, lambda: memoryview(data))
        except archives.LimitExceeded as exc:
            run.not_examined(member, f"{kind}: {exc}")
        except archives.ArchiveError as exc:
            run.not_examined(member, f"{kind} could not be read: {exc}")

    def _zip(self, run: _Run, view: memoryview, member: str | None, depth: int,
             limits: archives.ArchiveLimits) -> None:
        entries = list(archives.iter_zip(view, limits))
        overlap = _overlapping(entries)
        if overlap is not None:
            first, second = overlap
            run.add("BST-ARC-002", f"Zip members share compressed data: {first.name} and {second.name}",
                    f"The data of {second.name!r} (offset {second.offset}) starts inside that of {first.name!r} "
                    f"(offset {first.offset}, {first.compressed_size} bytes). Writers never do this; overlapping "
                    "entries are how non-recursive zip bombs expand a few kilobytes into gigabytes, and how two "
                    "readers are shown different files.", member, second.offset,
                    evidence=f"{first.name} / {second.name}")
        torch_zip = any(e.name.endswith("data.pkl") for e in entries)
        budget = archives.ByteBudget(limits)  # one total across every member of this zip
        for entry in entries:
            if torch_zip and _TORCH_STORAGE.search(entry.name):
                continue  # raw tensor bytes: torch never unpickles storages
            reader = partial(archives.read_zip_member, view, entry, limits, budget)
            self._member(run, entry, reader, member, depth)
        if torch_zip and "pytorch-zip" not in run.kinds:
            run.kinds.insert(0, "pytorch-zip")

    def _member(self, run: _Run, entry: archives.Member, read: Callable[[], archives.Buffer], parent: str | None,
                depth: int) -> None:
        name = f"{parent}!{entry.name}" if parent else entry.name
        if entry.is_dir:
            return
        if _escapes(entry.name) or entry.is_link:
            target = f" -> {entry.link_target}" if entry.link_target else ""
            run.add("BST-ARC-001", f"Archive member path escapes the extraction folder: {entry.name}{target}",
                    "Extracting this archive with a tool that honours such names writes outside the target "
                    "folder.", name, entry.offset if entry.offset >= 0 else None, evidence=entry.name)
            if entry.is_link:
                return
        if entry.encrypted:
            run.not_examined(name, "member is encrypted")
            return
        try:
            data = read()
        except archives.LimitExceeded as exc:
            run.not_examined(name, str(exc))
            return
        except archives.ArchiveError as exc:
            run.not_examined(name, f"could not be read: {exc}")
            return
        if not isinstance(data, memoryview) or entry.method != "stored":
            run.decompressed += len(data)
        view = memoryview(data)
        self._blob(run, BufferSource(view), name, depth + 1, lambda: view)


class _Slice:
    """A window onto part of another source (the pickle after a NumPy header)."""

    def __init__(self, source: Source, start: int) -> None:
        self._source = source
        self._start = start
        self.size = max(0, source.size - start)

    def read_at(self, offset: int, length: int) -> bytes:
        return self._source.read_at(self._start + offset, min(length, self.size - offset))


def _close_quietly(mapped: mmap.mmap) -> None:
    """Unmap now if no member view is still alive; otherwise the mapping goes when the views are collected."""
    with suppress(BufferError):
        mapped.close()


def _has_object(descr: object) -> bool:
    if isinstance(descr, str):
        return "O" in descr.lstrip("<>|=")[:1]
    if isinstance(descr, (list, tuple)):
        return any(_has_object(part) for part in descr)
    return False


def _overlapping(entries: list[archives.Member]) -> tuple[archives.Member, archives.Member] | None:
    """The first pair of members whose compressed data ranges overlap, or None."""
    spans = sorted((e for e in entries if e.offset >= 0 and e.compressed_size > 0), key=lambda e: e.offset)
    for before, after in zip(spans, spans[1:], strict=False):
        if after.offset < before.offset + before.compressed_size:
            return before, after
    return None


def _escapes(name: str) -> bool:
    normal = name.replace("\\", "/")
    return normal.startswith("/") or re.match(r"^[A-Za-z]:", normal) is not None or ".." in normal.split("/")


def _looks_like_tar(source: Source) -> bool:
    return source.size >= 512 and source.read_at(257, 5) == b"ustar"


def _dedupe(findings: list[Finding]) -> list[Finding]:
    """Keep findings in order, dropping exact duplicates (a container can repeat a member)."""
    seen: set[tuple[str, str, str | None, int | None]] = set()
    unique = []
    for f in findings:
        key = (f.rule_id, f.title, f.location.member, f.location.offset)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique
