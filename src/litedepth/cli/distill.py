"""``litedepth distill``: train a small network on your own photos from a foundation model's depth.

A folder of photos (no video, no depth sensor) -> the teacher's relative depth for each, once
(cached, resumable) -> a registered network trained to match it with a scale-and-shift-invariant
loss -> agreement with the teacher on held-out photos -> the student as a checkpoint and an ONNX
file, with a report (JSON + table): agreement, parameters, MACs and latency of both.

Examples::

    litedepth weights download depth-anything-v2-small
    litedepth distill photos/ --out distilled/ --teacher depth-anything-v2-small --network lite-mono-tiny \\
        --size 192 256 --epochs 30
    litedepth distill photos/ --out distilled/ --config configs/distill_lite_mono_tiny.yaml --devices 4 --strategy ddp
    litedepth predict new.jpg --checkpoint distilled/student.ckpt --output pred/

The student predicts **relative disparity** (bigger = nearer; scale and shift unknown), not metres.
``--config`` takes a ``litedepth train`` preset (``configs/distill_*.yaml``): its model, data
and trainer options become the defaults here; flags override them.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from litedepth.errors import ConfigError

log = logging.getLogger(__name__)

#: preset key (section, name) -> DistillConfig field
_PRESET_KEYS = {
    ("model", "network"): "network", ("model", "network_options"): "network_options",
    ("model", "init_weights"): "init_weights", ("model", "alignment"): "alignment", ("model", "trim"): "trim",
    ("model", "grad_weight"): "grad_weight", ("model", "grad_scales"): "grad_scales", ("model", "lr"): "lr",
    ("model", "weight_decay"): "weight_decay", ("model", "scheduler"): "scheduler",
    ("data", "size"): "size", ("data", "batch_size"): "batch_size", ("data", "num_workers"): "num_workers",
    ("data", "val_fraction"): "val_fraction", ("data", "split_seed"): "split_seed", ("data", "hflip"): "hflip",
    ("trainer", "max_epochs"): "epochs", ("trainer", "max_steps"): "max_steps",
    ("trainer", "accelerator"): "accelerator", ("trainer", "devices"): "devices",
    ("trainer", "strategy"): "strategy", ("trainer", "precision"): "precision",
}


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("distill", help="train a small network on your photos from a foundation model's depth",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("images", type=Path, help="folder of photos (searched recursively)")
    p.add_argument("--out", required=True, type=Path, help="output folder (labels, run, student, report)")
    p.add_argument("--config", type=Path, help="a configs/distill_*.yaml preset (flags override it)")
    t = p.add_argument_group("teacher")
    t.add_argument("--teacher", default="depth-anything-v2-small",
                   help="transformers depth model: published name (`litedepth weights list`), local folder or hub id "
                        "(default depth-anything-v2-small, Apache-2.0)")
    t.add_argument("--labels", type=Path, help="pseudo-label cache folder (default OUT/teacher_labels)")
    t.add_argument("--teacher-input-size", type=int, default=518, help="teacher resize lower bound; 0 = processor's")
    t.add_argument("--teacher-batch-size", type=int, default=4,
                   help="images per teacher forward pass while labelling (default 4)")
    t.add_argument("--teacher-device", help="cpu, cuda, cuda:N (default: CUDA when available)")
    s = p.add_argument_group("student")
    s.add_argument("--network", help="registered disparity network (default lite-mono-tiny)")
    s.add_argument("--size", type=int, nargs=2, metavar=("H", "W"), help="student input size (default: the network's height, the photos' aspect)")
    s.add_argument("--init-weights", help="start from these weights (path or published name) instead of random")
    s.add_argument("--alignment", choices=("median-mad", "least-squares"), help="loss alignment (default median-mad)")
    s.add_argument("--trim", type=float, help="share of largest residuals left out (MiDaS 0.2; default 0)")
    s.add_argument("--grad-weight", type=float, help="gradient-matching weight (default 0.5)")
    s.add_argument("--grad-scales", type=int, help="gradient-matching scales (default 4)")
    s.add_argument("--lr", type=float, help="AdamW learning rate (default 5e-4, cosine per step)")
    tr = p.add_argument_group("training")
    tr.add_argument("--epochs", type=int, help="epochs (default 20)")
    tr.add_argument("--max-steps", type=int, help="stop after this many steps")
    tr.add_argument("--batch-size", type=int, help="images per training step of the student (default 8)")
    tr.add_argument("--workers", type=int, dest="num_workers", help="image-reading workers (default 2)")
    tr.add_argument("--val-fraction", type=float, help="held-out share, at least one image (default 0.1)")
    tr.add_argument("--seed", type=int, help="global and split seed (default 0, or the preset's split_seed)")
    tr.add_argument("--accelerator", help="auto, cpu, gpu")
    tr.add_argument("--devices", help="number of devices, e.g. 4 (default auto)")
    tr.add_argument("--strategy", help="auto, ddp, ...")
    tr.add_argument("--precision", help="e.g. 16-mixed, bf16-mixed")
    tr.add_argument("--resume", action="store_true", help="continue OUT/run from its last checkpoint")
    o = p.add_argument_group("outputs")
    o.add_argument("--no-onnx", action="store_true", help="do not export OUT/student.onnx")
    o.add_argument("--profile-repeats", type=int, default=10, help="timed runs per network; 0 = no latency")
    o.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def read_preset(path: Path) -> dict[str, Any]:
    """DistillConfig fields from a ``litedepth train`` preset of the distillation regime."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: unreadable preset ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a preset is a mapping with model / data / trainer sections")
    model = data.get("model") or {}
    cls = str(model.get("class_path", "AffineDistillationTask"))
    if not cls.endswith("AffineDistillationTask"):
        raise ConfigError(f"{path}: not a distillation preset (model.class_path is {cls})")
    sections = {"model": model.get("init_args") or {}, "data": (data.get("data") or {}).get("init_args") or {},
                "trainer": data.get("trainer") or {}}
    out: dict[str, Any] = {}
    for (section, key), name in _PRESET_KEYS.items():
        if key in sections[section] and sections[section][key] is not None:
            out[name] = sections[section][key]
    if "size" in out:
        out["size"] = tuple(int(v) for v in out["size"])
    return out


