"""Pickle-family samples built by the tests themselves: benign files from real libraries, malicious ones as bytes.

Malicious streams are written opcode by opcode and never loaded; benign ones come from the libraries users run
(pickle, joblib, numpy, scipy, pandas, torch) fitted or filled with tiny data.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion.findings import ScanResult, Severity, TargetStatus
from bastion.supplychain.pickle import AnalysisLimits, BufferSource, Policy, StreamResult, analyse_stream

ScanFile = Callable[..., ScanResult]


# ---------------------------------------------------------------------------------------------------------------
# Opcode builders (nothing here is ever unpickled)
# ---------------------------------------------------------------------------------------------------------------

P2 = b"\x80\x02"
P4 = b"\x80\x04"


def sbu(text: str) -> bytes:
    """SHORT_BINUNICODE."""
    raw = text.encode("utf-8")
    return b"\x8c" + bytes([len(raw)]) + raw


def bu(text: str) -> bytes:
    """BINUNICODE."""
    raw = text.encode("utf-8")
    return b"X" + struct.pack("<I", len(raw)) + raw


def uni(text: str) -> bytes:
    """UNICODE (protocol 0, raw-unicode-escape, newline terminated)."""
    return b"V" + text.encode("raw_unicode_escape") + b"\n"


def string(text: str) -> bytes:
    """STRING (protocol 0, quoted repr)."""
    return b"S" + repr(text).encode("ascii") + b"\n"


def sbs(text: str) -> bytes:
    """SHORT_BINSTRING."""
    raw = text.encode("ascii")
    return b"U" + bytes([len(raw)]) + raw


def bs(text: str) -> bytes:
    """BINSTRING."""
    raw = text.encode("ascii")
    return b"T" + struct.pack("<i", len(raw)) + raw


def sbb(raw: bytes) -> bytes:
    """SHORT_BINBYTES."""
    assert len(raw) < 256
    return b"C" + bytes([len(raw)]) + raw


def sg(module: str, name: str, enc: Callable[[str], bytes] = sbu) -> bytes:
    """STACK_GLOBAL with both operands pushed by ``enc``."""
    return enc(module) + enc(name) + b"\x93"


def call1(arg: bytes) -> bytes:
    """Call the callable below with one already-encoded argument (TUPLE1 + REDUCE)."""
    return arg + b"\x85R"


OS_SYSTEM_P0 = b"cos\nsystem\n(S'echo pwned'\ntR."
OS_SYSTEM_P4 = P4 + sg("os", "system") + call1(sbu("echo pwned")) + b"."


# ---------------------------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------------------------


def _describe(result: ScanResult) -> str:
    found = "; ".join(f"{f.rule_id} {f.severity.label} {f.title} @{f.location.member}" for f in result.findings)
    targets = "; ".join(f"{t.path} kind={t.kind} {t.status.value} {t.reason!r}" for t in result.targets)
    return f"{targets} :: {found or 'no findings'}"


def assert_malicious(scan_file: ScanFile, path: Path, data: bytes | None, rule_id: str) -> ScanResult:
    """Write ``data`` (when given) to ``path``, scan it, and require a high finding with ``rule_id`` and exit 1."""
    if data is not None:
        path.write_bytes(data)
    result = scan_file(path)
    why = _describe(result)
    assert any(f.severity >= Severity.HIGH for f in result.findings), why
    assert rule_id in {f.rule_id for f in result.findings if f.severity >= Severity.HIGH}, why
    assert result.exit_code(Severity.MEDIUM) == 1, why
    return result


def assert_benign(scan_file: ScanFile, path: Path, kind: str | None = None) -> ScanResult:
    """Scan ``path``: nothing at medium or above, examined completely, and (when given) recognised as ``kind``."""
    result = scan_file(path)
    why = _describe(result)
    assert not [f for f in result.findings if f.severity >= Severity.MEDIUM], why
    assert result.targets and all(t.status is TargetStatus.SCANNED for t in result.targets), why
    if kind is not None:
        assert result.targets[0].kind == kind, why
    assert result.exit_code(Severity.MEDIUM) == 0, why
    return result


def stream(data: bytes) -> StreamResult:
    return analyse_stream(BufferSource(data), Policy(), AnalysisLimits())


# ---------------------------------------------------------------------------------------------------------------
# Benign samples from real libraries
# ---------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def estimators() -> dict[str, object]:
    np = pytest.importorskip("numpy")
    pytest.importorskip("sklearn")
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeRegressor

    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.5, 0.2], [0.2, 0.9]])
    y = np.array([0, 1, 1, 0, 1, 0])
    return {
        "pipeline": make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        "forest": RandomForestClassifier(n_estimators=2, max_depth=2, random_state=0).fit(x, y),
        "tree": DecisionTreeRegressor(max_depth=2).fit(x, y.astype(float)),
    }


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
@pytest.mark.parametrize("name", ["pipeline", "forest", "tree"])
def test_sklearn_pickle_is_clean(tmp_path: Path, scan_file: ScanFile, estimators: dict, name: str,
                                 protocol: int) -> None:
    path = tmp_path / f"{name}.pkl"
    path.write_bytes(pickle.dumps(estimators[name], protocol=protocol))
    assert_benign(scan_file, path, "pickle")


@pytest.mark.parametrize(
    ("compress", "kind"),
    [(0, "pickle"), (3, "zlib"), (("zlib", 3), "zlib"), (("lzma", 3), "lzma"), (("bz2", 3), "bz2"),
     (("gzip", 3), "gzip"), (("xz", 3), "xz")],
    ids=["plain", "3", "zlib", "lzma", "bz2", "gzip", "xz"],
)
def test_joblib_dump_is_clean_and_recognised(tmp_path: Path, scan_file: ScanFile, estimators: dict,
                                             compress: object, kind: str) -> None:
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "model.joblib"
    joblib.dump(estimators["forest"], path, compress=compress)
    assert_benign(scan_file, path, kind)


def test_joblib_dict_of_arrays_is_clean(tmp_path: Path, scan_file: ScanFile) -> None:
    np = pytest.importorskip("numpy")
    joblib = pytest.importorskip("joblib")
    path = tmp_path / "state.joblib"
    joblib.dump({"a": np.arange(10), "b": "x", "c": np.array(["u", 1], dtype=object)}, path)
    assert_benign(scan_file, path, "pickle")


def test_numpy_files_are_clean(tmp_path: Path, scan_file: ScanFile) -> None:
    np = pytest.importorskip("numpy")
    np.save(tmp_path / "plain.npy", np.arange(12, dtype=np.float32).reshape(3, 4))
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}, "x", None, 2.5], dtype=object), allow_pickle=True)
    np.savez(tmp_path / "bundle.npz", a=np.arange(3), b=np.array(["x", 1], dtype=object))
    np.savez_compressed(tmp_path / "packed.npz", a=np.eye(3))
    (tmp_path / "array.pkl").write_bytes(pickle.dumps(np.linspace(0, 1, 5), protocol=2))
    assert_benign(scan_file, tmp_path / "plain.npy", "npy")
    objects = assert_benign(scan_file, tmp_path / "objects.npy", "npy")
    assert {f.rule_id for f in objects.findings} == {"BST-NPY-001"}  # informs, at low
    assert_benign(scan_file, tmp_path / "bundle.npz", "zip")
    assert_benign(scan_file, tmp_path / "packed.npz", "zip")
    assert_benign(scan_file, tmp_path / "array.pkl", "pickle")


def test_scipy_sparse_is_clean(tmp_path: Path, scan_file: ScanFile) -> None:
    np = pytest.importorskip("numpy")
    sparse = pytest.importorskip("scipy.sparse")
    matrix = sparse.csr_matrix(np.eye(4))
    for protocol in (2, 5):
        (tmp_path / f"m{protocol}.pkl").write_bytes(pickle.dumps(matrix, protocol=protocol))
        assert_benign(scan_file, tmp_path / f"m{protocol}.pkl", "pickle")
    sparse.save_npz(tmp_path / "m.npz", sparse.coo_matrix(matrix))
    assert_benign(scan_file, tmp_path / "m.npz", "zip")


def test_pandas_dataframe_is_clean(tmp_path: Path, scan_file: ScanFile) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({
        "a": [1, 2], "b": ["x", "y"], "when": pd.to_datetime(["2020-01-01", "2021-06-30"]),
        "cat": pd.Categorical(["u", "v"]),
    })
    frame.to_pickle(tmp_path / "frame.pkl")
    assert_benign(scan_file, tmp_path / "frame.pkl", "pickle")
    (tmp_path / "series.pkl").write_bytes(pickle.dumps(frame["a"], protocol=2))
    assert_benign(scan_file, tmp_path / "series.pkl", "pickle")


def _torch_model() -> tuple[Any, Any]:
    """torch and a tiny module (skips when torch is absent)."""
    torch = pytest.importorskip("torch", reason="torch is not installed (pip install bastion-ai[torch])")
    torch.manual_seed(0)
    return torch, torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.BatchNorm1d(2))


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "legacy"])
def test_torch_state_dict_is_clean(tmp_path: Path, scan_file: ScanFile, legacy: bool) -> None:
    torch, model = _torch_model()
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=not legacy)
    assert_benign(scan_file, path, "pickle" if legacy else "pytorch-zip")


def test_torch_whole_module_zip_is_clean(tmp_path: Path, scan_file: ScanFile) -> None:
    torch, model = _torch_model()
    path = tmp_path / "model.pt"
    torch.save(model, path)
    assert_benign(scan_file, path, "pytorch-zip")


def test_torch_whole_module_legacy_is_clean(tmp_path: Path, scan_file: ScanFile) -> None:
    torch, model = _torch_model()
    path = tmp_path / "model_legacy.pt"
    torch.save(model, path, _use_new_zipfile_serialization=False)
    assert_benign(scan_file, path, "pickle")


# ---------------------------------------------------------------------------------------------------------------
# Malicious streams, written as bytes
# ---------------------------------------------------------------------------------------------------------------


def test_protocol0_global_reduce(tmp_path: Path, scan_file: ScanFile) -> None:
    assert_malicious(scan_file, tmp_path / "p0.pkl", OS_SYSTEM_P0, "BST-PKL-001")


def test_protocol4_stack_global_through_memo(tmp_path: Path, scan_file: ScanFile) -> None:
    data = (P4 + sbu("os") + b"\x94" + b"0" + sbu("system") + b"\x94" + b"0"  # memoised, then popped
            + b"h\x00h\x01\x93" + call1(sbu("id")) + b".")
    assert_malicious(scan_file, tmp_path / "memo.pkl", data, "BST-PKL-001")
    # the same through BINPUT / LONG_BINGET
    data = (P2 + bu("os") + b"q\x07" + b"0" + bu("system") + b"r" + struct.pack("<I", 300) + b"0"
            + b"j" + struct.pack("<I", 7) + b"j" + struct.pack("<I", 300) + b"\x93" + call1(bu("id")) + b".")
    assert_malicious(scan_file, tmp_path / "memo2.pkl", data, "BST-PKL-001")


@pytest.mark.parametrize("enc", [sbu, bu, uni, string, sbs, bs],
                         ids=["SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "STRING", "SHORT_BINSTRING", "BINSTRING"])
def test_stack_global_operand_encodings(tmp_path: Path, scan_file: ScanFile, enc: Callable[[str], bytes]) -> None:
    data = P4 + sg("os", "system", enc) + call1(enc("id")) + b"."
    assert_malicious(scan_file, tmp_path / "enc.pkl", data, "BST-PKL-001")


@pytest.mark.parametrize(
    ("module", "name", "rule_id"),
    [
        ("torch", "serialization.load", "BST-PKL-008"),
        ("builtins", "getattr", "BST-PKL-002"),
        ("collections", "OrderedDict.__class__", "BST-PKL-002"),
        ("os.path", "os.system", "BST-PKL-001"),
        ("__builtin__", "eval", "BST-PKL-001"),
        ("posix", "system", "BST-PKL-001"),
    ],
)
def test_dotted_qualnames_and_aliases(tmp_path: Path, scan_file: ScanFile, module: str, name: str,
                                      rule_id: str) -> None:
    data = P4 + sg(module, name) + call1(sbu("x")) + b"."
    assert_malicious(scan_file, tmp_path / "dotted.pkl", data, rule_id)


def test_inst_obj_newobj_ex(tmp_path: Path, scan_file: ScanFile) -> None:
    inst = b"(S'id'\nios\nsystem\n."
    obj = b"(cos\nsystem\nS'id'\no."
    newobj_ex = P4 + sg("os", "system") + sbu("id") + b"\x85" + b"}" + b"\x92."
    newobj = P4 + sg("subprocess", "Popen") + sbu("id") + b"\x85" + b"\x81."
    for label, data in (("inst", inst), ("obj", obj), ("newobj_ex", newobj_ex), ("newobj", newobj)):
        result = assert_malicious(scan_file, tmp_path / f"{label}.pkl", data, "BST-PKL-001")
        assert any("called 1 time" in f.detail for f in result.findings), (label, _describe(result))


def test_popped_call_is_still_flagged_and_counted(tmp_path: Path, scan_file: ScanFile) -> None:
    data = P4 + sg("os", "system") + call1(sbu("id")) + b"0" + b"N."
    hits = [h for h in stream(data).hits if h.rule_id == "BST-PKL-001"]
    assert len(hits) == 1 and hits[0].calls == 1 and hits[0].subject == "os.system"
    result = assert_malicious(scan_file, tmp_path / "popped.pkl", data, "BST-PKL-001")
    assert "called 1 time" in result.findings[0].detail


def test_build_on_module(tmp_path: Path, scan_file: ScanFile) -> None:
    # sys.modules-style override: set torch._utils._rebuild_tensor to a module name, as the picklescan sploit does
    data = (P4 + sg("torch", "_utils") + b"}" + sbu("_rebuild_tensor") + sbu("builtins") + b"sb0"
            + sg("collections", "OrderedDict") + b"}" + sbu("__reduce__") + sbu("x") + b"sb0" + b"N.")
    result = assert_malicious(scan_file, tmp_path / "build.pkl", data, "BST-PKL-007")
    subjects = {f.title for f in result.findings if f.rule_id == "BST-PKL-007"}
    assert any("torch._utils" in s for s in subjects) and any("collections.OrderedDict" in s for s in subjects)


def test_computed_global_name(tmp_path: Path, scan_file: ScanFile) -> None:
    # the module operand of STACK_GLOBAL is the result of a call: the name is chosen at load time
    data = P4 + sg("builtins", "str") + call1(sbu("os")) + sbu("system") + b"\x93" + call1(sbu("id")) + b"."
    assert_malicious(scan_file, tmp_path / "computed.pkl", data, "BST-PKL-006")


def _nested_loads(inner_arg: bytes) -> bytes:
    return P4 + sg("pickle", "loads") + inner_arg + b"\x85R."


@pytest.mark.parametrize("wrapping", ["bytes", "codecs", "base64"])
def test_nested_pickle_is_scanned(tmp_path: Path, scan_file: ScanFile, wrapping: str) -> None:
    inner = OS_SYSTEM_P0
    if wrapping == "bytes":
        arg = sbb(inner)
    elif wrapping == "codecs":
        arg = sg("_codecs", "encode") + bu(inner.decode("latin-1")) + sbu("latin1") + b"\x86R"
    else:
        arg = sg("base64", "b64decode") + sbu(base64.b64encode(inner).decode("ascii")) + b"\x85R"
    result = assert_malicious(scan_file, tmp_path / "nested.pkl", _nested_loads(arg), "BST-PKL-008")
    nested = [f for f in result.findings if f.rule_id == "BST-PKL-001"]
    assert nested, _describe(result)
    assert all(f.location.member and "!nested@" in f.location.member for f in nested), _describe(result)
    assert any(f.severity is Severity.CRITICAL for f in nested)
    # at the stream level, the suffix travels on the hit
    hits = [h for h in stream(_nested_loads(arg)).hits if h.rule_id == "BST-PKL-001"]
    assert hits and hits[0].member_suffix.startswith("!nested@")


def test_second_stacked_pickle_is_malicious(tmp_path: Path, scan_file: ScanFile) -> None:
    data = P4 + b"K\x01." + OS_SYSTEM_P4
    result = stream(data)
    assert result.pickles == 2
    assert_malicious(scan_file, tmp_path / "stacked.pkl", data, "BST-PKL-001")


def test_payload_before_broken_opcode(tmp_path: Path, scan_file: ScanFile) -> None:
    data = P4 + sg("os", "system") + call1(sbu("id")) + b"\xff\xfe garbage"
    result = assert_malicious(scan_file, tmp_path / "broken.pkl", data, "BST-PKL-001")
    assert result.worst() is Severity.CRITICAL
    assert result.targets[0].status is TargetStatus.INCOMPLETE, _describe(result)
    assert "BST-PKL-011" in {f.rule_id for f in result.findings}


def test_frame_length_past_end(tmp_path: Path, scan_file: ScanFile) -> None:
    body = sg("os", "system") + call1(sbu("id")) + b"."
    data = P4 + b"\x95" + struct.pack("<Q", len(body) + 10_000) + body
    result = assert_malicious(scan_file, tmp_path / "frame.pkl", data, "BST-PKL-001")
    assert result.targets[0].status is TargetStatus.INCOMPLETE, _describe(result)


# ---------------------------------------------------------------------------------------------------------------
# Malicious pickles in containers
# ---------------------------------------------------------------------------------------------------------------


def _torch_style_zip(payload: bytes, folder: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr(f"{folder}/data.pkl", payload)
        archive.writestr(f"{folder}/byteorder", "little")
        archive.writestr(f"{folder}/data/0", b"\x00" * 16)
        archive.writestr(f"{folder}/version", "3\n")
    data = bytearray(buffer.getvalue())
    # corrupt the CRC of data.pkl in its local header and central directory entry
    name = f"{folder}/data.pkl".encode()
    local = data.find(b"PK\x03\x04")
    while local >= 0:
        nlen = struct.unpack_from("<H", data, local + 26)[0]
        if bytes(data[local + 30 : local + 30 + nlen]) == name:
            data[local + 14 : local + 18] = b"\xde\xad\xbe\xef"
        local = data.find(b"PK\x03\x04", local + 4)
    central = data.find(b"PK\x01\x02")
    while central >= 0:
        nlen = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + nlen]) == name:
            data[central + 16 : central + 20] = b"\xde\xad\xbe\xef"
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def test_torch_zip_odd_folder_bad_crc(tmp_path: Path, scan_file: ScanFile) -> None:
    data = _torch_style_zip(OS_SYSTEM_P4, "not archive (copy) v2")
    with zipfile.ZipFile(io.BytesIO(data)) as archive, pytest.raises(zipfile.BadZipFile):
        archive.read("not archive (copy) v2/data.pkl")  # the CRC really is wrong
    result = assert_malicious(scan_file, tmp_path / "model.pt", data, "BST-PKL-001")
    assert result.targets[0].kind == "pytorch-zip"
    assert any(f.location.member == "not archive (copy) v2/data.pkl" for f in result.findings), _describe(result)


@pytest.mark.parametrize(
    ("suffix", "compress"),
    [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)],
    ids=["gzip", "bz2", "xz"],
)
def test_compressed_wrappers(tmp_path: Path, scan_file: ScanFile, suffix: str, compress: Callable) -> None:
    assert_malicious(scan_file, tmp_path / f"model.pkl{suffix}", compress(OS_SYSTEM_P0), "BST-PKL-001")


def test_tar(tmp_path: Path, scan_file: ScanFile) -> None:
    path = tmp_path / "model.tar"
    with tarfile.open(path, "w") as archive:
        info = tarfile.TarInfo("weights/model.pkl")
        info.size = len(OS_SYSTEM_P4)
        archive.addfile(info, io.BytesIO(OS_SYSTEM_P4))
    result = assert_malicious(scan_file, path, None, "BST-PKL-001")
    assert any(f.location.member == "weights/model.pkl" for f in result.findings), _describe(result)


def test_7z(tmp_path: Path, scan_file: ScanFile) -> None:
    py7zr = pytest.importorskip("py7zr")
    path = tmp_path / "model.7z"
    with py7zr.SevenZipFile(path, "w") as archive:
        archive.writestr(OS_SYSTEM_P4, "model.pkl")
    assert_malicious(scan_file, path, None, "BST-PKL-001")


def test_zip_in_zip(tmp_path: Path, scan_file: ScanFile) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.pkl", OS_SYSTEM_P4)
    outer = io.BytesIO()
    with zipfile.ZipFile(outer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bundle/inner.zip", inner.getvalue())
    result = assert_malicious(scan_file, tmp_path / "outer.zip", outer.getvalue(), "BST-PKL-001")
    assert any(f.location.member == "bundle/inner.zip!data.pkl" for f in result.findings), _describe(result)


def _npy(payload: bytes) -> bytes:
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }"
    total = 10 + len(header) + 1
    header += " " * ((64 - total % 64) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") + payload


def test_npy_object_array_with_payload(tmp_path: Path, scan_file: ScanFile) -> None:
    payload = P2 + sg("os", "system") + call1(bu("id")) + b"."  # np.save itself writes protocol 3
    result = assert_malicious(scan_file, tmp_path / "embeddings.npy", _npy(payload), "BST-PKL-001")
    assert result.targets[0].kind == "npy"
    assert "BST-NPY-001" in {f.rule_id for f in result.findings}


def test_malicious_pickle_named_joblib(tmp_path: Path, scan_file: ScanFile) -> None:
    result = assert_malicious(scan_file, tmp_path / "model.joblib", OS_SYSTEM_P4, "BST-PKL-001")
    assert result.targets[0].kind == "pickle"


def test_torchscript_class_names_and_numpy_1_matrix_are_allowed() -> None:
    policy = Policy()
    assert policy.judge("__torch__.___torch_mangle_5", "TestModule").rule_id is None
    assert policy.judge("__torch__", "MyModule").rule_id is None
    assert policy.judge("numpy.matrixlib.defmatrix", "matrix").rule_id is None
    # a TorchScript-looking module name does not launder a deny-listed call
    assert policy.judge("__torch__", "__import__").severity is Severity.CRITICAL


@pytest.mark.parametrize("text", [
    b"isympy\nsympy\n",                                             # INST + MARK missing: a dist-info top_level.txt
    b"cos\nbqrez\n" + b"cosh\nftresize\n" * 20 + b"= not pickle",   # word lists in a lexer table
    b"# comment\n" + b"cos\nsystem\n" * 3,                           # the payload shape, but after non-pickle text
    b'PERIOD_PREFIX = "P"\nTIME_PREFIX = "T"\n',                       # PERSID, then a "string" that runs out
    b"class LaTeXParsingError(Exception):\n    pass\n",               # GLOBAL "lass ...", then the text ends
    b"cloudpickle/__init__.py,sha256=abc,1234\ncloudpickle/x.py,,\n",  # a wheel RECORD
])
def test_text_files_are_not_probed_into_pickles(tmp_path: Path, scan_file: ScanFile, text: bytes) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(text)
    result = scan_file(path)
    assert result.findings == () and result.targets[0].status is TargetStatus.SKIPPED, result
