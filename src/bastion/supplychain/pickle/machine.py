"""A static emulator of the pickle virtual machine (protocols 0-5).

It never imports, resolves or calls anything: it tracks what a real unpickler *would* import and call, and
reports those events to a sink. It reads through a sliding window so that large files are never loaded whole,
skips tensor payloads by offset, and keeps the memo as an array of small tags rather than Python objects, so
memory stays a fraction of the file size even for pickles of millions of small objects.
"""

from __future__ import annotations

import struct
import time
from array import array
from dataclasses import dataclass
from typing import Protocol

from bastion.supplychain.pickle.values import (
    INERT,
    PERSISTENT,
    Box,
    Bytes,
    Call,
    Global,
    LongText,
    Source,
)

_WINDOW = 1 << 20
_INLINE_BYTES = 4096  # byte strings up to this size are copied; larger ones stay in the source
_MAX_TEXT = 1 << 20  # longer strings are not decoded (they cannot be module names)
_MAX_LINE = 1 << 20
_MISSING = -(1 << 62)
_MAX_RICH = 2_000_000
_MAX_MEMO_BOXES = 10_000  # containers kept in the memo for evidence; later ones are memoized as inert

_unpack_i = struct.Struct("<i").unpack_from
_unpack_I = struct.Struct("<I").unpack_from
_unpack_H = struct.Struct("<H").unpack_from
_unpack_Q = struct.Struct("<Q").unpack_from


class PickleError(Exception):
    """The stream is malformed at ``offset``: a real unpickler stops there too."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.reason = message
        self.offset = offset


class PickleLimitError(Exception):
    """A bound (opcodes, stack, nesting, time) was reached at ``offset``; the rest was not examined."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.reason = message
        self.offset = offset


@dataclass(frozen=True)
class MachineLimits:
    """Bounds for one pickle stream."""

    max_opcodes: int = 200_000_000
    """Opcodes executed per stream, across stacked pickles."""
    max_stack: int = 5_000_000
    """Stack entries at once."""
    max_marks: int = 100_000
    """MARK nesting depth."""
    deadline: float | None = None
    """``time.monotonic()`` value after which examination stops."""


class Sink(Protocol):
    """Receives what the pickle would do when loaded."""

    def on_global(self, glob: Global) -> None:
        """A global is imported (GLOBAL, STACK_GLOBAL, INST, EXT*)."""

    def on_call(self, call: Call, opcode: str) -> None:
        """A callable is applied (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST); ``call.value`` may be set by the sink."""

    def on_build(self, target: object, state: object, offset: int, resume_at: int) -> int | None:
        """BUILD applies ``state`` to ``target``; return where to resume when raw data follows inline."""

    def on_bytes(self, value: Bytes) -> None:
        """A byte string that starts like a pickle was pushed."""


