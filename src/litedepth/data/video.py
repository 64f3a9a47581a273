"""Frame-sequence datasets for self-supervised (Monodepth2-style) depth and pose training.

Every dataset here yields samples of one schema (:class:`VideoSample`), whatever the source
(:class:`~litedepth.data.video_synthetic.SyntheticSequenceDataset`, :class:`~litedepth.data.video_folder.VideoFolderDataset`
for the user's own videos, :class:`~litedepth.data.kitti_raw.KittiRawDataset` for KITTI raw):

=============  =====================  ==========================================================
key            type / shape           meaning
=============  =====================  ==========================================================
``frames``     float32 (F, 3, H, W)   frames in ``[0, 1]`` in the order of ``dataset.frame_ids``
                                      (e.g. ``[0, -1, 1]`` or ``[0, -1, 1, "s"]``),
                                      **colour-augmented** (network inputs)
``frames_raw`` float32 (F, 3, H, W)   the same frames without colour augmentation (loss
                                      targets); a horizontal flip applies to both
``K``          float32 (3, 3)         **pixel** intrinsics for ``(H, W)`` (pixel centres at
                                      integer coordinates), after any resize and flip
``stereo_T``   float32 (4, 4)         only when ``"s"`` is in ``frame_ids``:
                                      ``T_source_from_target`` of the other stereo camera,
                                      identity rotation, ``[0, 3] = side_sign * flip_sign *
                                      baseline`` (side_sign -1 for a left target, +1 for right;
                                      flip_sign -1 when flipped; Monodepth2's convention)
``depth_gt``   float32 (1, Hg, Wg)    metres, 0 = invalid; only for datasets with ground truth
                                      (flipped with the frames; not resized to ``(H, W)``)
``pose_gt``    float32 (F', 4, 4)     only for datasets with poses (synthetic):
                                      ``T_source_from_target`` (``X_source = T @ X_target``) of
                                      every non-zero temporal id, in ``frame_ids`` order;
                                      mirrored (``M T M``, ``M = diag(-1, 1, 1, 1)``) when flipped
``name``       str                    stable dataset-relative key of the target frame
=============  =====================  ==========================================================

``F' = F - 1`` without ``"s"``. Temporal ids are frame offsets multiplied by ``frame_step``.
A target is in the index only when all its temporal neighbours exist in its sequence:
targets near a sequence's ends are skipped (never padded or clamped).

Augmentation (training only; :mod:`litedepth.data.augment`): a horizontal flip with
probability ``hflip_p`` and colour jitter drawn once per sample. Random draws use torch's
global generator, which ``DataLoader`` seeds differently in every worker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from litedepth.data.augment import ColorJitter, augment_sample, mirror_pose, pack_augmentation
from litedepth.errors import ConfigError, DataError

log = logging.getLogger(__name__)

__all__ = [
    "STEREO",
    "FrameId",
    "collate_native",
    "SequenceDataset",
    "TargetRef",
    "VideoSample",
    "parse_frame_ids",
    "temporal_targets",
    "validate_sample",
]

FrameId = int | str
#: The frame id of the other stereo camera.
STEREO = "s"

#: Stereo baseline of Monodepth2's KITTI training, in its arbitrary units (the real baseline is
#: 0.54 m, hence the x5.4 for stereo-trained models at evaluation).
KITTI_STEREO_BASELINE = 0.1


class VideoSample(TypedDict, total=False):
    """One training sample (see the module docstring for the meaning of each key)."""

    frames: Tensor
    frames_raw: Tensor
    K: Tensor
    stereo_T: Tensor
    depth_gt: Tensor
    pose_gt: Tensor
    name: str


@dataclass(frozen=True)
class TargetRef:
    """One target frame of a dataset's index.

    Attributes:
        sequence: the sequence it belongs to (dataset-specific key, e.g. ``"seq0003"`` or
            ``"2011_09_26/2011_09_26_drive_0002_sync"``).
        frame: the target's frame number within the sequence (a list position, or KITTI's
            frame number); temporal neighbour ``i`` is ``frame + i * frame_step``.
        name: the stable dataset-relative key returned as ``sample["name"]``.
        side: ``"l"`` / ``"r"`` for stereo datasets, else ``None``.
    """

    sequence: str
    frame: int
    name: str
    side: str | None = None


def parse_frame_ids(frame_ids: Sequence[FrameId]) -> tuple[FrameId, ...]:
    """Validate frame ids: ``0`` first, then distinct temporal offsets and/or ``"s"``.

    Integers given as strings (``"-1"``, from a command line) are converted.

    Raises:
        ConfigError: empty, not starting with 0, duplicates, or an id that is neither an
            integer nor ``"s"``.
    """
    if isinstance(frame_ids, (str, bytes)) or not isinstance(frame_ids, Sequence):
        raise ConfigError(f"frame_ids must be a list such as [0, -1, 1], got {frame_ids!r}")
    out: list[FrameId] = []
    for fid in frame_ids:
        if isinstance(fid, bool):
            raise ConfigError(f"frame id {fid!r} is neither an integer offset nor 's'")
        if isinstance(fid, (int, np.integer)):
            out.append(int(fid))
        elif isinstance(fid, str) and fid.strip() == STEREO:
            out.append(STEREO)
        elif isinstance(fid, str) and fid.strip().lstrip("+-").isdigit():
            out.append(int(fid))
        else:
            raise ConfigError(f"frame id {fid!r} is neither an integer offset nor 's'")
    if not out or out[0] != 0:
        raise ConfigError(f"frame_ids must start with the target 0, got {list(frame_ids)}")
    if len(set(out)) != len(out):
        raise ConfigError(f"frame_ids must be distinct, got {list(frame_ids)}")
    return tuple(out)


def temporal_targets(
    n_frames: int, frame_ids: Sequence[FrameId], frame_step: int = 1, target_stride: int = 1
) -> range:
    """Positions of the targets of a sequence of ``n_frames`` whose neighbours all exist.

    Target ``t`` needs frames ``t + i * frame_step`` for every temporal id ``i``; targets
    closer to an end are skipped. Every ``target_stride``-th valid target is kept.

    Returns:
        A (possibly empty) ``range`` of positions in ``[0, n_frames)``.
    """
    if int(frame_step) < 1 or int(target_stride) < 1:
        raise ConfigError(f"frame_step and target_stride must be >= 1, got {frame_step}, {target_stride}")
    offsets = [int(f) for f in frame_ids if f != STEREO] or [0]
    lo = -min(0, min(offsets)) * int(frame_step)
    hi = max(0, max(offsets)) * int(frame_step)
    return range(lo, int(n_frames) - hi, int(target_stride))


def frames_needed(frame_ids: Sequence[FrameId], frame_step: int = 1) -> int:
    """Minimum sequence length that holds at least one target with all its neighbours."""
    offsets = [int(f) for f in frame_ids if f != STEREO] or [0]
    return (max(0, max(offsets)) - min(0, min(offsets))) * int(frame_step) + 1


def validate_sample(sample: dict[str, Any], frame_ids: Sequence[FrameId]) -> None:
    """Check a sample (unbatched) against the schema of the module docstring.

    Raises:
        ValueError: naming the first key that is missing or has the wrong shape, dtype or range.
    """
    ids = parse_frame_ids(frame_ids)
    n_f = len(ids)
    n_temporal = sum(1 for f in ids if f != 0 and f != STEREO)
    for key in ("frames", "frames_raw", "K", "name"):
        if key not in sample:
            raise ValueError(f"sample lacks {key!r}")
    frames = sample["frames"]
    if not isinstance(frames, Tensor) or frames.dim() != 4 or frames.shape[:2] != (n_f, 3):
        raise ValueError(f"frames must be ({n_f}, 3, H, W), got {getattr(frames, 'shape', frames)}")
    h, w = frames.shape[-2:]
    for key in ("frames", "frames_raw"):
        t = sample[key]
        if t.shape != frames.shape or t.dtype != torch.float32:
            raise ValueError(f"{key} must be float32 {tuple(frames.shape)}, got {t.dtype} {tuple(t.shape)}")
        if t.numel() and (t.min() < 0 or t.max() > 1):
            raise ValueError(f"{key} must lie in [0, 1]")
    K = sample["K"]
    if K.shape != (3, 3) or K.dtype != torch.float32:
        raise ValueError(f"K must be float32 (3, 3), got {K.dtype} {tuple(K.shape)}")
    if not (0 < K[0, 0] and 0 < K[1, 1] and -0.5 <= K[0, 2] <= w - 0.5 and -0.5 <= K[1, 2] <= h - 0.5):
        raise ValueError(f"K does not look like pixel intrinsics of a {w}x{h} image: {K.tolist()}")
    if STEREO in ids:
        T = sample.get("stereo_T")
        if T is None or T.shape != (4, 4) or T.dtype != torch.float32:
            raise ValueError("stereo_T must be float32 (4, 4) when 's' is in frame_ids")
    elif "stereo_T" in sample:
        raise ValueError("stereo_T present although 's' is not in frame_ids")
    if "pose_gt" in sample:
        P = sample["pose_gt"]
        if P.shape != (n_temporal, 4, 4) or P.dtype != torch.float32:
            raise ValueError(f"pose_gt must be float32 ({n_temporal}, 4, 4), got {P.dtype} {tuple(P.shape)}")
    if "depth_gt" in sample:
        D = sample["depth_gt"]
        if D.dim() != 3 or D.shape[0] != 1 or D.dtype != torch.float32 or (D < 0).any():
            raise ValueError(f"depth_gt must be float32 (1, Hg, Wg) >= 0, got {D.dtype} {tuple(D.shape)}")
    if not isinstance(sample["name"], str) or not sample["name"]:
        raise ValueError("name must be a non-empty string")


def _to_uint8_frames(images: Sequence[np.ndarray]) -> Tensor:
    """``(F, 3, H, W)`` uint8 (contiguous) from ``F`` decoded ``(H, W, 3)`` images."""
    arr = np.stack([np.asarray(im, dtype=np.uint8) for im in images])  # (F, H, W, 3)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def collate_native(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Collate samples of a dataset built with ``augment_on_device=True``.

    Frames of different stored sizes (KITTI dates differ by a few pixels) are zero-padded at
    the bottom and right to the largest; ``native_hw`` keeps each sample's own size, so
    :func:`~litedepth.data.augment.augment_batch` crops the padding off before resizing.
    Every other key is collated as ``torch.utils.data.default_collate`` does.
    """
    from torch.utils.data import default_collate

    frames = [s["frames_u8"] for s in samples]
    h = max(int(f.shape[-2]) for f in frames)
    w = max(int(f.shape[-1]) for f in frames)
    batch = default_collate([{k: v for k, v in s.items() if k != "frames_u8"} for s in samples])
    out = frames[0].new_zeros((len(frames), *frames[0].shape[:-2], h, w))
    for i, f in enumerate(frames):
        out[i, ..., :f.shape[-2], :f.shape[-1]] = f
    batch["frames_u8"] = out
    return batch


