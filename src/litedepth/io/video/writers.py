"""Video and image-sequence writers, atomic (see :mod:`litedepth.io.video`)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.io.video import encoders
from litedepth.io.video.encoders import FOURCC, H264_SUFFIXES, OpenCVBackend, PyAVBackend
from litedepth.utils.atomic import default_file_mode

log = logging.getLogger(__name__)

__all__ = ["ImageSequenceWriter", "VideoWriter"]


def _as_rgb_uint8(image: np.ndarray, where: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise DataError(None, f"{where}: expected an (H, W, 3) RGB image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise DataError(None, f"{where}: expected uint8 pixels, got {arr.dtype}")
    return np.ascontiguousarray(arr[..., :3])


class _FrameWriter(ABC):
    """Shared context-manager protocol of the writers."""

    @abstractmethod
    def write(self, rgb: np.ndarray) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def abort(self) -> None: ...

    def __enter__(self):  # noqa: ANN204
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if et is None:
            self.close()
        else:
            self.abort()



class VideoWriter(_FrameWriter):
    """Write RGB frames to a video file, atomically (temporary file renamed on close).

    The container follows the suffix: ``.mp4`` / ``.m4v`` / ``.mov`` / ``.mkv`` hold H.264
    (4:2:0, written by PyAV with :func:`h264_encoder`; an odd width or height is padded by one
    edge pixel, as 4:2:0 needs even sizes); without an H.264 encoder they hold MPEG-4 Part 2
    (``mp4v``, OpenCV) and a warning says so. ``.avi`` holds Motion JPEG (OpenCV). Frames of
    another size than the video's are resized (with one warning).

    Args:
        path: destination file; its folder is created.
        fps: frame rate, > 0.
        size: ``(width, height)`` in pixels; default: the first frame's.

    Attributes:
        frames_written: number of frames written so far.
        codec: ``"h264"``, ``"mp4v"`` or ``"mjpeg"`` once the first frame is written, else ``None``.
        encoder: the encoder behind it (``"libx264"``, ``"libopenh264"``, ``"opencv"``).

    Raises:
        ConfigError: unsupported suffix or a non-positive fps.
        DataError: no encoder can be opened for the file.

    Example:
        >>> with VideoWriter("out.mp4", fps=10) as w:  # doctest: +SKIP
        ...     w.write(np.zeros((96, 128, 3), np.uint8))
    """

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in FOURCC:
            raise ConfigError(f"{self.path}: unsupported video suffix {suffix!r}; use one of {', '.join(FOURCC)}")
        if not fps or not float(fps) > 0:
            raise ConfigError(f"{self.path}: fps must be positive, got {fps}")
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.frames_written = 0
        self.codec: str | None = None
        self.encoder: str | None = None
        self._backend: PyAVBackend | OpenCVBackend | None = None
        self._tmp: Path | None = None
        self._warned_resize = False
        self._closed = False

    def _open_backend(self, width: int, height: int) -> PyAVBackend | OpenCVBackend:
        assert self._tmp is not None
        suffix = self.path.suffix.lower()
        if suffix in H264_SUFFIXES:
            encoder, why_not = encoders.find_h264()
            if encoder is not None:
                backend = PyAVBackend(self._tmp, encoder, self.fps, width, height, suffix)
                if (backend.width, backend.height) != (width, height):
                    log.info("%s: %dx%d frames padded to %dx%d (H.264 4:2:0 needs even sizes)", self.path,
                             width, height, backend.width, backend.height)
                self.codec, self.encoder = "h264", encoder
                return backend
            log.warning("%s: %s; writing MPEG-4 Part 2 (mp4v) instead, which most web browsers do not play",
                        self.path, why_not)
        fourcc = FOURCC[suffix]
        backend = OpenCVBackend(self._tmp, fourcc, self.fps, width, height)
        self.codec, self.encoder = ("mjpeg" if fourcc == "MJPG" else fourcc), "opencv"
        return backend

    def _start(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}.", suffix=self.path.suffix, dir=self.path.parent)
        os.close(fd)
        self._tmp = Path(tmp)
        try:
            self._backend = self._open_backend(width, height)
        except BaseException:
            self.abort()
            raise
        self.size = (width, height)

    def write(self, rgb: np.ndarray) -> None:
        """Append one ``(H, W, 3)`` uint8 RGB frame (or ``(H, W)`` grey)."""
        import cv2

        if self._closed:
            raise DataError(self.path, "write after close")
        arr = _as_rgb_uint8(rgb, str(self.path))
        if self._backend is None:
            w, h = self.size or (arr.shape[1], arr.shape[0])
            self._start(w, h)
        assert self.size is not None and self._backend is not None
        if (arr.shape[1], arr.shape[0]) != self.size:
            if not self._warned_resize:
                log.warning("%s: frame of %dx%d resized to the video's %dx%d", self.path,
                            arr.shape[1], arr.shape[0], *self.size)
                self._warned_resize = True
            arr = cv2.resize(arr, self.size, interpolation=cv2.INTER_AREA)
        self._backend.write(arr)
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file and rename it into place (no file at all when nothing was written)."""
        if self._closed:
            return
        self._closed = True
        if self._backend is None:
            log.warning("%s: no frames were written; no video file created", self.path)
            return
        backend, self._backend = self._backend, None
        try:
            backend.close()
        except BaseException:
            self._discard_tmp()
            raise
        assert self._tmp is not None
        with open(self._tmp, "rb") as f:
            os.fsync(f.fileno())
        os.chmod(self._tmp, default_file_mode())  # mkstemp makes 0600; give the usual permissions
        os.replace(self._tmp, self.path)
        self._tmp = None

    def abort(self) -> None:
        """Discard the temporary file; the destination is left untouched."""
        self._closed = True
        if self._backend is not None:
            self._backend.abort()
            self._backend = None
        self._discard_tmp()

    def _discard_tmp(self) -> None:
        if self._tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                self._tmp.unlink()
            self._tmp = None


class ImageSequenceWriter(_FrameWriter):
    """Write RGB frames as numbered image files (each written atomically) into a folder.

    Args:
        folder: destination folder (created).
        pattern: file name with one ``{}`` field for the frame number, e.g.
            ``"frame_{:06d}.png"`` (the suffix picks the format: PNG, JPEG, ...).
        start: number of the first frame.

    Attributes:
        frames_written: number of frames written so far.
    """

    def __init__(self, folder: str | Path, pattern: str = "frame_{:06d}.png", start: int = 0) -> None:
        self.folder = Path(folder)
        if "{" not in pattern:
            raise ConfigError(f"image pattern needs a '{{}}' field for the frame number, got {pattern!r}")
        self.pattern = pattern
        self.next_number = int(start)
        self.frames_written = 0

    def write(self, rgb: np.ndarray, number: int | None = None) -> Path:
        """Write one frame (as ``number``, default the next) and return its path."""
        from PIL import Image

        from litedepth.utils.atomic import atomic_open

        arr = _as_rgb_uint8(rgb, str(self.folder))
        n = self.next_number if number is None else int(number)
        path = self.folder / self.pattern.format(n)
        fmt = Image.registered_extensions().get(path.suffix.lower())
        if fmt is None:
            raise ConfigError(f"{path}: unknown image suffix {path.suffix!r}")
        with atomic_open(path, "wb") as f:
            Image.fromarray(arr).save(f, format=fmt)
        self.next_number = n + 1
        self.frames_written += 1
        return path

    def close(self) -> None:
        """Nothing to finish (every file is complete when written)."""

    def abort(self) -> None:
        """Files already written stay (each is complete)."""
