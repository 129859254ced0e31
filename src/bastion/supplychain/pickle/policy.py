"""Which globals a pickle may import: deny rules first, then an exact (module, qualname) allow-list.

Deny rules match the full dotted path (module + qualname, after Python 2 name mapping) by prefix on dot
boundaries, so ``torch.serialization.load``, ``("torch", "serialization.load")`` and ``("torch.serialization",
"load")`` are the same thing. The allow-list only ever lowers "unknown" (medium) to "allowed"; it can never
override a deny rule, and users extend it in ``bastion.toml`` without being able to weaken the deny rules.
"""

from __future__ import annotations

import _compat_pickle
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bastion.findings import Severity

# Each deny entry: dotted prefix -> (rule id, why). Longest prefix wins; rule ids are in the catalogue.
_EXEC = "BST-PKL-001"
_RESOLVE = "BST-PKL-002"
_CODE = "BST-PKL-003"
_IO = "BST-PKL-004"
_LOADS = "BST-PKL-008"
_COMBINE = "BST-PKL-009"

_DENY_GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "runs commands or code": (
        _EXEC,
        (
            "builtins.eval", "builtins.exec", "builtins.execfile", "builtins.compile", "builtins.__import__",
            "builtins.input", "builtins.breakpoint", "builtins.help", "builtins.exit", "builtins.quit",
            "os", "posix", "nt", "subprocess", "_posixsubprocess", "_winapi", "pty", "commands", "popen2",
            "platform.popen", "platform._syscmd_ver", "platform._syscmd_file", "runpy", "code", "codeop",
            "pdb", "bdb", "trace", "timeit", "profile", "cProfile", "pstats", "doctest", "idlelib", "lib2to3",
            "pip", "setuptools", "distutils", "venv", "ensurepip", "webbrowser", "asyncio", "multiprocessing",
            "concurrent", "threading", "_thread", "atexit", "site", "sitecustomize", "usercustomize",
            "logging.config", "unittest", "test", "imp", "zipimport", "pydoc.pipepager", "pydoc.tempfilepager",
            "pydoc.pager", "ipykernel", "IPython", "jupyter_client", "nbconvert", "numexpr.evaluate",
            "pandas.eval", "pandas.core.computation", "sympy.parsing", "sympy.sympify", "sympy.core.sympify",
            "numpy.testing._private.utils.runstring", "numpy.f2py", "numpy.distutils", "numpy.ctypeslib",
            "torch._inductor", "torch.utils.cpp_extension", "torch.hub", "torch.jit", "torch._dynamo",
            "torch.package", "torch.utils.collect_env", "torch.utils.bottleneck", "torch.fx",
            "torch.utils._config_module", "torch.distributed", "torch.testing", "torch._C._jit",
            "torch.utils.benchmark", "torch.compile", "torch._export", "torch.export", "torch.onnx",
            "torch.utils.data.datapipes", "torch._functorch", "torch.library", "torch.ops", "torch._ops",
            "torch.cuda._lazy_call", "torch._classes", "torch.classes",
            "transformers.dynamic_module_utils", "transformers.utils.import_utils", "keras.src.utils",
            "jinja2", "mako", "yaml.load", "yaml.unsafe_load", "yaml.full_load", "yaml.UnsafeLoader",
            "yaml.Loader", "yaml.FullLoader", "yaml.constructor", "bz2.open", "gzip.open", "lzma.open",
            "xmlrpc", "celery", "fabric", "paramiko", "invoke", "sh", "plumbum", "pexpect", "sys.exit",
            "_io.open_code", "io.open_code", "readline", "rlcompleter", "cmd", "ctypes", "_ctypes", "cffi",
            "gc", "signal", "resource", "faulthandler", "tracemalloc", "sysconfig", "inspect",
        ),
    ),
    "turns strings into callables": (
        _RESOLVE,
        (
            "builtins.getattr", "builtins.setattr", "builtins.delattr", "builtins.globals", "builtins.locals",
            "builtins.vars", "builtins.dir", "builtins.hasattr", "builtins.__builtins__", "builtins.__loader__",
            "builtins.__spec__", "builtins.object.__getattribute__", "builtins.type.__getattribute__",
            "importlib", "_frozen_importlib", "_frozen_importlib_external", "_imp", "pkgutil", "pydoc.locate",
            "pydoc.safeimport", "pydoc.importfile", "operator.attrgetter", "operator.methodcaller",
            "operator.itemgetter", "operator.getitem", "operator.setitem", "operator.delitem",
            "_operator", "copyreg._extension_registry", "copyreg.add_extension", "copy_reg",
            "sys.modules", "builtins.super", "builtins.classmethod", "builtins.staticmethod", "builtins.property",
            "torch.serialization._get_restore_location", "torch._utils._import_dotted_name",
            "numpy.core._internal._ctypes", "numpy._core._internal._ctypes", "pickle.find_class",
            "pickle._getattribute", "pickle.whichmodule",
        ),
    ),
    "builds code objects": (
        _CODE,
        (
            "marshal", "_marshal", "types.CodeType", "types.FunctionType", "types.LambdaType",
            "types.MethodType", "types.ModuleType", "types.new_class", "types.BuiltinFunctionType",
            "builtins.code", "builtins.function", "builtins.type.__call__", "dill", "cloudpickle",
            "srsly.cloudpickle", "joblib.externals.cloudpickle", "ray.cloudpickle", "opcode", "dis",
        ),
    ),
    "reaches files, network or process state": (
        _IO,
        (
            "builtins.open", "builtins.print", "builtins.memoryview.__setitem__", "io", "_io", "codecs.open",
            "codecs.StreamReaderWriter", "fileinput", "linecache", "shutil", "tempfile", "glob", "pathlib",
            "filecmp", "mmap", "numpy.memmap", "numpy.core.memmap", "numpy._core.memmap", "numpy.fromfile",
            "numpy.tofile", "numpy.savetxt", "numpy.loadtxt", "numpy.genfromtxt", "numpy.save", "numpy.savez",
            "numpy.lib.format.open_memmap", "numpy.DataSource", "numpy.lib._datasource",
            "socket", "_socket", "ssl", "_ssl", "select", "selectors", "http", "urllib", "urllib2", "urllib3",
            "requests", "httpx", "aiohttp", "ftplib", "smtplib", "telnetlib", "poplib", "imaplib", "nntplib",
            "socketserver", "SocketServer", "wsgiref", "email", "sqlite3", "_sqlite3", "dbm", "zipfile", "tarfile",
            "sys", "posixpath", "ntpath", "macpath", "genericpath", "fcntl", "termios", "pwd", "grp",
            "getpass", "syslog", "uuid._popen", "uuid._ifconfig_getnode", "uuid._find_mac", "ntsecuritycon",
            "win32api", "win32com", "_winreg", "winreg", "msvcrt", "smtpd", "asynchat", "asyncore",
            "pandas.read_csv", "pandas.read_json", "pandas.read_html", "pandas.read_parquet", "pandas.io",
            "pandas.read_sql", "pandas.read_excel", "pandas.to_pickle", "torch.save", "torch.serialization.save",
            "torch.from_file", "torch.storage._new_shared_filename", "torch.UntypedStorage.from_file",
            "torch.storage.UntypedStorage.from_file", "joblib.dump", "joblib.Memory", "joblib.memory",
            "joblib.numpy_pickle.dump",
        ),
    ),
    "deserialises embedded data": (
        _LOADS,
        (
            "pickle", "_pickle", "cPickle", "pickletools", "shelve", "torch.load", "torch.serialization.load",
            "torch.serialization._load", "torch.serialization._legacy_load", "torch.storage._load_from_bytes",
            "torch._utils._rebuild_from_type", "torch.utils.model_zoo", "torch.serialization.load_state_dict",
            "joblib.load", "joblib.numpy_pickle.load", "joblib.numpy_pickle._unpickle", "numpy.load",
            "numpy.lib.npyio", "numpy.lib._npyio_impl", "numpy.lib.format.read_array", "numpy.core.numeric.load",
            "numpy.fromstring", "pandas.read_pickle", "pandas.core.common.pickle", "jsonpickle", "keras.models",
            "keras.saving", "tensorflow.keras.models", "skops.io.load", "sklearn.externals.joblib",
            "sklearn.utils._joblib", "safetensors.torch.load", "onnx.load", "_compat_pickle",
        ),
    ),
    "composes calls through higher-order functions": (
        _COMBINE,
        (
            "functools.partial", "functools.reduce", "functools.partialmethod", "functools.singledispatch",
            "functools.cached_property", "functools.wraps", "functools.update_wrapper", "_functools",
            "builtins.map", "builtins.filter", "builtins.apply", "builtins.reduce", "builtins.sorted",
            "builtins.min", "builtins.max", "builtins.iter", "builtins.next", "builtins.zip", "builtins.callable",
            "builtins.reversed", "builtins.all", "builtins.any", "builtins.sum", "itertools", "operator.call",
            "contextlib", "weakref.finalize", "copyreg.__reduce_ex__", "copy.deepcopy", "copy.copy",
        ),
    ),
}

