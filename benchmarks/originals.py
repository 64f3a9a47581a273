"""The original Lite-Mono and Monodepth2 code, loaded from checkouts the user names.

litedepth never contains their code. The side-by-side benchmark (:mod:`benchmarks.bench_compare`)
imports it from local checkouts whose folders are given in environment variables:

* ``LITEDEPTH_BENCH_LITEMONO``: a checkout of https://github.com/noahzn/Lite-Mono
* ``LITEDEPTH_BENCH_MONODEPTH2``: a checkout of https://github.com/nianticlabs/monodepth2

When a variable is unset (or the folder lacks the expected files) the comparisons that need it
are skipped with a message saying which variable to set.

Both projects use the same top-level module names (``networks``, ``layers``, ``trainer``,
``datasets``, ``utils``...), so each checkout is imported with its folder first on ``sys.path``
and its modules are removed from ``sys.modules`` afterwards: the two never see each other.
Imports their code needs only for logging or downloads, which are missing here, are replaced
by inert placeholders *during the import only* (``tensorboardX``, ``six``, ``IPython`` and
Lite-Mono's scheduler module, which its repository does not ship); a placeholder raises if
anything calls it. Pillow 10 removed ``Image.ANTIALIAS`` (an alias of ``LANCZOS``), which
their data loaders read: it is set back to ``LANCZOS`` when missing.

What is built from their code (nothing re-implemented):

* depth networks: Lite-Mono's ``networks.LiteMono`` + ``networks.DepthDecoder`` (scales 0-2),
  Monodepth2's ``networks.ResnetEncoder(18)`` + ``networks.DepthDecoder`` (scales 0-3);
* a training step: their ``Trainer.process_batch`` (depth and pose forward, view synthesis,
  ``compute_losses``) on a ``Trainer`` object whose ``__init__`` (which opens log writers and
  KITTI split files) is skipped and whose attributes are set as ``__init__`` sets them, then
  ``zero_grad``, ``backward`` and the optimiser steps of their ``run_epoch`` (Lite-Mono: two
  AdamW, depth and pose, weight decay 1e-2; Monodepth2: one Adam);
* the training data loader: their ``datasets.KITTIRAWDataset`` (``is_train=True``).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import subprocess
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

ENV = {"lite-mono": "LITEDEPTH_BENCH_LITEMONO", "monodepth2": "LITEDEPTH_BENCH_MONODEPTH2"}
URL = {"lite-mono": "https://github.com/noahzn/Lite-Mono", "monodepth2": "https://github.com/nianticlabs/monodepth2"}
#: litedepth network -> the original project holding the same network
PROJECT_OF = {"lite-mono": "lite-mono", "lite-mono-tiny": "lite-mono", "lite-mono-small": "lite-mono",
              "monodepth2-resnet18": "monodepth2"}
#: their top-level modules (the same names in both projects)
_THEIR_MODULES = ("networks", "layers", "utils", "kitti_utils", "datasets", "options", "trainer")

__all__ = ["ENV", "OriginalUnavailable", "Original", "load_original", "skip_message"]


class OriginalUnavailable(RuntimeError):
    """The checkout of an original project is not configured or not usable (message says why)."""


def skip_message(project: str) -> str:
    return (f"set {ENV[project]}=/path/to/a/checkout/of/{URL[project].rsplit('/', 1)[-1]} "
            f"({URL[project]}) to compare with the original code")


class _Placeholder:
    """Stands in for a class or function the original imports but the benchmark never uses."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{self._name} is a benchmark placeholder (the original's optional import)")


def _placeholder_modules() -> dict[str, types.ModuleType]:
    """Inert modules for the imports that are missing here (only those that are missing)."""
    wanted: dict[str, dict[str, Any]] = {
        "tensorboardX": {"SummaryWriter": _Placeholder("tensorboardX.SummaryWriter")},
        "IPython": {"embed": _Placeholder("IPython.embed")},
        "six": {},
        "six.moves": {"urllib": importlib.import_module("urllib")},
        # imported by Lite-Mono's trainer.py, not part of its repository
        "linear_warmup_cosine_annealing_warm_restarts_weight_decay": {
            "ChainedScheduler": _Placeholder("ChainedScheduler")},
    }
    out: dict[str, types.ModuleType] = {}
    for name, attrs in wanted.items():
        root = name.split(".")[0]
        if name in sys.modules or (root not in out and importlib.util.find_spec(root) is not None):
            continue
        mod = types.ModuleType(name)
        mod.__dict__.update(attrs)
        out[name] = mod
    if "six.moves" in out and "six" in out:
        out["six"].moves = out["six.moves"]  # type: ignore[attr-defined]
    return out


