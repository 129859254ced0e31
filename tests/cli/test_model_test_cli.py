"""``bastion test robustness | poisoning`` as users run them: formats, the load gate, exit codes."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from _cli import MALICIOUS, run_bastion


@pytest.fixture(scope="module")
def tabular(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A logistic regression on a separable-ish 2-class problem, and its data with a flipped-label tail."""
    from sklearn.linear_model import LogisticRegression

    folder = tmp_path_factory.mktemp("tabular")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    flipped = y.copy()
    flipped[:15] = 1 - flipped[:15]
    model = LogisticRegression().fit(x, np.where(y == 1, "yes", "no"))
    with open(folder / "model.pkl", "wb") as handle:
        pickle.dump(model, handle)
    frame = pd.DataFrame(x, columns=["a", "b", "c", "d"])
    frame["label"] = np.where(flipped == 1, "yes", "no")
    frame.to_csv(folder / "data.csv", index=False)
    return folder / "model.pkl", folder / "data.csv"


def test_robustness_json_has_the_issue_keys_and_a_curve(tabular: tuple[Path, Path]) -> None:
    model, data = tabular
    run = run_bastion("test", "robustness", "-m", str(model), "-d", str(data), "-t", "label", "-a", "fgsm,pgd",
                      "--eps", "0.1,1.0", "-n", "100", "-f", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert {"model", "samples", "clean_accuracy", "attacks"} <= set(report)
    assert report["samples"] == 100
    pgd = [a for a in report["attacks"] if a["name"] == "pgd"]
    assert [a["eps"] for a in pgd] == [0.1, 1.0]
    assert set(pgd[0]) == {"name", "norm", "eps", "accuracy_under_attack", "success_rate", "median_perturbation",
                           "queries", "seconds"}
    assert pgd[1]["accuracy_under_attack"] < pgd[0]["accuracy_under_attack"] <= report["clean_accuracy"]
    assert pgd[1]["median_perturbation"] <= 1.0 + 1e-6


def test_fail_under_exits_1_and_html_is_self_contained(tabular: tuple[Path, Path], tmp_path: Path) -> None:
    model, data = tabular
    out = tmp_path / "r.html"
    run = run_bastion("test", "robustness", "-m", str(model), "-d", str(data), "-t", "label", "-a", "pgd",
                      "--eps", "2.0", "-n", "60", "--fail-under", "0.5", "-f", "html", "-o", str(out))
    assert run.returncode == 1, run.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<script" not in page


def test_malicious_model_is_refused_before_loading(tabular: tuple[Path, Path], tmp_path: Path) -> None:
    _, data = tabular
    bad = tmp_path / "model.pkl"
    bad.write_bytes(MALICIOUS)
    run = run_bastion("test", "robustness", "-m", str(bad), "-d", str(data), "-t", "label")
    assert run.returncode == 2
    assert "BST-PKL-001" in run.stderr and "--allow-unsafe-load" in run.stderr


def test_bad_target_and_attack_name_are_exit_2(tabular: tuple[Path, Path]) -> None:
    model, data = tabular
    run = run_bastion("test", "robustness", "-m", str(model), "-d", str(data), "-t", "nope")
    assert run.returncode == 2 and "'nope'" in run.stderr
    run = run_bastion("test", "robustness", "-m", str(model), "-d", str(data), "-t", "label", "-a", "magic")
    assert run.returncode == 2 and "magic" in run.stderr and "pgd" in run.stderr


def test_immutable_feature_is_left_alone(tabular: tuple[Path, Path]) -> None:
    model, data = tabular
    run = run_bastion("test", "robustness", "-m", str(model), "-d", str(data), "-t", "label", "-a", "pgd",
                      "--eps", "1.0", "-n", "80", "--immutable", "a,b", "-f", "json")
    assert run.returncode == 0, run.stderr
    free = run_bastion("test", "robustness", "-m", str(model), "-d", str(data), "-t", "label", "-a", "pgd",
                       "--eps", "1.0", "-n", "80", "-f", "json")
    # a and b carry the whole signal: freezing them must leave the model (nearly) unbreakable
    frozen_acc = json.loads(run.stdout)["attacks"][0]["accuracy_under_attack"]
    free_acc = json.loads(free.stdout)["attacks"][0]["accuracy_under_attack"]
    assert frozen_acc > free_acc + 0.3


def test_poisoning_lists_flipped_rows(tabular: tuple[Path, Path]) -> None:
    model, data = tabular
    run = run_bastion("test", "poisoning", "-m", str(model), "-d", str(data), "-t", "label", "--cv-model",
                      "logistic_regression", "-f", "json")
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert report["backdoor"] is None
    rows = {issue["row"] for issue in report["label_issues"]}
    assert len(rows & set(range(15))) >= 10
    assert len(rows - set(range(15))) <= 5
    first = report["label_issues"][0]
    assert set(first) == {"row", "given", "suggested", "score"} and first["given"] in ("yes", "no")
    failing = run_bastion("test", "poisoning", "-m", str(model), "-d", str(data), "-t", "label", "--cv-model",
                          "logistic_regression", "--fail-on-suspects", "--top", "3")
    assert failing.returncode == 1


def test_poisoning_names_the_backdoored_class_of_a_torchscript_model(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from sklearn.datasets import load_digits

    torch.manual_seed(0)
    torch.set_num_threads(1)
    x, y = load_digits(return_X_y=True)
    x = (x / 16).astype(np.float32).reshape(-1, 8, 8)
    rng = np.random.default_rng(0)
    poisoned = rng.choice(np.flatnonzero(y != 0), 90, replace=False)
    x[poisoned, 6:, 6:] = 1.0  # a 2x2 corner trigger, relabelled to 0
    y[poisoned] = 0
    x = x.reshape(-1, 64)
    net = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
                              torch.nn.Linear(128, 10))
    optimiser = torch.optim.Adam(net.parameters(), 1e-3)
    inputs, labels = torch.tensor(x), torch.tensor(y)
    for _ in range(300):
        optimiser.zero_grad()
        torch.nn.functional.cross_entropy(net(inputs), labels).backward()
        optimiser.step()
    torch.jit.script(net.eval()).save(str(tmp_path / "net.pt"))
    frame = pd.DataFrame(x, columns=[f"p{i}" for i in range(64)])
    frame["digit"] = y
    frame.to_parquet(tmp_path / "train.parquet")
    run = run_bastion("test", "poisoning", "-m", str(tmp_path / "net.pt"), "-d", str(tmp_path / "train.parquet"),
                      "-t", "digit", "-f", "json")
    assert run.returncode == 0, run.stderr
    backdoor = json.loads(run.stdout)["backdoor"]
    assert backdoor["suspected_class"] == 0
    assert max(backdoor["class_scores"], key=backdoor["class_scores"].get) == "0"
    rows = {suspect["row"] for suspect in backdoor["suspects"]}
    assert len(rows & set(poisoned.tolist())) >= 0.9 * len(poisoned)
    assert len(rows - set(poisoned.tolist())) <= 0.3 * len(rows)
