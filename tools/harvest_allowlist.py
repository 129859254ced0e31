#!/usr/bin/env python3
"""Harvest the pickle-global allow-list used by Bastion's pickle analyser.

The allow-list is evidence-based: this script builds many *benign* objects of the
ML ecosystem (numpy, scipy.sparse, scikit-learn, torch, pandas, and the standard
library values they embed), serialises them the way real model files are written
(``pickle`` protocols 0/2/4/5, ``joblib.dump``, ``torch.save`` zip and legacy
formats) and records every global those byte streams reference.  The streams are
*never* unpickled: globals are read with :func:`pickletools.genops`.

Harvested globals then go through a deny review: anything that is a code-execution
or I/O gadget is removed even when a benign pickle referenced it (for instance
``torch.storage._load_from_bytes``, which calls ``torch.load``).  A few aliases
that older library versions wrote are added by hand (see ``MANUAL_ALIASES``).

Usage::

    python tools/harvest_allowlist.py [--output PATH] [--verbose]
"""

from __future__ import annotations

import _compat_pickle
import argparse
import collections
import contextlib
import datetime
import decimal
import fractions
import io
import logging
import pickle
import pickletools
import platform
import signal
import sys
import time
import uuid
import warnings
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

Global = tuple[str, str]

LOG = logging.getLogger("harvest_allowlist")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO_ROOT / "src" / "bastion" / "supplychain" / "pickle" / "allowlist.txt"

PICKLE_PROTOCOLS: tuple[int, ...] = (0, 2, 4, 5)
JOBLIB_PROTOCOLS: tuple[int, ...] = (2, 4, 5)
TORCH_PROTOCOLS: tuple[int, ...] = (2, 5)
FIT_TIMEOUT_S = 30

# The legacy (non-zip) torch.save format is five stacked pickles (magic number,
# protocol version, sys info, the object, storage keys) followed by raw storage
# bytes.  Walking further would interpret tensor data as opcodes.
TORCH_LEGACY_PICKLES = 5

# --------------------------------------------------------------------------------------
# Opcode walking
# --------------------------------------------------------------------------------------

_STRING_PUSH_OPS = frozenset(
    {"STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"}
)
_MEMO_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_MEMO_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})


class UnresolvedGlobalError(ValueError):
    """A STACK_GLOBAL whose operands are not two plain string pushes."""