def build_config(args: argparse.Namespace) -> Any:
    from litedepth.apps.distill import DistillConfig

    fields: dict[str, Any] = read_preset(args.config) if args.config else {}
    flags = {name: getattr(args, name) for name in (
        "network", "init_weights", "alignment", "trim", "grad_weight", "grad_scales", "lr", "epochs", "max_steps",
        "batch_size", "num_workers", "val_fraction", "accelerator", "devices", "strategy", "precision")}
    fields.update({k: v for k, v in flags.items() if v is not None})
    if args.size:
        fields["size"] = tuple(args.size)
    if args.seed is not None:
        fields["split_seed"] = args.seed
    if isinstance(fields.get("devices"), str) and fields["devices"].isdigit():
        fields["devices"] = int(fields["devices"])
    return DistillConfig(images=args.images, out=args.out, teacher=args.teacher, labels=args.labels,
                         teacher_input_size=args.teacher_input_size or None, teacher_batch_size=args.teacher_batch_size,
                         teacher_device=args.teacher_device, seed=args.seed or 0,
                         export_onnx=not args.no_onnx, profile_repeats=args.profile_repeats, resume=args.resume,
                         progress=not args.no_progress, **fields)


def _fmt(v: Any, unit: str = "") -> str:
    """Floats: 4 decimals below 10, else 1; integers (counts) with K / M / G."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}{unit}" if abs(v) < 10 else f"{v:.1f}{unit}"
    for div, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if abs(v) >= div:
            return f"{v / div:.3f} {prefix}{unit}"
    return f"{v}{unit}"


def render_report(report: Any) -> Any:
    """A rich table: student and teacher side by side."""
    from rich.table import Table

    s, t, a, b = report.student, report.teacher, report.agreement, report.baseline
    table = Table(title=f"distilled {t.get('id')} -> {s['network']}")
    for col in ("quantity", "student", "teacher"):
        table.add_column(col, justify="left" if col == "quantity" else "right")
    lat = lambda d: _fmt(d["latency_ms"]["p50_ms"], " ms") if d.get("latency_ms") else "-"  # noqa: E731
    rows = [
        ("output", "relative disparity (not metres)", str(t.get("output_kind"))),
        ("licence", "check the teacher's", str(t.get("licence"))),
        ("input (HxW)", "x".join(map(str, s["input_size"])), "x".join(map(str, t["input_size"]))),
        ("parameters", _fmt(s["params"]), _fmt(t["params"])),
        ("MACs conv+linear", _fmt(s["macs_conv_linear"]), _fmt(t["macs_conv_linear"])),
        ("MACs full", _fmt(s["macs_full"]), _fmt(t["macs_full"])),
        (f"latency p50, batch 1 ({s['device']})", lat(s), lat(t)),
        (f"abs_rel vs teacher ({a.get('images', 0)} held-out, aligned)", _fmt(a.get("abs_rel")), "reference"),
        ("δ<1.25 vs teacher", _fmt(a.get("a1")), "reference"),
        ("constant prediction: abs_rel / δ<1.25", f"{_fmt(b.get('abs_rel'))} / {_fmt(b.get('a1'))}", ""),
    ]
    for row in rows:
        table.add_row(*row)
    table.caption = (f"{report.data['train']} training / {report.data['held_out']} held-out images; "
                     f"{report.training['steps']} steps in {report.training['seconds']} s; "
                     f"files: {report.files['student_checkpoint']}, {report.files['student_onnx'] or 'no ONNX'}, "
                     f"{report.files['report']}")
    return table


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from litedepth.apps.distill import run_distill

    report = run_distill(build_config(args))
    if report is None:  # not the main process of a multi-process run
        return 0
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    console.print(render_report(report))
    return 0