_SEVERITY = {
    _EXEC: Severity.CRITICAL,
    _RESOLVE: Severity.CRITICAL,
    _CODE: Severity.CRITICAL,
    _IO: Severity.CRITICAL,
    _LOADS: Severity.CRITICAL,
    _COMBINE: Severity.HIGH,
}

_DENY: dict[str, tuple[str, str]] = {}
for _why, (_rule, _prefixes) in _DENY_GROUPS.items():
    for _prefix in _prefixes:
        _DENY[_prefix] = (_rule, _why)

TORCHSCRIPT_HELPERS = frozenset(f"torch.jit._pickle.{name}" for name in (
    "build_intlist", "build_doublelist", "build_boollist", "build_tensorlist", "build_tensor_from_id",
    "restore_type_tag"))
"""TorchScript archives' pickles call these list builders (each returns its argument); the rest of ``torch.jit``
stays denied (``torch.jit.load`` / ``_script`` compile and run code)."""


@dataclass(frozen=True)
class Verdict:
    """What the policy says about one global."""

    rule_id: str | None
    """The rule it breaks, or None when allowed."""
    severity: Severity | None
    """The rule's severity, or None when allowed."""
    why: str
    """A short reason."""


ALLOWED = Verdict(None, None, "on the allow-list")


def normalise(module: str, name: str) -> tuple[str, str]:
    """Apply the Python 2 -> 3 renames that Python's unpickler applies, so aliases cannot hide a name."""
    mapped = _compat_pickle.NAME_MAPPING.get((module, name))
    if mapped:
        return mapped
    module = _compat_pickle.IMPORT_MAPPING.get(module, module)
    if module == "__builtin__" or module == "exceptions":
        module = "builtins"
    return module, name


