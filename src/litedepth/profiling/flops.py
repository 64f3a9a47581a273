"""Parameter and multiply-accumulate (MAC) counts, with the counting scope made explicit.

Published depth papers disagree on what "FLOPs" means. Lite-Mono and Monodepth2 figures were
measured with ``thop``, which counts the multiply-accumulates of layer *modules* (convolutions,
linear layers, plus small terms for normalisation and pooling) and ignores everything done
with functional calls, such as the attention matrix products of a transformer block. This
module offers both scopes and labels every result with the one it used:

``"conv_linear"``
    Multiply-accumulates of ``nn.Conv1d/2d/3d``, ``nn.ConvTranspose*`` and ``nn.Linear``
    modules only, counted with forward hooks (how thop counts these layers; bias additions are
    not counted). For a convolution, ``MACs = out_elements * (in_channels / groups) * prod(k)``;
    for a transposed convolution ``in_elements * (out_channels / groups) * prod(k)``; for a
    linear layer ``out_elements * in_features``. Comparable with published Lite-Mono figures
    (which add < 1 % for BatchNorm and pooling).

``"full"``
    Total FLOPs reported by :class:`torch.utils.flop_counter.FlopCounterMode`, divided by two.
    It sees every matrix product and convolution dispatched to ATen, including functional ones
    (attention ``q @ k^T``, ``attn @ v``), but no element-wise work (normalisation, softmax,
    activations, interpolation).

Example:
    >>> import torch
    >>> from torch import nn
    >>> net = nn.Conv2d(3, 8, 3, padding=1)
    >>> count_params(net)
    224
    >>> count_macs(net, torch.zeros(1, 3, 4, 4)).macs  # 8*4*4 outputs * 3*3*3
    3456
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

logger = logging.getLogger(__name__)

MacMode = Literal["conv_linear", "full"]

MODE_DESCRIPTIONS: dict[str, str] = {
    "conv_linear": (
        "multiply-accumulates of Conv and Linear modules only (forward hooks, bias excluded; "
        "thop-style, as published Lite-Mono / Monodepth2 figures)"
    ),
    "full": (
        "torch.utils.flop_counter.FlopCounterMode FLOPs / 2: every convolution and matrix "
        "product, functional attention matmuls included; element-wise ops excluded"
    ),
}


@dataclass(frozen=True)
class MacCount:
    """Result of :func:`count_macs`.

    Attributes:
        macs: multiply-accumulates for one forward pass of the given inputs (whole batch).
        mode: counting scope, ``"conv_linear"`` or ``"full"`` (see the module docstring).
        description: one-line statement of what ``mode`` counts.
        breakdown: MACs per module type (``"Conv2d"``, ``"Linear"``) for ``"conv_linear"``,
            per ATen operator (``"aten.convolution"``, ``"aten.bmm"`` ...) for ``"full"``.
    """

    macs: int
    mode: MacMode
    description: str
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def gmacs(self) -> float:
        """``macs`` in units of 10^9."""
        return self.macs / 1e9

    def __str__(self) -> str:
        for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
            if self.macs >= scale:
                return f"{self.macs / scale:.3f} {unit}MACs ({self.mode})"
        return f"{self.macs} MACs ({self.mode})"


def count_params(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of ``model`` (shared parameters counted once).

    Args:
        model: any module.
        trainable_only: count only parameters with ``requires_grad=True``.

    Returns:
        The total number of scalar parameters (buffers such as BatchNorm running statistics
        are not parameters and are not counted).
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _conv_linear_macs(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> int:
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, nn.modules.conv._ConvTransposeNd):
        kernel = math.prod(module.kernel_size)
        return inputs[0].numel() * (module.out_channels // module.groups) * kernel
    if isinstance(module, nn.modules.conv._ConvNd):
        kernel = math.prod(module.kernel_size)
        return output.numel() * (module.in_channels // module.groups) * kernel
    return 0


def _count_conv_linear(model: nn.Module, inputs: tuple[Tensor, ...]) -> MacCount:
    counts: dict[str, int] = defaultdict(int)

    def hook(module: nn.Module, args: tuple[Tensor, ...], output: Tensor) -> None:
        counts[type(module).__name__] += _conv_linear_macs(module, args, output)

    counted = (nn.Linear, nn.modules.conv._ConvNd)
    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, counted)]
    try:
        model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    breakdown = dict(sorted(counts.items()))
    return MacCount(sum(breakdown.values()), "conv_linear", MODE_DESCRIPTIONS["conv_linear"],
                    breakdown)


def _count_full(model: nn.Module, inputs: tuple[Tensor, ...]) -> MacCount:
    # FlopCounterMode has no formula for the fused CPU kernel of F.scaled_dot_product_attention
    # (it would count 0); the math backend computes the same attention with aten.bmm, which it
    # counts. Only the count is kept, so the backend choice does not matter otherwise.
    counter = FlopCounterMode(display=False)
    with sdpa_kernel(SDPBackend.MATH), counter:
        model(*inputs)
    per_op = counter.get_flop_counts().get("Global", {})
    breakdown = {str(op): int(n) // 2 for op, n in per_op.items()}
    breakdown = dict(sorted(breakdown.items()))
    return MacCount(int(counter.get_total_flops()) // 2, "full", MODE_DESCRIPTIONS["full"],
                    breakdown)


def count_macs(
    model: nn.Module,
    inputs: Tensor | Sequence[Tensor],
    mode: MacMode = "conv_linear",
) -> MacCount:
    """Multiply-accumulates of one forward pass of ``model(*inputs)``.

    The model runs once in eval mode under ``torch.no_grad()`` (its training flag is
    restored afterwards), so dropout / drop-path do not change the count.

    Args:
        model: module to profile.
        inputs: one input tensor or a sequence of positional inputs, e.g. an RGB batch
            ``(B, 3, H, W)``. MACs scale with ``B``: pass batch 1 for per-image figures.
        mode: ``"conv_linear"`` (thop-style, comparable with published figures) or
            ``"full"`` (FlopCounterMode / 2, attention matmuls included).

    Returns:
        :class:`MacCount` with ``macs``, ``mode``, ``description`` and a ``breakdown``.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> count_macs(nn.Linear(4, 2), torch.zeros(3, 4), mode="full").macs
        24
    """
    if mode not in MODE_DESCRIPTIONS:
        raise ValueError(f"mode must be one of {sorted(MODE_DESCRIPTIONS)}, not {mode!r}")
    args = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            counter = _count_conv_linear if mode == "conv_linear" else _count_full
            result = counter(model, args)
    finally:
        model.train(was_training)
    logger.debug("%s: %s", type(model).__name__, result)
    return result