@contextlib.contextmanager
def _isolated_import(root: Path) -> Iterator[None]:
    saved = {k: sys.modules.pop(k) for k in list(sys.modules) if k.split(".")[0] in _THEIR_MODULES}
    placeholders = _placeholder_modules()
    sys.modules.update(placeholders)
    sys.path.insert(0, str(root))
    try:
        yield
    finally:
        sys.path.remove(str(root))
        for k in list(sys.modules):
            if k.split(".")[0] in _THEIR_MODULES or k in placeholders:
                sys.modules.pop(k, None)
        sys.modules.update(saved)


def _git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


@dataclass
class Original:
    """One original project's modules, imported from its checkout."""

    project: str
    root: Path
    commit: str
    networks: Any
    layers: Any
    trainer: Any
    datasets: Any
    options: Any

    def describe(self) -> str:
        return f"{self.project} original ({self.root}, commit {self.commit})"

    # ------------------------------------------------------------------ networks
    def depth_network(self, name: str, height: int = 192, width: int = 640,
                      drop_path: float = 0.0) -> tuple[torch.nn.Module, torch.nn.Module]:
        """``(encoder, decoder)`` of the original network matching litedepth's ``name``."""
        nets = self.networks
        if self.project == "lite-mono":
            enc = nets.LiteMono(model=name, drop_path_rate=drop_path, width=width, height=height)
            dec = nets.DepthDecoder(enc.num_ch_enc, scales=range(3))
        else:
            if name != "monodepth2-resnet18":
                raise OriginalUnavailable(f"no original network for {name!r} in {self.project}")
            enc = nets.ResnetEncoder(18, False)
            dec = nets.DepthDecoder(enc.num_ch_enc, scales=range(4))
        return enc, dec

    def inference_fn(self, name: str, height: int, width: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """Eager finest-scale disparity of the original network, in eval mode."""
        enc, dec = self.depth_network(name, height, width)
        enc.eval()
        dec.eval()

        def run(x: torch.Tensor) -> torch.Tensor:
            return dec(enc(x))[("disp", 0)]

        run.modules = (enc, dec)  # type: ignore[attr-defined]
        return run

    # ------------------------------------------------------------------ training step
    def training_step(self, name: str, batch_size: int, height: int, width: int,
                      drop_path: float = 0.0) -> TrainingStep:
        """Their ``process_batch`` + backward + optimiser step(s) (see the module docstring)."""
        Trainer = self.trainer.Trainer
        options_class = getattr(self.options, "LiteMonoOptions", None) or self.options.MonodepthOptions
        opt = options_class().parser.parse_args([])
        opt.height, opt.width, opt.batch_size = int(height), int(width), int(batch_size)
        opt.frame_ids = [0, -1, 1]
        tr = Trainer.__new__(Trainer)  # their methods; __init__'s log and split-file set-up skipped
        tr.opt = opt
        tr.device = torch.device("cpu")
        tr.num_scales = len(opt.scales)
        tr.num_input_frames = len(opt.frame_ids)
        tr.num_pose_frames = 2
        tr.use_pose_net = True
        enc, dec = self.depth_network(name, height, width, drop_path)
        tr.models = {"encoder": enc, "depth": dec}
        pose = {"pose_encoder": self.networks.ResnetEncoder(opt.num_layers, False, num_input_images=2)}
        pose["pose"] = self.networks.PoseDecoder(pose["pose_encoder"].num_ch_enc, num_input_features=1,
                                                 num_frames_to_predict_for=2)
        depth_params = [p for m in tr.models.values() for p in m.parameters()]
        pose_params = [p for m in pose.values() for p in m.parameters()]
        if self.project == "lite-mono":
            tr.models_pose = pose
            optimisers = [torch.optim.AdamW(depth_params, opt.lr[0], weight_decay=opt.weight_decay),
                          torch.optim.AdamW(pose_params, opt.lr[3], weight_decay=opt.weight_decay)]
        else:
            tr.models.update(pose)
            optimisers = [torch.optim.Adam(depth_params + pose_params, opt.learning_rate)]
        tr.ssim = self.layers.SSIM()
        tr.backproject_depth, tr.project_3d = {}, {}
        for s in opt.scales:
            h, w = height // 2**s, width // 2**s
            tr.backproject_depth[s] = self.layers.BackprojectDepth(batch_size, h, w)
            tr.project_3d[s] = self.layers.Project3D(batch_size, h, w)
        modules = [*tr.models.values(), *pose.values()]
        for m in modules:
            m.train()
        return TrainingStep(tr, optimisers, list(opt.scales), modules)

    # ------------------------------------------------------------------ data
    def kitti_dataset(self, root: Path, lines: Sequence[str], height: int, width: int,
                      img_ext: str = ".jpg") -> Any:
        """Their ``KITTIRAWDataset`` (training mode, frames 0, -1, 1, 4 scales)."""
        from PIL import Image

        if not hasattr(Image, "ANTIALIAS"):  # removed in Pillow 10; it was LANCZOS
            Image.ANTIALIAS = Image.LANCZOS  # type: ignore[attr-defined]
        return self.datasets.KITTIRAWDataset(str(root), list(lines), height, width, [0, -1, 1], 4,
                                             is_train=True, img_ext=img_ext)


class TrainingStep:
    """One optimisation step of the original trainer on a fixed batch."""

    def __init__(self, trainer: Any, optimisers: list[torch.optim.Optimizer], scales: list[int],
                 modules: list[torch.nn.Module]) -> None:
        self.trainer, self.optimisers, self.scales, self.modules = trainer, optimisers, scales, modules

    def inputs(self, frames: torch.Tensor, frames_raw: torch.Tensor, K_norm: np.ndarray) -> dict[Any, Any]:
        """Their input dict for frames ``(B, 3, 3, H, W)`` ordered ``(0, -1, 1)`` and normalised
        intrinsics ``(4, 4)``: what their data loader returns (images at every scale, K per scale)."""
        b, _, _, h, w = frames.shape
        out: dict[Any, Any] = {}
        for i, fid in enumerate((0, -1, 1)):
            out[("color_aug", fid, 0)] = frames[:, i].contiguous()
            for s in range(4):
                img = frames_raw[:, i]
                if s:
                    img = torch.nn.functional.interpolate(img, (h // 2**s, w // 2**s), mode="bilinear",
                                                          align_corners=False, antialias=True)
                out[("color", fid, s)] = img.contiguous()
        for s in range(4):
            K = K_norm.copy()
            K[0, :] *= w // 2**s
            K[1, :] *= h // 2**s
            out[("K", s)] = torch.from_numpy(K)[None].expand(b, 4, 4).contiguous()
            out[("inv_K", s)] = torch.from_numpy(np.linalg.pinv(K))[None].expand(b, 4, 4).contiguous()
        return out

    def loss(self, inputs: dict[Any, Any]) -> torch.Tensor:
        _, losses = self.trainer.process_batch(dict(inputs))
        return losses["loss"]

    def __call__(self, inputs: dict[Any, Any]) -> float:
        loss = self.loss(inputs)
        for o in self.optimisers:
            o.zero_grad()
        loss.backward()
        for o in self.optimisers:
            o.step()
        return float(loss.detach())


def load_original(project: str) -> Original:
    """Import an original project from the checkout named by its environment variable.

    Raises:
        OriginalUnavailable: variable unset, folder missing, or the import failed.
    """
    if project not in ENV:
        raise OriginalUnavailable(f"unknown project {project!r}")
    value = os.environ.get(ENV[project])
    if not value:
        raise OriginalUnavailable(skip_message(project))
    root = Path(value).expanduser().resolve()
    for needed in ("networks/__init__.py", "layers.py", "trainer.py", "datasets/__init__.py"):
        if not (root / needed).is_file():
            raise OriginalUnavailable(f"{ENV[project]}={root}: {needed} not found (not a {project} checkout?)")
    with _isolated_import(root):
        try:
            mods = {n: importlib.import_module(n) for n in ("networks", "layers", "trainer", "datasets", "options")}
        except Exception as exc:  # noqa: BLE001 - any import problem of their code is a skip
            raise OriginalUnavailable(f"importing {project} from {root} failed: {type(exc).__name__}: {exc}") from exc
    return Original(project, root, _git_commit(root), **mods)
