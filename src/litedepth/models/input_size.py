"""Input sizes a network accepts, checked before any work starts.

Some networks need each input side to be a multiple of a number (Monodepth2 and the hybrid:
32, for five stride-2 stages whose upsampling must meet the skips exactly; Lite-Mono: 16).
:func:`size_multiple` is the one place that reads it, from the network's declared
:class:`~litedepth.models.spec.OutputSpec` (1 = any size); :func:`check_input_size` turns a bad
size into one line naming the option.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from litedepth.errors import ConfigError

__all__ = ["check_input_size", "size_multiple"]


def size_multiple(net: nn.Module) -> int:
    """The number every input height and width of ``net`` must be a multiple of (1 = any),
    as its :class:`~litedepth.models.spec.OutputSpec` declares (1 for a bare module that
    declares none)."""
    from litedepth.models.spec import OutputSpec

    spec = getattr(net, "output_spec", None)
    # a module that declares nothing gets no multiple enforced here (a forward probe still runs)
    return spec.size_multiple if isinstance(spec, OutputSpec) else 1


def check_input_size(net: nn.Module, size: Sequence[int], option: str) -> tuple[int, int]:
    """Check a ``(height, width)`` input size in pixels for ``net``; returns it as ints.

    Args:
        net: the network (its registered name, ``model_name``, is used in the message).
        size: ``(height, width)`` in pixels.
        option: the option or config key that set it, e.g. ``"data.init_args.size"``.

    Raises:
        ConfigError: a side below 1, or not a multiple of :func:`size_multiple`, e.g.
            ``data.init_args.size: lite-mono-tiny needs height and width that are positive
            multiples of 16, got 100x48 (HxW)``.
    """
    if len(size) != 2:
        raise ConfigError(f"{option}: expected (height, width), got {list(size)}")
    h, w = (int(v) for v in size)
    m = size_multiple(net)
    if h >= m and w >= m and not h % m and not w % m:
        return h, w
    name = getattr(net, "model_name", type(net).__name__)
    rule = f"positive multiples of {m}" if m > 1 else "positive"
    raise ConfigError(f"{option}: {name} needs height and width that are {rule}, got {h}x{w} (HxW)")
