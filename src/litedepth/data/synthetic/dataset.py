"""The synthetic dataset on disk: :func:`make_dataset` writes rendered sequences as PNG
images, depth, labels and instances plus poses and intrinsics; :func:`read_poses_txt` reads
the poses back.

See :mod:`litedepth.data.synthetic` for the conventions (depth PNGs are uint16 millimetres,
0 = invalid).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.data.synthetic.raycast import render
from litedepth.data.synthetic.scene import CLASS_NAMES, SceneConfig, normalise_intrinsics
from litedepth.data.synthetic.sequence import DEFAULT_STEP_M, _scene_and_poses
from litedepth.errors import ConfigError, DataError
from litedepth.utils.atomic import atomic_write_bytes

logger = logging.getLogger(__name__)

__all__ = ["GENERATOR_VERSION", "encode_depth_png", "make_dataset", "read_poses_txt"]

#: Version of the generator; bump when the same seed would produce different images.
GENERATOR_VERSION = "1.0"


def encode_depth_png(depth: np.ndarray) -> np.ndarray:
    """Depth in metres -> uint16 millimetres for PNG: ``round(1000 * depth)``.

    Args:
        depth: ``(H, W)`` float depth in metres, 0 (or non-finite, or negative) = invalid.

    Returns:
        ``(H, W)`` uint16 millimetres; 0 = invalid, including depths beyond 65.535 m.
    """
    d = np.asarray(depth, np.float64)
    mm = np.rint(np.where(np.isfinite(d) & (d > 0), d, 0.0) * 1000.0)
    mm[mm > 65535] = 0
    return mm.astype(np.uint16)


def _png_bytes(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _poses_text(poses: np.ndarray) -> str:
    return "".join(" ".join(f"{v:.9g}" for v in p.reshape(-1)) + "\n" for p in poses)


def read_poses_txt(path: str | Path) -> np.ndarray:
    """Read a poses file written by :func:`make_dataset`.

    Args:
        path: text file with one pose per line: 16 numbers, the 4x4 camera-to-world matrix in
            row-major order.

    Returns:
        ``(N, 4, 4)`` float64 camera-to-world poses.
    """
    path = Path(path)
    try:
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as e:
        raise DataError(path, f"cannot read poses file ({e.strerror or e})") from e
    poses = np.empty((len(lines), 4, 4))
    for k, ln in enumerate(lines):
        try:
            vals = [float(v) for v in ln.split()]
        except ValueError:
            raise DataError(path, f"line {k + 1}: not a list of numbers") from None
        if len(vals) != 16:
            raise DataError(path, f"line {k + 1}: expected 16 numbers (4x4 row-major), got {len(vals)}")
        poses[k] = np.asarray(vals).reshape(4, 4)
    return poses


_FRAME_FILE = re.compile(r"seq\d{4}_\d{6}\.png")
_POSES_FILE = re.compile(r"seq\d{4}\.txt")


def _remove_previous(root: Path) -> None:
    """Delete a previous generator output in ``root`` (manifest first, so that a reader never
    sees a manifest describing half-replaced files); other files are left alone."""
    (root / "manifest.json").unlink()
    subfolders = {"images": _FRAME_FILE, "depth": _FRAME_FILE, "labels": _FRAME_FILE}
    subfolders.update(instances=_FRAME_FILE, poses=_POSES_FILE)
    for sub, pattern in subfolders.items():
        folder = root / sub
        if folder.is_dir():
            for f in folder.iterdir():
                if pattern.fullmatch(f.name) and f.is_file():
                    f.unlink()
    logger.info("synthetic: removed the previous dataset files in %s", root)


def make_dataset(
    root: str | Path,
    n_sequences: int,
    frames_per_sequence: int,
    cfg: SceneConfig | None = None,
    seed: int | None = None,
    step_m: float | None = None,
    overwrite: bool = False,
    sequence_seeds: Sequence[int] | None = None,
    on_sequence: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Render ``n_sequences`` sequences and write them to ``root`` (every file atomically).

    Layout (``<seq>`` = ``seq0000``, ``seq0001``...; ``<idx>`` = 6-digit frame index)::

        root/images/<seq>_<idx>.png     RGB uint8
        root/depth/<seq>_<idx>.png      uint16 depth in millimetres, 0 = invalid (sky / > 65.5 m)
        root/labels/<seq>_<idx>.png     uint8 class ids (CLASS_NAMES)
        root/instances/<seq>_<idx>.png  uint16 instance ids
        root/poses/<seq>.txt            one camera-to-world 4x4 per line, 16 numbers row-major
        root/intrinsics.json            {"width", "height", "K" (pixels), "K_normalised", ...}
        root/manifest.json              generator version, seed, config, sequences (written last)

    ``images`` + ``depth`` is the supervised folder layout (``FolderDepthDataset``).

    Args:
        root: output folder (created).
        n_sequences: number of sequences (each its own scene), >= 1.
        frames_per_sequence: frames per sequence, >= 1.
        cfg: generator options (default :class:`SceneConfig`); ``cfg.seed`` is replaced per
            sequence by a seed derived from ``seed``.
        seed: master seed (default ``cfg.seed``).
        step_m: mean forward motion per frame (``None``: :data:`DEFAULT_STEP_M`).
        overwrite: replace a dataset already in ``root`` (one with a ``manifest.json``): its
            manifest and generator-named files are deleted first; other files are kept.
        on_sequence: called as ``on_sequence(done, n_sequences)`` after each sequence is
            written (e.g. to advance a progress bar).

    Returns:
        The manifest (also written to ``root/manifest.json``).
    """
    cfg = SceneConfig() if cfg is None else cfg
    root = Path(root)
    if sequence_seeds is not None and len(sequence_seeds) != int(n_sequences):
        raise ConfigError(f"sequence_seeds has {len(sequence_seeds)} seeds for {n_sequences} sequences")
    if int(n_sequences) < 1 or int(frames_per_sequence) < 1:
        raise ConfigError(
            f"n_sequences and frames_per_sequence must be >= 1, got {n_sequences}, {frames_per_sequence}"
        )
    if root.exists() and not root.is_dir():
        raise DataError(root, "exists and is not a folder")
    if (root / "manifest.json").exists():
        if not overwrite:
            raise DataError(
                root, "already contains a dataset (manifest.json); pass overwrite=True to replace it"
            )
        _remove_previous(root)
    master = int(cfg.seed if seed is None else seed)
    K = cfg.intrinsics()
    H, W = cfg.size
    t0 = time.perf_counter()
    sequences = []
    for si in range(int(n_sequences)):
        name = f"seq{si:04d}"
        if sequence_seeds is not None:
            seq_seed = int(sequence_seeds[si])
        else:
            seq_seed = int(np.random.SeedSequence([master & 0xFFFFFFFF, si]).generate_state(1)[0])
        scfg = dataclasses.replace(cfg, seed=seq_seed)
        scene, poses = _scene_and_poses(scfg, frames_per_sequence, step_m)
        for fi, pose in enumerate(poses):
            fr = render(scene, pose, K, (H, W))
            stem = f"{name}_{fi:06d}.png"
            atomic_write_bytes(root / "images" / stem, _png_bytes(fr.rgb))
            atomic_write_bytes(root / "depth" / stem, _png_bytes(encode_depth_png(fr.depth)))
            atomic_write_bytes(root / "labels" / stem, _png_bytes(fr.labels))
            atomic_write_bytes(root / "instances" / stem, _png_bytes(fr.instances))
        atomic_write_bytes(root / "poses" / f"{name}.txt", _poses_text(poses).encode())
        sequences.append(
            {
                "name": name,
                "seed": seq_seed,
                "kind": scene.kind,
                "n_frames": len(poses),
                "step_m": DEFAULT_STEP_M[scene.kind] if step_m is None else float(step_m),
                "length_m": scene.z_max,
            }
        )
        logger.debug("synthetic: wrote %s (%s, %d frames)", name, scene.kind, len(poses))
        if on_sequence is not None:
            on_sequence(si + 1, int(n_sequences))
    intr = {
        "width": W,
        "height": H,
        "K": K.tolist(),
        "K_normalised": normalise_intrinsics(K, W, H).tolist(),
        "fx_norm": K[0, 0] / W,
        "fy_norm": K[1, 1] / H,
        "cx_norm": K[0, 2] / W,
        "cy_norm": K[1, 2] / H,
        "pixel_centres": "integer coordinates (u = column, v = row)",
    }
    atomic_write_bytes(root / "intrinsics.json", json.dumps(intr, indent=2).encode())
    manifest: dict[str, Any] = {
        "generator": "litedepth.data.synthetic",
        "generator_version": GENERATOR_VERSION,
        "seed": master,
        "config": dataclasses.asdict(cfg),
        "n_sequences": int(n_sequences),
        "frames_per_sequence": int(frames_per_sequence),
        "step_m": step_m,
        "classes": list(CLASS_NAMES),
        "depth_png": {"dtype": "uint16", "unit": "mm", "scale": 1000.0, "invalid": 0, "encoding": "mm"},
        "pose_convention": "camera-to-world 4x4, row-major, camera x right / y down / z forward; "
        "world y down, floor y = 0",
        "sequences": sequences,
    }
    atomic_write_bytes(root / "manifest.json", json.dumps(manifest, indent=2).encode())
    logger.info(
        "synthetic: %d sequences x %d frames written to %s in %.1f s",
        n_sequences,
        frames_per_sequence,
        root,
        time.perf_counter() - t0,
    )
    return manifest
