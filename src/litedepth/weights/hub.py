"""Local copies of Hugging Face Hub repositories, with errors that say how to get them offline.

One function, :func:`snapshot_folder`, turns a Hub repository id into a local folder through
``huggingface_hub.snapshot_download`` (the Hub's own cache, ``$HF_HUB_CACHE``, shared with
``transformers``), downloading only the files named by ``allow_patterns``. With
``HF_HUB_OFFLINE=1`` nothing is downloaded: a repository already in the cache is used, and one
that is not raises a :class:`~litedepth.errors.CheckpointError` naming the repository, the files
to fetch and the ``hf download`` command to run on a connected machine.

Example:
    >>> folder, commit = snapshot_folder("depth-anything/Depth-Anything-V2-Small-hf",
    ...                                  allow_patterns=["*.json", "*.safetensors"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

from litedepth.errors import CheckpointError, ConfigError

log = logging.getLogger(__name__)

__all__ = ["check_repo_id", "hub_offline", "snapshot_folder", "split_revision"]


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` (or ``TRANSFORMERS_OFFLINE``) forbids downloads."""
    from huggingface_hub import constants

    env = (os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or "").strip().upper()
    return bool(constants.HF_HUB_OFFLINE) or env in ("1", "ON", "YES", "TRUE")


def split_revision(text: str) -> tuple[str, str | None]:
    """``"owner/name@rev"`` -> ``("owner/name", "rev")``; without ``@``: ``(text, None)``."""
    repo, sep, rev = text.partition("@")
    return (repo, rev or None) if sep else (text, None)


def check_repo_id(repo_id: str, where: str) -> str:
    """A Hub repository id (``owner/name`` or ``name``), checked by ``huggingface_hub``.

    Raises:
        ConfigError: naming ``where`` and the id.
    """
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as exc:
        first = (str(exc).splitlines() or [""])[0]
        raise ConfigError(f"{where}: {repo_id!r} is not a Hugging Face repository id (owner/name): {first}") from None
    return repo_id


def snapshot_folder(repo_id: str, revision: str | None = None, *, allow_patterns: Sequence[str],
                    what: str = "model", where: str | None = None) -> tuple[Path, str | None]:
    """The local folder of ``repo_id`` at ``revision`` (downloaded into the Hub cache if needed).

    Args:
        repo_id: ``owner/name``.
        revision: branch, tag or commit (default: the repository's default branch).
        allow_patterns: the files to fetch (glob patterns, e.g. ``["config.json", "*.safetensors"]``).
        what: what the repository holds, for messages (``"model"``, ``"litedepth network"``).
        where: how the user named it (e.g. ``"hf:owner/name"``), for messages.

    Returns:
        ``(folder, commit)``: the snapshot folder and its commit hash (``None`` when unknown).

    Raises:
        CheckpointError: offline and not cached, the Hub unreachable, no such repository or
            revision; one line naming what to download and how.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    name = where or repo_id
    ref = f"{repo_id}@{revision}" if revision else repo_id
    subject = what if name in (repo_id, ref) else f"{what} {ref}"  # the id is said once
    files = ", ".join(allow_patterns)
    by_hand = (f"on a machine with internet run `hf download {repo_id}"
               + (f" --revision {revision}" if revision else "")
               + "` and copy its Hugging Face cache (~/.cache/huggingface/hub, or $HF_HUB_CACHE) here, or download "
               f"the repository's files ({files}) into a folder and pass that folder instead")
    try:
        folder = Path(snapshot_download(repo_id, revision=revision, allow_patterns=list(allow_patterns),
                                        library_name="litedepth"))
    except (LocalEntryNotFoundError, OfflineModeIsEnabled):
        if hub_offline():
            raise CheckpointError(f"{name}: {subject} is not in the local Hugging Face cache, and HF_HUB_OFFLINE=1 "
                                  f"forbids downloading it: {by_hand}") from None
        raise CheckpointError(f"{name}: cannot reach the Hugging Face Hub, and the {subject} is not in the local "
                              f"cache: {by_hand}") from None
    except GatedRepoError:
        raise CheckpointError(f"{name}: {repo_id} is a gated repository: accept its terms on huggingface.co and "
                              "log in (`hf auth login`), then run again") from None
    except RepositoryNotFoundError:
        raise CheckpointError(f"{name}: no Hugging Face repository {repo_id} (or it is private: log in with "
                              "`hf auth login`)") from None
    except RevisionNotFoundError:
        raise CheckpointError(f"{name}: repository {repo_id} has no revision {revision!r}") from None
    except (HfHubHTTPError, OSError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise CheckpointError(f"{name}: cannot download {ref} from the Hugging Face Hub ({first}); {by_hand}") from None
    commit = folder.name if folder.parent.name == "snapshots" else None
    log.info("%s: %s at %s", name, ref, folder)
    return folder, commit
