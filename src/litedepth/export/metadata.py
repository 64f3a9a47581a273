"""The litedepth metadata of an exported ONNX file: written in one place, read back by readers.

Keys (``metadata_props``, read back with :func:`read_metadata`): ``litedepth.version``,
``litedepth.model``, ``litedepth.output_spec`` (the :class:`OutputSpec` as JSON),
``litedepth.trained`` (``true``/``false``), ``litedepth.weights_source``,
``litedepth.weights_sha256``, ``litedepth.training_depth_encoding``,
``litedepth.output_kind`` (legacy two-word kind), ``litedepth.input_height``,
``litedepth.input_width``, ``litedepth.dynamic_hw``, ``litedepth.input`` (the normalisation
note), ``litedepth.output``, ``litedepth.parity_max_abs_diff`` / ``_max_rel_diff``,
``litedepth.opset``, ``litedepth.precision`` (``fp32``, ``fp16`` or ``int8``), ``torch.version``;
quantised files add ``litedepth.quant_method``, ``litedepth.quant_parity_frames``,
``litedepth.quant_max_abs_diff`` / ``_mean_abs_diff`` (output units),
``litedepth.quant_abs_rel`` / ``_a1`` (depth against float32 after median scaling),
``litedepth.quant_calibration_frames`` and ``litedepth.quant_float_nodes`` (nodes kept in
float). All of them are built by :func:`build_metadata`, the one place that builds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from litedepth import __version__
from litedepth.errors import DataError
from litedepth.export.parity import ParityCheck
from litedepth.models.spec import OutputSpec, WeightsInfo

__all__ = ["META_PREFIX", "NORMALISATION_NOTE", "OUTPUT_NOTE", "PRECISION_KEY", "build_metadata", "read_metadata",
           "set_metadata"]

META_PREFIX = "litedepth."
PRECISION_KEY = "litedepth.precision"
NORMALISATION_NOTE = "input RGB in [0,1], normalised inside"
OUTPUT_NOTE = "pred (B, 1, H, W) float32: the network's finest-scale prediction"


def build_metadata(name: str, kind: str, height: int, width: int, dynamic: bool, parity: Sequence[ParityCheck],
                   opset: int, precision: str, quant: Any | None, *, spec: OutputSpec, output: str,
                   weights: WeightsInfo | None, training_depth_encoding: str | float | None,
                   extra: dict[str, str] | None) -> dict[str, str]:
    """Every ``metadata_props`` entry litedepth writes (the one place that builds them).

    ``quant`` is the :class:`~litedepth.export.quantize.QuantResult` of an fp16 / int8 file
    (``None`` for float32); ``extra`` entries are stored as ``litedepth.<key>``.
    """
    meta = {
        f"{META_PREFIX}version": __version__,
        f"{META_PREFIX}model": str(name),
        f"{META_PREFIX}output_kind": str(kind),
        f"{META_PREFIX}output_spec": spec.to_json(),
        f"{META_PREFIX}output_name": output,
        f"{META_PREFIX}trained": "unknown" if weights is None else str(bool(weights.trained)).lower(),
        f"{META_PREFIX}weights_source": "" if weights is None or weights.source is None else str(weights.source),
        f"{META_PREFIX}weights_sha256": "" if weights is None or not isinstance(weights.sha256, str)
        else weights.sha256,
        f"{META_PREFIX}training_depth_encoding": "" if training_depth_encoding is None
        else str(training_depth_encoding),
        f"{META_PREFIX}input_height": str(height),
        f"{META_PREFIX}input_width": str(width),
        f"{META_PREFIX}dynamic_hw": str(dynamic).lower(),
        f"{META_PREFIX}input": NORMALISATION_NOTE,
        f"{META_PREFIX}output": OUTPUT_NOTE,
        f"{META_PREFIX}parity_max_abs_diff": f"{max(c.max_abs_diff for c in parity):.3e}",
        f"{META_PREFIX}parity_max_rel_diff": f"{max(c.max_rel_diff for c in parity):.3e}",
        f"{META_PREFIX}opset": str(int(opset)),
        PRECISION_KEY: precision,
        "torch.version": torch.__version__,
        **{f"{META_PREFIX}{k}": str(v) for k, v in (extra or {}).items()},
    }
    if quant is not None:
        q = quant.parity
        meta.update({
            f"{META_PREFIX}quant_method": quant.method,
            f"{META_PREFIX}quant_parity_frames": str(q.frames),
            f"{META_PREFIX}quant_max_abs_diff": f"{q.max_abs_diff:.3e}",
            f"{META_PREFIX}quant_mean_abs_diff": f"{q.mean_abs_diff:.3e}",
            f"{META_PREFIX}quant_abs_rel": f"{q.abs_rel:.4e}",
            f"{META_PREFIX}quant_a1": f"{q.a1:.4f}",
            f"{META_PREFIX}quant_calibration_frames": str(quant.calibration_frames),
            f"{META_PREFIX}quant_float_nodes": str(len(quant.excluded_nodes)),
        })
    return meta


def set_metadata(proto: Any, meta: dict[str, str]) -> None:
    """Put ``meta`` into ``proto.metadata_props`` (replacing entries of the same keys)."""
    keep = [p for p in proto.metadata_props if p.key not in meta]
    del proto.metadata_props[:]
    proto.metadata_props.extend(keep)
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def read_metadata(path_or_proto: str | Path | Any) -> dict[str, str]:
    """``metadata_props`` of an ONNX file (or loaded ``ModelProto``) as a dict.

    Raises:
        DataError: the file is missing or not ONNX.
    """
    import onnx

    proto = path_or_proto
    if isinstance(path_or_proto, (str, Path)):
        path = Path(path_or_proto)
        if not path.is_file():
            raise DataError(path, "ONNX file not found")
        try:
            proto = onnx.load(str(path), load_external_data=False)
        except Exception as exc:  # noqa: BLE001
            raise DataError(path, f"not a readable ONNX model ({exc})") from exc
    return {p.key: p.value for p in proto.metadata_props}

