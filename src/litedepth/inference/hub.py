"""litedepth networks in the Hugging Face Hub format: ``save_pretrained``, ``from_pretrained``, ``push_to_hub``.

A saved network is a folder with the files of ``huggingface_hub``'s ``PyTorchModelHubMixin``
convention::

    config.json        what a reader needs, without guessing (below)
    model.safetensors  the network's state dict (safetensors; shared tensors stored once)
    README.md          model card: YAML front matter (library_name: litedepth, pipeline_tag:
                       depth-estimation, license, tags, model-index with the evaluation
                       metrics when given), what the output means, how to load it, the weights'
                       provenance, and a loud warning when the weights are untrained

``config.json``::

    {"library": "litedepth", "format": 1, "litedepth_version": "0.1.0",
     "network": "lite-mono", "network_options": {...}, "task": "depth",
     "output_spec": {...},                  # OutputSpec.to_dict(), as trained
     "input_size": [192, 640],              # (height, width) it was trained at
     "training_depth_encoding": "tum",      # encoding of the training data's depth files, or null
     "class_names": null,
     "weights": {"trained": true, "origin": "checkpoint", "source": "...", "sha256": "..."},
     "files": {"model.safetensors": "<sha256>"}}

``weights`` is where the saved weights came from (a checkpoint, official files, random
initialisation: ``trained: false``); ``files`` lets a reader check that the weights file is
the one the config describes.

Reading: :func:`from_pretrained` takes a local folder or a Hub id (``owner/name``, optionally
``@revision``), fetched with ``huggingface_hub.snapshot_download`` into the Hub cache; with
``HF_HUB_OFFLINE=1`` only the cache is read, and a missing repository is an error naming the
``hf download`` command to run elsewhere. :func:`litedepth.inference.load_model` (so every
command) accepts such a folder (recognised by its ``config.json``) and ``hub:owner/name``.
Writing to the Hub: :func:`push_to_hub` saves into a temporary folder and uploads it with
``HfApi.create_repo`` + ``HfApi.upload_folder``.

Example:
    >>> from litedepth.inference import load_model
    >>> from litedepth.inference.hub import save_pretrained, from_pretrained
    >>> loaded = load_model("runs/x/checkpoints/best.ckpt")  # doctest: +SKIP
    >>> save_pretrained(loaded, "lite-mono-nyu", license="apache-2.0")  # doctest: +SKIP
    >>> from_pretrained("lite-mono-nyu").spec.describe()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from litedepth.errors import CheckpointError, ConfigError, DataError
from litedepth.inference.hub_card import CARD_NAME, LIBRARY, model_card, read_reports
from litedepth.inference.loading import LoadedModel, sha256_of
from litedepth.models.registry import create_model, list_models, model_info
from litedepth.models.spec import OutputSpec, WeightsInfo

log = logging.getLogger(__name__)

__all__ = ["CONFIG_NAME", "HUB_PREFIX", "WEIGHTS_NAME", "from_pretrained", "is_litedepth_folder", "model_card",
           "push_to_hub", "save_pretrained"]

#: prefix of a litedepth network on the Hub in :func:`litedepth.inference.load_model` sources
HUB_PREFIX = "hub:"
CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
HUB_FORMAT = 1
#: network options that name files used only to initialise training (the saved weights replace them)
INIT_ONLY_OPTIONS = ("weights", "pretrained_path", "encoder_weights")


def _read_config(folder: Path) -> dict[str, Any]:
    path = folder / CONFIG_NAME
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(folder, f"no {CONFIG_NAME}: not a litedepth network saved with save_pretrained") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable ({exc})") from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a JSON object")
    return data


def is_litedepth_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder saved by :func:`save_pretrained` (its ``config.json`` says
    ``"library": "litedepth"``)."""
    folder = Path(path)
    if not (folder / CONFIG_NAME).is_file():
        return False
    try:
        return _read_config(folder).get("library") == LIBRARY
    except (DataError, CheckpointError):
        return False


# ------------------------------------------------------------------------------ saving


