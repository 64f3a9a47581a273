"""The ``DataLoader`` of every data module: training loaders drop the last partial batch.

A training batch of one sample breaks BatchNorm networks in training mode ("Expected more
than 1 value per channel"): 7 images in batches of 2 leave one. Training loaders therefore
shuffle and drop the last partial batch (``drop_last=True``, as Monodepth2 does), and a training
set smaller than one batch, which would then train on nothing, is refused in one line naming the
folder, the number of samples and ``--data.init_args.batch_size``. Validation and test loaders keep every
sample (no shuffle, no drop).
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from pathlib import Path
from typing import Any

from torch.utils.data import DataLoader, Dataset

from litedepth.errors import DataError

__all__ = ["check_training_size", "make_loader"]


def check_training_size(n_samples: int, batch_size: int, source: str | Path | None) -> None:
    """Refuse a training set that holds fewer samples than one batch.

    Args:
        n_samples: samples in the training set.
        batch_size: samples per batch (``--data.init_args.batch_size``).
        source: the dataset folder, named in the message.

    Raises:
        DataError: ``n_samples < batch_size`` (with ``drop_last`` an epoch would hold no batch).
    """
    if int(n_samples) < int(batch_size):
        raise DataError(
            source,
            f"the training split holds {n_samples} sample(s), fewer than one batch of --data.init_args.batch_size "
            f"{batch_size} (the last partial batch is dropped, so training would see nothing); "
            f"lower --data.init_args.batch_size to at most {max(int(n_samples), 1)} or add training data",
        )


def make_loader(
    ds: Dataset,
    batch_size: int,
    num_workers: int,
    *,
    train: bool,
    source: str | Path | None = None,
    drop_last: bool = True,
    collate_fn: Callable[[list[Any]], Any] | None = None,
    pin_memory: bool = False,
) -> DataLoader:
    """A data module's loader.

    Args:
        ds: the dataset (sized).
        batch_size, num_workers: loader options (workers persist between epochs).
        train: training loader: shuffled, last partial batch dropped (unless ``drop_last`` is
            False), refused when the set is smaller than one batch; else every sample in order.
        source: the dataset folder, for the refusal message.
        drop_last: training loaders only; ``False`` keeps a last partial batch (then a batch
            of one sample can reach the network).
        collate_fn: as ``DataLoader``'s (default collation when ``None``).
        pin_memory: as ``DataLoader``'s.

    Raises:
        DataError: a training set smaller than one batch (with ``drop_last``).
    """
    drop = bool(train and drop_last)
    if drop:
        assert isinstance(ds, Sized)
        check_training_size(len(ds), batch_size, source)
    return DataLoader(
        ds,
        batch_size=int(batch_size),
        shuffle=bool(train),
        num_workers=int(num_workers),
        persistent_workers=int(num_workers) > 0,
        pin_memory=bool(pin_memory),
        drop_last=drop,
        collate_fn=collate_fn,
    )
