"""Feature encoders shared by the registered networks (each a
:class:`~litedepth.models.contract.FeatureEncoder`: RGB in ``[0, 1]`` -> features, finest first,
described by ``feature_info``).

* :mod:`.resnet` - the ResNet-18/50 encoder of Monodepth2, its PoseNet and the hybrid network.
* :mod:`.lite_mono` - the Lite-Mono encoder (its blocks in :mod:`.lite_mono_blocks`).
"""

from litedepth.models.encoders.lite_mono import LiteMonoEncoder
from litedepth.models.encoders.resnet import FiveLevelEncoder, ResnetEncoder

__all__ = ["FiveLevelEncoder", "LiteMonoEncoder", "ResnetEncoder"]
