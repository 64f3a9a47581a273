"""predict -> evaluate round trips, generated from the registry (issue 11).

For every depth family (one representative each: the first registered name of the family)
and every way weights reach a user — a litedepth checkpoint, an exported ONNX file, and a
folder of official files where the family has one — ``litedepth predict`` writes a
predictions folder and ``litedepth evaluate`` scores it with **no** kind or scale flags. The
meaning must travel with the files:

* a perfect prediction (ground truth made from the network's own output through its spec)
  scores abs_rel < 1e-6;
* a noisy ground truth gives the same metrics as scoring the network's output in memory.

(That reading the same values with another meaning scores differently is shown on a
controlled prediction in ``tests/inference/test_meaning_findings.py``.)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from litedepth.cli.main import main
from litedepth.inference import Predictor, load_model
from litedepth.metrics import evaluate_arrays
from litedepth.models import create_model, list_models, model_info
from litedepth.models.spec import to_depth
from tests.helpers import informative, save_task_checkpoint, task_for, write_gradient_images

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = (64, 64)  # network input: a multiple of every family's size multiple
IMAGES = [(48, 80), (40, 56)]  # other sizes and aspects than the input: predictions are resized back
#: small options for families whose default is large (the registry name and family stay the same)
SMALL = {"multitask": {"encoder": "resnet18", "num_classes": 3, "decoder_channels": [16, 16, 8, 8, 8]}}


def _depth_families() -> dict[str, str]:
    reps: dict[str, str] = {}
    for name in list_models():
        info = model_info(name)
        if info.output_spec(**SMALL.get(info.family, {})).is_depth:
            reps.setdefault(info.family, name)
    return reps


FAMILIES = _depth_families()
CASES = [(fam, name, via) for fam, name in FAMILIES.items() for via in ("checkpoint", "onnx", "official")
         if via != "official" or hasattr(__import__(model_info(name).factory.__module__, fromlist=["x"]),
                                         "save_official_weights")]


def _informative(net: nn.Module, seed: int = 0) -> nn.Module:
    return informative(net, seed, perturb=True)


def _images(folder: Path) -> list[Path]:
    return write_gradient_images(folder, IMAGES)


def _source(fam: str, name: str, via: str, tmp: Path) -> tuple[list[str], object]:
    """``predict`` arguments for the weights ``via`` this route, and the in-memory loaded model."""
    options = SMALL.get(fam, {})
    torch.manual_seed(0)
    if via == "official":
        module = __import__(model_info(name).factory.__module__, fromlist=["x"])
        net = _informative(create_model(name))
        folder = tmp / "official"
        module.save_official_weights(net, folder, *model_info(name).default_size)
        return ["--model", name, "--weights", str(folder)], load_model(name, weights=folder)
    task = task_for(name, options)
    _informative(task.net)
    ckpt = tmp / "m.ckpt"
    save_task_checkpoint(task, ckpt)
    if via == "checkpoint":
        return ["--checkpoint", str(ckpt)], load_model(ckpt)
    onnx = tmp / "m.onnx"
    assert main(["export", "--checkpoint", str(ckpt), "--output", str(onnx), "--height", str(SIZE[0]),
                 "--width", str(SIZE[1])]) == 0
    return ["--onnx", str(onnx)], load_model(ckpt)


@pytest.mark.parametrize("fam, name, via", CASES, ids=[f"{n}-{v}" for _, n, v in CASES])
def test_predict_then_evaluate_without_flags(fam, name, via, tmp_path):
    images = _images(tmp_path / "in")
    args, loaded = _source(fam, name, via, tmp_path)
    out = tmp_path / "pred"
    assert main(["predict", *map(str, images), *args, "--size", *map(str, SIZE), "--output", str(out)]) == 0
    manifest = json.loads((out / "predictions.json").read_text())
    assert manifest["output_spec"]["kind"] == loaded.spec.kind and manifest["model"]["weights"]["trained"]

    # ground truth from the in-memory network's output through its spec (no files involved)
    reference = Predictor(loaded, input_size=SIZE, device="cpu")
    spec = reference.spec
    gts = {}
    for path in images:
        raw = reference.infer_image(path).raw
        if spec.needs_alignment:  # affine-invariant: any s * raw + t is the same prediction
            gts[path.stem] = 1.0 / (2.0 * raw.astype(np.float64) + 0.5)
        else:
            gts[path.stem] = np.asarray(to_depth(raw.astype(np.float64), spec)) * (1.0 if spec.is_metric else 3.7)
        np.testing.assert_allclose(np.load(out / f"{path.stem}.npy"), raw, rtol=2e-4, atol=2e-5)

    def score(gt_maps: dict[str, np.ndarray], tag: str, *extra: str) -> dict:
        gt_dir = tmp_path / f"gt_{tag}"
        gt_dir.mkdir(exist_ok=True)
        for stem, g in gt_maps.items():
            np.save(gt_dir / f"{stem}.npy", g.astype(np.float32))
        report = tmp_path / f"m_{tag}.json"
        assert main(["evaluate", "--predictions", str(out), "--ground-truth", str(gt_dir), "--protocol", "none",
                     *extra, "--output", str(report)]) == 0
        return json.loads(report.read_text())

    perfect = score(gts, "perfect")
    assert perfect["metrics"]["abs_rel"] < 1e-6, perfect
    assert perfect["options"]["meaning_from"] == "recorded" and perfect["options"]["pred_kind"] == spec.kind

    rng = np.random.default_rng(1)
    noisy = {k: g * rng.uniform(0.8, 1.25, g.shape) for k, g in gts.items()}
    got = score(noisy, "noisy")
    items = [(p.stem, reference.infer_image(p).raw, noisy[p.stem].astype(np.float32)) for p in images]
    memory = evaluate_arrays(items, "none", spec=spec)
    for k in ("abs_rel", "rmse", "a1"):
        assert got["metrics"][k] == pytest.approx(memory.metrics[k], rel=1e-3, abs=1e-5)
    assert got["metrics"]["abs_rel"] > 0.05  # the noise is really scored

