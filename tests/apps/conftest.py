"""Fixtures of the assist-app tests: a randomly initialised torchvision SSDlite saved locally."""

from __future__ import annotations

from pathlib import Path

import pytest


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
