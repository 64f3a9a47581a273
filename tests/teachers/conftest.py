"""A tiny randomly initialised Depth Anything model saved in the Hugging Face format."""

from __future__ import annotations

from pathlib import Path

import pytest


def write_tiny_depth_anything(folder: Path, seed: int = 0, depth_estimation_type: str = "relative") -> Path:
    """``config.json`` + ``model.safetensors`` + ``preprocessor_config.json`` of a ~70k-parameter
    Depth Anything (DINOv2 backbone: hidden 32, 2 layers, patch 14) and the Depth Anything V2
    image processor settings (keep aspect, lower bound 518, multiple of 14, bicubic, ImageNet)."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=56, out_features=["stage1", "stage2"],
                            reshape_hidden_states=False)
    cfg = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16],
                              reassemble_factors=[2, 1], fusion_hidden_size=16, head_hidden_size=8, patch_size=14,
                              depth_estimation_type=depth_estimation_type,
                              max_depth=20 if depth_estimation_type == "metric" else 1)
    torch.manual_seed(seed)
    model = DepthAnythingForDepthEstimation(cfg).eval()
    # the head ends with a ReLU: a positive final bias keeps most pixels valid (> 0) while
    # the random weights still make the output vary with the image
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.normal_(0.0, 0.3)
        model.head.conv3.bias.fill_(1.0)
    model.save_pretrained(folder)
    DPTImageProcessor(do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True,
                      ensure_multiple_of=14, resample=3, do_rescale=True, do_normalize=True,
                      image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225],
                      do_pad=False).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder of a tiny random Depth Anything checkpoint (offline, HF format)."""
    return write_tiny_depth_anything(tmp_path_factory.mktemp("tiny-depth-anything"))
