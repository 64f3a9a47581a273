"""Deprecated alias of :mod:`litedepth.apps.assistant` (moved there; the old name goes in the next release).

The former module was split into the package's modules ``depth`` (:class:`DepthFiles`,
:class:`PredictorDepth`), ``pipeline`` (:class:`AssistConfig`, :class:`AssistPipeline`,
:class:`FrameResult`), ``drawing`` (:func:`annotate`) and ``session`` (:func:`run_assist`).
Importing it warns and returns the package, which re-exports every public name of the former
module; a patch must now name the module that uses the patched name.
"""

import sys
import warnings

import litedepth.apps.assistant as _moved

MOVED_TO = "litedepth.apps.assistant"
warnings.warn(f"{__name__} moved to {MOVED_TO}; import it from there", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = _moved
