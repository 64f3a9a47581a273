"""What the web demo (:mod:`litedepth.apps.serve`) shows and hands out besides the depth map:
example inputs, downloadable files, a 3-D view and depth videos. Independent of Gradio.

* :func:`make_examples` renders the example inputs at start-up with the built-in synthetic
  scenes (:mod:`litedepth.data.synthetic`; a fixed seed each, so they are the same at every
  start): a room, a street and an indoor corridor as PNGs, and a short walk down a corridor
  as an H.264 video.
* :func:`write_downloads` writes one prediction as files whose names say what they hold: the
  map as float32 ``.npy`` and as a 16-bit PNG (its encoding in the name and in a PNG text
  chunk), the coloured point cloud as ``.ply`` (:mod:`litedepth.inference.pointcloud`,
  intrinsics from a horizontal field of view) and the same points joined into a surface as
  ``.glb`` for the page's 3-D view (:mod:`litedepth.inference.gltf`).
* :func:`predict_video_file` checks an uploaded video against the caps and writes its depth
  video (:func:`litedepth.inference.video.predict_video`: input | depth side by side, H.264).
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import DataError, LitedepthError

log = logging.getLogger(__name__)

__all__ = ["EXAMPLE_SIZE", "MAX_VIDEO_SIDE", "DownloadFiles", "Examples", "VideoServeResult", "make_examples",
           "predict_video_file", "safe_stem", "write_downloads"]

#: ``(height, width)`` of the example images
EXAMPLE_SIZE = (192, 256)
#: frames of an uploaded video larger than this (longer side, pixels) are shrunk before prediction
MAX_VIDEO_SIDE = 640
_EXAMPLE_SCENES = (  # file stem, SceneConfig options
    ("synthetic_room", {"kind": "room", "seed": 3}),
    ("synthetic_street", {"kind": "corridor", "seed": 1}),
    ("synthetic_corridor", {"kind": "corridor", "open_sky": False, "seed": 4}),
)


@dataclass(frozen=True)
class Examples:
    """The example inputs: ``images`` (PNG paths) and ``video`` (an ``.mp4``, or ``None``)."""

    images: list[Path]
    video: Path | None


def make_examples(folder: str | Path, size: tuple[int, int] = EXAMPLE_SIZE, video_frames: int = 24,
                  video_fps: float = 8.0) -> Examples:
    """Render the demo's example inputs into ``folder`` (about a second).

    Args:
        folder: where to write them (created).
        size: ``(height, width)`` of the images; the video is half that size.
        video_frames: frames of the example video (0: no video).
        video_fps: its frame rate.

    Returns:
        :class:`Examples`; the video is ``None`` when no encoder can write it (a warning says why).
    """
    from PIL import Image

    from litedepth.data.synthetic import SceneConfig, make_sequence
    from litedepth.utils.atomic import atomic_open, make_dirs

    folder = make_dirs(folder)
    h, w = size
    images = []
    for stem, options in _EXAMPLE_SCENES:
        frame = make_sequence(SceneConfig(height=h, width=w, **options), 1).frames[0]
        path = folder / f"{stem}.png"
        with atomic_open(path, "wb") as f:
            Image.fromarray(frame.rgb).save(f, format="PNG")
        images.append(path)
    video = None
    if video_frames > 0:
        from litedepth.io.video import VideoWriter

        seq = make_sequence(SceneConfig(kind="corridor", height=h // 2 // 2 * 2, width=w // 2 // 2 * 2, seed=2),
                            int(video_frames))
        try:
            with VideoWriter(folder / "synthetic_walk.mp4", video_fps) as writer:
                for frame in seq.frames:
                    writer.write(frame.rgb)
            video = folder / "synthetic_walk.mp4"
        except LitedepthError as exc:
            log.warning("no example video: %s", exc)
    log.info("example inputs rendered into %s", folder)
    return Examples(images, video)


def safe_stem(name: str, default: str = "image") -> str:
    """A file-name stem from an upload's name: letters, digits, ``.-_`` (others become ``_``).

    Example:
        >>> safe_stem("my photo (1).JPG")
        'my_photo_1'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(str(name)).stem).strip("._-")
    return stem[:80] or default


@dataclass(frozen=True)
class DownloadFiles:
    """The files of one prediction (see :func:`write_downloads`).

    Attributes:
        npy: float32 ``(H, W)`` map.
        png16: 16-bit PNG of the same map, encoding in its name.
        ply: coloured point cloud, or ``None`` (relative disparity has no 3-D shape).
        glb: the point cloud joined into a surface for a 3-D viewer, or ``None``.
        note: Markdown lines saying what each file holds.
    """

    npy: Path
    png16: Path
    ply: Path | None
    glb: Path | None
    note: str

    @property
    def files(self) -> list[Path]:
        """The downloadable files (the ``.glb`` has the 3-D view's own download button)."""
        return [p for p in (self.npy, self.png16, self.ply) if p is not None]