def _py3_spelling(module: str, name: str) -> Global:
    """Map a protocol<3 (Python 2) spelling to what ``Unpickler.find_class`` resolves."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _as_int(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"expected an integer opcode argument, got {value!r}")
    return value


def walk_one_pickle(stream: io.BytesIO) -> set[Global]:
    """Return the globals referenced by one pickle read from ``stream`` (stops after STOP).

    GLOBAL/INST carry ``"module name"`` as their argument.  STACK_GLOBAL consumes the
    two most recent pushes, which the pickler always emits as string pushes, possibly
    memoised (MEMOIZE/PUT) or re-fetched from the memo (GET).  Only what is needed to
    resolve those operands is modelled: a list of pushed values (``None`` when not a
    string) and the memo.
    """
    found: set[Global] = set()
    memo: dict[int, object] = {}
    pushes: list[object] = []
    protocol = 0
    saw_stop = False
    for op, arg, _pos in pickletools.genops(stream):
        name = op.name
        if name == "PROTO":
            protocol = _as_int(arg)
        elif name in ("GLOBAL", "INST"):
            module, _, qualname = str(arg).partition(" ")
            found.add((module, qualname))
            pushes.append(None)
        elif name == "STACK_GLOBAL":
            if len(pushes) < 2 or not isinstance(pushes[-1], str) or not isinstance(pushes[-2], str):
                raise UnresolvedGlobalError(f"STACK_GLOBAL operands unresolved: {pushes[-2:]!r}")
            qualname = str(pushes.pop())
            module = str(pushes.pop())
            found.add((module, qualname))
            pushes.append(None)
        elif name in _STRING_PUSH_OPS:
            pushes.append(arg if isinstance(arg, str) else None)
        elif name in _MEMO_GET_OPS:
            pushes.append(memo.get(_as_int(arg)))
        elif name == "MEMOIZE":
            memo[len(memo)] = pushes[-1] if pushes else None
        elif name in _MEMO_PUT_OPS:
            memo[_as_int(arg)] = pushes[-1] if pushes else None
        elif name == "STOP":
            saw_stop = True
        elif op.stack_after:
            pushes.append(None)
        if len(pushes) > 64:
            del pushes[:-8]
    if not saw_stop:
        raise ValueError("pickle stream ended without STOP")
    if protocol < 3:
        found |= {_py3_spelling(m, n) for m, n in found}
    return found


def walk_pickle_bytes(data: bytes, *, max_pickles: int = 1) -> set[Global]:
    """Walk up to ``max_pickles`` consecutive pickles in ``data``."""
    stream = io.BytesIO(data)
    found: set[Global] = set()
    for _ in range(max_pickles):
        if stream.tell() >= len(data):
            break
        found |= walk_one_pickle(stream)
    return found


# --------------------------------------------------------------------------------------
# Harvest bookkeeping
# --------------------------------------------------------------------------------------


class Harvest:
    """Collects globals, the first sources that referenced each one and how many streams did."""

    def __init__(self) -> None:
        self.sources: dict[Global, list[str]] = {}
        self.counts: collections.Counter[Global] = collections.Counter()
        self.errors: list[str] = []
        self.fit_failures: list[str] = []
        self.streams = 0

    def add(self, found: Iterable[Global], source: str) -> None:
        self.streams += 1
        for item in found:
            self.counts[item] += 1
            seen = self.sources.setdefault(item, [])
            if len(seen) < 3:
                seen.append(source)

    def describe(self, item: Global) -> str:
        return f"{self.counts[item]} streams, e.g. " + "; ".join(self.sources[item])

    def error(self, source: str, exc: BaseException) -> None:
        msg = f"{source}: {type(exc).__name__}: {str(exc)[:160]}"
        LOG.debug("error %s", msg)
        self.errors.append(msg)

    def add_pickles(self, label: str, obj: object, protocols: Iterable[int] = PICKLE_PROTOCOLS) -> None:
        for proto in protocols:
            source = f"{label} [pickle p{proto}]"
            try:
                data = pickle.dumps(obj, protocol=proto)
                self.add(walk_pickle_bytes(data), source)
            except Exception as exc:  # noqa: BLE001 - any object may refuse a protocol
                self.error(source, exc)

    def add_joblib(self, label: str, obj: object, protocols: Iterable[int] = JOBLIB_PROTOCOLS) -> None:
        for proto in protocols:
            source = f"{label} [joblib p{proto}]"
            try:
                self.add(joblib_globals(obj, proto), source)
            except Exception as exc:  # noqa: BLE001
                self.error(source, exc)

    def add_all_formats(self, label: str, obj: object) -> None:
        self.add_pickles(label, obj)
        self.add_joblib(label, obj)


# --------------------------------------------------------------------------------------
# joblib: the stream interleaves pickle opcodes with raw array buffers
# --------------------------------------------------------------------------------------


def joblib_globals(obj: object, protocol: int) -> set[Global]:
    """Dump ``obj`` with joblib and walk the pickle opcodes, skipping raw array buffers.

    ``joblib.dump`` pickles a ``NumpyArrayWrapper`` in place of each array and writes the
    array payload straight into the file right after it (the pickle then continues).
    Object arrays are written as an embedded protocol-5 pickle instead.  The byte ranges
    written by ``NumpyArrayWrapper.write_array`` are recorded while dumping; the remaining
    bytes form a well-formed pickle and each object-array payload is walked on its own.
    """
    import joblib
    from joblib import numpy_pickle

    regions: list[tuple[int, int, bool]] = []
    original = numpy_pickle.NumpyArrayWrapper.write_array

    def recording_write_array(self: Any, array: Any, pickler: Any) -> None:
        start = pickler.file_handle.tell()
        original(self, array, pickler)
        regions.append((start, pickler.file_handle.tell(), bool(array.dtype.hasobject)))

    buffer = io.BytesIO()
    numpy_pickle.NumpyArrayWrapper.write_array = recording_write_array
    try:
        joblib.dump(obj, buffer, protocol=protocol)
    finally:
        numpy_pickle.NumpyArrayWrapper.write_array = original
    data = buffer.getvalue()

    found: set[Global] = set()
    pickle_part = bytearray()
    cursor = 0
    for start, end, is_object in regions:
        pickle_part += data[cursor:start]
        if is_object:
            found |= walk_pickle_bytes(data[start:end])
        cursor = end
    pickle_part += data[cursor:]
    stream = io.BytesIO(bytes(pickle_part))
    found |= walk_one_pickle(stream)
    if stream.tell() != len(pickle_part):
        raise ValueError("joblib pickle part has trailing bytes after STOP")
    return found


# --------------------------------------------------------------------------------------
# torch: zip archive (data.pkl) and legacy stacked pickles
# --------------------------------------------------------------------------------------


def torch_save_globals(obj: object, *, legacy: bool, protocol: int) -> set[Global]:
    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer, pickle_protocol=protocol, _use_new_zipfile_serialization=not legacy)
    data = buffer.getvalue()
    if legacy:
        return walk_pickle_bytes(data, max_pickles=TORCH_LEGACY_PICKLES)
    found: set[Global] = set()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not names:
            raise ValueError("no data.pkl in torch archive")
        for member in names:
            found |= walk_pickle_bytes(archive.read(member))
    return found


def add_torch(harvest: Harvest, label: str, obj: object, *, plain_pickle: bool = True) -> None:
    for legacy in (False, True):
        for proto in TORCH_PROTOCOLS:
            source = f"{label} [torch.save {'legacy' if legacy else 'zip'} p{proto}]"
            try:
                harvest.add(torch_save_globals(obj, legacy=legacy, protocol=proto), source)
            except Exception as exc:  # noqa: BLE001
                harvest.error(source, exc)
    if plain_pickle:
        harvest.add_pickles(label, obj, (2, 4, 5))


# --------------------------------------------------------------------------------------
# Object factories
# --------------------------------------------------------------------------------------


def stdlib_objects() -> Iterator[tuple[str, object]]:
    yield "OrderedDict", collections.OrderedDict([("a", 1), ("b", [1, 2])])
    yield "defaultdict(list)", collections.defaultdict(list, {"a": [1]})
    yield "defaultdict(int)", collections.defaultdict(int, {"a": 1})
    yield "defaultdict(dict)", collections.defaultdict(dict, {"a": {}})
    yield "Counter", collections.Counter("abracadabra")
    yield "deque", collections.deque([1, 2, 3], maxlen=5)
    yield "datetime", datetime.datetime(2024, 1, 2, 3, 4, 5, 6)
    yield "datetime-utc", datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    yield "datetime-offset", datetime.datetime(2024, 1, 2, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    yield "date", datetime.date(2024, 1, 2)
    yield "time", datetime.time(3, 4, 5)
    yield "timedelta", datetime.timedelta(days=1, seconds=3)
    yield "Decimal", decimal.Decimal("1.25")
    yield "Fraction", fractions.Fraction(3, 4)
    yield "UUID", uuid.UUID(int=12345)
    yield "set", {1, 2, 3}
    yield "frozenset", frozenset({"a", "b"})
    yield "slice", slice(1, 10, 2)
    yield "bytearray", bytearray(b"abc")
    yield "bytes", b"\x00\x01abc"
    yield "empty-bytes", b""
    yield "complex", complex(1.5, -2.0)
    yield "range", range(0, 10, 3)
    yield "Ellipsis", Ellipsis
    yield "containers", {"list": [1, 2.0, "x", None, True], "tuple": (1, (2, 3)), "dict": {1: "a"}}
    yield "big-int", 2**100
    yield "float-nan", float("nan")


def numpy_objects() -> Iterator[tuple[str, object]]:
    import numpy as np

    dtypes: list[Any] = [
        "?",
        "i1",
        "i2",
        "i4",
        "i8",
        "u1",
        "u2",
        "u4",
        "u8",
        "f2",
        "f4",
        "f8",
        np.longdouble,
        "c8",
        "c16",
        np.clongdouble,
        "M8[ns]",
        "M8[D]",
        "m8[s]",
        "m8[ns]",
        "S5",
        "U5",
        "V8",
        ">i4",
        "<f8",
        [("a", "i4"), ("b", "f8", (2,)), ("c", "U3")],
        [("outer", [("x", "f4"), ("y", "i2")]), ("flag", "?")],
        np.dtype({"names": ["p", "q"], "formats": ["i4", "f4"], "offsets": [0, 8], "itemsize": 16}),
        np.dtype("i4", metadata={"unit": "m"}),
    ]
    for spec in dtypes:
        dt = np.dtype(spec)
        yield f"dtype {dt}", dt
        arr = np.zeros((2, 3), dtype=dt)
        yield f"ndarray {dt}", arr
        yield f"ndarray-F {dt}", np.asfortranarray(arr)
        yield f"ndarray-0d {dt}", np.zeros((), dtype=dt)
        yield f"scalar {dt}", arr.reshape(-1)[0]
    yield "ndarray arange", np.arange(24, dtype="f8").reshape(2, 3, 4)[:, ::2]
    yield "object array", np.array([1, "a", None, 2.5, (1, 2)], dtype=object)
    yield "object array 2d", np.array([[1, "x"], [2, "y"]], dtype=object)
    yield "ndarray dtype object", np.dtype(object)
    yield (
        "scalars",
        [
            np.bool_(True),
            np.int8(1),
            np.int16(1),
            np.int32(1),
            np.int64(1),
            np.uint8(1),
            np.uint16(1),
            np.uint32(1),
            np.uint64(1),
            np.float16(1),
            np.float32(1),
            np.float64(1),
            np.longdouble(1),
            np.complex64(1j),
            np.complex128(1j),
            np.clongdouble(1j),
            np.datetime64("2020-01-01"),
            np.timedelta64(5, "s"),
            np.str_("x"),
            np.bytes_(b"x"),
        ],
    )
    yield "dtype classes", [np.float64, np.int64, np.bool_, np.ndarray, np.dtype]
    yield "masked array", np.ma.array([1.0, 2.0, 3.0], mask=[False, True, False])
    yield (
        "masked structured",
        np.ma.array(np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), mask=[(False, True), (True, False)]),
    )
    yield "masked constant", np.ma.masked
    yield "masked object", np.ma.array(np.array([1, "a"], dtype=object), mask=[True, False])
    yield "matrix", np.matrix([[1, 2], [3, 4]])
    yield "recarray", np.rec.array([(1, 2.0), (3, 4.0)], dtype=[("a", "i4"), ("b", "f8")])
    yield "ufunc", [np.log1p, np.add, np.sqrt]
    yield "RandomState", np.random.RandomState(0)
    yield "default_rng", np.random.default_rng(0)
    yield "SeedSequence", np.random.SeedSequence(1234)
    for bitgen in (np.random.MT19937, np.random.PCG64, np.random.PCG64DXSM, np.random.Philox, np.random.SFC64):
        yield f"BitGenerator {bitgen.__name__}", bitgen(1)
        yield f"Generator {bitgen.__name__}", np.random.Generator(bitgen(1))


def scipy_objects() -> Iterator[tuple[str, object]]:
    import numpy as np
    import scipy.sparse as sp

    dense = np.array([[1.0, 0.0, 2.0, 0.0], [0.0, 0.0, 3.0, 4.0], [5.0, 0.0, 0.0, 6.0], [0.0, 7.0, 0.0, 0.0]])
    for fmt in ("csr", "csc", "coo", "lil", "dok", "bsr", "dia"):
        matrix_cls = getattr(sp, f"{fmt}_matrix")
        array_cls = getattr(sp, f"{fmt}_array")
        yield f"scipy {fmt}_matrix", matrix_cls(dense)
        yield f"scipy {fmt}_array", array_cls(dense)
        yield f"scipy {fmt}_matrix int", matrix_cls(dense.astype("i8"))
    yield "scipy bool csr", sp.csr_array(dense > 0)


def pandas_objects() -> Iterator[tuple[str, object]]:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.0, np.nan, 3.0],
            "s": ["a", "b", "c"],
            "o": pd.Series(["a", 1, None], dtype=object),
            "b": [True, False, True],
            "c": pd.Categorical(["x", "y", "x"]),
            "d": pd.to_datetime(["2020-01-01", "2020-01-02", "2020-01-03"]),
            "td": pd.to_timedelta([1, 2, 3], unit="s"),
            "n": pd.array([1, None, 3], dtype="Int64"),
            "bn": pd.array([True, None, False], dtype="boolean"),
            "fn": pd.array([1.0, None, 3.0], dtype="Float64"),
            "sp": pd.arrays.SparseArray([0, 0, 1]),
            "iv": pd.arrays.IntervalArray.from_breaks([0, 1, 2, 3]),
            "pd": pd.period_range("2020-01", periods=3, freq="M"),
        }
    )
    yield "DataFrame", frame
    yield "DataFrame numeric", pd.DataFrame(np.arange(6.0).reshape(3, 2), columns=["a", "b"])
    yield "Series", pd.Series([1.0, 2.0], index=["a", "b"], name="s")
    yield "Series str", pd.Series(["a", "b"])
    yield "Series object-str", pd.Series(["a", "b"], dtype=object)
    yield "Index", pd.Index(["a", "b"])
    yield "Index int", pd.Index([1, 2, 3])
    yield "RangeIndex", pd.RangeIndex(5)
    yield "Categorical", pd.Categorical(["a", "b", "a"], categories=["a", "b"], ordered=True)
    yield "CategoricalIndex", pd.CategoricalIndex(["a", "b"])
    yield "DatetimeIndex", pd.date_range("2020-01-01", periods=3, freq="D")
    yield "TimedeltaIndex", pd.timedelta_range("1D", periods=3)
    yield "PeriodIndex", pd.period_range("2020-01", periods=3, freq="M")
    yield "IntervalIndex", pd.interval_range(0, 3)
    yield "MultiIndex", pd.MultiIndex.from_tuples([("a", 1), ("b", 2)], names=["k", "n"])
    yield "Timestamp", pd.Timestamp("2020-01-01 12:00")
    yield "Timedelta", pd.Timedelta("1D")
    yield "Period", pd.Period("2020-01", freq="M")
    yield "NaT/NA", [pd.NaT, pd.NA]
    yield "DatetimeIndex utc", pd.date_range("2020-01-01", periods=2, tz="UTC")
    yield "DatetimeIndex tz", pd.date_range("2020-01-01", periods=2, tz="Europe/Paris")


# --------------------------------------------------------------------------------------
# scikit-learn
# --------------------------------------------------------------------------------------


class _FitTimeoutError(Exception):
    pass


def _alarm_handler(signum: int, frame: FrameType | None) -> None:
    raise _FitTimeoutError(f"fit exceeded {FIT_TIMEOUT_S}s")


@contextlib.contextmanager
def _time_limit(seconds: int) -> Iterator[None]:
    if not hasattr(signal, "SIGALRM"):
        yield
        return
    previous = signal.signal(signal.SIGALRM, _alarm_handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _sklearn_datasets() -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.RandomState(0)
    n_samples = 60
    x = rng.rand(n_samples, 4)
    y_cls = np.arange(n_samples) % 3
    # Strictly positive targets so that Poisson/Gamma/Tweedie regressors accept them.
    y_reg = np.abs(x @ np.array([1.0, -2.0, 0.5, 3.0])) + 0.1 + 0.01 * rng.rand(n_samples)
    return {
        "X": x,
        "X_int": rng.randint(0, 4, size=(n_samples, 4)),
        "X_df": pd.DataFrame(x, columns=["a", "b", "c", "d"]),
        "K": x @ x.T,
        "y_cls": y_cls,
        "y_bin": y_cls % 2,
        "y_str": np.array(["ham", "spam", "eggs"], dtype=object)[y_cls],
        "y_reg": y_reg,
        "Y_multi": np.column_stack([y_reg, -y_reg]),
        "Y_multilabel": np.column_stack([y_cls == 0, y_cls == 1]).astype(int),
        "texts": ["the cat sat", "the dog ran", "a cat and a dog", "birds fly high"] * 3,
        "dicts": [{"a": 1.0, "b": 2.0}, {"a": 3.0, "c": 1.0}] * 5,
        "labels": [["a", "b"], ["b"], ["c"]],
    }


def _fit_attempts(estimator: Any, data: dict[str, Any]) -> list[Callable[[], Any]]:
    from sklearn.base import is_regressor

    y = data["y_reg"] if is_regressor(estimator) else data["y_cls"]
    return [
        lambda: estimator.fit(data["X"], y),
        lambda: estimator.fit(data["X_int"], y),
        lambda: estimator.fit(data["X"], data["y_bin"]),
        lambda: estimator.fit(data["K"], y),
        lambda: estimator.fit(data["X"], data["Y_multi"]),
        lambda: estimator.fit(data["X"], data["Y_multilabel"]),
        lambda: estimator.fit(data["X"][:, 0], data["y_reg"]),
        lambda: estimator.fit(data["X"]),
        lambda: estimator.fit(data["K"]),
        lambda: estimator.fit(data["X"][:, :3]),
        lambda: estimator.fit(data["y_cls"]),
        lambda: estimator.fit(data["texts"]),
        lambda: estimator.fit(data["dicts"]),
        lambda: estimator.fit(data["labels"]),
    ]


def _try_fit(estimator: Any, data: dict[str, Any]) -> Exception | None:
    """Try the input shapes in turn; return the first error if none fits (None on success)."""
    first: Exception | None = None
    for attempt in _fit_attempts(estimator, data):
        try:
            with _time_limit(FIT_TIMEOUT_S):
                attempt()
            return None
        except _FitTimeoutError as exc:
            return exc
        except Exception as exc:  # noqa: BLE001 - try the next input shape
            first = first or exc
    return first


def _sklearn_instances(cls: type) -> list[Any]:
    try:
        from sklearn.utils._test_common.instance_generator import _construct_instances

        return list(_construct_instances(cls))
    except Exception:  # noqa: BLE001 - private helper may be missing or refuse
        return [cls()]


def sklearn_harvest(harvest: Harvest) -> int:
    """Fit and serialise every constructible estimator; return how many were tried."""
    import numpy as np
    from sklearn.experimental import enable_halving_search_cv, enable_iterative_imputer  # noqa: F401
    from sklearn.utils import all_estimators

    data = _sklearn_datasets()
    tried = 0
    for name, cls in all_estimators():
        try:
            instances = _sklearn_instances(cls)
        except Exception as exc:  # noqa: BLE001
            harvest.fit_failures.append(f"{name}: construct: {type(exc).__name__}: {exc}"[:200])
            continue
        for index, estimator in enumerate(instances):
            tried += 1
            label = f"sklearn {name}#{index}"
            failure = _try_fit(estimator, data)
            if failure is not None:
                harvest.fit_failures.append(f"{name}: {type(failure).__name__}: {failure}"[:200])
                label += " (unfitted)"
            harvest.add_all_formats(label, estimator)
            LOG.debug("sklearn %s done (%s)", label, "failed" if failure else "fitted")
            _harvest_binary(harvest, label, estimator, data)
    for label, estimator, fit in _sklearn_extras(data, np):
        try:
            with _time_limit(FIT_TIMEOUT_S):
                fit()
        except Exception as exc:  # noqa: BLE001
            harvest.fit_failures.append(f"{label}: {type(exc).__name__}: {exc}"[:200])
        harvest.add_all_formats(f"sklearn extra {label}", estimator)
    return tried


def _harvest_binary(harvest: Harvest, label: str, estimator: Any, data: dict[str, Any]) -> None:
    """Classifiers fitted on two classes pickle other helpers (binomial losses, logit links) than on three."""
    from sklearn.base import clone, is_classifier

    if not is_classifier(estimator):
        return
    try:
        binary = clone(estimator)
        with _time_limit(FIT_TIMEOUT_S):
            binary.fit(data["X"], data["y_bin"])
    except Exception as exc:  # noqa: BLE001 - some classifiers need other inputs; the multi-class fit covered them
        harvest.fit_failures.append(f"{label} binary: {type(exc).__name__}: {exc}"[:200])
        return
    harvest.add_all_formats(f"{label} binary", binary)


def _sklearn_extras(data: dict[str, Any], np: Any) -> list[tuple[str, Any, Callable[[], Any]]]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer, TfidfVectorizer
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.neighbors import BallTree, KDTree, KNeighborsClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline, make_pipeline
    from sklearn.preprocessing import (
        FunctionTransformer,
        LabelBinarizer,
        LabelEncoder,
        MultiLabelBinarizer,
        OneHotEncoder,
        OrdinalEncoder,
        StandardScaler,
    )
    from sklearn.svm import SVC

    x, x_df, y, y_str = data["X"], data["X_df"], data["y_cls"], data["y_str"]
    texts = data["texts"]
    pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    column = ColumnTransformer(
        [("num", StandardScaler(), ["a", "b"]), ("cat", OneHotEncoder(handle_unknown="ignore"), ["c"])],
        remainder="passthrough",
    )
    cat_frame = x_df.assign(c=np.array(["u", "v", "w"])[y])
    column_pipe = make_pipeline(column, LogisticRegression())
    grid = GridSearchCV(SVC(), {"C": [0.1, 1.0], "kernel": ["linear", "rbf"]}, cv=3)
    rand = RandomizedSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, n_iter=2, cv=3, random_state=0)
    calibrated = CalibratedClassifierCV(LogisticRegression(), cv=3)
    union = FeatureUnion([("a", StandardScaler()), ("b", FunctionTransformer(np.log1p))])
    ufunc_tf = FunctionTransformer(np.log1p, inverse_func=np.expm1)
    ttr = TransformedTargetRegressor(regressor=Ridge(), func=np.log1p, inverse_func=np.expm1)
    rf_rs = RandomForestClassifier(n_estimators=3, random_state=np.random.RandomState(0))
    knn_kd = KNeighborsClassifier(algorithm="kd_tree")
    knn_ball = KNeighborsClassifier(algorithm="ball_tree")
    label_enc, label_bin, multi_bin = LabelEncoder(), LabelBinarizer(), MultiLabelBinarizer()
    ordinal = OrdinalEncoder()
    count, tfidf, hashing = CountVectorizer(), TfidfVectorizer(ngram_range=(1, 2)), HashingVectorizer(n_features=32)
    kd_tree, ball_tree = KDTree(x), BallTree(x, metric="manhattan")
    str_lr = LogisticRegression()
    frozen_inner = LogisticRegression()
    frozen = FrozenEstimator(frozen_inner)
    df_pipe = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression())])
    return [
        ("Pipeline", pipe, lambda: pipe.fit(x, y)),
        ("Pipeline DataFrame", df_pipe, lambda: df_pipe.fit(x_df, y)),
        ("ColumnTransformer", column, lambda: column.fit(cat_frame, y)),
        ("ColumnTransformer pipeline", column_pipe, lambda: column_pipe.fit(cat_frame, y)),
        ("GridSearchCV", grid, lambda: grid.fit(x, y)),
        ("RandomizedSearchCV", rand, lambda: rand.fit(x, data["y_reg"])),
        ("CalibratedClassifierCV", calibrated, lambda: calibrated.fit(x, y)),
        ("FeatureUnion", union, lambda: union.fit(x, y)),
        ("FunctionTransformer ufunc", ufunc_tf, lambda: ufunc_tf.fit(x)),
        ("TransformedTargetRegressor", ttr, lambda: ttr.fit(x, np.abs(data["y_reg"]))),
        ("RandomForest RandomState", rf_rs, lambda: rf_rs.fit(x, y)),
        ("KNN kd_tree", knn_kd, lambda: knn_kd.fit(x, y)),
        ("KNN ball_tree", knn_ball, lambda: knn_ball.fit(x, y)),
        ("LogisticRegression str labels", str_lr, lambda: str_lr.fit(x, y_str)),
        ("LabelEncoder", label_enc, lambda: label_enc.fit(y_str)),
        ("LabelBinarizer", label_bin, lambda: label_bin.fit(y_str)),
        ("MultiLabelBinarizer", multi_bin, lambda: multi_bin.fit(data["labels"])),
        ("OrdinalEncoder", ordinal, lambda: ordinal.fit(np.array([["a"], ["b"]], dtype=object))),
        ("CountVectorizer", count, lambda: count.fit(texts)),
        ("TfidfVectorizer", tfidf, lambda: tfidf.fit(texts)),
        ("HashingVectorizer", hashing, lambda: hashing.fit(texts)),
        ("FrozenEstimator", frozen, lambda: frozen_inner.fit(x, y)),
        ("KDTree", kd_tree, lambda: None),
        ("BallTree", ball_tree, lambda: None),
    ]


# --------------------------------------------------------------------------------------
# torch
# --------------------------------------------------------------------------------------


def torch_harvest(harvest: Harvest) -> None:
    import torch
    from torch import nn

    torch.manual_seed(0)
    state = {
        "f32": torch.randn(2, 3),
        "f64": torch.randn(2, dtype=torch.float64),
        "f16": torch.randn(2, 3).half(),
        "bf16": torch.randn(2, 3).bfloat16(),
        "i8": torch.arange(4, dtype=torch.int8),
        "u8": torch.arange(4, dtype=torch.uint8),
        "i16": torch.arange(4, dtype=torch.int16),
        "i32": torch.arange(4, dtype=torch.int32),
        "i64": torch.arange(4),
        "bool": torch.tensor([True, False]),
        "c64": torch.randn(2, dtype=torch.complex64),
        "c128": torch.randn(2, dtype=torch.complex128),
        "scalar": torch.tensor(1.5),
        "view": torch.randn(4, 4)[1:, ::2],
        "nograd": nn.Parameter(torch.randn(2), requires_grad=False),
        "param": nn.Parameter(torch.randn(2)),
    }
    for extra in ("float8_e4m3fn", "float8_e5m2", "uint16", "uint32", "uint64"):
        if hasattr(torch, extra):
            with contextlib.suppress(Exception):
                state[extra] = torch.zeros(2).to(getattr(torch, extra))
    for name, tensor in state.items():
        add_torch(harvest, f"torch tensor {name}", {name: tensor})
    add_torch(harvest, "torch state_dict", collections.OrderedDict(state))

    dense = torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]])
    sparse = {
        "coo": dense.to_sparse(),
        "csr": dense.to_sparse_csr(),
        "csc": dense.to_sparse_csc(),
        "bsr": dense.to_sparse_bsr((1, 1)),
    }
    for name, tensor in sparse.items():
        add_torch(harvest, f"torch sparse {name}", {name: tensor})
    with contextlib.suppress(Exception):
        add_torch(harvest, "torch qtensor", {"q": torch.quantize_per_tensor(dense, 0.1, 0, torch.qint8)})
    with contextlib.suppress(Exception):
        qpc = torch.quantize_per_channel(dense, torch.tensor([0.1, 0.2]), torch.tensor([0, 0]), 0, torch.quint8)
        add_torch(harvest, "torch qtensor per-channel", {"q": qpc})

    modules: dict[str, nn.Module] = {
        "Linear": nn.Linear(3, 2),
        "Conv1d": nn.Conv1d(1, 2, 3),
        "Conv2d": nn.Conv2d(1, 2, 3),
        "Conv3d": nn.Conv3d(1, 2, 3),
        "ConvTranspose2d": nn.ConvTranspose2d(1, 2, 3),
        "BatchNorm1d": nn.BatchNorm1d(3),
        "BatchNorm2d": nn.BatchNorm2d(3),
        "LayerNorm": nn.LayerNorm(3),
        "GroupNorm": nn.GroupNorm(1, 2),
        "Embedding": nn.Embedding(5, 3),
        "EmbeddingBag": nn.EmbeddingBag(5, 3),
        "LSTM": nn.LSTM(3, 4, num_layers=2, bidirectional=True),
        "GRU": nn.GRU(3, 4),
        "RNN": nn.RNN(3, 4),
        "TransformerEncoder": nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16), num_layers=1),
        "TransformerEncoder gelu": nn.TransformerEncoder(
            nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True), num_layers=1
        ),
        "Transformer": nn.Transformer(8, 2, 1, 1, 16),
        "MultiheadAttention": nn.MultiheadAttention(8, 2),
        "Sequential": nn.Sequential(nn.Linear(3, 3), nn.ReLU(), nn.Dropout(0.1), nn.Linear(3, 1), nn.Sigmoid()),
        "ModuleList": nn.ModuleList([nn.Linear(2, 2), nn.Tanh()]),
        "ModuleDict": nn.ModuleDict({"a": nn.Linear(2, 2), "b": nn.GELU()}),
        "ParameterList": nn.ParameterList([nn.Parameter(torch.randn(2))]),
        "ParameterDict": nn.ParameterDict({"p": nn.Parameter(torch.randn(2))}),
        "activations": nn.Sequential(
            nn.ReLU(),
            nn.GELU(),
            nn.Tanh(),
            nn.Sigmoid(),
            nn.Softmax(dim=-1),
            nn.LogSoftmax(dim=-1),
            nn.LeakyReLU(),
            nn.SiLU(),
            nn.ELU(),
            nn.Mish(),
            nn.Hardswish(),
            nn.PReLU(),
            nn.Softplus(),
        ),
        "pooling": nn.Sequential(
            nn.MaxPool2d(2),
            nn.AvgPool2d(2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Identity(),
            nn.Dropout(),
            nn.Dropout2d(),
        ),
    }
    for name, module in modules.items():
        add_torch(harvest, f"torch module {name}", module)
        add_torch(harvest, f"torch state_dict {name}", module.state_dict(), plain_pickle=False)
    add_torch(harvest, "torch model dict", {"model": modules["Sequential"], "epoch": 3})

    model = nn.Linear(3, 2)
    loss_input = torch.randn(4, 3)
    optimizers = {
        "SGD": torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        "Adam": torch.optim.Adam(model.parameters()),
        "AdamW": torch.optim.AdamW(model.parameters()),
        "RMSprop": torch.optim.RMSprop(model.parameters()),
        "Adagrad": torch.optim.Adagrad(model.parameters()),
    }
    for name, optimizer in optimizers.items():
        optimizer.zero_grad()
        model(loss_input).sum().backward()
        optimizer.step()
        add_torch(harvest, f"torch optimizer {name}", optimizer.state_dict(), plain_pickle=False)

    base_opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler_factories: dict[str, Callable[[], Any]] = {
        "StepLR": lambda: torch.optim.lr_scheduler.StepLR(base_opt, step_size=2),
        "MultiStepLR": lambda: torch.optim.lr_scheduler.MultiStepLR(base_opt, milestones=[1, 3]),
        "ExponentialLR": lambda: torch.optim.lr_scheduler.ExponentialLR(base_opt, gamma=0.9),
        "CosineAnnealingLR": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(base_opt, T_max=5),
        "CosineAnnealingWarmRestarts": lambda: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(base_opt, 2),
        "LinearLR": lambda: torch.optim.lr_scheduler.LinearLR(base_opt),
        "OneCycleLR": lambda: torch.optim.lr_scheduler.OneCycleLR(base_opt, max_lr=0.1, total_steps=10),
        "CyclicLR": lambda: torch.optim.lr_scheduler.CyclicLR(base_opt, 0.01, 0.1),
        "ReduceLROnPlateau": lambda: torch.optim.lr_scheduler.ReduceLROnPlateau(base_opt),
    }
    for name, factory in scheduler_factories.items():
        try:
            scheduler = factory()
            base_opt.step()
            if name == "ReduceLROnPlateau":
                scheduler.step(1.0)
            else:
                scheduler.step()
            add_torch(harvest, f"torch scheduler {name}", scheduler.state_dict(), plain_pickle=False)
        except Exception as exc:  # noqa: BLE001
            harvest.error(f"torch scheduler {name}", exc)

    dtypes = [v for v in vars(torch).values() if isinstance(v, torch.dtype)]
    misc = {
        "size": torch.Size([2, 3]),
        "device": torch.device("cpu"),
        "device-cuda": torch.device("cuda", 0),
        "dtypes": sorted(set(dtypes), key=str),
        "layouts": [torch.strided, torch.sparse_coo, torch.sparse_csr],
        "rng_state": torch.get_rng_state(),
    }
    for name, value in misc.items():
        add_torch(harvest, f"torch {name}", value)


# --------------------------------------------------------------------------------------
# Review: deny-list of gadgets, manual aliases
# --------------------------------------------------------------------------------------

# Module prefixes whose globals are code-execution, import, or I/O primitives.
DENY_MODULE_PREFIXES: dict[str, str] = {
    "os": "process/filesystem access",
    "posix": "process/filesystem access",
    "nt": "process/filesystem access",
    "sys": "interpreter state",
    "subprocess": "process execution",
    "importlib": "arbitrary import",
    "pickle": "nested unpickling",
    "_pickle": "nested unpickling",
    "marshal": "code object loading",
    "types": "code/function construction",
    "io": "file I/O",
    "_io": "file I/O",
    "shutil": "filesystem access",
    "socket": "network I/O",
    "ctypes": "native memory access",
    "_ctypes": "native memory access",
    "runpy": "code execution",
    "codecs": "codec lookup / file I/O",
    "operator": "attribute/item access gadgets (attrgetter, methodcaller)",
    "_operator": "attribute/item access gadgets (attrgetter, methodcaller)",
    "functools": "call composition gadgets (partial, reduce)",
    "_functools": "call composition gadgets (partial, reduce)",
    "pathlib": "filesystem access",
    "tempfile": "filesystem access",
    "glob": "filesystem access",
    "zipfile": "file I/O",
    "tarfile": "file I/O",
    "multiprocessing": "process / shared-memory access",
    "threading": "thread creation",
    "asyncio": "event loop / network",
    "code": "code execution",
    "codeop": "code compilation",
    "pdb": "debugger",
    "bdb": "debugger",
    "pty": "process execution",
    "webbrowser": "process execution",
    "urllib": "network I/O",
    "http": "network I/O",
    "ftplib": "network I/O",
    "smtplib": "network I/O",
    "sqlite3": "file I/O",
    "dill": "nested unpickling",
    "cloudpickle": "nested unpickling",
    "zoneinfo": "reads the system time-zone database (filesystem)",
    "dateutil.zoneinfo": "reads tz data files (filesystem)",
    "numpy.lib.npyio": "file I/O (np.load / np.save)",
    "numpy.lib.format": "file I/O (npy reader)",
    "numpy.lib._npyio_impl": "file I/O (np.load / np.save)",
    "numpy.lib._format_impl": "file I/O (npy reader)",
    "numpy.testing": "test helpers (subprocess, imports)",
    "numpy.f2py": "compiler invocation",
    "numpy.distutils": "compiler invocation",
    "numpy.ctypeslib": "native library loading",
    "torch.jit": "TorchScript code loading",
    "torch.hub": "downloads and executes repositories",
    "torch.package": "code loading",
    "torch.serialization": "torch.load and file I/O (only _get_layout is allowed, see ALLOW_EXCEPTIONS)",
    "torch.multiprocessing": "shared memory / file-descriptor rebuilds",
    "torch.distributed": "RPC / network",
    "torch.utils.cpp_extension": "compiler invocation",
    "torch._dynamo": "code generation",
    "torch._inductor": "code generation",
    "torch._ops": "arbitrary operator dispatch",
    "torch.ops": "arbitrary operator dispatch",
    "torch.library": "operator registration",
    "joblib.memory": "cache directory I/O",
    "joblib.parallel": "process execution",
    "joblib.externals": "nested cloudpickle / process pools",
    "pandas.io": "file/network I/O",
}

# Individual globals that are gadgets although their module is otherwise acceptable.
_DANGEROUS_BUILTINS: dict[str, str] = {
    "eval": "code execution",
    "exec": "code execution",
    "compile": "code compilation",
    "__import__": "arbitrary import",
    "getattr": "arbitrary attribute access (method gadgets)",
    "setattr": "arbitrary attribute mutation",
    "delattr": "arbitrary attribute mutation",
    "hasattr": "runs arbitrary property code",
    "vars": "namespace access",
    "globals": "namespace access",
    "locals": "namespace access",
    "open": "file I/O",
    "input": "console I/O",
    "print": "console I/O",
    "breakpoint": "debugger",
    "help": "pager / process execution",
    "exit": "terminates the process",
    "quit": "terminates the process",
    "memoryview": "raw buffer access",
    "type": "dynamic class creation (type(name, bases, dict))",
    "super": "attribute resolution gadget",
    "classmethod": "descriptor construction",
    "staticmethod": "descriptor construction",
    "property": "descriptor construction",
}
DENY_EXACT: dict[Global, str] = {
    ("torch.storage", "_load_from_bytes"): "calls torch.load on embedded bytes (nested unpickling)",
    ("torch", "load"): "nested unpickling",
    ("torch", "save"): "file I/O",
    ("torch", "from_file"): "file I/O",
    ("numpy", "memmap"): "memory-maps arbitrary files",
    ("numpy", "load"): "file I/O / nested unpickling",
    ("numpy", "save"): "file I/O",
    ("numpy", "fromfile"): "file I/O",
    ("numpy", "loadtxt"): "file I/O",
    ("numpy", "genfromtxt"): "file I/O",
    ("numpy._core.memmap", "memmap"): "memory-maps arbitrary files",
    ("numpy.core.memmap", "memmap"): "memory-maps arbitrary files",
    ("joblib", "load"): "nested unpickling",
    ("copyreg", "_reconstructor_ex"): "not a standard reconstructor",
}
for _builtins_module in ("builtins", "__builtin__"):
    for _name, _reason in _DANGEROUS_BUILTINS.items():
        DENY_EXACT[(_builtins_module, _name)] = _reason


# Globals inside a denied module that were reviewed and are safe.
ALLOW_EXCEPTIONS: dict[Global, str] = {
    ("torch.serialization", "_get_layout"): "maps a layout name to a torch.layout constant; used by sparse tensors",
}


def deny_reason(item: Global) -> str | None:
    module, name = item
    if item in ALLOW_EXCEPTIONS:
        return None
    if item in DENY_EXACT:
        return DENY_EXACT[item]
    if module == "_codecs" and name != "encode":
        return "codec registry access (only _codecs.encode is needed for protocol<=2 bytes)"
    if name.endswith("_ufunc_reconstruct"):
        return "numpy 1.x _ufunc_reconstruct imports an arbitrary module and fetches any attribute"
    if module in ("__main__", "harvest_allowlist"):
        return "defined by the harvesting script itself"
    for prefix, reason in DENY_MODULE_PREFIXES.items():
        if module == prefix or module.startswith(prefix + "."):
            return reason
    if "load" in name.lower() and ("torch" in module or "numpy" in module or "joblib" in module):
        return "loader function (nested deserialisation / file I/O)"
    return None


# Aliases written by older library versions (not producible with the installed ones).
MANUAL_ALIASES: dict[Global, str] = {
    ("numpy.matrixlib.defmatrix", "matrix"): "numpy 1.x module path of numpy.matrix",
    ("numpy.core.multiarray", "_reconstruct"): "numpy 1.x ndarray pickles",
    ("numpy._core.multiarray", "_reconstruct"): "numpy 2.x ndarray pickles",
    ("numpy.core.multiarray", "scalar"): "numpy 1.x scalar pickles",
    ("numpy._core.multiarray", "scalar"): "numpy 2.x scalar pickles",
    ("numpy.core.numeric", "_frombuffer"): "numpy 1.x ndarray pickles, protocol 5",
    ("numpy._core.numeric", "_frombuffer"): "numpy 2.x ndarray pickles, protocol 5",
    ("numpy", "dtype"): "dtype pickles (all numpy versions)",
    ("numpy", "ndarray"): "ndarray pickles (all numpy versions)",
    ("numpy", "bool_"): "numpy 1.x name of the numpy.bool scalar type",
    ("numpy.ma.core", "MaskedArray"): "numpy 1.x masked-array pickles",
    ("numpy.random", "__RandomState_ctor"): "numpy<1.17 RandomState pickles",
    ("torch._utils", "_rebuild_tensor"): "torch<0.4 tensor pickles",
    ("torch._utils", "_rebuild_tensor_v2"): "torch>=0.4 tensor pickles",
    ("torch._utils", "_rebuild_parameter"): "nn.Parameter pickles",
    ("torch._utils", "_rebuild_parameter_with_state"): "nn.Parameter subclasses with state",
    ("torch._utils", "_rebuild_qtensor"): "quantized tensor pickles",
    ("torch._utils", "_rebuild_sparse_tensor"): "sparse tensor pickles",
    ("pandas.core.frame", "DataFrame"): "pandas<3 DataFrame pickles",
    ("pandas.core.series", "Series"): "pandas<3 Series pickles",
    ("pandas.core.indexes.base", "Index"): "pandas<3 Index pickles",
    ("pandas.core.indexes.range", "RangeIndex"): "pandas<3 RangeIndex pickles",
    ("pandas.core.indexes.multi", "MultiIndex"): "pandas<3 MultiIndex pickles",
    ("pandas.core.indexes.datetimes", "DatetimeIndex"): "pandas<3 DatetimeIndex pickles",
    ("pandas.core.arrays.categorical", "Categorical"): "pandas<3 Categorical pickles",
    ("pandas.core.dtypes.dtypes", "CategoricalDtype"): "pandas<3 CategoricalDtype pickles",
}


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for module_name in ("numpy", "scipy", "sklearn", "torch", "pandas", "joblib", "pyarrow"):
        try:
            module = __import__(module_name)
            versions[module_name] = str(getattr(module, "__version__", "?"))
        except ImportError:
            versions[module_name] = "not installed"
    return versions


def render(
    allowed: list[Global],
    removed: list[tuple[Global, str, str]],
    added: list[tuple[Global, str]],
    kept: list[tuple[Global, str]],
    stats: dict[str, str],
) -> str:
    versions = library_versions()
    header = [
        "# Bastion pickle allow-list: exact (module, qualname) pairs referenced by BENIGN pickles.",
        "# One global per line: `module qualname` (single space). Lines starting with '#' are comments.",
        "#",
        "# GENERATED FILE - do not edit by hand; regenerate with:",
        "#     python tools/harvest_allowlist.py",
        "#",
        "# How it was generated: the script builds benign numpy / scipy.sparse / scikit-learn /",
        "# torch / pandas / standard-library objects, serialises them (pickle protocols 0,2,4,5;",
        "# joblib.dump; torch.save zip and legacy formats) and walks the bytes with",
        "# pickletools.genops (GLOBAL/INST arguments, STACK_GLOBAL operands tracked through the",
        "# memo). Nothing is unpickled. Protocol<3 pickles spell some modules the Python 2 way",
        "# (__builtin__, copy_reg); both spellings are listed.",
        "#",
        "# Library versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()),
        "# Harvest: " + ", ".join(f"{k} {v}" for k, v in stats.items()),
        "#",
        "# Added by hand (aliases written by older library versions):",
    ]
    header += [f"#   + {m} {n}    ({why})" for (m, n), why in added] or ["#   (none)"]
    header += [
        "#",
        "# Removed after review (referenced by benign pickles, but code-execution / I/O gadgets):",
    ]
    header += [f"#   - {m} {n}    ({why}; seen in: {src})" for (m, n), why, src in removed] or ["#   (none)"]
    if kept:
        header += ["#", "# Kept after review although their module is otherwise denied:"]
        header += [f"#   = {m} {n}    ({why})" for (m, n), why in kept]
    header.append("#")
    return "\n".join(header + [f"{m} {n}" for m, n in allowed]) + "\n"


def run(output: Path) -> int:
    started = time.monotonic()
    warnings.simplefilter("ignore")
    harvest = Harvest()

    sections: list[tuple[str, Callable[[], None]]] = []

    def plain(factory: Callable[[], Iterator[tuple[str, object]]], joblib_too: bool) -> Callable[[], None]:
        def section() -> None:
            for label, obj in factory():
                if joblib_too:
                    harvest.add_all_formats(label, obj)
                else:
                    harvest.add_pickles(label, obj)

        return section

    tried: dict[str, int] = {}
    sections.append(("stdlib", plain(stdlib_objects, joblib_too=False)))
    sections.append(("numpy", plain(numpy_objects, joblib_too=True)))
    sections.append(("scipy", plain(scipy_objects, joblib_too=True)))
    sections.append(("pandas", plain(pandas_objects, joblib_too=True)))
    sections.append(("torch", lambda: torch_harvest(harvest)))
    sections.append(("sklearn", lambda: tried.__setitem__("sklearn", sklearn_harvest(harvest))))
    for name, section in sections:
        section_start = time.monotonic()
        section()
        LOG.info("%-8s done in %5.1fs; %d globals so far", name, time.monotonic() - section_start, len(harvest.sources))

    removed: list[tuple[Global, str, str]] = []
    allowed: set[Global] = set()
    for item in harvest.sources:
        reason = deny_reason(item)
        if reason is None:
            allowed.add(item)
        else:
            removed.append((item, reason, harvest.describe(item)))
    added: list[tuple[Global, str]] = []
    for item, why in MANUAL_ALIASES.items():
        if deny_reason(item) is not None:
            raise AssertionError(f"manual alias {item} is on the deny-list")
        if item not in allowed:
            allowed.add(item)
            added.append((item, why))

    kept = sorted((item, why) for item, why in ALLOW_EXCEPTIONS.items() if item in allowed)
    stats = {
        "streams walked": str(harvest.streams),
        "sklearn estimator instances": str(tried.get("sklearn", 0)),
        "fit failures": str(len(harvest.fit_failures))
        + (f" ({', '.join(sorted({f.split(':')[0] for f in harvest.fit_failures}))})" if harvest.fit_failures else ""),
        "serialisation errors": str(len(harvest.errors)),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render(sorted(allowed), sorted(removed), sorted(added), kept, stats), encoding="utf-8")

    LOG.info("wrote %d entries to %s in %.1fs", len(allowed), output, time.monotonic() - started)
    LOG.info("removed %d: %s", len(removed), ", ".join(f"{m}.{n}" for (m, n), _, _ in sorted(removed)))
    LOG.info("added %d aliases", len(added))
    LOG.info("fit failures (%d):", len(harvest.fit_failures))
    for failure in harvest.fit_failures:
        LOG.info("  %s", failure)
    LOG.info("serialisation errors (%d):", len(harvest.errors))
    for error in harvest.errors:
        LOG.info("  %s", error)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="allow-list file to write")
    parser.add_argument("--verbose", action="store_true", help="log every estimator and error as it happens")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    return run(args.output)


if __name__ == "__main__":
    sys.exit(main())
