"""The synthetic dataset as training sequences (:class:`SyntheticSequenceDataset`), with exact
depth and pose ground truth; samples follow the schema of :mod:`litedepth.data.video`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.data.augment import resize_intrinsics
from litedepth.data.synthetic import read_poses_txt, relative_transform
from litedepth.data.video import FrameId, TargetRef
from litedepth.data.video_split import SequenceOptions, SplitSequenceDataset
from litedepth.errors import ConfigError, DataError
from litedepth.io.images import read_depth, read_rgb

log = logging.getLogger(__name__)

__all__ = ["SyntheticSequenceDataset"]


class SyntheticSequenceDataset(SplitSequenceDataset):
    """Sequences written by :func:`litedepth.data.synthetic.make_dataset`, with exact GT.

    Reads ``root/images/<seq>_<idx>.png``, ``root/depth/<seq>_<idx>.png`` (uint16 mm),
    ``root/poses/<seq>.txt`` (camera-to-world, one 4x4 per line) and ``root/intrinsics.json``
    (pixel ``K`` for ``width x height``). Samples carry ``depth_gt`` (the target's exact depth at
    the rendered size, when ``load_gt``) and ``pose_gt`` (``T_source_from_target =
    relative_transform(pose[target], pose[source])``). Names are ``"<seq>/<idx:06d>"``.

    Args:
        root: the dataset folder.
        split: ``train`` / ``val`` / ``test`` / ``all``: a deterministic split by whole
            sequences (``fractions``, ``split_seed``), so held-out frames come from unseen
            scenes; ignored when ``sequences`` names them.
        frame_ids, size: see :class:`~litedepth.data.video.SequenceDataset`. ``"s"`` is not
            supported (no stereo camera).
        frame_range: keep targets whose position ``t / len(sequence)`` lies in
            ``[lo, hi)`` — e.g. ``(0, 0.8)`` to train and ``(0.8, 1)`` to test on later,
            unseen frames of the same scenes.
        load_gt: include ``depth_gt`` (``pose_gt`` is always included).
        options, option_values: the :class:`~litedepth.data.video_split.SequenceOptions`
            (``sequences`` such as ``["seq0000", "seq0002"]``, ``fractions``, ``split_seed``,
            ``frame_step``, ``target_stride``, ``color_jitter``, ``hflip_p``,
            ``augment_on_device``), as an object and/or by name.
    """

    has_pose_gt = True
    sequences_are = "synthetic sequences"

    def __init__(
        self, root: str | Path, split: str = "train", frame_ids: Sequence[FrameId] = (0, -1, 1),
        size: Sequence[int] | None = None, *, frame_range: Sequence[float] = (0.0, 1.0), load_gt: bool = True,
        options: SequenceOptions | None = None, **option_values: Any,
    ) -> None:
        super().__init__(root, split, frame_ids, size, SequenceOptions.of(options, **option_values))
        lo, hi = (float(v) for v in frame_range)
        if not 0.0 <= lo < hi <= 1.0:
            raise ConfigError(f"frame_range must satisfy 0 <= lo < hi <= 1, got {tuple(frame_range)}")
        self.has_depth_gt = bool(load_gt)
        self._K, self._K_size = self._read_intrinsics(self.root / "intrinsics.json")
        poses_dir = self.root / "poses"
        if not poses_dir.is_dir():
            raise DataError(poses_dir, "folder not found (expected make_dataset output: images/, depth/, poses/)")
        all_names = sorted(p.stem for p in poses_dir.glob("*.txt") if p.is_file())
        if not all_names:
            raise DataError(poses_dir, "no <sequence>.txt pose files")
        chosen = self.choose_sequences(all_names)
        images = {p.name for p in (self.root / "images").glob("*.png")} if (self.root / "images").is_dir() else set()
        self.poses: dict[str, np.ndarray] = {}
        skipped = 0
        for seq in chosen:
            poses = read_poses_txt(poses_dir / f"{seq}.txt")
            missing = [f"{seq}_{i:06d}.png" for i in range(len(poses)) if f"{seq}_{i:06d}.png" not in images]
            if missing:
                raise DataError(
                    self.root / "images", f"{len(missing)} frame(s) of {seq} missing, e.g. {missing[0]}"
                )
            self.poses[seq] = poses
            positions = self.target_positions(len(poses))
            positions = [t for t in positions if lo <= t / len(poses) < hi]
            skipped += len(poses) - len(positions)
            self.targets.extend(TargetRef(seq, t, f"{seq}/{t:06d}") for t in positions)
        if not self.targets:
            raise DataError(
                self.root,
                f"no target has all neighbours {list(self.frame_ids)} x frame_step {self.frame_step} "
                f"in sequences {chosen}",
            )
        log.info("%s (%d frames skipped at sequence ends)", self.describe(), skipped)

    @staticmethod
    def _read_intrinsics(path: Path) -> tuple[np.ndarray, tuple[int, int]]:
        try:
            data = json.loads(path.read_text())
            K = np.asarray(data["K"], dtype=np.float64)
            size = (int(data["height"]), int(data["width"]))
        except FileNotFoundError:
            raise DataError(path, "intrinsics file not found") from None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise DataError(path, f"expected JSON with 'K' (3x3 pixels), 'width', 'height' ({exc})") from None
        if K.shape != (3, 3):
            raise DataError(path, f"'K' must be 3x3, got shape {K.shape}")
        return K, size

    def _frame_path(self, folder: str, seq: str, pos: int) -> Path:
        return self.root / folder / f"{seq}_{pos:06d}.png"

    def load_frame(self, ref: TargetRef, frame_id: FrameId) -> np.ndarray:
        return read_rgb(self._frame_path("images", ref.sequence, self.position(ref, int(frame_id))))

    def native_intrinsics(self, ref: TargetRef, native_size: tuple[int, int]) -> np.ndarray:
        if native_size != self._K_size:
            return resize_intrinsics(self._K, self._K_size, native_size).double().numpy()
        return self._K

    def load_depth_gt(self, ref: TargetRef) -> np.ndarray:
        return read_depth(self._frame_path("depth", ref.sequence, ref.frame), "mm")

    def load_pose_gt(self, ref: TargetRef) -> np.ndarray:
        poses = self.poses[ref.sequence]
        out = np.empty((len(self.temporal_ids), 4, 4))
        for k, i in enumerate(self.temporal_ids):
            out[k] = relative_transform(poses[ref.frame], poses[self.position(ref, i)])
        return out
