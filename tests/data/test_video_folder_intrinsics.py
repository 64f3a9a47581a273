"""Finding 3 of issue 11: a video folder's normalised intrinsics are never taken as pixels."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from litedepth.data.video_folder import VideoFolderDataset
from litedepth.errors import DataError

H, W = 24, 80  # frames (KITTI-like aspect)


def _clip(root, intrinsics):
    seq = root / "clip"
    seq.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(seq / f"{i:06d}.png")
    (root / "intrinsics.json").write_text(json.dumps(intrinsics))
    return root


def test_normalised_values_without_the_flag_fail_in_one_line(tmp_path):
    root = _clip(tmp_path, {"fx": 0.58, "fy": 1.92, "cx": 0.5, "cy": 0.5})
    with pytest.raises(DataError) as err:
        VideoFolderDataset(root)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(root / "intrinsics.json"))
    assert "fx = 0.58 px" in msg and '"normalised": true' in msg


def test_the_same_values_with_the_flag_train_with_pixels_of_the_frames(tmp_path):
    root = _clip(tmp_path, {"fx": 0.58, "fy": 1.92, "cx": 0.5, "cy": 0.5, "normalised": True})
    K = VideoFolderDataset(root).K["clip"]
    np.testing.assert_allclose(K, [[0.58 * W, 0, 0.5 * W], [0, 1.92 * H, 0.5 * H], [0, 0, 1]])


def test_monodepth2_bare_normalised_matrix(tmp_path):
    root = _clip(tmp_path, [[0.58, 0, 0.5, 0], [0, 1.92, 0.5, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    with pytest.raises(DataError, match="does not say whether it is in pixels or normalised"):
        VideoFolderDataset(root)
    K = VideoFolderDataset(root, intrinsics_convention="normalised").K["clip"]
    np.testing.assert_allclose(K[0], [0.58 * W, 0, 0.5 * W])
