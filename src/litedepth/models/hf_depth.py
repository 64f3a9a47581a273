"""Transformers depth-estimation models as litedepth networks (foundation-model backends).

:class:`HFDepthNetwork` wraps any ``AutoModelForDepthEstimation`` checkpoint (Depth Anything V2
relative and metric, DPT / MiDaS, ZoeDepth) **with its own image processor**, as a network like
every other: ``forward`` takes RGB ``(B, 3, H, W)`` in ``[0, 1]`` at the images' own size and
returns ``(B, 1, H, W)``, and the network declares its :class:`~litedepth.models.spec.OutputSpec`
and :class:`~litedepth.models.spec.WeightsInfo`. It is the one wrapper behind both
:class:`litedepth.teachers.HFDepthTeacher` (pseudo-labels, ``litedepth distill``) and the
``hf:`` sources of :func:`litedepth.inference.load_model` (``predict``, ``evaluate``,
``serve``, ``assist``, ``profile``, ``Predictor.load``).

Sources (:func:`load_hf_depth`): a local folder (``config.json`` + ``*.safetensors`` or
``pytorch_model.bin`` + ``preprocessor_config.json``, as ``save_pretrained`` writes them), a
Hub id ``owner/name[@revision]`` (fetched into the Hugging Face cache; with
``HF_HUB_OFFLINE=1`` only the cache is read), or a published name of ``litedepth weights
list`` (``depth-anything-v2-small``...).

**Pre-processing is the model's own** (its image processor, called inside ``forward`` on the
float batch with ``do_rescale=False``): Depth Anything V2 resizes keeping the aspect ratio
with lower bound 518, each side a multiple of 14, bicubic, then ImageNet mean / std
(REFERENCE.md section 1: a KITTI 1242x375 frame runs at 518x1722). The output is resized back
to the input size bilinearly (``align_corners=True``, as the original ``infer_image``);
ZoeDepth's reflection padding is removed by its processor's own post-processing. Hence:

* ``output_spec.size_multiple`` is 1: ``forward`` accepts any size (the processor rounds to
  its own multiple);
* ``own_preprocessing = True`` tells :class:`~litedepth.inference.Predictor` to pass each
  image at its own size instead of resizing it to a fixed input size;
* :attr:`HFDepthNetwork.input_size` is the processor's size setting ``(height, width)``
  (518 x 518 for Depth Anything: with ``keep_aspect_ratio`` the side that needs the least
  scaling becomes 518, i.e. the shorter side for downscaled photos). It is the nominal size
  used where no image is at hand (``profile``, the web demo's start-up check);
  :meth:`HFDepthNetwork.set_input_size` (``--size`` / ``input_size=``) changes the
  processor's size, not the images.

Output meaning, from the model's config (:func:`spec_from_config`): Depth Anything with
``depth_estimation_type == "relative"``, DPT / MiDaS -> ``relative-disparity`` (affine-invariant
inverse depth, bigger = nearer); Depth Anything ``"metric"`` (V2 Metric Indoor / Outdoor,
``max_depth`` 20 / 80 m) and ZoeDepth -> metric ``depth`` in metres. Other model types are
refused unless the caller states the spec.

Known pitfall: transformers' DPT with a plain ViT (or hybrid ViT) backbone reshapes its tokens
to a square grid and fails on non-square input; such models are run at the square size of
their processor (``keep_aspect_ratio`` is switched off with a warning if a processor asks for it).

Licences: Depth-Anything-V2-Small is Apache-2.0; Base and Large are CC-BY-NC-4.0
(non-commercial). :func:`licence_note` states them.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.models.spec import OutputSpec, WeightsInfo

log = logging.getLogger(__name__)

__all__ = [
    "HF_PREFIX",
    "HFDepthCore",
    "HFDepthNetwork",
    "check_hf_folder",
    "is_transformers_depth_folder",
    "licence_note",
    "load_hf_depth",
    "spec_from_config",
]

#: prefix of a transformers depth model in :func:`litedepth.inference.load_model` sources
HF_PREFIX = "hf:"
#: files a local model folder needs besides its weights
MODEL_FILES = ("config.json", "preprocessor_config.json")
#: weight files (or sharded ``model-*.safetensors``)
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
#: what is fetched from the Hub for a model (safetensors only; see :func:`_hub_folder`)
HUB_PATTERNS = ("config.json", "preprocessor_config.json", "*.safetensors", "*.safetensors.index.json")
#: model types whose output meaning is known without a ``depth_estimation_type`` field
RELATIVE_TYPES = {"dpt": "DPT / MiDaS: affine-invariant inverse depth"}
METRIC_TYPES = {"zoedepth": "ZoeDepth: metric depth in metres"}


def licence_note(model_id: str) -> str:
    """Licence of a Depth Anything V2 checkpoint, from its id or folder name.

    Example:
        >>> licence_note("depth-anything/Depth-Anything-V2-Small-hf")
        'Apache-2.0 (Depth Anything V2 Small)'
    """
    name = str(model_id).lower()
    if "depth-anything-v2" in name or "depth_anything_v2" in name:
        if "small" in name:
            return "Apache-2.0 (Depth Anything V2 Small)"
        if "base" in name or "large" in name:
            size = "Base" if "base" in name else "Large"
            return f"CC-BY-NC-4.0, non-commercial (Depth Anything V2 {size})"
    return ("unknown: check the model card (Depth Anything V2 Small is Apache-2.0; Base/Large are "
            "CC-BY-NC-4.0)")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _weight_files(folder: Path) -> list[Path]:
    found = sorted(folder.glob("*.safetensors"))
    return found or [folder / w for w in WEIGHT_FILES if (folder / w).is_file()]


def looks_like_path(text: str) -> bool:
    """True for what can only be a local path (a hub id is ``name`` or ``org/name``)."""
    if text.startswith(("/", "./", "../", "~")) or "\\" in text or text.endswith("/") or text.count("/") > 1:
        return True
    first = text.split("/", 1)[0]
    return "/" in text and Path(first).is_dir()  # "models/da2" where ./models exists


def check_hf_folder(model_id: str, what: str = "model") -> bool:
    """Check a source before loading; returns True for a local folder, False for a hub id.

    A local folder must hold ``config.json``, ``preprocessor_config.json`` and the weights
    (``model.safetensors``, sharded ``model-*.safetensors`` or ``pytorch_model.bin``).

    Raises:
        DataError: a path that does not exist or is not a folder, or a folder missing files
            (``what`` names the role in the message, e.g. ``"teacher"``).
    """
    path = Path(model_id).expanduser()
    if path.is_dir():
        missing = [name for name in MODEL_FILES if not (path / name).is_file()]
        if not any((path / w).is_file() for w in WEIGHT_FILES) and not list(path.glob("model-*.safetensors")):
            missing.append(" or ".join(WEIGHT_FILES))
        if missing:
            raise DataError(path, f"{what} folder lacks {', '.join(missing)} (a Hugging Face depth model saved "
                                  "with save_pretrained, plus its image processor)")
        return True
    if path.exists():
        raise DataError(path, f"{what} is a file; give the folder holding config.json, the weights and "
                              "preprocessor_config.json, or a Hugging Face hub id")
    if looks_like_path(model_id):
        raise DataError(path, f"{what} folder not found")
    return False


def is_transformers_depth_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding a transformers model config and image processor
    (``config.json`` with a ``model_type`` + ``preprocessor_config.json``)."""
    import json

    folder = Path(path)
    if not ((folder / "config.json").is_file() and (folder / "preprocessor_config.json").is_file()):
        return False
    try:
        cfg = json.loads((folder / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and "model_type" in cfg and cfg.get("library") != "litedepth"


def spec_from_config(config: Any, processor: Any = None, where: str = "model") -> OutputSpec:
    """What a transformers depth model outputs, read from its config.

    Depth Anything: ``depth_estimation_type`` (``"relative"`` -> relative disparity,
    ``"metric"`` -> metres, bounded by ``max_depth``); DPT -> relative disparity (MiDaS);
    ZoeDepth -> metres.

    Raises:
        ConfigError: a model type whose output meaning is not known (give the spec).
    """
    model_type = str(getattr(config, "model_type", "") or "")
    kind = getattr(config, "depth_estimation_type", None)
    norm = _normalisation(processor)
    if kind is not None:
        if kind == "metric":
            max_depth = getattr(config, "max_depth", None)
            return OutputSpec.metric_depth(normalisation=norm, note=f"{model_type} metric head (depth_estimation_type "
                                                                    f"metric, max_depth {max_depth} m)")
        if kind == "relative":
            return OutputSpec.relative_disparity(normalisation=norm, note=f"{model_type} relative head "
                                                                          "(affine-invariant disparity)")
        raise ConfigError(f"{where}: depth_estimation_type {kind!r} is neither 'relative' nor 'metric'")
    if model_type in RELATIVE_TYPES:
        return OutputSpec.relative_disparity(normalisation=norm, note=RELATIVE_TYPES[model_type])
    if model_type in METRIC_TYPES:
        return OutputSpec.metric_depth(normalisation=norm, note=METRIC_TYPES[model_type])
    raise ConfigError(f"{where}: cannot tell whether a {model_type or 'untyped'!r} depth model outputs metric depth or "
                      "relative disparity (known: depth_anything, dpt, zoedepth); state it (spec= / --output-kind)")


def _normalisation(processor: Any) -> str:
    if processor is None:
        return "the model's own image processor inside forward"
    mean, std = getattr(processor, "image_mean", None), getattr(processor, "image_std", None)
    resize = "resize keeping the aspect ratio" if getattr(processor, "keep_aspect_ratio", False) else "resize"
    multiple = getattr(processor, "ensure_multiple_of", None)
    return (f"the model's own image processor inside forward ({type(processor).__name__}: {resize}"
            + (f", multiple of {multiple:g}" if isinstance(multiple, (int, float)) and multiple > 1 else "")
            + (f"; mean {list(mean)}, std {list(std)}" if mean is not None and std is not None else "") + ")")


def needs_square_input(config: Any) -> bool:
    """Whether the model only runs on square inputs: transformers' DPT with a plain or hybrid
    ViT reshapes its tokens to a square grid (a DINOv2 / BEiT backbone config does not)."""
    if getattr(config, "model_type", None) != "dpt":
        return False
    return getattr(config, "backbone_config", None) is None or bool(getattr(config, "is_hybrid", False))


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, (bool, int, float, str, type(None))):
        return v
    if hasattr(v, "value"):  # enums such as PILImageResampling
        return _jsonable(v.value)
    if hasattr(v, "items"):  # SizeDict
        return {str(k): _jsonable(x) for k, x in v.items() if x is not None}
    return str(v)


class HFDepthCore(nn.Module):
    """A transformers depth model as ``forward(rgb in [0, 1] at its processed size) -> (B, 1, h, w)``:
    the processor's mean / std (ImageNet's by default), then the model; no resize. For
    profiling at the size the processor would produce (:meth:`HFDepthNetwork.processed_size`)."""

    def __init__(self, model: nn.Module, mean: Sequence[float] | None, std: Sequence[float] | None) -> None:
        super().__init__()
        self.model = model
        self.model_name = getattr(getattr(model, "config", None), "_name_or_path", None) or type(model).__name__
        self.register_buffer("mean", torch.tensor(mean or (0.485, 0.456, 0.406), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std or (0.229, 0.224, 0.225), dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=(x - self.mean) / self.std).predicted_depth[:, None]


class HFDepthNetwork(nn.Module):
    """A transformers depth model + its image processor as a litedepth network.

    Build it with :func:`load_hf_depth`. ``forward(x)``: ``x`` RGB ``(B, 3, H, W)`` float in
    ``[0, 1]`` at any size -> ``(B, 1, H, W)`` float32 map at the same size, in the units of
    :attr:`output_spec` (relative disparity or metres).

    Attributes:
        model, processor: the transformers objects.
        source: the folder, hub id or published name it was loaded from.
        model_name: ``"hf:<source>"``.
        output_spec, weights_info: what the output means; where the weights came from.
        licence: licence note of the weights.
        own_preprocessing: ``True`` (the Predictor passes images at their own size).
    """

    own_preprocessing = True

    def __init__(self, model: nn.Module, processor: Any, *, source: str, spec: OutputSpec, weights: WeightsInfo,
                 licence: str, local: bool, revision: str | None = None, commit: str | None = None) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.processor = processor
        self.source, self.local, self.revision, self.commit = source, local, revision, commit
        self.model_name = f"{HF_PREFIX}{source}"
        self.output_spec = spec
        self.weights_info = weights
        self.licence = licence
        config = model.config
        self.model_type = str(getattr(config, "model_type", ""))
        self.square_only = needs_square_input(config)
        if self.square_only and getattr(processor, "keep_aspect_ratio", False):
            log.warning("%s: transformers' DPT with a ViT backbone fails on non-square input; running it at the "
                        "square size of its processor (keep_aspect_ratio off)", source)
            processor.keep_aspect_ratio = False
        # ZoeDepth pads the image before resizing (reflection); its post-processing removes it
        self.removes_padding = self.model_type == "zoedepth" and bool(getattr(processor, "do_pad", False))
        self._sizes: dict[tuple[int, int], tuple[int, int]] = {}
        size = self._size_setting()
        if self.square_only and size is not None and size[0] != size[1]:
            raise ConfigError(f"{source}: its processor size {size[0]}x{size[1]} is not square, and this DPT "
                              "(ViT backbone) only runs on square input")

    # ------------------------------------------------------------------ sizes
    def _size_setting(self) -> tuple[int, int] | None:
        size = getattr(self.processor, "size", None)
        get = size.get if hasattr(size, "get") else (lambda k, d=None: getattr(size, k, d))
        if size is None:
            return None
        h, w = get("height", None), get("width", None)
        if h and w:
            return int(h), int(w)
        edge = get("shortest_edge", None)
        return (int(edge), int(edge)) if edge else None

    @property
    def input_size(self) -> tuple[int, int]:
        """The processor's size setting ``(height, width)`` (see the module docstring: a
        nominal size; each image is resized by the processor's own rule)."""
        size = self._size_setting()
        if size is None:
            raise ConfigError(f"{self.source}: its image processor states no size")
        return size

    def set_input_size(self, size: int | Sequence[int], option: str = "input_size") -> None:
        """Set the processor's size: an int ``S`` (``S x S``; for Depth Anything the lower bound
        of the resize) or ``(height, width)``.

        Raises:
            ConfigError: a side below the processor's multiple (at least 1), or a non-square size
                for a model that only runs on square input.
        """
        h, w = (int(size), int(size)) if isinstance(size, (int, float)) else (int(size[0]), int(size[1]))
        multiple = getattr(self.processor, "ensure_multiple_of", 1) or 1
        low = max(1, int(multiple))
        if h < low or w < low:
            raise ConfigError(f"{option}: {self.model_name} needs sides of at least {low} pixels, got {h}x{w} (HxW)")
        if self.square_only and h != w:
            raise ConfigError(f"{option}: {self.model_name} (DPT with a ViT backbone) only runs on square input, "
                              f"got {h}x{w} (HxW)")
        current = getattr(self.processor, "size", None)
        if isinstance(current, dict) and "shortest_edge" in current and h == w:
            self.processor.size = {"shortest_edge": h}
        else:
            self.processor.size = {"height": h, "width": w}
        self._sizes.clear()

    def processed_size(self, height: int, width: int) -> tuple[int, int]:
        """``(h, w)`` the processor resizes an ``height x width`` image to (the model's input,
        padding included)."""
        key = (int(height), int(width))
        if key not in self._sizes:
            self._sizes[key] = tuple(self.preprocess(torch.zeros(1, 3, *key)).shape[-2:])  # type: ignore[assignment]
        return self._sizes[key]

    def preprocessing(self) -> dict[str, Any]:
        """The processor's settings (JSON-able), as recorded in ``predictions.json`` and
        pseudo-label manifests."""
        p = self.processor
        keys = ("size", "keep_aspect_ratio", "ensure_multiple_of", "resample", "do_rescale", "rescale_factor",
                "do_normalize", "image_mean", "image_std", "do_pad", "size_divisor")
        out: dict[str, Any] = {"processor": type(p).__name__}
        for k in keys:
            if hasattr(p, k):
                out[k] = _jsonable(getattr(p, k))
        out["input"] = "float RGB in [0, 1] (do_rescale=False), at the image's own size"
        out["output_resize"] = ("the processor's post-processing (padding removed), to the image size"
                                if self.removes_padding else "bilinear, align_corners=True, to the image size")
        return out

    # ------------------------------------------------------------------ running
    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """The processor's ``pixel_values`` for RGB ``(B, 3, H, W)`` in ``[0, 1]`` (on ``x``'s device)."""
        pixel = self.processor(images=x, do_rescale=False, input_data_format="channels_first",
                               return_tensors="pt")["pixel_values"]
        return pixel.to(device=x.device, dtype=next(self.model.parameters()).dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected RGB (B, 3, H, W) in [0, 1], got {tuple(x.shape)}")
        b, _, h, w = x.shape
        out = self.model(pixel_values=self.preprocess(x))
        if self.removes_padding:
            maps = self.processor.post_process_depth_estimation(out, source_sizes=[(h, w)] * b,
                                                                target_sizes=[(h, w)] * b)
            return torch.stack([m["predicted_depth"] for m in maps]).float()[:, None]
        return F.interpolate(out.predicted_depth[:, None].float(), size=(h, w), mode="bilinear", align_corners=True)

    def core(self) -> HFDepthCore:
        """The model on inputs already at their processed size (normalisation only; no resize,
        no padding): for profiling next to litedepth networks."""
        return HFDepthCore(self.model, getattr(self.processor, "image_mean", None),
                           getattr(self.processor, "image_std", None))

    def describe(self) -> dict[str, Any]:
        """JSON-able description: source, revision, commit, architecture, output, licence,
        pre-processing."""
        config = self.model.config
        return {"id": self.source, "revision": self.revision, "commit_hash": self.commit,
                "architecture": type(self.model).__name__, "model_type": self.model_type,
                "depth_estimation_type": getattr(config, "depth_estimation_type", None),
                "max_depth": getattr(config, "max_depth", None) if self.output_spec.is_metric else None,
                "output": self.output_spec.describe(), "licence": self.licence,
                "preprocessing": self.preprocessing()}


# ------------------------------------------------------------------------------ loading


def _load_parts(folder: Path, where: str, what: str) -> tuple[Any, Any]:
    """``(image processor, depth model)`` of a checked local folder; one-line errors."""
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # our own progress bars only
    try:
        return (AutoImageProcessor.from_pretrained(folder, local_files_only=True),
                AutoModelForDepthEstimation.from_pretrained(folder, local_files_only=True))
    except Exception as exc:  # noqa: BLE001 - any failure to load a user's folder is a user error
        first = (str(exc).splitlines() or [""])[0][:300]
        raise CheckpointError(f"{where}: broken {what} folder, cannot load a depth model + image processor "
                              f"from it ({type(exc).__name__}: {first})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()


def _hub_folder(repo_id: str, revision: str | None, where: str) -> tuple[Path, str | None]:
    """Fetch a hub id (safetensors weights; ``pytorch_model.bin`` only for repositories without)."""
    from litedepth.weights.hub import check_repo_id, snapshot_folder

    check_repo_id(repo_id, where)
    folder, commit = snapshot_folder(repo_id, revision, allow_patterns=HUB_PATTERNS, what="depth model", where=where)
    if not _weight_files(folder):
        folder, commit = snapshot_folder(repo_id, revision, allow_patterns=[*HUB_PATTERNS, "pytorch_model.bin"],
                                         what="depth model", where=where)
    return folder, commit


def load_hf_depth(source: str | Path, *, revision: str | None = None, input_size: int | Sequence[int] | None = None,
                  spec: OutputSpec | None = None, what: str = "model") -> HFDepthNetwork:
    """Load a transformers depth model with its image processor (on the CPU, eval mode).

    Args:
        source: a local folder, a hub id ``owner/name`` (``@revision`` allowed), or a
            published name of ``litedepth weights list``; an ``hf:`` prefix is accepted.
        revision: hub revision (branch, tag or commit); not for local folders.
        input_size: the processor's size (see :meth:`HFDepthNetwork.set_input_size`); default:
            the processor's own.
        spec: the output spec, only needed for model types whose meaning is not known (for
            known ones it must agree in kind and scale).
        what: the role named in messages (``"model"``, ``"teacher"``).

    Raises:
        DataError: a missing folder or one lacking files.
        CheckpointError: a broken folder, a Hub download that cannot happen (offline: what to
            fetch and how), published weights not downloaded.
        ConfigError: an output meaning that cannot be told, or that contradicts ``spec``.
    """
    from litedepth.weights import load_manifest, resolve

    text = str(source)
    text = text[len(HF_PREFIX):] if text.startswith(HF_PREFIX) else text
    where = text
    licence = licence_note(text)
    commit = None
    local = False
    manifest = load_manifest()
    if not Path(text).expanduser().exists() and text in manifest:
        entry = manifest.get(text)
        if not entry.is_hf:
            raise ConfigError(f"{text}: published weights for {entry.network}, not a transformers depth model")
        licence = entry.licence
        folder = resolve(text, network="teacher:hf-depth-estimation", manifest=manifest)
        revision = revision or entry.revision
        commit = folder.name if folder.parent.name == "snapshots" else None
        check_hf_folder(str(folder), what)
        origin_source = f"{entry.hf_repo}@{commit or revision or 'main'} (published name {text})"
    elif check_hf_folder(text, what):
        folder = Path(text).expanduser()
        local = True
        if revision is not None:
            raise ConfigError(f"{text}: a revision ({revision}) applies to hub ids, not to a local folder")
        origin_source = str(folder)
    else:
        repo_id, at = text.split("@", 1) if "@" in text else (text, None)
        revision = revision or at
        folder, commit = _hub_folder(repo_id, revision, where)
        text = repo_id
        origin_source = f"{repo_id}@{commit or revision or 'main'}"
    processor, model = _load_parts(folder, where, what)
    given = spec
    try:
        spec = spec_from_config(model.config, processor, where)
    except ConfigError:
        if given is None:
            raise
        spec = given.replace(size_multiple=1, normalisation=_normalisation(processor))
    if given is not None and (given.kind, given.scale) != (spec.kind, spec.scale):
        raise ConfigError(f"{where}: its config says it outputs {spec.describe()}; the given spec "
                          f"{given.describe()} contradicts it")
    weights = WeightsInfo(True, "hub", origin_source, {p.name: _sha256(p) for p in _weight_files(folder)})
    net = HFDepthNetwork(model, processor, source=text, spec=spec, weights=weights, licence=licence, local=local,
                         revision=revision, commit=commit or getattr(model.config, "_commit_hash", None))
    if input_size is not None:
        net.set_input_size(input_size)
    return net
