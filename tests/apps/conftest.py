"""Fixtures of the app tests: a randomly initialised torchvision SSDlite saved locally, and one
``litedepth serve`` shared by the web demo's tests."""

from __future__ import annotations

import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.apps.serve_helpers import SERVE_ARGS, running_server_process


@pytest.fixture(scope="session")
def ssdlite_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random SSDlite320-MobileNetV3 state dict in torchvision's file layout.

    The person logits of the coarsest head level get a large bias, so the untrained model
    reliably finds a few big "person" boxes (exercising drawing, distances and alerts).
    """
    import torch
    import torchvision.models.detection as tvd

    torch.manual_seed(0)
    net = tvd.ssdlite320_mobilenet_v3_large(weights=None, weights_backbone=None, num_classes=91)
    last = net.head.classification_head.module_list[-1][-1]  # 1x1 conv: 6 anchors x 91 classes
    with torch.no_grad():
        for anchor in range(6):
            last.bias[anchor * 91 + 1] = 8.0  # class 1 = person
    path = tmp_path_factory.mktemp("detector") / "ssdlite320_mobilenet_v3_large_coco-a79551df.pth"
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory):
    """One ``litedepth serve`` (SERVE_ARGS: uploads capped at 1 MB and 4 megapixels) for the web
    demo's tests (API, burst, browser): ``url``, ``proc``, ``log`` (its output), ``folder``
    (its private folder). On exit, after SIGTERM, the private folder must be gone and Gradio
    must have left no ``.pyi`` stub next to our modules."""
    pytest.importorskip("gradio", reason="Gradio is not installed (pip install 'litedepth[serve]')")
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with running_server_process(log_path, *SERVE_ARGS) as (url, proc):
        match = re.search(r"uploads and results are kept in (\S+) \(private", log_path.read_text())
        assert match, log_path.read_text()[-2000:]
        folder = Path(match.group(1))
        yield SimpleNamespace(url=url, proc=proc, log=log_path, folder=folder)
    assert proc.wait(timeout=30) is not None
    assert not folder.exists(), f"{folder} was left behind"
    assert "removed " + str(folder) in log_path.read_text()
    import litedepth.apps.serve

    stubs = sorted(Path(litedepth.apps.serve.__file__).parent.glob("*.pyi"))
    assert not stubs, f"Gradio wrote stubs next to our modules: {stubs}"
