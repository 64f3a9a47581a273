"""Datasets of named sequences split by whole sequences (synthetic scenes, the user's videos).

:class:`SplitSequenceDataset` is the base of :class:`~litedepth.data.video_synthetic.SyntheticSequenceDataset`
and :class:`~litedepth.data.video_folder.VideoFolderDataset`: both take a root folder, a split
name, frame ids and a size, plus the same :class:`SequenceOptions` (which sequences, how targets
are strided, how samples are augmented), written once here. Held-out frames come from unseen
sequences (:func:`select_sequences`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litedepth.data.augment import ColorJitter
from litedepth.data.folder import split_indices
from litedepth.data.video import STEREO, FrameId, SequenceDataset, temporal_targets
from litedepth.errors import ConfigError, DataError

__all__ = ["SequenceOptions", "SplitSequenceDataset", "select_sequences"]


@dataclass(frozen=True)
class SequenceOptions:
    """Options every dataset of named sequences shares (typed; defaults as below).

    Attributes:
        sequences: explicit sequence names (each must exist), overriding the split name.
        fractions, split_seed: the deterministic split of the sorted sequence names into
            ``train`` / ``val`` / ``test`` (:func:`litedepth.data.folder.split_indices`).
        frame_step: temporal id ``i`` is ``i * frame_step`` frames away (e.g. 3 to train at
            10 fps on 30 fps footage).
        target_stride: keep every n-th valid target.
        color_jitter, hflip_p, augment_on_device: augmentation, see
            :class:`~litedepth.data.video.SequenceDataset`.
    """

    sequences: Sequence[str] | None = None
    fractions: Sequence[float] = (0.8, 0.1, 0.1)
    split_seed: int = 42
    frame_step: int = 1
    target_stride: int = 1
    color_jitter: ColorJitter | None = None
    hflip_p: float = 0.0
    augment_on_device: bool = False

    @classmethod
    def of(cls, options: SequenceOptions | None = None, **values: Any) -> SequenceOptions:
        """``options`` (default: the defaults) with ``values`` replaced.

        Raises:
            ConfigError: a name that is not an option.
        """
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown sequence dataset option(s) {unknown}; options: "
                              f"{[f.name for f in dataclasses.fields(cls)]}")
        return dataclasses.replace(options or cls(), **values)


class SplitSequenceDataset(SequenceDataset):
    """Base of the datasets whose sequences are split by name (no stereo pairs).

    Args:
        root: the dataset folder.
        split: ``train`` / ``val`` / ``test`` / ``all`` (ignored when ``options.sequences``
            names the sequences).
        frame_ids, size: see :class:`~litedepth.data.video.SequenceDataset`; ``"s"`` is refused.
        options: the shared options.

    Subclasses list their sequence names, call :meth:`choose_sequences`, then fill
    :attr:`targets` from :meth:`target_positions`.
    """

    #: what the refusal of ``"s"`` calls the dataset's sequences
    sequences_are = "sequences"

    def __init__(
        self, root: str | Path, split: str, frame_ids: Sequence[FrameId], size: Sequence[int] | None,
        options: SequenceOptions,
    ) -> None:
        super().__init__(frame_ids, size, frame_step=options.frame_step, color_jitter=options.color_jitter,
                         hflip_p=options.hflip_p, augment_on_device=options.augment_on_device)
        if STEREO in self.frame_ids:
            raise ConfigError(f"{self.sequences_are} have no stereo camera; remove 's' from frame_ids")
        self.root = Path(root)
        self.split = split
        self.options = options

    def choose_sequences(self, names: Sequence[str]) -> list[str]:
        """The sequences of this dataset's split among ``names`` (:func:`select_sequences`)."""
        o = self.options
        return select_sequences(names, self.split, o.sequences, o.fractions, o.split_seed, self.root)

    def target_positions(self, n_frames: int) -> range:
        """Positions of the targets of a sequence of ``n_frames`` frames whose neighbours all exist."""
        return temporal_targets(n_frames, self.frame_ids, self.frame_step, self.options.target_stride)


def select_sequences(
    names: Sequence[str],
    split: str,
    sequences: Sequence[str] | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 42,
    source: str | Path | None = None,
) -> list[str]:
    """The sequences of a split, chosen by whole sequences (held-out frames come from unseen scenes).

    Args:
        names: all sequence names of the dataset.
        split: ``train`` / ``val`` / ``test`` / ``all``; ignored when ``sequences`` is given.
        sequences: explicit sequence names (each must exist).
        fractions, seed: deterministic split of the sorted names
            (:func:`litedepth.data.folder.split_indices`).
        source: dataset root, for messages.

    Raises:
        DataError: an unknown sequence name, or an empty split.
    """
    names = sorted(names)
    if sequences is not None:
        unknown = sorted(set(sequences) - set(names))
        if unknown:
            raise DataError(source, f"unknown sequence(s) {unknown}; available: {names[:20]}")
        chosen = sorted(dict.fromkeys(sequences))
    else:
        chosen = [names[i] for i in split_indices(len(names), split, fractions, seed)]
    if not chosen:
        raise DataError(
            source,
            f"split {split!r} holds no sequence ({len(names)} sequence(s) in total, split by whole "
            f"sequences with fractions {tuple(fractions)}); use split='all' or name the sequences",
        )
    return chosen
