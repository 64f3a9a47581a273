"""A fixed scale applied to predictions recorded as relative is stated in the report."""

import numpy as np

from litedepth.io.output_spec import OutputSpec
from litedepth.metrics.evaluate import evaluate_arrays


def _items():
    rng = np.random.default_rng(0)
    gt = rng.uniform(2.0, 40.0, size=(32, 48)).astype(np.float32)
    return [("a", gt / 4.0, gt)]  # relative depth, a quarter of the true depth


def test_fixed_scale_on_relative_predictions_is_named_in_the_report():
    result = evaluate_arrays(_items(), "none", spec=OutputSpec("depth", "relative"), scale=4.0,
                             median_scaling=False)
    assert result.metrics["abs_rel"] < 1e-5  # the scale was applied, not median scaling
    words = result.options["scaling"]
    assert "fixed scale x 4" in words and "relative" in words and "calibration" in words


def test_fixed_scale_on_unrecorded_predictions_stays_plain():
    result = evaluate_arrays(_items(), "none", scale=4.0, median_scaling=False)
    assert result.options["scaling"] == "fixed scale x 4"


def test_a_contradiction_names_what_was_recorded():
    import pytest

    from litedepth.errors import ConfigError

    with pytest.raises(ConfigError, match=r"predictions.json: recorded as .*metric"):
        evaluate_arrays(_items(), "none", spec=OutputSpec("depth", "metric"), scale=4.0,
                        source="predictions.json")


def test_a_fixed_scale_with_median_scaling_is_refused():
    """--scale with --median-scaling used to apply the scale and drop median scaling in silence."""
    import pytest

    from litedepth.errors import ConfigError

    with pytest.raises(ConfigError, match="fixed scale and median scaling are alternatives"):
        evaluate_arrays(_items(), "none", scale=4.0, median_scaling=True)
