"""Deprecated alias of :mod:`litedepth.io.video` (moved there; the old name goes in the next release).

Importing it warns and returns the new module itself, so every name (private ones too) and
every patch made through the old path keep working.
"""

import sys
import warnings

import litedepth.io.video as _moved

MOVED_TO = "litedepth.io.video"
warnings.warn(f"{__name__} moved to {MOVED_TO}; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
