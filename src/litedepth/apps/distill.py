"""``litedepth distill``: a small network from a foundation model, on a folder of unlabelled photos.

One call, :func:`run_distill`, does the whole job; every step writes into ``out``::

    out/teacher_labels/      the teacher's map of every photo (resumable pseudo-label cache)
    out/run/                 the Lightning run (checkpoints/last.ckpt, best.ckpt, metrics.csv)
    out/student.ckpt         the best student (held-out agreement with the teacher)
    out/student.onnx         the same network for onnxruntime (parity-checked)
    out/distill_report.json  what was done and measured (also printed as a table)

1. **Label once**: the teacher (a transformers depth model: a published name such as
   ``depth-anything-v2-small``, a local folder or a hub id) maps every image; maps are cached
   per image, so a second run (or an interrupted one) computes only what is missing.
2. **Train** a registered disparity network on the images and maps with the affine-invariant
   loss (:class:`~litedepth.tasks.distill.AffineDistillationTask`), through Lightning: several
   GPUs or nodes need only ``devices`` / ``strategy``; ``resume`` continues ``out/run``.
3. **Validate against the teacher** on held-out images (never trained on), at each image's own
   resolution: the student's disparity is aligned to the teacher's by least-squares scale and
   shift, then both are compared as depth (abs_rel, δ<1.25, ...;
   :func:`~litedepth.metrics.agreement.affine_agreement`), next to a constant prediction.
4. **Export** the student (checkpoint + ONNX) and **profile** student and teacher side by side
   (parameters, MACs, latency; :mod:`litedepth.profiling`).

The student's output is **relative disparity** (affine-invariant: bigger = nearer, scale and
shift unknown), never metres; the checkpoint, the ONNX metadata and the report say so. Note the
teacher's licence: a student trained on a non-commercial teacher's outputs (Depth Anything V2
Base / Large are CC-BY-NC-4.0) inherits that question.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from litedepth.errors import ConfigError
from litedepth.utils.atomic import atomic_write_bytes

log = logging.getLogger(__name__)

__all__ = ["DistillConfig", "DistillReport", "default_size", "run_distill"]

REPORT_NAME = "distill_report.json"
AGREEMENT_PROTOCOL = ("held-out images at their own resolution; per image the student's disparity is fitted to the "
                      "teacher's by least-squares scale and shift over the teacher's valid (> 0) pixels, then both "
                      "are compared as depth 1/d (teacher depth normalised by its median); metrics averaged over "
                      "images")


@dataclass
class DistillConfig:
    """Options of :func:`run_distill` (the ``litedepth distill`` flags).

    Attributes:
        images: folder of photos (searched recursively).
        out: output folder (see the module docstring).
        teacher: transformers depth model: published name, local folder or hub id.
        network: registered disparity network to train (``litedepth models``).
        size: ``(height, width)`` of the student's input; default: the network's registered
            height and the photos' median aspect ratio (width rounded to a multiple of 32;
            640x480 photos and Lite-Mono give 192x256, KITTI frames 192x640).
        labels: pseudo-label cache folder (default ``out/teacher_labels``).
        teacher_input_size: teacher resize lower bound (Depth Anything V2: 518; ``None`` =
            the processor's own).
        teacher_batch_size: images per teacher forward pass.
        init_weights: start the student from these weights (path or published name).
        network_options: options of the network factory.
        alignment, trim, grad_weight, grad_scales: the loss
            (:func:`~litedepth.losses.affine_invariant.affine_invariant_loss`).
        lr, weight_decay, scheduler: AdamW and its per-step cosine schedule.
        epochs, max_steps: training length (``max_steps`` wins when set).
        batch_size, num_workers: training loader.
        val_fraction, split_seed: held-out share (at least one image) and split seed.
        hflip: random horizontal flips while training.
        accelerator, devices, strategy, precision: Lightning trainer options (multi-GPU:
            ``devices=4, strategy="ddp"``).
        teacher_device: where the teacher labels (default: CUDA when available).
        export_onnx: also write ``out/student.onnx``.
        profile_repeats: timed runs per network (0: parameters and MACs only).
        resume: continue ``out/run`` from its last checkpoint.
        progress: progress bars.
        seed: global seed.
    """

    images: Path
    out: Path
    teacher: str = "depth-anything-v2-small"
    network: str = "lite-mono-tiny"
    size: tuple[int, int] | None = None
    labels: Path | None = None
    teacher_input_size: int | None = 518
    teacher_batch_size: int = 4
    init_weights: str | None = None
    network_options: dict[str, Any] = field(default_factory=dict)
    alignment: str = "median-mad"
    trim: float = 0.0
    grad_weight: float = 0.5
    grad_scales: int = 4
    lr: float = 5e-4
    weight_decay: float = 1e-2
    scheduler: str = "cosine"
    epochs: int = 20
    max_steps: int | None = None
    batch_size: int = 8
    num_workers: int = 2
    val_fraction: float = 0.1
    split_seed: int = 0
    hflip: bool = True
    accelerator: str = "auto"
    devices: int | str = "auto"
    strategy: str = "auto"
    precision: str | None = None
    teacher_device: str | None = None
    export_onnx: bool = True
    profile_repeats: int = 10
    resume: bool = False
    progress: bool = True
    seed: int = 0


@dataclass
class DistillReport:
    """What :func:`run_distill` produced and measured (``to_dict`` is the JSON report)."""

    student: dict[str, Any]
    teacher: dict[str, Any]
    agreement: dict[str, Any]
    baseline: dict[str, Any]
    data: dict[str, Any]
    training: dict[str, Any]
    files: dict[str, str | None]
    machine: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]} if rows else {}


def _profile(model: Any, height: int, width: int, repeats: int, device: str, name: str) -> dict[str, Any]:
    """Parameters, MACs (both scopes) and batch-1 latency of one network."""
    from litedepth.profiling.report import profile_model

    result = profile_model(model, height, width, (1,), warmup=min(2, repeats), repeats=max(1, repeats),
                           device=device, model_name=name)
    latency = result.latency[0].latency.to_dict() if repeats else None  # one untimed-quality run: not reported
    return {"input_size": [height, width], "params": result.params_total, "macs_conv_linear": result.macs_conv_linear,
            "macs_full": result.macs_full, "latency_ms": latency, "device": str(device),
            "threads": result.threads}


def default_size(files: list[Path], height: int) -> tuple[int, int]:
    """``(height, width)`` with the median aspect ratio of (up to 100 of) ``files``, width a
    multiple of 32 (at least 32)."""
    from PIL import Image

    aspects = []
    for f in files[:: max(1, len(files) // 100)]:
        with Image.open(f) as im:
            aspects.append(im.width / im.height)
    width = max(32, int(round(height * float(np.median(aspects)) / 32.0)) * 32)
    return height, width


def _check(cfg: DistillConfig) -> None:
    if not Path(cfg.images).is_dir():
        from litedepth.errors import DataError

        raise DataError(cfg.images, "image folder not found")
    if cfg.epochs < 1 or (cfg.max_steps is not None and cfg.max_steps < 1):
        raise ConfigError(f"epochs and max_steps must be >= 1, got {cfg.epochs} and {cfg.max_steps}")
    if cfg.batch_size < 1 or cfg.teacher_batch_size < 1:
        raise ConfigError("batch sizes must be >= 1")
    if cfg.profile_repeats < 0:
        raise ConfigError(f"profile_repeats must be >= 0, got {cfg.profile_repeats}")


def run_distill(cfg: DistillConfig) -> DistillReport | None:
    """Label, train, validate, export and profile (module docstring).

    Returns:
        The report on the main process; ``None`` on the other processes of a multi-process run.

    Raises:
        DataError / ConfigError / CheckpointError: bad folders, options or weights (one line).
    """
    import lightning as L
    import torch

    from litedepth.data.distill import DistillDataModule, teacher_disparity
    from litedepth.io.images import read_rgb
    from litedepth.export.onnx import export_onnx
    from litedepth.inference.predictor import Predictor, load_checkpoint_model
    from litedepth.metrics.agreement import affine_agreement, constant_agreement
    from litedepth.models import model_info
    from litedepth.profiling.latency import machine_info
    from litedepth.tasks.distill import OUTPUT, OUTPUT_NOTE, AffineDistillationTask
    from litedepth.tasks.engine import build_trainer, find_resume_checkpoint
    from litedepth.io.pseudo_labels import PseudoLabelCache
    from litedepth.teachers.hf import HFDepthTeacher, ImageFolderFrames, run_pseudo_labels

    _check(cfg)
    out = Path(cfg.out)
    t_start = time.perf_counter()
    frames = ImageFolderFrames(cfg.images)
    size = tuple(cfg.size) if cfg.size else default_size(frames.files, model_info(cfg.network).default_size[0])
    # loaded on the CPU: the labelling loop (Lightning) moves it to each process's device
    teacher = HFDepthTeacher(cfg.teacher, device=cfg.teacher_device or "cpu", input_size=cfg.teacher_input_size)
    desc = teacher.describe()
    if teacher.output_kind not in ("relative_disparity", "metric_depth"):
        raise ConfigError(f"{cfg.teacher}: teacher output {teacher.output_kind!r} cannot be distilled")
    labels = Path(cfg.labels) if cfg.labels else out / "teacher_labels"
    cache = PseudoLabelCache(labels)
    pl_devices: dict[str, Any] = {"device": cfg.teacher_device, "devices": cfg.devices}
    labelled = run_pseudo_labels(frames, teacher, cache, cfg.teacher_batch_size, progress=cfg.progress,
                                 **pl_devices)
    phases = {"teacher_labels": round(time.perf_counter() - t_start, 1)}
    log.info("teacher maps: %d image(s), %d cached before this run", labelled.total, labelled.skipped)

    L.seed_everything(cfg.seed, workers=True, verbose=False)
    dm = DistillDataModule(str(cfg.images), str(labels), size, cfg.batch_size, cfg.num_workers, cfg.val_fraction,
                           cfg.split_seed, cfg.hflip)
    teacher_summary = {k: desc.get(k) for k in ("id", "architecture", "output_kind", "max_depth", "licence",
                                                 "input_size")}
    task = AffineDistillationTask(cfg.network, cfg.network_options, cfg.init_weights, cfg.alignment, cfg.trim,  # type: ignore[arg-type]
                                  cfg.grad_weight, cfg.grad_scales, "adamw", cfg.lr, cfg.weight_decay,
                                  cfg.scheduler, teacher=teacher_summary)  # type: ignore[arg-type]
    run_dir = out / "run"
    options: dict[str, Any] = {"max_epochs": cfg.epochs, "max_steps": cfg.max_steps or -1,
                               "accelerator": cfg.accelerator, "devices": cfg.devices, "strategy": cfg.strategy,
                               "enable_progress_bar": cfg.progress, "enable_model_summary": False,
                               "log_every_n_steps": 1}
    if cfg.precision:
        options["precision"] = cfg.precision
    trainer = build_trainer(run_dir, options, monitor="val/teacher_abs_rel", mode="min", early_stop_patience=None)
    ckpt_path = find_resume_checkpoint(run_dir) if cfg.resume else None
    t_train = time.perf_counter()
    trainer.fit(task, datamodule=dm, ckpt_path=str(ckpt_path) if ckpt_path else None, weights_only=True)
    train_s = time.perf_counter() - t_train
    phases["training"] = round(train_s, 1)
    if not trainer.is_global_zero:
        return None

    best_cb = trainer.checkpoint_callbacks[1]
    best = Path(best_cb.best_model_path) if best_cb.best_model_path else run_dir / "checkpoints" / "last.ckpt"
    student_ckpt = out / "student.ckpt"
    atomic_write_bytes(student_ckpt, best.read_bytes())
    loaded = load_checkpoint_model(student_ckpt, network=cfg.network)
    device = "cuda" if torch.cuda.is_available() and cfg.accelerator in ("auto", "gpu", "cuda") else "cpu"
    predictor = Predictor(loaded, input_size=size, device=device)

    rows, const_rows, sizes = [], [], []
    for key in dm.val_keys:
        rgb = read_rgb(Path(cfg.images) / key)
        sizes.append(rgb.shape[:2])
        ref = teacher_disparity(cache.get(key), cache.manifest.get("output_kind") or teacher.output_kind)
        rows.append(affine_agreement(predictor.infer_image(rgb).raw, ref, name=key))
        const_rows.append(constant_agreement(ref, name=key))

    phases["held_out_agreement"] = round(time.perf_counter() - t_train - train_s, 1)
    t_export = time.perf_counter()
    onnx_path = None
    if not cfg.export_onnx and (out / "student.onnx").exists():
        log.warning("%s is left from an earlier run and is not this student (no export: --no-onnx)",
                    out / "student.onnx")
    if cfg.export_onnx:
        onnx_path = out / "student.onnx"
        export_onnx(loaded.net, onnx_path, size[0], size[1], model_name=cfg.network, spec=loaded.spec,
                    weights=loaded.weights, metadata={"teacher": str(desc.get("id"))})

    phases["onnx_export"] = round(time.perf_counter() - t_export, 1)
    t_profile = time.perf_counter()
    h, w = (int(np.median([s[0] for s in sizes])), int(np.median([s[1] for s in sizes])))
    th, tw = teacher.processed_size(h, w)
    student_prof = _profile(loaded.net, size[0], size[1], cfg.profile_repeats, device, cfg.network)
    teacher_prof = _profile(teacher.as_module(), th, tw, cfg.profile_repeats, device, str(desc.get("id")))
    phases["profiling"] = round(time.perf_counter() - t_profile, 1)

    report = DistillReport(
        student={"network": cfg.network, "output": OUTPUT, "output_note": OUTPUT_NOTE,
                 "init_weights": cfg.init_weights, **student_prof},
        teacher={**teacher_summary, "processed_size_of_median_image": [th, tw], **teacher_prof},
        agreement={"protocol": AGREEMENT_PROTOCOL, "images": len(rows), **_mean(rows)},
        baseline={"what": "a constant prediction (the median teacher depth everywhere), scored the same way",
                  **_mean(const_rows)},
        data={"images": str(cfg.images), "count": labelled.total, "train": len(dm.train_keys),
              "held_out": len(dm.val_keys), "held_out_keys": dm.val_keys, "labels": str(labels),
              "teacher_maps_computed": labelled.total - labelled.skipped, "student_input_size": list(size)},
        training={"epochs": trainer.current_epoch, "steps": trainer.global_step, "seconds": round(train_s, 1),
                  "world_size": trainer.world_size, "loss": {"alignment": cfg.alignment, "trim": cfg.trim,
                  "grad_weight": cfg.grad_weight, "grad_scales": cfg.grad_scales}, "lr": cfg.lr,
                  "best_checkpoint": str(best), "best_val_teacher_abs_rel": (float(best_cb.best_model_score)
                  if best_cb.best_model_score is not None else None),
                  "total_seconds": round(time.perf_counter() - t_start, 1), "phase_seconds": phases},
        files={"student_checkpoint": str(student_ckpt), "student_onnx": str(onnx_path) if onnx_path else None,
               "run": str(run_dir), "report": str(out / REPORT_NAME)},
        machine={**machine_info(device), "python": platform.python_version()},
    )
    atomic_write_bytes(out / REPORT_NAME, json.dumps(report.to_dict(), indent=1, default=str).encode())
    log.info("distilled %s into %s: held-out abs_rel vs teacher %.4f (constant %.4f)", desc.get("id"), cfg.network,
             report.agreement.get("abs_rel", float("nan")), report.baseline.get("abs_rel", float("nan")))
    return report