class SequenceDataset(Dataset):
    """Base class: builds :class:`VideoSample` dicts from an index of :class:`TargetRef`.

    Subclasses fill :attr:`targets` and implement :meth:`load_frame` and
    :meth:`native_intrinsics`, and optionally :meth:`load_depth_gt` (set :attr:`has_depth_gt`),
    :meth:`load_pose_gt` (set :attr:`has_pose_gt`) and :meth:`stereo_side_sign`.

    Args:
        frame_ids: target ``0`` first, then temporal offsets and/or ``"s"``.
        size: ``(H, W)`` of the returned frames (antialiased bilinear resize, ``K`` scaled by
            :func:`~litedepth.data.augment.resize_intrinsics`); ``None`` keeps the stored size.
        frame_step: temporal id ``i`` is the frame ``i * frame_step`` positions away.
        color_jitter: colour jitter sampler (``None`` = off); e.g. ``ColorJitter(p=0.5)``.
        hflip_p: probability of a horizontal flip of the whole sample (0 = off; 0.5 to train).
        stereo_baseline: ``|stereo_T[0, 3]|`` (0.1 = Monodepth2's KITTI units).
        augment_on_device: leave resizing, flipping and colour jitter to the training device:
            samples then hold ``frames_u8`` ``(F, 3, h, w)`` uint8 at the stored size,
            ``native_hw``, ``K_native`` (pixel intrinsics of the stored frames) and ``augment``
            (the draws, :func:`~litedepth.data.augment.pack_augmentation`) instead of
            ``frames`` / ``frames_raw`` / ``K``; batch them with :func:`collate_native` and
            call :func:`~litedepth.data.augment.augment_batch` on the device (the
            :class:`~litedepth.data.video_module.VideoDataModule` does both). The draws are
            made here, once per sample, exactly as without this option, and give the same
            frames. Ground truth, poses, ``stereo_T`` and teacher maps are prepared here as usual.
    """

    root: Path
    targets: list[TargetRef]
    has_depth_gt: bool = False
    has_pose_gt: bool = False

    def __init__(
        self,
        frame_ids: Sequence[FrameId] = (0, -1, 1),
        size: Sequence[int] | None = None,
        *,
        frame_step: int = 1,
        color_jitter: ColorJitter | None = None,
        hflip_p: float = 0.0,
        stereo_baseline: float = KITTI_STEREO_BASELINE,
        augment_on_device: bool = False,
    ) -> None:
        self.frame_ids = parse_frame_ids(frame_ids)
        self.augment_on_device = bool(augment_on_device)
        if size is not None:
            if len(size) != 2 or min(int(v) for v in size) < 2:
                raise ConfigError(f"size must be (H, W) with both >= 2, got {size!r}")
            size = (int(size[0]), int(size[1]))
        self.size: tuple[int, int] | None = size
        if int(frame_step) < 1:
            raise ConfigError(f"frame_step must be >= 1, got {frame_step}")
        self.frame_step = int(frame_step)
        if not 0.0 <= float(hflip_p) <= 1.0:
            raise ConfigError(f"hflip_p must be in [0, 1], got {hflip_p}")
        self.hflip_p = float(hflip_p)
        self.color_jitter = color_jitter
        if not float(stereo_baseline) > 0:
            raise ConfigError(f"stereo_baseline must be positive, got {stereo_baseline}")
        self.stereo_baseline = float(stereo_baseline)
        self.targets = []

    # ------------------------------------------------------------------ subclass hooks

    @property
    def temporal_ids(self) -> list[int]:
        """The non-zero temporal ids, in ``frame_ids`` order (the rows of ``pose_gt``)."""
        return [int(f) for f in self.frame_ids if f != 0 and f != STEREO]

    def position(self, ref: TargetRef, frame_id: int) -> int:
        """Frame number of temporal id ``frame_id`` for target ``ref``."""
        return ref.frame + int(frame_id) * self.frame_step

    def load_frame(self, ref: TargetRef, frame_id: FrameId) -> np.ndarray:
        """``(h, w, 3)`` uint8 RGB of frame ``frame_id`` (an offset or ``"s"``) of target ``ref``."""
        raise NotImplementedError

    def native_intrinsics(self, ref: TargetRef, native_size: tuple[int, int]) -> np.ndarray:
        """``(3, 3)`` pixel intrinsics of the stored frames of ``ref`` (size ``(h, w)``)."""
        raise NotImplementedError

    def load_depth_gt(self, ref: TargetRef) -> np.ndarray:
        """``(Hg, Wg)`` float32 metres, 0 = invalid (only called when :attr:`has_depth_gt`)."""
        raise NotImplementedError

    def load_pose_gt(self, ref: TargetRef) -> np.ndarray:
        """``(len(temporal_ids), 4, 4)`` ``T_source_from_target`` (only when :attr:`has_pose_gt`)."""
        raise NotImplementedError

    def stereo_side_sign(self, ref: TargetRef) -> float:
        """-1 when the target is the left camera, +1 for the right (Monodepth2)."""
        raise ConfigError(f"{type(self).__name__} has no stereo pairs; remove 's' from frame_ids")

    # ------------------------------------------------------------------ sample assembly

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index: int) -> VideoSample:
        ref = self.targets[index]
        images = [self.load_frame(ref, fid) for fid in self.frame_ids]
        native = images[0].shape[:2]
        for fid, im in zip(self.frame_ids, images):
            if im.shape[:2] != native:
                raise DataError(
                    getattr(self, "root", None),
                    f"{ref.name}: frame {fid!r} is {im.shape[1]}x{im.shape[0]} but the target is "
                    f"{native[1]}x{native[0]} (frames of a sample must share one size)",
                )
        out_size = self.size or (int(native[0]), int(native[1]))
        K_native = torch.as_tensor(np.asarray(self.native_intrinsics(ref, (int(native[0]), int(native[1]))),
                                              dtype=np.float64))
        flip = self.hflip_p > 0 and float(torch.rand(())) < self.hflip_p
        jitter = self.color_jitter.sample() if self.color_jitter is not None else None
        frames_u8 = _to_uint8_frames(images)
        sample: VideoSample
        if self.augment_on_device:  # resized, flipped and jittered by augment_batch on the device
            sample = {"frames_u8": frames_u8, "native_hw": torch.tensor([int(native[0]), int(native[1])]),
                      "K_native": K_native.to(torch.float32), "augment": pack_augmentation(flip, jitter)}
        else:
            raw, frames, K = augment_sample(frames_u8, K_native, out_size, flip, jitter)
            sample = {
                "frames": frames.clone() if frames is raw else frames.contiguous(),
                "frames_raw": raw.contiguous(),
                "K": K.to(torch.float32),
            }
        if STEREO in self.frame_ids:
            T = torch.eye(4, dtype=torch.float32)
            T[0, 3] = self.stereo_side_sign(ref) * (-1.0 if flip else 1.0) * self.stereo_baseline
            sample["stereo_T"] = T
        if self.has_depth_gt:
            depth = torch.from_numpy(np.ascontiguousarray(self.load_depth_gt(ref), dtype=np.float32))[None]
            sample["depth_gt"] = depth.flip(-1).contiguous() if flip else depth
        if self.has_pose_gt:
            pose = torch.as_tensor(np.asarray(self.load_pose_gt(ref)), dtype=torch.float32).reshape(-1, 4, 4)
            sample["pose_gt"] = mirror_pose(pose) if flip else pose
        if getattr(self, "teacher_cache", None) is not None:
            sample["teacher"] = self._teacher_map(ref, out_size, flip)
        sample["name"] = ref.name
        return sample

    def use_pseudo_labels(self, cache_root: str | Path) -> None:
        """Return each target's cached teacher map as ``sample["teacher"]``.

        The cache is the folder written by ``litedepth pseudo-label`` (keys = ``sample["name"]``).
        ``sample["teacher"]`` is ``(1, H, W)`` float32 at the sample size, resized with
        nearest neighbour (zero-disparity sky pixels stay exactly zero, no value is blended with
        them) and flipped with the frames.
        """
        from litedepth.io.pseudo_labels import PseudoLabelCache

        root = Path(cache_root)
        if not root.is_dir():
            raise DataError(root, "pseudo-label cache folder not found (run `litedepth pseudo-label` first)")
        self.teacher_cache = PseudoLabelCache(root, write_manifest=False)

    def _teacher_map(self, ref: TargetRef, size: Sequence[int], flip: bool) -> Tensor:
        cache = self.teacher_cache
        try:
            values = cache.get(ref.name)
        except KeyError:
            raise DataError(cache.root, f"no pseudo-label for frame {ref.name!r}") from None
        t = torch.from_numpy(values)[None, None]
        if tuple(t.shape[-2:]) != tuple(size):
            t = F.interpolate(t, size=tuple(int(v) for v in size), mode="nearest-exact")
        t = t[0]
        return t.flip(-1).contiguous() if flip else t

    def describe(self) -> str:
        """One line for logs: class, root, number of targets and frame ids."""
        return (
            f"{type(self).__name__}({getattr(self, 'root', '?')}): {len(self)} targets, "
            f"frame_ids={list(self.frame_ids)}, frame_step={self.frame_step}, size={self.size}"
        )


def resize_depth_nearest(depth: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Nearest-neighbour resize of a depth map (invalid zeros stay zero, no depth is invented).

    Args:
        depth: ``(h, w)`` float metres. size: ``(H, W)``.

    Returns:
        ``(H, W)`` float32.
    """
    h, w = int(size[0]), int(size[1])
    if depth.shape == (h, w):
        return np.asarray(depth, np.float32)
    t = torch.from_numpy(np.ascontiguousarray(depth, np.float32))[None, None]
    return F.interpolate(t, size=(h, w), mode="nearest-exact")[0, 0].numpy()


# Moved to their own modules (which import this one); still importable from here.
_MOVED = {
    "SyntheticSequenceDataset": "litedepth.data.video_synthetic",
    "select_sequences": "litedepth.data.video_split",
    "SequenceOptions": "litedepth.data.video_split",
    "SplitSequenceDataset": "litedepth.data.video_split",
}


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        import importlib

        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
