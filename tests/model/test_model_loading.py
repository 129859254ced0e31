"""``load_model``: formats told by content, every file scanned first, unsafe files refused (and never unpickled),
the override recorded before anything is loaded."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import pickle
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import bastion.model.loading as loading
from _cli import MALICIOUS
from bastion.model.base import ModelError
from bastion.model.loading import load_model, sniff, wrap
from bastion.supplychain.gate import UNSAFE_LOG, UnsafeLoadError


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(n_samples=120, n_features=5, n_informative=3, n_redundant=0, random_state=0)
    return x.astype(np.float32), y


@pytest.fixture(scope="module")
def logreg(data: tuple[np.ndarray, np.ndarray]) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(*data)


@pytest.fixture(scope="module")
def net() -> Any:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3)).eval()


def _spy_unpickle(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Record every call of the loader's unpickler (and still refuse to run it)."""
    calls: list[Path] = []

    def spy(path: Path) -> Any:
        calls.append(path)
        raise AssertionError("the unpickler must not run")

    monkeypatch.setattr(loading, "_unpickle", spy)
    return calls


# -- formats, by content ---------------------------------------------------------------------------------------------

def test_sklearn_pickle_loads_whatever_the_suffix(tmp_path: Path, logreg: Any,
                                                  data: tuple[np.ndarray, np.ndarray]) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(pickle.dumps(logreg, protocol=4))
    assert sniff(path) == "pickle"
    model = load_model(path)
    assert model.kind == "sklearn" and model.name == "model.bin" and model.input_shape == (5,)
    np.testing.assert_allclose(model.predict_proba(data[0]), logreg.predict_proba(data[0]), atol=1e-12)
    assert model.has_gradients  # the scaler + logistic regression is rebuilt in torch
    assert not (Path(os.environ["BASTION_HOME"]) / UNSAFE_LOG).exists()  # a clean load leaves no override record


def test_joblib_histgradientboosting_binary_loads(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    estimator = HistGradientBoostingClassifier(max_iter=8, random_state=0).fit(x, y)
    path = tmp_path / "hgb.joblib"
    joblib.dump(estimator, path)
    model = load_model(path, name="hgb")
    assert model.name == "hgb" and model.n_classes == 2
    np.testing.assert_allclose(model.predict_proba(x), estimator.predict_proba(x), atol=1e-12)


@pytest.mark.parametrize("compress", [("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)],
                         ids=["zlib", "gzip", "bz2", "xz", "lzma"])
def test_compressed_joblib_loads(tmp_path: Path, logreg: Any, data: tuple[np.ndarray, np.ndarray],
                                 compress: tuple[str, int]) -> None:
    path = tmp_path / "model.joblib"
    joblib.dump(logreg, path, compress=compress)
    model = load_model(path)
    np.testing.assert_allclose(model.predict_proba(data[0]), logreg.predict_proba(data[0]), atol=1e-12)


def test_compressed_malicious_joblib_is_refused(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    raw = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    path = tmp_path / "model.joblib"
    path.write_bytes(zlib.compress(raw))
    with pytest.raises(UnsafeLoadError, match="BST-PKL-001"):
        load_model(path)
    assert not marker.exists()


def test_skops_file_loads(tmp_path: Path, logreg: Any, data: tuple[np.ndarray, np.ndarray]) -> None:
    sio = pytest.importorskip("skops.io")
    path = tmp_path / "model.skops"
    sio.dump(logreg, path)
    assert sniff(path) == "skops"
    model = load_model(path)
    np.testing.assert_allclose(model.predict_proba(data[0]), logreg.predict_proba(data[0]), atol=1e-12)


@pytest.mark.parametrize("how", ["script", "trace"])
def test_torchscript_archives_load(tmp_path: Path, net: Any, how: str) -> None:
    import torch

    path = tmp_path / "net.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        compiled = torch.jit.script(net) if how == "script" else torch.jit.trace(net, torch.zeros(1, 1, 2, 2))
    compiled.save(str(path))
    assert sniff(path) == "torchscript"
    model = load_model(path, input_shape=(1, 2, 2))
    assert model.kind == "torch" and model.n_classes == 3
    x = np.random.default_rng(0).normal(size=(7, 1, 2, 2)).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)).double(), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-6)


def test_whole_torch_module_loads_and_needs_input_shape(tmp_path: Path, net: Any) -> None:
    import torch

    path = tmp_path / "whole.pt"
    torch.save(net, str(path))
    assert sniff(path) == "torch"
    with pytest.raises(ModelError, match="needs the shape of one sample"):
        load_model(path)
    model = load_model(path, input_shape=(4,))
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)).double(), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-6)


def test_state_dict_is_a_clear_error(tmp_path: Path, net: Any) -> None:
    import torch

    path = tmp_path / "weights.pt"
    torch.save(net.state_dict(), str(path))
    with pytest.raises(ModelError, match="state dict"):
        load_model(path, input_shape=(4,))


@pytest.mark.parametrize("name", ["net.onnx", "net.bin"])
def test_onnx_loads_with_or_without_suffix(tmp_path: Path, net: Any, name: str) -> None:
    import torch

    pytest.importorskip("onnxruntime")
    path = tmp_path / name
    flat = torch.nn.Sequential(*list(net)[1:]).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(flat, (torch.zeros(1, 4),), str(path), dynamo=False, input_names=["x"],
                          output_names=["logits"], dynamic_axes={"x": {0: "batch"}})
    assert sniff(path) == "onnx"
    model = load_model(path)
    assert model.kind == "onnx" and model.input_shape == (4,)
    x = np.random.default_rng(2).normal(size=(6, 4)).astype(np.float32)
    with torch.no_grad():
        expected = torch.softmax(flat(torch.from_numpy(x)).double(), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-5)


