"""What the web demo accepts from a visitor and where it keeps it.

* :class:`UploadLimits` caps uploads: bytes (refused by the upload route before they are
  stored, and checked again from the file system) and pixels (read from the image header);
  :func:`read_upload` checks both before anything is decoded, and refuses an empty, non-image,
  truncated or oversized upload with a message naming the file and the problem.
* :func:`save_data_url` writes a pasted (base64) image, its size checked before decoding.
* :func:`private_storage` keeps uploads and results in a private temporary folder (``0700``,
  files ``0600``) that is removed when the server stops; :func:`request_folder` gives each
  request its own folder in it and removes those older than an hour.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from litedepth.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = ["UploadLimits", "private_storage", "read_upload", "request_folder", "save_data_url"]


@dataclass(frozen=True)
class UploadLimits:
    """What the demo accepts from a visitor.

    Attributes:
        max_bytes: largest upload in bytes (``litedepth serve --max-upload-mb``).
        max_pixels: largest image (or video frame) in pixels, width x height, read from the
            file's header before decoding (``--max-upload-mp``): a small file can decode to a
            huge image.
        max_video_frames: frames of an uploaded video that are turned into a depth video
            (``--max-video-frames``); the rest is ignored, and the page says so.
    """

    max_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    max_video_frames: int = 150

    def __post_init__(self) -> None:
        if self.max_bytes < 1:
            raise ConfigError(f"--max-upload-mb must be > 0, got {self.max_bytes / 2**20:g}")
        if self.max_pixels < 1:
            raise ConfigError(f"--max-upload-mp must be > 0, got {self.max_pixels / 1e6:g}")
        if self.max_video_frames < 1:
            raise ConfigError(f"--max-video-frames must be >= 1, got {self.max_video_frames}")

    def check_bytes(self, path: Path, label: str) -> int:
        """The size of the uploaded file ``path`` in bytes, from the file system.

        Raises:
            DataError: missing, empty or over :attr:`max_bytes` (the message calls it ``label``).
        """
        try:
            size = path.stat().st_size
        except OSError:
            raise DataError(label, "the upload is missing on the server (expired? upload it again)") from None
        if size == 0:
            raise DataError(label, "empty upload (0 bytes)")
        if size > self.max_bytes:
            raise DataError(label, f"upload of {size / 2**20:.1f} MB is over the limit of "
                                   f"{self.max_bytes / 2**20:g} MB (litedepth serve --max-upload-mb)")
        return size


def read_upload(path: str | Path, limits: UploadLimits = UploadLimits(), name: str | None = None) -> np.ndarray:
    """Check an uploaded file against ``limits``, then decode it: ``(H, W, 3)`` uint8 RGB.

    The byte size comes from the file system and the pixel size from the image header, both
    before any pixel is decoded.

    Args:
        path: the uploaded file.
        limits: the caps.
        name: what to call the file in messages (default: its file name).

    Raises:
        DataError: an empty file, one over a cap, not an image, or a truncated / corrupt one;
            the message names the file and the problem.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    label = name or path.name
    limits.check_bytes(path, label)
    try:
        with Image.open(path) as img:
            w, h = img.size
            if w * h > limits.max_pixels:
                raise DataError(label, f"image of {w}x{h} pixels ({w * h / 1e6:.1f} megapixels) is over the limit of "
                                       f"{limits.max_pixels / 1e6:g} megapixels (litedepth serve --max-upload-mp)")
            img.load()
            rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except Image.DecompressionBombError:
        raise DataError(label, f"image is far over the limit of {limits.max_pixels / 1e6:g} megapixels "
                               "(litedepth serve --max-upload-mp)") from None
    except UnidentifiedImageError:
        raise DataError(label, "not an image (PNG, JPEG, BMP, WebP, TIFF...)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(label, f"truncated or corrupt image ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None
    return np.ascontiguousarray(rgb)


def request_folder(root: Path, keep_s: float = 3600.0) -> Path:
    """A new private folder under ``root`` for one request's files; folders older than
    ``keep_s`` are removed first (Gradio serves its own copies of returned files)."""
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.iterdir():
        with contextlib.suppress(OSError):
            if old.is_dir() and now - old.stat().st_mtime > keep_s:
                shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="request-", dir=root))


def save_data_url(url: str, folder: str | Path, limits: UploadLimits) -> str:
    """Write a ``data:image/...;base64,...`` payload into ``folder`` (size checked before
    decoding the base64); returns the file's path."""
    import base64
    import binascii

    header, _, data = url.partition(",")
    if len(data) * 3 // 4 > limits.max_bytes:
        raise DataError("the pasted image", f"upload of about {len(data) * 3 / 4 / 2**20:.1f} MB is over the limit "
                                            f"of {limits.max_bytes / 2**20:g} MB (litedepth serve --max-upload-mb)")
    try:
        raw = base64.b64decode(data, validate=False)
    except (binascii.Error, ValueError):
        raise DataError("the pasted image", "not valid base64 image data") from None
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="pasted-", suffix=".img", dir=folder)  # 0600
    with os.fdopen(fd, "wb") as f:
        f.write(raw)
    return name


@contextlib.contextmanager
def private_storage(prefix: str = "litedepth-serve-") -> Iterator[Path]:
    """A private temporary folder for the demo's uploads and results, removed on exit.

    The folder is created ``0700`` and, while inside, the process umask is ``077`` (new files
    ``0600``, folders ``0700``) and ``GRADIO_TEMP_DIR`` points at it, so Gradio keeps every
    upload and every result image there. Enter it before :func:`build_app`.
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    env_before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    umask_before = os.umask(0o077)
    log.info("uploads and results are kept in %s (private: 0700, files 0600; removed when the server stops)",
             folder)
    try:
        yield folder
    finally:
        os.umask(umask_before)
        if env_before is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = env_before
        shutil.rmtree(folder, ignore_errors=True)
        log.info("removed %s", folder)
