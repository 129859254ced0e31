"""Tabular feasibility constraints: projection (bounds, integers, allowed values, one-hot groups, immutables), the
gradient mask, feasibility checks, inference from data and the errors for contradictory or misfitting constraints."""

from __future__ import annotations

import numpy as np
import pytest

from bastion.model.constraints import ConstraintError, Constraints

# features: 0 age (immutable), 1 children (integer), 2 income (bounded), 3-5 one-hot region, 6 grade (label-encoded)
NAMES = ("age", "children", "income", "north", "south", "west", "grade")


def _loan() -> Constraints:
    return Constraints(lower=np.array([18, 0, 0, 0, 0, 0, 1], dtype=np.float32),
                       upper=np.array([99, 10, 1e5, 1, 1, 1, 5], dtype=np.float32),
                       immutable=(0,), integer=(1,), categorical=((3, 4, 5),), allowed_values=((6, (1.0, 3.0, 5.0)),),
                       names=NAMES)


def _original() -> np.ndarray:
    return np.array([[40, 2, 5e4, 0, 1, 0, 3], [25, 0, 1e3, 1, 0, 0, 1]], dtype=np.float32)


def test_projection_enforces_every_rule() -> None:
    original = _original()
    candidate = np.array([[41.7, 2.6, -30.0, 0.2, 0.3, 0.9, 3.9],
                          [80.0, 13.2, 2e5, 0.1, 0.0, -0.4, 1.9]], dtype=np.float32)
    out = _loan().project(candidate, original)
    np.testing.assert_array_equal(out[:, 0], original[:, 0])           # immutable restored
    np.testing.assert_array_equal(out[:, 1], [3, 10])                  # rounded, then within bounds
    np.testing.assert_array_equal(out[:, 2], [0, 1e5])                 # clipped to the bounds
    np.testing.assert_array_equal(out[:, 3:6], [[0, 0, 1], [1, 0, 0]])  # the largest of each group wins
    np.testing.assert_array_equal(out[:, 6], [3, 1])                   # snapped to the nearest allowed value
    assert out.dtype == np.float32 and out.shape == candidate.shape
    assert _loan().satisfied(out, original).all()


def test_projection_does_not_modify_its_inputs() -> None:
    candidate, original = _original() + 0.3, _original()
    before = candidate.copy(), original.copy()
    _loan().project(candidate, original)
    np.testing.assert_array_equal(candidate, before[0])
    np.testing.assert_array_equal(original, before[1])


def test_projection_is_idempotent_and_keeps_feasible_points() -> None:
    rng = np.random.default_rng(0)
    original = _original()
    candidate = (original + rng.normal(scale=[5, 3, 1e4, 0.5, 0.5, 0.5, 2], size=original.shape)).astype(np.float32)
    once = _loan().project(candidate, original)
    np.testing.assert_array_equal(_loan().project(once, original), once)
    np.testing.assert_array_equal(_loan().project(original, original), original)


def test_satisfied_is_per_row() -> None:
    original = _original()
    candidate = original.copy()
    candidate[1, 1] = 1.5  # a non-integer number of children in row 1 only
    np.testing.assert_array_equal(_loan().satisfied(candidate, original), [True, False])
    candidate[0, 0] = 41  # row 0 changes the immutable age
    np.testing.assert_array_equal(_loan().satisfied(candidate, original), [False, False])


def test_gradient_mask_freezes_immutable_and_categorical_features() -> None:
    mask = _loan().gradient_mask(7)
    np.testing.assert_array_equal(mask, [0, 1, 1, 0, 0, 0, 0])
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(Constraints().gradient_mask(3), [1, 1, 1])


def test_box_keeps_image_shape() -> None:
    images = np.random.default_rng(1).uniform(-0.5, 1.5, size=(4, 1, 3, 3)).astype(np.float32)
    out = Constraints.box(0.0, 1.0).project(images, images)
    assert out.shape == images.shape
    assert out.min() >= 0 and out.max() <= 1
    inside = (images >= 0) & (images <= 1)
    np.testing.assert_array_equal(out[inside], images[inside])


def test_one_sided_bounds() -> None:
    x = np.array([[-5.0, 5.0]], dtype=np.float32)
    np.testing.assert_array_equal(Constraints(lower=np.float32(0.0)).project(x, x), [[0, 5]])
    np.testing.assert_array_equal(Constraints(upper=np.array([10, 1], np.float32)).project(x, x), [[-5, 1]])


