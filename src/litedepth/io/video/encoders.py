"""The encoders behind :class:`~litedepth.io.video.writers.VideoWriter`: H.264 through PyAV
(:func:`h264_encoder` says which one is found) and OpenCV's ``VideoWriter`` (``mp4v``, Motion JPEG)."""

from __future__ import annotations

import contextlib
import functools
import logging
from fractions import Fraction
from pathlib import Path

import numpy as np

from litedepth.errors import DataError

log = logging.getLogger(__name__)

__all__ = ["h264_encoder"]

#: Containers written as H.264 through PyAV (OpenCV's pip wheels have no H.264 encoder).
H264_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
#: OpenCV FourCC per container: ``.avi`` always, the others when H.264 is unavailable.
FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
#: H.264 encoders tried in order (PyAV's wheels ship libx264; some FFmpeg builds only OpenH264).
_H264_ENCODERS = ("libx264", "libopenh264")


@functools.lru_cache(maxsize=1)
def find_h264() -> tuple[str | None, str]:
    """``(encoder name, "")`` of the first H.264 encoder PyAV can open, or ``(None, why not)``."""
    try:
        import av
    except ImportError:
        return None, "PyAV is not installed (pip install av)"
    for name in _H264_ENCODERS:
        try:
            ctx = av.CodecContext.create(name, "w")
            ctx.width, ctx.height, ctx.pix_fmt = 64, 64, "yuv420p"
            ctx.time_base = Fraction(1, 25)
            ctx.open()  # a listed encoder can still fail to open (a missing OpenH264 library)
            return name, ""
        except Exception as exc:  # noqa: BLE001 - any failure means: try the next encoder
            log.debug("H.264 encoder %s unavailable: %s", name, exc)
    return None, f"PyAV {av.__version__} has no working H.264 encoder ({' or '.join(_H264_ENCODERS)})"


def h264_encoder() -> str | None:
    """Name of the H.264 encoder :class:`VideoWriter` uses (``"libx264"`` or ``"libopenh264"``),
    or ``None`` when PyAV or an H.264 encoder is missing (the writer then falls back to ``mp4v``).

    Checked once per process by opening the encoder on a 64 x 64 frame.
    """
    return find_h264()[0]


class PyAVBackend:
    """H.264 (4:2:0) through PyAV into an MP4 / MOV / MKV container."""

    def __init__(self, path: Path, encoder: str, fps: float, width: int, height: int, fmt: str | None) -> None:
        import av

        # x264 / OpenH264 need even sizes in 4:2:0: odd sizes are padded by one edge pixel
        self.width, self.height = width + width % 2, height + height % 2
        container_options = {"movflags": "+faststart"} if fmt in (".mp4", ".m4v", ".mov") else {}
        self._container = av.open(str(path), "w", container_options=container_options)
        try:
            self._stream = self._container.add_stream(encoder, rate=Fraction(fps).limit_denominator(100000))
            self._stream.width, self._stream.height, self._stream.pix_fmt = self.width, self.height, "yuv420p"
            if encoder == "libx264":
                # CRF 20: visually lossless for depth colour maps; "veryfast" keeps up with a camera
                self._stream.options = {"crf": "20", "preset": "veryfast"}
            else:  # OpenH264 has no quality mode: about 0.2 bits per pixel
                self._stream.bit_rate = max(200_000, int(0.2 * self.width * self.height * fps))
        except BaseException:
            self._container.close()
            raise
        self._pts = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        pad_h, pad_w = self.height - rgb.shape[0], self.width - rgb.shape[1]
        if pad_h or pad_w:
            rgb = np.pad(rgb, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = self._pts
        self._pts += 1
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self._stream.encode():  # flush the encoder's delayed frames
                self._container.mux(packet)
        finally:
            self._container.close()

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._container.close()


class OpenCVBackend:
    """OpenCV's ``VideoWriter`` (MPEG-4 Part 2 ``mp4v`` or Motion JPEG)."""

    def __init__(self, path: Path, fourcc: str, fps: float, width: int, height: int) -> None:
        import cv2

        self._writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
        if not self._writer.isOpened():
            raise DataError(path, f"OpenCV cannot open a {fourcc} encoder for it")

    def write(self, rgb: np.ndarray) -> None:
        import cv2

        self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))

    def close(self) -> None:
        self._writer.release()

    abort = close

