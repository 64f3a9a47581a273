"""``predictions.json``: what a folder of predictions means.

``litedepth predict`` writes, beside the ``.npy`` maps, a manifest that records the output
specification (:class:`~litedepth.io.output_spec.OutputSpec`), the model, its weights (source,
sha256, trained or random) and the file formats. ``litedepth evaluate`` reads it, so that a
disparity is never scored as depth and a relative map never as metres. Layout (format 2)::

    {"format": 2, "litedepth_version": "...",
     "output_spec": {...}, "kind": "sigmoid-disparity", "units": "...",
     "model": {"name": ..., "weights": {"trained": true, "origin": ..., "source": ..., "sha256": ...}, ...},
     "files": {"npy": "<stem>.npy: ...", ...}, "count": 12, ...}

Format 1 manifests (litedepth before the output spec) recorded ``kind`` ``"depth"`` or
``"disparity"`` only; they are read conservatively (:func:`read_manifest`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litedepth.errors import DataError
from litedepth.io.output_spec import OutputSpec

log = logging.getLogger(__name__)

MANIFEST_NAME = "predictions.json"
MANIFEST_FORMAT = 2


@dataclass
class PredictionsManifest:
    """A read ``predictions.json``.

    Attributes:
        path: the file.
        spec: what the ``.npy`` maps hold.
        model: the recorded model block (name, weights ...), or ``{}``.
        trained: whether the weights were trained (``None``: not recorded).
        data: the whole JSON object.
    """

    path: Path
    spec: OutputSpec
    model: dict[str, Any] = field(default_factory=dict)
    trained: bool | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def training_depth_encoding(self) -> Any:
        return self.model.get("training_depth_encoding")


def manifest_path(predictions: str | Path) -> Path | None:
    """Where the manifest of a predictions folder (or of an array file's folder) would be."""
    p = Path(predictions)
    return p / MANIFEST_NAME if p.is_dir() else None


def read_manifest(predictions: str | Path) -> PredictionsManifest | None:
    """The manifest of a predictions folder, or ``None`` when there is none.

    Raises:
        DataError: an unreadable or malformed manifest (naming the file).
    """
    path = manifest_path(predictions)
    if path is None or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(path, f"unreadable predictions manifest ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(path, "predictions manifest is not a JSON object")
    model = data.get("model") if isinstance(data.get("model"), dict) else {}
    weights = model.get("weights") if isinstance(model.get("weights"), dict) else {}
    trained = weights.get("trained") if isinstance(weights.get("trained"), bool) else None
    if "output_spec" in data:
        from litedepth.errors import ConfigError

        try:
            spec = OutputSpec.from_dict(data["output_spec"], str(path))
        except ConfigError as exc:
            raise DataError(path, str(exc)) from None
    elif data.get("kind") == "depth":  # format 1: metric or not was not recorded
        spec = OutputSpec.relative_depth(note="format-1 predictions.json: whether the depth is metric was not recorded")
    elif data.get("kind") == "disparity":  # format 1: the network's raw sigmoid output
        spec = OutputSpec("sigmoid-disparity", "relative", note="format-1 predictions.json: disp_to_depth range "
                                                                 "not recorded")
    elif "segmentation" in data and isinstance(data.get("depth"), dict):
        depth_kind = data["depth"].get("kind")
        spec = (OutputSpec.relative_depth() if depth_kind == "depth"
                else OutputSpec.relative_disparity(note="format-1 multi-task depth head"))
    else:
        raise DataError(path, "predictions manifest records no output_spec (what the maps mean)")
    return PredictionsManifest(path, spec, model, trained, data)


def write_manifest(folder: str | Path, spec: OutputSpec, *, model: dict[str, Any] | None = None,
                   **extra: Any) -> Path:
    """Write ``folder/predictions.json`` atomically (format 2); ``extra`` keys are stored too."""
    from litedepth import __version__
    from litedepth.utils.atomic import atomic_write_bytes

    data: dict[str, Any] = {"format": MANIFEST_FORMAT, "litedepth_version": __version__,
                            "output_spec": spec.to_dict(), "kind": spec.kind, "units": spec.units}
    if model is not None:
        data["model"] = model
    data.update(extra)
    path = Path(folder) / MANIFEST_NAME
    atomic_write_bytes(path, (json.dumps(data, indent=2) + "\n").encode())
    return path
