"""Deployment export: ONNX with an eager-PyTorch parity check and litedepth metadata.

See :mod:`litedepth.export.onnx`; run the exported file with
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
