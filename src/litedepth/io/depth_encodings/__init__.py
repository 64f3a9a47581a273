"""Depth encodings: how a depth file stores metres, as one registry.

Every decoder returns a ``float32`` array ``(H, W)`` of **metres**, ``0.0`` meaning "no
measurement". A depth file does not say how it encodes depth (a 16-bit PNG may hold
millimetres, 1/256 m or 1/5000 m; a ``.pgm`` may hold millimetres or raw Kinect disparity), so
the encoding is always **named** by the caller, recorded with the data, and never guessed.
The only self-describing format is ``.npy``, which litedepth defines as float metres.

==============  =====================================  ==========================================
name            aliases                                decodes
==============  =====================================  ==========================================
``kitti``       ``kitti-depth``                        uint16 PNG, metres = value / 256
``mm``          ``nyu``, ``kinect``, ``scannet``,      uint16 PNG/PGM, millimetres
                ``millimetres``, ``millimeters``       (value / 1000)
``tum``         ``tum-rgbd``                           uint16 PNG, metres = value / 5000
``sunrgbd``     ``sun-rgbd``                           uint16 PNG, value rotated right by 3 bits
                                                       ``((v >> 3) | (v << 13)) & 0xFFFF``, / 1000
``nyu-raw``     ``kinect-raw``                         NYU v2 raw Kinect ``.pgm`` (little-endian as
                                                       dumped): 11-bit disparity ``raw``,
                                                       ``351.3 / (1092.5 - raw)`` m, 2047 = invalid
``nyu-raw-be``  -                                      the same, big-endian (a standard PGM, e.g.
                                                       re-saved after MATLAB's ``swapbytes``)
``npy``         ``float-npy``                          ``.npy`` float metres (never unpickled)
``pfm-depth``   -                                      ``.pfm`` float metres (inf/NaN/<=0 invalid)
``middlebury``  ``middlebury-pfm``, ``pfm-disparity``  Middlebury ``.pfm`` disparity (pixels) with
                                                       ``calib.txt`` beside it:
                                                       ``baseline * f / (d + doffs)`` m
``tiff-float``  ``float-tiff``                         32-bit float TIFF, metres
                                                       (NaN/inf/<=0 invalid)
a number        -                                      uint16 PNG/PGM/TIFF, metres = value / number
==============  =====================================  ==========================================

PFM files hold depth in some datasets and disparity in others (Middlebury, SceneFlow), so
there is no ``pfm`` name: ``pfm-depth`` reads float metres and ``middlebury`` converts
Middlebury disparity with the scene's calibration. OpenEXR is not supported: no library
that litedepth depends on reads it (OpenCV's wheels ship without the EXR codec).

Use :func:`parse_encoding` to turn a name, alias or number into a :class:`DepthEncoding`,
:func:`decode_depth` to read a file and :func:`encode_depth` to write one.

The package, by concept: :mod:`.encoding` (the :class:`DepthEncoding` type), :mod:`.registry`
(the table above, lookup, ``decode_depth`` / ``encode_depth``), :mod:`.codecs` (each encoding's
decoder and encoder, metres <-> stored values) and :mod:`.formats` (the file formats under
them: 16-bit PNG / TIFF, PGM, PFM). Every name is importable from the package.

Example:
    >>> enc = parse_encoding("kitti")
    >>> enc.name, enc.scale
    ('kitti', 256.0)
    >>> parse_encoding(1000).describe()
    'uint16, metres = value / 1000'
"""

from litedepth.io.depth_encodings import encoding, registry, codecs, formats
from litedepth.io.depth_encodings.encoding import *  # noqa: F403 - the names of its __all__
from litedepth.io.depth_encodings.registry import *  # noqa: F403 - the names of its __all__
from litedepth.io.depth_encodings.codecs import *  # noqa: F403 - the names of its __all__
from litedepth.io.depth_encodings.formats import *  # noqa: F403 - the names of its __all__

#: every public name, as listed by the modules' own ``__all__``
__all__ = [*encoding.__all__, *registry.__all__, *codecs.__all__, *formats.__all__]
