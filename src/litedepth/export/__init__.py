"""Deployment export: ONNX with an eager-PyTorch parity check and litedepth metadata.

Modules: :mod:`~litedepth.export.onnx` (the exporter, :func:`export_onnx`),
:mod:`~litedepth.export.outputs` (the graph's input and output), :mod:`~litedepth.export.parity`
(the checks against eager PyTorch), :mod:`~litedepth.export.metadata` (the ``litedepth.*``
keys of the file), :mod:`~litedepth.export.quantize` (fp16 / int8 conversion) with
:mod:`~litedepth.export.calibration` (its calibration frames),
:mod:`~litedepth.export.quant_parity` (quantised vs float32) and
:mod:`~litedepth.export.quant_graph` (nodes kept in float, GELU fusion),
:mod:`~litedepth.export.errors`. Run the exported file with
:class:`litedepth.inference.onnx_backend.OnnxDepthModel`.
"""

from litedepth.export.onnx import (
    ExportError,
    OnnxExportResult,
    ParityCheck,
    ParityError,
    export_onnx,
    read_metadata,
)

__all__ = ["ExportError", "OnnxExportResult", "ParityCheck", "ParityError", "export_onnx", "read_metadata"]
