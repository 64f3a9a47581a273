"""The web demo's examples, downloads and depth videos, without a browser or Gradio: every
file says what it holds and reads back to what the service predicted."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from litedepth.apps.serve import DepthService, ServeResult, UploadLimits, default_sources
from litedepth.apps.serve.media import EXAMPLE_SIZE, make_examples, predict_video_file, safe_stem, write_downloads
from litedepth.errors import ConfigError, DataError

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def examples(tmp_path_factory):
    return make_examples(tmp_path_factory.mktemp("examples"))


@pytest.fixture(scope="module")
def service():
    return DepthService(default_sources(["lite-mono-tiny", "deeplabv3-mobilenet-v3-large"]), input_size=(32, 48),
                        device="cpu", limits=UploadLimits(max_video_frames=10))


def test_examples_are_synthetic_scenes_the_same_at_every_start(examples, tmp_path):
    from litedepth.io.video import VideoFileSource

    assert [p.name for p in examples.images] == ["synthetic_room.png", "synthetic_street.png",
                                                 "synthetic_corridor.png"]
    for path in examples.images:
        with Image.open(path) as im:
            assert im.size == EXAMPLE_SIZE[::-1] and im.mode == "RGB"
            assert np.asarray(im).std() > 10  # a rendered scene, not a blank
    again = make_examples(tmp_path, video_frames=0)
    assert [p.read_bytes() for p in again.images] == [p.read_bytes() for p in examples.images]
    assert again.video is None
    with VideoFileSource(examples.video) as src:
        assert src.frame_count == 24 and src.fps == pytest.approx(8.0)


def test_untrained_networks_are_the_same_at_every_start():
    rgb = np.random.default_rng(0).integers(0, 256, (24, 36, 3), dtype=np.uint8)
    a = DepthService(default_sources(["lite-mono-tiny"]), input_size=(32, 48), device="cpu").predict(rgb)
    b = DepthService(default_sources(["lite-mono-tiny"]), input_size=(32, 48), device="cpu").predict(rgb)
    np.testing.assert_array_equal(a.depth, b.depth)
    assert a.untrained and "UNTRAINED" in a.summary


def _png_text(path) -> dict:
    with Image.open(path) as im:
        return json.loads(im.text["litedepth"])


def test_metric_downloads_read_back_as_the_prediction(service, examples, tmp_path):
    from litedepth.geometry.intrinsics import Intrinsics
    from litedepth.inference.gltf import read_glb
    from litedepth.inference.pointcloud import read_ply
    from litedepth.io.depth_encodings import decode_depth
    from litedepth.utils.arrays import load_npy

    rgb = np.asarray(Image.open(examples.images[0]).convert("RGB"))
    r = service.predict(rgb, "deeplabv3-mobilenet-v3-large")
    assert r.metric and r.quantity == "depth" and r.depth_view is not None and r.depth_view.shape[0] >= 240
    files = write_downloads(tmp_path, "room_deeplab", r, rgb, fov_deg=70.0)
    assert [p.name for p in files.files] == ["room_deeplab_depth_metres.npy", "room_deeplab_depth_mm.uint16.png",
                                             "room_deeplab_points_metres.ply"]
    np.testing.assert_array_equal(load_npy(files.npy), r.depth)  # exactly what the page shows
    mm = decode_depth(files.png16, "mm")  # the name's encoding: value / 1000 = metres
    valid = r.depth <= 65.535
    np.testing.assert_allclose(mm[valid], r.depth[valid], atol=0.0005 + 1e-6)
    assert _png_text(files.png16)["encoding"] == "mm"
    points, colours, comments = read_ply(files.ply)
    assert len(points) == int(np.isfinite(r.depth).sum()) and "units metres" in comments
    assert any("fx=" in c and "horizontal field of view 70 deg" in c for c in comments)
    K = Intrinsics.from_fov(rgb.shape[1], rgb.shape[0], 70.0).K
    np.testing.assert_allclose(points[:, 2], r.depth.ravel(), rtol=1e-6)
    np.testing.assert_allclose(points[:, 0], ((np.arange(rgb.shape[1]) - K[0, 2]) * r.depth / K[0, 0]).ravel(),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(colours, rgb.reshape(-1, 3))
    glb_points, glb_colours, faces = read_glb(files.glb)
    assert len(faces) > 0 and glb_colours.shape == glb_points.shape
    assert (glb_points[:, 2] < 0).all()  # in front of the viewer: glTF looks along -z
    assert "metres" in files.note and "value / 1000 = metres" in files.note


def test_relative_downloads_never_say_metres(service, examples, tmp_path):
    from litedepth.inference.pointcloud import read_ply
    from litedepth.utils.arrays import load_npy

    rgb = np.asarray(Image.open(examples.images[1]).convert("RGB"))
    r = service.predict(rgb, "lite-mono-tiny")
    assert not r.metric
    files = write_downloads(tmp_path, "street", r, rgb, fov_deg=60.0)
    names = [p.name for p in files.files]
    assert names[0] == "street_depth_relative.npy" and names[2] == "street_points_relative.ply"
    assert names[1].startswith("street_depth_relative_x") and names[1].endswith(".uint16.png")
    k = float(names[1][len("street_depth_relative_x"):-len(".uint16.png")])
    stored = np.asarray(Image.open(files.png16)).astype(np.float64)
    assert stored.max() <= 65535 and stored.max() > 65535 / 2  # the range is used
    np.testing.assert_allclose(stored / k, load_npy(files.npy), atol=0.5 / k + 1e-7)
    assert _png_text(files.png16)["encoding"] == f"value / {k:g}"
    _, _, comments = read_ply(files.ply)
    assert any(c.startswith("units relative") for c in comments)
    assert "metre" not in files.note.replace("metres", "").lower() and "relative" in files.note
    assert "metres" not in " ".join(names)


def test_relative_disparity_gets_no_point_cloud(tmp_path):
    disparity = np.random.default_rng(0).random((8, 10)).astype(np.float32) + 0.1
    r = ServeResult(np.zeros((8, 10, 3), np.uint8), np.zeros((8, 10, 3), np.uint8), disparity,
                    "relative disparity (no distances: scale and shift unknown)", [], "", 1.0, quantity="disparity")
    files = write_downloads(tmp_path, "x", r, np.zeros((8, 10, 3), np.uint8), fov_deg=60.0)
    assert files.ply is None and files.glb is None and files.npy.name == "x_disparity_relative.npy"
    assert "no point cloud" in files.note


def test_depth_video_of_an_upload_is_h264_and_capped(service, examples, tmp_path):
    import av

    r = predict_video_file(service, examples.video, "lite-mono-tiny", tmp_path)
    assert r.frames == 10 and r.total == 24 and r.codec == "h264"  # capped at max_video_frames
    assert "the first 10 of 24" in r.summary and "UNTRAINED" in r.summary and "metre" not in r.summary
    with av.open(str(r.video)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = list(container.decode(stream))
    assert len(frames) == 10 and frames[0].width == 2 * 128  # input | depth


def test_bad_video_uploads_are_refused_with_the_file_named(service, tmp_path):
    small = DepthService(service.sources, input_size=(32, 48), device="cpu",
                         limits=UploadLimits(max_bytes=2000, max_pixels=1000))
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(DataError, match=r"^empty\.mp4: empty upload"):
        predict_video_file(service, tmp_path / "empty.mp4", None, tmp_path)
    (tmp_path / "page.mp4").write_text("<html>not a video</html>")
    with pytest.raises(DataError, match=r"page\.mp4: cannot decode it as a video"):
        predict_video_file(service, tmp_path / "page.mp4", None, tmp_path)
    (tmp_path / "big.mp4").write_bytes(b"\0" * 3000)
    with pytest.raises(DataError, match=r"^big\.mp4: upload of 0\.0 MB is over the limit"):
        predict_video_file(small, tmp_path / "big.mp4", None, tmp_path)
    from litedepth.io.video import VideoWriter

    with VideoWriter(tmp_path / "wide.mp4", 5) as w:
        w.write(np.zeros((40, 60, 3), np.uint8))
    small = DepthService(service.sources, input_size=(32, 48), device="cpu",
                         limits=UploadLimits(max_pixels=1000))
    with pytest.raises(DataError, match=r"^wide\.mp4: video frames of 60x40 pixels are over the limit"):
        predict_video_file(small, tmp_path / "wide.mp4", None, tmp_path)
    with pytest.raises(ConfigError, match="--max-video-frames"):
        UploadLimits(max_video_frames=0)


def test_safe_stem():
    assert safe_stem("../../etc/passwd") == "passwd"
    assert safe_stem("...") == "image" and safe_stem("a b.png") == "a_b"
