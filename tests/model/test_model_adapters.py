"""Model adapters: the base class's batching, validation, query counting and label encoding; scikit-learn, torch,
ONNX and callable adapters checked against the models they wrap (probabilities, logits, activations)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import MinMaxScaler, StandardScaler
from sklearn.svm import LinearSVC

from bastion.model.adapters.callables import CallableClassifier
from bastion.model.adapters.sklearn import SklearnClassifier
from bastion.model.base import ModelAdapter, ModelError

N_FEATURES = 6


def _data(n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    x, y = make_classification(n_samples=150, n_features=N_FEATURES, n_informative=4, n_redundant=0,
                               n_classes=n_classes, n_clusters_per_class=1, random_state=n_classes)
    return (x * 3 + 5).astype(np.float32), y  # offset and scaled, so a scaler that were ignored would show


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def _fit(make: Callable[[], Any], n_classes: int) -> tuple[Any, np.ndarray, np.ndarray]:
    x, y = _data(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return make().fit(x, y), x, y


def _mlp(activation: str = "relu") -> MLPClassifier:
    return MLPClassifier(hidden_layer_sizes=(8, 5), activation=activation, max_iter=150, random_state=0)


GRADIENT_MODELS: dict[str, Callable[[], Any]] = {
    "mlp": _mlp,
    "mlp-tanh": lambda: _mlp("tanh"),
    "logreg": lambda: LogisticRegression(max_iter=500),
    "std+mlp": lambda: make_pipeline(StandardScaler(), _mlp()),
    "minmax+logreg": lambda: make_pipeline(MinMaxScaler(), LogisticRegression(max_iter=500)),
    "std+minmax+mlp-logistic": lambda: make_pipeline(StandardScaler(), MinMaxScaler(), _mlp("logistic")),
}


# -- the base class, through CallableClassifier ------------------------------------------------------------------

class _Recorder:
    """A probability function that records the batch sizes it was called with."""

    def __init__(self, n_classes: int = 3) -> None:
        self.calls: list[int] = []
        self.n_classes = n_classes

    def __call__(self, x: np.ndarray) -> np.ndarray:
        self.calls.append(len(x))
        return _softmax(np.stack([x.reshape(len(x), -1).sum(axis=1) * k for k in range(self.n_classes)], axis=1))


def test_predict_proba_splits_batches_and_counts_queries() -> None:
    x = np.random.default_rng(0).normal(size=(10, 2, 2)).astype(np.float32)
    whole = CallableClassifier(_Recorder(), 3, (2, 2))
    recorder = _Recorder()
    split = CallableClassifier(recorder, 3, (2, 2), batch_size=3)
    proba = split.predict_proba(x)
    assert recorder.calls == [3, 3, 3, 1]
    np.testing.assert_array_equal(proba, whole.predict_proba(x))
    assert proba.dtype == np.float64 and proba.shape == (10, 3)
    assert split.queries == 10
    labels = split.predict(x[:4])
    assert labels.dtype == np.int64 and split.queries == 14
    np.testing.assert_array_equal(labels, proba[:4].argmax(axis=1))
    split.count(5)
    assert split.queries == 19


def test_empty_batch_makes_no_call() -> None:
    recorder = _Recorder()
    model = CallableClassifier(recorder, 3, (4,))
    assert model.predict_proba(np.zeros((0, 4))).shape == (0, 3)
    assert recorder.calls == [] and model.queries == 0


def test_input_shape_mismatch_names_both_shapes() -> None:
    model = CallableClassifier(_Recorder(), 3, (4,), name="probe")
    with pytest.raises(ModelError, match=r"probe.*\(5,\).*\(4,\)"):
        model.predict_proba(np.zeros((2, 5)))
    with pytest.raises(ModelError):
        model.predict_proba(np.zeros((2, 2, 2)))
    assert model.queries == 0


def test_wrong_number_of_classes_returned_is_an_error() -> None:
    model = CallableClassifier(_Recorder(n_classes=2), 3, (4,), name="narrow")
    with pytest.raises(ModelError, match=r"narrow.*\(2, 2\).*\(2, 3\)"):
        model.predict_proba(np.zeros((2, 4)))


@pytest.mark.parametrize("bad", [lambda x: np.zeros(len(x)), lambda x: np.full((len(x), 2), np.nan)],
                         ids=["1-d", "nan"])
def test_callable_bad_return_is_an_error(bad: Callable[[np.ndarray], np.ndarray]) -> None:
    model = CallableClassifier(bad, 2, (3,), name="api")
    with pytest.raises(ModelError, match="api: the callable must return finite"):
        model.predict_proba(np.zeros((4, 3)))


def test_callable_rejects_non_callables_and_single_class() -> None:
    with pytest.raises(ModelError, match="not callable"):
        CallableClassifier("predict", 2, (3,))  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="at least 2 classes"):
        CallableClassifier(_Recorder(), 1, (3,))


def test_text_input_is_one_dimensional_strings() -> None:
    seen: list[np.ndarray] = []

    def lengths(texts: np.ndarray) -> np.ndarray:
        seen.append(texts)
        n = np.array([len(t) for t in texts], dtype=np.float64)
        return np.stack([1 / (1 + n), n / (1 + n)], axis=1)

    model = CallableClassifier(lengths, 2, text=True)
    proba = model.predict_proba(np.array(["", "abc", "hello world"], dtype=object))
    np.testing.assert_allclose(proba[:, 1], [0, 3 / 4, 11 / 12])
    assert seen[0].dtype == object and list(seen[0]) == ["", "abc", "hello world"]
    with pytest.raises(ModelError, match="1-D array of strings"):
        model.predict_proba(np.array([["a", "b"]], dtype=object))


@pytest.mark.parametrize(("classes", "labels", "expected"), [
    (np.array([0, 1, 2]), np.array([2, 0, 1]), [2, 0, 1]),
    (np.array([0, 1, 2]), np.array([2.0, 0.0, 1.0]), [2, 0, 1]),
    (np.array([0, 1, 2]), np.array(["2", "0", "1"]), [2, 0, 1]),
    (np.array([0.0, 1.0]), np.array([1, 0, 1]), [1, 0, 1]),
    (np.array(["1", "2"]), np.array([2, 1]), [1, 0]),
    (np.array(["cat", "dog"]), np.array(["dog", "dog", "cat"]), [1, 1, 0]),
], ids=["int", "float", "str", "float-classes", "str-classes", "words"])
def test_encode_labels_treats_number_spellings_as_one_class(classes: np.ndarray, labels: np.ndarray,
                                                            expected: list[int]) -> None:
    model = CallableClassifier(_Recorder(len(classes)), len(classes), (1,), classes=classes)
    encoded = model.encode_labels(labels)
    assert encoded.dtype == np.int64
    assert encoded.tolist() == expected


def test_encode_labels_lists_unknown_labels() -> None:
    model = CallableClassifier(_Recorder(2), 2, (1,), classes=np.array([0, 1]), name="m")
    with pytest.raises(ModelError, match=r"m: labels \['7', '9'\] are not classes"):
        model.encode_labels(np.array([0, 9, 7, 1, 7]))
    with pytest.raises(ModelError, match=r"labels \['1.5'\]"):
        model.encode_labels(np.array([0.0, 1.5, 1.0]))
    with pytest.raises(ModelError, match="not classes"):
        model.encode_labels(np.array(["yes", "no"]))


def test_default_adapter_has_no_gradients_or_layers() -> None:
    model = CallableClassifier(_Recorder(), 3, (2,))
    assert not model.has_gradients and model.layer_names() == [] and model.estimator is None
    with pytest.raises(ModelError, match="decision-based"):
        model.logits_module()
    with pytest.raises(ModelError, match="no hidden layers"):
        model.activations(np.zeros((1, 2)), ["x"])


# -- scikit-learn ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("kind", list(GRADIENT_MODELS))
def test_sklearn_logits_module_reproduces_predict_proba(kind: str, n_classes: int) -> None:
    torch = pytest.importorskip("torch")
    estimator, x, _ = _fit(GRADIENT_MODELS[kind], n_classes)
    model = SklearnClassifier(estimator)
    assert model.has_gradients and model.n_classes == n_classes and model.input_shape == (N_FEATURES,)
    assert model.estimator is estimator
    module = model.logits_module()
    assert not module.training
    assert all(not p.requires_grad for p in module.parameters())
    logits = module(torch.from_numpy(x)).double().numpy()
    assert logits.shape == (len(x), n_classes)
    np.testing.assert_allclose(_softmax(logits), estimator.predict_proba(x), atol=1e-5)
    np.testing.assert_allclose(model.predict_proba(x), estimator.predict_proba(x), atol=1e-12)
    assert model.queries == len(x)


def test_sklearn_logits_module_is_differentiable_in_the_input() -> None:
    torch = pytest.importorskip("torch")
    estimator, x, y = _fit(GRADIENT_MODELS["std+mlp"], 3)
    module = SklearnClassifier(estimator).logits_module()
    inputs = torch.from_numpy(x[:8]).requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(module(inputs), torch.as_tensor(y[:8]))
    loss.backward()
    assert inputs.grad is not None and float(inputs.grad.abs().sum()) > 0
    # a small step along the gradient sign raises the loss: the gradient points the right way
    with torch.no_grad():
        stepped = torch.nn.functional.cross_entropy(module(inputs + 0.05 * inputs.grad.sign()),
                                                    torch.as_tensor(y[:8]))
    assert float(stepped) > float(loss.detach())


def test_sklearn_input_shape_reshapes_for_images() -> None:
    torch = pytest.importorskip("torch")
    estimator, x, _ = _fit(GRADIENT_MODELS["mlp"], 3)
    model = SklearnClassifier(estimator, input_shape=(1, 2, 3))
    images = x.reshape(-1, 1, 2, 3)
    np.testing.assert_allclose(model.predict_proba(images), estimator.predict_proba(x), atol=1e-12)
    logits = model.logits_module()(torch.from_numpy(images)).double().numpy()
    np.testing.assert_allclose(_softmax(logits), estimator.predict_proba(x), atol=1e-5)
    with pytest.raises(ModelError):
        model.predict_proba(x)


@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_sklearn_mlp_activations_equal_a_manual_forward_pass(activation: str) -> None:
    estimator, x, _ = _fit(lambda: make_pipeline(StandardScaler(), _mlp(activation)), 3)
    model = SklearnClassifier(estimator)
    assert model.layer_names() == ["hidden_1", "hidden_2"]
    scaler, mlp = estimator[0], estimator[-1]
    fn = {"relu": lambda v: np.maximum(v, 0), "tanh": np.tanh, "logistic": lambda v: 1 / (1 + np.exp(-v))}[activation]
    h1 = fn(scaler.transform(x.astype(np.float64)) @ mlp.coefs_[0] + mlp.intercepts_[0])
    h2 = fn(h1 @ mlp.coefs_[1] + mlp.intercepts_[1])
    got = model.activations(x, ["hidden_2", "hidden_1"])
    assert set(got) == {"hidden_1", "hidden_2"}
    assert got["hidden_1"].shape == (len(x), 8) and got["hidden_2"].shape == (len(x), 5)
    assert got["hidden_1"].dtype == np.float32
    np.testing.assert_allclose(got["hidden_1"], h1, atol=1e-5)
    np.testing.assert_allclose(got["hidden_2"], h2, atol=1e-5)
    assert model.queries == len(x)
    with pytest.raises(ModelError, match="no layer named 'hidden_3'"):
        model.activations(x, ["hidden_3"])


def test_sklearn_logistic_regression_has_gradients_but_no_layers() -> None:
    estimator, x, _ = _fit(GRADIENT_MODELS["logreg"], 3)
    model = SklearnClassifier(estimator)
    assert model.layer_names() == []
    with pytest.raises(ModelError, match="no layer named"):
        model.activations(x, ["hidden_1"])


def test_sklearn_tree_model_gives_probabilities_but_no_gradients() -> None:
    estimator, x, _ = _fit(lambda: RandomForestClassifier(n_estimators=5, random_state=0), 3)
    model = SklearnClassifier(estimator, name="forest")
    assert not model.has_gradients and model.layer_names() == []
    np.testing.assert_array_equal(model.predict_proba(x), estimator.predict_proba(x))
    with pytest.raises(ModelError, match="forest: RandomForestClassifier gives no gradients"):
        model.logits_module()


def test_sklearn_scaler_other_than_standard_or_minmax_gives_no_gradients() -> None:
    from sklearn.preprocessing import RobustScaler

    estimator, _, _ = _fit(lambda: make_pipeline(RobustScaler(), LogisticRegression()), 2)
    assert not SklearnClassifier(estimator).has_gradients


@pytest.mark.parametrize("n_classes", [2, 3])
def test_sklearn_decision_function_fallback_is_a_softmax(n_classes: int) -> None:
    estimator, x, _ = _fit(lambda: LinearSVC(random_state=0), n_classes)
    proba = SklearnClassifier(estimator).predict_proba(x)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(estimator.classes_[proba.argmax(axis=1)], estimator.predict(x))
    scores = estimator.decision_function(x)
    if n_classes == 2:  # P(class 1) = sigmoid(score)
        np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-scores)), rtol=1e-9)
    else:
        np.testing.assert_allclose(proba, _softmax(scores), rtol=1e-9)


class _PredictOnly:
    """A classifier with ``predict`` only (no probabilities, no scores), labelled with words."""

    classes_ = np.array(["ant", "bee", "cat"])
    n_features_in_ = 2

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[(np.asarray(x)[:, 0] > 0).astype(int) + (np.asarray(x)[:, 1] > 0).astype(int)]


def test_sklearn_predict_only_fallback_is_one_hot() -> None:
    model = SklearnClassifier(_PredictOnly())
    x = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float32)
    np.testing.assert_array_equal(model.predict_proba(x), np.eye(3)[[0, 1, 2, 1]])
    assert model.encode_labels(np.array(["cat", "ant"])).tolist() == [2, 0]


def test_sklearn_unfitted_or_shapeless_estimators_are_refused() -> None:
    with pytest.raises(ModelError, match="not a fitted classifier"):
        SklearnClassifier(LogisticRegression())

    class Shapeless:
        classes_ = np.array([0, 1])

        def predict(self, x: np.ndarray) -> np.ndarray:
            return np.zeros(len(x), dtype=int)

    with pytest.raises(ModelError, match="give input_shape"):
        SklearnClassifier(Shapeless())
    assert SklearnClassifier(Shapeless(), input_shape=(3,)).predict(np.ones((2, 3))).tolist() == [0, 0]


def test_sklearn_dataframe_fitted_pipeline_gets_named_columns() -> None:
    x, y = _data(2)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(N_FEATURES)])
    # the ColumnTransformer selects columns by name: it only works when the adapter passes a DataFrame
    pipe = Pipeline([("cols", ColumnTransformer([("num", StandardScaler(), ["f0", "f2", "f4"])])),
                     ("clf", LogisticRegression())]).fit(frame, y)
    model = SklearnClassifier(pipe)
    assert model.input_shape == (N_FEATURES,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(model.predict_proba(x), pipe.predict_proba(frame), atol=1e-12)
    assert not model.has_gradients  # a column selector is not an affine scaler


def test_sklearn_dataframe_fitted_mlp_keeps_gradients() -> None:
    torch = pytest.importorskip("torch")
    x, y = _data(3)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(N_FEATURES)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = make_pipeline(StandardScaler(), _mlp()).fit(frame, y)
    model = SklearnClassifier(estimator)
    np.testing.assert_allclose(model.predict_proba(x), estimator.predict_proba(frame), atol=1e-12)
    logits = model.logits_module()(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(_softmax(logits), estimator.predict_proba(frame), atol=1e-5)


def test_sklearn_text_pipeline_takes_strings() -> None:
    texts = np.array(["good fun film", "great acting", "lovely story", "bad plot", "awful acting", "dull film"] * 3,
                     dtype=object)
    labels = np.array(["pos", "pos", "pos", "neg", "neg", "neg"] * 3)
    pipe = make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(texts, labels)
    model = SklearnClassifier(pipe)
    assert model.text and model.input_shape == () and not model.has_gradients
    probe = np.array(["good story", "awful plot", "unseen words only"], dtype=object)
    np.testing.assert_allclose(model.predict_proba(probe), pipe.predict_proba(probe), atol=1e-12)
    assert model.classes[model.predict(probe[:2])].tolist() == ["pos", "neg"]
    assert model.encode_labels(np.array(["neg", "pos"])).tolist() == [0, 1]
    with pytest.raises(ModelError, match="1-D array of strings"):
        model.predict_proba(np.array([["good"]], dtype=object))


# -- torch ---------------------------------------------------------------------------------------------------------

def _torch_net(probabilities: bool = False) -> Any:
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    torch.manual_seed(0)
    layers = [torch.nn.Flatten(), torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.5), torch.nn.Linear(8, 3)]
    if probabilities:
        layers.append(torch.nn.Softmax(dim=1))
    return torch.nn.Sequential(*layers)


def _images(n: int = 11) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, 1, 2, 2)).astype(np.float32)


def test_torch_logits_are_softmaxed_and_n_classes_probed() -> None:
    import torch

    from bastion.model.adapters.torch import TorchClassifier

    net = _torch_net()
    model = TorchClassifier(net, (1, 2, 2))
    assert model.n_classes == 3 and model.has_gradients and model.estimator is net
    assert not net.training  # dropout off: predictions are deterministic
    assert all(not p.requires_grad for p in net.parameters())
    x = _images()
    expected = torch.softmax(net(torch.from_numpy(x)).double(), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-12)
    np.testing.assert_array_equal(model.predict_proba(x), model.predict_proba(x))
    assert model.logits_module() is net
    assert model.queries == 3 * len(x)


def test_torch_probability_outputs_are_kept_and_logged_for_gradients() -> None:
    import torch

    from bastion.model.adapters.torch import TorchClassifier

    net = _torch_net(probabilities=True)
    model = TorchClassifier(net, (1, 2, 2), n_classes=3, outputs="probabilities")
    x = _images()
    direct = net(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(model.predict_proba(x), direct, atol=1e-12)
    logits = model.logits_module()(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(_softmax(logits), direct, atol=1e-5)
    with pytest.raises(ModelError, match="outputs must be 'logits' or 'probabilities'"):
        TorchClassifier(net, (1, 2, 2), outputs="scores")


def test_torch_layers_and_activations_match_the_forward_pass() -> None:
    import torch

    from bastion.model.adapters.torch import TorchClassifier

    net = _torch_net()
    model = TorchClassifier(net, (1, 2, 2))
    assert model.layer_names() == ["0", "1", "2", "3"]  # the output layer "4" is left out
    x = _images()
    got = model.activations(x, ["1", "2"])
    with torch.no_grad():
        hidden = net[1](torch.from_numpy(x).reshape(len(x), -1))
    np.testing.assert_allclose(got["1"], hidden.numpy(), atol=1e-6)
    np.testing.assert_allclose(got["2"], torch.relu(hidden).numpy(), atol=1e-6)
    assert got["1"].dtype == np.float32 and got["1"].shape == (len(x), 8)
    assert model.queries == len(x)
    with pytest.raises(ModelError, match="no layer named 'fc9'"):
        model.activations(x, ["fc9"])
    # hooks are removed afterwards: a later forward pass records nothing new
    assert not any(m._forward_hooks for m in net.modules())


def test_torch_batch_size_splitting_gives_identical_results() -> None:
    from bastion.model.adapters.torch import TorchClassifier

    net = _torch_net()
    whole, split = TorchClassifier(net, (1, 2, 2)), TorchClassifier(net, (1, 2, 2), batch_size=4)
    x = _images(11)
    np.testing.assert_allclose(split.predict_proba(x), whole.predict_proba(x), atol=1e-12)
    a, b = split.activations(x, ["2"]), whole.activations(x, ["2"])
    np.testing.assert_allclose(a["2"], b["2"], atol=1e-7)
    assert a["2"].shape == (11, 8)


def test_torch_scripted_sequential_gives_its_childrens_activations() -> None:
    import torch

    from bastion.model.adapters.torch import TorchClassifier

    net = _torch_net()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        scripted = TorchClassifier(torch.jit.script(net), (1, 2, 2))
    eager = TorchClassifier(net, (1, 2, 2))
    names = scripted.layer_names()
    assert names == [name for name, _ in net.named_children()][:-1]
    x = _images()
    for name in names:
        if name in eager.layer_names():
            np.testing.assert_allclose(scripted.activations(x, [name])[name], eager.activations(x, [name])[name],
                                       atol=1e-6)


def test_torch_scripted_non_sequential_has_no_layers() -> None:
    import torch

    from bastion.model.adapters.torch import TorchClassifier

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = _torch_net()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.inner(x) * 1.0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = TorchClassifier(torch.jit.script(Wrapped()), (1, 2, 2))
    assert model.layer_names() == []
    with pytest.raises(ModelError, match="TorchScript"):
        model.activations(_images(), ["inner"])


# -- ONNX ------------------------------------------------------------------------------------------------------------

def _export(net: Any, path: Path, axes: dict[str, dict[int, str]], output: str = "logits") -> Path:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(net, (torch.zeros(1, 4),), str(path), dynamo=False, input_names=["x"],
                          output_names=[output], dynamic_axes=axes)
    return path


@pytest.fixture(scope="module")
def onnx_nets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Any, Path]]:
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    folder = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    logits = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3)).eval()
    probs = torch.nn.Sequential(logits, torch.nn.Softmax(dim=1)).eval()
    binary = torch.nn.Sequential(torch.nn.Linear(4, 1)).eval()
    return {
        "logits": (logits, _export(logits, folder / "logits.onnx", {"x": {0: "batch"}})),
        "probs": (probs, _export(probs, folder / "probs.onnx", {"x": {0: "batch"}}, output="scores")),
        "binary": (binary, _export(binary, folder / "binary.onnx", {"x": {0: "batch"}})),
        "symbolic": (logits, _export(logits, folder / "symbolic.onnx", {"x": {0: "batch", 1: "features"}})),
    }


def _onnx_x() -> np.ndarray:
    return np.random.default_rng(2).normal(size=(9, 4)).astype(np.float32) * 3


def test_onnx_logits_outputs_are_softmaxed(onnx_nets: dict[str, tuple[Any, Path]]) -> None:
    import torch

    from bastion.model.adapters.onnx import OnnxClassifier

    net, path = onnx_nets["logits"]
    model = OnnxClassifier(path, batch_size=4)
    assert model.input_shape == (4,) and model.n_classes == 3 and model.name == str(path)
    x = _onnx_x()
    with torch.no_grad():
        expected = torch.softmax(net(torch.from_numpy(x)).double(), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(x), expected, atol=1e-5)
    assert model.queries == len(x) and not model.has_gradients


def test_onnx_probability_outputs_are_kept(onnx_nets: dict[str, tuple[Any, Path]]) -> None:
    import torch

    from bastion.model.adapters.onnx import OnnxClassifier

    net, path = onnx_nets["probs"]
    x = _onnx_x()
    with torch.no_grad():
        expected = net(torch.from_numpy(x)).double().numpy()
    np.testing.assert_allclose(OnnxClassifier(path).predict_proba(x), expected, atol=1e-6)


def test_onnx_single_logit_is_a_sigmoid(onnx_nets: dict[str, tuple[Any, Path]]) -> None:
    import torch

    from bastion.model.adapters.onnx import OnnxClassifier

    net, path = onnx_nets["binary"]
    x = _onnx_x()
    model = OnnxClassifier(path)
    assert model.n_classes == 2
    with torch.no_grad():
        z = net(torch.from_numpy(x)).double().numpy()[:, 0]
    np.testing.assert_allclose(model.predict_proba(x)[:, 1], 1 / (1 + np.exp(-z)), atol=1e-6)


def test_onnx_symbolic_feature_dims_need_input_shape(onnx_nets: dict[str, tuple[Any, Path]]) -> None:
    from bastion.model.adapters.onnx import OnnxClassifier

    _, path = onnx_nets["symbolic"]
    with pytest.raises(ModelError, match="symbolic dimensions; give --input-shape"):
        OnnxClassifier(path)
    model = OnnxClassifier(path, input_shape=(4,), name="sym")
    np.testing.assert_allclose(model.predict_proba(_onnx_x()), OnnxClassifier(onnx_nets["logits"][1])
                               .predict_proba(_onnx_x()), atol=1e-6)


def test_onnx_unreadable_file_is_a_model_error(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from bastion.model.adapters.onnx import OnnxClassifier

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07 not a graph")
    with pytest.raises(ModelError, match="onnxruntime could not open"):
        OnnxClassifier(bad)


def test_onnx_sklearn_export_zipmap_is_read(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    skl2onnx = pytest.importorskip("skl2onnx")  # optional: not installed in the dev set-up
    from bastion.model.adapters.onnx import OnnxClassifier

    estimator, x, _ = _fit(lambda: LogisticRegression(max_iter=500), 3)
    onx = skl2onnx.to_onnx(estimator, x[:1])
    path = tmp_path / "lr.onnx"
    path.write_bytes(onx.SerializeToString())
    np.testing.assert_allclose(OnnxClassifier(path).predict_proba(x), estimator.predict_proba(x), atol=1e-5)


def test_adapters_share_the_interface() -> None:
    assert issubclass(SklearnClassifier, ModelAdapter) and issubclass(CallableClassifier, ModelAdapter)
