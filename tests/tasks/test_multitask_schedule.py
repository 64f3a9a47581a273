"""Seed 002 training schedules: which parameters train in each phase, the decoder weight copy,
encoder freezing, resume, configuration errors."""

from __future__ import annotations

import doctest

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch.utils.data import DataLoader

import litedepth.tasks.multitask as mt
import litedepth.tasks.phase_schedule as ps
from litedepth.errors import ConfigError
from litedepth.tasks.multitask import MultiTaskSegDepthTask, Phase, phase_at, sequential_phases

TINY = {"encoder": "resnet18", "num_classes": 4, "decoder_channels": [16, 16, 8, 8, 8]}


def samples(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [{"image": torch.rand(3, size, size, generator=g), "mask": torch.randint(0, 4, (size, size), generator=g),
             "depth": torch.rand(1, size, size, generator=g), "depth_valid": torch.ones(1, size, size, dtype=torch.bool),
             "name": str(i)} for i in range(n)]


def loader():
    return DataLoader(samples(), batch_size=2, shuffle=False)


def trainer(**kw):
    opts = dict(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                enable_model_summary=False, limit_val_batches=0, num_sanity_val_steps=0)
    return L.Trainer(**{**opts, **kw})


class Snapshots(Callback):
    """State of the network right before each backward pass (after the phase switch)."""

    def __init__(self):
        self.steps = []

    def on_before_backward(self, trainer, pl_module, loss):
        net = pl_module.net
        self.steps.append({
            "step": trainer.global_step, "phase": pl_module.phase,
            "state": {k: v.detach().clone() for k, v in net.state_dict().items()},
            "grad": {k: p.requires_grad for k, p in net.named_parameters()},
        })


def group_keys(net, group, kind="params"):
    mods = net.task_modules()[group]
    names = {id(m): n for n, m in net.named_modules()}
    keys = []
    for m in mods:
        prefix = names[id(m)]
        items = m.named_parameters() if kind == "params" else m.named_buffers()
        keys += [f"{prefix}.{k}" for k, _ in items if not k.endswith("num_batches_tracked")]
    return keys


def changed_fraction(a, b, keys):
    return sum(not torch.equal(a[k], b[k]) for k in keys) / len(keys)


def test_doctests_and_helpers():
    assert doctest.testmod(mt, raise_on_error=False).failed == 0
    result = doctest.testmod(ps, raise_on_error=False)
    assert result.failed == 0 and result.attempted >= 2  # the examples of sequential_phases and phase_at
    p = sequential_phases("seg", True, "both", [3, 4], freeze_encoder=[True, False])
    assert p == [Phase("seg", 3, True, None), Phase("both", 4, False, "seg")]
    assert [phase_at(p, i) for i in range(9)] == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    with pytest.raises(ConfigError, match="lengths"):
        sequential_phases("depth", False, "other_then_both", [1, 1])


def test_phases_train_the_right_parameters_and_copy_the_decoder():
    torch.manual_seed(0)
    phases = [Phase("depth", 2), Phase("seg", 2, freeze_encoder=True, copy_from="depth"), Phase("both", 2)]
    task = MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phases=phases, phase_unit="step", lr=1e-2)
    snaps = Snapshots()
    trainer(max_steps=6, callbacks=[snaps]).fit(task, train_dataloaders=loader())
    net = task.net
    assert [s["phase"] for s in snaps.steps] == [0, 0, 1, 1, 2, 2]
    assert [(h["phase"], h["step"], h["copied"]) for h in task.phase_history] == [(0, 0, False), (1, 2, True), (2, 4, False)]
    enc, seg, dep = (group_keys(net, g) for g in ("encoder", "seg", "depth"))
    seg_dec = [k for k in net.state_dict() if k.startswith("seg_decoder.")]

    # the copy: right after it (first step of phase 1, before its backward) the semantic
    # decoder equals the depth decoder tensor for tensor; just before it, it did not
    s1, s2 = snaps.steps[1]["state"], snaps.steps[2]["state"]
    assert all(torch.equal(s2[k], s2[k.replace("seg_decoder.", "depth_decoder.", 1)]) for k in seg_dec)
    assert not all(torch.equal(s1[k], s1[k.replace("seg_decoder.", "depth_decoder.", 1)]) for k in seg_dec)
    assert torch.equal(s2["seg_head.weight"], s1["seg_head.weight"])  # heads are not copied

    def step_change(i, keys):
        return changed_fraction(snaps.steps[i]["state"], snaps.steps[i + 1]["state"], keys)

    # phase 0 (depth): encoder and depth decoder learn; the semantic decoder is untouched
    assert step_change(0, dep) > 0.9 and step_change(0, enc) > 0.9
    assert step_change(0, seg) == 0.0 and step_change(0, group_keys(net, "seg", "buffers")) == 0.0
    # phase 1 (seg, encoder frozen): only the semantic decoder learns; encoder BN statistics frozen too
    assert step_change(2, seg) > 0.9
    assert step_change(2, enc) == 0.0 and step_change(2, group_keys(net, "encoder", "buffers")) == 0.0
    assert step_change(2, dep) == 0.0
    assert not any(snaps.steps[2]["grad"][k] for k in enc + dep) and all(snaps.steps[2]["grad"][k] for k in seg)
    # phase 2 (both): everything learns
    assert step_change(4, enc) > 0.9 and step_change(4, seg) > 0.9 and step_change(4, dep) > 0.9


def test_resume_inside_a_phase_does_not_copy_again(tmp_path):
    torch.manual_seed(0)
    phases = [Phase("depth", 1), Phase("seg", 2, copy_from="depth"), Phase("both", 1)]
    task = MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phases=phases, lr=1e-2)
    t = trainer(max_epochs=2)
    t.fit(task, train_dataloaders=loader())
    ckpt = tmp_path / "mid.ckpt"
    t.save_checkpoint(ckpt)
    seg_after = {k: p.detach().clone() for k, p in task.net.seg_decoder.named_parameters()}
    resumed = MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phases=phases, lr=1e-2)
    snaps = Snapshots()
    trainer(max_epochs=4, callbacks=[snaps]).fit(resumed, train_dataloaders=loader(), ckpt_path=str(ckpt))
    hist = [(h["phase"], h["copied"], h["resumed"]) for h in resumed.phase_history]
    assert hist == [(0, False, False), (1, True, False), (1, False, True), (2, False, False)]
    first = snaps.steps[0]["state"]  # first step after resuming: the trained seg decoder, not a new copy
    assert all(torch.equal(first[f"seg_decoder.{k}"], v) for k, v in seg_after.items())


def test_configuration_errors():
    with pytest.raises(ConfigError, match="only the heads"):
        MultiTaskSegDepthTask("unet-resnet50-seg", TINY, phases=[Phase("both", 1)])
    with pytest.raises(ConfigError, match="length"):
        MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phases=[Phase("seg", 0)])
    with pytest.raises(ConfigError, match="phase_length_override"):
        MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phase_length_override=0)
    seg = MultiTaskSegDepthTask("deeplabv3plus-resnet50", {"encoder": "resnet18", "num_classes": 4})
    assert seg.phases == [Phase("seg", 1)]

    class NoDepth(L.LightningDataModule):
        has_depth = False

        def train_dataloader(self):
            return loader()

    task = MultiTaskSegDepthTask("multitask-unet-resnet50", TINY, phases=[Phase("both", 1)])
    with pytest.raises(ConfigError, match="no depth targets"):
        trainer(max_steps=1).fit(task, datamodule=NoDepth())
