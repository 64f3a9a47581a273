"""Deprecated alias of :mod:`litedepth.io.pseudo_labels` (moved there; the old name goes in the next release).

Importing it warns and returns the new module itself, so every name (private ones too) and
every patch made through the old path keep working.
"""

import sys
import warnings

import litedepth.io.pseudo_labels as _moved

MOVED_TO = "litedepth.io.pseudo_labels"
warnings.warn(f"{__name__} moved to {MOVED_TO}; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
