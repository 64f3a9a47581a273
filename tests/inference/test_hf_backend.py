"""Foundation models as backends: transformers depth models through the one loader (issue 12, part 3).

Tiny random models of each architecture (Depth Anything relative and metric, DPT with a plain
ViT, ZoeDepth; :mod:`tests.hf_tiny`) saved in the Hugging Face format are loaded with ``hf:``
and must carry their meaning from their config into ``predict`` and ``evaluate``; the teacher
and the backend share one wrapper; images reach the model's own processor at their own size.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import CheckpointError, ConfigError
from litedepth.inference import Predictor, load_model
from litedepth.models.spec import OutputSpec
from tests.helpers import write_gradient_images

pytestmark = pytest.mark.usefixtures("one_thread")

#: processor size per architecture that keeps the tests fast (DA: lower bound, multiple of 14)
SIZE = {"depth-anything": 56, "depth-anything-metric": 56, "dpt": 32, "zoedepth": None}
#: (kind, scale) each architecture's config says it outputs
MEANING = {"depth-anything": ("relative-disparity", "affine"), "depth-anything-metric": ("depth", "metric"),
           "dpt": ("relative-disparity", "affine"), "zoedepth": ("depth", "metric")}
IMAGES = [(40, 70), (33, 30)]


def _images(folder: Path) -> list[Path]:
    return write_gradient_images(folder, IMAGES)


def _size_args(arch: str) -> list[str]:
    return [] if SIZE[arch] is None else ["--size", str(SIZE[arch]), str(SIZE[arch])]


@pytest.mark.parametrize("arch", list(MEANING))
def test_output_meaning_and_provenance_come_from_the_config(arch, tiny_hf_model):
    folder = tiny_hf_model(arch)
    loaded = load_model(f"hf:{folder}")
    assert (loaded.spec.kind, loaded.spec.scale) == MEANING[arch]
    assert loaded.spec.size_multiple == 1 and "image processor" in loaded.spec.normalisation
    assert loaded.name == f"hf:{folder}" and loaded.task == "depth"
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert loaded.weights.trained and loaded.weights.origin == "hub"
    assert loaded.weights.sha256 == {"model.safetensors": digest} and loaded.weights.source == str(folder)
    backend = loaded.describe()["backend"]
    assert backend["model_type"] == {"depth-anything": "depth_anything", "depth-anything-metric": "depth_anything",
                                     "dpt": "dpt", "zoedepth": "zoedepth"}[arch]
    json.dumps(loaded.describe())
    # a folder holding a transformers config is recognised without the prefix
    assert load_model(folder).spec == loaded.spec


@pytest.mark.parametrize("arch", list(MEANING))
def test_predict_then_evaluate_without_flags(arch, tiny_hf_model, tmp_path):
    """Relative models are aligned by scale and shift automatically, metric ones are not scaled."""
    folder = tiny_hf_model(arch)
    images = _images(tmp_path / "in")
    out = tmp_path / "pred"
    assert main(["predict", *map(str, images), "--model", f"hf:{folder}", *_size_args(arch), "--device", "cpu",
                 "--output", str(out)]) == 0
    manifest = json.loads((out / "predictions.json").read_text())
    kind, scale = MEANING[arch]
    assert (manifest["output_spec"]["kind"], manifest["output_spec"]["scale"]) == (kind, scale)
    assert manifest["model"]["weights"]["origin"] == "hub" and manifest["model"]["backend"]["preprocessing"]
    raws = {p.stem: np.load(out / f"{p.stem}.npy").astype(np.float64) for p in images}
    for p in images:
        assert raws[p.stem].shape == Image.open(p).size[::-1] and raws[p.stem].std() > 0

    def score(gts: dict[str, np.ndarray], tag: str) -> dict:
        gt_dir = tmp_path / f"gt_{tag}"
        gt_dir.mkdir()
        for stem, g in gts.items():
            np.save(gt_dir / f"{stem}.npy", g.astype(np.float32))
        report = tmp_path / f"m_{tag}.json"
        assert main(["evaluate", "--predictions", str(out), "--ground-truth", str(gt_dir), "--protocol", "none",
                     "--output", str(report)]) == 0
        return json.loads(report.read_text())

    if kind == "relative-disparity":  # any s * raw + t is the same prediction
        perfect = score({k: 1.0 / (2.0 * r + 0.5) for k, r in raws.items()}, "perfect")
        assert perfect["options"]["align"] == "scale-shift"
    else:  # metres as they are (ground truth only where the random output is a plausible depth)
        perfect = score({k: np.where(r > 0.05, r, 0.0) for k, r in raws.items()}, "perfect")
        assert perfect["options"]["align"] is None and not perfect["options"]["median_scaling"]
        scaled = score({k: np.where(r > 0.05, 1.5 * r, 0.0) for k, r in raws.items()}, "scaled")
        assert scaled["metrics"]["abs_rel"] == pytest.approx(1 / 3, abs=1e-3)  # no silent rescaling
    assert perfect["metrics"]["abs_rel"] < 1e-6, perfect["metrics"]
    assert perfect["options"]["meaning_from"] == "recorded"


def test_teacher_and_backend_share_one_wrapper(tiny_hf_model):
    from litedepth.models.hf_depth import HFDepthNetwork
    from litedepth.teachers import HFDepthTeacher

    folder = tiny_hf_model("depth-anything")
    teacher = HFDepthTeacher(folder, device="cpu", input_size=56)
    predictor = Predictor.load(f"hf:{folder}", input_size=(56, 56), device="cpu")
    assert isinstance(teacher.network, HFDepthNetwork) and isinstance(predictor.model, HFDepthNetwork)
    rgb = np.random.default_rng(1).integers(0, 256, (40, 70, 3), dtype=np.uint8)
    [label] = teacher.predict([rgb])
    np.testing.assert_allclose(predictor.infer_image(rgb).raw, label, rtol=1e-5, atol=1e-5)
    assert teacher.preprocessing() == predictor.model.preprocessing()


def test_images_reach_the_processor_at_their_own_size(tiny_hf_model):
    folder = tiny_hf_model("depth-anything")
    predictor = Predictor.load(f"hf:{folder}", input_size=(56, 56), device="cpu")
    net = predictor.model
    seen: list[tuple[int, ...]] = []
    hook = net.model.register_forward_pre_hook(lambda m, a, kw: seen.append(tuple(kw["pixel_values"].shape)),
                                               with_kwargs=True)
    rng = np.random.default_rng(2)
    imgs = [rng.integers(0, 256, s + (3,), dtype=np.uint8) for s in [(40, 70), (30, 31), (40, 70)]]
    try:
        batch = predictor.infer_batch(imgs)
    finally:
        hook.remove()
    # Depth Anything keeps the aspect ratio (multiple of 14), one forward pass per image size
    assert sorted(seen) == sorted([(2, 3, *net.processed_size(40, 70)), (1, 3, *net.processed_size(30, 31))])
    assert net.processed_size(40, 70) == (28, 56)  # not the 56 x 56 a plain resize would give
    assert [b.raw.shape for b in batch] == [(40, 70), (30, 31), (40, 70)]
    np.testing.assert_allclose(predictor.infer_image(imgs[1]).raw, batch[1].raw, rtol=1e-5, atol=1e-4)
    # the processor's own rule at its default size: a KITTI frame runs at 518 x 1722 (REFERENCE.md)
    net.set_input_size(518)
    assert net.processed_size(375, 1242) == (518, 1722)


def test_plain_vit_dpt_runs_at_a_square_size(tiny_hf_model, tmp_path, caplog):
    from tests.hf_tiny import write_tiny_dpt

    folder = write_tiny_dpt(tmp_path / "dpt-aspect", keep_aspect_ratio=True)  # would crash the ViT
    with caplog.at_level(logging.WARNING):
        predictor = Predictor.load(f"hf:{folder}", device="cpu")
    assert "fails on non-square input" in caplog.text
    assert predictor.model.processed_size(40, 70) == (32, 32)
    assert predictor.infer_image(np.zeros((40, 70, 3), np.uint8)).raw.shape == (40, 70)
    with pytest.raises(ConfigError, match="only runs on square input, got 32x48"):
        Predictor.load(f"hf:{tiny_hf_model('dpt')}", input_size=(32, 48), device="cpu")


def test_a_contradicting_or_missing_meaning_is_refused(tiny_hf_model, tmp_path):
    from types import SimpleNamespace

    from litedepth.models.hf_depth import spec_from_config

    with pytest.raises(ConfigError, match="config says it outputs relative-disparity.*contradicts"):
        load_model(f"hf:{tiny_hf_model('depth-anything')}", spec=OutputSpec.metric_depth())
    with pytest.raises(ConfigError, match="cannot tell whether a 'glpn' depth model outputs metric depth or relative"):
        spec_from_config(SimpleNamespace(model_type="glpn"))
    assert spec_from_config(SimpleNamespace(model_type="zoedepth")).is_metric
    metric = SimpleNamespace(model_type="depth_anything", depth_estimation_type="metric", max_depth=80)
    assert spec_from_config(metric).is_metric and "max_depth 80 m" in spec_from_config(metric).note
    with pytest.raises(ConfigError, match="options \\['height'\\] do not apply to a transformers depth model"):
        load_model(f"hf:{tiny_hf_model('depth-anything')}", height=32)
    with pytest.raises(ConfigError, match="brings its own weights"):
        load_model(f"hf:{tiny_hf_model('depth-anything')}", weights="w.pth")


def _fake_hub_cache(root: Path, repo: str, model: Path) -> tuple[Path, str]:
    """The Hub cache layout (refs/main -> snapshots/<commit>/files) holding ``model``'s files."""
    import shutil

    commit = "89abcdef0123456789abcdef0123456789abcdef"
    cache = root / f"models--{repo.replace('/', '--')}"
    (cache / "refs").mkdir(parents=True)
    (cache / "refs" / "main").write_text(commit)
    snap = cache / "snapshots" / commit
    shutil.copytree(model, snap)
    return snap, commit