def test_unknown_content_missing_files_and_foreign_zips_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "absent.pkl")
    text = tmp_path / "notes.txt"
    text.write_text("just some notes\n")
    with pytest.raises(ModelError, match="not a model format"):
        load_model(text)
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("readme.md", "hello")
    with pytest.raises(ModelError, match="neither a TorchScript, PyTorch nor skops"):
        load_model(archive)


def test_a_pickled_regressor_is_not_a_classifier(tmp_path: Path, data: tuple[np.ndarray, np.ndarray]) -> None:
    path = tmp_path / "reg.pkl"
    path.write_bytes(pickle.dumps(LinearRegression().fit(data[0], data[1]), protocol=4))
    with pytest.raises(ModelError, match="LinearRegression is not a classifier"):
        load_model(path)


def test_wrap_passes_adapters_through_and_wraps_estimators(logreg: Any) -> None:
    model = wrap(logreg, name="lr")
    assert model.name == "lr" and wrap(model) is model
    with pytest.raises(ModelError, match="not a classifier"):
        wrap({"weights": [1, 2]})


# -- unsafe files ----------------------------------------------------------------------------------------------------

def test_malicious_pickle_is_refused_and_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(MALICIOUS)
    calls = _spy_unpickle(monkeypatch)
    with pytest.raises(UnsafeLoadError, match="BST-PKL-001") as caught:
        load_model(path)
    assert calls == []
    assert any(f.rule_id == "BST-PKL-001" for f in caught.value.result.findings)
    assert not (Path(os.environ["BASTION_HOME"]) / UNSAFE_LOG).exists()


@pytest.mark.parametrize("payload", [
    "cos\nsystem\n(S'touch {marker}'\ntR.",
    "c__builtin__\nopen\n(S'{marker}'\nS'w'\ntR.",
], ids=["os.system", "builtins.open"])
def test_refused_pickle_has_no_side_effect(tmp_path: Path, payload: str) -> None:
    """The real loader, not a spy: had the pickle been unpickled, the marker file would exist."""
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pkl"
    path.write_bytes(payload.format(marker=marker).encode())
    with pytest.raises(UnsafeLoadError):
        load_model(path)
    assert not marker.exists()


def _unlisted(tmp_path: Path, logreg: Any) -> Path:
    """A working model whose only problem is a harmless global outside the allow-list (an IP address)."""
    estimator = pickle.loads(pickle.dumps(logreg))
    estimator.origin = ipaddress.IPv4Address("10.0.0.1")
    path = tmp_path / "tagged.pkl"
    path.write_bytes(pickle.dumps(estimator, protocol=4))
    return path


def test_unlisted_global_is_refused_without_the_override(tmp_path: Path, logreg: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    path = _unlisted(tmp_path, logreg)
    calls = _spy_unpickle(monkeypatch)
    with pytest.raises(UnsafeLoadError, match=r"BST-PKL-005.*ipaddress\.IPv4Address"):
        load_model(path)
    assert calls == []


def test_override_loads_and_records_one_line(tmp_path: Path, logreg: Any, data: tuple[np.ndarray, np.ndarray],
                                             caplog: pytest.LogCaptureFixture) -> None:
    path = _unlisted(tmp_path, logreg)
    with caplog.at_level("WARNING", logger="bastion.load"):
        model = load_model(path, allow_unsafe=True)
    assert "LOADING AN UNSAFE MODEL" in caplog.text
    assert str(model.estimator.origin) == "10.0.0.1"
    np.testing.assert_allclose(model.predict_proba(data[0]), logreg.predict_proba(data[0]), atol=1e-12)
    log = Path(os.environ["BASTION_HOME"]) / UNSAFE_LOG
    lines = log.read_text("utf-8").splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["rules"] == ["BST-PKL-005"]
    assert record["path"] == str(path.resolve())
    assert record["what"] == "model" and record["pid"] == os.getpid() and record["errors"] == []
    load_model(path, allow_unsafe=True)
    assert len(log.read_text("utf-8").splitlines()) == 2  # appended, never overwritten


def _unwritable_homes(tmp_path: Path) -> list[Path]:
    a_file = tmp_path / "home-is-a-file"
    a_file.write_text("not a folder")
    log_is_dir = tmp_path / "home-with-dir-log"
    (log_is_dir / UNSAFE_LOG).mkdir(parents=True)
    return [a_file, log_is_dir]


def test_override_that_cannot_be_recorded_refuses_the_load(tmp_path: Path, logreg: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = _unlisted(tmp_path, logreg)
    calls = _spy_unpickle(monkeypatch)
    for home in _unwritable_homes(tmp_path):
        monkeypatch.setenv("BASTION_HOME", str(home))
        with pytest.raises(UnsafeLoadError, match="could not be recorded"):
            load_model(path, allow_unsafe=True)
    assert calls == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_override_with_read_only_home_refuses_the_load(tmp_path: Path, logreg: Any,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    path = _unlisted(tmp_path, logreg)
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(0o500)
    monkeypatch.setenv("BASTION_HOME", str(home))
    calls = _spy_unpickle(monkeypatch)
    try:
        with pytest.raises(UnsafeLoadError, match="could not be recorded"):
            load_model(path, allow_unsafe=True)
    finally:
        home.chmod(0o700)
    assert calls == []
