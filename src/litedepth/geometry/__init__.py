"""Camera geometry: intrinsics, back-projection, projection, warping, depth <-> disparity.

Conventions: pixel coordinates are pixel centres (``grid_sample(align_corners=True)``);
normalised intrinsics divide row 0 by the width and row 1 by the height; poses map
``X_source = T_source_from_target @ X_target``; camera axes x right, y down, z forward.
"""

from litedepth.geometry import camera, depth, warp
from litedepth.geometry.camera import (
    backproject,
    normalised_to_pixel,
    pixel_grid,
    pixel_to_grid,
    pixel_to_normalised,
    project,
    scale_intrinsics,
)
from litedepth.geometry.depth import DispToDepth, depth_to_disp, disp_to_depth
from litedepth.geometry.warp import InverseWarp, inverse_warp

#: every public name of the camera, depth and warp modules (each module's ``__all__`` lists them)
__all__ = [*camera.__all__, *depth.__all__, *warp.__all__]
