"""RobustnessTest: budgets per norm, minimum-norm attacks read at every budget, skipped and unknown attacks."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from bastion.model.adapters.sklearn import SklearnClassifier
from bastion.model.robustness import RobustnessTest, default_attacks, default_budgets

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(200, 9)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 1).astype(np.int64)
    return x, y


def test_l2_budgets_scale_with_the_square_root_of_the_features(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, _ = data
    linf, l2 = default_budgets(x, "inf"), default_budgets(x, "2")
    assert len(linf) == 4 and linf == sorted(linf)
    np.testing.assert_allclose(np.array(l2) / np.array(linf), 3.0, rtol=1e-3)  # sqrt(9 features)
    assert default_budgets(x, "edits") == [1.0, 2.0, 3.0, 5.0]


def test_minimum_norm_attack_is_one_run_read_at_every_budget(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    model = SklearnClassifier(LogisticRegression().fit(x, y))
    report = RobustnessTest(["deepfool", "pgd"], seed=0).run(model, x, y)
    deepfool = [row for row in report.attacks if row.name == "deepfool"]
    assert [row.eps for row in deepfool][-1] is None and len(deepfool) == 5
    assert len({(row.queries, row.seconds) for row in deepfool}) == 1  # one run
    accuracies = [row.accuracy_under_attack for row in deepfool]
    assert accuracies == sorted(accuracies, reverse=True) and accuracies[0] <= report.clean_accuracy
    assert all(row.norm == "2" for row in deepfool)
    assert deepfool[-1].success_rate > 0.95
    pgd = [row for row in report.attacks if row.name == "pgd"]
    assert len(pgd) == 4 and len({row.queries for row in pgd}) > 1  # one run per budget
    # the L2 budgets of DeepFool are the L-inf budgets of PGD times sqrt(9)
    np.testing.assert_allclose([row.eps for row in deepfool[:-1]], [3 * row.eps for row in pgd], rtol=1e-3)


def test_gradient_attacks_are_skipped_with_a_warning_on_forests(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    model = SklearnClassifier(RandomForestClassifier(10, random_state=0).fit(x, y))
    assert default_attacks(model) == ["trees", "hopskipjump"]
    report = RobustnessTest(["pgd"], eps=[0.1]).run(model, x[:40], y[:40])
    assert report.attacks == () and "pgd: skipped" in report.warnings[0]


def test_unknown_attacks_and_options_are_named(data: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = data
    model = SklearnClassifier(LogisticRegression().fit(x, y))
    with pytest.raises(ValueError, match="'magic' is not available"):
        RobustnessTest(["magic"]).run(model, x, y)
    with pytest.raises(ValueError, match="pgd: unknown option"):
        RobustnessTest(["pgd"], eps=[0.1], options={"pgd": {"stepz": 3}}).run(model, x, y)
    with pytest.raises(ValueError, match="eps"):
        RobustnessTest(["pgd"], eps=[-1.0])


def test_a_scaled_forest_gets_black_box_attacks_not_the_tree_attack(data: tuple[np.ndarray, np.ndarray]) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, y = data
    model = SklearnClassifier(make_pipeline(StandardScaler(), RandomForestClassifier(10, random_state=0)).fit(x, y))
    assert default_attacks(model) == ["hopskipjump", "square"]
    report = RobustnessTest(seed=0).run(model, x[:12], y[:12])
    assert {row.name for row in report.attacks} == {"hopskipjump", "square"}


def test_html_reports_drop_control_characters_from_model_names() -> None:
    from bastion.model.html import robustness_html
    from bastion.model.robustness import RobustnessReport

    page = robustness_html(RobustnessReport(model="evil\x07<b>name", samples=1, clean_accuracy=1.0, attacks=()))
    assert "\x07" not in page and "evil&lt;b&gt;name" in page
