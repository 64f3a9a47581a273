"""Frame sources and writers: round trips, timestamps, atomic writes, clear errors."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from PIL import Image

from litedepth.errors import ConfigError, DataError
from litedepth.io.video import encoders as video_encoders
from litedepth.io.video import (
    CameraSource,
    ImageSequenceSource,
    ImageSequenceWriter,
    VideoFileSource,
    VideoWriter,
    h264_encoder,
    open_source,
)
from tests.helpers import probe_video

H, W = 96, 128


def _frames(n: int = 5) -> list[np.ndarray]:
    """Smooth, distinct frames (lossy codecs keep them close)."""
    yy, xx = np.mgrid[0:H, 0:W]
    out = []
    for i in range(n):
        r = (xx * 2 + 20 * i) % 256
        g = (yy * 2) % 256
        b = np.full_like(xx, 40 * i % 256)
        out.append(np.stack([r, g, b], -1).astype(np.uint8))
    return out


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_video_round_trip(tmp_path, suffix):
    frames = _frames(5)
    path = tmp_path / f"clip{suffix}"
    with VideoWriter(path, fps=12.5) as w:
        for f in frames:
            w.write(f)
    assert w.frames_written == 5 and w.size == (W, H)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left
    with open_source(str(path)) as src:
        assert isinstance(src, VideoFileSource)
        assert src.fps == pytest.approx(12.5)
        assert src.frame_count == 5
        got = list(src)
    assert [f.index for f in got] == list(range(5))
    assert [f.time_s for f in got] == pytest.approx([i / 12.5 for i in range(5)])
    for f, ref in zip(got, frames):
        assert f.rgb.shape == (H, W, 3) and f.rgb.dtype == np.uint8
        assert np.abs(f.rgb.astype(int) - ref).mean() < 12  # lossy, but the same picture (RGB order kept)
    # iterating again starts from the first frame
    with open_source(path) as src:
        assert len(list(src)) == len(list(src)) == 5


def test_mp4_is_h264_that_decodes_with_its_frames(tmp_path):
    """Browsers play H.264 in MP4: the file declares it (avc1) and decodes to the frames written."""
    assert h264_encoder() in ("libx264", "libopenh264")  # PyAV (a dependency) ships an H.264 encoder
    frames = _frames(7)
    path = tmp_path / "clip.mp4"
    with VideoWriter(path, fps=12.5) as w:
        for f in frames:
            w.write(f)
    assert (w.codec, w.encoder) == ("h264", h264_encoder())
    codec, tag, rate, got = probe_video(path)
    assert (codec, tag) == ("h264", "avc1") and rate == pytest.approx(12.5)
    assert len(got) == 7 and all(g.shape == (H, W, 3) for g in got)
    errors = [np.abs(g.astype(int) - f).mean() for g, f in zip(got, frames)]
    assert max(errors) < 4, errors  # lossy, but close (the frames differ from each other by ~20)
    # each decoded frame is nearest to the frame written at its position (order kept)
    assert all(int(np.argmin([np.abs(g.astype(int) - f).mean() for f in frames])) == i for i, g in enumerate(got))


def test_h264_pads_odd_sizes_by_one_edge_pixel(tmp_path):
    frames = [f[:47, :33] for f in _frames(3)]
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, fps=10) as w:
        for f in frames:
            w.write(f)
    assert w.size == (33, 47)  # the frames' size; the encoded picture is one pixel larger
    codec, _, _, got = probe_video(path)
    assert codec == "h264" and [g.shape for g in got] == [(48, 34, 3)] * 3
    assert np.abs(got[1][:47, :33].astype(int) - frames[1]).mean() < 4
    assert np.abs(got[1][47, :33].astype(int) - frames[1][46]).mean() < 8  # the padding repeats the edge


def test_without_h264_the_writer_falls_back_to_mp4v_with_a_warning(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(video_encoders, "find_h264", lambda: (None, "PyAV is not installed (pip install av)"))
    path = tmp_path / "fallback.mp4"
    with caplog.at_level(logging.WARNING, logger="litedepth.io.video"), VideoWriter(path, fps=10) as w:
        for f in _frames(3):
            w.write(f)
    assert (w.codec, w.encoder) == ("mp4v", "opencv")
    assert "pip install av" in caplog.text and "mp4v" in caplog.text and "browsers" in caplog.text
    codec, tag, _, got = probe_video(path)
    assert (codec, tag) == ("mpeg4", "mp4v") and len(got) == 3
    assert np.abs(got[0].astype(int) - _frames(1)[0]).mean() < 12


def test_video_writer_is_atomic_and_aborts(tmp_path):
    path = tmp_path / "out.mp4"
    w = VideoWriter(path, fps=10)
    w.write(_frames(1)[0])
    assert not path.exists()  # only the temporary file exists while writing
    assert len(list(tmp_path.iterdir())) == 1
    w.close()
    assert path.is_file()
    before = path.read_bytes()
    with pytest.raises(RuntimeError):
        with VideoWriter(path, fps=10) as w2:
            w2.write(_frames(1)[0])
            raise RuntimeError("boom")
    assert path.read_bytes() == before  # the old file survives, the temporary one is gone
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_video_writer_resizes_and_validates(tmp_path):
    with VideoWriter(tmp_path / "a.mp4", fps=5, size=(64, 48)) as w:
        w.write(_frames(1)[0])  # 128x96 -> 64x48
        w.write(_frames(1)[0][..., 0])  # grey accepted
    with open_source(tmp_path / "a.mp4") as src:
        assert [f.rgb.shape for f in src] == [(48, 64, 3)] * 2
    with pytest.raises(ConfigError, match="suffix"):
        VideoWriter(tmp_path / "a.gif", fps=5)
    with pytest.raises(ConfigError, match="fps"):
        VideoWriter(tmp_path / "a.mp4", fps=0)
    with pytest.raises(DataError, match="uint8"):
        VideoWriter(tmp_path / "b.mp4", fps=5).write(np.zeros((4, 4, 3), np.float32))
    empty = VideoWriter(tmp_path / "empty.mp4", fps=5)
    empty.close()
    assert not (tmp_path / "empty.mp4").exists()


def test_image_folder_glob_and_single_image(tmp_path):
    folder = tmp_path / "frames"
    writer = ImageSequenceWriter(folder, "f_{:03d}.png")
    for f in _frames(3):
        writer.write(f)
    Image.fromarray(_frames(1)[0][..., 0]).save(folder / "f_003.png")  # greyscale frame
    (folder / "notes.txt").write_text("ignored")
    with open_source(folder, fps=4) as src:
        assert isinstance(src, ImageSequenceSource)
        assert src.frame_count == 4 and src.fps == 4
        got = list(src)
    assert [f.name for f in got] == ["f_000", "f_001", "f_002", "f_003"]
    assert [f.time_s for f in got] == [0.0, 0.25, 0.5, 0.75]
    np.testing.assert_array_equal(got[1].rgb, _frames(3)[1])  # PNG is lossless
    assert got[3].rgb.shape == (H, W, 3)
    with open_source(str(folder / "f_00[12].png")) as src:
        assert [f.name for f in src] == ["f_001", "f_002"]
    with open_source(folder / "f_002.png") as src:
        (only,) = list(src)
    assert only.index == 0 and only.time_s == 0.0 and src.fps is None


def test_clear_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        open_source(tmp_path / "empty")
    with pytest.raises(DataError, match="no such"):
        open_source(tmp_path / "missing.mp4")
    with pytest.raises(DataError, match="match"):
        open_source(str(tmp_path / "*.png"))
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(DataError, match="cannot decode"):
        open_source(bad)
    with pytest.raises(DataError, match="camera 97"):
        CameraSource(97)
    with pytest.raises(DataError, match="camera 97"):
        open_source("97")
