"""Pose metrics: the KITTI odometry absolute trajectory error (ATE) of Monodepth2.

The protocol (Zhou et al., SfMLearner, CVPR 2017, as run by Monodepth2's ``evaluate_pose.py``
on KITTI odometry sequences 09 and 10; Monodepth2 M reports 0.017 ± 0.008 and 0.015 ± 0.010):

1. The pose network sees each consecutive pair ``(i, i + 1)`` in temporal order and predicts
   one relative pose per pair: ``N`` frames give ``N - 1`` relative poses.
2. For every start frame ``i = 0 .. N - 2`` a snippet of up to ``track_length = 5`` frames
   (fewer at the end of the sequence, down to 2) is chained from the relative poses,
   starting at the origin (:func:`snippets_from_relative`); the ground-truth snippet is
   chained the same way from relative poses derived from the absolute ground truth
   (:func:`relative_from_absolute`).
3. Each snippet pair is aligned (first positions subtracted, least-squares scale on the
   prediction) and scored by :func:`compute_ate`; the result is the mean ± standard
   deviation (population, ``ddof=0``) over all ``N - 1`` snippets (:func:`evaluate_ate`).

Conventions (the same as :meth:`litedepth.tasks.SelfSupervisedDepthTask.poses`):

* Absolute poses ``G_i`` ``(4, 4)`` are **camera-to-world**: ``X_world = G_i @ X_cam_i``
  (KITTI ``poses/NN.txt``; positions in metres).
* A relative pose ``rel[i]`` is ``T_{i+1 <- i} = inv(G_{i+1}) @ G_i``, so that
  ``X_{i+1} = rel[i] @ X_i``. For the pair (target ``i``, source ``i + 1``) this is the
  project's ``T_source_from_target``: what ``SelfSupervisedDepthTask.poses`` returns for frame
  id ``+1``, and what ``PoseNet(cat(frame_i, frame_{i+1})).matrix(0, invert=False)`` gives. It
  is also what Monodepth2's ``evaluate_pose.py`` saves as ``poses.npy`` and what its ground
  truth uses (``inv(inv(G_i) @ G_{i+1})``).
* Snippet chaining is the SfMLearner product, applied identically to prediction and ground
  truth: ``M_0 = I``, ``M_k = M_{k-1} @ rel[i + k - 1]``, position ``xyz_k = M_k[:3, 3]``.
  (This right-multiplies ``T_{j+1 <- j}`` in temporal order; it is not the composed transform
  ``T_{i+k <- i}``, but both sides are built the same way and the published numbers measure
  exactly this.)

The per-snippet score is ``sqrt(sum_k |s p_k - g_k|^2) / L`` — the normalisation of the
published code (``RMSE / sqrt(L)``), not the plain RMSE ``sqrt(mean_k |.|^2)``; see
:func:`compute_ate`.

Example:
    >>> import numpy as np
    >>> gt = np.tile(np.eye(4), (6, 1, 1)); gt[:, 2, 3] = np.arange(6.0)   # 1 m forward per frame
    >>> rel = relative_from_absolute(gt)
    >>> rel[:, :3, 3] *= 0.5                                               # half the scale
    >>> r = evaluate_ate(gt, rel)
    >>> r.n_snippets, round(r.mean, 12)
    (5, 0.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import DataError

__all__ = [
    "PoseEvalResult",
    "compute_ate",
    "evaluate_ate",
    "read_kitti_poses",
    "relative_from_absolute",
    "snippets_from_relative",
    "write_kitti_poses",
]

#: Frames per snippet in SfMLearner / Monodepth2 (``track_length = 5``).
TRACK_LENGTH = 5


# --------------------------------------------------------------------------------------- files


def read_kitti_poses(path: str | Path) -> np.ndarray:
    """Read a KITTI odometry ground-truth file (``poses/NN.txt``).

    Args:
        path: text file, one pose per line: 12 numbers, the 3x4 camera-to-world matrix
            ``[R | t]`` in row-major order (translation in metres). Blank lines are skipped.

    Returns:
        ``(N, 4, 4)`` float64 camera-to-world poses (last row ``0 0 0 1``).

    Raises:
        DataError: unreadable file, no poses, a line that is not 12 numbers, or a
            non-finite value (naming the line).
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise DataError(path, f"cannot read poses file ({exc.strerror or exc})") from exc
    rows = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise DataError(path, f"line {lineno}: not a list of numbers") from None
        if len(values) != 12:
            raise DataError(path, f"line {lineno}: expected 12 numbers (3x4 camera-to-world, row-major), "
                            f"got {len(values)}")
        if not np.all(np.isfinite(values)):
            raise DataError(path, f"line {lineno}: non-finite value (NaN or inf)")
        rows.append(values)
    if not rows:
        raise DataError(path, "no poses in the file")
    poses = np.tile(np.eye(4), (len(rows), 1, 1))
    poses[:, :3, :] = np.asarray(rows, np.float64).reshape(-1, 3, 4)
    return poses