def _describe_network(model: LoadedModel | nn.Module, input_size: Sequence[int] | None,
                      depth_encoding: str | float | None) -> tuple[nn.Module, dict[str, Any]]:
    """``(network, config.json content without files)`` of what is being saved."""
    from litedepth import __version__

    if isinstance(model, LoadedModel):
        net, name, spec, weights = model.net, model.name, model.spec, model.weights
        size = input_size or model.input_size
        task, class_names = model.task, model.class_names
        encoding = depth_encoding if depth_encoding is not None else model.depth_encoding
        options = getattr(net, "model_config", None)
        options = dict(model.options if options is None else options)
    elif isinstance(model, nn.Module):
        net = model
        name = getattr(net, "model_name", None)
        spec = getattr(net, "output_spec", None)
        weights = getattr(net, "weights_info", None) or WeightsInfo(True, "module")
        if name is None or spec is None:
            raise ConfigError(f"{type(net).__name__}: save_pretrained needs a network built by litedepth (create_model "
                              "or load_model), which records its registered name and output spec")
        info = model_info(name) if name in list_models() else None
        size = input_size or (info.default_size if info else None)
        task, class_names, encoding = (info.task if info else "depth"), None, depth_encoding
        options = dict(getattr(net, "model_config", None) or {})
    else:
        raise ConfigError(f"save_pretrained takes a LoadedModel or a network, got {type(model).__name__}")
    if getattr(net, "own_preprocessing", False):
        raise ConfigError(f"{name} is a transformers model: it is already in the Hugging Face format (save it with "
                          "its own save_pretrained; load it here with hf:FOLDER)")
    if name not in list_models():
        raise ConfigError(f"{name}: only registered litedepth networks can be saved in the Hub format "
                          f"(an ONNX file or another module cannot be rebuilt from a config)")
    if not isinstance(spec, OutputSpec):
        raise ConfigError(f"{name}: no output spec to record")
    if size is None:
        raise ConfigError(f"{name}: give input_size (height, width)")
    options = {k: v for k, v in options.items() if k not in INIT_ONLY_OPTIONS}
    try:
        json.dumps(options)
    except TypeError as exc:
        raise ConfigError(f"{name}: network options {sorted(options)} are not JSON-serialisable ({exc})") from None
    config = {
        "library": LIBRARY, "format": HUB_FORMAT, "litedepth_version": __version__,
        "network": name, "network_options": options, "task": task,
        "output_spec": spec.to_dict(), "input_size": [int(size[0]), int(size[1])],
        "training_depth_encoding": encoding, "class_names": list(class_names) if class_names else None,
        "weights": weights.to_dict(),
    }
    return net, config


def _check_rebuild(net: nn.Module, config: dict[str, Any]) -> None:
    """The config must rebuild a network whose state dict has the saved keys and shapes."""
    probe = create_model(config["network"], **config["network_options"])
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    if want != have:
        missing = sorted(set(want) - set(have))[:3]
        extra = sorted(set(have) - set(want))[:3]
        shapes = [k for k in set(want) & set(have) if want[k] != have[k]][:3]
        raise ConfigError(f"{config['network']} with options {config['network_options']} does not rebuild this "
                          f"network (missing {missing}, unexpected {extra}, other shapes {shapes}); nothing written")


