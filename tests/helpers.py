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
                               "num_workers": 0, "depth_scale": "nyu"}},
        "trainer": {"max_epochs": 2, "accelerator": "cpu", "devices": 1,
                    "enable_progress_bar": False, "enable_model_summary": False, **trainer},
    }
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(*args: str, env_extra: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1", **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "litedepth", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


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