def _png16_scale(values: np.ndarray) -> float:
    """Units per value of a relative map's 16-bit PNG: ``65535 / max`` rounded down to two
    significant digits (a number that reads well in a file name)."""
    valid = values[np.isfinite(values) & (values > 0)]
    top = float(valid.max()) if valid.size else 1.0
    x = 65535.0 / top
    step = 10.0 ** (math.floor(math.log10(x)) - 1)
    return float(f"{math.floor(x / step) * step:.6g}")


def _write_png16(path: Path, values: np.ndarray, scale: float, text: dict[str, Any]) -> None:
    import io

    from PIL import Image, PngImagePlugin

    from litedepth.io.depth_encodings import encode_depth_uint16
    from litedepth.utils.atomic import atomic_write_bytes

    info = PngImagePlugin.PngInfo()
    info.add_text("litedepth", json.dumps(text))
    buf = io.BytesIO()
    Image.fromarray(encode_depth_uint16(values, scale)).save(buf, format="PNG", pnginfo=info)
    atomic_write_bytes(path, buf.getvalue())


def write_downloads(folder: str | Path, stem: str, result: Any, rgb: np.ndarray, fov_deg: float) -> DownloadFiles:
    """Write a prediction of the demo as files whose names state their meaning.

    ============================================  ===============================================
    file                                          holds
    ============================================  ===============================================
    ``<stem>_depth_metres.npy``                   float32 ``(H, W)`` depth in metres (metric models)
    ``<stem>_depth_mm.uint16.png``                16-bit PNG, value / 1000 = metres, 0 = none
    ``<stem>_depth_relative.npy``                 float32 relative depth (no unit)
    ``<stem>_depth_relative_xK.uint16.png``       16-bit PNG, value / K = the ``.npy``'s value
    ``<stem>_disparity_relative[...]``            the same for relative-disparity networks
    ``<stem>_points_metres.ply`` (or ``_relative``) coloured point cloud, camera frame
    ``<stem>_surface_metres.glb`` (or ``_relative``) the points joined into a surface (3-D view)
    ============================================  ===============================================

    The ``.npy`` holds exactly :attr:`ServeResult.depth` (what the page colours and the alerts
    use). The PNG's encoding is also stored in its ``litedepth`` text chunk (JSON). The point
    cloud's intrinsics come from ``fov_deg`` (square pixels, centred principal point) and are
    written in its header.

    Args:
        folder: destination folder (exists).
        stem: file-name stem (e.g. the upload's name and the model's label).
        result: a :class:`~litedepth.apps.serve.service.ServeResult`.
        rgb: ``(H, W, 3)`` uint8 image the prediction was made for (point colours).
        fov_deg: horizontal field of view of the photo in degrees, in ``(0, 180)``.

    Returns:
        :class:`DownloadFiles`.
    """
    from litedepth.inference.gltf import save_depth_glb
    from litedepth.inference.pointcloud import PointCloudCamera, save_pointcloud
    from litedepth.utils.atomic import atomic_open

    folder = Path(folder)
    values = np.asarray(result.depth, dtype=np.float32)
    metric = result.units == "metres"
    scale_word = "metres" if metric else "relative"
    quantity = result.quantity
    npy = folder / f"{stem}_{quantity}_{scale_word}.npy"
    with atomic_open(npy, "wb") as f:
        np.save(f, values, allow_pickle=False)
    camera = PointCloudCamera(None, float(fov_deg))
    if metric:
        png = folder / f"{stem}_depth_mm.uint16.png"
        _write_png16(png, values, 1000.0, {"encoding": "mm", "meaning": "uint16, value / 1000 = depth in metres, "
                                                                       "0 = no depth"})
        lines = [f"`{npy.name}`: float32 (H, W) depth in metres at the photo's resolution (numpy.load)",
                 f"`{png.name}`: 16-bit PNG, value / 1000 = metres, 0 = no depth"]
    else:
        k = _png16_scale(values)
        png = folder / f"{stem}_{quantity}_relative_x{k:g}.uint16.png"
        _write_png16(png, values, k, {"encoding": f"value / {k:g}", "meaning": f"uint16, value / {k:g} = relative "
                                      f"{quantity} (no unit; {result.units}), 0 = none"})
        lines = [f"`{npy.name}`: float32 (H, W) relative {quantity}, no unit ({result.units}), at the photo's "
                 "resolution (numpy.load)",
                 f"`{png.name}`: 16-bit PNG, value / {k:g} = the .npy's relative {quantity}, 0 = none"]
    ply = glb = None
    if quantity == "depth":
        ply = folder / f"{stem}_points_{scale_word}.ply"
        units = "metres" if metric else f"relative ({result.units})"
        n = save_pointcloud(ply, values, rgb, camera=camera, units=units)
        lines.append(f"`{ply.name}`: {n} coloured points, camera frame (x right, y down, z forward), "
                     f"{'metres' if metric else 'relative units (no scale)'}; intrinsics from a {fov_deg:g} deg "
                     "horizontal field of view (in its header)")
        glb = folder / f"{stem}_surface_{scale_word}.glb"
        try:
            save_depth_glb(glb, values, camera.for_image(*values.shape).K, rgb, units=units)
            lines.append(f"3-D view: the same points joined into a surface, `{glb.name}` (the viewer's download "
                         "button); depth edges are left open")
        except DataError as exc:
            log.info("no 3-D view: %s", exc)
            glb = None
    else:
        lines.append("no point cloud: relative disparity (scale and shift unknown) has no 3-D shape")
    return DownloadFiles(npy, png, ply, glb, "\n".join(f"* {line}" for line in lines))


