"""Labelled depth figures: what each colour means is on the figure (titles, colour bars in metres)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from litedepth.utils.visualize import depth_figure, save_figure

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


def test_map_with_colorbar_bar_colours_match_the_map_at_each_tick():
    """The bar beside the map shows the map's own colours: at each tick's row the bar has the
    colour a pixel of that value has on the map (depth coloured by 1 / depth, near = bright)."""
    import matplotlib

    from litedepth.utils.visualize import ColourScale, colorize, map_with_colorbar

    depth = np.linspace(0.5, 8.0, 30 * 40, dtype=np.float32).reshape(30, 40)
    depth[0, 0] = 0.0  # no depth: black, and a note under the map says so
    image = map_with_colorbar(depth, label="depth (m)", unit="m", invert=True,
                              title=[("model: UNTRAINED", (200, 0, 0))])
    assert image.dtype == np.uint8 and image.shape[0] >= 240 + 20  # readable: at least 240 px of map + a title
    scale = ColourScale.of(depth, invert=True)
    ticks = scale.ticks()
    assert len(ticks) >= 4 and min(ticks) >= 0.5 and max(ticks) <= 8.0
    assert ticks == sorted(ticks, reverse=True) or ticks == sorted(ticks)
    # the drawn map is colorize()'s map, scaled up by nearest neighbour (8 x: 30 rows -> 240)
    plain = colorize(depth, invert=True)
    top, left = 10 + 20, 10  # margin + one title line
    np.testing.assert_array_equal(image[top + 4, left + 4], plain[0, 0])  # the black no-depth pixel
    np.testing.assert_array_equal(image[top + 8 * 29 + 4, left + 8 * 39 + 4], plain[29, 39])
    # the bar: the first column right of the map whose every row is a plasma colour
    bar_x = left + 8 * 40 + 12 + 9
    plasma = matplotlib.colormaps["plasma"]
    for value in ticks:
        y = top + round((1.0 - scale.position(value)) * (240 - 1))
        expected = np.asarray(plasma(scale.position(value))[:3]) * 255
        assert np.abs(image[y, bar_x].astype(float) - expected).max() <= 6, value
    # a constant map still gets one tick and no error
    assert ColourScale.of(np.full((4, 4), 2.0), invert=True).ticks() == [2.0]


def test_colour_scale_ticks_for_a_narrow_range_have_enough_digits():
    from litedepth.utils.visualize import ColourScale

    ticks = ColourScale(1 / 0.2004, 1 / 0.1996, invert=True).ticks()
    assert len(set(ticks)) >= 3 and all(0.1996 <= t <= 0.2004 for t in ticks)
