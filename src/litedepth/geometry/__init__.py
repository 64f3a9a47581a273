"""Camera geometry: intrinsics, back-projection, projection, warping, depth <-> disparity.

Conventions: pixel coordinates are pixel centres (``grid_sample(align_corners=True)``);
normalised intrinsics divide row 0 by the width and row 1 by the height; poses map
``X_source = T_source_from_target @ X_target``; camera axes x right, y down, z forward.
"""

from litedepth.geometry import camera, depth, warp
from litedepth.geometry.camera import *  # noqa: F403 - the names of its __all__
from litedepth.geometry.depth import *  # noqa: F403 - the names of its __all__
from litedepth.geometry.warp import *  # noqa: F403 - the names of its __all__

#: every public name, as listed by the modules' own ``__all__``
__all__ = [*camera.__all__, *depth.__all__, *warp.__all__]
