"""The fast paths of self-supervised training give the same loss as the plain float32 path.

* channels-last weights (the default): the same loss and gradients to float rounding
  (relative 1e-5);
* bf16 autocast on the CPU (what ``--trainer.precision bf16-mixed`` runs): the networks run
  in bfloat16, view synthesis and the photometric error in float32; the loss agrees within
  2 % relative (bfloat16 keeps 8 bits of mantissa, ~0.4 % per rounding) and gradients flow;
* ``compile``: both networks compiled in place, once (compiled speed and loss: bench_gpu).
"""

from __future__ import annotations

import lightning as L
import torch

from litedepth.tasks import SelfSupervisedDepthTask

H, W = 48, 96


def _batch(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(2, 3, H, W + 8, generator=g)
    # three views of one textured image shifted by a few pixels: a plausible video snippet
    frames = torch.stack([base[..., 4:W + 4], base[..., 2:W + 2], base[..., 6:W + 6]], dim=1)
    K = torch.tensor([[0.58 * W, 0, (W - 1) / 2], [0, 1.92 * H, (H - 1) / 2], [0, 0, 1]]).expand(2, 3, 3)
    return {"frames": frames, "frames_raw": frames.clone(), "K": K.clone()}


def _task(**kw) -> SelfSupervisedDepthTask:
    torch.manual_seed(0)
    return SelfSupervisedDepthTask("lite-mono-tiny", network_options={"drop_path_rate": 0.0},
                                   **kw).train()


def _loss(task: SelfSupervisedDepthTask, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    torch.manual_seed(1)  # the auto-masking noise
    return task.compute_losses(batch)["loss"]


def test_channels_last_gives_the_same_loss_and_gradients():
    batch = _batch()
    plain = _task(channels_last=False)
    fast = _task()
    fast.load_state_dict(plain.state_dict())
    assert next(fast.net.parameters()).dim() != 4 or any(
        p.dim() == 4 and p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
        for p in fast.net.parameters())
    a, b = _loss(plain, batch), _loss(fast, batch)
    torch.testing.assert_close(b, a, rtol=1e-5, atol=0)
    a.backward()
    b.backward()
    for (name, p), q in zip(plain.named_parameters(), fast.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-3, atol=1e-6, msg=name)


def test_bf16_autocast_loss_agrees_with_float32():
    batch = _batch(1)
    task = _task()
    ref = _loss(task, batch)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = task.compute_losses(batch)
        disp = task.net(batch["frames"][:, 0]).pred
    assert disp.dtype == torch.bfloat16  # the network did run in bfloat16
    loss = out["loss"]
    assert loss.dtype == torch.float32 and out["photometric"].dtype == torch.float32
    assert abs(float(loss) - float(ref)) <= 0.02 * float(ref)
    loss.backward()
    grads = [p.grad for p in task.net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


def test_lightning_bf16_mixed_precision_trains(tmp_path):
    batches = [_batch(i) for i in range(2)]
    task = _task(scheduler="none", lr=1e-3)
    trainer = L.Trainer(max_steps=2, precision="bf16-mixed", accelerator="cpu", logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path)
    before = [p.detach().clone() for p in task.net.parameters()]
    trainer.fit(task, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    assert trainer.global_step == 2
    assert any(not torch.equal(a, b) for a, b in zip(before, task.net.parameters()))
    assert trainer.optimizers[0].defaults["fused"] is True


def test_compile_option_compiles_both_networks_in_place_once(monkeypatch):
    # Compiling itself is PyTorch's (bench_gpu --compile times it and compares the loss); here:
    # the option reaches both networks, with the backend, in place (checkpoint keys unchanged).
    calls = []
    monkeypatch.setattr(torch.nn.Module, "compile", lambda self, **kw: calls.append((type(self).__name__, kw)))
    task = _task(compile=True, compile_backend="eager")
    keys = set(task.state_dict())
    assert calls == []  # nothing happens before Lightning sets the model up
    task.configure_model()
    task.configure_model()
    assert calls == [("LiteMono", {"backend": "eager"}), ("PoseNet", {"backend": "eager"})]
    assert set(task.state_dict()) == keys
    task.hparams.compile = False
    task._compiled = False
    task.configure_model()  # compile off: no call
    assert len(calls) == 2
