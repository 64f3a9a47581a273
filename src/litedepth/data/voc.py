"""PASCAL VOC 2012 segmentation: class names, the colour palette and the folder layout.

Layout (as distributed, ``VOCdevkit/VOC2012``)::

    root/JPEGImages/2007_000032.jpg
    root/SegmentationClass/2007_000032.png      palette PNG (mode "P"): pixel values are class
                                                ids 0-20, 255 = void (object borders, "difficult")
    root/ImageSets/Segmentation/train.txt       one image id per line (also val.txt, trainval.txt)

``root`` may also be the ``VOCdevkit`` folder above it. Class 0 is background; the 20 object
classes follow in the official order (:data:`VOC_CLASSES`). The palette
(:func:`voc_palette`) is the official one: class ``i`` is coloured by spreading the bits of
``i`` over R, G and B (most significant first), so 1 = (128, 0, 0) aeroplane,
15 = (192, 128, 128) person, 255 = (224, 224, 192) void.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from litedepth.errors import DataError
from litedepth.io.images import IMAGE_SUFFIXES

__all__ = ["VOC_CLASSES", "VOC_IGNORE_INDEX", "list_voc_split", "resolve_voc_root", "voc_palette"]

VOC_CLASSES: tuple[str, ...] = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
)  # fmt: skip
VOC_IGNORE_INDEX = 255
#: Suffixes tried, in order, for ``JPEGImages/<id>``: the one list of image suffixes (``.jpg``,
#: VOC's own, first); an alias of :data:`litedepth.io.images.IMAGE_SUFFIXES`.
IMAGE_EXTS = IMAGE_SUFFIXES


def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: ``(n, 3)`` uint8 RGB, row ``i`` = colour of label ``i``.

    Example:
        >>> voc_palette()[[0, 1, 15, 255]].tolist()
        [[0, 0, 0], [128, 0, 0], [192, 128, 128], [224, 224, 192]]
    """
    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


def resolve_voc_root(root: str | Path) -> Path:
    """The folder holding ``JPEGImages/`` and ``SegmentationClass/`` (``root`` or
    ``root/VOC2012``).

    Raises:
        DataError: neither holds the VOC segmentation layout.
    """
    root = Path(root)
    for cand in (root, root / "VOC2012", root / "VOCdevkit" / "VOC2012"):
        if (cand / "JPEGImages").is_dir() and (cand / "SegmentationClass").is_dir():
            return cand
    raise DataError(root, "not a PASCAL VOC 2012 folder (expected JPEGImages/ and SegmentationClass/ "
                          "here or in VOC2012/)")


def list_voc_split(root: str | Path, split: str) -> list[tuple[str, Path, Path]]:
    """``(id, image path, mask path)`` of every image of ``ImageSets/Segmentation/<split>.txt``.

    Raises:
        DataError: missing split file (naming the ones present), empty split, or an id whose
            image or mask is missing (the first few are listed).
    """
    root = resolve_voc_root(root)
    sets = root / "ImageSets" / "Segmentation"
    split_file = sets / f"{split}.txt"
    if not split_file.is_file():
        present = sorted(p.stem for p in sets.glob("*.txt")) if sets.is_dir() else []
        raise DataError(split_file, f"split file not found (present: {', '.join(present) or 'none'})")
    ids = [ln.split()[0] for ln in split_file.read_text().splitlines() if ln.strip()]
    if not ids:
        raise DataError(split_file, "split file lists no image")
    items, missing = [], []
    for i in ids:
        image = next((root / "JPEGImages" / f"{i}{e}" for e in IMAGE_EXTS if (root / "JPEGImages" / f"{i}{e}").is_file()), None)
        mask = root / "SegmentationClass" / f"{i}.png"
        if image is None or not mask.is_file():
            missing.append(f"{i} ({'image' if image is None else 'mask'})")
            continue
        items.append((i, image, mask))
    if missing:
        raise DataError(split_file, f"{len(missing)} listed id(s) without image or SegmentationClass mask: "
                                    f"{', '.join(missing[:5])}")
    return items
