"""The analysis half of ``chat_template``: the Jinja parse and the AST walk, imported only when a template is
analysed (``chat_template`` keeps the file analyser, its ``sniff`` and ``looks_like_template``).
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from bastion.findings import Severity
from bastion.supplychain.formats.chat_template import MAX_TEMPLATE_CHARS
from bastion.supplychain.formats.interface import Blob, Report
from bastion.taxonomy import rule

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["TemplateIssue", "analyse_file", "analyse_template", "report_template"]

MAX_NODES = 200_000
"""Most AST nodes walked per template."""
MAX_HITS = 10_000
"""Most occurrences kept per template (they are grouped into a few issues)."""

INTERNALS = "BST-TPL-001"
DYNAMIC = "BST-TPL-002"
EXEC = "BST-TPL-003"
ODD = "BST-TPL-004"
SYNTAX = "BST-TPL-005"
INCLUDES = "BST-TPL-006"
NOT_EXAMINED = "BST-SCAN-001"
"""The rule id of an issue saying the template was not (completely) examined."""

# Interpreter internals without dunders that escape payloads walk through (frames, generators, old-style names).
_INTERNAL_NAMES = frozenset({
    "mro", "gi_frame", "gi_code", "ag_frame", "cr_frame", "f_back", "f_globals", "f_locals", "f_builtins",
    "f_code", "tb_frame", "tb_next", "func_globals", "func_code", "co_code", "im_func", "im_self", "im_class",
})
# Names that only serve to run code, reach modules or resolve callables: flagged wherever they are used.
_EXEC_NAMES = frozenset({
    "os", "sys", "subprocess", "builtins", "importlib", "posix", "nt", "pty", "ctypes", "marshal", "socket",
    "shutil", "eval", "exec", "execfile", "compile", "popen", "popen2", "Popen", "check_output", "check_call",
    "getoutput", "getstatusoutput", "import_module", "load_module", "spawnv", "spawnl", "spawnve", "spawnle",
    "execv", "execve", "execl", "execle", "execvp", "execlp", "environ", "getattr", "setattr", "delattr",
    "globals", "locals", "vars", "breakpoint",
})
# Names that are ordinary words (a dict key, a role) unless called.
_CALLED_EXEC_NAMES = frozenset({"system", "open", "urlopen", "remove", "unlink", "rmdir", "rmtree", "kill",
                                "killpg", "fork", "spawn", "input", "exit", "quit"})
# Globals of Jinja and of Flask/Django-style hosts that template-injection payloads start from.
_ESCAPE_ROOTS = frozenset({"self", "cycler", "joiner", "lipsum", "config", "request", "url_for",
                           "get_flashed_messages"})
# Filters whose arguments name attributes: filter -> (positional index or None, keyword).
_ATTRIBUTE_FILTERS: dict[str, tuple[int | None, str | None]] = {
    "attr": (0, None), "selectattr": (0, None), "rejectattr": (0, None), "groupby": (0, "attribute"),
    "map": (None, "attribute"), "sort": (None, "attribute"), "sum": (None, "attribute"),
    "unique": (None, "attribute"), "min": (None, "attribute"), "max": (None, "attribute"),
}
_STRING_METHODS = frozenset({"format", "join", "replace", "lower", "upper", "strip", "lstrip", "rstrip", "title",
                             "capitalize", "swapcase"})
_FOLD_FILTERS = frozenset({"join", "replace", "reverse", "format", "string", "lower", "upper", "trim", "list",
                           "first", "last", "capitalize", "title"})
_FOLD_MAX = 4096
"""Longest string (or list) produced by constant folding; longer values are treated as unknown."""
_FOLD_DEPTH = 64
_DUNDER_TEXT = re.compile(r"__[A-Za-z][A-Za-z0-9_]*__")
_SEVERITY = {INTERNALS: Severity.CRITICAL, DYNAMIC: Severity.HIGH, EXEC: Severity.CRITICAL, ODD: Severity.MEDIUM,
             SYNTAX: Severity.LOW, INCLUDES: Severity.LOW, NOT_EXAMINED: Severity.LOW}


class _Unknown:
    """The value of an expression that cannot be computed statically."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class TemplateIssue:
    """One kind of problem in a template, with every name that showed it."""

    rule_id: str
    """Catalogue rule (``BST-TPL-...``), or ``BST-SCAN-001`` when (part of) the template was not examined."""
    severity: Severity
    """Severity of this occurrence (a bare reference can be less severe than a call)."""
    what: str
    """What was found, short: the names, or the parser's message."""
    excerpt: str
    """The template text around the first occurrence."""
    line: int | None
    """Line of the first occurrence in the template (1-based)."""

    @property
    def incomplete(self) -> bool:
        """Whether this issue says the template was not (completely) examined rather than a finding."""
        return self.rule_id == NOT_EXAMINED


