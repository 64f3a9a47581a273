"""Labelled depth figures: what each colour means is on the figure (titles, colour bars in metres)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from litedepth.inference.visualize import depth_figure, save_figure

H, W = 24, 32


def _scene():
    v = np.mgrid[0:H, 0:W][0].astype(np.float64)
    gt = 2.0 + 4.0 * (1 - v / H)  # 2-6 m, a floor receding upwards
    gt[:2] = 0.0  # no ground truth in the top rows
    pred = gt * 1.1 + 0.5
    image = np.zeros((H, W, 3), np.uint8)
    image[..., 0] = 200
    return image, gt, pred


def test_panels_are_labelled_and_share_one_depth_scale(tmp_path):
    image, gt, pred = _scene()
    fig = depth_figure(image, gt, pred, title="held-out image 7")
    panels = [ax for ax in fig.axes if ax.get_title()]
    bars = [ax for ax in fig.axes if not ax.get_title()]
    assert [ax.get_title() for ax in panels] == ["input", "ground truth (grey: none)", "prediction",
                                                 "|prediction - ground truth|"]
    assert [ax.get_ylabel() for ax in bars] == ["depth (m)", "error (m)"]
    assert fig._suptitle.get_text() == "held-out image 7"
    gt_im, pred_im, err_im = (ax.get_images()[0] for ax in panels[1:])
    # ground truth and prediction use the same colours for the same metres: the truth's range
    assert gt_im.get_clim() == pred_im.get_clim() == (gt[2:].min(), gt[2:].max())
    # the error panel shows |pred - gt| in metres where there is ground truth, nothing elsewhere
    err = err_im.get_array()
    assert err.mask[:2].all() and not err.mask[2:].any()
    np.testing.assert_allclose(err[2:], np.abs(pred - gt)[2:])
    path = tmp_path / "panel.png"
    save_figure(path, fig)
    with Image.open(path) as png:
        assert png.size[0] > 1000 and png.size[1] > 150  # readable, not a 388 x 96 strip
        grey = np.asarray(png.convert("L"), dtype=float)
    assert grey.std() > 20  # drawn, not blank


def test_without_ground_truth_the_prediction_has_its_own_bar():
    image, _, pred = _scene()
    fig = depth_figure(image, None, pred)
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["input", "prediction"]
    assert [ax.get_ylabel() for ax in fig.axes if not ax.get_title()] == ["depth (m)"]
