"""Camera intrinsics as one typed object whose convention is explicit: :class:`Intrinsics`.

Two conventions, and nothing in between:

* **pixels** of a stated image size ``width x height``: ``fx, fy, cx, cy`` (and a skew ``s``)
  in pixels, in the pixel-centre convention of :mod:`litedepth.geometry.camera` (integer
  coordinates are pixel centres; the image spans ``[-0.5, W - 0.5]``). The size may be left
  unstated ("the image these are used with"); it is then attached, and checked, when the
  intrinsics meet an image (:meth:`Intrinsics.to_pixels`).
* **normalised** (Monodepth2's): row 0 of the pixel ``K`` divided by the width and row 1 by
  the height, ``fx/W, s/W, cx/W, fy/H, cy/H``; one matrix for every resolution. KITTI's are
  ``fx = 0.58, fy = 1.92, cx = cy = 0.5``.

**The one principal-point convention.** Normalised and pixel intrinsics convert by plain
multiplication, ``cx_px = cx_norm * W`` (Monodepth2 multiplies its normalised ``K`` by the
width and height directly), so a *centred* principal point is ``cx_norm = 0.5`` = ``W / 2``
pixels everywhere in litedepth: :meth:`Intrinsics.from_fov`, the synthetic generator, the
assist app and the point-cloud default all use it. In the pixel-centre convention the exact
image centre is ``(W - 1) / 2``; the half pixel is ignored, as Monodepth2 does, so that its
intrinsics and results reproduce exactly. Resizing *pixel* intrinsics
(:meth:`Intrinsics.resize`) is exact in the pixel-centre convention,
``cx' = (cx + 0.5) s - 0.5``, and a horizontal flip is ``cx' = W - 1 - cx`` (what the
self-supervised training does; :mod:`litedepth.data.augment` calls the functions below).

**Plausibility check.** A pinhole camera sees less than 180 degrees, so each focal length
must give a field of view between :data:`MIN_FOV_DEG` (0.5) and :data:`MAX_FOV_DEG` (170)
degrees: in pixels ``f >= N / (2 tan 85 deg) = 0.0437 N`` for an image ``N`` pixels wide
(or high), 28 px for 640 pixels; normalised ``0.0437 <= f <= 114.6``. The principal point
must lie in the image (pixels ``-0.5 <= cx <= W - 0.5``; normalised ``0 <= cx <= 1``).
Failing either is an error that suggests the other convention: ``fx = 0.58`` pixels of a
640-pixel-wide image "looks normalised", a normalised ``fx = 718`` "looks like pixels".

One implementation serves NumPy and torch: :func:`normalise_matrix`, :func:`denormalise_matrix`,
:func:`hflip_matrix` and :func:`resize_matrix` take ``(..., 3, 3)`` or ``(..., 4, 4)``
arrays or tensors; :class:`Intrinsics` is built on them and gives ``K`` as a NumPy
matrix (:meth:`~Intrinsics.as_matrix`) or a batched torch tensor (:meth:`~Intrinsics.as_tensor`).

The package, by concept: :mod:`.matrix` (the matrix maths), :mod:`.checks` (the conventions'
names and the plausibility check), :mod:`.pinhole` (the :class:`Intrinsics` type) and
:mod:`.readers` (files). Every name is importable from the package.

Readers: :func:`intrinsics_from_dict` (a JSON object), :func:`read_intrinsics` (a JSON
object or bare matrix, a ``.npy`` matrix, a text file of numbers, KITTI calibration files
in the raw ``calib_cam_to_cam.txt`` and the object ``P2:`` formats) and
:meth:`Intrinsics.from_projection` (a 3x4 / 4x4 projection matrix, decomposed).

Example:
    >>> k = Intrinsics.from_normalised(0.58, 1.92, 0.5, 0.5)
    >>> p = k.to_pixels(192, 640)
    >>> round(p.fx, 4), round(p.fy, 4), p.cx, p.cy, p.width, p.height
    (371.2, 368.64, 320.0, 96.0, 640, 192)
    >>> Intrinsics.from_pixels(0.58, 1.92, 0.5, 0.5, width=640, height=192)
    Traceback (most recent call last):
    ...
    litedepth.errors.ConfigError: fx = 0.58 px is a horizontal field of view of 179.8 deg for a 640-pixel-wide image (a pinhole camera sees less than 170 deg): these look like normalised intrinsics (fx/W, fy/H, cx/W, cy/H), not pixels; state it ("normalised": true in a JSON file, --intrinsics-convention normalised on the command line)
"""

from litedepth.geometry.intrinsics import matrix, checks, pinhole, readers
from litedepth.geometry.intrinsics.matrix import *  # noqa: F403 - the names of its __all__
from litedepth.geometry.intrinsics.checks import *  # noqa: F403 - the names of its __all__
from litedepth.geometry.intrinsics.pinhole import *  # noqa: F403 - the names of its __all__
from litedepth.geometry.intrinsics.readers import *  # noqa: F403 - the names of its __all__

#: every public name, as listed by the modules' own ``__all__``
__all__ = [*matrix.__all__, *checks.__all__, *pinhole.__all__, *readers.__all__]