@dataclass(frozen=True)
class _Hit:
    rule_id: str
    severity: Severity
    name: str
    line: int | None
    needle: str


def analyse_template(text: str, deadline: float | None = None) -> list[TemplateIssue]:
    """Parse ``text`` as a Jinja2 template (never rendered) and return its issues, most severe first."""
    if len(text) > MAX_TEMPLATE_CHARS:
        return [TemplateIssue(NOT_EXAMINED, Severity.LOW, f"template of {len(text)} characters exceeds "
                              f"{MAX_TEMPLATE_CHARS}; not examined", text[:80], None)]
    from jinja2 import TemplateSyntaxError

    try:
        tree = _environment().parse(text)
    except TemplateSyntaxError as exc:
        return _unparsed(text, exc.message or str(exc), exc.lineno)
    except RecursionError:
        return [TemplateIssue(NOT_EXAMINED, Severity.LOW, "template nested too deeply to parse; not examined",
                              text[:80], None)]
    except Exception as exc:  # a parser bug on hostile input must not pass the template silently
        return [TemplateIssue(NOT_EXAMINED, Severity.LOW, f"template could not be parsed ({type(exc).__name__}: "
                              f"{exc}); not examined", text[:80], None)]
    walker = _Walker(text, deadline if deadline is not None else time.monotonic() + 60.0)
    walker.run(tree)
    return walker.issues()


def report_template(report: Report, text: str, where: str, member: str | None, offset: int | None,
                    parse_errors: bool = True) -> list[TemplateIssue]:
    """Analyse one template and record its issues as findings (not-examined issues as such).

    ``where`` names the template for the reader ("chat_template", "tokenizer.chat_template"). With
    ``parse_errors`` False a template that does not parse is not reported (for strings that merely look like
    templates); issues found are returned either way."""
    issues = analyse_template(text, report.deadline)
    for issue in issues:
        if issue.incomplete:
            report.not_examined(member, f"{where}: {issue.what}")
            continue
        if issue.rule_id == SYNTAX and not parse_errors:
            continue
        entry = rule(issue.rule_id)
        at = f" (line {issue.line})" if issue.line is not None else ""
        report.add(issue.rule_id, f"{entry.title}: {issue.what}",
                   f"The chat template in {where}{at}: {issue.what}. {entry.description}",
                   member, offset, evidence=issue.excerpt, severity=issue.severity)
    return issues


@lru_cache(maxsize=1)
def _environment() -> ImmutableSandboxedEnvironment:
    """The parser configuration transformers renders chat templates with (loop controls, the generation tag)."""
    from jinja2 import nodes as jnodes
    from jinja2.ext import Extension, loopcontrols
    from jinja2.parser import Parser
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class GenerationTag(Extension):
        """``{% generation %}...{% endgeneration %}`` (transformers' assistant-mask tag), parsed as a scope."""

        tags = {"generation"}

        def parse(self, parser: Parser) -> jnodes.Node:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return jnodes.Scope(body, lineno=lineno)

    return ImmutableSandboxedEnvironment(extensions=[loopcontrols, GenerationTag], trim_blocks=True,
                                         lstrip_blocks=True)