def _decode_text(raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise PickleError("invalid UTF-8 in string", offset) from None


def _parse_quoted(line: bytes, offset: int) -> str:
    """The argument of STRING: a quoted Python 2 str literal."""
    if len(line) >= 2 and line[0] == line[-1] and line[0] in b"'\"":
        try:
            return line[1:-1].decode("latin-1").encode("latin-1").decode("unicode_escape", "replace")
        except (UnicodeDecodeError, ValueError):
            raise PickleError("bad STRING escape", offset) from None
    raise PickleError("STRING argument is not quoted", offset)


def _parse_int_line(line: bytes, offset: int, opname: str) -> None:
    text = line.rstrip(b"L") if opname == "LONG" else line
    if text in (b"00", b"01"):
        return
    try:
        int(text)
    except ValueError:
        raise PickleError(f"invalid {opname} literal", offset) from None


class Machine:
    """Run one pickle stream (possibly several stacked pickles) from a source and report to a sink."""

    def __init__(self, source: Source, sink: Sink, limits: MachineLimits) -> None:
        self.src = source
        self.sink = sink
        self.limits = limits
        self.opcodes = 0
        self._cache: dict[int, str] = {}
        self._boxes = 0

    # --- memo strings are stored as the offset of their opcode and decoded again when fetched ---
    def string_at(self, offset: int) -> str:
        """Decode the string pushed by the opcode at ``offset`` (used for memo gets)."""
        hit = self._cache.get(offset)
        if hit is not None:
            return hit
        head = self.src.read_at(offset, 9)
        op = head[0]
        if op == 0x8C:
            n = head[1]
            raw = self.src.read_at(offset + 2, n)
        elif op == 0x58:
            n = _unpack_I(head, 1)[0]
            raw = self.src.read_at(offset + 5, n)
        elif op == 0x8D:
            n = _unpack_Q(head, 1)[0]
            raw = self.src.read_at(offset + 9, n)
        elif op == 0x55:
            return self.src.read_at(offset + 2, head[1]).decode("latin-1")
        elif op == 0x54:
            return self.src.read_at(offset + 5, _unpack_I(head, 1)[0]).decode("latin-1")
        else:  # UNICODE or STRING: newline-terminated
            line = self._line_at(offset + 1)
            text = line.decode("raw_unicode_escape", "replace") if op == 0x56 else _parse_quoted(line, offset)
            return self._remember(offset, text)
        return self._remember(offset, _decode_text(raw, offset))

    def _remember(self, offset: int, text: str) -> str:
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[offset] = text
        return text

    def _line_at(self, offset: int) -> bytes:
        chunk = self.src.read_at(offset, 4096)
        end = chunk.find(b"\n")
        if end < 0:
            chunk = self.src.read_at(offset, _MAX_LINE)
            end = chunk.find(b"\n")
            if end < 0:
                raise PickleError("unterminated line argument", offset)
        return chunk[:end]

    def run(self, start: int) -> int:  # noqa: C901 - one dispatch loop is what makes this fast
        """Execute one pickle from ``start`` to its STOP; return the offset after STOP."""
        src, sink, limits = self.src, self.sink, self.limits
        size = src.size
        stack: list[object] = []
        marks: list[int] = []
        tags = array("q")
        sparse: dict[int, int] = {}
        rich: list[object] = []
        memo_len = 0
        self._boxes = 0
        str_obj: object = None
        str_off = -1
        proto = 0
        max_ops = limits.max_opcodes
        deadline = limits.deadline
        check_every = 1 << 16
        next_check = self.opcodes + check_every

        base = start
        data = src.read_at(base, _WINDOW)
        pos = 0
        end = len(data)
        ops = self.opcodes

        def fetch(tag: int, at: int) -> object:
            if tag == 0:
                return INERT
            if tag > 0:
                return self.string_at(tag - 1)
            if tag == _MISSING:
                raise PickleError("memo key is missing", at)
            return rich[-tag - 1]

        while True:
            if end - pos < 16:
                data = data[pos:] + src.read_at(base + end, _WINDOW)
                base += pos
                pos = 0
                end = len(data)
                if end == 0:
                    raise PickleError("pickle ended without STOP", base)
            op = data[pos]
            at = base + pos
            pos += 1
            ops += 1
            if ops >= next_check:
                self.opcodes = ops
                if ops > max_ops:
                    raise PickleLimitError(f"more than {max_ops} opcodes", at)
                if deadline is not None and time.monotonic() > deadline:
                    raise PickleLimitError("time limit reached", at)
                if len(stack) > limits.max_stack:
                    raise PickleLimitError(f"stack deeper than {limits.max_stack}", at)
                next_check = ops + check_every

            # ---- the frequent opcodes first ----
            if op == 0x68:  # BINGET
                idx = data[pos]
                pos += 1
                t = tags[idx] if idx < len(tags) else sparse.get(idx, _MISSING)
                stack.append(fetch(t, at))
            elif op == 0x94:  # MEMOIZE
                if not stack:
                    raise PickleError("MEMOIZE on empty stack", at)
                idx = memo_len
                v = stack[-1]
                if v is INERT or type(v) is int:
                    t = 0
                elif v is str_obj:
                    t = str_off + 1
                else:
                    t = self._tag_rich(v, rich)
                if idx == len(tags):
                    tags.append(t)
                    memo_len += 1
                else:
                    memo_len += self._put_slow(tags, sparse, idx, t)
            elif op == 0x8C:  # SHORT_BINUNICODE
                n = data[pos]
                pos += 1
                if end - pos < n:
                    data, base, pos, end = self._refill(data, base, pos, n)
                s = _decode_text(data[pos : pos + n], at)
                pos += n
                stack.append(s)
                str_obj, str_off = s, at
            elif op == 0x4B:  # BININT1 (small ints are kept: joblib needs array shapes)
                stack.append(data[pos])
                pos += 1
            elif op == 0x4A:  # BININT
                stack.append(_unpack_i(data, pos)[0])
                pos += 4
            elif op == 0x4D:  # BININT2
                stack.append(_unpack_H(data, pos)[0])
                pos += 2
            elif op == 0x47 or op == 0x4E or op == 0x88 or op == 0x89:  # BINFLOAT NONE NEWTRUE NEWFALSE
                pos += 8 if op == 0x47 else 0
                stack.append(INERT)
            elif op == 0x71 or op == 0x72:  # BINPUT LONG_BINPUT
                if op == 0x71:
                    idx = data[pos]
                    pos += 1
                else:
                    idx = _unpack_I(data, pos)[0]
                    pos += 4
                if not stack:
                    raise PickleError("PUT on empty stack", at)
                memo_len += self._put(stack[-1], str_obj, str_off, tags, sparse, rich, idx)
            elif op == 0x28:  # MARK
                if len(marks) >= limits.max_marks:
                    raise PickleLimitError(f"MARK nesting deeper than {limits.max_marks}", at)
                marks.append(len(stack))
            elif op in (0x75, 0x65, 0x90):  # SETITEMS APPENDS ADDITEMS
                if not marks:
                    raise PickleError("missing MARK", at)
                k = marks.pop()
                if k == 0:
                    raise PickleError("no container below MARK", at)
                items = stack[k:]
                del stack[k:]
                target = stack[-1]
                if isinstance(target, Box):
                    target.add(items)
            elif op == 0x7D or op == 0x5D or op == 0x8F:  # EMPTY_DICT EMPTY_LIST EMPTY_SET
                stack.append(Box("dict" if op == 0x7D else "list" if op == 0x5D else "set"))
            elif op == 0x85 or op == 0x86 or op == 0x87:  # TUPLE1-3
                n = op - 0x84
                if len(stack) < n:
                    raise PickleError("stack underflow", at)
                tup = tuple(stack[-n:])
                del stack[-n:]
                stack.append(tup)
            elif op == 0x52:  # REDUCE
                if len(stack) < 2:
                    raise PickleError("stack underflow", at)
                args = stack.pop()
                call = Call(stack.pop(), args, at)
                sink.on_call(call, "REDUCE")
                stack.append(call)
            elif op == 0x29:  # EMPTY_TUPLE
                stack.append(())
            elif op == 0x62:  # BUILD
                if len(stack) < 2:
                    raise PickleError("stack underflow", at)
                state = stack.pop()
                resume = sink.on_build(stack[-1], state, at, base + pos)
                if resume is not None:  # raw data written inline after the object (joblib arrays)
                    if resume > size:
                        raise PickleError("inline array data runs past the end of the data", at)
                    data, base, pos, end = b"", resume, 0, 0
            elif op == 0x73:  # SETITEM
                if len(stack) < 3:
                    raise PickleError("stack underflow", at)
                value = stack.pop()
                key = stack.pop()
                if isinstance(stack[-1], Box):
                    stack[-1].add([key, value])
            elif op == 0x61:  # APPEND
                if len(stack) < 2:
                    raise PickleError("stack underflow", at)
                value = stack.pop()
                if isinstance(stack[-1], Box):
                    stack[-1].add([value])
            elif op in (0x58, 0x8D, 0x54, 0x55):  # BINUNICODE BINUNICODE8 BINSTRING SHORT_BINSTRING
                width = 1 if op == 0x55 else 8 if op == 0x8D else 4
                if end - pos < width:
                    data, base, pos, end = self._refill(data, base, pos, width)
                n = data[pos] if width == 1 else _unpack_Q(data, pos)[0] if width == 8 else _unpack_i(data, pos)[0]
                pos += width
                if n < 0:
                    raise PickleError("negative length", at)
                if base + pos + n > size:
                    raise PickleError("string runs past the end of the data", at)
                if n > _MAX_TEXT:
                    stack.append(LongText(n))
                    data, base, pos, end = b"", base + pos + n, 0, 0
                    continue
                if end - pos < n:
                    data, base, pos, end = self._refill(data, base, pos, n)
                raw = data[pos : pos + n]
                pos += n
                s = _decode_text(raw, at) if op in (0x58, 0x8D) else raw.decode("latin-1")
                stack.append(s)
                str_obj, str_off = s, at
            elif op in (0x43, 0x42, 0x8E, 0x96):  # SHORT_BINBYTES BINBYTES BINBYTES8 BYTEARRAY8
                width = 1 if op == 0x43 else 4 if op == 0x42 else 8
                if end - pos < width:
                    data, base, pos, end = self._refill(data, base, pos, width)
                n = data[pos] if width == 1 else _unpack_I(data, pos)[0] if width == 4 else _unpack_Q(data, pos)[0]
                pos += width
                start_abs = base + pos
                if start_abs + n > size:
                    raise PickleError("bytes run past the end of the data", at)
                if n <= _INLINE_BYTES:
                    if end - pos < n:
                        data, base, pos, end = self._refill(data, base, pos, n)
                    value_b = Bytes(None, start_abs, n, data[pos : pos + n])
                    pos += n
                elif n <= end - pos:
                    value_b = Bytes(src, start_abs, n)
                    pos += n
                else:  # skip the payload without reading it
                    value_b = Bytes(src, start_abs, n)
                    data, base, pos, end = b"", start_abs + n, 0, 0
                stack.append(value_b)
                if n >= 4 and value_b.head(2)[:1] == b"\x80":
                    sink.on_bytes(value_b)
            elif op == 0x93:  # STACK_GLOBAL
                if len(stack) < 2:
                    raise PickleError("stack underflow", at)
                name = stack.pop()
                module = stack.pop()
                glob = self._global(module, name, at)
                sink.on_global(glob)
                stack.append(glob)
            elif op == 0x63 or op == 0x69:  # GLOBAL INST
                line1_end = data.find(b"\n", pos)
                line2_end = data.find(b"\n", line1_end + 1) if line1_end >= 0 else -1
                if line2_end < 0:
                    data, base, pos, end = self._refill_lines(data, base, pos, 2, at)
                    line1_end = data.find(b"\n", pos)
                    line2_end = data.find(b"\n", line1_end + 1)
                module_s = _decode_text(data[pos:line1_end], at)
                name_s = _decode_text(data[line1_end + 1 : line2_end], at)
                pos = line2_end + 1
                glob = self._global(module_s, name_s, at)
                sink.on_global(glob)
                if op == 0x63:
                    stack.append(glob)
                else:
                    if not marks:
                        raise PickleError("missing MARK", at)
                    k = marks.pop()
                    call = Call(glob, tuple(stack[k:]), at)
                    del stack[k:]
                    sink.on_call(call, "INST")
                    stack.append(call)
            elif op == 0x81:  # NEWOBJ
                if len(stack) < 2:
                    raise PickleError("stack underflow", at)
                args = stack.pop()
                call = Call(stack.pop(), args, at)
                sink.on_call(call, "NEWOBJ")
                stack.append(call)
            elif op == 0x92:  # NEWOBJ_EX
                if len(stack) < 3:
                    raise PickleError("stack underflow", at)
                kwargs = stack.pop()
                args = stack.pop()
                call = Call(stack.pop(), (args, kwargs), at)
                sink.on_call(call, "NEWOBJ_EX")
                stack.append(call)
            elif op == 0x6F:  # OBJ
                if not marks:
                    raise PickleError("missing MARK", at)
                k = marks.pop()
                if len(stack) <= k:
                    raise PickleError("OBJ without a class", at)
                call = Call(stack[k], tuple(stack[k + 1 :]), at)
                del stack[k:]
                sink.on_call(call, "OBJ")
                stack.append(call)
            elif op == 0x74 or op == 0x6C or op == 0x64 or op == 0x91:  # TUPLE LIST DICT FROZENSET
                if not marks:
                    raise PickleError("missing MARK", at)
                k = marks.pop()
                items = stack[k:]
                del stack[k:]
                if op == 0x74:
                    stack.append(tuple(items))
                else:
                    if op == 0x64 and len(items) % 2:
                        raise PickleError("odd number of items for DICT", at)
                    box = Box("list" if op == 0x6C else "dict" if op == 0x64 else "frozenset")
                    box.add(items)
                    stack.append(box)
            elif op == 0x30:  # POP
                if len(stack) > (marks[-1] if marks else 0):
                    stack.pop()
                elif marks:  # like CPython: with nothing above the mark, POP removes the mark
                    marks.pop()
                else:
                    raise PickleError("stack underflow", at)
            elif op == 0x31:  # POP_MARK
                if not marks:
                    raise PickleError("missing MARK", at)
                del stack[marks.pop() :]
            elif op == 0x32:  # DUP
                if not stack:
                    raise PickleError("stack underflow", at)
                stack.append(stack[-1])
            elif op == 0x51:  # BINPERSID
                if not stack:
                    raise PickleError("stack underflow", at)
                stack[-1] = PERSISTENT
            elif op == 0x80:  # PROTO
                proto = data[pos]
                pos += 1
                if proto > 5:
                    raise PickleError(f"unsupported protocol {proto}", at)
            elif op == 0x95:  # FRAME
                n = _unpack_Q(data, pos)[0]
                pos += 8
                if base + pos + n > size:
                    raise PickleError(f"FRAME of {n} bytes runs past the end of the data", at)
            elif op == 0x2E:  # STOP
                self.opcodes = ops
                if ops > max_ops:
                    raise PickleLimitError(f"more than {max_ops} opcodes", at)
                if not stack:
                    raise PickleError("STOP on an empty stack", at)
                return base + pos
            elif op == 0x6A:  # LONG_BINGET
                idx = _unpack_I(data, pos)[0]
                pos += 4
                t = tags[idx] if idx < len(tags) else sparse.get(idx, _MISSING)
                stack.append(fetch(t, at))
            elif op == 0x8A or op == 0x8B:  # LONG1 LONG4
                if op == 0x8A:
                    n = data[pos]
                    pos += 1
                else:
                    n = _unpack_i(data, pos)[0]
                    pos += 4
                    if n < 0:
                        raise PickleError("negative LONG4 length", at)
                if base + pos + n > size:
                    raise PickleError("LONG runs past the end of the data", at)
                if end - pos < n:
                    data, base, pos, end = b"", base + pos + n, 0, 0
                else:
                    pos += n
                stack.append(INERT)
            elif op == 0x97 or op == 0x98:  # NEXT_BUFFER READONLY_BUFFER
                if op == 0x97:
                    stack.append(INERT)
                elif not stack:
                    raise PickleError("stack underflow", at)
            elif op in (0x82, 0x83, 0x84):  # EXT1 EXT2 EXT4
                width = (1, 2, 4)[op - 0x82]
                code = data[pos] if width == 1 else _unpack_H(data, pos)[0] if width == 2 else _unpack_i(data, pos)[0]
                pos += width
                glob = Global("copyreg", f"_extension_registry[{code}]", at, dynamic=True)
                sink.on_global(glob)
                stack.append(glob)
            elif op in (0x49, 0x4C, 0x46, 0x53, 0x56, 0x50, 0x67, 0x70):  # line-argument opcodes
                nl = data.find(b"\n", pos)
                if nl < 0:
                    data, base, pos, end = self._refill_lines(data, base, pos, 1, at)
                    nl = data.find(b"\n", pos)
                line = data[pos:nl]
                pos = nl + 1
                if op == 0x49 or op == 0x4C:  # INT LONG
                    _parse_int_line(line, at, "INT" if op == 0x49 else "LONG")
                    stack.append(INERT)
                elif op == 0x46:  # FLOAT
                    try:
                        float(line)
                    except ValueError:
                        raise PickleError("invalid FLOAT literal", at) from None
                    stack.append(INERT)
                elif op == 0x53 or op == 0x56:  # STRING UNICODE
                    s = _parse_quoted(line, at) if op == 0x53 else line.decode("raw_unicode_escape", "replace")
                    stack.append(s)
                    str_obj, str_off = s, at
                elif op == 0x50:  # PERSID
                    stack.append(PERSISTENT)
                elif op == 0x67:  # GET
                    idx = self._memo_index(line, at)
                    t = tags[idx] if 0 <= idx < len(tags) else sparse.get(idx, _MISSING)
                    stack.append(fetch(t, at))
                else:  # PUT
                    idx = self._memo_index(line, at)
                    if not stack:
                        raise PickleError("PUT on empty stack", at)
                    memo_len += self._put(stack[-1], str_obj, str_off, tags, sparse, rich, idx)
            else:
                raise PickleError(f"invalid opcode 0x{op:02x}", at)
            if pos > end:
                raise PickleError("argument runs past the end of the data", at)
        raise AssertionError("unreachable")

    # ---- helpers kept out of the hot loop ----
    def _global(self, module: object, name: object, at: int) -> Global:
        if isinstance(module, str) and isinstance(name, str):
            return Global(module, name, at)
        return Global(_describe(module), _describe(name), at, dynamic=True)

    @staticmethod
    def _memo_index(line: bytes, at: int) -> int:
        try:
            return int(line)
        except ValueError:
            raise PickleError("invalid memo index", at) from None

    def _put(
        self,
        v: object,
        str_obj: object,
        str_off: int,
        tags: array[int],
        sparse: dict[int, int],
        rich: list[object],
        idx: int,
    ) -> int:
        if v is INERT or type(v) is int:
            t = 0
        elif v is str_obj:
            t = str_off + 1
        else:
            t = self._tag_rich(v, rich)
        return self._put_slow(tags, sparse, idx, t)

    def _tag_rich(self, v: object, rich: list[object]) -> int:
        """The memo tag for a value kept as an object; containers past the cap are memoized as inert."""
        if type(v) is Box:
            self._boxes += 1
            if self._boxes >= _MAX_MEMO_BOXES or len(rich) >= _MAX_RICH:
                return 0
        elif len(rich) >= _MAX_RICH and not isinstance(v, (Global, Call, Bytes)):
            return 0
        rich.append(v)
        return -len(rich)

    @staticmethod
    def _put_slow(tags: array[int], sparse: dict[int, int], idx: int, t: int) -> int:
        """Store tag ``t`` at memo index ``idx``; return 1 when the key is new."""
        if idx < 0:
            raise PickleError("negative memo index", 0)
        if idx < len(tags):
            new = tags[idx] == _MISSING
            tags[idx] = t
            return int(new)
        if idx == len(tags):
            tags.append(t)
            return 1
        if idx - len(tags) < 4096 and not sparse:
            tags.extend([_MISSING] * (idx - len(tags)))
            tags.append(t)
            return 1
        new = idx not in sparse
        sparse[idx] = t
        return int(new)

    def _refill(self, data: bytes, base: int, pos: int, need: int) -> tuple[bytes, int, int, int]:
        """Slide the window so that ``need`` bytes from ``pos`` are present (or raise at the end)."""
        want = max(need, _WINDOW)
        data = data[pos:] + self.src.read_at(base + len(data), want - (len(data) - pos))
        base += pos
        if len(data) < need:
            raise PickleError("argument runs past the end of the data", base)
        return data, base, 0, len(data)

    def _refill_lines(self, data: bytes, base: int, pos: int, count: int, at: int) -> tuple[bytes, int, int, int]:
        data = data[pos:] + self.src.read_at(base + len(data), _MAX_LINE * count)
        base += pos
        found = 0
        cursor = 0
        while found < count:
            nl = data.find(b"\n", cursor)
            if nl < 0:
                raise PickleError("unterminated line argument", at)
            found += 1
            cursor = nl + 1
        return data, base, 0, len(data)


def _describe(value: object) -> str:
    if isinstance(value, Global):
        return f"<{value.dotted}>"
    if isinstance(value, Call):
        return f"<result of {value.func!r}>"
    return f"<{type(value).__name__}>"
