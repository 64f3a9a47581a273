"""Model profiling: parameter counts and multiply-accumulates with an explicit scope.

See :mod:`litedepth.profiling.flops` for what ``"conv_linear"`` and ``"full"`` count.
"""

from litedepth.profiling.flops import MODE_DESCRIPTIONS, MacCount, count_macs, count_params

__all__ = ["MODE_DESCRIPTIONS", "MacCount", "count_macs", "count_params"]
