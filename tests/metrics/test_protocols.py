"""Crop bounds, range masks and clamping of the evaluation protocols (hand-computed)."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
import torch

from litedepth.errors import ConfigError, DataError
from litedepth.metrics import get_protocol, list_protocols, protocols


def _block_only(mask: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> bool:
    """True when ``mask`` is exactly the block rows r0:r1, cols c0:c1."""
    expected = np.zeros_like(mask, dtype=bool)
    expected[r0:r1, c0:c1] = True
    return bool((np.asarray(mask) == expected).all())


def test_names_and_unknown_protocol() -> None:
    assert list_protocols() == ["kitti-eigen", "kitti-eigen-crop", "nyu", "none"]
    assert get_protocol("KITTI_Eigen").name == "kitti-eigen"
    p = get_protocol("nyu")
    assert get_protocol(p) is p
    with pytest.raises(ConfigError, match="kitti-eigen, kitti-eigen-crop, nyu, none"):
        get_protocol("eigen")


def test_garg_crop_kitti_375x1242() -> None:
    # 0.40810811*375 = 153.04 -> 153; 0.99189189*375 = 371.96 -> 371
    # 0.03594771*1242 = 44.65 -> 44;  0.96405229*1242 = 1197.35 -> 1197
    p = get_protocol("kitti-eigen")
    assert p.crop_bounds(375, 1242) == (153, 371, 44, 1197)
    mask = p.valid_mask(np.full((375, 1242), 10.0, dtype=np.float32))
    assert _block_only(mask, 153, 371, 44, 1197)
    assert int(mask.sum()) == 218 * 1153


def test_garg_crop_truncates_like_monodepth2() -> None:
    # 370x1224: 0.99189189*370 = 366.9999993 -> 366 (not 367); 0.03594771*1224 = 43.999997 -> 43;
    # 0.40810811*370 = 151.0000007 -> 151; 0.96405229*1224 = 1180.000003 -> 1180
    assert get_protocol("kitti-eigen").crop_bounds(370, 1224) == (151, 366, 43, 1180)


def test_eigen_crop_kitti() -> None:
    # 0.3324324*375 = 124.66 -> 124; 0.91351351*375 = 342.57 -> 342; cols as the Garg crop
    p = get_protocol("kitti-eigen-crop")
    assert p.crop_bounds(375, 1242) == (124, 342, 44, 1197)
    mask = p.valid_mask(torch.full((375, 1242), 10.0))
    assert isinstance(mask, torch.Tensor)
    assert _block_only(mask.numpy(), 124, 342, 44, 1197)


def test_nyu_crop_480x640() -> None:
    p = get_protocol("nyu")
    mask = p.valid_mask(np.full((480, 640), 3.0))
    assert _block_only(mask, 45, 471, 41, 601)
    assert int(mask.sum()) == 426 * 560


def test_nyu_crop_scaled_for_same_aspect_with_warning(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger("litedepth"), "propagate", True)  # the CLI may turn it off
    protocols._scaled_pixel_crop.cache_clear()  # the warning is logged once per size
    p = get_protocol("nyu")
    with caplog.at_level(logging.WARNING, logger="litedepth.metrics.protocols"):
        # half size: 22.5 -> 23, 235.5 -> 236, 20.5 -> 21, 300.5 -> 301 (round half up)
        assert p.crop_bounds(240, 320) == (23, 236, 21, 301)
    assert "240x320" in caplog.text and "480x640" in caplog.text
    assert p.crop_bounds(960, 1280) == (90, 942, 82, 1202)  # exactly doubled


def test_nyu_crop_other_aspect_is_an_error() -> None:
    p = get_protocol("nyu")
    with pytest.raises(DataError, match=r"gt_0001\.png.*426x560.*480x640"):
        p.valid_mask(np.full((426, 560), 3.0), name="gt_0001.png")


@pytest.mark.parametrize(
    ("name", "values", "expected"),
    [
        # exclusive bounds 1e-3 < gt < 80
        ("kitti-eigen", [0.0, 1e-3, 0.0011, 79.99, 80.0, 100.0], [0, 0, 1, 1, 0, 0]),
        # exclusive bounds 1e-3 < gt < 10
        ("nyu", [0.0, 1e-3, 0.5, 9.99, 10.0, 12.0], [0, 0, 1, 1, 0, 0]),
        # gt > 0 and finite
        ("none", [0.0, -1.0, 1e-9, 5.0, 1e6, float("nan"), float("inf")], [0, 0, 1, 1, 1, 0, 0]),
    ],
)
def test_depth_range_masks(name: str, values: list[float], expected: list[int]) -> None:
    proto = dataclasses.replace(get_protocol(name), crop=None)  # range only
    gt = np.array([values], dtype=np.float64)
    assert proto.valid_mask(gt)[0].astype(int).tolist() == expected
    assert proto.valid_mask(torch.from_numpy(gt))[0].int().tolist() == expected


def test_clamp() -> None:
    kitti = get_protocol("kitti-eigen")
    assert kitti.clamp(np.array([0.0, 1e-4, 5.0, 100.0])).tolist() == [1e-3, 1e-3, 5.0, 80.0]
    assert kitti.clamp(torch.tensor([0.0, 5.0, 100.0], dtype=torch.float64)).tolist() == [1e-3, 5.0, 80.0]
    assert get_protocol("nyu").clamp(np.array([11.0]))[0] == 10.0
    none = get_protocol("none").clamp(np.array([-1.0, 0.5, np.inf]))
    assert none.tolist() == [1e-6, 0.5, np.finfo(np.float64).max]
