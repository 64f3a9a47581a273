"""Procedural, view-independent surface textures for the synthetic scene generator.

Every function here maps *surface coordinates* (metres, measured on the surface itself) to an
albedo, so a given 3D point has the same colour from every viewpoint - the property that
photometric self-supervision (view synthesis) relies on. Nothing depends on the camera except
the anti-aliasing *footprint*: the size in metres of one pixel on the surface. Patterns finer
than about two pixels are faded to their mean (a cheap analytic stand-in for a camera's
pixel integration), which keeps the images free of aliasing shimmer between neighbouring
frames. That fade changes slowly with distance, so consecutive frames still agree to a grey
level or two.

All arrays are ``numpy``; coordinates are ``float64`` ``(M, 2)``, footprints ``float64``
``(M,)``, albedos ``float32`` ``(M, 3)`` in ``[0, 1]`` (display values, not linear light).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["PATTERN_NAMES", "Material", "albedo", "random_material", "value_noise"]

#: Pattern kinds a :class:`Material` can carry, by index.
PATTERN_NAMES: tuple[str, ...] = ("noise", "tiles", "stripes", "bricks", "checker")

_FINEST_CELL_M = 0.008  # finest value-noise cell (metres); below any footprint we render


@dataclass(frozen=True)
class Material:
    """Texture parameters of one surface (or of all faces of one box).

    Attributes:
        base: ``(3,)`` float RGB albedo in ``[0, 1]`` of the main colour.
        accent: ``(3,)`` float RGB albedo of the pattern's second colour (grout, stripes...).
        pattern: index into :data:`PATTERN_NAMES`.
        period: ``(2,)`` pattern period in metres along the two surface coordinates.
        line_width: width of grout / stripe lines as a fraction of the period, in ``(0, 0.5)``.
        noise_cell: size in metres of the coarsest value-noise cell.
        noise_amp: relative brightness modulation of the multi-octave noise, ``>= 0``.
        grain_amp: relative brightness of the finest octaves (high-frequency "grain" that gives
            SSIM gradients even on plain surfaces).
        offset: ``(2,)`` metres added to the surface coordinates (decorrelates surfaces).
        seed: seed of the noise fields (see :func:`value_noise`).
    """

    base: tuple[float, float, float]
    accent: tuple[float, float, float]
    pattern: int
    period: tuple[float, float]
    line_width: float
    noise_cell: float
    noise_amp: float
    grain_amp: float
    offset: tuple[float, float]
    seed: int


_TABLE_N = 256  # the noise lattice repeats every 256 cells
_TABLE = np.random.default_rng(0x11D7).random((_TABLE_N + 1, _TABLE_N + 1), dtype=np.float32)
_TABLE[_TABLE_N, :] = _TABLE[0, :]
_TABLE[:, _TABLE_N] = _TABLE[:, 0]
_TABLE_FLAT = _TABLE.ravel()


def value_noise(x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """Smooth 2D value noise on the integer lattice (fixed random lattice values, periodic
    with period 256 cells; ``seed`` selects one of 65536 shifted copies).

    Args:
        x, y: float arrays of the same shape, lattice units (one cell = 1); ``|x|, |y|`` must
            stay below 2**31.
        seed: integer selecting the field (only its low 16 bits matter).

    Returns:
        float32 array of the input shape with values in ``[0, 1)`` (mean about 0.5), smooth
        (C1) in ``x`` and ``y``.
    """
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = (x - x0).astype(np.float32, copy=False)
    fy = (y - y0).astype(np.float32, copy=False)
    ix = (x0.astype(np.int32) + np.int32(seed & 0xFF)) & np.int32(_TABLE_N - 1)
    iy = (y0.astype(np.int32) + np.int32((seed >> 8) & 0xFF)) & np.int32(_TABLE_N - 1)
    idx = iy * np.int32(_TABLE_N + 1) + ix
    sx = fx * fx * (3.0 - 2.0 * fx)
    sy = fy * fy * (3.0 - 2.0 * fy)
    a = _TABLE_FLAT.take(idx)
    b = _TABLE_FLAT.take(idx + 1)
    c = _TABLE_FLAT.take(idx + (_TABLE_N + 1))
    d = _TABLE_FLAT.take(idx + (_TABLE_N + 2))
    top = a + (b - a) * sx
    bot = c + (d - c) * sx
    return top + (bot - top) * sy


def _fade(period_m: float | np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Contrast weight of a feature of ``period_m`` metres given the pixel footprint (metres).

    1 when the feature spans at least 4 pixels, 0 at 2 pixels or less, linear in between.
    """
    return np.clip(period_m / np.maximum(footprint, 1e-9) * 0.5 - 1.0, 0.0, 1.0).astype(np.float32)


