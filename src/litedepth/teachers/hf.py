"""Hugging Face depth teachers and the offline pseudo-label runner.

:class:`HFDepthTeacher` wraps any ``AutoModelForDepthEstimation`` checkpoint with its image
processor (Depth Anything V2 Small/Base/Large, DPT with a DINOv2 backbone, ...), loaded from a
local folder (``config.json`` + ``*.safetensors`` + ``preprocessor_config.json``; works
offline), a published name or a hub id. It is a batch front end to
:class:`litedepth.models.hf_depth.HFDepthNetwork`, the one wrapper that the ``hf:`` sources of
:func:`litedepth.inference.load_model` use too (pre-processing, output meaning and loading
errors are described there).

Depth Anything V2 (REFERENCE.md section 1): RGB / 255, resize keeping the aspect ratio with
lower bound ``input_size`` (518), each side a multiple of 14, bicubic; ImageNet mean/std. The
output is **relative affine-invariant disparity** (bigger = nearer, ``>= 0``, 0 = sky) for
``depth_estimation_type == "relative"`` and **metric depth in metres** for ``"metric"``. Maps
are resized back to each image's original size bilinearly (``align_corners=True``, as the
original ``infer_image``).

Licences: Depth-Anything-V2-Small is Apache-2.0; Base and Large are CC-BY-NC-4.0
(non-commercial). :func:`licence_note` states them in each teacher's description.

:func:`run_pseudo_labels` runs a teacher over every frame of a dataset and writes a
:class:`~litedepth.io.pseudo_labels.PseudoLabelCache`, through Lightning's prediction loop
(``Trainer.predict``), so several GPUs / processes each write their own frames.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from litedepth.data.frames import IMAGE_EXTS, FrameSource, ImageFolderFrames
from litedepth.errors import ConfigError, DataError
from litedepth.io.pseudo_labels import PseudoLabelCache
from litedepth.models.hf_depth import licence_note, load_hf_depth

log = logging.getLogger(__name__)

__all__ = [
    "IMAGE_EXTS",
    "KILL_AFTER_ENV",
    "FrameSource",
    "HFDepthTeacher",
    "ImageFolderFrames",
    "PseudoLabelReport",
    "as_frame_source",
    "licence_note",
    "run_pseudo_labels",
]


#: Test hook: when set to N, the runner SIGKILLs its own process right after the N-th frame
#: file written by this process (used by the resumability test; never set it otherwise).
KILL_AFTER_ENV = "LITEDEPTH_TEST_KILL_AFTER"


class HFDepthTeacher:
    """A Hugging Face depth model + its image processor, as a batch predictor.

    A thin layer over :class:`~litedepth.models.hf_depth.HFDepthNetwork` (the same wrapper the
    ``hf:`` sources of :func:`litedepth.inference.load_model` use): one pre-processing, one
    output meaning, whether a model labels photos or predicts them.

    Args:
        model_id_or_path: local checkpoint folder, a published name downloaded with
            ``litedepth weights download`` (e.g. ``"depth-anything-v2-small"``), or a hub id
            (e.g. ``"depth-anything/Depth-Anything-V2-Small-hf"``); ``hf:`` prefix accepted.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; ``None`` = CUDA when available.
        revision: hub revision (branch, tag or commit); ignored for local folders.
        input_size: the resize lower bound (shorter side) of the processor, e.g. 518;
            ``None`` keeps the processor's own setting.

    Attributes:
        output_kind: ``"relative_disparity"`` or ``"metric_depth"`` (from the network's
            :class:`~litedepth.models.spec.OutputSpec`, read from the model's config).
        network: the :class:`~litedepth.models.hf_depth.HFDepthNetwork`.
        model, processor: the loaded transformers objects.

    Example:
        >>> teacher = HFDepthTeacher("depth-anything/Depth-Anything-V2-Small-hf")  # doctest: +SKIP
        >>> [disp] = teacher.predict([rgb_uint8])  # doctest: +SKIP
    """

    def __init__(
        self,
        model_id_or_path: str | Path,
        device: str | torch.device | None = None,
        revision: str | None = None,
        input_size: int | None = 518,
    ) -> None:
        if input_size is not None and int(input_size) < 14:
            raise ConfigError(f"input_size must be >= 14, got {input_size}")
        local = Path(str(model_id_or_path)).expanduser().exists()
        self.network = load_hf_depth(model_id_or_path, revision=None if local else revision,
                                     input_size=None if input_size is None else int(input_size), what="teacher")
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.network.to(torch.device(device))
        self.model_id = str(model_id_or_path)
        self.local = self.network.local
        self.licence = self.network.licence
        self.revision = revision
        self.commit_hash = self.network.commit
        self.input_size = input_size
        spec = self.network.output_spec
        self.output_kind = "metric_depth" if spec.is_metric else "relative_disparity"
        self.max_depth = getattr(self.model.config, "max_depth", None) if spec.is_metric else None

    @property
    def model(self) -> torch.nn.Module:
        return self.network.model

    @property
    def processor(self) -> Any:
        return self.network.processor

    @property
    def device(self) -> torch.device:
        return next(self.network.parameters()).device

    def preprocessing(self) -> dict[str, Any]:
        """The processor's pre-processing settings (JSON-able)."""
        return self.network.preprocessing()

    def processed_size(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` the processor resizes an ``height x width`` image to (the network's input)."""
        return self.network.processed_size(height, width)

    def as_module(self) -> torch.nn.Module:
        """The teacher as a network on RGB ``(B, 3, h, w)`` in ``[0, 1]`` already at its processed
        size (see :meth:`processed_size`), returning its raw map ``(B, 1, h, w)``: the
        processor's normalisation, then the model. For profiling next to litedepth networks."""
        return self.network.core()

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in the pseudo-label manifest (computed once)."""
        if getattr(self, "_description", None) is not None:
            return dict(self._description)
        desc: dict[str, Any] = {
            "id": self.model_id,
            "revision": self.revision,
            "commit_hash": self.commit_hash,
            "architecture": type(self.model).__name__,
            "input_size": self.input_size,
            "preprocessing": self.preprocessing(),
            "output_kind": self.output_kind,
            "depth_estimation_type": getattr(self.model.config, "depth_estimation_type", None),
            "max_depth": self.max_depth,
            "licence": self.licence,
            "weights": self.network.weights_info.to_dict(),
        }
        if isinstance(self.network.weights_info.sha256, dict):
            desc["weights_sha256"] = dict(self.network.weights_info.sha256)
        self._description = desc
        return dict(desc)

    @torch.inference_mode()
    def predict(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Teacher maps of a batch of images.

        Args:
            images: ``(H, W, 3)`` uint8 RGB arrays; sizes may differ (images of one size are
                batched together).

        Returns:
            One float32 ``(H, W)`` map per image at its original size (relative disparity
            or metric depth, see :attr:`output_kind`).
        """
        arrays = [np.require(np.asarray(im, dtype=np.uint8), requirements=["C", "W"]) for im in images]
        for im in arrays:
            if im.ndim != 3 or im.shape[2] != 3:
                raise ValueError(f"images must be (H, W, 3) uint8 RGB, got shape {im.shape}")
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, im in enumerate(arrays):
            groups.setdefault(im.shape[:2], []).append(i)
        out: list[np.ndarray | None] = [None] * len(arrays)
        dev = self.device
        for idx in groups.values():
            batch = torch.stack([torch.from_numpy(arrays[i]) for i in idx])
            x = batch.to(dev).permute(0, 3, 1, 2).float().div_(255.0)
            maps = self.network(x)[:, 0]
            for j, i in enumerate(idx):
                out[i] = maps[j].cpu().numpy().astype(np.float32)
        return out  # type: ignore[return-value]


# ============================================================================ frame sources


class SequenceFrames(FrameSource):
    """The target frames of a :class:`~litedepth.data.video.SequenceDataset`.

    Keys are ``dataset.targets[i].name`` (the ``sample["name"]`` of the dataset); images come
    from ``dataset.load_frame(ref, 0)``: the stored frame at its native size, without resize,
    flip or colour jitter (not ``sample["frames_raw"][0]``, which is resized to the training
    size). Build the dataset with ``frame_ids=(0,)`` so that every frame is a target (with
    temporal neighbours, frames at sequence ends are not targets and get no label).
    """

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.keys = [ref.name for ref in dataset.targets]

    def load(self, index: int) -> np.ndarray:
        return self.dataset.load_frame(self.dataset.targets[index], 0)


class SampleFrames(FrameSource):
    """Any dataset whose samples hold ``"name"`` and ``"frames_raw"`` (F, 3, H, W) or
    ``"image"`` (3, H, W) floats in ``[0, 1]``; the image is taken from the sample."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.keys = [str(dataset[i]["name"]) for i in range(len(dataset))]

    def load(self, index: int) -> np.ndarray:
        s = self.dataset[index]
        t = s["frames_raw"][0] if "frames_raw" in s else s["image"]
        return (t.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def as_frame_source(dataset: Any) -> FrameSource:
    """A :class:`FrameSource` for a frame source, a sequence dataset (``targets`` +
    ``load_frame``) or any dataset of named samples."""
    if isinstance(dataset, FrameSource):
        return dataset
    if hasattr(dataset, "targets") and hasattr(dataset, "load_frame"):
        return SequenceFrames(dataset)
    return SampleFrames(dataset)


class _Subset(Dataset):
    def __init__(self, source: FrameSource, indices: list[int]) -> None:
        self.source, self.indices = source, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.source[self.indices[i]]


def _collate(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    return {"key": [it["key"] for it in items], "image": [it["image"] for it in items]}


# ============================================================================ runner


@dataclass(frozen=True)
class PseudoLabelReport:
    """What one :func:`run_pseudo_labels` call did (counts over all ranks except ``computed``,
    which counts this process's frames; ``rank`` is this process's global rank, 0 without
    several devices)."""

    total: int
    skipped: int
    computed: int
    seconds: float
    rank: int = 0


def _make_module(teacher: HFDepthTeacher, cache: PseudoLabelCache, on_written: Callable[[int], None]) -> Any:
    import lightning as L

    class TeacherPredictModule(L.LightningModule):
        """Thin prediction module: teacher forward + per-frame cache writes in ``predict_step``."""

        def __init__(self) -> None:
            super().__init__()
            self.teacher_model = teacher.network  # registered so Lightning moves it to the device

        def predict_step(self, batch: dict[str, list[Any]], batch_idx: int) -> int:
            maps = teacher.predict(batch["image"])
            for key, m in zip(batch["key"], maps):
                cache.put(key, m)
                on_written(1)
            return len(maps)

    return TeacherPredictModule()


def _trainer_device(device: str | None, devices: int | str) -> dict[str, Any]:
    if device is None or device == "auto":
        return {"accelerator": "auto", "devices": devices}
    d = str(device)
    if d == "cpu":
        return {"accelerator": "cpu", "devices": 1 if devices == "auto" else devices}
    if d.startswith("cuda"):
        if ":" in d:
            return {"accelerator": "gpu", "devices": [int(d.split(":", 1)[1])]}
        return {"accelerator": "gpu", "devices": devices}
    if d == "mps":
        return {"accelerator": "mps", "devices": 1}
    raise ConfigError(f"device must be cpu, cuda, cuda:N, mps or auto, got {device!r}")


def run_pseudo_labels(
    dataset: Any,
    teacher: HFDepthTeacher,
    cache: PseudoLabelCache,
    batch_size: int = 4,
    progress: bool = True,
    *,
    num_workers: int = 0,
    device: str | None = None,
    devices: int | str = "auto",
) -> PseudoLabelReport:
    """Write the teacher map of every frame of ``dataset`` not yet in ``cache``.

    Frames whose file exists and is readable (:meth:`PseudoLabelCache.has`) are skipped, so a
    killed run is resumed by running again. The rest go through Lightning's prediction loop
    (``Trainer.predict``; with several devices each rank writes its own frames' files, rank 0
    writes the manifest). Progress with an ETA is shown with rich on rank 0.

    Args:
        dataset: a :class:`FrameSource`, a sequence dataset (see :class:`SequenceFrames` for
            which frames and images it uses) or a dataset of named samples.
        teacher: the teacher; its model is moved by Lightning.
        cache: the output cache.
        batch_size: frames per forward pass.
        progress: show a rich progress bar.
        num_workers: DataLoader workers reading images.
        device, devices: where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``None`` = auto) and
            how many devices (``"auto"`` = all visible GPUs).

    Returns:
        A :class:`PseudoLabelReport`; the counts are also stored in the manifest's ``last_run``.
    """
    import lightning as L

    if int(batch_size) < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
    t0 = time.perf_counter()
    source = as_frame_source(dataset)
    if len(set(source.keys)) != len(source.keys):
        raise DataError(None, "the dataset has duplicate frame keys; pseudo-labels are stored per key")
    cache.set_teacher(teacher.describe())
    recovered = cache.reconcile(source.keys)
    if recovered:
        log.info("recovered %d frame(s) written after the last manifest flush", recovered)
    cache.flush()  # the manifest names the teacher from the start
    todo = [i for i, k in enumerate(source.keys) if not cache.has(k)]
    skipped = len(source) - len(todo)
    log.info("pseudo-labels: %d frame(s), %d cached, %d to compute", len(source), skipped, len(todo))

    kill_after = int(os.environ.get(KILL_AFTER_ENV, "0") or 0)
    written = [0]
    bar: dict[str, Any] = {}
    rank = 0

    def on_written(n: int) -> None:
        written[0] += n
        if "progress" in bar:
            bar["progress"].advance(bar["task"], n * bar["world"])
        if kill_after and written[0] >= kill_after:  # test hook, see KILL_AFTER_ENV
            os.kill(os.getpid(), signal.SIGKILL)

    if todo:
        trainer = L.Trainer(
            **_trainer_device(device, devices),
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            inference_mode=True,
        )
        rank = trainer.global_rank
        cache.write_manifest = cache.write_manifest and rank == 0
        loader = DataLoader(_Subset(source, todo), batch_size=int(batch_size), shuffle=False,
                            num_workers=int(num_workers), collate_fn=_collate)
        module = _make_module(teacher, cache, on_written)
        if progress and trainer.is_global_zero:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            prog = Progress(TextColumn("pseudo-labels"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
            bar.update(progress=prog, task=prog.add_task("pseudo-labels", total=len(todo)), world=trainer.world_size)
            with prog:
                trainer.predict(module, loader, return_predictions=False)
        else:
            trainer.predict(module, loader, return_predictions=False)
        trainer.strategy.barrier()
        if trainer.is_global_zero and trainer.world_size > 1:
            cache.reconcile(source.keys)  # frames written by other ranks
    seconds = time.perf_counter() - t0
    report = PseudoLabelReport(total=len(source), skipped=skipped, computed=written[0], seconds=seconds, rank=rank)
    cache.flush(last_run={"total": report.total, "skipped": report.skipped, "computed": len(todo),
                          "seconds": round(seconds, 3)})
    return report