def save_pretrained(model: LoadedModel | nn.Module, folder: str | Path, *, evaluation: Any = None,
                    license: str | None = None, model_id: str | None = None,  # noqa: A002
                    input_size: Sequence[int] | None = None, depth_encoding: str | float | None = None,
                    description: str | None = None) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` of a litedepth network.

    Args:
        model: a :class:`LoadedModel` (from :func:`litedepth.inference.load_model`: a
            checkpoint, official weights, a published name...) or a network built by
            :func:`litedepth.models.create_model` (its ``weights_info`` says whether it is
            trained).
        folder: destination folder (created; files in it are replaced atomically).
        evaluation: evaluation report(s) for the model card (see :func:`model_card`).
        license: licence identifier for the card (e.g. ``"apache-2.0"``).
        model_id: the Hub id the folder is meant for (used in the card's examples).
        input_size: ``(height, width)`` the network was trained at, if the model does not
            record it.
        depth_encoding: the training data's depth encoding, if the model does not record it.
        description: a paragraph for the card.

    Returns:
        The folder.

    Raises:
        ConfigError: a transformers model, an ONNX file or a module that is not a registered
            litedepth network; options that do not rebuild the network.
    """
    from safetensors.torch import save_model

    from litedepth.utils.atomic import atomic_open, atomic_path, make_dirs

    net, config = _describe_network(model, input_size, depth_encoding)
    _check_rebuild(net, config)
    evaluation = read_reports(evaluation)  # read once; an unreadable report fails before anything is written
    created = not Path(folder).exists()
    folder = make_dirs(folder)
    # the weights replace model.safetensors (with a plain open()'s permissions) when the block
    # ends: everything is ready before any file is replaced
    try:
        with atomic_path(folder / WEIGHTS_NAME, suffix=".safetensors.tmp") as tmp:
            # one metadata entry: safetensors writes a metadata map in a random order per call, so
            # a second entry made the same weights give files with different digests (config.json
            # names the network)
            save_model(net, str(tmp), metadata={"format": "pt"})
            config["files"] = {WEIGHTS_NAME: sha256_of(tmp)}
            card = model_card(config, evaluation=evaluation, license=license, model_id=model_id,
                              description=description)
    except BaseException:
        if created:  # e.g. a report refused by the card: leave no empty folder behind
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    with atomic_open(folder / CONFIG_NAME, "w") as f:
        f.write(json.dumps(config, indent=2) + "\n")
    with atomic_open(folder / CARD_NAME, "w") as f:
        f.write(card)
    if not config["weights"]["trained"]:
        log.warning("%s: saved %s with UNTRAINED (random) weights; the model card says so", folder, config["network"])
    return folder


# ------------------------------------------------------------------------------ loading


def from_pretrained(repo_id_or_folder: str | Path, *, revision: str | None = None, network: str | None = None,
                    **options: Any) -> LoadedModel:
    """Load a litedepth network saved by :func:`save_pretrained` (local folder or Hub id).

    Args:
        repo_id_or_folder: a folder, or ``owner/name`` (``@revision`` allowed) on the Hub;
            a ``hub:`` prefix is accepted.
        revision: Hub branch, tag or commit.
        network: if given, the folder must hold this registered network.

    Returns:
        A :class:`LoadedModel` (CPU, eval mode) with the recorded output spec, input size,
        training depth encoding, and :class:`WeightsInfo` ``origin="hub"`` whose ``trained``
        is the recorded one and ``sha256`` that of ``model.safetensors``.

    Raises:
        DataError: a folder without ``config.json``.
        CheckpointError: a config of another library or format, weights that do not fit or
            do not match the recorded sha256, a Hub repository that cannot be fetched (offline:
            what to download).
        ConfigError: another network than ``network``; unknown options.
    """
    from safetensors.torch import load_model as load_safetensors

    from litedepth.weights.hub import check_repo_id, snapshot_folder, split_revision

    if options:
        raise ConfigError(f"{repo_id_or_folder}: options {sorted(options)} do not apply to a saved litedepth network "
                          "(its config.json decides the architecture)")
    text = str(repo_id_or_folder)
    text = text[len(HUB_PREFIX):] if text.startswith(HUB_PREFIX) else text
    folder = Path(text).expanduser()
    if folder.is_dir():
        source = str(folder)
    elif folder.exists():
        raise DataError(folder, "a saved litedepth network is a folder (config.json + model.safetensors)")
    else:
        repo_id, at = split_revision(text)
        revision = revision or at
        check_repo_id(repo_id, f"{HUB_PREFIX}{text}")
        folder, commit = snapshot_folder(repo_id, revision, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME],
                                         what="litedepth network", where=f"{HUB_PREFIX}{text}")
        source = f"{repo_id}@{commit or revision or 'main'}"
    config = _read_config(folder)
    where = str(folder / CONFIG_NAME)
    if config.get("library") != LIBRARY:
        raise CheckpointError(f"{where}: not a litedepth network (library {config.get('library')!r}); a transformers "
                              f"depth model loads as hf:{text}")
    if config.get("format") != HUB_FORMAT:
        raise CheckpointError(f"{where}: format {config.get('format')!r} is not supported (this litedepth reads format "
                              f"{HUB_FORMAT}); upgrade litedepth")
    name = config.get("network")
    if name not in list_models():
        raise CheckpointError(f"{where}: network {name!r} is not registered in this litedepth")
    if network is not None and network != name:
        raise ConfigError(f"{folder}: holds network {name!r}, not {network!r}")
    weights_file = folder / WEIGHTS_NAME
    if not weights_file.is_file():
        raise DataError(folder, f"no {WEIGHTS_NAME} beside config.json")
    digest = sha256_of(weights_file)
    recorded = (config.get("files") or {}).get(WEIGHTS_NAME)
    if recorded is not None and recorded != digest:
        raise CheckpointError(f"{weights_file}: sha256 {digest} differs from the {recorded} recorded in config.json "
                              "(a corrupted or replaced weights file)")
    spec = OutputSpec.from_dict(config.get("output_spec"), where)
    options_ = dict(config.get("network_options") or {})
    try:
        net = create_model(name, **options_)
    except ConfigError as exc:
        raise CheckpointError(f"{where}: {exc}") from None
    try:
        load_safetensors(net, str(weights_file), strict=True, device="cpu")
    except Exception as exc:  # noqa: BLE001 - a file that does not fit is the user's file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise CheckpointError(f"{weights_file}: weights do not fit {name!r} ({first})") from None
    provenance = WeightsInfo.from_dict(config.get("weights") or {})
    weights = WeightsInfo(provenance.trained, "hub", source, digest)
    net.output_spec = spec  # type: ignore[attr-defined]  # as trained
    net.weights_info = weights  # type: ignore[attr-defined]
    size = config.get("input_size") or model_info(name).default_size
    task = config.get("task") or model_info(name).task
    log.info("%s: %s (%s), weights from %s%s", source, name, spec.describe(), provenance.origin,
             f" {provenance.source}" if provenance.source else "")
    return LoadedModel(net.eval(), name, spec, (int(size[0]), int(size[1])), weights, task,
                       config.get("class_names"), config.get("training_depth_encoding"), options_)


# ------------------------------------------------------------------------------ pushing


def push_to_hub(model: LoadedModel | nn.Module | str | Path, repo_id: str, *, private: bool | None = None,
                token: str | None = None, commit_message: str | None = None, revision: str | None = None,
                create_pr: bool = False, api: Any = None, **card: Any) -> str:
    """Save a network (or upload a folder saved by :func:`save_pretrained`) to the Hub.

    Args:
        model: a :class:`LoadedModel`, a network, or the path of a saved folder.
        repo_id: ``owner/name`` (created if missing).
        private: create the repository as private.
        token: Hub token (default: the logged-in user's).
        commit_message: default ``"Upload <network> with litedepth"``.
        revision, create_pr: the branch to push to; open a pull request instead.
        api: an ``huggingface_hub.HfApi`` (default ``HfApi(token=token)``).
        card: :func:`save_pretrained` options (``evaluation``, ``license``, ``description``...).

    Returns:
        The URL of the commit (or of the pull request).

    Raises:
        ConfigError: a bad repository id, or ``HF_HUB_OFFLINE=1``.
        CheckpointError: the Hub refused the upload (one line).
    """
    from huggingface_hub.errors import HfHubHTTPError

    from litedepth.weights.hub import check_repo_id, hub_offline

    check_repo_id(repo_id, "push_to_hub")
    if hub_offline():
        raise ConfigError(f"push_to_hub {repo_id}: HF_HUB_OFFLINE=1 forbids uploads; unset it (and log in with "
                          "`hf auth login`) to push")
    if api is None:
        from huggingface_hub import HfApi

        api = HfApi(token=token)
    with tempfile.TemporaryDirectory(prefix="litedepth-hub-") as tmp:
        if isinstance(model, (str, Path)):
            folder = Path(model)
            if not is_litedepth_folder(folder):
                raise DataError(folder, "not a folder saved by save_pretrained (config.json of litedepth)")
            if card:
                raise ConfigError("card options apply when saving a network, not when uploading a saved folder")
        else:
            folder = save_pretrained(model, tmp, model_id=repo_id, **card)
        name = _read_config(folder)["network"]
        try:
            api.create_repo(repo_id=repo_id, private=private, exist_ok=True, repo_type="model")
            info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model",
                                     commit_message=commit_message or f"Upload {name} with litedepth",
                                     revision=revision, create_pr=create_pr,
                                     allow_patterns=[CONFIG_NAME, WEIGHTS_NAME, CARD_NAME])
        except HfHubHTTPError as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            raise CheckpointError(f"push_to_hub {repo_id}: the Hub refused the upload ({first})") from None
    url = getattr(info, "pr_url", None) or getattr(info, "commit_url", None) or str(info)
    log.info("pushed %s to %s: %s", name, repo_id, url)
    return str(url)
