"""Reading PyTorch files a user hands us (checkpoints, weights) safely, with one-line errors.

Every such file is read with ``torch.load(..., weights_only=True)``: tensors and plain data
only, never arbitrary objects (unpickling those could run code from the file). What goes
wrong is said in one line naming the file:

* an empty file (0 bytes: an interrupted copy or download);
* a truncated or corrupt ``torch.save`` zip archive;
* a file that holds Python objects beyond weights (refused, not unpickled);
* a file that is not a PyTorch file at all.

Files in the legacy (pre-1.6, non-zip) ``torch.save`` format are read normally; memory
mapping, which only the zip format supports, is then simply not used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litedepth.errors import CheckpointError

__all__ = ["load_torch_file"]

_ZIP_MAGIC = b"PK\x03\x04"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line.split(". ")[0][:200]  # the first sentence: torch's advice that follows is not ours


def load_torch_file(path: str | Path, what: str = "checkpoint", *, mmap: bool = False) -> Any:
    """``torch.load(path, map_location="cpu", weights_only=True)`` with one-line errors.

    Args:
        path: the file.
        what: what the file should be, for messages (``"checkpoint"``, ``"weights file"``...).
        mmap: map the file instead of reading it (zip-format files; ignored for legacy files).

    Returns:
        what ``torch.load`` returns (usually a dict of tensors / a Lightning checkpoint dict).

    Raises:
        CheckpointError: missing, empty, truncated, refused (objects beyond weights) or not
            a PyTorch file; the message names ``path``.
    """
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} not found" if not path.exists() else f"{path}: not a file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if not head:
        raise CheckpointError(f"{path}: cannot read the {what}: empty file (0 bytes); an interrupted copy or "
                              "download?")
    is_zip = head == _ZIP_MAGIC
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and is_zip)
    except pickle.UnpicklingError as exc:
        reason = _unpickler_reason(exc)
        if reason.startswith("Unsupported global"):
            raise CheckpointError(
                f"{path}: refused: the {what} holds Python objects besides weights ({reason.split(' was not')[0]}), "
                "and loading those could run code from the file (litedepth reads tensors and plain data only, "
                "torch.load weights_only=True)"
            ) from None
        raise CheckpointError(f"{path}: cannot read the {what}: not a PyTorch file ({reason})") from None
    except Exception as exc:  # noqa: BLE001 - anything else is a damaged or foreign file
        if is_zip:
            raise CheckpointError(f"{path}: cannot read the {what}: truncated or corrupt (incomplete torch.save zip "
                                  f"archive: {_first_line(exc)})") from None
        raise CheckpointError(f"{path}: cannot read the {what}: not a PyTorch file (neither a torch.save archive "
                              f"nor a legacy torch.save pickle: {type(exc).__name__}: {_first_line(exc)})") from None


def _unpickler_reason(exc: BaseException) -> str:
    """The reason torch's weights-only unpickler gives, without its advice around it."""
    text = str(exc)
    marker = "WeightsUnpickler error:"
    if marker in text:
        rest = [ln.strip() for ln in text.split(marker, 1)[1].splitlines() if ln.strip()]
        if rest:
            return rest[0].split(". ")[0][:200]
    return _first_line(exc)
