"""Agreement of relative disparity with a reference after scale-and-shift alignment."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import litedepth.metrics.agreement as agreement_mod
from litedepth.errors import DataError
from litedepth.metrics.agreement import affine_agreement, constant_agreement, reference_depth


def test_doctests():
    assert doctest.testmod(agreement_mod).failed == 0


def test_known_value_with_the_range_clamp():
    """Reference disparity [1, 2, 4, 8] (median 3: depths 3, 1.5, 0.75, 0.375); prediction [1, 2, 3, 4].

    Least squares: s = 23/30, t = -2/3 -> aligned [0.1, 0.8667, 1.6333, 2.4] -> depth [10, 1.1538,
    0.6122, 0.4167]; the first is clamped to the reference's farthest depth 3.
    """
    ref = np.array([[1.0, 2.0, 4.0, 8.0]])
    m = affine_agreement(np.array([[1.0, 2.0, 3.0, 4.0]]), ref)
    gt = np.array([3.0, 1.5, 0.75, 0.375])
    pred = np.array([3.0, 1 / (0.76666667 * 2 - 2 / 3), 1 / (0.76666667 * 3 - 2 / 3), 1 / (0.76666667 * 4 - 2 / 3)])
    assert m["abs_rel"] == pytest.approx(float(np.mean(np.abs(gt - pred) / gt)), abs=1e-6)
    assert m["a1"] == pytest.approx(0.75)  # all but 1.1538 vs 1.5 are within a factor 1.25


def test_invariances_and_masks():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0.5, 4.0, (12, 16))
    ref[:3] = 0.0  # sky
    pred = rng.uniform(0.0, 1.0, (12, 16))
    base = affine_agreement(pred, ref)
    assert affine_agreement(pred, 37.0 * ref) == pytest.approx(base)  # the reference's scale does not matter
    assert affine_agreement(5.0 * pred - 2.0, ref) == pytest.approx(base)  # nor the prediction's affine range
    pred[:3] = 1e6  # invalid reference pixels are not scored
    assert affine_agreement(pred, ref) == pytest.approx(base)
    assert affine_agreement(0.5 * ref + 3.0, ref)["abs_rel"] < 1e-12


def test_constant_baseline_known_value():
    # depths 3, 1.5, 0.75, 0.375; the constant is scaled to their median 1.125
    expected = np.mean([1.875 / 3, 0.375 / 1.5, 0.375 / 0.75, 0.75 / 0.375])
    assert constant_agreement(np.array([[1.0, 2.0, 4.0, 8.0]]))["abs_rel"] == pytest.approx(expected)


def test_a_prediction_at_another_resolution_is_resized():
    ref = np.tile(np.linspace(1.0, 4.0, 32), (16, 1))
    small = np.tile(np.linspace(1.0, 4.0, 8), (4, 1))
    assert affine_agreement(small, ref)["abs_rel"] < 0.02


def test_reference_without_valid_pixels_is_a_data_error():
    with pytest.raises(DataError, match="frame.png: the reference disparity has no valid"):
        reference_depth(np.zeros((2, 2)), name="frame.png")
