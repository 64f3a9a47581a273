"""Chamfer loss between predicted disparity-bin centres and teacher disparity samples.

AdaBins (Bhat et al., CVPR 2021) pulls its bin centres toward the distribution of the
ground-truth depths with a bidirectional Chamfer distance (weight 0.1); seed 001 uses the
teacher's (normalised) disparity instead, sampled per frame, with zero-disparity teacher pixels
(sky / infinity) excluded, "otherwise bins collapse toward 0".

For one frame with centres ``c (K,)`` and points ``p (N,)``::

    chamfer = mean_k min_n (c_k - p_n)^2 + mean_n min_k (c_k - p_n)^2

and the loss is the mean over the frames that have at least one point. Written with plain
tensor ops (a ``(B, K, N)`` distance matrix), no pytorch3d.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["ChamferBinsLoss", "chamfer_bins_loss", "sample_teacher_points"]


def _pad_points(points: Sequence[Tensor], like: Tensor) -> tuple[Tensor, Tensor]:
    n = max((int(p.numel()) for p in points), default=0)
    out = like.new_zeros(len(points), max(n, 1))
    mask = torch.zeros(len(points), max(n, 1), dtype=torch.bool, device=like.device)
    for i, p in enumerate(points):
        if p.dim() != 1:
            raise ValueError(f"target point set {i} must be 1-D, got {tuple(p.shape)}")
        out[i, : p.numel()] = p.to(like)
        mask[i, : p.numel()] = True
    return out, mask


def chamfer_bins_loss(
    centres: Tensor,
    target_points: Tensor | Sequence[Tensor],
    target_mask: Tensor | None = None,
) -> Tensor:
    """Bidirectional squared Chamfer distance between bin centres and target points.

    Args:
        centres: ``(B, K)`` bin centres (e.g. ``DepthOutput.extras["bin_centres"]``).
        target_points: ``(B, N)`` points per frame, or a list of ``B`` 1-D tensors of any
            lengths (e.g. the teacher's valid disparities of each frame).
        target_mask: optional ``(B, N)`` bool mask of real points in a padded ``(B, N)``
            tensor (as returned by :func:`sample_teacher_points`).

    Returns:
        Scalar: mean over frames with at least one point of ``mean_k min_n d + mean_n min_k d``
        with ``d = (c_k - p_n)^2``; 0 (with a graph) if no frame has points. Gradients flow
        to ``centres`` (and to ``target_points`` if they require them).

    Example:
        >>> c = torch.tensor([[0.0, 1.0]])
        >>> p = torch.tensor([[0.0, 0.5]])
        >>> float(chamfer_bins_loss(c, p))  # (0 + 0.25) / 2 + (0 + 0.25) / 2
        0.25
    """
    if centres.dim() != 2:
        raise ValueError(f"centres must be (B, K), got {tuple(centres.shape)}")
    if isinstance(target_points, Tensor):
        if target_points.dim() != 2 or target_points.shape[0] != centres.shape[0]:
            raise ValueError(f"target_points must be (B, N) with B = {centres.shape[0]}, got "
                             f"{tuple(target_points.shape)}")
        points = target_points.to(centres.dtype)
        mask = (torch.ones_like(points, dtype=torch.bool) if target_mask is None
                else target_mask.to(torch.bool))
        if mask.shape != points.shape:
            raise ValueError(f"target_mask {tuple(mask.shape)} must match target_points "
                             f"{tuple(points.shape)}")
    else:
        if len(target_points) != centres.shape[0]:
            raise ValueError(f"got {len(target_points)} point sets for {centres.shape[0]} frames")
        if target_mask is not None:
            raise ValueError("target_mask is only for a padded (B, N) tensor of points")
        points, mask = _pad_points(target_points, centres)

    d = (centres[:, :, None] - points[:, None, :]) ** 2  # (B, K, N)
    inf = torch.finfo(d.dtype).max
    centre_to_point = d.masked_fill(~mask[:, None, :], inf).amin(dim=2).mean(dim=1)
    point_to_centre = (d.amin(dim=1) * mask).sum(dim=1) / mask.sum(dim=1).clamp_min(1)
    has_points = mask.any(dim=1)
    per_frame = torch.where(has_points, centre_to_point + point_to_centre,
                            torch.zeros_like(point_to_centre))
    return per_frame.sum() / has_points.sum().clamp_min(1)


def sample_teacher_points(
    teacher_disp: Tensor,
    n_points: int,
    valid: Tensor | None = None,
    *,
    mask_zero: bool = True,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """Sample ``n_points`` disparities per frame (uniformly, with replacement) from a map.

    Args:
        teacher_disp: ``(B, 1, H, W)`` teacher disparity, raw or normalised (e.g. by
            :func:`litedepth.losses.distillation.normalise_teacher_disparity`).
        n_points: points per frame.
        valid: ``(B, 1, H, W)`` bool mask of pixels to sample from. When given it is used as
            is (pass the mask that ``normalise_teacher_disparity`` returns: in a normalised
            map a valid pixel may be exactly 0). When ``None``: ``teacher_disp > 0`` if
            ``mask_zero`` (sky / infinity excluded, as seed 001 requires), else every pixel.
        mask_zero: see ``valid``.
        generator: random generator (on the map's device) for reproducible samples.

    Returns:
        ``(points, mask)``, both ``(B, n_points)``: the sampled values (detached) and whether
        each is real (``False`` for every point of a frame with no valid pixel); pass both to
        :func:`chamfer_bins_loss` as ``target_points`` and ``target_mask``.

    Example:
        >>> t = torch.tensor([0.0, 0.0, 0.5, 0.7]).view(1, 1, 2, 2)
        >>> pts, ok = sample_teacher_points(t, 6, generator=torch.Generator().manual_seed(0))
        >>> bool(((pts == 0.5) | (pts == 0.7)).all()), bool(ok.all())
        (True, True)
    """
    if teacher_disp.dim() != 4 or teacher_disp.shape[1] != 1:
        raise ValueError(f"teacher_disp must be (B, 1, H, W), got {tuple(teacher_disp.shape)}")
    if n_points < 1:
        raise ValueError(f"n_points must be positive, got {n_points}")
    b = teacher_disp.shape[0]
    flat = teacher_disp.detach().reshape(b, -1)
    if valid is None:
        fmask = flat > 0 if mask_zero else torch.ones_like(flat, dtype=torch.bool)
    else:
        if valid.shape != teacher_disp.shape:
            raise ValueError(f"valid {tuple(valid.shape)} must match teacher_disp "
                             f"{tuple(teacher_disp.shape)}")
        fmask = valid.reshape(b, -1).to(torch.bool)
    has = fmask.any(dim=1, keepdim=True)
    weights = torch.where(has, fmask.to(flat.dtype), torch.ones_like(flat))
    idx = torch.multinomial(weights.float(), n_points, replacement=True, generator=generator)
    points = torch.gather(flat, 1, idx)
    return points, has.expand(b, n_points).clone()


class ChamferBinsLoss(nn.Module):
    """Module twin of :func:`chamfer_bins_loss`, times ``weight`` (AdaBins: 0.1).

    ``forward(centres, target_points, target_mask=None) -> scalar``.
    """

    def __init__(self, weight: float = 1.0) -> None:
        super().__init__()
        self.weight = weight

    def forward(self, centres: Tensor, target_points: Tensor | Sequence[Tensor],
                target_mask: Tensor | None = None) -> Tensor:
        return self.weight * chamfer_bins_loss(centres, target_points, target_mask)

    def extra_repr(self) -> str:
        return f"weight={self.weight}"