def _soft_lines(t: np.ndarray, width: float, fw: np.ndarray) -> np.ndarray:
    """Coverage in ``[0, 1]`` of lines of ``width`` (in periods) centred on integer ``t``.

    ``fw`` is the pixel footprint in periods; edges are smoothed over one footprint.
    """
    dist = np.abs(t - np.round(t))  # distance (in periods) to the nearest line centre
    soft = np.maximum(fw, 1e-6)
    return np.clip((0.5 * width - dist) / soft + 0.5, 0.0, 1.0).astype(np.float32)


def _soft_square(t: np.ndarray, fw: np.ndarray) -> np.ndarray:
    """Square wave in ``[-1, 1]`` of period 1 with edges smoothed over ``fw`` periods."""
    tri = np.abs(t - np.floor(t) - 0.5) * 2.0 - 0.5  # [-0.5, 0.5], zero at the edges
    return np.clip(tri / np.maximum(fw, 1e-6), -1.0, 1.0).astype(np.float32)


def _pattern(mat: Material, u: np.ndarray, v: np.ndarray, fp: np.ndarray) -> np.ndarray:
    """Accent weight in ``[0, 1]`` of the material's pattern at surface coords ``u, v``."""
    pu, pv = mat.period
    kind = PATTERN_NAMES[mat.pattern]
    if kind == "noise":
        return np.zeros(u.shape, np.float32)
    tu, tv = u / pu, v / pv
    fu, fv = fp / pu, fp / pv
    if kind == "tiles":
        lines = np.maximum(_soft_lines(tu, mat.line_width, fu), _soft_lines(tv, mat.line_width, fv))
        mean = 1.0 - (1.0 - mat.line_width) ** 2
    elif kind == "stripes":
        lines = _soft_lines(tu, 2.0 * mat.line_width, fu)
        mean = 2.0 * mat.line_width
    elif kind == "bricks":
        row = np.floor(tv)
        shifted = tu + 0.5 * (row - 2.0 * np.floor(row * 0.5))  # half-brick offset every other row
        lines = np.maximum(_soft_lines(shifted, mat.line_width, fu), _soft_lines(tv, mat.line_width, fv))
        mean = 1.0 - (1.0 - mat.line_width) ** 2
    else:  # checker
        lines = 0.5 + 0.5 * _soft_square(tu, fu) * _soft_square(tv, fv)
        mean = 0.5
    # Lines fade out once they are thinner than about one pixel, a checker once its squares are.
    feature = min(pu, pv) * (4.0 * mat.line_width if kind != "checker" else 1.0)
    w = _fade(feature, fp)
    return (w * lines + (1.0 - w) * np.float32(mean)).astype(np.float32)


def albedo(mat: Material, uv: np.ndarray, footprint: np.ndarray) -> np.ndarray:
    """Albedo of ``mat`` at surface coordinates ``uv``.

    Args:
        mat: the surface material.
        uv: ``(M, 2)`` float64 surface coordinates in metres.
        footprint: ``(M,)`` float64 size in metres of one image pixel on the surface at these
            points (used only to fade patterns finer than about two pixels).

    Returns:
        ``(M, 3)`` float32 albedo in ``[0, 1]``.
    """
    u = (uv[:, 0] + mat.offset[0]).astype(np.float32)
    v = (uv[:, 1] + mat.offset[1]).astype(np.float32)
    fp = np.maximum(np.asarray(footprint, dtype=np.float32), np.float32(1e-9))

    acc = _pattern(mat, u, v, fp)
    base = np.asarray(mat.base, np.float32)
    accent = np.asarray(mat.accent, np.float32)
    col = base[None, :] + (accent - base)[None, :] * acc[:, None]

    # Multi-octave value noise: coarse octaves use noise_amp, the finest ones grain_amp. An
    # octave of cell size c (dominant period about 2c) has weight _fade(2c) = clip(c/fp - 1):
    # full when a cell spans 2 pixels, none at 1 pixel. Pixels where it is 0 are skipped.
    bright = np.zeros(u.shape, np.float32)
    cell = mat.noise_cell
    k = 0
    min_fp = float(fp.min()) if fp.size else 1.0
    while cell >= _FINEST_CELL_M and cell > min_fp:
        amp = np.float32(2.0 * (mat.noise_amp * (0.6**k) if cell >= 0.1 else mat.grain_amp))
        seed = (mat.seed + 40503 * k) & 0xFFFF
        inv = np.float32(1.0 / cell)
        w = np.clip(np.float32(cell) / fp - np.float32(1.0), 0.0, 1.0)
        sel = np.flatnonzero(w > 0)
        if sel.size == u.size:
            n = value_noise(u * inv, v * inv, seed)
            bright += amp * w * (n - np.float32(0.5))
        elif sel.size:
            n = value_noise(u[sel] * inv, v[sel] * inv, seed)
            bright[sel] += amp * w[sel] * (n - np.float32(0.5))
        cell *= 0.5
        k += 1
    col *= (1.0 + bright)[:, None]
    return np.clip(col, 0.0, 1.0)


