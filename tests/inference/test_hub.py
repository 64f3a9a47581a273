"""litedepth networks in the Hugging Face Hub format (issue 12, part 2): save_pretrained,
from_pretrained, push_to_hub (against a stand-in HfApi: no network), the model card, and the
folder / ``hub:`` sources of the one loader, offline."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.inference import Predictor, load_model
from litedepth.inference.hub import from_pretrained, is_litedepth_folder, push_to_hub, save_pretrained
from litedepth.models import create_model
from litedepth.models.spec import to_depth
from tests.helpers import informative, save_task_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = (64, 64)
REPORT = {"protocol": "nyu", "count": 654, "metrics": {"abs_rel": 0.1234, "sq_rel": 0.05, "rmse": 0.456,
                                                       "rmse_log": 0.16, "a1": 0.85, "a2": 0.97, "a3": 0.99},
          "options": {"pred_kind": "depth", "scaling": "median scaling per image"}}


def _front_matter(card: str) -> dict:
    assert card.startswith("---\n")
    return yaml.safe_load(card.split("---\n")[1])


def _net():
    torch.manual_seed(0)
    return informative(create_model("lite-mono-tiny"), seed=0, perturb=True)


def test_save_then_load_gives_the_same_network_and_meaning(tmp_path, caplog):
    net = _net()
    with caplog.at_level("WARNING", logger="litedepth.inference.hub_card"):
        folder = save_pretrained(net, tmp_path / "m", evaluation=REPORT, license="apache-2.0", model_id="me/lite")
    assert "evaluation report 1 records no model: its metrics go into the model card unchecked" in caplog.text
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["library"] == "litedepth" and config["network"] == "lite-mono-tiny"
    assert config["output_spec"] == net.output_spec.to_dict() and config["input_size"] == [192, 640]
    assert config["weights"] == {"trained": False, "origin": "random", "source": None, "sha256": None}
    assert is_litedepth_folder(folder)

    card = (folder / "README.md").read_text()
    meta = _front_matter(card)
    assert meta["library_name"] == "litedepth" and meta["pipeline_tag"] == "depth-estimation"
    assert meta["license"] == "apache-2.0" and "untrained" in meta["tags"]
    assert "model-index" not in meta  # an unchecked report is shown in the text only
    assert "WARNING: UNTRAINED WEIGHTS" in card and "the output is noise" in card
    assert ("protocol nyu; data not recorded; 654 images; predictions depth; scaling median scaling per image "
            "(this report does not record which weights it evaluated: NOT checked to be of these weights)") in card
    assert "| abs_rel | 0.1234 | lower |" in card and 'Predictor.load("hub:me/lite")' in card

    loaded = from_pretrained(folder)
    assert loaded.name == "lite-mono-tiny" and loaded.spec == net.output_spec and loaded.input_size == (192, 640)
    assert not loaded.weights.trained and loaded.weights.origin == "hub" and loaded.weights.source == str(folder)
    x = torch.rand(2, 3, *SIZE)
    with torch.no_grad():
        assert torch.equal(loaded.net(x).pred, net(x).pred)
    assert load_model(folder).spec == loaded.spec  # recognised by its config.json
    with pytest.raises(ConfigError, match="holds network 'lite-mono-tiny', not 'lite-mono'"):
        load_model(folder, network="lite-mono")


def _checkpoint(tmp_path: Path) -> Path:
    from litedepth.tasks import SupervisedDepthTask

    task = SupervisedDepthTask(network="lite-mono-tiny", si_lambda=0.85)
    informative(task.net, seed=1, perturb=True)
    return save_task_checkpoint(task, tmp_path / "m.ckpt")


def _images(folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(3)
    paths = []
    for i, (h, w) in enumerate([(48, 80), (40, 56)]):
        paths.append(folder / f"im{i}.png")
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def test_export_hf_from_a_checkpoint_then_predict_and_evaluate_without_flags(tmp_path, capsys):
    ckpt = _checkpoint(tmp_path)
    report = tmp_path / "metrics.json"
    report.write_text(json.dumps(REPORT))
    folder = tmp_path / "hf"
    assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(folder), "--evaluation",
                 str(report), "--license", "mit"]) == 0
    config = json.loads((folder / "config.json").read_text())
    assert config["weights"]["trained"] and config["weights"]["origin"] == "checkpoint"
    reference = Predictor(load_model(ckpt), input_size=SIZE, device="cpu")
    assert config["output_spec"] == reference.spec.to_dict() and not reference.spec.is_metric  # as trained
    card = (folder / "README.md").read_text()
    assert "UNTRAINED" not in card and _front_matter(card)["license"] == "mit"

    images = _images(tmp_path / "in")
    out = tmp_path / "pred"
    assert main(["predict", *map(str, images), "--model", str(folder), "--size", *map(str, SIZE), "--output",
                 str(out)]) == 0
    manifest = json.loads((out / "predictions.json").read_text())
    assert manifest["model"]["weights"]["origin"] == "hub" and manifest["model"]["weights"]["trained"]
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    for p in images:
        raw = reference.infer_image(p).raw
        np.testing.assert_allclose(np.load(out / f"{p.stem}.npy"), raw, rtol=1e-5, atol=1e-6)
        depth = np.asarray(to_depth(raw.astype(np.float64), reference.spec))
        np.save(gt_dir / f"{p.stem}.npy", (3.7 * depth).astype(np.float32))  # relative depth: any scale
    metrics = tmp_path / "m.json"
    assert main(["evaluate", "--predictions", str(out), "--ground-truth", str(gt_dir), "--protocol", "none",
                 "--output", str(metrics)]) == 0
    result = json.loads(metrics.read_text())
    assert result["metrics"]["abs_rel"] < 1e-6 and result["options"]["median_scaling"]
    # that report evaluated the folder's weights, which are the checkpoint's: a card of the same
    # checkpoint takes it as checked, and names the data it was computed on
    again = tmp_path / "hf2"
    assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(again), "--evaluation",
                 str(metrics)]) == 0
    card = (again / "README.md").read_text()
    parent = tmp_path.name
    assert f"protocol none; data {parent}/gt; 2 images;" in card and "NOT checked" not in card
    (entry,) = [r for r in _front_matter(card)["model-index"][0]["results"]]
    assert entry["dataset"] == {"type": "custom", "name": f"{parent}/gt", "config": "none"}
    capsys.readouterr()
    assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(tmp_path / "x"),
                 "--height", "64"]) == 2
    assert "--height, --width" in capsys.readouterr().err


def test_a_report_of_other_weights_or_another_network_is_refused(tmp_path, capsys):
    """The card copies a report's metrics only when the report evaluated these weights."""
    ckpt = _checkpoint(tmp_path)
    described = load_model(ckpt).describe()
    checked = {**REPORT, "options": {**REPORT["options"], "model": described, "ground_truth": "/data/nyu_test/depth",
                                     "split": "/splits/eigen_test.txt"}}
    card = (save_pretrained(load_model(ckpt), tmp_path / "ok", evaluation=checked) / "README.md").read_text()
    assert "protocol nyu; data nyu_test/depth; split eigen_test; 654 images" in card and "NOT checked" not in card
    (entry,) = _front_matter(card)["model-index"][0]["results"]
    assert entry["dataset"] == {"type": "custom", "name": "nyu_test/depth", "config": "nyu", "split": "eigen_test"}

    other = {**described, "weights": {**described["weights"], "sha256": "0" * 64, "source": "other.ckpt"}}
    report = tmp_path / "other.json"
    report.write_text(json.dumps({**REPORT, "options": {"model": other}}))
    out = tmp_path / "refused"
    capsys.readouterr()
    assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(out), "--evaluation",
                 str(report)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(report) in err[0]
    assert f"evaluates other weights (sha256 0000000000000000..., checkpoint other.ckpt) than the ones being saved " \
           f"(sha256 {described['weights']['sha256'][:16]}..., {ckpt}): evaluate {ckpt}, or the predictions of the saved folder" in err[0]
    assert not out.exists()  # nothing written, no empty folder left
    # a report of untrained weights (recorded without a digest) does not describe trained ones
    random = {**described, "weights": {"trained": False, "origin": "random", "source": None, "sha256": None}}
    with pytest.raises(DataError, match=r"evaluates random \(untrained\) weights, not the trained weights"):
        save_pretrained(load_model(ckpt), tmp_path / "r", evaluation={**REPORT, "options": {"model": random}})
    # weights recorded file by file (an official-weights folder) match only as a whole
    official = load_model(ckpt)
    official.weights = type(official.weights)(True, "official-folder", "folder", {"encoder.pth": "a" * 64,
                                                                               "depth.pth": "b" * 64})
    partial = {**described, "weights": {**official.weights.to_dict(), "sha256": {"encoder.pth": "a" * 64,
                                                                                "depth.pth": "c" * 64}}}
    with pytest.raises(DataError, match="evaluates other weights"):
        save_pretrained(official, tmp_path / "p", evaluation={**REPORT, "options": {"model": partial}})
    whole = {**partial, "weights": official.weights.to_dict()}
    assert "NOT checked" not in (save_pretrained(official, tmp_path / "w", evaluation={
        **REPORT, "options": {"model": whole}}) / "README.md").read_text()
    with pytest.raises(DataError, match="evaluates network 'lite-mono', not the 'lite-mono-tiny' being saved"):
        save_pretrained(load_model(ckpt), tmp_path / "n", evaluation={**REPORT, "options": {"model": {
            **described, "name": "lite-mono"}}})


