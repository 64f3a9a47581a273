"""Learning-rate schedules of the published self-supervised recipes (stepped per epoch)."""

from __future__ import annotations

import math
from collections.abc import Callable


def step_schedule(step_size: int = 15, gamma: float = 0.1) -> Callable[[int], float]:
    """Monodepth2: multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Returns a multiplier of the base learning rate as a function of the epoch index.
    """
    if step_size < 1:
        raise ValueError(f"step_size must be >= 1, got {step_size}")
    return lambda epoch: gamma ** (epoch // step_size)


def cosine_restarts_schedule(
    base_lr: float,
    min_lr: float,
    period: int = 31,
    restart_decay: float = 0.9,
) -> Callable[[int], float]:
    """Lite-Mono: cosine annealing with warm restarts whose peak decays per restart.

    Within restart ``k`` (epochs ``k*period .. (k+1)*period - 1``) the learning rate goes
    from ``base_lr * restart_decay**k`` down to ``min_lr`` along half a cosine::

        lr(e) = min_lr + (peak_k - min_lr) * (1 + cos(pi * (e mod period) / period)) / 2

    Returns:
        a multiplier of ``base_lr`` (for ``torch.optim.lr_scheduler.LambdaLR``).
    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    if not 0 < min_lr <= base_lr:
        raise ValueError(f"need 0 < min_lr <= base_lr, got min_lr={min_lr}, base_lr={base_lr}")

    def factor(epoch: int) -> float:
        k, t = divmod(epoch, period)
        peak = max(base_lr * restart_decay**k, min_lr)
        lr = min_lr + (peak - min_lr) * 0.5 * (1.0 + math.cos(math.pi * t / period))
        return lr / base_lr

    return factor