def random_material(rng: np.random.Generator, family: str) -> Material:
    """Draw a material for a surface ``family``.

    Args:
        rng: numpy Generator (consumed deterministically).
        family: one of ``"floor"``, ``"road"``, ``"wall"``, ``"facade"``, ``"ceiling"``,
            ``"crate"``, ``"pillar"``, ``"vehicle"``.

    Returns:
        A :class:`Material` whose colours and pattern suit the family.
    """
    hue_base = {
        "floor": (0.45, 0.38, 0.30),
        "road": (0.30, 0.30, 0.32),
        "wall": (0.70, 0.66, 0.58),
        "facade": (0.55, 0.42, 0.34),
        "ceiling": (0.82, 0.80, 0.76),
        "crate": (0.55, 0.40, 0.22),
        "pillar": (0.55, 0.55, 0.55),
        "vehicle": (0.5, 0.2, 0.2),
    }[family]
    patterns = {
        "floor": ("tiles", "checker", "stripes"),
        "road": ("noise", "stripes"),
        "wall": ("noise", "stripes", "tiles"),
        "facade": ("bricks", "tiles"),
        "ceiling": ("tiles", "noise"),
        "crate": ("stripes", "tiles"),
        "pillar": ("bricks", "stripes", "noise"),
        "vehicle": ("stripes", "checker"),
    }[family]
    if family == "vehicle":  # any paint colour
        base = rng.uniform(0.1, 0.9, 3)
    else:  # brightness jitter plus a milder tint (strong for crates / facades, weak for roads)
        tint = {"road": 0.03, "ceiling": 0.04, "pillar": 0.05}.get(family, 0.12)
        base = np.asarray(hue_base) * rng.uniform(0.7, 1.25) + rng.uniform(-tint, tint, 3)
    base = np.clip(base, 0.05, 0.95)
    dark = rng.uniform(0.45, 0.75)
    accent = np.clip(base * dark + rng.uniform(-0.05, 0.05, 3), 0.02, 0.98)
    if rng.random() < 0.3:  # occasionally a lighter accent
        accent = np.clip(base + rng.uniform(0.15, 0.3), 0.02, 0.98)
    pattern = PATTERN_NAMES.index(str(rng.choice(patterns)))
    if PATTERN_NAMES[pattern] == "bricks":
        pu = rng.uniform(0.22, 0.35)
        period = (pu, pu * rng.uniform(0.3, 0.45))
    elif family in ("road", "floor") and PATTERN_NAMES[pattern] == "stripes":
        p = rng.uniform(0.25, 0.6)
        period = (p, p)
    else:
        p = rng.uniform(0.25, 0.9)
        period = (p, p * rng.uniform(0.7, 1.4))
    return Material(
        base=tuple(float(c) for c in base),  # type: ignore[arg-type]
        accent=tuple(float(c) for c in accent),  # type: ignore[arg-type]
        pattern=pattern,
        period=(float(period[0]), float(period[1])),
        line_width=float(rng.uniform(0.06, 0.18)),
        noise_cell=float(rng.uniform(0.6, 1.6)),
        noise_amp=float(rng.uniform(0.12, 0.25)),
        grain_amp=float(rng.uniform(0.10, 0.18)),
        offset=(float(rng.uniform(-50, 50)), float(rng.uniform(-50, 50))),
        seed=int(rng.integers(0, 2**32 - 1)),
    )
