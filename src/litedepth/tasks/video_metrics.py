"""Validation metrics of self-supervised (video) training: depth errors against ground truth
and the direction of the estimated camera motion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["DEPTH_KEYS", "depth_metrics", "pose_direction_cosine"]

#: depth metrics logged on validation batches with ``depth_gt``
DEPTH_KEYS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1")


def depth_metrics(depth: Tensor, gt: Tensor, max_depth: float, median_scaling: bool) -> tuple[dict[str, float], int]:
    """Mean depth metrics of a batch over the images with valid ground truth.

    Args:
        depth: predicted depth ``(B, 1, H, W)``.
        gt: ground-truth depth ``(B, 1, H, W)`` in metres, 0 = none; values ``>= max_depth``
            are ignored.
        median_scaling: scale each prediction by the ratio of medians first (monocular).

    Returns:
        ``({key: value for key in DEPTH_KEYS}, images scored)``; ``({}, 0)`` when no image has
        valid ground truth.
    """
    from litedepth.metrics.evaluate import evaluate_arrays

    depth, gt = depth.detach().float(), gt.float()
    items = []
    for i in range(depth.shape[0]):
        g = gt[i, 0].clone()
        g[g >= max_depth] = 0
        if (g > 0).any():
            items.append((str(i), depth[i, 0].cpu().numpy(), g.cpu().numpy()))
    if not items:
        return {}, 0
    res = evaluate_arrays(items, "none", pred_kind="depth", median_scaling=median_scaling)
    return {key: res.metrics[key] for key in DEPTH_KEYS}, len(items)


def pose_direction_cosine(poses: Mapping[Any, Tensor], pose_gt: Tensor, temporal: Sequence[Any]) -> Tensor:
    """Mean cosine between estimated and true translation directions.

    Args:
        poses: ``{frame_id: T_source_from_target (B, 4, 4)}`` estimated.
        pose_gt: ``(B, len(temporal), 4, 4)`` true transforms, in ``temporal`` order.
        temporal: the temporal source ids.

    Returns:
        Scalar in ``[-1, 1]`` (1: every estimated translation points the true way).
    """
    cos = [F.cosine_similarity(poses[fid][:, :3, 3], pose_gt[:, j, :3, 3].float(), dim=-1)
           for j, fid in enumerate(temporal)]
    return torch.cat(cos).mean()
