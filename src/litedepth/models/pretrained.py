"""Load published or saved weights into a registered network: ``load_pretrained(name, path)``.

* a **folder** of official files (Lite-Mono / Monodepth2 layout: ``encoder.pth`` with
  ``height``/``width`` entries, ``depth.pth``; pose files for PoseNet) goes through the family's
  ``load_official_weights`` — the published key names are mapped explicitly there;
* a **file** goes to the model's ``weights=`` option where it has one (torchvision formats for
  DeepLabV3), else is loaded as a state dict (a litedepth ``.ckpt`` works too) strictly;
* a **published name** (``litedepth weights list``) is first resolved to its downloaded file or
  folder by :func:`litedepth.weights.resolve` (an absent download is an error saying how to get
  it, never random weights).
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from torch import nn

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models.spec import WeightsInfo
from litedepth.utils.torch_files import load_torch_file
from litedepth.weights import resolve

#: Monodepth2's STEREO_SCALE_FACTOR: KITTI baseline 0.54 m / training baseline 0.1
STEREO_SCALE_FACTOR = 5.4


def _factory_params(name: str) -> set[str]:
    from litedepth.models.registry import model_info

    return set(inspect.signature(model_info(name).factory).parameters)


def _official_loader(name: str, net: nn.Module) -> Any:
    """The family's ``load_official_weights`` for a network that declares ``official_files``."""
    import importlib

    from litedepth.models.monodepth2 import Monodepth2Net
    from litedepth.models.monodepth2 import load_official_weights as md2_loader
    from litedepth.models.registry import model_info

    if not net.official_files:  # declared by every registered network (litedepth.models.contract)
        raise ConfigError(f"model {name!r} has no loader for a folder of official weights; "
                          f"pass a weights file instead")
    family = importlib.import_module(model_info(name).factory.__module__)
    loader = getattr(family, "load_official_weights", None)
    if loader is None and isinstance(net, Monodepth2Net):  # e.g. the hybrid: a Monodepth2Net of its own family
        loader = md2_loader
    if loader is None:  # pragma: no cover - a family declaring official files without a loader
        raise ConfigError(f"model {name!r} declares official files {net.official_files} but its family has no "
                          "load_official_weights")
    return loader


def _training_size(folder: Path) -> dict[str, int]:
    """``{"height", "width"}`` recorded in an official ``encoder.pth``, if any.

    The file is memory-mapped (``weights_only=True``): only its small pickled index is read
    here, its tensors are read once, by the family's loader.
    """
    enc = folder / "encoder.pth"
    if not enc.is_file():
        return {}
    try:
        sd = load_torch_file(enc, "weights file", mmap=True)
    except CheckpointError:  # the loader reports unreadable files itself
        return {}
    h, w = (sd.get("height"), sd.get("width")) if isinstance(sd, dict) else (None, None)
    return {"height": h, "width": w} if isinstance(h, int) and isinstance(w, int) else {}


def read_weights_file(path: str | Path) -> Any:
    """The contents of a local weights file, unwrapped from a ``litedepth train`` checkpoint.

    Loaded on CPU with ``weights_only=True`` (a file handed to us must not run code). A
    Lightning checkpoint gives its ``state_dict``, with the task's ``net.`` prefix removed when
    present; anything else is returned as loaded, for the caller to check.

    Raises:
        CheckpointError: the file is missing, empty, truncated, not a PyTorch file, or holds
            objects beyond weights (refused, never unpickled).
    """
    sd = load_torch_file(path, "weights file")
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
        if any(k.startswith("net.") for k in sd):
            sd = {k[len("net."):]: v for k, v in sd.items() if k.startswith("net.")}
    return sd


def _load_state_dict_file(net: nn.Module, path: Path) -> None:
    sd = read_weights_file(path)
    if not isinstance(sd, dict) or not sd:
        raise CheckpointError(f"{path}: not a state dict")
    result = net.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{path}: weights do not fit {getattr(net, 'model_name', type(net).__name__)} "
                              f"(missing {result.missing_keys[:3]}, unexpected {result.unexpected_keys[:3]})")


def load_pretrained(name: str, path: str | Path) -> tuple[nn.Module, tuple[int, int]]:
    """Build registered network ``name`` with the weights at ``path`` (or published as ``path``).

    Returns:
        ``(network in eval mode, (height, width))``: the training size recorded in the official
        ``encoder.pth`` when there is one, else the registry's default size. The network's
        ``weights_info`` says whether it is now trained for its output; its ``output_spec`` is
        metric (x 5.4) for Monodepth2 folders whose ``encoder.pth`` records ``use_stereo``.

    Raises:
        CheckpointError: missing/unreadable path, a published name not downloaded yet (the
            message says how to get it), or weights that do not fit (naming the file).
        ConfigError: a folder given for a family without an official-folder loader; a published
            name made for another network.
    """
    from litedepth.models.registry import create_model, model_info

    model = name
    size = model_info(model).default_size
    path = resolve(path, network=model)
    if path.is_dir():
        options = _training_size(path) if {"height", "width"} <= _factory_params(model) else {}
        net = create_model(model, **options)
        meta = _official_loader(model, net)(net, path)
        recorded = meta if isinstance(meta, dict) else options  # Monodepth2 returns the file's metadata
        if isinstance(recorded.get("height"), int) and isinstance(recorded.get("width"), int):
            size = (recorded["height"], recorded["width"])
        if recorded.get("use_stereo") and net.output_spec.kind == "sigmoid-disparity":
            # Monodepth2's stereo and mono+stereo models learn depth in units of the 0.1 training
            # baseline; KITTI's 0.54 m baseline makes x 5.4 metres (its evaluate --eval_stereo)
            net.output_spec = net.output_spec.replace(
                scale="metric", depth_factor=STEREO_SCALE_FACTOR,
                note="Monodepth2 stereo training on KITTI: depth x 5.4 = metres")
        net.weights_info = WeightsInfo(True, "official-folder", str(path))
    elif path.is_file():
        if "weights" in _factory_params(model):
            net = create_model(model, weights=str(path))
        else:
            net = create_model(model)
            _load_state_dict_file(net, path)
            net.weights_info = WeightsInfo(True, "weights-file", str(path))
    else:
        raise CheckpointError(f"{path}: weights file or folder not found")
    return net.eval(), size