def _deny_match(dotted: str) -> tuple[str, str] | None:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        hit = _DENY.get(".".join(parts[:cut]))
        if hit:
            return hit
    return None


@lru_cache(maxsize=1)
def builtin_allowlist() -> frozenset[tuple[str, str]]:
    """The harvested exact allow-list shipped with Bastion (``allowlist.txt``)."""
    text = Path(__file__).with_name("allowlist.txt").read_text("utf-8")
    return parse_allowlist(text, "allowlist.txt")


def parse_allowlist(text: str, origin: str) -> frozenset[tuple[str, str]]:
    """Read ``module qualname`` lines (``#`` comments); raises ValueError naming the bad line."""
    entries = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{origin}:{number}: expected 'module qualname', got {raw.strip()!r}")
        entries.add((parts[0], parts[1]))
    return frozenset(entries)


class Policy:
    """Classify globals: deny rules, then the exact allow-list extended by the project's own entries."""

    def __init__(self, extra_allow: frozenset[tuple[str, str]] = frozenset()) -> None:
        self.allow = builtin_allowlist() | extra_allow
        self._cache: dict[tuple[str, str], Verdict] = {}

    def judge(self, module: str, name: str) -> Verdict:
        """The verdict for ``module`` + ``name`` (a qualname, possibly dotted)."""
        key = (module, name)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._judge(module, name)
        return hit

    def _judge(self, module: str, name: str) -> Verdict:
        module, name = normalise(module, name)
        dotted = f"{module}.{name}"
        if len(dotted) > 512 or dotted.count(".") > 32:
            return Verdict(_RESOLVE, Severity.CRITICAL, "names an invalid or obfuscated identifier")
        if dotted in TORCHSCRIPT_HELPERS:
            return ALLOWED
        deny = _deny_match(dotted)
        if deny:
            return Verdict(deny[0], _SEVERITY[deny[0]], deny[1])
        if any(part.startswith("__") and part.endswith("__") for part in name.split(".")):
            return Verdict(_RESOLVE, Severity.CRITICAL, "walks dunder attributes to reach other objects")
        if not module or not name or any(not p.isidentifier() for p in (module.split(".") + name.split("."))):
            return Verdict(_RESOLVE, Severity.CRITICAL, "names an invalid or obfuscated identifier")
        if (module, name) in self.allow or module == "__torch__" or module.startswith("__torch__."):
            # __torch__.* are TorchScript classes: no Python module has that name, so pickle cannot import them;
            # torch.jit.load resolves them from the archive's own compiled code.
            return ALLOWED
        return Verdict("BST-PKL-005", Severity.MEDIUM, "not on the allow-list")

    def is_deserialiser(self, module: str, name: str) -> bool:
        """Whether the global loads serialized data (its bytes arguments are scanned as nested pickles)."""
        return self.judge(module, name).rule_id == _LOADS
