"""Depth decoders: encoder features -> sigmoid disparity at several scales, finest first.

* :mod:`.depth` - Monodepth2's decoder (five ResNet-style features), also the hybrid network's.
* :mod:`.lite_mono` - the Lite-Mono decoder (three features; optional disparity-bins head).
"""

from litedepth.models.decoders.depth import DepthDecoder
from litedepth.models.decoders.lite_mono import LiteMonoDecoder

__all__ = ["DepthDecoder", "LiteMonoDecoder"]
