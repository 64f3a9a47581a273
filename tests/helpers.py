"""Helpers shared by CLI and training tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml


def write_config(path: Path, data_root: Path, network: str = "deeplabv3-mobilenet-v3-large", **trainer) -> Path:
    cfg = {
        "model": {"class_path": "litedepth.tasks.SupervisedDepthTask",
                  "init_args": {"network": network, "lr": 1e-3}},
        "data": {"class_path": "litedepth.data.DepthDataModule",
                 "init_args": {"root": str(data_root), "size": [32, 48], "batch_size": 4,
                               "num_workers": 0, "depth_encoding": "nyu"}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False, **trainer},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def write_tiny_depth_folder(root: Path, count: int = 10) -> Path:
    """``root/images/fNN.png`` (random 32x48 RGB) + ``root/depth/fNN.png`` (uint16 mm, 0.5-4 m)."""
    import numpy as np
    from PIL import Image

    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "depth").mkdir(exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray(rng.integers(0, 255, (32, 48, 3), dtype=np.uint8)).save(root / "images" / f"f{i:02d}.png")
        Image.fromarray(rng.integers(500, 4000, (32, 48)).astype(np.uint16)).save(root / "depth" / f"f{i:02d}.png")
    return root


def run_cli(*args: str, env_extra: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "litedepth", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def probe_video(path: Path) -> tuple[str, str, float, list]:
    """Decode a video with PyAV (FFmpeg): ``(codec name, codec tag, frame rate, RGB frames)``.

    The codec tag is what the container declares (``avc1`` for H.264 in MP4); the frames are
    ``(H, W, 3)`` uint8 arrays.
    """
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return ctx.name, ctx.codec_tag, float(stream.average_rate or 0), frames


def find_chromium() -> str | None:
    """A system Chromium for Playwright: ``$LITEDEPTH_CHROMIUM``, else the usual install paths."""
    import shutil

    for candidate in (os.environ.get("LITEDEPTH_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def informative(net, seed: int = 0, perturb: bool = False):
    """Random BatchNorm statistics (and, with ``perturb``, perturbed weights and Lite-Mono's
    1e-6 layer scales raised to 0.5), so that untrained networks give non-constant outputs;
    returns ``net`` in eval mode."""
    import torch
    from torch import nn

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
        if perturb:
            for name, p in net.named_parameters():
                if "gamma" in name or name.endswith("layer_scale"):
                    p.copy_(torch.full_like(p, 0.5))
                elif p.dim() > 1:
                    p.add_(torch.randn(p.shape, generator=gen) * 0.02)
    return net.eval()


def write_kitti_object_tree(root: Path, stems: list[str], empty: tuple[str, ...] = (), size=(24, 40)) -> Path:
    """A KITTI object-format folder (``image_2/``, ``velodyne/``, ``calib/``) whose scans project
    into the image: a pinhole ``P2`` (f = 20 px, centred), identity ``R0_rect`` and the
    Velodyne-to-camera axis swap; 30 points 3-12 m ahead per scan. Stems in ``empty`` get a
    0-byte scan (a failed download)."""
    import numpy as np
    from PIL import Image

    h, w = size
    for sub in ("image_2", "velodyne", "calib"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    calib = (f"P2: 20 0 {w / 2} 0 0 20 {h / 2} 0 0 0 1 0\n"
             "R0_rect: 1 0 0 0 1 0 0 0 1\n"
             "Tr_velo_to_cam: 0 -1 0 0 0 0 -1 0 1 0 0 0\n")
    rng = np.random.default_rng(0)
    for stem in stems:
        Image.fromarray(np.zeros((h, w, 3), np.uint8)).save(root / "image_2" / f"{stem}.png")
        (root / "calib" / f"{stem}.txt").write_text(calib)
        scan = root / "velodyne" / f"{stem}.bin"
        if stem in empty:
            scan.write_bytes(b"")
            continue
        x = rng.uniform(3, 12, 30)
        pts = np.stack([x, rng.uniform(-0.5, 0.5, 30) * x, rng.uniform(-0.3, 0.3, 30) * x, np.ones(30)], 1)
        pts.astype(np.float32).tofile(scan)
    return root


def int8_lite_mono_tiny(folder: Path, height: int, width: int, seed: int = 0) -> Path:
    """``folder/tiny-int8.onnx``: lite-mono-tiny (random weights, ``torch.manual_seed(seed)``)
    exported as int8, calibrated on 2 random smooth images written to ``folder/calib``."""
    import numpy as np
    import torch
    from PIL import Image

    from litedepth.export import export_onnx
    from litedepth.export.quantize import calibration_frames
    from litedepth.models import create_model

    calib = folder / "calib"
    calib.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(2):
        base = np.stack([(xx * (i + 2)) % 256, (yy * 3 + 40 * i) % 256, (xx + 2 * yy) % 256], -1)
        Image.fromarray(np.clip(base + rng.normal(0, 15, base.shape), 0, 255).astype(np.uint8)).save(calib / f"{i}.png")
    torch.manual_seed(seed)
    return export_onnx(create_model("lite-mono-tiny"), folder / "tiny-int8.onnx", height, width,
                       model_name="lite-mono-tiny", precision="int8",
                       calibration=calibration_frames(calib, height, width), max_abs_rel=None).path


def write_gradient_images(folder: Path, sizes: list[tuple[int, int]], seed: int = 3) -> list[Path]:
    """``folder/im{i}.png`` for each ``(h, w)`` in ``sizes``: colour gradients plus seeded noise
    (a smooth, textured stand-in for a photo); returns the paths in order."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i, (h, w) in enumerate(sizes):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x * 255 // w, y * 255 // h, (x + y) * 127 // (h + w)], -1)
        img = np.clip(base + rng.integers(-40, 40, (h, w, 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"im{i}.png")
        Image.fromarray(img).save(paths[-1])
    return paths


def task_for(name: str, options: dict | None = None):
    """The task that trains the registered network ``name`` (as a user's checkpoint would come
    from): multi-task and segmentation networks -> ``MultiTaskSegDepthTask``, self-supervised
    ones -> ``SelfSupervisedDepthTask`` (depth range 0.2-60 m), else ``SupervisedDepthTask``
    (SILog lambda 0.85: metric depth)."""
    from litedepth.models import model_info
    from litedepth.tasks import SelfSupervisedDepthTask, SupervisedDepthTask
    from litedepth.tasks.multitask import MultiTaskSegDepthTask

    info = model_info(name)
    options = dict(options or {})
    if info.task in ("multitask", "segmentation"):
        return MultiTaskSegDepthTask(network=name, network_options=options)
    if "self-supervised" in info.tags:
        return SelfSupervisedDepthTask(network=name, network_options=options, min_depth=0.2, max_depth=60.0)
    return SupervisedDepthTask(network=name, network_options=options, si_lambda=0.85)


def save_task_checkpoint(task, path: Path) -> Path:
    """``path``: the ``.ckpt`` Lightning writes for ``task`` (no training: what ``litedepth
    train`` saves, with the task's ``litedepth`` card)."""
    import lightning as L

    trainer = L.Trainer(max_epochs=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu")
    trainer.strategy.connect(task)
    trainer.save_checkpoint(path)
    return path


def cosine_restart_lr(base_lr: float, min_lr: float, epoch: int, period: int = 31) -> float:
    """Lite-Mono's learning rate at ``epoch < period`` (first cycle of cosine annealing with warm
    restarts), written out by hand: ``min_lr + (base_lr - min_lr) * (1 + cos(pi * epoch / period)) / 2``."""
    import math

    assert 0 <= epoch < period
    return min_lr + (base_lr - min_lr) * (1 + math.cos(math.pi * epoch / period)) / 2
