"""The two conventions, their names, and the plausibility check that refuses one taken for the
other (package docstring of :mod:`litedepth.geometry.intrinsics`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litedepth.errors import ConfigError, DataError

if TYPE_CHECKING:
    from litedepth.geometry.intrinsics.pinhole import Intrinsics

__all__ = ["CONVENTIONS", "MAX_FOV_DEG", "MIN_FOV_DEG", "NORMALISED", "PIXELS", "parse_convention"]

PIXELS = "pixels"
NORMALISED = "normalised"
CONVENTIONS = (PIXELS, NORMALISED)
#: Fields of view outside [MIN_FOV_DEG, MAX_FOV_DEG] (either axis) are implausible for a pinhole.
MIN_FOV_DEG = 0.5
MAX_FOV_DEG = 170.0
_NORMALISED_HINT = ('these look like normalised intrinsics (fx/W, fy/H, cx/W, cy/H), not pixels; state it '
                    '("normalised": true in a JSON file, --intrinsics-convention normalised on the command line)')
_PIXELS_HINT = ('these look like pixel intrinsics, not normalised ones: drop "normalised" and give the '
                'image width and height they belong to')


def fov_from_focal(focal_norm: float) -> float:
    """Field of view (degrees) of a normalised focal length (focal / image extent)."""
    return math.degrees(2.0 * math.atan(0.5 / focal_norm))


_F_NORM_MIN = 0.5 / math.tan(math.radians(MAX_FOV_DEG) / 2.0)  # 0.0437: 170 deg
_F_NORM_MAX = 0.5 / math.tan(math.radians(MIN_FOV_DEG) / 2.0)  # 114.6: 0.5 deg


def fail(source: str | Path | None, message: str) -> None:
    """Raise the error for ``message``: a :class:`DataError` naming ``source`` when it is a file,
    else a :class:`ConfigError` prefixed by ``source`` (an option name) when given."""
    if isinstance(source, Path):
        raise DataError(source, message)
    raise ConfigError(f"{source}: {message}" if source else message)


def parse_convention(value: Any) -> str | None:
    """``"pixels"``, ``"normalised"`` or ``None`` from a name (``normalized``, ``pixel``, ``px``
    accepted) or a bool (``True`` = normalised).

    Raises:
        ConfigError: anything else.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        return NORMALISED if value else PIXELS
    key = str(value).strip().lower()
    if key in ("pixels", "pixel", "px"):
        return PIXELS
    if key in ("normalised", "normalized", "norm"):
        return NORMALISED
    raise ConfigError(f"intrinsics convention must be 'pixels' or 'normalised', not {value!r}")


def check_plausible(k: Intrinsics) -> None:
    """Refuse implausible intrinsics (the package docstring: a field of view between
    :data:`MIN_FOV_DEG` and :data:`MAX_FOV_DEG`, the principal point inside the image), with a
    message that suggests the other convention where the values fit it.

    Pixel intrinsics of an unstated size are not checked (nothing to check them against).

    Raises:
        ConfigError / DataError (``k.source`` a file): implausible values.
    """
    if k.convention == NORMALISED:
        for name, f in (("fx", k.fx), ("fy", k.fy)):
            if f > _F_NORM_MAX:
                fail(k.source, f"normalised {name} = {f:g} is a field of view of {fov_from_focal(f):.2g} deg "
                               f"(below {MIN_FOV_DEG:g}): {_PIXELS_HINT}")
            if f < _F_NORM_MIN:
                fail(k.source, f"normalised {name} = {f:g} is a field of view of {fov_from_focal(f):.1f} deg "
                               f"(a pinhole camera sees less than {MAX_FOV_DEG:g} deg)")
        for name, c in (("cx", k.cx), ("cy", k.cy)):
            if not 0.0 <= c <= 1.0:
                fail(k.source, f"normalised principal point {name} = {c:g} lies outside [0, 1]: {_PIXELS_HINT}")
        return
    if k.width is None:
        return
    for name, f, n, axis in (("fx", k.fx, k.width, "wide"), ("fy", k.fy, k.height, "high")):
        fov = fov_from_focal(f / n)
        if fov > MAX_FOV_DEG:
            fail(k.source, f"{name} = {f:g} px is a {'horizontal' if axis == 'wide' else 'vertical'} "
                           f"field of view of {fov:.1f} deg for a {n}-pixel-{axis} image (a pinhole camera "
                           f"sees less than {MAX_FOV_DEG:g} deg): {_NORMALISED_HINT}")
        if fov < MIN_FOV_DEG:
            fail(k.source, f"{name} = {f:g} px is a field of view of {fov:.2g} deg for a {n}-pixel-{axis} "
                           f"image (below {MIN_FOV_DEG:g} deg): check the units and the image size")
    for name, c, n, axis in (("cx", k.cx, k.width, "wide"), ("cy", k.cy, k.height, "high")):
        if not -0.5 <= c <= n - 0.5:
            hint = (_NORMALISED_HINT if 0.0 <= c <= 1.0 else
                    "intrinsics of another image size? state the width and height they belong to")
            fail(k.source, f"principal point {name} = {c:g} px lies outside the {n}-pixel-{axis} image: {hint}")

# ------------------------------------------------------------------ constructors
