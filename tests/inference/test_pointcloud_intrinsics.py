"""Finding 3 of issue 11 for ``predict --pointcloud``: normalised intrinsics given as pixels are
refused in one line; ``--intrinsics-file`` reads Monodepth2's bare normalised matrix."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import ConfigError
from litedepth.inference.pointcloud import pointcloud_camera, read_ply

H, W = 24, 80


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("in")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (H, W, 3), dtype=np.uint8)).save(folder / "road.png")
    return folder


def _predict(image_dir, out, *extra):
    import torch

    torch.manual_seed(0)
    return main(["predict", str(image_dir), "--model", "deeplabv3-mobilenet-v3-large", "--size", "32", "32",
                 "--output", str(out), "--formats", "npy", "--device", "cpu", "--pointcloud", *extra])


def test_normalised_numbers_as_pixels_fail_in_one_line(image_dir, tmp_path, capsys):
    rc = _predict(image_dir, tmp_path / "o", "--intrinsics", "0.58", "1.92", "0.5", "0.5")
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "--intrinsics: fx = 0.58 px" in err and "normalised" in err
    assert not (tmp_path / "o" / "road.ply").exists()


def test_intrinsics_file_with_a_bare_normalised_matrix(image_dir, tmp_path):
    k = tmp_path / "intrinsics.json"
    k.write_text(json.dumps([[0.58, 0, 0.5], [0, 1.92, 0.5], [0, 0, 1]]))  # Monodepth2 / ManyDepth layout
    assert _predict(image_dir, tmp_path / "o", "--intrinsics-file", str(k), "--intrinsics-convention",
                    "normalised") == 0
    points, _, comments = read_ply(tmp_path / "o" / "road.ply")
    # pixels at the image edges see x / z = (0 - 0.5 W) / (0.58 W) .. (W - 1 - 0.5 W) / (0.58 W): about +-0.86
    ratio = points[:, 0] / points[:, 2]
    assert ratio.min() == pytest.approx(-0.5 / 0.58, rel=1e-4)
    assert ratio.max() == pytest.approx((W - 1 - 0.5 * W) / (0.58 * W), rel=1e-4)
    assert any("normalised intrinsics from" in c and f"fx={0.58 * W:.6g}" in c for c in comments)
    meta = json.loads((tmp_path / "o" / "predictions.json").read_text())["pointcloud"]
    assert meta["convention"] == "normalised" and meta["intrinsics"]["fx"] == 0.58 and meta["source"] == str(k)


def test_camera_options():
    with pytest.raises(ConfigError, match="either --intrinsics or --fov"):
        pointcloud_camera([1, 1, 1, 1], fov_deg=70)
    cam = pointcloud_camera([0.58, 1.92, 0.5, 0.5], convention="normalised")
    assert cam.for_image(192, 640).fx == pytest.approx(371.2)
    assert pointcloud_camera(fov_deg=90).for_image(480, 640).cx == 320.0
    with pytest.raises(ConfigError, match="field of view"):
        pointcloud_camera(fov_deg=190)
