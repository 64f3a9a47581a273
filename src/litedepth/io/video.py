"""Frame sources (camera, video file, image folder / glob) and video / image-sequence writers.

Every source yields :class:`Frame` objects of one schema, whatever it reads:

==========  ======================  ======================================================
field       type / shape            meaning
==========  ======================  ======================================================
``index``   int                     0, 1, 2, ... in reading order
``rgb``     uint8 ``(H, W, 3)``     RGB (greyscale images are repeated on three channels)
``time_s``  float                   seconds since the first frame: ``index / fps`` for
                                    video files (the container's timestamp when it has
                                    one) and image sequences; monotonic wall-clock time
                                    since the first frame for cameras
``name``    str or None             file stem for image sequences, ``None`` otherwise
==========  ======================  ======================================================

Image sequences have no frame rate of their own: pass ``fps`` to :func:`open_source`; without
it ``source.fps`` is ``None`` and ``time_s`` is the frame index (one frame per second).

Video files are written as **H.264** (``avc1``, 4:2:0, what web browsers play) through PyAV,
whose wheels bundle FFmpeg with libx264; without PyAV or an H.264 encoder the writer falls
back to OpenCV's MPEG-4 Part 2 (``mp4v``) with a warning (most browsers do not play that).
``.avi`` files are Motion JPEG (OpenCV). :func:`h264_encoder` says which encoder is used.

Writers write to a temporary file beside the destination and rename it over the destination
when closed (:func:`os.replace`), so a reader never sees a half-written video; a writer closed
by an exception discards its temporary file.

Example:
    >>> from litedepth.io.video import VideoWriter, open_source
    >>> with open_source("clip.mp4") as src, VideoWriter("out.mp4", fps=src.fps or 10) as out:  # doctest: +SKIP
    ...     for frame in src:
    ...         out.write(255 - frame.rgb)
"""

from __future__ import annotations

import contextlib
import functools
import glob
import logging
import os
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.utils.atomic import default_file_mode

log = logging.getLogger(__name__)

__all__ = [
    "IMAGE_EXTS",
    "VIDEO_EXTS",
    "CameraSource",
    "Frame",
    "FrameSource",
    "ImageSequenceSource",
    "ImageSequenceWriter",
    "VideoFileSource",
    "VideoWriter",
    "h264_encoder",
    "open_source",
]

#: Suffixes read as images (case-insensitive).
from litedepth.io.images import IMAGE_SUFFIXES as IMAGE_EXTS  # noqa: E402  (the one list, io.images)
#: Suffixes read as video files; any other existing file is tried as a video too.
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv")
#: Containers written as H.264 through PyAV (OpenCV's pip wheels have no H.264 encoder).
_H264_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv")
#: OpenCV FourCC per container: ``.avi`` always, the others when H.264 is unavailable.
_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".mkv": "mp4v", ".avi": "MJPG"}
#: H.264 encoders tried in order (PyAV's wheels ship libx264; some FFmpeg builds only OpenH264).
_H264_ENCODERS = ("libx264", "libopenh264")


@dataclass(frozen=True, eq=False)
class Frame:
    """One frame read from a :class:`FrameSource`.

    Attributes:
        index: position in reading order, from 0.
        rgb: ``(H, W, 3)`` uint8 RGB image.
        time_s: seconds since the first frame (see the module docstring).
        name: file stem for image sequences, else ``None``.
    """

    index: int
    rgb: np.ndarray
    time_s: float
    name: str | None = None


def _as_rgb_uint8(image: np.ndarray, where: str) -> np.ndarray:
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise DataError(None, f"{where}: expected an (H, W, 3) RGB image, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise DataError(None, f"{where}: expected uint8 pixels, got {arr.dtype}")
    return np.ascontiguousarray(arr[..., :3])


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


def _folder_images(folder: Path) -> list[Path]:
    return [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix.lower() in IMAGE_EXTS]


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
        images = _folder_images(path)
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


# --------------------------------------------------------------------------------------------
# writers
# --------------------------------------------------------------------------------------------


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


@functools.lru_cache(maxsize=1)
def _find_h264() -> tuple[str | None, str]:
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
    return _find_h264()[0]


class _PyAVBackend:
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


class _OpenCVBackend:
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
        if suffix not in _FOURCC:
            raise ConfigError(f"{self.path}: unsupported video suffix {suffix!r}; use one of {', '.join(_FOURCC)}")
        if not fps or not float(fps) > 0:
            raise ConfigError(f"{self.path}: fps must be positive, got {fps}")
        self.fps = float(fps)
        self.size = None if size is None else (int(size[0]), int(size[1]))
        self.frames_written = 0
        self.codec: str | None = None
        self.encoder: str | None = None
        self._backend: _PyAVBackend | _OpenCVBackend | None = None
        self._tmp: Path | None = None
        self._warned_resize = False
        self._closed = False

    def _open_backend(self, width: int, height: int) -> _PyAVBackend | _OpenCVBackend:
        assert self._tmp is not None
        suffix = self.path.suffix.lower()
        if suffix in _H264_SUFFIXES:
            encoder, why_not = _find_h264()
            if encoder is not None:
                backend = _PyAVBackend(self._tmp, encoder, self.fps, width, height, suffix)
                if (backend.width, backend.height) != (width, height):
                    log.info("%s: %dx%d frames padded to %dx%d (H.264 4:2:0 needs even sizes)", self.path,
                             width, height, backend.width, backend.height)
                self.codec, self.encoder = "h264", encoder
                return backend
            log.warning("%s: %s; writing MPEG-4 Part 2 (mp4v) instead, which most web browsers do not play",
                        self.path, why_not)
        fourcc = _FOURCC[suffix]
        backend = _OpenCVBackend(self._tmp, fourcc, self.fps, width, height)
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
