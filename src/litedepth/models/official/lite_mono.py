"""Lite-Mono's published checkpoint layout: key conversion, loading and saving.

The official repository (noahzn/Lite-Mono) stores ``encoder.pth`` (encoder weights plus
``height``, ``width``, ``use_stereo``) and ``depth.pth`` (decoder). :func:`load_official_weights`
maps their keys onto :class:`litedepth.models.lite_mono.LiteMono` explicitly (rename rules
below, checked both ways), picks the dilation rates the file was trained with, and
:func:`save_official_weights` writes a network back in the same layout.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from torch import Tensor

from litedepth.errors import CheckpointError, ConfigError
from litedepth.models.lite_mono import VARIANTS, LiteMono
from litedepth.utils.atomic import atomic_torch_save
from litedepth.utils.torch_files import load_torch_file

logger = logging.getLogger("litedepth.models.lite_mono")

__all__ = ["convert_official_state_dict", "load_official_weights", "save_official_weights",
           "to_official_state_dicts"]


# --------------------------------------------------------------------------------------
# Published checkpoint layout
# --------------------------------------------------------------------------------------

#: ``(official, ours)`` key-prefix templates; ``{}`` matches a decimal index. A template
#: ending in "." renames a prefix, any other template must match the whole key.
_BLOCK_RENAMES = (
    ("ddwconv.conv.", "dwconv."),
    ("bn1.", "bn."),
    ("norm.", "norm."),
    ("pwconv1.", "mlp.fc1."),
    ("pwconv2.", "mlp.fc2."),
    ("gamma", "gamma"),
    ("pos_embd.token_projection.", "pos_enc.proj."),
    ("norm_xca.", "attn_norm."),
    ("gamma_xca", "attn_gamma"),
    ("xca.", "attn."),
)
_ENCODER_RENAMES = (
    ("downsample_layers.0.{}.conv.", "stem.{}.conv."),
    ("downsample_layers.0.{}.bn_gelu.bn.", "stem.{}.bn."),
    ("stem2.0.conv.", "downsample.0."),
    ("downsample_layers.1.0.conv.", "downsample.1."),
    ("downsample_layers.2.0.conv.", "downsample.2."),
    *((f"stages.{{}}.{{}}.{a}", f"stages.{{}}.{{}}.{b}") for a, b in _BLOCK_RENAMES),
)
# The published decoder is one flat ModuleList: upconv (2,0), (2,1), (1,0), (1,1), (0,0),
# (0,1), then the disparity convs of scales 0, 1, 2.
_DECODER_RENAMES = (
    *((f"decoder.{2 * (2 - i) + j}.conv.conv.", f"levels.{i}.{name}.")
      for i in range(3) for j, name in enumerate(("reduce", "fuse"))),
    *((f"decoder.{6 + s}.conv.", f"heads.{s}.") for s in range(3)),
)
#: Non-tensor entries the published trainer stores in ``encoder.pth``.
_ENCODER_METADATA = ("height", "width", "use_stereo")


def _compile(template: str) -> re.Pattern[str]:
    body = r"(\d+)".join(re.escape(part) for part in template.split("{}"))
    return re.compile(body + ("(.*)" if template.endswith(".") else "()") + r"\Z")


def _rename(key: str, rules: Sequence[tuple[str, str]], reverse: bool) -> str | None:
    for official, ours in rules:
        src, dst = (ours, official) if reverse else (official, ours)
        match = _compile(src).match(key)
        if match:
            *indices, rest = match.groups()
            return dst.format(*indices) + rest
    return None


def _rename_all(
    sd: Mapping[str, object], rules: Sequence[tuple[str, str]], reverse: bool, prefix: str,
    what: str,
) -> dict[str, Tensor]:
    out: dict[str, Tensor] = {}
    unknown = []
    for key, value in sd.items():
        if not reverse and key in _ENCODER_METADATA:
            continue
        new = _rename(key.removeprefix(prefix) if reverse else key, rules, reverse)
        if new is None or not isinstance(value, Tensor):
            unknown.append(key)
        else:
            out[new if reverse else prefix + new] = value
    if unknown:
        raise CheckpointError(f"{what}: {len(unknown)} keys are not part of the Lite-Mono "
                              f"layout, e.g. {unknown[:5]}")
    return out


def convert_official_state_dict(
    encoder_sd: Mapping[str, object],
    decoder_sd: Mapping[str, object],
    *,
    encoder_name: str = "encoder state dict",
    decoder_name: str = "decoder state dict",
) -> dict[str, Tensor]:
    """Rename published Lite-Mono state dicts to this module's keys.

    Args:
        encoder_sd: contents of the published ``encoder.pth`` (the ``height``, ``width`` and
            ``use_stereo`` entries are ignored).
        decoder_sd: contents of the published ``depth.pth``.
        encoder_name, decoder_name: names used in error messages (e.g. the file paths).

    Returns:
        A state dict for :class:`LiteMono` (keys ``encoder.*`` and ``decoder.*``); tensors are
        shared, not copied. Raises :class:`CheckpointError` naming unrecognised keys.
    """
    out = _rename_all(encoder_sd, _ENCODER_RENAMES, False, "encoder.", encoder_name)
    out.update(_rename_all(decoder_sd, _DECODER_RENAMES, False, "decoder.", decoder_name))
    return out


def to_official_state_dicts(model: LiteMono) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """Split ``model``'s state dict into the published ``(encoder, decoder)`` key layouts.

    The encoder dict holds tensors only; :func:`save_official_weights` adds the metadata.

    Raises:
        CheckpointError: the model uses seed-001 options (spatial attention, bins) whose
            parameters the published layout cannot hold.
    """
    extra = model.extra_state_keys() if isinstance(model, LiteMono) else []
    if extra or getattr(model.decoder, "bins", None) is not None:
        raise CheckpointError(
            f"{model.variant} with spatial attention or bins has parameters the published "
            f"encoder.pth/depth.pth layout cannot hold (e.g. {extra[:3]}); save "
            f"model.state_dict() with torch.save instead"
        )
    sd = model.state_dict()
    enc = {k: v for k, v in sd.items() if k.startswith("encoder.")}
    dec = {k: v for k, v in sd.items() if k.startswith("decoder.")}
    rest = sorted(set(sd) - set(enc) - set(dec))
    if rest:
        raise CheckpointError(f"model has keys outside encoder/decoder: {rest[:5]}")
    return (_rename_all(enc, _ENCODER_RENAMES, True, "encoder.", "encoder"),
            _rename_all(dec, _DECODER_RENAMES, True, "decoder.", "decoder"))


def _dilation_set(variant: str, height: int, width: int) -> tuple[tuple[int, ...], ...] | None:
    try:
        return VARIANTS[variant].dilations_for(height, width)
    except ConfigError:
        return None


def _file_keys(keys: list[str], part: str, rules: Sequence[tuple[str, str]]) -> list[str]:
    """Our keys renamed back to the published file's names, sorted (for error messages)."""
    return sorted(str(_rename(k.removeprefix(part), rules, reverse=True)) for k in keys)


