"""Object detectors for the assist app, behind one small interface.

========================  =========================================================  ==============
name                      model / source                                             licence
========================  =========================================================  ==============
``ssdlite``               torchvision SSDlite320-MobileNetV3-Large, COCO (80 classes)  BSD-3-Clause
``fasterrcnn``            torchvision Faster R-CNN MobileNetV3-Large-FPN, COCO        BSD-3-Clause
``yolo``                  Ultralytics YOLO (e.g. ``yolo11n.pt``, ``yolo11n-seg.pt``:   AGPL-3.0
                          boxes and masks), optional extra ``litedepth[assist]``
``ground-truth``          boxes replayed from a JSON file (annotations, tests)        -
========================  =========================================================  ==============

Weights are never downloaded here: torchvision models read the file torchvision itself would
download (``--detector-weights FILE`` or a published name such as
``ssdlite320-mobilenet-v3-large-coco``, see ``litedepth weights list``; default: torchvision's
cache path ``$TORCH_HOME/hub/checkpoints/<file name>``, then litedepth's weights cache), YOLO
reads a local ``.pt``. A missing file is a :class:`~litedepth.errors.DataError` that says which
file to fetch and where to put it (or the ``litedepth weights download`` command).

Every detector maps a :class:`~litedepth.io.video.Frame` to a list of
:class:`~litedepth.apps.assistant.alerts.Detection` (boxes in the frame's pixels, class names, scores,
masks where the model gives them).

Ground-truth JSON format (``--detections FILE``)::

    {"frames": {"0": [{"box": [x0, y0, x1, y1], "label": "person", "score": 1.0}, ...],
                "img_0007": [...]}}

Keys are frame indices or image file stems (stems win); frames without a key have no objects.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.apps.assistant.alerts import Detection
from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.io.video import Frame
from litedepth.weights import is_present, load_manifest, local_path, resolve
from litedepth.utils.torch_files import load_torch_file

log = logging.getLogger(__name__)

__all__ = [
    "DETECTORS",
    "Detector",
    "ScriptedDetector",
    "TorchvisionDetector",
    "YoloDetector",
    "create_detector",
    "torchvision_weights_info",
]

#: detector name -> (torchvision builder, weights enum) for the torchvision models
_TORCHVISION = {
    "ssdlite": ("ssdlite320_mobilenet_v3_large", "SSDLite320_MobileNet_V3_Large_Weights"),
    "fasterrcnn": ("fasterrcnn_mobilenet_v3_large_fpn", "FasterRCNN_MobileNet_V3_Large_FPN_Weights"),
}
#: names accepted by :func:`create_detector`
DETECTORS = ("ssdlite", "fasterrcnn", "yolo", "ground-truth")


class Detector(ABC):
    """Finds objects in a frame.

    Attributes:
        name: detector name (one of :data:`DETECTORS`).
        licence: licence of the model code / weights, for the run summary.
    """

    name: str
    licence: str

    @abstractmethod
    def detect(self, frame: Frame) -> list[Detection]:
        """Objects in ``frame`` (boxes ``(x0, y0, x1, y1)`` in its pixels)."""

    def describe(self) -> dict:
        """Name, licence and settings (for the run summary)."""
        return {"name": self.name, "licence": self.licence}


def torchvision_weights_info(name: str) -> tuple[str, Path, list[str]]:
    """``(download url, torchvision cache path, COCO category names)`` of a torchvision detector."""
    import torch
    import torchvision.models.detection as tvd

    if name not in _TORCHVISION:
        raise ConfigError(f"unknown torchvision detector {name!r}; choose from {', '.join(_TORCHVISION)}")
    weights = getattr(tvd, _TORCHVISION[name][1]).COCO_V1
    cache = Path(torch.hub.get_dir()) / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    return weights.url, cache, list(weights.meta["categories"])


class TorchvisionDetector(Detector):
    """torchvision SSDlite320-MobileNetV3 or Faster R-CNN MobileNetV3-FPN with COCO labels.

    Args:
        name: ``"ssdlite"`` or ``"fasterrcnn"``.
        weights: the state-dict file (torchvision's published ``.pth`` or any file of the same
            layout); default: torchvision's cache path for it.
        score_threshold: detections below this score are dropped.
        device: ``"cpu"`` / ``"cuda"`` (default: CUDA when available).
        max_detections: keep at most this many (highest scores).

    Raises:
        DataError: the weights file is missing (the message gives the URL and the path).
        CheckpointError: the file does not fit the network.
    """

    licence = "BSD-3-Clause (torchvision); COCO-trained weights"

    def __init__(self, name: str = "ssdlite", weights: str | Path | None = None, score_threshold: float = 0.5,
                 device: str | None = None, max_detections: int = 50) -> None:
        import torch
        import torchvision.models.detection as tvd

        url, cache, self.categories = torchvision_weights_info(name)
        self.name = name
        published = [e for e in load_manifest() if e.network == f"detector:{name}"]
        if weights:
            path = Path(weights)
            if not path.exists() and str(weights) in load_manifest():
                path = resolve(weights, network=f"detector:{name}")
        else:
            path = cache
            for entry in published:
                if not path.is_file() and is_present(entry):
                    path = local_path(entry)  # type: ignore[assignment]
        if not path.is_file():
            command = f"run `litedepth weights download {published[0].name}`, or " if published else ""
            raise DataError(path, f"{name} detector weights not found: {command}download {url} (torchvision's file "
                                  f"{url.rsplit('/', 1)[-1]}) and pass it with --detector-weights FILE, or put it "
                                  f"at {cache}")
        state = load_torch_file(path, "detector weights file")
        if isinstance(state, dict) and isinstance(state.get("model", state.get("state_dict")), dict):
            state = state.get("model", state.get("state_dict"))
        net = getattr(tvd, _TORCHVISION[name][0])(weights=None, weights_backbone=None, num_classes=len(self.categories))
        try:
            net.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as exc:
            first = str(exc).splitlines()[0][:300]
            raise CheckpointError(f"{path}: weights do not fit torchvision {_TORCHVISION[name][0]} ({first})") from None
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = net.eval().to(self.device)
        self.weights = path
        self.score_threshold = float(score_threshold)
        # Filter inside the model, before its per-class NMS (same result: a box below the
        # threshold never suppresses a higher-scoring one) - far less work when scores are low.
        if hasattr(net, "score_thresh"):
            net.score_thresh = max(float(net.score_thresh), self.score_threshold)  # SSD
        if hasattr(net, "roi_heads"):
            net.roi_heads.score_thresh = max(float(net.roi_heads.score_thresh), self.score_threshold)  # Faster R-CNN
        self.max_detections = int(max_detections)

    def detect(self, frame: Frame) -> list[Detection]:
        import torch

        x = torch.tensor(frame.rgb, device=self.device).permute(2, 0, 1).float().div_(255.0)
        with torch.inference_mode():
            out = self.net([x])[0]
        scores = out["scores"].cpu().numpy()
        keep = np.nonzero(scores >= self.score_threshold)[0][: self.max_detections]
        boxes, labels = out["boxes"].cpu().numpy()[keep], out["labels"].cpu().numpy()[keep]
        return [Detection(tuple(float(v) for v in b), self._label(int(c)), float(s))  # type: ignore[arg-type]
                for b, c, s in zip(boxes, labels, scores[keep])]

    def _label(self, index: int) -> str:
        return self.categories[index] if 0 <= index < len(self.categories) else f"class {index}"

    def describe(self) -> dict:
        return {**super().describe(), "weights": str(self.weights), "score_threshold": self.score_threshold}


class YoloDetector(Detector):
    """Ultralytics YOLO (``yolo11n.pt`` boxes, ``yolo11n-seg.pt`` boxes + masks) from a local file.

    Needs the optional extra ``pip install 'litedepth[assist]'`` (Ultralytics is AGPL-3.0).

    Args:
        weights: local ``.pt`` file.
        score_threshold: confidence threshold.
        device: passed to Ultralytics (``"cpu"``, ``"cuda:0"``; default its choice).
        imgsz: inference size (Ultralytics' ``imgsz``).
    """

    name = "yolo"
    licence = "AGPL-3.0 (Ultralytics)"

    def __init__(self, weights: str | Path | None, score_threshold: float = 0.5, device: str | None = None,
                 imgsz: int = 640) -> None:
        try:
            from ultralytics import YOLO
        except ImportError:
            raise ConfigError("the yolo detector needs Ultralytics, an optional extra under AGPL-3.0: "
                              "pip install 'litedepth[assist]' (or use --detector ssdlite / fasterrcnn, BSD-3-Clause)") from None
        if weights is None:
            raise ConfigError("--detector yolo needs --detector-weights FILE.pt (e.g. yolo11n.pt or yolo11n-seg.pt)")
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise DataError(self.weights, "YOLO weights not found: download yolo11n.pt or yolo11n-seg.pt from the "
                                          "Ultralytics releases (github.com/ultralytics/assets) and pass its path")
        self.model = YOLO(str(self.weights))
        self.score_threshold, self.device, self.imgsz = float(score_threshold), device, int(imgsz)

    def detect(self, frame: Frame) -> list[Detection]:
        bgr = np.ascontiguousarray(frame.rgb[..., ::-1])  # Ultralytics reads numpy arrays as BGR
        kw: dict[str, Any] = {"conf": self.score_threshold, "imgsz": self.imgsz, "verbose": False}
        if self.device:
            kw["device"] = self.device
        res = self.model.predict(bgr, **kw)[0]
        boxes = np.asarray(res.boxes.xyxy.cpu().numpy(), dtype=np.float64)
        scores = res.boxes.conf.cpu().numpy()
        classes = res.boxes.cls.cpu().numpy().astype(int)
        polygons = res.masks.xy if getattr(res, "masks", None) is not None else None
        out = []
        for i, (b, c, s) in enumerate(zip(boxes, classes, scores)):
            mask = None
            if polygons is not None and i < len(polygons) and len(polygons[i]) >= 3:
                mask = _polygon_mask(polygons[i], frame.rgb.shape[:2])
            out.append(Detection(tuple(float(v) for v in b), str(res.names[int(c)]), float(s), mask))  # type: ignore[arg-type]
        return out

    def describe(self) -> dict:
        return {**super().describe(), "weights": str(self.weights), "score_threshold": self.score_threshold}


def _polygon_mask(polygon: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``(H, W)`` bool mask of a polygon given in pixel coordinates (``(N, 2)`` x, y)."""
    import cv2

    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(np.asarray(polygon)).astype(np.int32)], 1)
    return mask.astype(bool)


