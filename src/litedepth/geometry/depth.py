"""Conversions between a network's bounded disparity output and metric depth.

Self-supervised depth networks (Monodepth2, Lite-Mono) end in a sigmoid, so their raw output
``disp`` lies in ``[0, 1]``. It is mapped linearly onto the inverse-depth interval
``[1 / max_depth, 1 / min_depth]`` (Monodepth2 paper, "additional considerations"), and depth is
the reciprocal::

    scaled_disp = 1 / max_depth + (1 / min_depth - 1 / max_depth) * disp     # units 1/metre
    depth       = 1 / scaled_disp                                             # metres

With the defaults ``min_depth = 0.1`` and ``max_depth = 100`` a sigmoid output of 0 is 100 m and
an output of 1 is 0.1 m. For a monocular model "metres" is only up to the unknown global scale;
the evaluation's median scaling removes it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from litedepth.errors import ConfigError

__all__ = ["DispToDepth", "depth_to_disp", "disp_to_depth"]


def _check_range(min_depth: float, max_depth: float) -> None:
    if not (min_depth > 0 and max_depth > min_depth):
        raise ConfigError(
            f"depth range needs 0 < min_depth < max_depth, got min_depth={min_depth}, "
            f"max_depth={max_depth}"
        )


def disp_to_depth(
    disp: Tensor, min_depth: float = 0.1, max_depth: float = 100.0
) -> tuple[Tensor, Tensor]:
    """Map a sigmoid disparity to scaled disparity and depth.

    Args:
        disp: network output in ``[0, 1]``, any shape (typically ``(B, 1, H, W)``); a NumPy
            array works too (plain arithmetic), giving NumPy arrays back.
        min_depth: depth in metres that ``disp = 1`` maps to. Must be > 0.
        max_depth: depth in metres that ``disp = 0`` maps to. Must be > ``min_depth``.

    Returns:
        ``(scaled_disp, depth)``, both the shape of ``disp``: ``scaled_disp`` is inverse depth in
        1/metre, in ``[1/max_depth, 1/min_depth]``; ``depth = 1 / scaled_disp`` in metres.

    Raises:
        ConfigError: when the depth range is not ``0 < min_depth < max_depth``.

    Example:
        >>> _, depth = disp_to_depth(torch.tensor([0.0, 1.0]))
        >>> depth
        tensor([100.0000,   0.1000])
    """
    _check_range(min_depth, max_depth)
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    scaled_disp = min_disp + (max_disp - min_disp) * disp
    return scaled_disp, 1.0 / scaled_disp


def depth_to_disp(depth: Tensor, min_depth: float = 0.1, max_depth: float = 100.0) -> Tensor:
    """Inverse of :func:`disp_to_depth`: the sigmoid-space disparity giving ``depth``.

    ``depth_to_disp(disp_to_depth(d, a, b)[1], a, b) == d`` up to rounding.

    Args:
        depth: depth in metres, any shape, strictly positive (not checked, to avoid a device
            synchronisation; zero gives ``inf`` inverse depth).
        min_depth: depth in metres mapped to 1.
        max_depth: depth in metres mapped to 0.

    Returns:
        Disparity of the shape of ``depth``; in ``[0, 1]`` exactly when ``depth`` lies in
        ``[min_depth, max_depth]`` (no clamping is applied).

    Raises:
        ConfigError: when the depth range is not ``0 < min_depth < max_depth``.

    Example:
        >>> depth_to_disp(torch.tensor([100.0, 0.1]))
        tensor([0., 1.])
    """
    _check_range(min_depth, max_depth)
    min_disp = 1.0 / max_depth
    max_disp = 1.0 / min_depth
    return (1.0 / depth - min_disp) / (max_disp - min_disp)


class DispToDepth(nn.Module):
    """Module twin of :func:`disp_to_depth` (for example to append to an exported network).

    ``forward(disp)`` returns ``(scaled_disp, depth)``; see :func:`disp_to_depth` for shapes
    and units.
    """

    def __init__(self, min_depth: float = 0.1, max_depth: float = 100.0) -> None:
        super().__init__()
        _check_range(min_depth, max_depth)
        self.min_depth = float(min_depth)
        self.max_depth = float(max_depth)

    def forward(self, disp: Tensor) -> tuple[Tensor, Tensor]:
        return disp_to_depth(disp, self.min_depth, self.max_depth)

    def extra_repr(self) -> str:
        return f"min_depth={self.min_depth}, max_depth={self.max_depth}"
