"""Inference: preprocess -> forward -> postprocess, plus one convenience call.

Example:
    >>> from litedepth.inference import Predictor
    >>> pred = Predictor.from_checkpoint("runs/demo/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> depth = pred.infer_image(rgb)   # (H, W) float32, metres (pred.kind == "depth")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from litedepth.errors import CheckpointError, DataError
from litedepth.models import create_model, model_info

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    """A network rebuilt from a checkpoint, with what is needed to run it.

    Attributes:
        net: the ``nn.Module`` in eval mode.
        network: registered name.
        input_size: ``(height, width)`` it was trained at.
        kind: ``"depth"`` (metres) or ``"disparity"``.
    """

    net: nn.Module
    network: str
    input_size: tuple[int, int]
    kind: str


def load_checkpoint_model(path: str | Path, network: str | None = None) -> LoadedModel:
    """Rebuild the network stored in a litedepth Lightning checkpoint.

    Args:
        path: ``.ckpt`` written by ``litedepth train``.
        network: if given, the checkpoint must be of this registered network.

    Raises:
        CheckpointError: unreadable file, another network, or mismatching weights.
    """
    from litedepth.tasks.engine import read_checkpoint

    ckpt = read_checkpoint(path)
    hp = ckpt.get("hyper_parameters") or {}
    name = hp.get("network")
    if name is None:
        raise CheckpointError(f"{path}: no 'network' in the checkpoint's hyper-parameters (not a litedepth checkpoint?)")
    if network is not None and network != name:
        raise CheckpointError(f"{path}: checkpoint is of network {name!r}, not {network!r}")
    options = {k: v for k, v in (hp.get("network_options") or {}).items() if k not in ("weights", "pretrained_path")}
    net = create_model(name, **options)
    sd = {k[len("net."):]: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith("net.")}
    result = net.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{path}: weights do not fit {name!r} (missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})"
        )
    dm = ckpt.get("datamodule_hyper_parameters") or {}
    size = tuple(dm.get("size") or model_info(name).default_size)
    return LoadedModel(net.eval(), name, (int(size[0]), int(size[1])), getattr(net, "output_kind", "depth"))


def _to_rgb_array(image: Any) -> np.ndarray:
    from PIL import Image

    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4):
        raise DataError(None, f"expected an RGB image of shape (H, W, 3), got {arr.shape}")
    arr = arr[..., :3]
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.max() <= 1.0:
            arr = (arr * 255.0).round()
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return arr


class Predictor:
    """Run a depth network on images of any size.

    Args:
        model: a registered depth network (its ``forward`` takes RGB in ``[0, 1]``).
        input_size: ``(height, width)`` the image is resized to before the network.
        device: ``"cpu"``, ``"cuda"``; default CUDA when available.
        kind: output kind (``"depth"`` metres or ``"disparity"``); default from the model.

    Raises:
        ConfigError: an ``input_size`` the network does not accept (a side < 1, or not a
            multiple of its size multiple).
    """

    def __init__(
        self,
        model: nn.Module,
        input_size: tuple[int, int],
        device: str | torch.device | None = None,
        kind: str | None = None,
    ) -> None:
        from litedepth.models.input_size import check_input_size

        self.input_size = check_input_size(model, input_size, "--size (network input size)")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model = model.eval().to(self.device)
        self.kind = kind or getattr(model, "output_kind", "depth")

    @classmethod
    def from_checkpoint(cls, path: str | Path, network: str | None = None, **kw: Any) -> Predictor:
        """Build from a ``litedepth train`` checkpoint (input size from the training data)."""
        loaded = load_checkpoint_model(path, network)
        kw.setdefault("input_size", loaded.input_size)
        return cls(loaded.net, kind=loaded.kind, **kw)

    @classmethod
    def from_name(cls, network: str, input_size: tuple[int, int] | None = None, **options: Any) -> Predictor:
        """Build a registered network by name (``options`` go to ``create_model``, e.g. ``weights``)."""
        device = options.pop("device", None)
        net = create_model(network, **options)
        return cls(net, input_size or model_info(network).default_size, device=device)

    @torch.inference_mode()
    def infer_batch(self, images: Sequence[Any]) -> list[np.ndarray]:
        """Predict for several images (any sizes).

        Args:
            images: RGB ``(H, W, 3)`` uint8 arrays (or float in ``[0, 1]``, or PIL images).

        Returns:
            one ``(H, W)`` float32 map per image at its original resolution, in
            :attr:`kind` units (metres for depth).
        """
        arrays = [_to_rgb_array(im) for im in images]
        h, w = self.input_size
        batch = []
        for arr in arrays:
            t = torch.tensor(arr, dtype=torch.float32).permute(2, 0, 1).div_(255.0)[None]
            batch.append(F.interpolate(t, size=(h, w), mode="bilinear", align_corners=False, antialias=True))
        x = torch.cat(batch).to(self.device)
        pred = self.model(x).pred.float()
        out = []
        for i, arr in enumerate(arrays):
            p = F.interpolate(pred[i : i + 1], size=arr.shape[:2], mode="bilinear", align_corners=False)
            out.append(p[0, 0].cpu().numpy().astype(np.float32))
        return out

    def infer_image(self, image: Any) -> np.ndarray:
        """``(H, W)`` float32 prediction for one RGB image (numpy ``(H, W, 3)`` or PIL)."""
        return self.infer_batch([image])[0]
