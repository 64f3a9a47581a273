"""Where the assistant's depth comes from: a depth network, or depth recorded per frame.

Every source is a :class:`DepthEstimator`: called with a :class:`~litedepth.io.video.Frame`, it
gives an ``(H, W)`` float32 map at the frame's resolution, and its ``spec``
(:class:`~litedepth.models.spec.OutputSpec`) says what the values mean, so that the pipeline
(:mod:`litedepth.apps.assistant.pipeline`) knows whether they are metres, relative depth that
needs a scale (:mod:`litedepth.apps.assistant.scale`), or relative disparity it cannot use.

* :class:`PredictorDepth` — a :class:`~litedepth.inference.Predictor` (PyTorch or onnxruntime);
* :class:`DepthFiles` — recorded depth (an RGB-D camera, ground truth, another tool's output).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from litedepth.errors import ConfigError, DataError
from litedepth.io.video import Frame
from litedepth.models.spec import OutputSpec

__all__ = ["DepthEstimator", "DepthFiles", "PredictorDepth", "estimator_spec"]


class DepthEstimator(Protocol):
    """Anything giving a depth or disparity map for a frame.

    Attributes:
        spec: what the map means (:class:`~litedepth.models.spec.OutputSpec`): metric depth
            is used as is, relative depth and sigmoid disparity (through the spec's own
            ``disp_to_depth`` range) need a scale, relative disparity cannot be used.
        trained: whether the weights behind it are trained (an untrained network is refused
            unless :attr:`AssistConfig.allow_untrained`).
    """

    spec: OutputSpec
    trained: bool

    def __call__(self, frame: Frame) -> np.ndarray:
        """``(H, W)`` float32 map at the frame's resolution."""
        ...

    def describe(self) -> dict: ...


class PredictorDepth:
    """A :class:`~litedepth.inference.Predictor` (PyTorch or onnxruntime) as depth estimator.

    Args:
        predictor: the predictor.
        info: what to report about it (model name, weights, backend).
    """

    def __init__(self, predictor: Any, info: dict | None = None) -> None:
        self.predictor = predictor
        self.spec = predictor.spec
        self.kind = predictor.kind
        self.trained = bool(predictor.loaded.weights.trained)
        self.info = dict(info or {})

    def __call__(self, frame: Frame) -> np.ndarray:
        return np.asarray(self.predictor.infer_image(frame.rgb).raw)

    def describe(self) -> dict:
        return {**self.info, "kind": self.kind, "output_spec": self.spec.to_dict(), "units": self.spec.units,
                "input_size": list(self.predictor.input_size), "weights": self.predictor.loaded.weights.to_dict()}


class DepthFiles:
    """Recorded depth per frame (an RGB-D camera, ground truth, another tool's output).

    Frames from image sequences are matched by file stem; others by index into the sorted
    files. ``.npy`` files hold float metres; other files (uint16 PNG/PGM, ...) are read with
    their named ``depth_encoding`` (:mod:`litedepth.io.depth_encodings`; required for them).

    Raises:
        DataError: missing folder, no depth files, or no file for a frame.
    """

    kind = "depth"
    spec = OutputSpec.metric_depth(note="recorded depth files")
    trained = True

    def __init__(self, folder: str | Path, depth_encoding: str | float | None = None) -> None:
        from litedepth.io.depth_encodings import encoding_for_file, parse_encoding

        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise DataError(self.folder, "depth folder not found")
        self.depth_encoding = None if depth_encoding is None else parse_encoding(depth_encoding)
        self.files = sorted(p for p in self.folder.iterdir() if p.suffix.lower() in (".npy", ".png", ".pgm"))
        if not self.files:
            raise DataError(self.folder, "no depth files (.npy, .png, .pgm) in the folder")
        encoding_for_file(self.files[0], self.depth_encoding)  # a missing encoding fails now, not mid-run
        self.by_stem = {p.stem: p for p in self.files}

    def __call__(self, frame: Frame) -> np.ndarray:
        from litedepth.io.images import read_depth

        if frame.name is not None:
            path = self.by_stem.get(frame.name)
        else:
            path = self.files[frame.index] if frame.index < len(self.files) else None
        if path is None:
            raise DataError(self.folder, f"no depth file for frame {frame.name or frame.index}")
        depth = read_depth(path, self.depth_encoding)
        if depth.shape != frame.rgb.shape[:2]:
            raise DataError(path, f"depth {depth.shape} and frame {frame.rgb.shape[:2]} differ in size")
        return depth

    def describe(self) -> dict:
        return {"name": "depth files", "folder": str(self.folder), "kind": self.kind,
                "encoding": None if self.depth_encoding is None else self.depth_encoding.name}


def estimator_spec(depth: Any) -> OutputSpec:
    """The estimator's spec; estimators written before specs existed state only ``kind``,
    whose documented meaning was metres-or-relative depth, or a sigmoid disparity through
    ``disp_to_depth(0.1, 100)``."""
    spec = getattr(depth, "spec", None)
    if isinstance(spec, OutputSpec):
        return spec
    import warnings

    warnings.warn("depth estimators should state their OutputSpec as `spec` (a bare `kind` is deprecated)",
                  DeprecationWarning, stacklevel=3)
    kind = getattr(depth, "kind", None)
    if kind == "disparity":
        return OutputSpec.sigmoid_disparity(0.1, 100.0)
    if kind == "depth":
        return OutputSpec.relative_depth()
    raise ConfigError(f"depth estimator {type(depth).__name__} states no spec (OutputSpec) and no kind")
