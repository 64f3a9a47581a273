"""A small depth network trained on the synthetic scenes, for benchmarks that need real weights.

Quantisation error depends on the weights and activations of a *trained* network (random
weights give a near-constant output that any precision reproduces). This script trains one
with the project's own synthetic data tooling (:func:`litedepth.data.synthetic.make_dataset`,
outdoor corridors with open sky and rooms, exact depth) and saves its state dict:

* network: any registered disparity network (default ``lite-mono`` with the published
  640x192 dilation rates), trained at ``--size`` (default 96x320; the network is fully
  convolutional, so it is exported and run at 192x640 afterwards);
* loss: the scale-invariant log loss (lambda 1) between ``disp_to_depth(disp)`` (0.1-100) and
  the rendered depth, valid pixels only, at every decoder scale; Adam, lr 1e-3 (then 3e-4
  for the last third of the steps), batch 4, horizontal flips;
* the state dict (``torch.save``, tensors only) goes to ``--out`` with a ``.json`` beside it
  recording the network, steps, size, data seed and the final training loss.

It is a benchmark helper, not a test: it asserts nothing; ``--steps 600`` takes roughly
15-30 min on 2 busy CPU cores.

Run: ``python -m benchmarks.train_synthetic --out ~/.cache/litedepth/bench/lite-mono-synthetic.pt``
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)

DEFAULT_CACHE = Path.home() / ".cache" / "litedepth" / "bench" / "lite-mono-synthetic.pt"


def render(root: Path, size: tuple[int, int], sequences: int = 8, frames: int = 24, seed: int = 3) -> Path:
    from litedepth.data.synthetic import SceneConfig, make_dataset

    make_dataset(root, n_sequences=sequences, frames_per_sequence=frames,
                 cfg=SceneConfig(kind="mixed", height=size[0], width=size[1], open_sky=True), seed=seed)
    return root


def train(out: Path, network: str = "lite-mono", steps: int = 600, size: tuple[int, int] = (96, 320),
          batch_size: int = 4, seed: int = 0, threads: int | None = None) -> dict[str, Any]:
    """Train ``network`` on freshly rendered synthetic scenes and save its weights to ``out``."""
    from torch.utils.data import DataLoader

    from litedepth.data.folder import FolderDepthDataset
    from litedepth.geometry.depth import disp_to_depth
    from litedepth.losses.supervised import scale_invariant_log_loss
    from litedepth.models import create_model
    from litedepth.utils.atomic import atomic_torch_save, atomic_write_bytes

    if threads:
        torch.set_num_threads(int(threads))
    torch.manual_seed(seed)
    net = create_model(network).train().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    losses: list[float] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="litedepth-train-synthetic-") as tmp:
        root = render(Path(tmp) / "data", size)
        ds = FolderDepthDataset(root, "all", size=size, depth_scale="mm", hflip=True)
        loader = DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True, num_workers=0)
        step = 0
        while step < steps:
            for batch in loader:
                if step == (2 * steps) // 3:
                    for g in opt.param_groups:
                        g["lr"] = 3e-4
                gt = batch["depth"]
                valid = (gt > 0.1) & (gt < 100)
                out_ = net(batch["image"])
                loss = sum(scale_invariant_log_loss(
                    disp_to_depth(torch.nn.functional.interpolate(d, gt.shape[-2:], mode="bilinear"), 0.1, 100)[1],
                    gt, mask=valid, lam=1.0) for d in out_.scales) / len(out_.scales)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                step += 1
                if step % 50 == 0:
                    log.info("step %d/%d: loss %.4f (%.0f s)", step, steps, np.mean(losses[-50:]), time.perf_counter() - t0)
                if step >= steps:
                    break
    net = net.to(memory_format=torch.contiguous_format).eval()
    atomic_torch_save({k: v.contiguous() for k, v in net.state_dict().items()}, out)
    info = {"network": network, "steps": steps, "train_size": list(size), "batch_size": batch_size, "seed": seed,
            "data": "litedepth.data.synthetic.make_dataset(n_sequences=8, frames_per_sequence=24, kind=mixed, "
                    "open_sky=True, seed=3)",
            "loss": "scale-invariant log loss (lambda 1) of disp_to_depth(disp, 0.1, 100) vs rendered depth",
            "first_loss": float(np.mean(losses[:20])), "final_loss": float(np.mean(losses[-50:])),
            "seconds": time.perf_counter() - t0}
    atomic_write_bytes(out.with_suffix(".json"), json.dumps(info, indent=2).encode())
    return info


def trained_weights(path: Path = DEFAULT_CACHE, network: str = "lite-mono", steps: int = 600) -> tuple[Path, dict[str, Any]]:
    """``path`` and its record, training first when the file (or its record) is missing or
    was made for another network or number of steps."""
    record = path.with_suffix(".json")
    if path.is_file() and record.is_file():
        info = json.loads(record.read_text())
        if info.get("network") == network and int(info.get("steps", -1)) == int(steps):
            return path, info
    log.warning("training %s on synthetic scenes for %d steps (cached at %s)", network, steps, path)
    return path, train(path, network, steps)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=DEFAULT_CACHE)
    p.add_argument("--network", default="lite-mono")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--size", type=int, nargs=2, default=[96, 320], metavar=("H", "W"))
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    info = train(args.out, args.network, args.steps, tuple(args.size), threads=args.threads)
    print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