def test_a_report_file_is_read_once(tmp_path, monkeypatch):
    import types

    from litedepth.inference import hub_card

    reads = []
    monkeypatch.setattr(hub_card, "json", types.SimpleNamespace(
        loads=lambda text: reads.append(text) or json.loads(text), dumps=json.dumps))
    report = tmp_path / "r.json"
    report.write_text(json.dumps(REPORT))
    card = (save_pretrained(_net(), tmp_path / "m", evaluation=str(report)) / "README.md").read_text()
    assert len(reads) == 1 and "| abs_rel | 0.1234 | lower |" in card


def test_the_same_weights_give_the_same_file(tmp_path):
    """model.safetensors is byte-reproducible, so its sha256 identifies the weights (an evaluation
    of a saved folder's predictions is recognised as being of the same checkpoint's weights)."""
    net = _net()
    digests = {json.loads((save_pretrained(net, tmp_path / f"m{i}") / "config.json").read_text())["files"]
               ["model.safetensors"] for i in range(8)}
    assert len(digests) == 1


def test_damaged_or_foreign_folders_are_one_line_errors(tmp_path, tiny_hf_model):
    folder = save_pretrained(_net(), tmp_path / "m")
    bad = tmp_path / "bad"
    shutil.copytree(folder, bad)
    data = bytearray((bad / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="differs from the .* recorded in config.json"):
        from_pretrained(bad)
    with pytest.raises(DataError, match="no config.json"):
        from_pretrained(tmp_path)
    with pytest.raises(ConfigError, match="is a transformers model: it is already in the Hugging Face format"):
        save_pretrained(load_model(f"hf:{tiny_hf_model('depth-anything')}"), tmp_path / "t")
    with pytest.raises(ConfigError, match="save_pretrained needs a network built by litedepth"):
        save_pretrained(torch.nn.Conv2d(3, 1, 1), tmp_path / "c")
    (bad / "config.json").write_text(json.dumps({**json.loads((folder / "config.json").read_text()), "format": 9}))
    with pytest.raises(CheckpointError, match="format 9 is not supported"):
        from_pretrained(bad)


class FakeApi:
    """Stands in for ``huggingface_hub.HfApi``: records the calls and keeps the uploaded files."""

    def __init__(self, remote: Path, token=None) -> None:
        self.remote, self.calls = remote, []

    def create_repo(self, **kw):
        self.calls.append(("create_repo", kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw))
        target = self.remote / kw["repo_id"]
        for pattern in kw["allow_patterns"]:
            for f in Path(kw["folder_path"]).glob(pattern):
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(f, target / f.name)
        return type("CommitInfo", (), {"commit_url": f"https://huggingface.co/{kw['repo_id']}/commit/abc",
                                       "pr_url": None})()


@pytest.fixture
def online(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


def test_push_to_hub_uploads_the_saved_folder(tmp_path, online, monkeypatch):
    api = FakeApi(tmp_path / "remote")
    url = push_to_hub(_net(), "me/lite", private=True, api=api, license="apache-2.0", evaluation=REPORT)
    assert url == "https://huggingface.co/me/lite/commit/abc"
    assert api.calls[0] == ("create_repo", {"repo_id": "me/lite", "private": True, "exist_ok": True,
                                            "repo_type": "model"})
    upload = api.calls[1][1]
    assert upload["repo_id"] == "me/lite" and upload["commit_message"] == "Upload lite-mono-tiny with litedepth"
    pushed = tmp_path / "remote" / "me" / "lite"
    assert sorted(p.name for p in pushed.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    assert from_pretrained(pushed).name == "lite-mono-tiny"
    assert 'Predictor.load("hub:me/lite")' in (pushed / "README.md").read_text()
    # the CLI saves a folder, then pushes that folder (HfApi stood in for)
    import huggingface_hub

    cli_api = FakeApi(tmp_path / "remote2")
    monkeypatch.setattr(huggingface_hub, "HfApi", lambda token=None: cli_api)
    ckpt = _checkpoint(tmp_path)
    assert main(["export", "--checkpoint", str(ckpt), "--format", "hf", "--output", str(tmp_path / "hf"),
                 "--push-to", "me/from-cli"]) == 0
    assert [c[0] for c in cli_api.calls] == ["create_repo", "upload_folder"]
    assert from_pretrained(tmp_path / "remote2" / "me" / "from-cli").weights.trained
    with pytest.raises(ConfigError, match="not a Hugging Face repository id"):
        push_to_hub(_net(), "not a repo id", api=api)


def test_push_is_refused_offline(tmp_path):
    with pytest.raises(ConfigError, match="HF_HUB_OFFLINE=1 forbids uploads"):
        push_to_hub(_net(), "me/lite", api=FakeApi(tmp_path))


def test_hub_ids_offline_read_the_cache_or_say_what_to_download(tmp_path, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(CheckpointError) as info:
        load_model("hub:me/lite")
    text = str(info.value)
    assert text.startswith("hub:me/lite: litedepth network me/lite is not in the local Hugging Face cache, and "
                           "HF_HUB_OFFLINE=1 forbids downloading it") and "`hf download me/lite`" in text
    assert "config.json, model.safetensors" in text and "\n" not in text

    folder = save_pretrained(_net(), tmp_path / "m")
    commit = "0123456789abcdef0123456789abcdef01234567"
    cache = tmp_path / "hub" / "models--me--lite"
    (cache / "refs").mkdir(parents=True)
    (cache / "refs" / "main").write_text(commit)
    shutil.copytree(folder, cache / "snapshots" / commit)
    loaded = load_model("hub:me/lite")
    assert loaded.name == "lite-mono-tiny" and loaded.weights.source == f"me/lite@{commit}"
    assert Predictor.load("hub:me/lite", input_size=SIZE, device="cpu").infer_image(
        np.zeros((20, 30, 3), np.uint8)).raw.shape == (20, 30)