def _unparsed(text: str, message: str, line: int | None) -> list[TemplateIssue]:
    """A syntax error, plus a lexical look for internal names since the AST is not available."""
    issues = [TemplateIssue(SYNTAX, Severity.LOW, message[:200], _excerpt(text, line, ""), line)]
    found = sorted({m.group(0) for m in _DUNDER_TEXT.finditer(text)})
    if found:
        first = _DUNDER_TEXT.search(text)
        at = text.count("\n", 0, first.start()) + 1 if first else None
        issues.insert(0, TemplateIssue(ODD, Severity.MEDIUM, f"unparsable template mentions {_names(found)}",
                                       _excerpt(text, at, found[0]), at))
    return issues


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:6])
    return shown + (f" and {len(names) - 6} more" if len(names) > 6 else "")


def _excerpt(text: str, line: int | None, needle: str, width: int = 100) -> str:
    """About ``width`` characters of ``line`` around ``needle``, whitespace collapsed."""
    lines = text.split("\n", line) if line else [text]
    source = lines[line - 1] if line and len(lines) >= line else text
    at = max(0, source.find(needle)) if needle else 0
    start = max(0, at - width // 3)
    piece = " ".join(source[start:start + width].split())
    return ("…" if start else "") + piece + ("…" if start + width < len(source) else "")


def _is_internal(name: str) -> bool:
    """Dunders, name-mangled privates (``_TemplateReference__context``) and frame/generator internals."""
    if not name.isidentifier():
        return False
    if len(name) > 4 and name.startswith("__") and name.endswith("__"):
        return True
    return (name.startswith("_") and "__" in name[1:]) or name in _INTERNAL_NAMES


def _is_sentinel(value: str) -> bool:
    """An upper-case dunder-shaped constant (``"__NOT_A_NUMBER__"``): a marker value, never a Python attribute,
    since every special attribute Python defines is lower case."""
    inner = value[2:-2]
    return value.startswith("__") and value.endswith("__") and inner.upper() == inner and inner.lower() != inner


class _Walker:
    """Two passes over the AST: first bindings, calls and dereferences, then the checks."""

    def __init__(self, text: str, deadline: float) -> None:
        self.text = text
        self.deadline = deadline
        self.hits: list[_Hit] = []
        self.incomplete: str | None = None
        self.nodes: list[nodes.Node] = []
        self.called: set[int] = set()
        self.derefs: set[int] = set()
        self.handled: set[int] = set()
        self.stores: dict[str, int] = {}
        self.consts: dict[str, nodes.Node] = {}
        self.folded: dict[int, object] = {}
        self.line_starts: list[int] = []

    # ---- driving ----
    def run(self, tree: nodes.Template) -> None:
        self._collect(tree)
        for count, node in enumerate(self.nodes):
            if count % 1024 == 0 and time.monotonic() > self.deadline:
                self.incomplete = "time limit reached while analysing the template"
                return
            self._check(node)

    def issues(self) -> list[TemplateIssue]:
        """Hits grouped by rule and severity, most severe first; a not-examined issue last."""
        groups: dict[tuple[str, Severity], list[_Hit]] = {}
        for hit in self.hits:
            groups.setdefault((hit.rule_id, hit.severity), []).append(hit)
        issues = []
        for (rule_id, severity), hits in groups.items():
            hits.sort(key=self._position)  # the walk meets `a.b.c` outside-in; report in reading order
            names = list(dict.fromkeys(h.name for h in hits))
            first = hits[0]
            issues.append(TemplateIssue(rule_id, severity, _names(names),
                                        _excerpt(self.text, first.line, first.needle), first.line))
        issues.sort(key=lambda i: (-i.severity, i.rule_id))
        if self.incomplete:
            issues.append(TemplateIssue(NOT_EXAMINED, Severity.LOW, self.incomplete, self.text[:80], None))
        return issues

    def _position(self, hit: _Hit) -> tuple[int, int]:
        """Where ``hit`` appears: its line, then its needle's column in that line (approximate)."""
        if not self.line_starts:
            self.line_starts = [0, *(m.end() for m in re.finditer("\n", self.text))]
        line = hit.line or 0
        start = self.line_starts[min(max(line - 1, 0), len(self.line_starts) - 1)]
        stop = self.line_starts[line] if 0 < line < len(self.line_starts) else len(self.text)
        found = self.text.find(hit.needle, start, stop) if hit.needle else -1
        return line, found if found >= 0 else len(self.text)

    def _collect(self, tree: nodes.Template) -> None:
        """Flatten the tree (iteratively: expressions can nest thousands deep) and note bindings and uses; past
        MAX_NODES, only the nodes met first (in reading order) are analysed."""
        from jinja2 import nodes

        stack: list[nodes.Node] = [tree]
        while stack:
            if len(self.nodes) >= MAX_NODES:
                self.incomplete = f"template has more than {MAX_NODES} syntax nodes; the rest was not analysed"
                break
            node = stack.pop()
            self.nodes.append(node)
            if isinstance(node, nodes.Name) and node.ctx in ("store", "param"):
                self.stores[node.name] = self.stores.get(node.name, 0) + 1
            elif isinstance(node, nodes.Call):
                self.called.add(id(node.node))
            elif isinstance(node, (nodes.Getattr, nodes.Getitem)):
                self.derefs.add(id(node.node))
            if isinstance(node, (nodes.Assign, nodes.AssignBlock)) and isinstance(node.target, nodes.Name):
                self.consts[node.target.name] = node
            stack.extend(reversed(list(node.iter_child_nodes())))
        # Only names bound exactly once, by a set, fold to constants; loop variables and reassigned names do not.
        self.consts = {k: v for k, v in self.consts.items() if self.stores.get(k) == 1}

    def _hit(self, rule_id: str, name: str, node: nodes.Node, severity: Severity | None = None,
             needle: str | None = None) -> None:
        if len(self.hits) >= MAX_HITS:  # a template repeating a payload a million times says nothing new
            return
        self.hits.append(_Hit(rule_id, severity or _SEVERITY[rule_id], name, getattr(node, "lineno", None),
                              needle if needle is not None else name))

    # ---- checks ----
    def _check(self, node: nodes.Node) -> None:
        from jinja2 import nodes

        if isinstance(node, nodes.Getattr):
            self._name_use(node.attr, node, direct=True, called=id(node) in self.called)
        elif isinstance(node, nodes.NSRef):
            self._name_use(node.attr, node, direct=True, called=False)
        elif isinstance(node, nodes.Getitem):
            self._subscript(node)
        elif isinstance(node, nodes.Filter):
            self._filter(node)
        elif isinstance(node, nodes.Call):
            self._call(node)
        elif isinstance(node, nodes.Name) and node.ctx == "load":
            self._free_name(node)
        elif isinstance(node, (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            self._hit(INCLUDES, f"{type(node).__name__.lower()} {_short(self._fold(node.template))}", node,
                      needle=type(node).__name__.lower().replace("fromimport", "from"))
        # An internal name held in a string reaches an attribute later (a loop variable, a macro argument).
        if isinstance(node, nodes.Const) and isinstance(node.value, str) and id(node) not in self.handled:
            if _is_internal(node.value) and not _is_sentinel(node.value):
                self._hit(DYNAMIC, f"string constant {node.value!r}", node, needle=node.value)
        elif isinstance(node, (nodes.Concat, nodes.Add, nodes.Mul, nodes.Mod, nodes.Filter, nodes.Call)):
            value = self._fold(node)
            if isinstance(value, str) and _is_internal(value):
                self._hit(DYNAMIC, f"{value} (assembled from pieces)", node, needle=self._first_piece(node))

    def _name_use(self, name: str, node: nodes.Node, direct: bool, called: bool, dotted: bool = False) -> None:
        """``name`` is used as an attribute or key: ``direct`` when written literally, else computed."""
        for part in name.split(".") if dotted else [name]:
            needle = part if direct else self._first_piece(node)
            if _is_internal(part):
                self._hit(INTERNALS if direct else DYNAMIC, part if direct else f"{part} (assembled from pieces)",
                          node, needle=needle)
            elif part in _EXEC_NAMES or (called and part in _CALLED_EXEC_NAMES):
                self._hit(EXEC if direct else DYNAMIC, part if direct else f"{part} (assembled from pieces)",
                          node, needle=needle)
            elif part.startswith("_") and part.strip("_"):
                self._hit(ODD if direct else DYNAMIC, f"private attribute {part}", node, needle=needle)

    def _name_expr(self, expr: nodes.Expr, owner: nodes.Node, called: bool, dotted: bool = False) -> None:
        """An expression whose value becomes an attribute or key name."""
        from jinja2 import nodes

        value = self._fold(expr)
        if isinstance(value, str):
            direct = isinstance(expr, nodes.Const)
            if direct:
                self.handled.add(id(expr))
            self._name_use(value, expr if not direct else owner, direct, called, dotted)
        elif value is UNKNOWN and not isinstance(expr, (nodes.Const, nodes.Slice)):
            pieces = [p for p in self._pieces(expr) if "_" in p]
            if pieces:
                self._hit(DYNAMIC, "run-time name built from " + ", ".join(repr(p) for p in pieces[:3]), owner,
                          needle=pieces[0])

    def _subscript(self, node: nodes.Getitem) -> None:
        self._name_expr(node.arg, node, called=id(node) in self.called)

    def _filter(self, node: nodes.Filter) -> None:
        spec = _ATTRIBUTE_FILTERS.get(node.name)
        if spec is None:
            return
        index, keyword = spec
        if node.name == "map" and node.args and self._fold(node.args[0]) == "attr" and len(node.args) > 1:
            self._name_expr(node.args[1], node, called=False)
        if index is not None and len(node.args) > index:
            self._name_expr(node.args[index], node, called=False, dotted=node.name != "attr")
        for kw in node.kwargs:
            if kw.key == keyword:
                self._name_expr(kw.value, node, called=False, dotted=True)

    def _call(self, node: nodes.Call) -> None:
        from jinja2 import nodes

        func = node.node
        if isinstance(func, nodes.Name) and func.name in ("getattr", "setattr", "hasattr", "delattr"):
            if len(node.args) > 1:
                self._name_expr(node.args[1], node, called=False)
        elif isinstance(func, nodes.Getattr) and func.attr in ("format", "format_map"):
            fmt = self._fold(func.node)
            if isinstance(fmt, str):
                for field in _format_fields(fmt):
                    self._name_use(field, node, direct=True, called=False)

    def _free_name(self, node: nodes.Name) -> None:
        name = node.name
        if name in self.stores:
            return
        used = id(node) in self.called or id(node) in self.derefs
        if _is_internal(name):
            self._hit(INTERNALS, name, node)
        elif name in _EXEC_NAMES:
            self._hit(EXEC, name, node, severity=Severity.CRITICAL if used else Severity.HIGH)
        elif name in _CALLED_EXEC_NAMES and used:
            self._hit(EXEC, name, node)
        elif name in _ESCAPE_ROOTS:
            self._hit(ODD, f"{name} global", node, needle=name)

    # ---- constant folding ----
    def _fold(self, node: nodes.Node | None, depth: int = 0) -> object:
        """The value of ``node`` if it is a constant expression (strings, numbers, lists), else UNKNOWN."""
        if node is None or depth > _FOLD_DEPTH:
            return UNKNOWN
        key = id(node)
        if key in self.folded:
            return self.folded[key]
        self.folded[key] = UNKNOWN  # a name bound to an expression that uses itself stays unknown
        try:
            value = self._fold_node(node, depth + 1)
        except (ValueError, TypeError, IndexError, KeyError, OverflowError, MemoryError):
            value = UNKNOWN
        if isinstance(value, (str, list)) and len(value) > _FOLD_MAX:
            value = UNKNOWN
        self.folded[key] = value
        return value

    def _fold_node(self, node: nodes.Node, depth: int) -> object:  # noqa: C901 - one case per node type
        from jinja2 import nodes

        if isinstance(node, nodes.Const):
            return node.value
        if isinstance(node, nodes.TemplateData):
            return node.data
        if isinstance(node, (nodes.List, nodes.Tuple)):
            items = [self._fold(i, depth) for i in node.items]
            return UNKNOWN if any(i is UNKNOWN for i in items) else items
        if isinstance(node, nodes.Name):
            bound = self.consts.get(node.name) if node.ctx == "load" else None
            return self._fold(bound, depth)
        if isinstance(node, nodes.Assign):
            return self._fold(node.node, depth)
        if isinstance(node, (nodes.AssignBlock, nodes.Output)):
            if isinstance(node, nodes.AssignBlock) and node.filter is not None:
                return UNKNOWN
            parts = [self._fold(n, depth) for n in (node.body if isinstance(node, nodes.AssignBlock) else node.nodes)]
            return UNKNOWN if any(p is UNKNOWN for p in parts) else "".join(map(_text, parts))
        if isinstance(node, nodes.Concat):
            parts = [self._fold(n, depth) for n in node.nodes]
            return UNKNOWN if any(p is UNKNOWN for p in parts) else "".join(map(_text, parts))
        if isinstance(node, (nodes.Add, nodes.Mul, nodes.Mod)):
            return _binary(type(node).__name__, self._fold(node.left, depth), self._fold(node.right, depth))
        if isinstance(node, nodes.Filter):
            return self._fold_filter(node, depth)
        if isinstance(node, nodes.Call):
            return self._fold_call(node, depth)
        if isinstance(node, nodes.Getitem):
            return _index(self._fold(node.node, depth), self._fold_index(node.arg, depth))
        return UNKNOWN

    def _fold_index(self, node: nodes.Expr, depth: int) -> object:
        from jinja2 import nodes

        if isinstance(node, nodes.Slice):
            bounds = [self._fold(n, depth) if n is not None else None for n in (node.start, node.stop, node.step)]
            if all(b is None or (isinstance(b, int) and not isinstance(b, bool)) for b in bounds) and bounds[2] != 0:
                return slice(*bounds)
            return UNKNOWN
        return self._fold(node, depth)

    def _fold_filter(self, node: nodes.Filter, depth: int) -> object:
        if node.name not in _FOLD_FILTERS or node.kwargs or node.dyn_args or node.dyn_kwargs:
            return UNKNOWN
        subject = self._fold(node.node, depth)
        args = [self._fold(a, depth) for a in node.args]
        if subject is UNKNOWN or any(a is UNKNOWN for a in args):
            return UNKNOWN
        return _apply_filter(node.name, subject, args)

    def _fold_call(self, node: nodes.Call, depth: int) -> object:
        from jinja2 import nodes

        if node.kwargs or node.dyn_args or node.dyn_kwargs:
            return UNKNOWN
        args = [self._fold(a, depth) for a in node.args]
        if any(a is UNKNOWN for a in args):
            return UNKNOWN
        func = node.node
        if isinstance(func, nodes.Name) and func.name == "chr" and len(args) == 1 and isinstance(args[0], int):
            return chr(args[0])
        if isinstance(func, nodes.Getattr) and func.attr in _STRING_METHODS:
            subject = self._fold(func.node, depth)
            if isinstance(subject, str):
                return _string_method(subject, func.attr, args)
        return UNKNOWN

    def _pieces(self, node: nodes.Node) -> list[str]:
        """String constants that contribute to the value of ``node`` (not lookup keys inside it)."""
        from jinja2 import nodes

        found: list[str] = []
        stack: list[nodes.Node] = [node]
        seen = 0
        while stack and seen < 512:
            seen += 1
            current = stack.pop()
            value = self.folded.get(id(current))
            if isinstance(current, nodes.Const) or isinstance(value, str):
                text = current.value if isinstance(current, nodes.Const) else value
                if isinstance(text, str):
                    found.append(text)
                continue
            stack.extend(reversed(list(_value_children(current, self.consts))))
        return found

    def _first_piece(self, node: nodes.Node) -> str:
        for piece in self._pieces(node):
            if piece:
                return piece[:20]
        return ""


def _value_children(node: nodes.Node, consts: dict[str, nodes.Node]) -> Iterator[nodes.Node]:
    """The sub-expressions whose values are combined into the value of ``node``."""
    from jinja2 import nodes

    if isinstance(node, nodes.Concat):
        yield from node.nodes
    elif isinstance(node, (nodes.Add, nodes.Mul, nodes.Mod)):
        yield node.left
        yield node.right
    elif isinstance(node, (nodes.List, nodes.Tuple)):
        yield from node.items
    elif isinstance(node, nodes.CondExpr):
        yield node.expr1
        if node.expr2 is not None:
            yield node.expr2
    elif isinstance(node, nodes.Filter):
        if node.node is not None:
            yield node.node
        yield from node.args
    elif isinstance(node, nodes.Call):
        if isinstance(node.node, nodes.Getattr) and node.node.attr in _STRING_METHODS:
            yield node.node.node
        yield from node.args
    elif isinstance(node, nodes.Getitem):
        if not (isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str)):  # a slice or an index
            yield node.node
    elif isinstance(node, nodes.Name) and node.name in consts:
        yield consts[node.name]
    elif isinstance(node, nodes.Assign):
        yield node.node


def _text(value: object) -> str:
    """How Jinja's ``~`` turns a value into text."""
    return value if isinstance(value, str) else str(value)


def _short(value: object) -> str:
    return repr(value)[:60] if not isinstance(value, _Unknown) else "(computed name)"


def _binary(op: str, left: object, right: object) -> object:
    if left is UNKNOWN or right is UNKNOWN:
        return UNKNOWN
    if op == "Add" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if op == "Add" and isinstance(left, list) and isinstance(right, list):
        return left + right
    if op == "Mul":
        text, count = (left, right) if isinstance(left, (str, list)) else (right, left)
        if isinstance(text, (str, list)) and isinstance(count, int) and not isinstance(count, bool):
            return text * count if count >= 0 and len(text) * count <= _FOLD_MAX else UNKNOWN
        return UNKNOWN
    if op == "Mod" and isinstance(left, str):
        return _printf(left, right if isinstance(right, list) else [right])
    return UNKNOWN


def _index(subject: object, index: object) -> object:
    if isinstance(subject, (str, list)) and isinstance(index, (int, slice)) and not isinstance(index, bool):
        return subject[index]
    return UNKNOWN


_PRINTF = re.compile(r"%([%scdirxXa])")


def _printf(fmt: str, args: list[object]) -> object:
    """``fmt % args`` for the plain conversions only (no widths: a format must not allocate at will)."""
    if re.search(r"%[^%scdirxXa]", fmt):
        return UNKNOWN
    values = iter(args)
    out: list[str] = []
    pos = 0
    for match in _PRINTF.finditer(fmt):
        out.append(fmt[pos:match.start()])
        pos = match.end()
        conv = match.group(1)
        if conv == "%":
            out.append("%")
            continue
        value = next(values, UNKNOWN)
        if value is UNKNOWN:
            return UNKNOWN
        if conv == "c":
            out.append(chr(value) if isinstance(value, int) else str(value)[:1])
        elif conv in "dixX" and isinstance(value, int):
            out.append(format(value, {"d": "d", "i": "d", "x": "x", "X": "X"}[conv]))
        else:
            out.append(repr(value) if conv in "ra" else _text(value))
    out.append(fmt[pos:])
    return "".join(out)


def _format_method(fmt: str, args: list[object]) -> object:
    """``fmt.format(*args)`` for plain ``{}``/``{0}`` fields; anything with a spec or attribute stays unknown."""
    out: list[str] = []
    auto = 0
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return UNKNOWN
    for literal, field, spec, conversion in parsed:
        out.append(literal)
        if field is None:
            continue
        if spec or conversion:
            return UNKNOWN
        if field == "":
            field, auto = str(auto), auto + 1
        if not field.isdigit() or int(field) >= len(args):
            return UNKNOWN
        out.append(_text(args[int(field)]))
    return "".join(out)


def _format_fields(fmt: str) -> list[str]:
    """Attribute and key names inside ``str.format`` fields (``{0.__class__}``, ``{x[__globals__]}``)."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(fmt) if field]
    except ValueError:
        return []
    return [part for field in fields for part in re.split(r"[.\[\]]", field)[1:] if part]


def _string_method(subject: str, method: str, args: list[object]) -> object:
    if method == "format":
        return _format_method(subject, args)
    if method == "join" and len(args) == 1 and isinstance(args[0], (list, str)):
        return subject.join(_text(a) for a in args[0])
    if method == "replace" and len(args) in (2, 3) and all(isinstance(a, str) for a in args[:2]):
        old, new = str(args[0]), str(args[1])
        if old and subject.count(old) * max(1, len(new)) > _FOLD_MAX:
            return UNKNOWN
        return subject.replace(old, new)
    if not args and method in ("lower", "upper", "strip", "lstrip", "rstrip", "title", "capitalize", "swapcase"):
        result: str = getattr(subject, method)()
        return result
    return UNKNOWN


def _apply_filter(name: str, subject: object, args: list[object]) -> object:
    """Jinja's string-building filters on constant values."""
    if name == "join" and isinstance(subject, (list, str)):
        sep = args[0] if args else ""
        return _text(sep).join(_text(s) for s in subject) if isinstance(sep, str) else UNKNOWN
    if name == "replace" and isinstance(subject, str):
        return _string_method(subject, "replace", args)
    if name == "reverse" and isinstance(subject, (list, str)):
        return subject[::-1]
    if name == "format" and isinstance(subject, str):
        return _printf(subject, args)
    if name == "list" and isinstance(subject, (str, list)):
        return list(subject)
    if name in ("first", "last") and isinstance(subject, (str, list)) and subject:
        return subject[0] if name == "first" else subject[-1]
    if name == "string":
        return _text(subject)
    method = {"lower": "lower", "upper": "upper", "trim": "strip", "capitalize": "capitalize", "title": "title"}
    if name in method and isinstance(subject, str) and not args:
        return _string_method(subject, method[name], [])
    return UNKNOWN


def analyse_file(blob: Blob, report: Report) -> None:
    """``TemplateFileAnalyzer.analyse``: analyse the whole file as one template."""
    report.fact("format", "jinja-template")
    limit = MAX_TEMPLATE_CHARS * 4  # UTF-8: at most 4 bytes a character
    if blob.size > limit:
        report.not_examined(blob.member, f"template file of {blob.size} bytes exceeds {limit}")
        return
    text = blob.source.read_at(0, blob.size).decode("utf-8", "replace")
    report_template(report, text, blob.name or "the template file", blob.member, None)
