"""The shared optimiser builder: fused kernels with the same updates, clean fallback, errors."""

from __future__ import annotations

import pytest
import torch

from litedepth.errors import ConfigError
import litedepth.tasks.optim as optim_mod
from litedepth.tasks.optim import build_optimizer


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(7, 5, generator=g)), torch.nn.Parameter(torch.randn(3, generator=g))]


def _run(opt: torch.optim.Optimizer, params: list[torch.nn.Parameter], steps: int = 3) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.step()
    return [p.detach().clone() for p in params]


@pytest.mark.parametrize("name,wd", [("adam", 0.0), ("adam", 1e-2), ("adamw", 1e-2)])
def test_fused_on_cpu_gives_the_default_updates(name, wd):
    fused_params, plain_params = _params(), _params()
    fused = build_optimizer(fused_params, name, lr=1e-2, weight_decay=wd)
    plain = build_optimizer(plain_params, name, lr=1e-2, weight_decay=wd, fused=False)
    assert fused.defaults["fused"] is True
    assert not plain.defaults.get("fused")
    expected_cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    assert type(fused) is expected_cls and type(plain) is expected_cls
    for a, b in zip(_run(fused, fused_params), _run(plain, plain_params)):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    # the update did move the parameters
    assert not torch.allclose(fused_params[0], _params()[0])


def test_parameter_groups_keep_their_settings_and_are_not_mutated():
    depth, pose = _params(0), _params(1)
    groups = [{"params": depth, "lr": 1e-3, "name": "depth"}, {"params": pose, "lr": 5e-4, "name": "pose"}]
    opt = build_optimizer(groups, "adamw", lr=1.0, weight_decay=0.01)
    assert [g["lr"] for g in opt.param_groups] == [1e-3, 5e-4]
    assert [g["name"] for g in opt.param_groups] == ["depth", "pose"]
    assert all(g["weight_decay"] == 0.01 for g in opt.param_groups)
    assert set(groups[0]) == {"params", "lr", "name"}  # the caller's dicts are left as given


def test_fallback_where_no_fused_kernel_exists(monkeypatch):
    # parameters on a device without fused kernels are not even tried
    assert not build_optimizer([torch.nn.Parameter(torch.zeros(3, device="meta"))], "adam").defaults.get("fused")

    class NoFused(torch.optim.Adam):
        def __init__(self, params, **kw):
            if kw.get("fused"):
                raise RuntimeError("`fused=True` requires all the params to be floating point Tensors")
            super().__init__(params, **kw)

    monkeypatch.setitem(optim_mod.OPTIMIZERS, "adam", NoFused)
    params = _params()
    opt = build_optimizer([{"params": params, "lr": 0.5}], "adam")  # auto: falls back quietly
    assert not opt.defaults.get("fused") and opt.param_groups[0]["lr"] == 0.5
    with pytest.raises(ConfigError, match="fused adam is not supported"):
        build_optimizer(params, "adam", fused=True)  # asked for explicitly: an error


def test_unknown_optimizer_is_a_config_error():
    with pytest.raises(ConfigError, match="sgd"):
        build_optimizer(_params(), "sgd")


def test_epoch_scheduler_follows_the_published_schedules_per_group():
    from litedepth.tasks.optim import build_epoch_scheduler
    from litedepth.tasks.schedules import cosine_restarts_schedule, step_schedule

    groups = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 1e-4},
              {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 3e-4}]
    opt = build_optimizer(groups, "adamw", 1e-4)
    step = build_epoch_scheduler(opt, "step", step_size=2, gamma=0.5)["scheduler"]
    assert [step.lr_lambdas[1](e) for e in range(6)] == [step_schedule(2, 0.5)(e) for e in range(6)]
    cos = build_epoch_scheduler(build_optimizer(groups, "adamw", 1e-4), "cosine-restarts", [5e-6, 1e-5], period=4)
    assert cos["interval"] == "epoch"
    expected = cosine_restarts_schedule(3e-4, 1e-5, 4, 0.9)
    assert [cos["scheduler"].lr_lambdas[1](e) for e in range(9)] == [expected(e) for e in range(9)]
    assert build_epoch_scheduler(opt, "none") is None
    with pytest.raises(ConfigError, match="scheduler must be one of"):
        build_epoch_scheduler(opt, "exp")
    with pytest.raises(ConfigError, match="one min_lr per parameter group"):
        build_epoch_scheduler(opt, "cosine-restarts", [1e-6])
