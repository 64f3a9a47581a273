"""End to end: published name -> download (local server) -> load -> predict; absent names exit 2."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from litedepth.cli.main import main
from litedepth.errors import CheckpointError
from litedepth.models import create_model, lite_mono, load_pretrained
from litedepth.weights import weights_dir

from .conftest import md5, write_manifest


@pytest.fixture(scope="module")
def official_zip(tmp_path_factory):
    """A random lite-mono-tiny in the published layout (encoder.pth with height/width, depth.pth), zipped."""
    folder = tmp_path_factory.mktemp("official")
    torch.manual_seed(0)
    net = create_model("lite-mono-tiny").eval()
    lite_mono.save_official_weights(net, folder, height=192, width=640)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for f in ("encoder.pth", "depth.pth"):
            z.write(folder / f, f"lite-mono-tiny/{f}")
    return net, buf.getvalue()


def test_download_then_load_by_name(file_server, official_zip, tmp_path, monkeypatch, capsys):
    net, data = official_zip
    file_server.files["lmt.zip"] = data
    entry = {"name": "test-lite-mono-tiny", "network": "lite-mono-tiny", "format": "official-folder",
             "url": file_server.url("lmt.zip"), "archive": "zip", "file": "lmt.zip",
             "files": ["encoder.pth", "depth.pth"], "checksum": {"md5": md5(data)}}
    monkeypatch.setenv("LITEDEPTH_WEIGHTS_MANIFEST", str(write_manifest(tmp_path / "m.json", entry)))
    assert main(["weights", "download", "test-lite-mono-tiny"]) == 0
    assert "md5 (published)" in capsys.readouterr().out
    assert main(["weights", "path", "test-lite-mono-tiny"]) == 0
    assert capsys.readouterr().out.strip() == str(weights_dir() / "test-lite-mono-tiny")

    loaded, size = load_pretrained("lite-mono-tiny", "test-lite-mono-tiny")
    assert size == (192, 640)  # read from the downloaded encoder.pth
    x = torch.rand(1, 3, 64, 192)
    with torch.no_grad():
        assert torch.equal(loaded(x).pred, net(x).pred)

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 120, 3), dtype=np.uint8)).save(tmp_path / "a.png")
    assert main(["predict", str(tmp_path / "a.png"), "--model", "lite-mono-tiny", "--weights", "test-lite-mono-tiny",
                 "--size", "64", "192", "--output", str(tmp_path / "out"), "--formats", "npy"]) == 0
    with torch.no_grad():
        x = torch.nn.functional.interpolate(torch.tensor(np.asarray(Image.open(tmp_path / "a.png")), dtype=torch.float32)
                                            .permute(2, 0, 1)[None] / 255, size=(64, 192), mode="bilinear",
                                            align_corners=False, antialias=True)
        ref = torch.nn.functional.interpolate(net(x).pred, size=(40, 120), mode="bilinear", align_corners=False)
    np.testing.assert_allclose(np.load(tmp_path / "out" / "a.npy"), ref[0, 0].numpy(), atol=1e-5)


def test_predict_with_a_name_not_downloaded_explains_and_exits_2(tmp_path, capsys):
    Image.fromarray(np.zeros((20, 40, 3), np.uint8)).save(tmp_path / "a.png")
    code = main(["predict", str(tmp_path / "a.png"), "--model", "lite-mono-tiny", "--weights",
                 "lite-mono-tiny-640x192", "--output", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "lite-mono-tiny-640x192: published weights not downloaded" in err
    assert "litedepth weights download lite-mono-tiny-640x192" in err
    assert "surfdrive.surf.nl/files/index.php/s/TFDlF3wYQy0Nhmg/download" in err
    assert str(weights_dir() / "lite-mono-tiny-640x192") in err
    assert not (tmp_path / "out").exists()  # nothing ran on random weights


def test_weights_for_another_network_are_refused_before_loading():
    with pytest.raises(Exception, match="are for monodepth2-resnet18, not 'lite-mono'"):
        load_pretrained("lite-mono", "monodepth2-mono-640x192")
    with pytest.raises(CheckpointError, match="not downloaded"):
        load_pretrained("posenet-resnet18", "posenet-monodepth2-mono-640x192")


def test_detector_weights_by_name_and_from_the_weights_cache(file_server, tmp_path, monkeypatch):
    """`assist --detector-weights NAME`, and the default lookup after torchvision's own cache."""
    import torchvision.models.detection as tvd

    from litedepth.apps.assistant.detectors import create_detector
    from litedepth.weights import download

    torch.manual_seed(0)
    net = tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    buf = io.BytesIO()
    torch.save(net.state_dict(), buf)
    file_server.files["ssd.pth"] = buf.getvalue()
    entry = {"name": "site-ssdlite", "network": "detector:ssdlite", "format": "torchvision-file",
             "url": file_server.url("ssd.pth"), "file": "ssd.pth", "checksum": {"md5": md5(buf.getvalue())}}
    monkeypatch.setenv("LITEDEPTH_WEIGHTS_MANIFEST", str(write_manifest(tmp_path / "m.json", entry)))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # torchvision's cache is empty
    with pytest.raises(CheckpointError, match="site-ssdlite: published weights not downloaded"):
        create_detector("ssdlite", "site-ssdlite", device="cpu")
    path = download("site-ssdlite").path
    assert create_detector("ssdlite", "site-ssdlite", device="cpu").weights == path
    assert create_detector("ssdlite", device="cpu").weights == path