@dataclass(frozen=True)
class VideoServeResult:
    """A depth video made by the demo.

    Attributes:
        video: the ``.mp4`` (input | depth side by side).
        frames: frames in it.
        total: frames in the upload (``None`` when the container does not say).
        fps: its frame rate.
        codec: ``"h264"`` (plays in browsers) or the fallback's name.
        summary: lines for the page.
    """

    video: Path
    frames: int
    total: int | None
    fps: float
    codec: str | None
    summary: str


class _CappedFrames:
    """The frames of a video source, at most ``max_frames``, shrunk to ``max_side`` pixels."""

    def __init__(self, source: Any, max_frames: int, max_side: int) -> None:
        self.source, self.max_frames, self.max_side = source, max_frames, max_side
        self.name, self.fps = source.name, source.fps
        total = source.frame_count
        self.frame_count = None if total is None else min(total, max_frames)

    def __iter__(self) -> Iterator[Any]:
        import cv2

        from litedepth.io.video import Frame

        for frame in self.source:
            if frame.index >= self.max_frames:
                break
            rgb = frame.rgb
            h, w = rgb.shape[:2]
            if max(h, w) > self.max_side:
                zoom = self.max_side / max(h, w)
                rgb = cv2.resize(rgb, (max(2, round(w * zoom)), max(2, round(h * zoom))), interpolation=cv2.INTER_AREA)
            yield Frame(frame.index, rgb, frame.time_s)


def _video_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` from the container, before any frame is decoded (0, 0 if unknown)."""
    import cv2

    cap = cv2.VideoCapture(str(path))
    try:
        return int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    finally:
        cap.release()


def predict_video_file(service: Any, path: str | Path, label: str | None, folder: str | Path,
                       name: str | None = None) -> VideoServeResult:
    """The demo's depth video of an uploaded video file.

    The upload is checked against ``service.limits`` (bytes, pixels per frame, read from the
    container before decoding) and only its first ``limits.max_video_frames`` frames are used;
    frames larger than :data:`MAX_VIDEO_SIDE` pixels are shrunk first. The output shows the
    input and the depth side by side (plasma, near = bright; the colour range follows the
    video, so colours show near and far, not distances) and is H.264 when an encoder is
    available.

    Args:
        service: the :class:`~litedepth.apps.serve.service.DepthService`.
        path: the uploaded video.
        label: picker entry (default: the first).
        folder: where to write the ``.mp4`` (exists).
        name: what to call the upload in messages and file names (default: its file name).

    Raises:
        DataError: empty, over a cap, or not a decodable video (naming the file).
    """
    from litedepth.inference.video import predict_video
    from litedepth.io.video import VideoFileSource

    path = Path(path)
    shown = name or path.name
    limits = service.limits
    limits.check_bytes(path, shown)
    w, h = _video_size(path)
    if w * h > limits.max_pixels:
        raise DataError(shown, f"video frames of {w}x{h} pixels are over the limit of {limits.max_pixels / 1e6:g} "
                               "megapixels (litedepth serve --max-upload-mp)")
    label = label or service.labels[0]
    predictor = service.predictor(label)
    source = VideoFileSource(path, fps=None)
    if not source.fps:
        raise DataError(shown, "the video states no frame rate")
    capped = _CappedFrames(source, limits.max_video_frames, MAX_VIDEO_SIDE)
    out = Path(folder) / f"{safe_stem(shown, 'video')}_{safe_stem(label, 'model')}_depth.mp4"
    try:
        done = predict_video(predictor, capped, out, layout="side-by-side", progress=False,
                             max_frames=limits.max_video_frames)
    finally:
        source.close()
    if done.video is None:
        raise DataError(shown, "no frame could be decoded")
    untrained = not predictor.loaded.weights.trained
    total = source.frame_count
    cut = total is not None and total > done.frames
    lines = [f"{label}{' (UNTRAINED: random weights, output is noise)' if untrained else ''}: "
             f"{done.frames} frames{f' (the first {done.frames} of {total}: --max-video-frames)' if cut else ''} "
             f"at {done.fps:g} fps, {done.codec or 'unknown codec'}, {done.frames / max(done.seconds, 1e-9):.1f} "
             "frames/s processed",
             "left: the input; right: depth colours (plasma, near = bright); the colour range follows the video "
             "(2nd-98th percentiles), so colours show near and far, not distances"]
    if done.codec != "h264":
        lines.append(f"written as {done.codec}: no H.264 encoder here, browsers may not play it (download it)")
    return VideoServeResult(done.video, done.frames, total, done.fps, done.codec, "\n".join(lines))