class ScriptedDetector(Detector):
    """Boxes replayed from a JSON file (format in the module docstring).

    Raises:
        DataError: missing file, invalid JSON or an entry without a 4-number box and a label.
    """

    name = "ground-truth"
    licence = "-"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(self.path, "detections file not found")
        try:
            data = json.loads(self.path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DataError(self.path, f"not valid JSON ({exc})") from None
        frames = data.get("frames", data) if isinstance(data, dict) else None
        if not isinstance(frames, dict):
            raise DataError(self.path, "expected {\"frames\": {\"<index or stem>\": [{\"box\": [...], \"label\": ...}]}}")
        self.frames: dict[str, list[Detection]] = {}
        for key, items in frames.items():
            if not isinstance(items, list):
                raise DataError(self.path, f"frame {key!r}: expected a list of objects")
            self.frames[str(key)] = [self._parse(key, item) for item in items]

    def _parse(self, key: str, item: Any) -> Detection:
        try:
            box = tuple(float(v) for v in item["box"])
            label = str(item["label"])
            score = float(item.get("score", 1.0))
        except (KeyError, TypeError, ValueError):
            raise DataError(self.path, f"frame {key!r}: each object needs \"box\": [x0, y0, x1, y1] and \"label\", "
                                       f"got {item!r}") from None
        if len(box) != 4 or box[2] <= box[0] or box[3] <= box[1]:
            raise DataError(self.path, f"frame {key!r}: box {list(box)} is not [x0, y0, x1, y1] with x1 > x0, y1 > y0")
        return Detection(box, label, score)  # type: ignore[arg-type]

    def detect(self, frame: Frame) -> list[Detection]:
        if frame.name is not None and frame.name in self.frames:
            return list(self.frames[frame.name])
        return list(self.frames.get(str(frame.index), []))

    def describe(self) -> dict:
        return {**super().describe(), "detections": str(self.path)}


def create_detector(name: str, weights: str | Path | None = None, score_threshold: float = 0.5,
                    device: str | None = None, detections: str | Path | None = None) -> Detector:
    """A detector by name (:data:`DETECTORS`).

    Args:
        name: ``ssdlite``, ``fasterrcnn``, ``yolo`` or ``ground-truth``.
        weights: weights file (torchvision ``.pth`` / YOLO ``.pt``).
        score_threshold: minimum score.
        device: ``"cpu"`` / ``"cuda"``.
        detections: the JSON file for ``ground-truth`` (``weights`` is accepted as well).
    """
    if name in _TORCHVISION:
        return TorchvisionDetector(name, weights, score_threshold, device)
    if name == "yolo":
        return YoloDetector(weights, score_threshold, device)
    if name == "ground-truth":
        source = detections or weights
        if source is None:
            raise ConfigError("--detector ground-truth needs --detections FILE.json")
        return ScriptedDetector(source)
    raise ConfigError(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
