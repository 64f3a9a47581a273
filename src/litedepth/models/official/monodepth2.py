"""Monodepth2's published checkpoint layout for the depth and pose networks.

The official release stores ``encoder.pth`` (encoder weights plus ``height``, ``width``,
``use_stereo``) + ``depth.pth`` for :class:`litedepth.models.monodepth2.Monodepth2Net`, and
``pose_encoder.pth`` + ``pose.pth`` for :class:`litedepth.models.pose.PoseNet`. Encoder keys are
identical; decoder keys are mapped by each model's ``official_key_map``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models.encoders.resnet import _OPTIONAL_SUFFIX, _mismatch_message
from litedepth.utils.atomic import atomic_torch_save
from litedepth.utils.torch_files import load_torch_file

log = logging.getLogger("litedepth.models.monodepth2")

__all__ = ["load_official_state_dicts", "load_official_weights", "read_official_state_dicts",
           "save_official_weights", "to_official_state_dicts"]


# Non-tensor entries the official trainer adds to encoder.pth (needed by its test scripts).
_OFFICIAL_META = {"encoder.pth": ("height", "width", "use_stereo")}


def _official_model(model: nn.Module) -> nn.Module:
    if not (hasattr(model, "official_key_map") and hasattr(model, "official_files")):
        raise CheckpointError(
            f"{type(model).__name__} has no official Monodepth2 checkpoint layout "
            "(supported: Monodepth2Net, PoseNet)"
        )
    return model


def to_official_state_dicts(
    model: nn.Module, height: int | None = None, width: int | None = None, use_stereo: bool = False
) -> dict[str, OrderedDict[str, Any]]:
    """The model's weights as the official release's files: ``{file name: state dict}``.

    Args:
        model: :class:`Monodepth2Net` (files ``encoder.pth``, ``depth.pth``) or
            :class:`litedepth.models.pose.PoseNet` (``pose_encoder.pth``, ``pose.pth``).
        height, width: training resolution in pixels, stored in ``encoder.pth`` as the
            official trainer does (required for depth models, unused for pose).
        use_stereo: stored in ``encoder.pth`` (the official evaluation reads it).

    Returns:
        ordered dicts of CPU tensors (plus ``height``/``width``/``use_stereo`` ints/bool in
        ``encoder.pth``), keyed exactly as the official networks' ``state_dict()``.
    """
    model = _official_model(model)
    files: dict[str, OrderedDict[str, Any]] = {f: OrderedDict() for f in model.official_files}
    own = model.state_dict()
    for ours, (fname, theirs) in model.official_key_map().items():
        files[fname][theirs] = own[ours].detach().cpu().clone()
    for fname, extra in model.official_ignored_tensors().items():
        files[fname].update(extra)
    for fname, meta in _OFFICIAL_META.items():
        if fname in files:
            if height is None or width is None:
                raise ConfigError(f"{fname} must record the training height and width; pass height= and width=")
            files[fname].update(height=int(height), width=int(width), use_stereo=bool(use_stereo))
    return files


def load_official_state_dicts(
    model: nn.Module, state_dicts: Mapping[str, Mapping[str, Any]], source: str | Path = ""
) -> dict[str, Any]:
    """Load official-layout state dicts (``{file name: state dict}``) into ``model``.

    Every tensor the model needs must be present with its shape; the file may additionally
    hold the ignored classifier ``encoder.fc.*`` and the metadata ``height`` / ``width`` /
    ``use_stereo``; BatchNorm ``num_batches_tracked`` counters may be absent. Anything else
    is an error.

    Returns:
        the metadata found (``{"height": 192, "width": 640, "use_stereo": False}`` for depth
        files written by the official trainer; ``{}`` for pose).

    Raises:
        CheckpointError: naming the file and the missing / unexpected / mis-shaped keys.
    """
    model = _official_model(model)
    own = model.state_dict()
    key_map = model.official_key_map()
    ignored = {f: set(d) for f, d in model.official_ignored_tensors().items()}
    new_sd: dict[str, Tensor] = {}
    meta: dict[str, Any] = {}
    for fname in model.official_files:
        where = str(Path(source) / fname) if source else fname
        if fname not in state_dicts:
            raise CheckpointError(f"{where}: file missing from the official checkpoint")
        sd = state_dicts[fname]
        expected = {theirs: ours for ours, (f, theirs) in key_map.items() if f == fname}
        meta_keys = set(_OFFICIAL_META.get(fname, ()))
        missing = sorted(k for k in expected if k not in sd and not k.endswith(_OPTIONAL_SUFFIX))
        unexpected = sorted(
            k for k in sd if k not in expected and k not in meta_keys and k not in ignored.get(fname, set())
        )
        wrong = []
        for theirs, ours in expected.items():
            if theirs in sd:
                v = sd[theirs]
                if not isinstance(v, Tensor) or tuple(v.shape) != tuple(own[ours].shape):
                    got = tuple(v.shape) if isinstance(v, Tensor) else type(v).__name__
                    wrong.append(f"{theirs}: file {got} vs model {tuple(own[ours].shape)}")
                else:
                    new_sd[ours] = v
        if missing or unexpected or wrong:
            raise CheckpointError(f"{where}: " + _mismatch_message(missing, unexpected, wrong))
        meta.update({k: sd[k] for k in meta_keys if k in sd})
    result = model.load_state_dict(new_sd, strict=False)
    # Only the optional BatchNorm counters may be left untouched.
    left = [k for k in result.missing_keys if not k.endswith(_OPTIONAL_SUFFIX)]
    if left or result.unexpected_keys:  # pragma: no cover - guarded by the checks above
        raise CheckpointError(f"{source}: internal key mapping error: {left} {result.unexpected_keys}")
    return meta


def read_official_state_dicts(model: nn.Module, folder: str | Path) -> dict[str, Mapping[str, Any]]:
    """Read the official files ``model`` needs from ``folder`` (CPU, ``weights_only``)."""
    model = _official_model(model)
    folder = Path(folder)
    out = {}
    for fname in model.official_files:
        path = folder / fname
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found (expected {', '.join(model.official_files)})")
        sd = load_torch_file(path, "weights file")
        if not isinstance(sd, Mapping):
            raise CheckpointError(f"{path}: not a state dict (got {type(sd).__name__})")
        out[fname] = sd
    return out


def load_official_weights(model: nn.Module, folder: str | Path) -> dict[str, Any]:
    """Load an official Monodepth2 weights folder into ``model``, unchanged.

    Args:
        model: :class:`Monodepth2Net` (reads ``encoder.pth`` + ``depth.pth``, e.g. the
            released ``mono_640x192`` folder) or :class:`litedepth.models.pose.PoseNet`
            (reads ``pose_encoder.pth`` + ``pose.pth``).
        folder: the weights folder.

    Returns:
        metadata stored with the weights: ``{"height", "width", "use_stereo"}`` for depth.

    Raises:
        CheckpointError: a file is missing or unreadable, or its keys / shapes do not match
            (the message names the file and the offending keys).

    Example:
        >>> net = create_model("monodepth2-resnet18")  # doctest: +SKIP
        >>> load_official_weights(net, "models/mono_640x192")  # doctest: +SKIP
        {'height': 192, 'width': 640, 'use_stereo': False}
    """
    meta = load_official_state_dicts(model, read_official_state_dicts(model, folder), source=folder)
    log.info("loaded official Monodepth2 weights from %s (%s)", folder, ", ".join(model.official_files))
    return meta


def save_official_weights(
    model: nn.Module,
    folder: str | Path,
    height: int | None = None,
    width: int | None = None,
    use_stereo: bool = False,
) -> list[Path]:
    """Write ``model`` in the official folder layout (atomic writes); returns the paths.

    Depth models need ``height`` and ``width`` (the resolution the official scripts will
    resize inputs to); pose models ignore them. The encoder files carry a zero
    ``encoder.fc.*`` placeholder so that the official scripts' strict loading accepts them.
    """
    files = to_official_state_dicts(model, height=height, width=width, use_stereo=use_stereo)
    folder = Path(folder)
    paths = []
    for fname, sd in files.items():
        atomic_torch_save(sd, folder / fname)
        paths.append(folder / fname)
    log.info("saved official Monodepth2 layout to %s (%s)", folder, ", ".join(files))
    return paths
