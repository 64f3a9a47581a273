"""The low-vision assistant (``litedepth assist``): near-object alerts from a camera, a video or
images, spoken and logged.

Its modules, in the order a frame meets them:

=====================  ==========================================================================
module                 what lives there
=====================  ==========================================================================
``depth``              depth sources: a depth network (:class:`PredictorDepth`) or recorded depth
                       files (:class:`DepthFiles`), each stating what its values mean
``scale``              relative depth -> metres (``metric``, ``fixed:F``, ``calibrate:D``,
                       ``camera-height:H``: a floor-plane fit)
``detectors``          object detectors behind one interface (torchvision SSDlite / Faster R-CNN,
                       Ultralytics YOLO, boxes from a JSON file)
``tracker``            object identity across frames (greedy IoU tracker)
``alerts``             distances, bands with hysteresis, directions and the alert policy (pure
                       logic, reproducible from its inputs)
``pipeline``           one frame: depth + detector -> metres -> distances -> alerts
``drawing``            the annotated frames (boxes, distances, depth inset, latest alert)
``speech``             spoken alerts through the ``espeak-ng`` program, never blocking
``session``            a whole run: a frame source -> ``events.jsonl``, ``annotated.mp4``,
                       ``summary.json``
=====================  ==========================================================================

Optional dependencies: ``pip install 'litedepth[assist]'`` adds Ultralytics for
``--detector yolo`` (AGPL-3.0; the default torchvision detectors are BSD-3-Clause); speech needs
the ``espeak-ng`` program (a system package; without it alerts are text only). Nothing outside
this package imports them, and this package imports them only where they are used.

The names below are importable from the package itself (loaded on first use, so that
``import litedepth.apps.assistant.alerts`` stays NumPy-only). The former modules
``litedepth.apps.assist``, ``.alerts``, ``.detectors``, ``.scale`` and ``.speech`` still import,
with a :class:`DeprecationWarning`, for one more release.
"""

from __future__ import annotations

import importlib
from typing import Any

#: public name -> the module of this package that defines it
_WHERE = {
    "DepthEstimator": "depth", "DepthFiles": "depth", "PredictorDepth": "depth",
    "AssistConfig": "pipeline", "AssistPipeline": "pipeline", "FrameResult": "pipeline",
    "annotate": "drawing",
    "run_assist": "session",
    "AlertConfig": "alerts", "AlertPolicy": "alerts", "Alert": "alerts", "Detection": "alerts",
    "FrameDecision": "alerts", "Observation": "alerts", "TrackedObject": "alerts", "object_distance": "alerts",
    "IouTracker": "tracker",
    "DepthScale": "scale", "parse_scale": "scale",
    "DETECTORS": "detectors", "Detector": "detectors", "create_detector": "detectors",
    "Speaker": "speech", "NullSpeaker": "speech", "make_speaker": "speech",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
