"""Deprecated alias of :mod:`litedepth.data.synthetic.raycast` (moved there; the old name goes in the next release).

Importing it warns and returns the new module itself, so every name (private ones too) and
every patch made through the old path keep working.
"""

import sys
import warnings

import litedepth.data.synthetic.raycast as _moved

MOVED_TO = "litedepth.data.synthetic.raycast"
warnings.warn(f"{__name__} moved to {MOVED_TO}; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
