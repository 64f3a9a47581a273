"""Issue 11's findings, one test each (3, 4 and 10 live beside the code that fixed them:
tests/geometry/test_intrinsics.py, tests/data/test_video_folder_intrinsics.py,
tests/inference/test_pointcloud_intrinsics.py, tests/io/test_depth_encodings.py,
tests/data/test_folder_encodings.py, tests/data/test_kitti_gt_matrix.py).

Each of these failed on the main branch before the output specification existed: the number
lost its meaning on the way between two parts.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import ConfigError
from litedepth.metrics.prediction_files import write_manifest
from litedepth.models import OutputSpec, create_model, to_depth

pytestmark = pytest.mark.usefixtures("one_thread")


def _save_ckpt(task, path: Path, datamodule=None) -> None:
    import lightning as L

    trainer = L.Trainer(max_epochs=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, accelerator="cpu")
    if datamodule is not None:  # as `litedepth train` does: the checkpoint records its encoding and size
        trainer.fit(task, datamodule=datamodule)
    else:
        trainer.strategy.connect(task)
    trainer.save_checkpoint(path)


def _image(path: Path, h: int = 40, w: int = 56, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    img = np.clip(np.stack([x * 4, y * 5, (x + y) * 2], -1) + rng.integers(0, 60, (h, w, 3)), 0, 255)
    Image.fromarray(img.astype(np.uint8)).save(path)
    return path


def _tum_folder(data: Path, n: int, seed: int) -> Path:
    """``n`` 24x32 images + TUM-encoded depth (value / 5000, 1-4 m) in ``data/images``, ``data/depth``."""
    rng = np.random.default_rng(seed)
    (data / "depth").mkdir(parents=True)
    for i in range(n):
        _image(data / "images" / f"im{i}.png", 24, 32, seed=i)
        Image.fromarray((rng.uniform(1.0, 4.0, (24, 32)) * 5000).astype(np.uint16)).save(data / "depth" / f"im{i}.png")
    return data


# ------------------------------------------------------------------------------ finding 1


def test_1_evaluate_reads_predictions_json(tmp_path):
    """A perfect sigmoid-disparity prediction scored abs_rel 0.25 as depth; now the manifest says."""
    spec = OutputSpec.sigmoid_disparity(0.1, 100.0)
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        s = rng.uniform(0.02, 0.9, (12, 16)).astype(np.float32)
        np.save(pred / f"f{i}.npy", s)
        np.save(gt / f"f{i}.npy", to_depth(s.astype(np.float64), spec).astype(np.float32))
    write_manifest(pred, spec)
    out = tmp_path / "m.json"
    assert main(["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none",
                 "--output", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["abs_rel"] < 1e-6
    # what main did before: the same maps read as depth (now only when forced)
    assert main(["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none",
                 "--pred-kind", "depth", "--output", str(out)]) == 2
    assert main(["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none",
                 "--pred-kind", "depth", "--force", "--output", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["abs_rel"] > 0.2


def test_1b_png_ground_truth_needs_its_encoding(tmp_path, capsys):
    """TUM depth PNGs (value / 5000) scored under a non-KITTI protocol were read as KITTI (/ 256)
    without a word: the encoding is now required there, and --depth-encoding is not ignored."""
    spec = OutputSpec.metric_depth()
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    depth = np.random.default_rng(1).uniform(0.8, 4.0, (12, 16)).astype(np.float32)
    np.save(pred / "f0.npy", depth)
    Image.fromarray(np.round(depth * 5000).astype(np.uint16)).save(gt / "f0.png")
    write_manifest(pred, spec)
    out = tmp_path / "m.json"
    base = ["evaluate", "--predictions", str(pred), "--ground-truth", str(gt), "--protocol", "none", "--output", str(out)]
    assert main(base) == 2
    assert "--gt-encoding" in capsys.readouterr().err and not out.exists()
    assert main([*base, "--depth-encoding", "tum"]) == 2
    assert "--gt-encoding" in capsys.readouterr().err and not out.exists()
    assert main([*base, "--gt-encoding", "tum"]) == 0
    assert json.loads(out.read_text())["metrics"]["abs_rel"] < 1e-3


# ------------------------------------------------------------------------------ finding 2


def test_2_checkpoint_evaluation_reuses_its_training_encoding(tmp_path, capsys):
    """``evaluate --checkpoint --data`` read ground truth as millimetres whatever the checkpoint
    was trained on; a TUM checkpoint (value / 5000) is now evaluated with its own encoding."""
    from litedepth.data.folder import DepthDataModule
    from litedepth.inference import Predictor
    from litedepth.io import parse_encoding
    from litedepth.metrics import evaluate_arrays
    from litedepth.tasks import SupervisedDepthTask

    data = _tum_folder(tmp_path / "data", 3, seed=0)
    torch.manual_seed(0)
    task = SupervisedDepthTask("deeplabv3-mobilenet-v3-large", network_options={"init_depth": 2.0}, si_lambda=0.85)
    ckpt = tmp_path / "tum.ckpt"
    _save_ckpt(task, ckpt, DepthDataModule(str(data), size=(24, 32), depth_encoding="tum", num_workers=0, batch_size=1))
    out = tmp_path / "m.json"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--data-split", "all",
                 "--protocol", "nyu", "--output", str(out)]) == 0
    got = json.loads(out.read_text())
    assert got["options"]["depth_encoding"]["name"] == "tum"
    pred = Predictor.from_checkpoint(ckpt, device="cpu")
    items = [(f"im{i}", pred.infer_image(data / "images" / f"im{i}.png"),
              parse_encoding("tum").decode(data / "depth" / f"im{i}.png")) for i in range(3)]
    assert got["metrics"]["abs_rel"] == pytest.approx(evaluate_arrays(items, "nyu", spec=pred.spec).metrics["abs_rel"])
    # --data-split all holds the checkpoint's training image (the one warning of this report)
    assert got["options"]["training_overlap"]["images"] == 1 and got["options"]["data_split_seed"] == 42
    assert got["warnings"] == [f"1 of the 3 images of --data-split all (--split-seed 42) were in {ckpt}'s training "
                               "split (split seed 42): these metrics are not of held-out data"]
    # --depth-scale describes the evaluation data (another dataset may be encoded otherwise): it
    # overrides the checkpoint's record, with a warning naming both, and is what the data is read with
    other = tmp_path / "other.json"
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--data-split", "all",
                 "--depth-scale", "1000", "--protocol", "nyu", "--output", str(other)]) == 0
    said = " ".join((lambda c: c.out + c.err)(capsys.readouterr()).split())
    assert "--depth-scale 1000" in said and "encoded as tum" in said
    stated = json.loads(other.read_text())
    assert stated["options"]["depth_encoding"]["scale"] == 1000
    assert stated["metrics"]["abs_rel"] != pytest.approx(got["metrics"]["abs_rel"], rel=1e-3)
    # names are accepted for --gt-scale as for --depth-scale
    gt_dir = data / "depth"
    pred_dir = tmp_path / "pred"
    assert main(["predict", str(data / "images"), "--checkpoint", str(ckpt), "--output", str(pred_dir)]) == 0
    assert main(["evaluate", "--predictions", str(pred_dir), "--ground-truth", str(gt_dir), "--gt-scale", "tum",
                 "--protocol", "nyu", "--output", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["abs_rel"] == pytest.approx(got["metrics"]["abs_rel"], rel=1e-4)


def test_2b_held_out_or_not_is_recorded_and_the_card_takes_only_held_out_unforced_reports(tmp_path, capsys):
    """An evaluation split drawn with another seed than training's can hold training images: the
    report says how many (it said nothing), and neither that report nor one forced past the
    recorded meaning goes into a model card."""
    from litedepth.data.folder import DepthDataModule, split_indices
    from litedepth.tasks import SupervisedDepthTask

    data = _tum_folder(tmp_path / "data", 10, seed=1)
    torch.manual_seed(0)
    task = SupervisedDepthTask("lite-mono-tiny", si_lambda=0.85)
    ckpt = tmp_path / "tum.ckpt"
    _save_ckpt(task, ckpt, DepthDataModule(str(data), size=(32, 32), depth_encoding="tum", num_workers=0,
                                           batch_size=2))
    trained_on = set(split_indices(10, "train", seed=42))
    other_seed = next(s for s in range(100) if set(split_indices(10, "test", seed=s)) <= trained_on)

    def evaluate(name: str, *extra: str) -> dict:
        out = tmp_path / name
        assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--protocol", "none",
                     "--output", str(out), *extra]) == 0
        return json.loads(out.read_text())

    held_out = evaluate("held_out.json")  # the test split of the training seed
    assert held_out["options"]["training_overlap"] is None and not held_out["warnings"]
    seen = evaluate("seen.json", "--split-seed", str(other_seed))
    assert seen["options"]["training_overlap"]["images"] == 1 and seen["options"]["data_split_seed"] == other_seed
    assert "these metrics are not of held-out data" in seen["warnings"][0]
    forced = evaluate("forced.json", "--no-median-scaling", "--force")
    assert len(forced["options"]["forced"]) == len(forced["warnings"]) == 1
    assert forced["warnings"][0].startswith("forced: no scaling (relative depth would be compared with metres) "
                                            "contradicts the record (sigmoid-disparity (sigmoid disparity in [0, 1]")
    assert forced["options"]["scaling"].startswith("none, forced on predictions recorded as relative")

    card_dir = tmp_path / "hf"
    assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(card_dir), "--evaluation",
                 str(tmp_path / "held_out.json"), "--evaluation", str(tmp_path / "held_out.json")]) == 0
    card = (card_dir / "README.md").read_text()
    assert card.count("split test; split seed 42; 1 images; ground-truth encoding tum") == 1  # given twice, shown once
    assert f"weights evaluated: checkpoint {ckpt}" in card
    for name, words in (("seen.json", "1 of its 1 images were training images of the checkpoint"),
                        ("forced.json", "was evaluated with --force past the predictions' recorded meaning")):
        capsys.readouterr()
        assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(tmp_path / name[:-5]),
                     "--evaluation", str(tmp_path / name)]) == 2
        assert words in capsys.readouterr().err


# ------------------------------------------------------------------------------ finding 5


def test_5_untrained_networks_are_loud_and_recorded(tmp_path, caplog, monkeypatch):
    from litedepth.inference import Predictor

    monkeypatch.setattr(logging.getLogger("litedepth"), "propagate", True)
    img = _image(tmp_path / "in" / "a.png")
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        assert main(["predict", str(img), "--model", "lite-mono-tiny", "--output", str(tmp_path / "out")]) == 0
    assert "RANDOM weights" in caplog.text
    meta = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert meta["model"]["name"] == "lite-mono-tiny"
    assert meta["model"]["weights"] == {"trained": False, "origin": "random", "source": None, "sha256": None}
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        Predictor.from_name("lite-mono-tiny", device="cpu")  # the Python API warns too
    assert "RANDOM weights" in caplog.text
    # a checkpoint's weights are recorded with their sha256
    from litedepth.tasks import SupervisedDepthTask

    ckpt = tmp_path / "m.ckpt"
    _save_ckpt(SupervisedDepthTask("deeplabv3-mobilenet-v3-large"), ckpt)
    assert main(["predict", str(img), "--checkpoint", str(ckpt), "--output", str(tmp_path / "o2")]) == 0
    weights = json.loads((tmp_path / "o2" / "predictions.json").read_text())["model"]["weights"]
    import hashlib

    assert weights["trained"] is True and weights["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()


# ------------------------------------------------------------------------------ finding 6


def test_6_checkpoint_range_and_scale_invariance_travel(tmp_path):
    """``predict`` converted with 0.1 / 100 whatever the checkpoint was trained with, and a
    scale-invariant (SILog λ = 1) model was labelled metres."""
    from litedepth.inference import Predictor
    from litedepth.tasks import SelfSupervisedDepthTask, SupervisedDepthTask

    torch.manual_seed(0)
    task = SelfSupervisedDepthTask("lite-mono-tiny", min_depth=0.5, max_depth=40.0)
    ckpt = tmp_path / "ss.ckpt"
    _save_ckpt(task, ckpt)
    pred = Predictor.from_checkpoint(ckpt, device="cpu", input_size=(32, 48))
    assert (pred.spec.min_depth, pred.spec.max_depth) == (0.5, 40.0)
    out = pred.infer_image(_image(tmp_path / "a.png"))
    np.testing.assert_allclose(out.depth, 1.0 / (1 / 40.0 + (1 / 0.5 - 1 / 40.0) * out.raw), rtol=1e-5)
    assert out.depth.max() <= 40.0 + 1e-3 and out.depth.min() >= 0.5 - 1e-4
    si = tmp_path / "si.ckpt"
    _save_ckpt(SupervisedDepthTask("deeplabv3-mobilenet-v3-large", si_lambda=1.0), si)
    rel = Predictor.from_checkpoint(si, device="cpu", input_size=(32, 48))
    assert rel.spec.scale == "relative" and rel.infer_image(_image(tmp_path / "a.png")).depth_units == "relative"
    metric = tmp_path / "metric.ckpt"
    _save_ckpt(SupervisedDepthTask("deeplabv3-mobilenet-v3-large", si_lambda=0.85), metric)
    assert Predictor.from_checkpoint(metric, device="cpu").spec.is_metric


# ------------------------------------------------------------------------------ finding 7


def test_7_the_three_disparities_are_three_kinds():
    """A sigmoid output, an inverse depth and an affine-invariant relative disparity convert
    differently; the multi-task head (min-max normalised teacher maps) is the third kind."""
    from litedepth.models.spec import parse_output_kind

    v = np.array([0.25, 0.5])
    sigmoid = to_depth(v, parse_output_kind("sigmoid-disparity:0.1:100"))
    inverse = to_depth(v, parse_output_kind("inverse-depth"))
    np.testing.assert_allclose(inverse, [4.0, 2.0])
    assert not np.allclose(sigmoid / sigmoid[0], inverse / inverse[0])  # not even proportional
    with pytest.raises(ConfigError, match="has no depth without aligning"):
        to_depth(v, parse_output_kind("relative-disparity"))
    head = create_model("multitask-unet-resnet50", encoder="resnet18", num_classes=3,
                        decoder_channels=[8, 8, 8, 8, 8]).output_spec
    assert head.kind == "relative-disparity"
    with pytest.raises(ConfigError, match="not an output kind"):
        parse_output_kind("disparity")  # the ambiguous word is refused


# ------------------------------------------------------------------------------ finding 8


def test_8_the_model_contract_is_declared_not_defaulted():
    """A network that forgot ``output_kind`` was labelled metres; Lite-Mono declared no size
    multiple. Now the registry refuses a network without a spec, and the spec is enforced."""
    from litedepth.inference import Predictor
    from litedepth.models import DepthOutput, register_model

    with pytest.raises(TypeError, match="must declare what its output means"):
        register_model("forgetful-net")(lambda: torch.nn.Identity())

    # the class a factory builds declares the contract of its task (litedepth.models.contract)
    class NoMultiple(torch.nn.Module):
        output_kind = "disparity"
        official_files: tuple[str, ...] = ()

        def forward(self, image: torch.Tensor) -> DepthOutput:  # pragma: no cover - never built
            return DepthOutput(pred=image[:, :1], kind="disparity")

    def no_multiple() -> NoMultiple:  # pragma: no cover - never built
        return NoMultiple()

    no_multiple.__annotations__["return"] = NoMultiple  # a class local to this test
    with pytest.raises(TypeError, match=r"NoMultiple does not declare 'size_multiple', which every depth network"):
        register_model("multiple-less-net", output=OutputSpec.sigmoid_disparity(0.1, 100.0))(no_multiple)
    net = create_model("lite-mono-tiny")
    assert net.output_spec.size_multiple == 16 and net.output_spec.kind == "sigmoid-disparity"
    with pytest.raises(ConfigError, match="multiples of 16"):
        Predictor(net, (100, 100), device="cpu")
    with pytest.raises(ConfigError, match="declares no output spec"):
        Predictor(torch.nn.Conv2d(3, 1, 1), (32, 32), device="cpu")


# ------------------------------------------------------------------------------ finding 9


def test_9_posenet_loads_from_an_official_folder(tmp_path):
    from litedepth.models import load_pretrained
    from litedepth.models.monodepth2 import save_official_weights

    torch.manual_seed(0)
    pose = create_model("posenet-resnet18").eval()
    save_official_weights(pose, tmp_path / "mono_640x192")
    loaded, _ = load_pretrained("posenet-resnet18", tmp_path / "mono_640x192")
    x = torch.rand(1, 6, 64, 96)
    with torch.no_grad():
        a, b = pose(x), loaded(x)
    torch.testing.assert_close(a.axisangle, b.axisangle)
    torch.testing.assert_close(a.translation, b.translation)
    assert loaded.weights_info.trained and loaded.output_spec.kind == "pose"