def test_from_data_infers_bounds_and_integers() -> None:
    x = np.array([[0, 1, 0.5, 3, 7, 0],
                  [1, 4, 1.5, 3, 7, 2],
                  [0, 2, 2.0, 4, 7, 4]], dtype=np.float64)
    c = Constraints.from_data(x, names=[f"f{i}" for i in range(6)], immutable=[5])
    np.testing.assert_array_equal(c.lower, x.min(axis=0))
    np.testing.assert_array_equal(c.upper, x.max(axis=0))
    # integer only when integer-valued with a range above 1: not the 0/1 flag, the float, the 3/4 pair or the constant
    assert c.integer == (1, 5)
    assert c.immutable == (5,) and c.names[0] == "f0"
    assert c.satisfied(x.astype(np.float32), x).all()


def test_from_data_ignores_missing_values_and_honours_explicit_lists() -> None:
    x = np.array([[0, np.nan], [3, 1.5], [6, 2.5]])
    c = Constraints.from_data(x, integer=[], categorical=[[0, 1]], allowed_values=[(0, [0, 3, 6])])
    np.testing.assert_array_equal(c.lower, [0, 1.5])
    np.testing.assert_array_equal(c.upper, [6, 2.5])
    assert c.integer == () and c.categorical == ((0, 1),) and c.allowed_values == ((0, (0.0, 3.0, 6.0)),)
    images = np.zeros((2, 1, 2, 2))
    images[1, 0, 1, 1] = 3
    assert Constraints.from_data(images).integer == (3,)  # indexes the flattened sample


def test_from_data_needs_samples() -> None:
    with pytest.raises(ConstraintError, match="at least one sample"):
        Constraints.from_data(np.zeros((0, 3)))


def test_lower_above_upper_names_the_feature() -> None:
    with pytest.raises(ConstraintError, match="feature 'income': lower bound is above the upper bound"):
        Constraints(lower=np.array([0, 0, 9]), upper=np.array([1, 1, 5]), names=("age", "children", "income"))
    with pytest.raises(ConstraintError, match="feature #1:"):
        Constraints(lower=np.array([0, 5]), upper=np.array([1, 2]))
    with pytest.raises(ConstraintError, match="feature 'b':"):
        Constraints(lower=np.array([0.0, 5.0, 0.0]), upper=np.float32(4.0), names=("a", "b", "c"))
    with pytest.raises(ConstraintError):
        Constraints.box(1.0, 0.0)


def test_scalar_lower_above_some_upper_names_the_feature() -> None:
    with pytest.raises(ConstraintError, match="feature 'b':"):
        Constraints(lower=np.float32(5.0), upper=np.array([10.0, 3.0, 10.0]), names=("a", "b", "c"))


def test_integer_rounding_stays_within_fractional_bounds() -> None:
    c = Constraints(lower=np.array([0.5], np.float32), upper=np.array([2.5], np.float32), integer=(0,))
    x = np.array([[0.5], [0.4], [2.6]], dtype=np.float32)
    out = c.project(x, x)
    assert (out >= 0.5).all() and (out <= 2.5).all()
    np.testing.assert_array_equal(out, [[1], [1], [2]])


def test_empty_allowed_values_is_an_error() -> None:
    with pytest.raises(ConstraintError, match="at least one allowed value"):
        Constraints(allowed_values=((0, ()),))


@pytest.mark.parametrize(("constraints", "message"), [
    (Constraints(lower=np.zeros(3), upper=np.ones(3)), "lower bounds give 3 values for 4 features"),
    (Constraints(upper=np.ones(5)), "upper bounds give 5 values for 4 features"),
    (Constraints(immutable=(4,)), "feature index 4 is outside the 4 features"),
    (Constraints(integer=(-1,)), "feature index -1"),
    (Constraints(categorical=((1, 7),)), "feature index 7"),
    (Constraints(allowed_values=((9, (1.0,)),)), "feature index 9"),
])
def test_check_reports_misfits(constraints: Constraints, message: str) -> None:
    with pytest.raises(ConstraintError, match=message):
        constraints.check(4)


def test_check_accepts_fitting_and_scalar_bounds() -> None:
    _loan().check(7)
    Constraints.box(0, 1).check(64)
    Constraints().check(1)


def test_empty_batches_project_and_check_to_empty() -> None:
    constraints = Constraints(lower=np.zeros(3, np.float32), upper=np.ones(3, np.float32), immutable=(0,))
    empty = np.zeros((0, 3), dtype=np.float32)
    assert constraints.project(empty, empty).shape == (0, 3)
    assert constraints.satisfied(empty, empty).shape == (0,)