def test_hub_ids_offline_read_the_cache_or_say_what_to_download(tiny_hf_model, tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(CheckpointError) as info:
        load_model("hf:someone/tiny-depth@v1")
    text = str(info.value)
    assert text.startswith("someone/tiny-depth@v1: ") and "\n" not in text
    assert "not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 forbids downloading it" in text
    assert "`hf download someone/tiny-depth --revision v1`" in text and "*.safetensors" in text
    out = tmp_path / "o"
    assert main(["predict", str(_images(tmp_path / "in")[0]), "--model", "hf:someone/tiny-depth", "--output",
                 str(out)]) == 2
    assert "hf download someone/tiny-depth" in capsys.readouterr().err and not out.exists()
    # a published name of a transformers model: not downloaded, it says which command fetches it
    with pytest.raises(CheckpointError, match="Run `litedepth weights download depth-anything-v2-small`"):
        load_model("depth-anything-v2-small")

    snap, commit = _fake_hub_cache(tmp_path / "hub", "someone/tiny-depth", tiny_hf_model("depth-anything-metric"))
    loaded = load_model("hf:someone/tiny-depth")
    assert loaded.spec.is_metric and loaded.weights.source == f"someone/tiny-depth@{commit}"
    assert loaded.weights.sha256 == {"model.safetensors": hashlib.sha256((snap / "model.safetensors")
                                                                         .read_bytes()).hexdigest()}


def test_onnx_export_of_a_backend_is_refused_in_one_line(tiny_hf_model, tmp_path):
    from litedepth.export import export_onnx

    net = load_model(f"hf:{tiny_hf_model('depth-anything')}").net
    with pytest.raises(ConfigError, match="runs its own image processor inside forward"):
        export_onnx(net, tmp_path / "x.onnx", 56, 56)
    assert not (tmp_path / "x.onnx").exists()


def test_profile_and_python_api_take_a_backend(tiny_hf_model, tmp_path):
    folder = tiny_hf_model("zoedepth")
    report = tmp_path / "profile.json"
    assert main(["profile", "--model", f"hf:{folder}", "--warmup", "0", "--repeats", "1", "--json",
                 str(report)]) == 0
    data = json.loads(report.read_text())
    assert data["input_size"] == {"height": 32, "width": 48} and data["params"]["total"] > 1e5
    pred = Predictor.load(f"hf:{folder}", device="cpu").infer_image(np.full((20, 30, 3), 90, np.uint8))
    assert pred.depth_units == "metres" and pred.depth.shape == (20, 30) and torch.isfinite(
        torch.from_numpy(pred.depth)).all()


def test_evaluate_runs_a_backend_on_an_image_depth_folder(tiny_hf_model, tmp_path):
    """``evaluate --checkpoint hf:FOLDER --data``: metric output scored as metres (never rescaled)."""
    folder = tiny_hf_model("zoedepth")
    images = _images(tmp_path / "data" / "images")
    (tmp_path / "data" / "depth").mkdir()
    predictor = Predictor.load(f"hf:{folder}", device="cpu")
    for p in images:
        raw = predictor.infer_image(p).raw.astype(np.float64)
        np.save(tmp_path / "data" / "depth" / f"{p.stem}.npy", np.where(raw > 0.05, 1.5 * raw, 0.0).astype(np.float32))
    report = tmp_path / "m.json"
    assert main(["evaluate", "--checkpoint", f"hf:{folder}", "--data", str(tmp_path / "data"), "--data-split", "all",
                 "--depth-scale", "npy", "--protocol", "none", "--output", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["metrics"]["abs_rel"] == pytest.approx(1 / 3, abs=1e-3), result["metrics"]
    assert result["options"]["align"] is None and not result["options"]["median_scaling"]
