"""Export KITTI sparse ground-truth depth from Velodyne scans (Eigen protocol).

Three input layouts:

* **object** (object/tracking benchmark style): ``root/image_2/``, ``root/velodyne/`` and
  ``root/calib/`` with one file per frame. Stems are matched exactly, falling back to the
  integer value of numeric stems (``0000000001.png`` <-> ``000001.txt``). The image size is read
  from the image header. Output: ``out/<image stem>.png``.
* **raw** (KITTI raw dataset): ``root/<date>/calib_cam_to_cam.txt``,
  ``root/<date>/calib_velo_to_cam.txt`` and ``root/<date>/<drive>/velodyne_points/data/*.bin``.
  The image size is ``S_rect_0X`` of the calibration (as Monodepth2 uses). Output:
  ``out/<date>/<drive>/image_0X/<frame:010d>.png``.
* **matrix** (data that comes with the projection already composed, e.g. mmdetection3d's
  ``lidar2img``): ``root/image_2/`` and ``root/velodyne/`` as in the object layout, and a
  ``projection``: one file for every frame, or a folder of one file per frame stem
  (``.txt``/``.json``/``.npy``), each a 3x4 ``P2 @ R0_rect @ Tr_velo_to_cam`` or a 4x4
  ``lidar2img`` (:func:`litedepth.geometry.calibration.load_projection_matrix`). The same
  frame gives the same map as through its object calibration. Output: ``out/<image stem>.png``.

Every map is written as a uint16 PNG, value = ``round(metres * 256)``, 0 = no point (the KITTI
depth encoding). With a split file (raw: Monodepth2 format ``<date>/<drive> <frame> l|r``;
object: one stem per line) only the listed frames are exported, in order, and
``out/gt_depths.npz`` holds the float32 maps in metres in split order, one array per frame
(:func:`litedepth.utils.arrays.save_map_archive`: entries ``map_000000``, ... and ``names``):
no pickles, so reading it cannot run code. ``npz_layout="monodepth2"`` writes instead the
layout of Monodepth2's ``export_gt_depth.py`` (key ``data``: a pickled object array), for
Monodepth2's own evaluation script; ``litedepth evaluate`` reads that only with
``--allow-pickle``.

Writes are atomic; existing PNGs are kept unless ``overwrite`` so that a killed run resumes.
Because the PNG quantises depth to 1/256 m, the maps for ``gt_depths.npz`` are always computed
from the scans, so the archive is identical whether or not a run was resumed.

Modules, by concept: :mod:`~litedepth.data.kitti_gt.object_layout` (object and matrix layouts:
matching image, scan and calibration files by stem), :mod:`~litedepth.data.kitti_gt.raw_layout`
(the raw dataset's drives), :mod:`~litedepth.data.kitti_gt.export` (:func:`export_gt`, which writes
the PNGs and ``gt_depths.npz`` for any layout). Split files are read by
:mod:`litedepth.io.kitti_splits`, the one KITTI split parser.
"""

from __future__ import annotations

from litedepth.data.kitti_gt.export import (
    GT_NPZ_NAME, LAYOUTS, NPZ_LAYOUTS, ExportSummary, export_gt, export_matrix_gt, export_object_gt, export_raw_gt,
)
from litedepth.data.kitti_gt.object_layout import (
    ObjectFrame, find_matrix_frames, find_object_frames, matrix_frame_depth, object_frame_depth,
)
from litedepth.data.kitti_gt.raw_layout import RawFrame, find_raw_frames, raw_frame_depth
from litedepth.io.kitti_splits import SplitEntry, read_split_file, read_stem_list

__all__ = [
    "GT_NPZ_NAME",
    "LAYOUTS",
    "NPZ_LAYOUTS",
    "ExportSummary",
    "ObjectFrame",
    "RawFrame",
    "SplitEntry",
    "export_gt",
    "export_matrix_gt",
    "export_object_gt",
    "export_raw_gt",
    "find_matrix_frames",
    "find_object_frames",
    "find_raw_frames",
    "matrix_frame_depth",
    "object_frame_depth",
    "raw_frame_depth",
    "read_split_file",
    "read_stem_list",
]
