"""Training losses.

Self-supervised (Monodepth2 / Lite-Mono): :func:`ssim`, :func:`photometric_error`,
:func:`min_reprojection_loss`, :func:`edge_aware_smoothness`. Supervised / distillation:
:func:`scale_invariant_log_loss`, :func:`masked_mse`, :func:`masked_l1`, the
scale-and-shift-invariant :func:`affine_invariant_loss` (MiDaS) for relative teachers. Every function has an
``nn.Module`` twin of the same name in CamelCase.
"""

from litedepth.losses.photometric import (
    SSIM,
    MinReprojectionLoss,
    MinReprojectionResult,
    PhotometricError,
    min_reprojection_loss,
    photometric_error,
    ssim,
)
from litedepth.losses.affine_invariant import (
    AffineInvariantLoss,
    affine_invariant_loss,
    align_least_squares,
    gradient_matching_loss,
    normalise_median_mad,
)
from litedepth.losses.chamfer import ChamferBinsLoss, chamfer_bins_loss, sample_teacher_points
from litedepth.losses.distillation import PixelDistillationLoss, normalise_teacher_disparity, pixel_distillation_loss
from litedepth.losses.smoothness import EdgeAwareSmoothness, edge_aware_smoothness
from litedepth.losses.supervised import (
    MaskedL1,
    MaskedMSE,
    ScaleInvariantLogLoss,
    masked_l1,
    masked_mse,
    scale_invariant_log_loss,
)

__all__ = [
    "SSIM",
    "AffineInvariantLoss",
    "affine_invariant_loss",
    "align_least_squares",
    "gradient_matching_loss",
    "normalise_median_mad",
    "ChamferBinsLoss",
    "PixelDistillationLoss",
    "chamfer_bins_loss",
    "normalise_teacher_disparity",
    "pixel_distillation_loss",
    "sample_teacher_points",
    "EdgeAwareSmoothness",
    "MaskedL1",
    "MaskedMSE",
    "MinReprojectionLoss",
    "MinReprojectionResult",
    "PhotometricError",
    "ScaleInvariantLogLoss",
    "edge_aware_smoothness",
    "masked_l1",
    "masked_mse",
    "min_reprojection_loss",
    "photometric_error",
    "scale_invariant_log_loss",
    "ssim",
]
