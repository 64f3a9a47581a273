"""What a network's output means: the typed output specification.

This module sits in the ``io`` layer (NumPy only, no torch) so that readers of prediction
files (``litedepth evaluate``) can use it without importing the networks;
:mod:`litedepth.models.spec` re-exports every name.

Every registered network declares an :class:`OutputSpec`, and every place a prediction goes
(Lightning checkpoints, ONNX ``metadata_props``, ``predictions.json``, weight configs) carries
it, so that a reader never has to guess whether a number is depth or disparity, metres or
relative. One function, :func:`to_depth`, turns any prediction into depth given its spec.

The word "disparity" is never used alone: a prediction is one of these kinds.

===================== ====================================================================
kind                  meaning of the value ``v``
===================== ====================================================================
``depth``             distance along the optical axis (z). ``scale="metric"``: metres.
                      ``scale="relative"``: metres times one unknown factor per model or
                      image (scale-invariant training, SILog with λ = 1; evaluate with
                      median scaling).
``sigmoid-disparity`` the sigmoid output of a Monodepth2-style head, ``v`` in ``[0, 1]``:
                      ``depth = 1 / (1/max_depth + (1/min_depth - 1/max_depth) v)``
                      (:func:`litedepth.geometry.depth.disp_to_depth`). Monocular training
                      makes that depth ``relative``; with a known ``depth_factor`` (5.4 for
                      Monodepth2's KITTI stereo models) it is ``metric``.
``inverse-depth``     ``v`` is proportional to ``1 / depth`` (Monodepth2's exported scaled
                      disparities, stereo disparity in pixels): ``depth = depth_factor / v``.
``relative-disparity`` affine-invariant inverse depth (MiDaS, Depth Anything, a student
                      distilled from them, min-max normalised teacher maps): ``1 / depth =
                      a v + b`` with unknown ``a, b`` per image. There is no depth without
                      aligning ``a, b`` to a reference (``scale="affine"``).
``segmentation``      ``(C, H, W)`` class logits.
``pose``              axis-angle and translation of a relative camera motion.
===================== ====================================================================

Inputs are always RGB in ``[0, 1]``, ``(B, 3, H, W)``; ``normalisation`` states what the
network does to them inside ``forward``, and ``size_multiple`` what height and width must be
divisible by.

Example:
    >>> spec = OutputSpec.sigmoid_disparity(0.1, 100.0, size_multiple=32)
    >>> spec.units
    'sigmoid disparity in [0, 1]; depth = disp_to_depth(0.1, 100) in relative units (unknown scale)'
    >>> import numpy as np
    >>> to_depth(np.array([0.0, 1.0]), spec).tolist()
    [100.0, 0.1]
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from litedepth.errors import ConfigError

__all__ = [
    "DEPTH_KINDS", "KINDS", "NORMALISE_IMAGENET", "NORMALISE_MONODEPTH2", "OUTPUT_KIND_FORMS", "RANDOM_WEIGHTS",
    "SCALES", "SPEC_FORMAT", "WEIGHT_ORIGINS", "Kind", "OutputSpec", "Scale", "WeightsInfo", "align_scale_shift",
    "parse_output_kind", "to_depth", "to_inverse_depth", "weights_from_file",
]

Kind = Literal["depth", "sigmoid-disparity", "inverse-depth", "relative-disparity", "segmentation", "pose"]
Scale = Literal["metric", "relative", "affine", "none"]

KINDS: tuple[str, ...] = ("depth", "sigmoid-disparity", "inverse-depth", "relative-disparity", "segmentation", "pose")
#: kinds whose values describe depth (everything but segmentation and pose)
DEPTH_KINDS: tuple[str, ...] = ("depth", "sigmoid-disparity", "inverse-depth", "relative-disparity")
SCALES: tuple[str, ...] = ("metric", "relative", "affine", "none")

#: version of the serialised form (:meth:`OutputSpec.to_dict`)
SPEC_FORMAT = 1

NORMALISE_MONODEPTH2 = "(x - 0.45) / 0.225 inside forward"
NORMALISE_IMAGENET = "ImageNet mean/std inside forward"


@dataclass(frozen=True)
class OutputSpec:
    """What a network's (or a prediction file's) values mean.

    Attributes:
        kind: one of :data:`KINDS` (see the module docstring).
        scale: ``"metric"`` (metres after :func:`to_depth`), ``"relative"`` (depth up to one
            unknown factor), ``"affine"`` (``relative-disparity`` only: scale and shift
            unknown) or ``"none"`` (segmentation, pose).
        min_depth, max_depth: the ``disp_to_depth`` range of a ``sigmoid-disparity`` head in
            the units of its depth (metres for a metric model); ``None`` for other kinds.
        depth_factor: multiplies the converted depth (``5.4`` turns Monodepth2 KITTI stereo
            depth into metres); ``1.0`` otherwise.
        size_multiple: input height and width must be multiples of this (``1``: any size).
        normalisation: what ``forward`` does to its RGB ``[0, 1]`` input.
        num_classes: number of classes of a ``segmentation`` output, or of the segmentation
            head of a multi-task network whose spec describes its depth head; else ``None``.
        note: free text (where the meaning comes from, e.g. "SILog λ = 1").
    """

    kind: Kind
    scale: Scale = "relative"
    min_depth: float | None = None
    max_depth: float | None = None
    depth_factor: float = 1.0
    size_multiple: int = 1
    normalisation: str = "none"
    num_classes: int | None = None
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown output kind {self.kind!r}; choose one of: {', '.join(KINDS)}")
        if self.scale not in SCALES:
            raise ConfigError(f"unknown output scale {self.scale!r}; choose one of: {', '.join(SCALES)}")
        depthy = self.kind in DEPTH_KINDS
        if not depthy and self.scale != "none":
            raise ConfigError(f"a {self.kind} output has no depth scale (scale 'none'), got {self.scale!r}")
        if depthy and self.scale == "none":
            raise ConfigError(f"a {self.kind} output needs a scale: metric, relative or affine")
        if (self.kind == "relative-disparity") != (self.scale == "affine"):
            raise ConfigError("scale 'affine' (unknown scale and shift) is the scale of relative-disparity "
                              f"outputs and only theirs; got kind {self.kind!r} with scale {self.scale!r}")
        if self.kind == "sigmoid-disparity":
            if self.min_depth is not None or self.max_depth is not None:
                if not (self.min_depth is not None and self.max_depth is not None
                        and 0 < self.min_depth < self.max_depth and math.isfinite(self.max_depth)):
                    raise ConfigError("a sigmoid-disparity output needs 0 < min_depth < max_depth, got "
                                      f"min_depth={self.min_depth}, max_depth={self.max_depth}")
        elif self.min_depth is not None or self.max_depth is not None:
            raise ConfigError(f"min_depth / max_depth describe sigmoid-disparity outputs, not {self.kind}")
        if not (math.isfinite(self.depth_factor) and self.depth_factor > 0):
            raise ConfigError(f"depth_factor must be a finite number > 0, got {self.depth_factor}")
        if int(self.size_multiple) != self.size_multiple or self.size_multiple < 1:
            raise ConfigError(f"size_multiple must be an integer >= 1, got {self.size_multiple}")
        if self.kind == "segmentation" and (self.num_classes is None or self.num_classes < 1):
            raise ConfigError("a segmentation output must state num_classes >= 1")

    # ------------------------------------------------------------------ constructors
    @classmethod
    def metric_depth(cls, **kw: Any) -> OutputSpec:
        """Depth in metres."""
        return cls("depth", "metric", **kw)

    @classmethod
    def relative_depth(cls, **kw: Any) -> OutputSpec:
        """Depth up to one unknown factor."""
        return cls("depth", "relative", **kw)

    @classmethod
    def sigmoid_disparity(cls, min_depth: float = 0.1, max_depth: float = 100.0, *, metric: bool = False,
                          depth_factor: float = 1.0, **kw: Any) -> OutputSpec:
        """A Monodepth2-style sigmoid head with its ``disp_to_depth`` range."""
        return cls("sigmoid-disparity", "metric" if metric else "relative", float(min_depth), float(max_depth),
                   float(depth_factor), **kw)

    @classmethod
    def relative_disparity(cls, **kw: Any) -> OutputSpec:
        """Affine-invariant inverse depth (scale and shift unknown)."""
        return cls("relative-disparity", "affine", **kw)

    @classmethod
    def segmentation(cls, num_classes: int, **kw: Any) -> OutputSpec:
        """Class logits ``(C, H, W)``."""
        return cls("segmentation", "none", num_classes=int(num_classes), **kw)

    @classmethod
    def pose(cls, **kw: Any) -> OutputSpec:
        """Relative camera motion (axis-angle + translation)."""
        return cls("pose", "none", **kw)

    def replace(self, **changes: Any) -> OutputSpec:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ meaning
    @property
    def is_depth(self) -> bool:
        """Whether the values describe depth (not segmentation or pose)."""
        return self.kind in DEPTH_KINDS

    @property
    def is_metric(self) -> bool:
        """Whether :func:`to_depth` gives metres."""
        return self.scale == "metric"

    @property
    def needs_alignment(self) -> bool:
        """Whether depth needs a per-image scale-and-shift fit (relative-disparity)."""
        return self.scale == "affine"

    @property
    def has_range(self) -> bool:
        """Whether a sigmoid-disparity spec knows its ``disp_to_depth`` range."""
        return self.min_depth is not None and self.max_depth is not None

    @property
    def value_unit(self) -> str:
        """Short unit label of the raw values for tables: ``"m"`` only for metric depth, a
        relative depth's values have no unit, disparities are labelled as such."""
        if self.kind != "depth":
            return "disparity" if self.kind != "inverse-depth" else "inverse depth"
        return "m" if self.is_metric else "(relative)"

    @property
    def units(self) -> str:
        """The values' units in words."""
        if self.kind == "depth":
            return "metres" if self.is_metric else "relative depth (unknown scale)"
        if self.kind == "sigmoid-disparity":
            rng = (f"disp_to_depth({self.min_depth:g}, {self.max_depth:g})" if self.has_range
                   else "disp_to_depth(range unknown)")
            factor = f" x {self.depth_factor:g}" if self.depth_factor != 1.0 else ""
            return f"sigmoid disparity in [0, 1]; depth = {rng}{factor} in " + (
                "metres" if self.is_metric else "relative units (unknown scale)")
        if self.kind == "inverse-depth":
            return "1/metres" if self.is_metric else "inverse depth (unknown scale)"
        if self.kind == "relative-disparity":
            return "affine-invariant inverse depth (unknown scale and shift; bigger = nearer)"
        if self.kind == "segmentation":
            return f"class logits ({self.num_classes} classes)"
        return "axis-angle (radians) + translation"

    @property
    def depth_units(self) -> str:
        """What :func:`to_depth` returns: ``"metres"`` or ``"relative"``."""
        if not self.is_depth:
            raise ConfigError(f"a {self.kind} output has no depth")
        if self.needs_alignment:
            raise ConfigError("relative-disparity has no depth without a scale-and-shift alignment")
        return "metres" if self.is_metric else "relative"

    def describe(self) -> str:
        """One line for people: kind, units, size multiple."""
        extra = f", {self.note}" if self.note else ""
        return f"{self.kind} ({self.units}; input sizes multiple of {self.size_multiple}{extra})"

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (with ``format``), the form stored everywhere weights go."""
        d = dataclasses.asdict(self)
        d["format"] = SPEC_FORMAT
        d["units"] = self.units
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, where: str = "output spec") -> OutputSpec:
        """Rebuild from :meth:`to_dict` output; ``where`` names the source in errors.

        Raises:
            ConfigError: not a dict, an unknown format, unknown fields or invalid values.
        """
        if isinstance(data, OutputSpec):
            return data
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: output spec must be a mapping, got {type(data).__name__}")
        fmt = data.get("format", SPEC_FORMAT)
        if fmt != SPEC_FORMAT:
            raise ConfigError(f"{where}: output spec format {fmt!r} is not supported (this litedepth reads "
                              f"format {SPEC_FORMAT}); upgrade litedepth")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - fields - {"format", "units"}
        if unknown:
            raise ConfigError(f"{where}: unknown output spec fields {sorted(unknown)}")
        if "kind" not in data:
            raise ConfigError(f"{where}: output spec has no 'kind'")
        kw = {k: v for k, v in data.items() if k in fields}
        try:
            return cls(**kw)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        except TypeError as exc:
            raise ConfigError(f"{where}: bad output spec ({exc})") from None

    @classmethod
    def from_json(cls, text: str, where: str = "output spec") -> OutputSpec:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f"{where}: output spec is not JSON ({exc})") from None
        return cls.from_dict(data, where)


#: the short forms :func:`parse_output_kind` accepts, for help texts
OUTPUT_KIND_FORMS = ("depth:metric", "depth:relative", "sigmoid-disparity:MIN:MAX[:metric[:FACTOR]]",
                     "inverse-depth[:metric]", "relative-disparity")


def parse_output_kind(text: str, where: str = "--output-kind") -> OutputSpec:
    """An :class:`OutputSpec` from a short command-line form or a JSON object.

    Forms: ``depth:metric``, ``depth:relative``, ``sigmoid-disparity:0.1:100`` (add
    ``:metric:5.4`` for a metric depth factor), ``inverse-depth`` / ``inverse-depth:metric``,
    ``relative-disparity``, or ``OutputSpec.to_json()`` text.

    Raises:
        ConfigError: naming ``where`` and the accepted forms.
    """
    text = text.strip()
    if text.startswith("{"):
        return OutputSpec.from_json(text, where)
    parts = [p.strip() for p in text.split(":")]
    kind, rest = parts[0], parts[1:]
    forms = ", ".join(OUTPUT_KIND_FORMS)
    try:
        if kind == "depth" and len(rest) == 1 and rest[0] in ("metric", "relative"):
            return OutputSpec("depth", rest[0])  # type: ignore[arg-type]
        if kind == "sigmoid-disparity" and len(rest) >= 2:
            metric = len(rest) >= 3 and rest[2] == "metric"
            if len(rest) >= 3 and not metric:
                raise ValueError(rest[2])
            factor = float(rest[3]) if len(rest) == 4 else 1.0
            if len(rest) > 4:
                raise ValueError(text)
            return OutputSpec.sigmoid_disparity(float(rest[0]), float(rest[1]), metric=metric, depth_factor=factor)
        if kind == "inverse-depth" and len(rest) <= 1 and (not rest or rest[0] in ("metric", "relative")):
            return OutputSpec("inverse-depth", rest[0] if rest else "relative")  # type: ignore[arg-type]
        if kind == "relative-disparity" and not rest:
            return OutputSpec.relative_disparity()
    except ValueError:
        pass
    except ConfigError as exc:
        raise ConfigError(f"{where} {text!r}: {exc}") from None
    raise ConfigError(f"{where} {text!r}: not an output kind; use one of {forms} (or a JSON spec)")


#: what ``WeightsInfo.origin`` can be
WEIGHT_ORIGINS = ("random", "initialised", "checkpoint", "official-folder", "weights-file", "onnx", "hub", "module")


@dataclass(frozen=True)
class WeightsInfo:
    """Where a network's weights came from, and whether they are trained for its output.

    Attributes:
        trained: ``False`` when the output layers are randomly initialised (the output is
            noise, whatever the encoder was initialised from).
        origin: one of :data:`WEIGHT_ORIGINS` (``"initialised"``: only an encoder was loaded,
            e.g. ImageNet or COCO weights; ``"module"``: weights set by the caller).
        source: the file, folder, checkpoint or name the weights were read from.
        sha256: hex digest of the file, or ``{file name: digest}`` for a folder.
    """

    trained: bool
    origin: str
    source: str | None = None
    sha256: str | dict[str, str] | None = None

    def __post_init__(self) -> None:
        if self.origin not in WEIGHT_ORIGINS:
            raise ConfigError(f"unknown weights origin {self.origin!r}; choose one of {', '.join(WEIGHT_ORIGINS)}")

    def to_dict(self) -> dict[str, Any]:
        return {"trained": self.trained, "origin": self.origin, "source": self.source, "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WeightsInfo:
        return cls(bool(data.get("trained")), str(data.get("origin", "module")), data.get("source"), data.get("sha256"))


RANDOM_WEIGHTS = WeightsInfo(trained=False, origin="random")


def weights_from_file(path: Any, missing: list[str]) -> WeightsInfo:
    """The :class:`WeightsInfo` of a weights file loaded with ``missing`` keys left at
    initialisation: trained when nothing but BatchNorm counters was left out."""
    left = [k for k in missing if not k.endswith("num_batches_tracked")]
    return WeightsInfo(not left, "weights-file" if not left else "initialised", str(path))


def to_inverse_depth(pred: Any, spec: OutputSpec) -> Any:
    """Values in inverse-depth space (bigger = nearer) for alignment in disparity space.

    ``depth`` -> ``1 / depth``; ``sigmoid-disparity`` -> the scaled disparity of
    ``disp_to_depth``; ``inverse-depth`` and ``relative-disparity`` -> unchanged. Works on
    NumPy arrays and tensors of any shape.
    """
    _check_depth_spec(spec)
    if spec.kind == "depth":
        return 1.0 / pred
    if spec.kind == "sigmoid-disparity":
        _check_range(spec)
        min_disp, max_disp = 1.0 / spec.max_depth, 1.0 / spec.min_depth  # type: ignore[operator]
        return min_disp + (max_disp - min_disp) * pred
    return pred


def to_depth(pred: Any, spec: OutputSpec) -> Any:
    """Depth from a prediction of any depth kind (NumPy array or tensor, any shape).

    ``depth``: ``pred * depth_factor``; ``sigmoid-disparity``:
    ``depth_factor / (1/max + (1/min - 1/max) pred)``; ``inverse-depth``:
    ``depth_factor / pred``. The result is metres when ``spec.is_metric``, else relative
    (:attr:`OutputSpec.depth_units`). A zero inverse depth gives ``inf``.

    Raises:
        ConfigError: ``relative-disparity`` (needs a scale-and-shift fit first, see
            :func:`align_scale_shift`), a non-depth kind, or a sigmoid-disparity spec without
            its range.
    """
    _check_depth_spec(spec)
    if spec.needs_alignment:
        raise ConfigError("a relative-disparity prediction (scale and shift unknown) has no depth without "
                          "aligning it to reference depth (e.g. evaluate --align scale-shift, or a metric model)")
    if spec.kind == "depth":
        out = pred
    else:
        inv = to_inverse_depth(pred, spec)
        if isinstance(inv, np.ndarray):
            with np.errstate(divide="ignore"):
                out = 1.0 / inv
        else:
            out = 1.0 / inv
    return out * spec.depth_factor if spec.depth_factor != 1.0 else out


def align_scale_shift(pred: np.ndarray, target_depth: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    """Least squares ``s, t`` with ``s * pred + t ≈ 1 / target_depth`` over valid pixels.

    Args:
        pred: ``(H, W)`` inverse-depth-like prediction (e.g. relative disparity).
        target_depth: ``(H, W)`` reference depth (metres); ``<= 0`` = invalid.
        mask: optional extra validity mask.

    Raises:
        ConfigError: fewer than two valid pixels or a constant prediction.
    """
    valid = (target_depth > 0) & np.isfinite(target_depth) & np.isfinite(pred)
    if mask is not None:
        valid &= mask
    x = pred[valid].astype(np.float64)
    y = 1.0 / target_depth[valid].astype(np.float64)
    xc = x - x.mean() if x.size else x
    var = float(xc @ xc)
    if x.size < 2 or var <= 1e-12 * float(x @ x):
        raise ConfigError("scale-and-shift alignment needs at least two valid pixels and a non-constant prediction")
    s = float(xc @ (y - y.mean())) / var
    return s, float(y.mean() - s * x.mean())


def _check_depth_spec(spec: OutputSpec) -> None:
    if not spec.is_depth:
        raise ConfigError(f"a {spec.kind} output is not depth")


def _check_range(spec: OutputSpec) -> None:
    if not spec.has_range:
        raise ConfigError("this sigmoid-disparity prediction does not record its disp_to_depth range "
                          "(min_depth, max_depth); give it explicitly (e.g. --min-depth 0.1 --max-depth 100)")