def load_official_weights(model: LiteMono, folder: str | Path) -> LiteMono:
    """Load published ``encoder.pth`` + ``depth.pth`` from ``folder`` into ``model``.

    The files are read on the CPU with ``weights_only=True``. The variant must match the
    files; if ``encoder.pth`` records a training size whose dilation rates differ from the
    model's (e.g. 1024x320 weights in a 640x192 ``lite-mono``), loading fails with a hint.

    A model built with seed-001 options also loads: the spatial-attention and bins-head
    parameters (absent from the files) keep their initialisation, and with ``bins`` the
    file's finest-scale sigmoid head is not used; both are logged at INFO level.

    Raises:
        CheckpointError: a file is missing or unreadable, or keys / shapes do not match
            (the message names the file and the first offending keys).

    Returns:
        ``model`` (loaded in place).
    """
    folder = Path(folder)
    enc_path, dec_path = folder / "encoder.pth", folder / "depth.pth"
    loaded = []
    for path in (enc_path, dec_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: file not found (expected the published Lite-Mono "
                                  f"encoder.pth and depth.pth)")
        loaded.append(load_torch_file(path, "weights file"))
    enc_sd, dec_sd = loaded

    h, w = enc_sd.get("height"), enc_sd.get("width")
    if isinstance(h, int) and isinstance(w, int):
        file_rates = _dilation_set(model.variant, h, w)
        if file_rates is not None and file_rates != model.encoder.dilations:
            raise CheckpointError(
                f"{enc_path}: trained at {w}x{h}, whose dilation rates differ from this "
                f"model's ({model.width}x{model.height}); build it with height={h}, width={w}"
            )

    sd = convert_official_state_dict(enc_sd, dec_sd, encoder_name=str(enc_path),
                                     decoder_name=str(dec_path))
    own = model.state_dict()
    extra = set(model.extra_state_keys())
    if extra:
        own = {k: v for k, v in own.items() if k not in extra}
    if model.decoder.bins is not None:
        skipped = sorted(k for k in sd if k.startswith("decoder.heads.0."))
        sd = {k: v for k, v in sd.items() if k not in skipped}
        logger.info("%s: bins head replaces the finest sigmoid head; file entries %s not used",
                    dec_path, _file_keys(skipped, "decoder.", _DECODER_RENAMES))
    for path, part, rules in ((enc_path, "encoder.", _ENCODER_RENAMES),
                              (dec_path, "decoder.", _DECODER_RENAMES)):
        missing = _file_keys([k for k in own if k.startswith(part) and k not in sd], part, rules)
        unexpected = _file_keys([k for k in sd if k.startswith(part) and k not in own], part,
                                rules)
        wrong = _file_keys([k for k in sd if k.startswith(part) and k in own
                            and sd[k].shape != own[k].shape], part, rules)
        problems = [f"{label} {keys[:5]}" for label, keys in
                    (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong))
                    if keys]
        if problems:
            raise CheckpointError(f"{path}: does not fit {model.variant} "
                                  f"({'; '.join(problems)}); is it another Lite-Mono variant?")
    result = model.load_state_dict(sd, strict=not extra)
    if extra:
        left = sorted(result.missing_keys)
        if set(left) != extra or result.unexpected_keys:  # pragma: no cover - checked above
            raise CheckpointError(f"{folder}: unexpected key mismatch {left[:5]}")
        logger.info("%s: parameters not in the published files keep their initialisation: %s",
                    model.variant, left)
    logger.info("loaded %s weights from %s (trained at %sx%s)", model.variant, folder, w, h)
    return model