def write_kitti_poses(path: str | Path, poses: np.ndarray) -> None:
    """Write ``(N, 4, 4)`` (or ``(N, 3, 4)``) camera-to-world poses as a KITTI ``poses/NN.txt``
    (12 numbers per line, row-major, atomically). Inverse of :func:`read_kitti_poses`."""
    from litedepth.utils.atomic import atomic_open

    arr = np.asarray(poses, np.float64)
    if arr.ndim != 3 or arr.shape[1:] not in ((4, 4), (3, 4)):
        raise ValueError(f"poses must have shape (N, 4, 4) or (N, 3, 4), got {arr.shape}")
    with atomic_open(path, "w") as f:
        f.writelines(" ".join(f"{v:.12e}" for v in p[:3].reshape(-1)) + "\n" for p in arr)


# --------------------------------------------------------------------------------------- maths


def _check_poses(poses: Any, name: str) -> np.ndarray:
    arr = np.asarray(poses, np.float64)
    if arr.ndim != 3 or arr.shape[1:] != (4, 4):
        raise DataError(None, f"{name} must have shape (N, 4, 4), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise DataError(None, f"{name} contain non-finite values")
    return arr


def relative_from_absolute(poses_c2w: np.ndarray) -> np.ndarray:
    """Consecutive relative poses from absolute camera-to-world poses.

    Args:
        poses_c2w: ``(N, 4, 4)`` camera-to-world poses ``G_i``.

    Returns:
        ``(N - 1, 4, 4)`` float64 ``rel[i] = inv(G_{i+1}) @ G_i = T_{i+1 <- i}``
        (``X_{i+1} = rel[i] @ X_i``; the project's ``T_source_from_target`` for target ``i``,
        source ``i + 1``).
    """
    g = _check_poses(poses_c2w, "poses")
    return np.linalg.inv(g[1:]) @ g[:-1]


def snippets_from_relative(rel_poses: np.ndarray, track_length: int = TRACK_LENGTH) -> list[np.ndarray]:
    """Local trajectories of up to ``track_length`` frames chained from relative poses.

    Args:
        rel_poses: ``(N - 1, 4, 4)`` relative poses ``rel[i] = T_{i+1 <- i}`` (see the module
            docstring; PoseNet on the pair ``(i, i + 1)``, not inverted).
        track_length: frames per snippet (5 in the published protocol), >= 2.

    Returns:
        ``N - 1`` arrays, snippet ``i`` of shape ``(L_i, 3)`` with ``L_i = min(track_length,
        N - i)``: ``xyz_0 = 0`` and ``xyz_k = M_k[:3, 3]`` with ``M_k = rel[i] @ rel[i+1] @ ...
        @ rel[i+k-1]`` (units of the translations: metres for ground truth, the network's
        scale-ambiguous units for a monocular prediction).
    """
    rel = _check_poses(rel_poses, "relative poses")
    if int(track_length) < 2:
        raise ValueError(f"track_length must be >= 2, got {track_length}")
    snippets = []
    for i in range(len(rel)):
        chunk = rel[i:i + int(track_length) - 1]
        xyz = np.zeros((len(chunk) + 1, 3))
        m = np.eye(4)
        for k, step in enumerate(chunk, start=1):
            m = m @ step
            xyz[k] = m[:3, 3]
        snippets.append(xyz)
    return snippets


def compute_ate(gt_xyz: np.ndarray, pred_xyz: np.ndarray) -> float:
    """Scale-aligned trajectory error of one snippet (SfMLearner / Monodepth2 ``compute_ate``).

    With ``g_k = gt_k - gt_0`` and ``p_k = pred_k - pred_0`` (first frames aligned), the
    least-squares scale ``s = sum(g · p) / sum(p · p)`` (0 when the prediction does not move)
    and ``L`` frames::

        ate = sqrt(sum_k |s p_k - g_k|^2) / L

    This is the published normalisation (``= RMSE / sqrt(L)``, with ``RMSE`` the root mean
    squared position error), kept so that numbers compare with the papers. For snippets that
    start at the origin (all of :func:`snippets_from_relative`'s) the first-frame alignment is
    the published ``pred + (gt_0 - pred_0)``.

    Args:
        gt_xyz: ``(L, 3)`` ground-truth positions in metres.
        pred_xyz: ``(L, 3)`` predicted positions (any scale).

    Returns:
        The error in metres.

    Example:
        >>> gt = np.array([[0.0, 0, 0], [0, 0, 1], [0, 0, 2]])
        >>> compute_ate(gt, 3 * gt)  # scale is free
        0.0
    """
    g = np.asarray(gt_xyz, np.float64)
    p = np.asarray(pred_xyz, np.float64)
    if g.ndim != 2 or g.shape[1] != 3 or g.shape != p.shape or len(g) < 1:
        raise ValueError(f"gt_xyz and pred_xyz must both have shape (L, 3), got {g.shape} and {p.shape}")
    g = g - g[0]
    p = p - p[0]
    denom = float(np.sum(p * p))
    scale = float(np.sum(g * p)) / denom if denom > 0 else 0.0
    return float(np.sqrt(np.sum((scale * p - g) ** 2)) / len(g))


@dataclass(frozen=True)
class PoseEvalResult:
    """ATE over all snippets of a sequence.

    Attributes:
        mean, std: mean and population standard deviation of the per-snippet ATE (metres).
        n_snippets: number of snippets (``N - 1`` for ``N`` frames).
        per_snippet: ``(n_snippets,)`` float64 ATE of the snippet starting at each frame.
        track_length: frames per snippet.
    """

    mean: float
    std: float
    n_snippets: int
    per_snippet: np.ndarray
    track_length: int = TRACK_LENGTH

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (``per_snippet`` as a list)."""
        return {"ate_mean": self.mean, "ate_std": self.std, "n_snippets": self.n_snippets,
                "track_length": self.track_length, "per_snippet": [float(v) for v in self.per_snippet]}


def evaluate_ate(gt_poses: np.ndarray, rel_poses: np.ndarray, track_length: int = TRACK_LENGTH) -> PoseEvalResult:
    """The KITTI odometry ATE protocol for one sequence.

    Args:
        gt_poses: ``(N, 4, 4)`` ground-truth camera-to-world poses (metres), e.g. from
            :func:`read_kitti_poses`.
        rel_poses: ``(N - 1, 4, 4)`` predicted relative poses ``T_{i+1 <- i}`` for the
            pairs ``(i, i + 1)`` (:func:`snippets_from_relative`'s convention).
        track_length: frames per snippet (5).

    Returns:
        :class:`PoseEvalResult` over the ``N - 1`` snippets.

    Raises:
        DataError: wrong shapes, non-finite values, or ``len(rel_poses) != len(gt_poses) - 1``.
    """
    gt = _check_poses(gt_poses, "ground-truth poses")
    rel = _check_poses(rel_poses, "predicted poses")
    if len(gt) < 2:
        raise DataError(None, f"need at least 2 ground-truth poses, got {len(gt)}")
    if len(rel) != len(gt) - 1:
        raise DataError(None, f"{len(rel)} predicted relative poses for {len(gt)} ground-truth poses "
                        f"(expected {len(gt) - 1}: one per consecutive frame pair)")
    gt_snippets = snippets_from_relative(relative_from_absolute(gt), track_length)
    pred_snippets = snippets_from_relative(rel, track_length)
    ates = np.array([compute_ate(g, p) for g, p in zip(gt_snippets, pred_snippets, strict=True)])
    return PoseEvalResult(float(ates.mean()), float(ates.std()), len(ates), ates, int(track_length))
