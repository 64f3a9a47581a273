"""Tests generated from the registry (issue 15): every registered network, no model-specific code.

For each name of :func:`litedepth.models.list_models` (a new registration is tested without new
test code), one network is built per name and module (a module-scoped fixture, so the three
tests of a name share it and only one network is held at a time):

* **predict** — :func:`litedepth.inference.load_model` by name -> :class:`Predictor` on a small
  image of another size and aspect than the input -> a :class:`Prediction` at the image's
  size whose values are what the network's :class:`OutputSpec` says (finite, positive metric
  depth, a sigmoid disparity in ``[0, 1]`` that converts into ``[min_depth, max_depth]``, class
  ids below ``num_classes``); pose networks have no image prediction and are left out;
* **profile** — :func:`count_params` equals ``sum(p.numel())``; both MAC scopes add up their
  breakdown; ``conv_linear`` MACs are affine in the batch (a per-image part times the batch
  plus a small shared part), ``full`` MACs are at least those; pose networks get their two
  stacked frames;
* **checkpoint reload** — the network (with random BatchNorm statistics, so that buffers
  matter) saved in the format its task writes
  (a Lightning ``.ckpt`` with the ``litedepth`` card; pose networks, which no task checkpoint
  loads alone: a state-dict file with ``network=``) and reloaded through ``load_model`` gives
  the original network's output **bit for bit**, with the spec the task recorded.

Inputs are 64x64 (a multiple of every size multiple), batch 1, one thread, ``torch.no_grad``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from litedepth.inference import Prediction, Predictor, load_model
from litedepth.models import list_models, model_info
from litedepth.models.outputs import DepthOutput
from litedepth.models.segmentation_outputs import SegmentationOutput
from litedepth.models.spec import to_depth
from litedepth.profiling import count_macs, count_params
from tests.helpers import informative, save_task_checkpoint, task_for, write_gradient_images

pytestmark = pytest.mark.usefixtures("one_thread")

SIZE = (64, 64)  # network input: a multiple of every registered size multiple
IMAGE = (40, 56)  # the image: another size and aspect; predictions come back at this size
ALL = list_models()
IMAGE_NETWORKS = [n for n in ALL if model_info(n).task != "pose"]


def _channels(name: str) -> int:
    return 6 if model_info(name).task == "pose" else 3  # a pose network takes two stacked RGB frames


def _input(name: str, batch: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.rand(batch, _channels(name), *SIZE, generator=torch.Generator().manual_seed(seed))


def _tensors(output) -> dict[str, torch.Tensor]:
    """Every tensor of a network output, by name (depth, segmentation or pose outputs)."""
    if isinstance(output, DepthOutput):
        return {"pred": output.pred}
    if isinstance(output, SegmentationOutput):
        out = {"logits": output.logits}
        if output.depth is not None:
            out["depth"] = output.depth.pred
        return out
    return {f"out{i}": t for i, t in enumerate(output)}  # PoseOutput: (axisangle, translation)


@pytest.fixture(scope="module", params=ALL)
def network(request):
    """``(name, LoadedModel)``: the registered network loaded by name, with random BatchNorm
    statistics (:func:`tests.helpers.informative`: buffers that a reload must restore), in eval
    mode. (Perturbing the weights too would overflow the untrained ResNet-101 DeepLabV3 to a
    Softplus of 0.)"""
    name = request.param
    torch.manual_seed(0)
    loaded = load_model(name, warn_untrained=False)
    informative(loaded.net, seed=1)
    return name, loaded


# ---------------------------------------------------------------------------------------- predict
@pytest.mark.parametrize("network", IMAGE_NETWORKS, indirect=True)
def test_predict_by_name(network, tmp_path):
    name, loaded = network
    info = model_info(name)
    spec = info.output_spec()
    assert loaded.spec == spec and loaded.task == info.task
    assert not loaded.weights.trained  # a registered name without weights is random, and says so
    (image,) = write_gradient_images(tmp_path, [IMAGE])
    pred = Predictor(loaded, input_size=SIZE, device="cpu").infer_image(image)
    assert isinstance(pred, Prediction) and pred.spec == spec and pred.source == str(image)
    assert pred.shape == IMAGE
    if spec.is_depth:
        raw = pred.raw
        assert raw is not None and raw.shape == IMAGE and raw.dtype == np.float32
        assert np.isfinite(raw).all() and raw.std() > 0, "a constant or non-finite map"
        if spec.kind == "depth":
            assert (raw > 0).all()
            np.testing.assert_array_equal(pred.depth, raw)  # metres as predicted
        elif spec.kind == "sigmoid-disparity":
            assert raw.min() >= 0 and raw.max() <= 1
            depth = pred.depth
            assert depth.min() >= spec.min_depth * (1 - 1e-5) and depth.max() <= spec.max_depth * (1 + 1e-5)
            np.testing.assert_allclose(depth, to_depth(raw, spec), rtol=1e-6)
        elif spec.kind == "relative-disparity":
            assert raw.min() >= 0 and raw.max() <= 1
    else:
        assert pred.raw is None
    if spec.num_classes:
        labels = pred.labels
        assert labels is not None and labels.shape == IMAGE and labels.dtype == np.uint8
        assert int(labels.max()) < spec.num_classes
    else:
        assert pred.labels is None


# ---------------------------------------------------------------------------------------- profile
@pytest.mark.parametrize("network", ALL, indirect=True)
def test_profile(network):
    name, loaded = network
    net = loaded.net
    assert count_params(net) == sum(p.numel() for p in net.parameters()) > 0
    # conv_linear: MACs = shared + per_image * batch. Work on the images scales with the batch;
    # work that does not depend on them (Lite-Mono's positional encoding, computed once) does not.
    cl = [count_macs(net, _input(name, batch=b), mode="conv_linear") for b in (1, 2, 3)]
    assert all(sum(c.breakdown.values()) == c.macs for c in cl)
    per_image = cl[1].macs - cl[0].macs
    assert per_image > 0 and cl[2].macs - cl[1].macs == per_image, "MACs are not affine in the batch"
    assert 0 <= cl[0].macs - per_image < 0.01 * cl[0].macs  # the shared part is small
    # full: every convolution and matrix product the conv_linear scope sees, and more
    full = count_macs(net, _input(name), mode="full")
    assert full.mode == "full" and sum(full.breakdown.values()) == full.macs >= cl[0].macs
    assert not net.training  # count_macs restores the mode it found


# ------------------------------------------------------------------------------ checkpoint reload
def _forward(net: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return _tensors(net(x))


@pytest.mark.parametrize("network", ALL, indirect=True)
def test_checkpoint_reload_is_bit_exact(network, tmp_path):
    name, loaded = network
    net = loaded.net
    x = _input(name, seed=5)
    before = _forward(net, x)
    if model_info(name).task == "pose":  # no task checkpoint holds a pose network alone
        path = tmp_path / f"{name}.pth"
        torch.save(net.state_dict(), path)
        torch.manual_seed(123)  # the rebuilt network starts from other random weights
        again = load_model(path, network=name)
        assert again.weights.origin == "weights-file"
        expected_spec = loaded.spec
    else:
        # the task's own random initialisation is skipped (built on the meta device, given
        # uninitialised storage): its network's weights are replaced at once, and nothing else
        # of the task (a self-supervised task's pose network) is read back
        with torch.device("meta"):
            task = task_for(name)
        task.to_empty(device="cpu")
        task.net.load_state_dict(net.state_dict())
        expected_spec = task.output_spec  # as the task trained it (e.g. its depth range)
        path = save_task_checkpoint(task, tmp_path / f"{name}.ckpt")
        del task
        torch.manual_seed(123)
        again = load_model(path)
        assert again.weights.origin == "checkpoint" and again.weights.trained
    assert again.name == name and again.spec == expected_spec
    after = _forward(again.net, x)
    assert sorted(after) == sorted(before)
    for key, ref in before.items():
        assert ref.std() > 0, f"{name}.{key}: a constant output proves nothing"
        assert torch.equal(after[key], ref), f"{name}.{key}: reloaded output differs " \
                                             f"(max {float((after[key] - ref).abs().max()):.3g})"