def save_official_weights(
    model: LiteMono,
    folder: str | Path,
    height: int | None = None,
    width: int | None = None,
    *,
    use_stereo: bool = False,
) -> tuple[Path, Path]:
    """Write ``model`` as published-layout ``encoder.pth`` + ``depth.pth`` into ``folder``.

    Args:
        model: the network.
        folder: destination folder (created).
        height, width: training size stored in ``encoder.pth`` (the published scripts read it
            to pick dilation rates and the inference resolution); defaults to the model's.
        use_stereo: stored in ``encoder.pth`` as the published trainer does.

    Returns:
        The paths of ``encoder.pth`` and ``depth.pth`` (each written atomically).
    """
    height = model.height if height is None else height
    width = model.width if width is None else width
    if _dilation_set(model.variant, height, width) != model.encoder.dilations:
        raise ConfigError(f"{model.variant} built for {model.width}x{model.height} cannot be "
                          f"saved as trained at {width}x{height}: the dilation rates differ")
    enc_sd, dec_sd = to_official_state_dicts(model)
    enc_file: dict[str, object] = {k: v.detach().cpu().clone() for k, v in enc_sd.items()}
    enc_file.update(height=int(height), width=int(width), use_stereo=bool(use_stereo))
    dec_file = {k: v.detach().cpu().clone() for k, v in dec_sd.items()}
    folder = Path(folder)
    paths = (folder / "encoder.pth", folder / "depth.pth")
    atomic_torch_save(enc_file, paths[0])
    atomic_torch_save(dec_file, paths[1])
    logger.info("saved %s weights in the published layout to %s", model.variant, folder)
    return paths
