"""Depth metrics and evaluation protocols.

* :mod:`litedepth.metrics.depth` — the one implementation of abs_rel, sq_rel, rmse,
  rmse_log, log10, silog, a1-a3 on valid-pixel vectors, and the per-image accumulator.
* :mod:`litedepth.metrics.protocols` — KITTI Eigen (Garg crop), KITTI Eigen crop, NYU and
  ``none`` as data.
* :mod:`litedepth.metrics.scoring` — one image: resize, mask, to depth, one scale step, clamp,
  score; the options (:func:`resolve_options`) and ground-truth statistics.
* :mod:`litedepth.metrics.pairing` — read prediction / ground-truth files and split files, and
  pair them (:func:`load_pairs`).
* :mod:`litedepth.metrics.evaluate` — the entry points: one image, an iterable of images, or
  files on disk (:func:`evaluate_pair`, :func:`evaluate_arrays`, :func:`evaluate_folders`).
* :mod:`litedepth.metrics.pose` — Monodepth2's KITTI odometry ATE (5-frame snippets).
* :mod:`litedepth.metrics.segmentation` — mIoU, pixel accuracy, iIoU, per-class IoU.
"""

from litedepth.metrics.depth import (
    HIGHER_IS_BETTER,
    METRIC_NAMES,
    DepthMetricAccumulator,
    compute_depth_metrics,
)
from litedepth.metrics.evaluate import (
    EvalResult,
    ImageResult,
    PairSource,
    evaluate_arrays,
    evaluate_folders,
    evaluate_pair,
    load_pairs,
    read_depth_png,
    read_split,
    resolve_options,
    split_key,
)
from litedepth.metrics.pose import PoseEvalResult, compute_ate, evaluate_ate, read_kitti_poses
from litedepth.metrics.protocols import (
    PROTOCOLS,
    EvalProtocol,
    FractionalCrop,
    PixelCrop,
    get_protocol,
    list_protocols,
)

__all__ = [
    "PoseEvalResult",
    "compute_ate",
    "evaluate_ate",
    "read_kitti_poses",
    "HIGHER_IS_BETTER",
    "METRIC_NAMES",
    "PROTOCOLS",
    "DepthMetricAccumulator",
    "EvalProtocol",
    "EvalResult",
    "FractionalCrop",
    "ImageResult",
    "PairSource",
    "PixelCrop",
    "compute_depth_metrics",
    "evaluate_arrays",
    "evaluate_folders",
    "evaluate_pair",
    "get_protocol",
    "list_protocols",
    "load_pairs",
    "read_depth_png",
    "read_split",
    "resolve_options",
    "split_key",
]
