"""load_pretrained / --weights DIR: official Lite-Mono and Monodepth2 folders load unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import CheckpointError, ConfigError
from litedepth.models import create_model, load_pretrained
from litedepth.models import lite_mono, monodepth2


@pytest.mark.parametrize(("name", "family", "size"), [
    ("lite-mono-tiny", lite_mono, (192, 640)),
    ("monodepth2-resnet18", monodepth2, (192, 640)),
])
def test_official_folder_round_trip(tmp_path, name, family, size):
    torch.manual_seed(0)
    src = create_model(name).eval()
    family.save_official_weights(src, tmp_path / "w", height=size[0], width=size[1])
    assert {"encoder.pth", "depth.pth"} <= {p.name for p in (tmp_path / "w").iterdir()}
    net, trained = load_pretrained(name, tmp_path / "w")
    assert trained == size
    x = torch.rand(1, 3, 64, 192)
    with torch.no_grad():
        assert torch.equal(net(x).pred, src(x).pred)


def test_predict_with_official_folder(tmp_path):
    torch.manual_seed(0)
    src = create_model("lite-mono-tiny").eval()
    lite_mono.save_official_weights(src, tmp_path / "w", height=192, width=640)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (50, 160, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--model", "lite-mono-tiny", "--weights", str(tmp_path / "w"),
                 "--size", "64", "192", "--output", str(tmp_path / "out"), "--formats", "npy"]) == 0
    pred = np.load(tmp_path / "out" / "a.npy")
    assert pred.shape == (50, 160) and 0 < pred.min() and pred.max() < 1  # sigmoid disparity


def test_missing_weights_path_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="nothing-here"):
        load_pretrained("lite-mono-tiny", tmp_path / "nothing-here")


def test_official_encoder_file_is_read_once(tmp_path, monkeypatch):
    """The training size recorded in encoder.pth picks Lite-Mono's dilation rates; finding it
    maps the file (mmap) instead of reading its tensors a second time."""
    torch.manual_seed(0)
    src = create_model("lite-mono-tiny", height=320, width=1024).eval()
    lite_mono.save_official_weights(src, tmp_path / "w")
    reads: list[tuple[str, bool]] = []
    real_load = torch.load

    def spy(f, *args, **kwargs):
        reads.append((Path(f).name, bool(kwargs.get("mmap"))))
        return real_load(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    net, size = load_pretrained("lite-mono-tiny", tmp_path / "w")
    assert size == (320, 1024) and (net.height, net.width) == (320, 1024)
    assert reads.count(("encoder.pth", False)) == 1 and reads.count(("depth.pth", False)) == 1
    assert reads.count(("encoder.pth", True)) == 1  # the size, from the mapped file


def test_a_folder_for_a_network_without_official_files_is_refused(tmp_path):
    """``official_files`` is ``()`` for DeepLabV3 (litedepth.models.contract)."""
    with pytest.raises(ConfigError, match="no loader for a folder of official weights"):
        load_pretrained("deeplabv3-mobilenet-v3-large", tmp_path)
