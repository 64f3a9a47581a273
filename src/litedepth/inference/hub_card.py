"""The model card (README.md) of a litedepth network saved in the Hugging Face format.

An evaluation report given for the card (``litedepth evaluate --output`` JSON) is checked to be
of the weights being saved before its numbers are copied: the report's ``options.model`` block
(written by ``evaluate --checkpoint`` and by ``evaluate --predictions`` from the run's
``predictions.json``) names the network and the sha256 of the weights it evaluated. A report of
another network, or of other weights (another checkpoint, an fp16 / int8 ONNX file), is refused;
a report of untrained weights is refused for trained ones, and so is one evaluated with
``--force`` past the predictions' recorded meaning or on the checkpoint's own training images; a
report that records no weights is shown with a warning, marked as not checked, and left out of
the machine-readable model-index.

The card's model-index names what the report names: the protocol (``kitti-eigen``, ``nyu``,
``none``) as the dataset configuration, the ground-truth (or ``--data``) folder as the dataset
name (type ``custom``: a report does not say which published dataset it was), and the split
file or data split when one was used.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litedepth.errors import DataError
from litedepth.models.spec import OutputSpec, WeightsInfo

log = logging.getLogger(__name__)

__all__ = ["CARD_METRICS", "CARD_NAME", "Report", "model_card", "read_reports", "report_dataset"]

CARD_NAME = "README.md"
#: the ``library`` of a saved folder's config.json and the card's ``library_name``
LIBRARY = "litedepth"
#: metrics of an evaluation report, in the card's order, with their direction
CARD_METRICS = (("abs_rel", "lower"), ("sq_rel", "lower"), ("rmse", "lower"), ("rmse_log", "lower"),
                ("log10", "lower"), ("silog", "lower"), ("a1", "higher"), ("a2", "higher"), ("a3", "higher"))


@dataclass(frozen=True)
class Report:
    """An evaluation report read for a card: ``data`` (the ``litedepth evaluate --output``
    JSON as a dict) and ``label`` (its file, or ``evaluation report N``) for messages."""

    label: str
    data: dict[str, Any]


def read_reports(evaluation: Any) -> list[Report]:
    """Evaluation reports (``litedepth evaluate --output`` JSON, its path, an ``EvalResult``, a
    :class:`Report` already read, or a list of them), each read once.

    Raises:
        DataError: a missing or unreadable file, or a report without ``metrics``.
    """
    if evaluation is None:
        return []
    items = list(evaluation) if isinstance(evaluation, (list, tuple)) else [evaluation]
    out = []
    for i, item in enumerate(items, 1):
        if isinstance(item, Report):
            out.append(item)
            continue
        label = f"evaluation report {i}"
        if isinstance(item, (str, Path)):
            label = str(item)
            try:
                item = json.loads(Path(item).read_text())
            except FileNotFoundError:
                raise DataError(label, "evaluation report not found") from None
            except (OSError, ValueError) as exc:
                raise DataError(label, f"not a readable evaluation report ({exc})") from None
        elif hasattr(item, "to_dict") and not isinstance(item, dict):
            item = item.to_dict()
        if not isinstance(item, dict) or not isinstance(item.get("metrics"), dict):
            raise DataError(label, "an evaluation report must hold 'metrics' (the JSON of litedepth evaluate --output)")
        out.append(Report(label, item))
    return out


def _digests(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {v for v in value.values() if isinstance(v, str)}
    return set()


def _check_report(label: str, report: dict[str, Any], config: dict[str, Any]) -> bool:
    """Whether ``report`` is known to evaluate the weights of ``config`` (False: it records no
    weights). Raises DataError when it evaluates another network or other weights."""
    opts = report.get("options") or {}
    if opts.get("forced"):
        raise DataError(label, f"was evaluated with --force past the predictions' recorded meaning "
                               f"({'; '.join(map(str, opts['forced']))}): its metrics do not describe this model")
    overlap = opts.get("training_overlap")
    if isinstance(overlap, dict) and overlap.get("images"):
        raise DataError(label, f"{overlap['images']} of its {overlap.get('of', '?')} images were training images of "
                               "the checkpoint: a model card publishes held-out metrics (evaluate the split it was "
                               "not trained on: the same --split-seed as training)")
    model = opts.get("model")
    if not isinstance(model, dict):
        log.warning("%s records no model: its metrics go into the model card unchecked (the card says so)", label)
        return False
    if model.get("name") not in (None, config["network"]):
        raise DataError(label, f"evaluates network {model.get('name')!r}, not the {config['network']!r} being "
                               "saved: its metrics would describe another model")
    weights = model.get("weights") if isinstance(model.get("weights"), dict) else {}
    saved = config.get("weights") or {}
    source = saved.get("source") or "the network being saved"
    redo = f"evaluate {source}, or the predictions of the saved folder"
    if weights.get("trained") is False and saved.get("trained"):
        raise DataError(label, f"evaluates {weights.get('origin') or 'untrained'} (untrained) weights, not the "
                               f"trained weights being saved: {redo}")
    theirs = _digests(weights.get("sha256"))
    if not theirs:
        log.warning("%s records no weights digest: its metrics go into the model card unchecked (the card "
                    "says so)", label)
        return False
    # the whole set must match: official-weight folders record one digest per file, and two
    # folders may share a file
    mine = _digests(saved.get("sha256"))
    if theirs not in (mine, _digests(config.get("files"))):
        where = " ".join(str(x) for x in (weights.get("origin"), weights.get("source")) if x)
        raise DataError(label, f"evaluates other weights (sha256 {', '.join(sorted(theirs))[:16]}..."
                               + (f", {where}" if where else "") + ") than the ones being saved ("
                               + (f"sha256 {', '.join(sorted(mine))[:16]}..., " if mine else "")
                               + f"{source}): {redo}")
    return True


def report_dataset(report: dict[str, Any]) -> dict[str, str | None]:
    """``type``, ``name``, ``config`` (the protocol) and ``split`` of the data a report
    evaluated, as the card's model-index names them.

    ``type`` is ``"custom"``: a protocol (``kitti-eigen``, ``nyu``) is a crop and depth-range
    convention, not a claim about which dataset was used. ``name`` is the ground-truth (or
    ``--data``) path's last two parts, e.g. ``nyu_test/depth`` (``None`` when not recorded).
    """
    opts = report.get("options") or {}
    protocol = str(report.get("protocol") or "unknown")
    folder = opts.get("ground_truth") or opts.get("data")
    split = opts.get("split")
    split = Path(str(split)).stem if split else opts.get("data_split")
    name = "/".join(Path(str(folder)).parts[-2:]) if folder else None
    return {"type": "custom", "name": name, "config": protocol, "split": None if split is None else str(split)}


def _protocol_line(report: dict[str, Any], checked: bool) -> str:
    opts = report.get("options") or {}
    data = report_dataset(report)
    parts = [f"protocol {data['config']}", f"data {data['name'] or 'not recorded'}"]
    if data["split"]:
        parts.append(f"split {data['split']}")
    if opts.get("data_split_seed") is not None:
        parts.append(f"split seed {opts['data_split_seed']}")
    parts.append(f"{report.get('count', '?')} images")
    encoding = opts.get("gt_encoding") or opts.get("depth_encoding")
    if isinstance(encoding, dict) and encoding.get("name"):
        parts.append(f"ground-truth encoding {encoding['name']}")
    for key, label in (("pred_kind", "predictions"), ("scaling", "scaling"), ("min_depth", "min depth (m)"),
                       ("max_depth", "max depth (m)"), ("crop", "crop")):
        if opts.get(key) is not None:
            parts.append(f"{label} {opts[key]}")
    model = opts.get("model")
    weights = model.get("weights") if isinstance(model, dict) else None
    if checked and isinstance(weights, dict):
        digest = weights.get("sha256")
        digest = digest if isinstance(digest, str) else ", ".join(sorted((digest or {}).values()))
        parts.append(f"weights evaluated: {weights.get('origin')} {weights.get('source')} (sha256 {digest[:16]}...)")
    line = "; ".join(parts)
    if not checked:
        line += " (this report does not record which weights it evaluated: NOT checked to be of these weights)"
    return line


def model_card(config: dict[str, Any], *, evaluation: Any = None, license: str | None = None,  # noqa: A002
               model_id: str | None = None, description: str | None = None) -> str:
    """The README.md of a saved network: YAML front matter + text (see the module docstring).

    Args:
        config: the ``config.json`` content (with its ``files`` digests when the weights file
            is written).
        evaluation: evaluation report(s) (``litedepth evaluate --output`` JSON, its path, an
            ``EvalResult``, a :class:`Report`: see :func:`read_reports`); their metrics, protocol and data go into the card and its
            model-index, after checking they evaluate these weights.
        license: licence identifier for the front matter (e.g. ``"apache-2.0"``); default
            ``"unknown"`` (stated in the text).
        model_id: the Hub id (``owner/name``) used in examples; default: a local folder.
        description: a paragraph of your own.

    Raises:
        DataError: a report of another network or of other weights, or an unreadable one.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    spec = OutputSpec.from_dict(config["output_spec"], "config.json")
    weights = WeightsInfo.from_dict(config.get("weights") or {})
    name = config["network"]
    reports: list[tuple[dict[str, Any], bool]] = []
    for given in read_reports(evaluation):
        checked = _check_report(given.label, given.data, config)
        if any(given.data == seen for seen, _ in reports):
            log.warning("%s: the same report was given twice; the card shows it once", given.label)
            continue
        reports.append((given.data, checked))
    title = model_id or name
    results = []
    for report, checked in reports:
        if not checked:  # the machine-readable index holds only reports known to be of these weights
            continue
        data = report_dataset(report)
        for key, _ in CARD_METRICS:
            if isinstance(report["metrics"].get(key), (int, float)):
                results.append(EvalResult(task_type="depth-estimation", task_name="Depth Estimation",
                                          dataset_type=data["type"], dataset_name=data["name"] or "unrecorded",
                                          dataset_config=data["config"], dataset_split=data["split"],
                                          metric_type=key, metric_name=key,
                                          metric_value=float(report["metrics"][key])))
    tags = ["litedepth", "depth-estimation", "monocular-depth-estimation", name, spec.kind]
    if not weights.trained:
        tags.append("untrained")
    data = ModelCardData(library_name=LIBRARY, pipeline_tag="depth-estimation", license=license or "unknown",
                         tags=tags, model_name=title, eval_results=results or None)
    hub_source = f"hub:{model_id}" if model_id else "path/to/this/folder"
    h, w = config["input_size"]
    lines = [f"# {title}", ""]
    if not weights.trained:
        lines += ["> **WARNING: UNTRAINED WEIGHTS.** These weights are randomly initialised"
                  + (f" (only initialised from {weights.source})" if weights.origin == "initialised" else "")
                  + ": the output is noise, not depth. Use them only to test software, never to measure anything.",
                  ""]
    if description:
        lines += [description.strip(), ""]
    lines += [f"A `{name}` network saved by litedepth {config.get('litedepth_version', '')}"
              " in the Hugging Face format (config.json + model.safetensors).", "",
              "## What the output means", "",
              f"- output: **{spec.describe()}**",
              f"- values: {spec.units}",
              f"- input: RGB in [0, 1], {h}x{w} (height x width) as trained; sides must be multiples of "
              f"{spec.size_multiple}; normalisation: {spec.normalisation}",
              f"- training data depth encoding: {config.get('training_depth_encoding') or 'not recorded'}",
              f"- network options: `{json.dumps(config.get('network_options') or {})}`", "",
              "## Use", "", "```python", "from litedepth.inference import Predictor", "",
              f'predictor = Predictor.load("{hub_source}")',
              'prediction = predictor.infer_image("photo.jpg")  # .raw in the units above, .spec says which', "```",
              "", "```bash", f"litedepth predict photo.jpg --model {hub_source} --output out/", "```", "",
              "Offline (`HF_HUB_OFFLINE=1`) the model loads from the Hugging Face cache or from a local copy of "
              "this folder.", "",
              "## Weights", "",
              f"- trained: **{'yes' if weights.trained else 'NO (random initialisation)'}**",
              f"- came from: {weights.origin}" + (f" `{weights.source}`" if weights.source else ""),
              f"- licence: {license or 'not stated by whoever saved these weights (unknown)'}"]
    files = config.get("files") or {}
    lines += [f"- sha256 of {f}: `{d}`" for f, d in files.items()]
    lines.append("")
    if reports:
        lines += ["## Evaluation", ""]
        for report, checked in reports:
            lines += [f"{_protocol_line(report, checked)}:", "", "| metric | value | better |", "|---|---|---|"]
            for key, better in CARD_METRICS:
                v = report["metrics"].get(key)
                if isinstance(v, (int, float)):
                    lines.append(f"| {key} | {v:.4f} | {better} |")
            lines.append("")
    else:
        lines += ["## Evaluation", "", "No evaluation was given when this folder was saved.", ""]
    card = ModelCard.from_template(data, template_str="---\n{{ card_data }}\n---\n\n{{ body }}\n",
                                   body="\n".join(lines))
    return str(card)
