"""Tiny randomly initialised transformers depth models saved in the Hugging Face format (offline).

One writer per architecture litedepth runs as a foundation-model backend: Depth Anything
(relative and metric heads), DPT with a plain ViT (square input only) and ZoeDepth (metric,
reflection padding removed by its processor's post-processing). Each writes ``config.json`` +
``model.safetensors`` + ``preprocessor_config.json`` the way ``save_pretrained`` does, with
weights perturbed so that the random output varies with the image, stays mostly positive,
and the tests can tell a right answer from a wrong one.
"""

from __future__ import annotations

from pathlib import Path


def _informative(model, seed: int, std: float = 0.3) -> None:
    import torch

    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * std)


def write_tiny_depth_anything(folder: Path, seed: int = 0, depth_estimation_type: str = "relative") -> Path:
    """``config.json`` + ``model.safetensors`` + ``preprocessor_config.json`` of a ~70k-parameter
    Depth Anything (DINOv2 backbone: hidden 32, 2 layers, patch 14) and the Depth Anything V2
    image processor settings (keep aspect, lower bound 518, multiple of 14, bicubic, ImageNet).
    ``depth_estimation_type="metric"`` gives a metric head with ``max_depth`` 20 (the V2
    Metric-Indoor setting)."""
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
    # the head ends with a ReLU (relative) or a sigmoid x max_depth (metric): a positive final
    # bias keeps most pixels valid while the random weights still make the output vary
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


def write_tiny_dpt(folder: Path, seed: int = 0, keep_aspect_ratio: bool = False) -> Path:
    """A ~100k-parameter DPT with a plain ViT backbone (hidden 32, 4 layers, patch 8; MiDaS-style
    relative inverse depth) and a DPT processor at 32x32 (``keep_aspect_ratio`` as given: the
    real DPT-Large / DPT-Hybrid processors resize to a square, as this ViT needs)."""
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    cfg = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=32,
                    patch_size=8, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 8, 16, 16],
                    fusion_hidden_size=16, head_in_index=-1, reassemble_factors=[4, 2, 1, 0.5])
    torch.manual_seed(seed)
    model = DPTForDepthEstimation(cfg).eval()
    _informative(model, seed, std=0.1)
    with torch.no_grad():
        model.head.head[-2].bias.fill_(1.0)  # the last conv before the final ReLU
    model.save_pretrained(folder)
    DPTImageProcessor(do_resize=True, size={"height": 32, "width": 32}, keep_aspect_ratio=keep_aspect_ratio,
                      ensure_multiple_of=8, resample=3, do_rescale=True, do_normalize=True,
                      image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], do_pad=False).save_pretrained(folder)
    return folder


def write_tiny_zoedepth(folder: Path, seed: int = 0) -> Path:
    """A ~130k-parameter ZoeDepth (BEiT backbone hidden 32, 4 layers, patch 8; one metric bin head
    of 8 bins over 0.1-10 m) and its processor (reflection padding, keep aspect, 32x48,
    multiple of 8)."""
    import torch
    from transformers import BeitConfig, ZoeDepthConfig, ZoeDepthForDepthEstimation, ZoeDepthImageProcessor

    backbone = BeitConfig(image_size=32, patch_size=8, num_hidden_layers=4, hidden_size=32, intermediate_size=64,
                          num_attention_heads=2, use_relative_position_bias=True, reshape_hidden_states=False,
                          out_features=["stage1", "stage2", "stage3", "stage4"])
    cfg = ZoeDepthConfig(backbone_config=backbone, neck_hidden_sizes=[8, 8, 16, 16], fusion_hidden_size=16,
                         num_relative_features=8, bottleneck_features=16, bin_embedding_dim=16,
                         num_attractors=[4, 4, 2, 1],
                         bin_configurations=[{"n_bins": 8, "min_depth": 0.1, "max_depth": 10.0}])
    torch.manual_seed(seed)
    model = ZoeDepthForDepthEstimation(cfg).eval()
    _informative(model, seed, std=0.2)
    model.save_pretrained(folder)
    ZoeDepthImageProcessor(size={"height": 32, "width": 48}, ensure_multiple_of=8, keep_aspect_ratio=True,
                           do_pad=True).save_pretrained(folder)
    return folder


#: writer of each tiny architecture, by the name the tests use
WRITERS = {
    "depth-anything": write_tiny_depth_anything,
    "depth-anything-metric": lambda folder: write_tiny_depth_anything(folder, depth_estimation_type="metric"),
    "dpt": write_tiny_dpt,
    "zoedepth": write_tiny_zoedepth,
}
