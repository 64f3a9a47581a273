"""Frame sources: the :class:`Frame` schema (see :mod:`litedepth.io.video`) and the camera,
video-file and image-sequence sources behind :func:`open_source`."""

from __future__ import annotations

import contextlib
import glob
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import numpy as np

from litedepth.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "CameraSource",
    "Frame",
    "FrameSource",
    "ImageSequenceSource",
    "VideoFileSource",
    "open_source",
]

#: Suffixes read as images (case-insensitive).
from litedepth.io.images import IMAGE_SUFFIXES as IMAGE_EXTS  # the one list of image suffixes
from litedepth.io.images import folder_images
#: Suffixes read as video files; any other existing file is tried as a video too.
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame read from a :class:`FrameSource`.

    Attributes:
        index: position in reading order, from 0.
        rgb: ``(H, W, 3)`` uint8 RGB image.
        time_s: seconds since the first frame (see the :mod:`litedepth.io.video` docstring).
        name: file stem for image sequences, else ``None``.
    """

    index: int
    rgb: np.ndarray
    time_s: float
    name: str | None = None



class FrameSource(ABC):
    """An iterable of :class:`Frame` with a name, a frame rate and (maybe) a length.

    Attributes:
        name: what is read (path, pattern or ``"camera N"``).
        fps: frames per second, ``None`` when unknown.
        frame_count: number of frames, ``None`` when unknown (cameras; some containers).

    Use as a context manager (or call :meth:`close`) to release the device or file.
    Iterating a file or image source again starts from its first frame.
    """

    name: str
    fps: float | None
    frame_count: int | None

    @abstractmethod
    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None:
        """Release the underlying device or file (idempotent)."""

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, fps={self.fps}, frame_count={self.frame_count})"


class ImageSequenceSource(FrameSource):
    """Frames from image files, in the given order.

    Args:
        paths: image files (read with :func:`litedepth.io.images.read_rgb`).
        name: a description for messages (folder or pattern).
        fps: frame rate for ``time_s`` (``None``: ``time_s = index``).
        skip_bad: log and skip unreadable or corrupt files (listed in :attr:`skipped`);
            default: the first one raises its ``DataError``. Frames keep the index and time
            of their file's position, so the timeline has a gap where a file was skipped.

    Raises:
        DataError: no files; an unreadable file while iterating (without ``skip_bad``).
    """

    def __init__(self, paths: Sequence[str | Path], name: str | None = None, fps: float | None = None,
                 skip_bad: bool = False) -> None:
        self.skip_bad = skip_bad
        self.skipped: list[Path] = []
        self.paths = [Path(p) for p in paths]
        self.name = name or (str(self.paths[0].parent) if self.paths else "images")
        if not self.paths:
            raise DataError(self.name, "no image files found")
        if fps is not None and not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        self.fps = None if fps is None else float(fps)
        self.frame_count = len(self.paths)

    def __iter__(self) -> Iterator[Frame]:
        from litedepth.io.images import read_rgb

        step = 1.0 / self.fps if self.fps else 1.0
        self.skipped = []
        for i, path in enumerate(self.paths):
            try:
                rgb = read_rgb(path)
            except DataError as exc:
                if not self.skip_bad:
                    raise
                self.skipped.append(path)
                log.warning("skipped an unreadable image (%d so far): %s", len(self.skipped), exc)
                continue
            yield Frame(i, rgb, i * step, path.stem)


class _CaptureSource(FrameSource):
    """Shared reading loop of OpenCV captures (BGR -> RGB)."""

    def _open(self):  # noqa: ANN202 - cv2.VideoCapture
        raise NotImplementedError

    def _read(self, cap) -> np.ndarray | None:  # noqa: ANN001
        import cv2

        ok, bgr = cap.read()
        if not ok or bgr is None:
            return None
        if bgr.ndim == 2:
            return np.repeat(bgr[..., None], 3, axis=-1)
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


class VideoFileSource(_CaptureSource):
    """Frames of a video file decoded by OpenCV (FFmpeg).

    Args:
        path: the video file.
        fps: override the container's frame rate (for ``time_s``).

    Raises:
        DataError: missing file, or no decodable frame in it.
    """

    def __init__(self, path: str | Path, fps: float | None = None) -> None:
        import cv2

        self.path = Path(path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise DataError(self.path, "file not found" if not self.path.exists() else "not a regular file")
        cap = cv2.VideoCapture(str(self.path))
        try:
            if not cap.isOpened() or self._read(cap) is None:
                raise DataError(self.path, "cannot decode it as a video (unknown format or corrupt file)")
            native_fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        finally:
            cap.release()
        if fps is not None and not fps > 0:
            raise ConfigError(f"fps must be positive, got {fps}")
        self.fps = float(fps) if fps else (native_fps if 0.0 < native_fps < 1000.0 else None)
        self.frame_count = count if count > 0 else None
        self._cap = None

    def __iter__(self) -> Iterator[Frame]:
        import cv2

        self.close()
        self._cap = cap = cv2.VideoCapture(str(self.path))
        step = 1.0 / self.fps if self.fps else 1.0
        i = 0
        try:
            while (rgb := self._read(cap)) is not None:
                yield Frame(i, rgb, i * step)
                i += 1
        finally:
            self.close()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


@contextlib.contextmanager
def _quiet_opencv() -> Iterator[None]:
    import cv2

    logging_api = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_api is None:
        yield
        return
    before = logging_api.getLogLevel()
    logging_api.setLogLevel(logging_api.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        logging_api.setLogLevel(before)


class CameraSource(_CaptureSource):
    """Frames from a camera by device index (OpenCV; ``time_s`` is wall-clock time).

    Args:
        index: camera index (0 = the default camera).
        fps: override the frame rate the driver reports (informational).

    Raises:
        DataError: the camera cannot be opened or delivers no frame.
    """

    def __init__(self, index: int, fps: float | None = None) -> None:
        import cv2

        self.index = int(index)
        self.name = f"camera {self.index}"
        with _quiet_opencv():  # OpenCV prints backend warnings for absent cameras; our error says it
            self._cap = cv2.VideoCapture(self.index)
        if not self._cap.isOpened():
            self._cap.release()
            raise DataError(self.name, "cannot open the camera (no such device, or it is in use)")
        native_fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = float(fps) if fps else (native_fps if 0.0 < native_fps < 1000.0 else None)
        self.frame_count = None
        self._first = self._read(self._cap)
        if self._first is None:
            self.close()
            raise DataError(self.name, "the camera opened but delivers no frames")

    def __iter__(self) -> Iterator[Frame]:
        if self._cap is None:
            raise DataError(self.name, "the camera was closed")
        t0 = time.monotonic()
        i = 0
        rgb = self._first
        self._first = None
        while self._cap is not None:
            if rgb is None:
                rgb = self._read(self._cap)
                if rgb is None:
                    log.warning("%s: no more frames", self.name)
                    return
            yield Frame(i, rgb, time.monotonic() - t0 if i else 0.0)
            i += 1
            rgb = None

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def open_source(source: str | int | Path, fps: float | None = None, skip_bad: bool = False) -> FrameSource:
    """Open a camera, a video file, an image folder or an image glob as a :class:`FrameSource`.

    Args:
        source: an int or a digit string (``0``, ``"0"``) = camera index; an existing folder =
            its image files (sorted by name, not recursive); an existing file = an image (a
            one-frame sequence) or a video; otherwise a glob pattern of images
            (``"frames/*.png"``).
        fps: frame rate for image sequences (``time_s = index / fps``), or an override of a
            video's / camera's reported rate.
        skip_bad: image folders and globs skip unreadable files (see
            :class:`ImageSequenceSource`); no effect on videos and cameras.

    Raises:
        DataError: a missing path, an empty folder, an unmatched glob, an undecodable
            video or a camera that cannot be opened.

    Example:
        >>> with open_source("frames/", fps=10) as src:  # doctest: +SKIP
        ...     for frame in src:
        ...         print(frame.index, frame.time_s, frame.rgb.shape)
    """
    if isinstance(source, bool):
        raise ConfigError(f"not a frame source: {source!r}")
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        return CameraSource(int(source), fps=fps)
    path = Path(source)
    if path.is_dir():
        images = folder_images(path)
        if not images:
            raise DataError(path, f"folder holds no image files ({', '.join(IMAGE_EXTS)})")
        return ImageSequenceSource(images, name=str(path), fps=fps, skip_bad=skip_bad)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTS:
            return ImageSequenceSource([path], name=str(path), fps=fps)
        return VideoFileSource(path, fps=fps)
    pattern = str(source)
    if any(c in pattern for c in "*?["):
        matches = [Path(m) for m in sorted(glob.glob(pattern)) if Path(m).suffix.lower() in IMAGE_EXTS]
        if not matches:
            raise DataError(pattern, "no image files match this pattern")
        return ImageSequenceSource(matches, name=pattern, fps=fps, skip_bad=skip_bad)
    raise DataError(path, "no such camera index, video file, image folder or glob pattern")

