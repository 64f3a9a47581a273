"""One loader for every source of a network, returning it with what its output means.

:func:`load_model` takes any of:

* a **registered name** (``"lite-mono"``), optionally with ``weights=`` (a weights file, a
  folder of official Lite-Mono / Monodepth2 files, or a published-weights name); without
  weights the network is **randomly initialised** and a warning says so on every path;
* a **litedepth checkpoint** (``.ckpt`` written by ``litedepth train``): network, options,
  output spec, training size and data encoding come from the checkpoint;
* an **ONNX file** written by ``litedepth export`` (spec from its metadata);
* a **folder of official files** or a **weights file**, with ``network=`` naming the
  registered network;
* a **litedepth network in the Hugging Face format** (:mod:`litedepth.inference.hub`:
  ``config.json`` + ``model.safetensors`` + ``README.md``, written by ``save_pretrained`` /
  ``litedepth export --format hf``): a local folder (recognised by its ``config.json``) or
  ``hub:owner/name[@revision]`` on the Hugging Face Hub;
* a **transformers depth-estimation model** as a foundation-model backend
  (:mod:`litedepth.models.hf_depth`): ``hf:owner/name[@revision]`` (Depth Anything V2, its
  metric variants, DPT, ZoeDepth...), ``hf:/path/to/folder`` or a folder holding a
  transformers ``config.json`` + ``preprocessor_config.json``, or a published name of such a
  model (``depth-anything-v2-small``, ``litedepth weights list``). Its output meaning comes
  from its config; it applies its own image processor (options: ``input_size`` = the
  processor's size, ``revision``).

Hub sources are fetched into the Hugging Face cache with ``huggingface_hub``; with
``HF_HUB_OFFLINE=1`` only the cache is read, and a missing model is a one-line error naming
what to download.

It returns a :class:`LoadedModel`: the network, its :class:`~litedepth.models.spec.OutputSpec`,
the input size, and :class:`WeightsInfo` (where the weights came from, their sha256, and
whether they are trained at all). :class:`~litedepth.inference.Predictor` is built on it.

Example:
    >>> loaded = load_model("runs/x/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> loaded.spec.kind, loaded.weights.trained  # doctest: +SKIP
    ('sigmoid-disparity', True)
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models.registry import create_model, list_models, model_info
from litedepth.models.spec import RANDOM_WEIGHTS, OutputSpec, WeightsInfo

log = logging.getLogger(__name__)

__all__ = ["RANDOM_WEIGHTS", "LoadedModel", "WeightsInfo", "load_checkpoint_model", "load_model", "sha256_of",
           "warn_if_untrained"]

def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _folder_digest(folder: Path, names: list[str] | None = None) -> dict[str, str]:
    files = [folder / n for n in names] if names else sorted(p for p in folder.iterdir() if p.is_file())
    return {p.name: sha256_of(p) for p in files if p.is_file()}




@dataclass
class LoadedModel:
    """A network ready to run, with its meaning.

    Attributes:
        net: the module in eval mode (a PyTorch network, or an ONNX session wrapped as one).
        name: registered network name (or the ONNX file's recorded name).
        spec: what the output means (:class:`OutputSpec`).
        input_size: ``(height, width)`` to resize images to (the training size when known).
        weights: :class:`WeightsInfo`.
        task: ``"depth"``, ``"segmentation"``, ``"multitask"`` or ``"pose"``.
        class_names: class names of segmentation outputs, when known.
        depth_encoding: encoding of the training data's depth files (e.g. ``"tum"``), when the
            weights come from a litedepth checkpoint trained on depth files.
        options: network options it was built with.
        training_data: for a checkpoint trained on an ``images/`` + ``depth/`` folder, that
            folder's ``root``, ``split_seed`` and ``fractions`` (which images were for training).
    """

    net: nn.Module
    name: str
    spec: OutputSpec
    input_size: tuple[int, int]
    weights: WeightsInfo
    task: str = "depth"
    class_names: list[str] | None = None
    depth_encoding: str | float | None = None
    options: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] | None = None

    @property
    def kind(self) -> str:
        """Legacy two-word kind: ``"depth"`` or ``"disparity"`` (prefer :attr:`spec`)."""
        return "depth" if self.spec.kind == "depth" else "disparity"

    @property
    def precision(self) -> str:
        """``"fp32"``, or what an ONNX file records (``"fp16"``, ``"int8"``, ``"unrecorded"``)."""
        return getattr(self.net, "precision", "fp32")

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (the ``model`` block of ``predictions.json``); a network that
        applies its own image processor (a transformers backend) adds it under ``backend``."""
        out = {"name": self.name, "task": self.task, "options": self.options,
               "input_size": list(self.input_size), "weights": self.weights.to_dict(),
               "training_depth_encoding": self.depth_encoding,
               "precision": self.precision}
        if getattr(self.net, "own_preprocessing", False) and hasattr(self.net, "describe"):
            out["backend"] = self.net.describe()
        return out


def warn_if_untrained(loaded: LoadedModel, where: str = "") -> None:
    """Log a warning when ``loaded`` has random weights (every path that runs one calls this)."""
    if not loaded.weights.trained:
        init = (f" (only initialised from {loaded.weights.source})" if loaded.weights.origin == "initialised"
                else "")
        log.warning("%s%s has RANDOM weights%s: its output is noise, not a prediction. Give --checkpoint, "
                    "--weights or a published-weights name.", f"{where}: " if where else "", loaded.name, init)


# ------------------------------------------------------------------------------ sources


def load_checkpoint_model(path: str | Path, network: str | None = None) -> LoadedModel:
    """Rebuild the network of a litedepth Lightning checkpoint with its recorded meaning.

    Args:
        path: ``.ckpt`` written by ``litedepth train``.
        network: if given, the checkpoint must be of this registered network.

    Raises:
        CheckpointError: unreadable file, not a litedepth checkpoint, another network, or
            weights that do not fit.
    """
    from litedepth.tasks.card import card_from_checkpoint
    from litedepth.tasks.engine import read_checkpoint

    path = Path(path)
    ckpt = read_checkpoint(path)
    card = card_from_checkpoint(ckpt, str(path))
    name = card["network"]
    if network is not None and network != name:
        raise CheckpointError(f"{path}: checkpoint is of network {name!r}, not {network!r}")
    try:
        info = model_info(name)
    except ConfigError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    options = dict(card.get("network_options") or {})
    net = create_model(name, **options)
    sd = {k[len("net."):]: v for k, v in ckpt.get("state_dict", {}).items() if k.startswith("net.")}
    if not sd:
        raise CheckpointError(f"{path}: no network weights (state_dict keys 'net.*') in the checkpoint")
    result = net.load_state_dict(sd, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(f"{path}: weights do not fit {name!r} (missing {result.missing_keys[:3]}, "
                              f"unexpected {result.unexpected_keys[:3]})")
    spec: OutputSpec = card["output_spec"]
    net.output_spec = spec  # type: ignore[attr-defined]  # as trained (e.g. its disp_to_depth range)
    weights = WeightsInfo(True, "checkpoint", str(path), sha256_of(path))
    net.weights_info = weights  # type: ignore[attr-defined]
    size = tuple(card.get("input_size") or info.default_size)
    hp = ckpt.get("hyper_parameters") or {}
    dm = ckpt.get("datamodule_hyper_parameters") or {}
    names = hp.get("class_names") or dm.get("class_names")
    training = ({"root": str(dm["root"]), "split_seed": int(dm["split_seed"]), "fractions": list(dm["fractions"])}
                if {"root", "split_seed", "fractions"} <= set(dm) else None)
    return LoadedModel(net.eval(), name, spec, (int(size[0]), int(size[1])), weights, info.task,
                       list(names) if names else _default_class_names(spec, dm), card.get("depth_encoding"), options,
                       training)


def _default_class_names(spec: OutputSpec, dm: dict[str, Any] | None = None) -> list[str] | None:
    if spec.num_classes == 21 and (dm is None or dm.get("layout", "voc") == "voc"):
        from litedepth.data.voc import VOC_CLASSES

        return list(VOC_CLASSES)
    return None


def _load_registered(network: str, weights: str | Path | None, options: dict[str, Any]) -> LoadedModel:
    info = model_info(network)
    if weights is None:
        net = create_model(network, **options).eval()
        return LoadedModel(net, network, net.output_spec, tuple(info.default_size), net.weights_info, info.task,
                           _default_class_names(net.output_spec), None, dict(options))
    from litedepth.models.pretrained import load_pretrained
    from litedepth.weights import resolve

    path = resolve(weights, network=network)  # a path, or a published name (litedepth weights list)
    if options:
        import inspect

        if path.is_dir() or "weights" not in inspect.signature(info.factory).parameters:
            raise ConfigError(f"network options {sorted(options)} cannot be combined with these weights "
                              f"({path}): the weights decide the architecture")
        if not path.is_file():
            raise CheckpointError(f"{path}: weights file not found")
        net = create_model(network, weights=str(path), **options).eval()  # the family's own weights= reader
        size = info.default_size
    else:
        net, size = load_pretrained(network, path)
    prior = net.weights_info  # what the family's loader found (e.g. backbone only)
    if path.is_dir():
        official = list(net.official_files)  # declared by every registered network (litedepth.models.contract)
        w = WeightsInfo(True, "official-folder", str(path), _folder_digest(path, official or None))
    elif isinstance(prior, WeightsInfo) and prior.source == str(path):
        w = WeightsInfo(prior.trained, prior.origin, str(path), sha256_of(path))
    else:
        w = WeightsInfo(True, "weights-file", str(path), sha256_of(path))
    net.weights_info = w  # type: ignore[attr-defined]
    return LoadedModel(net, network, net.output_spec, (int(size[0]), int(size[1])), w, info.task,
                       _default_class_names(net.output_spec), None, {})


def _published_transformers_name(text: str) -> bool:
    """Whether ``text`` names a transformers depth model of ``litedepth weights list``."""
    from litedepth.weights import load_manifest

    manifest = load_manifest()
    return text in manifest and manifest.get(text).is_hf


def _load_transformers(source: str | Path, spec: OutputSpec | None, network: str | None,
                       options: dict[str, Any]) -> LoadedModel:
    """A transformers depth model (``hf:`` source) as a :class:`LoadedModel`."""
    from litedepth.models.hf_depth import load_hf_depth

    if network is not None:
        raise ConfigError(f"{source} is a transformers depth model, not the registered network {network!r}")
    unknown = sorted(set(options) - {"revision", "input_size"})
    if unknown:
        raise ConfigError(f"{source}: options {unknown} do not apply to a transformers depth model "
                          "(it takes revision and input_size)")
    net = load_hf_depth(source, spec=spec, **options)
    return LoadedModel(net, net.model_name, net.output_spec, net.input_size, net.weights_info, "depth", None, None,
                       {k: v for k, v in options.items() if v is not None})


def load_model(
    source: str | Path,
    *,
    weights: str | Path | None = None,
    network: str | None = None,
    device: str | None = None,
    spec: OutputSpec | None = None,
    warn_untrained: bool = True,
    **options: Any,
) -> LoadedModel:
    """Load a network from any source (see the module docstring).

    Args:
        source: registered name, ``.ckpt`` file, ``.onnx`` file, official weights folder,
            weights file, a litedepth Hub folder or ``hub:owner/name``, or a transformers
            depth model (``hf:owner/name``, ``hf:FOLDER``, a transformers folder, a published
            name of one).
        weights: with a registered name: its weights (file, official folder).
        network: the registered network a folder or weights file belongs to (required for
            those); for a checkpoint, a check that it is of this network.
        device: for ONNX files, selects the onnxruntime provider.
        spec: an explicit output spec; only for ONNX files that do not record one and
            transformers models of a type whose meaning is not known (a spec that contradicts a
            recorded one is an error).
        warn_untrained: log a warning when the weights are random.
        options: network options for a registered name (without weights, or with a weights
            file the family's ``weights=`` option reads); onnxruntime session options
            (``threads``, ``providers``, ``spin``) for an ONNX file; ``revision`` (Hub sources)
            and ``input_size`` (the image processor's size) for transformers models.

    Raises:
        ConfigError: unknown name, or a source that needs ``network=``.
        CheckpointError / DataError: unreadable or mismatching files.
    """
    from litedepth.inference.hub import HUB_PREFIX, from_pretrained, is_litedepth_folder
    from litedepth.models.hf_depth import HF_PREFIX, is_transformers_depth_folder

    text = str(source)
    path = Path(source)
    transformers_model = False
    if weights is not None and (text.startswith((HF_PREFIX, HUB_PREFIX)) or path.is_dir()
                                and (is_litedepth_folder(path) or is_transformers_depth_folder(path))):
        raise ConfigError(f"{source} brings its own weights; weights= ({weights}) goes with a registered network")
    if text in list_models():  # a registered name, even if a file of that name happens to exist here
        if network is not None and network != text:
            raise ConfigError(f"model {text!r} given with network {network!r}")
        loaded = _load_registered(text, weights, options)
    elif text.startswith(HF_PREFIX):
        loaded, transformers_model = _load_transformers(text, spec, network, options), True
    elif text.startswith(HUB_PREFIX):
        loaded = from_pretrained(text[len(HUB_PREFIX):], network=network, **options)
    elif path.is_dir() and is_litedepth_folder(path):
        loaded = from_pretrained(path, network=network, **options)
    elif path.is_dir() and network is None and is_transformers_depth_folder(path):
        loaded, transformers_model = _load_transformers(path, spec, network, options), True
    elif path.suffix.lower() == ".onnx":
        from litedepth.inference.onnx_backend import load_onnx_model

        loaded = load_onnx_model(path, device=device, spec=spec, **options)  # options: onnxruntime session
    elif path.is_file() and (path.suffix.lower() == ".ckpt" or network is None):
        loaded = load_checkpoint_model(path, network)
    elif path.exists():
        if network is None:
            raise ConfigError(f"{path}: a folder of official files or a weights file needs the network it belongs "
                              f"to (--model NAME); registered: {', '.join(list_models())}")
        loaded = _load_registered(network, path, options)
    elif _published_transformers_name(text):
        loaded, transformers_model = _load_transformers(text, spec, network, options), True
    elif path.suffix or "/" in text or "\\" in text:
        raise CheckpointError(f"{path}: no such checkpoint, ONNX file, weights file or folder (a Hugging Face "
                              f"model needs its prefix: hf:{text} for a transformers depth model, hub:{text} for a "
                              "litedepth network)")
    else:
        model_info(text)  # raises ConfigError listing the registered names
        raise AssertionError("unreachable")  # pragma: no cover
    if spec is not None and path.suffix.lower() != ".onnx" and not transformers_model and spec != loaded.spec:
        raise ConfigError(f"{source}: records output {loaded.spec.describe()}; the given spec "
                          f"{spec.describe()} contradicts it")
    if warn_untrained:
        warn_if_untrained(loaded)
    return loaded
