"""ONNX export: parity with eager PyTorch for every model family, dynamic shapes, metadata.

Every registered depth network is exported at 64x96, except networks over 20M parameters
that are not their family's representative (the first name of the family in sorted order);
set ``LITEDEPTH_EXPORT_ALL=1`` to export those too (about 25 s more on 2 cores).
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import litedepth.export.onnx as onnx_export
from litedepth.errors import DataError
from litedepth.export import ParityError, export_onnx, read_metadata
from litedepth.inference import Predictor
from litedepth.inference.onnx_backend import OnnxDepthModel, predictor_from_onnx
from litedepth.models import DepthOutput, OutputSpec, create_model, list_models, model_info
from litedepth.profiling import count_params
from tests.helpers import informative

H, W = 64, 96  # multiples of 32: every registered depth network accepts it


pytestmark = pytest.mark.usefixtures("one_thread")


def _families() -> dict[str, str]:
    reps: dict[str, str] = {}
    for name in list_models(task="depth"):
        reps.setdefault(model_info(name).family, name)
    return reps


REPRESENTATIVES = set(_families().values())
EXPORT_ALL = os.environ.get("LITEDEPTH_EXPORT_ALL") == "1"
MAX_PARAMS_BY_DEFAULT = 20_000_000  # bigger networks take 3-15 s each to export


def _informative(net: nn.Module, seed: int = 0) -> nn.Module:
    return informative(net, seed)


def _eager(net: nn.Module, x: Tensor) -> np.ndarray:
    with torch.no_grad():
        return net(x).pred.numpy()


@pytest.mark.parametrize("name", list_models(task="depth"))
def test_every_depth_model_exports_with_parity(name, tmp_path):
    torch.manual_seed(0)
    net = create_model(name)
    if name not in REPRESENTATIVES and not EXPORT_ALL and count_params(net) > MAX_PARAMS_BY_DEFAULT:
        pytest.skip(f"{name}: large non-representative network; set LITEDEPTH_EXPORT_ALL=1")
    net = _informative(net)
    result = export_onnx(net, tmp_path / f"{name}.onnx", H, W, dynamic_hw=True)
    assert result.path.is_file() and result.external_data is None
    # batch 1 and 2 at the export size, then the second size checking dynamic H/W
    assert [(c.batch, c.height, c.width) for c in result.parity] == [(1, H, W), (2, H, W), (1, H + 32, W + 64)]
    assert result.dynamic_hw, f"{name}: graph became shape-specialised"
    for check in result.parity:
        assert check.passed and check.max_abs_diff <= 1e-4 * max(1.0, check.output_scale)
    # independent check through the runtime wrapper, on another image and batch size
    x = torch.rand(3, 3, H, W, generator=torch.Generator().manual_seed(7))
    eager = _eager(net, x)
    assert eager.std() > 1e-6  # the comparison is not between two constants
    got = OnnxDepthModel(result.path, device="cpu", threads=1)(x).pred.numpy()
    assert got.shape == (3, 1, H, W)
    assert np.abs(got - eager).max() <= 1e-4 * max(1.0, np.abs(eager).max())
    meta = read_metadata(result.path)
    assert meta["litedepth.model"] == name and meta["litedepth.output_kind"] == net(x[:1]).kind
    # the file records the network's declared meaning, which readers use (no default kind)
    assert OutputSpec.from_json(meta["litedepth.output_spec"]) == net.output_spec
    assert OnnxDepthModel(result.path, device="cpu").output_spec == net.output_spec
    assert meta["litedepth.trained"] == "false"  # a freshly built network: random weights


# -- one exported lite-mono-tiny shared by the tests below -----------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    net = create_model("lite-mono-tiny").eval()
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    result = export_onnx(net, path, H, W, dynamic_hw=True)
    return net, result


def test_dynamic_batch_and_hw(tiny):
    net, result = tiny
    assert result.dynamic_hw and result.dynamic_hw_requested
    assert (1, H + 32, W + 64) in [(c.batch, c.height, c.width) for c in result.parity]
    ort_net = OnnxDepthModel(result.path, device="cpu", threads=1)
    assert ort_net.dynamic_hw
    for shape in [(2, 3, H, W), (2, 3, 128, 160)]:  # batch 2 through a file exported at batch 1
        x = torch.rand(*shape)
        np.testing.assert_allclose(ort_net(x).pred.numpy(), _eager(net, x), atol=1e-5)


def test_metadata_round_trip(tiny):
    _, result = tiny
    meta = read_metadata(result.path)
    assert meta == result.metadata
    assert meta["litedepth.model"] == "lite-mono-tiny"
    assert meta["litedepth.output_kind"] == "disparity"
    assert (meta["litedepth.input_height"], meta["litedepth.input_width"]) == (str(H), str(W))
    assert meta["litedepth.dynamic_hw"] == "true"
    assert meta["litedepth.input"] == "input RGB in [0,1], normalised inside"
    from litedepth import __version__
    assert meta["litedepth.version"] == __version__
    assert float(meta["litedepth.parity_max_abs_diff"]) == pytest.approx(result.max_abs_diff, rel=1e-3)
    ort_net = OnnxDepthModel(result.path, device="cpu", threads=1)
    assert ort_net.output_kind == "disparity" and ort_net.input_size == (H, W)
    assert ort_net.model_name == "lite-mono-tiny" and ort_net.metadata == meta


def test_predictor_from_onnx_matches_eager_predictor(tiny):
    net, result = tiny
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (50, 70, 3), dtype=np.uint8), rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)]
    onnx_pred = predictor_from_onnx(result.path, device="cpu", threads=1)
    assert onnx_pred.kind == "disparity" and onnx_pred.input_size == (H, W)
    eager_pred = Predictor(net, (H, W), device="cpu")
    for a, b in zip(onnx_pred.infer_batch(images), eager_pred.infer_batch(images)):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-5)
    assert not net.training


# -- toy networks: fast checks of the failure paths --------------------------------------
class ToyDepth(nn.Module):
    """conv at half resolution -> upsample -> softplus depth (metres).

    ``specialise=True`` reads the input size as Python ints: right in eager mode at any
    size, but the tracer bakes the export size into the graph as a constant.
    """

    output_spec = OutputSpec.metric_depth()

    def __init__(self, specialise: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)
        self.specialise = specialise

    def forward(self, x: Tensor) -> DepthOutput:
        size = tuple(int(s) for s in x.shape[-2:]) if self.specialise else x.shape[-2:]
        y = F.interpolate(self.conv(F.avg_pool2d(x, 2)), size=size, mode="bilinear", align_corners=False)
        return DepthOutput(pred=F.softplus(y) * 10.0, kind="depth")


class ConstantDepth(nn.Module):
    """conv -> BatchNorm whose scale is 0 -> softplus depth: the same value at every pixel of
    every image (a briefly trained BatchNorm network in eval mode can come close to this)."""

    output_spec = OutputSpec.metric_depth()

    def __init__(self, wiggle: float = 0.0) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 1, 3, padding=1)
        self.bn = nn.BatchNorm2d(1)
        self.wiggle = wiggle
        with torch.no_grad():
            self.bn.weight.fill_(wiggle)
            self.bn.bias.fill_(0.7)

    def forward(self, x: Tensor) -> DepthOutput:
        return DepthOutput(pred=F.softplus(self.bn(self.conv(x))) * 10.0, kind="depth")


@pytest.mark.parametrize("wiggle", [0.0, 1e-7])
def test_parity_on_a_constant_output_warns_that_it_proves_little(tmp_path, caplog, wiggle):
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        result = export_onnx(ConstantDepth(wiggle).eval(), tmp_path / "c.onnx", 32, 48)
    assert all(c.passed and c.constant_reference for c in result.parity)
    assert [c.output_spread <= 1e-3 * c.output_scale for c in result.parity] == [True, True]
    assert "compares constant maps and proves little" in caplog.text
    assert len(result.warnings) == 1 and "compares constant maps and proves little" in result.warnings[0]
    assert result.to_dict()["warnings"] == result.warnings
    assert result.path.is_file()  # a warning: the file is still written


def test_parity_on_a_varying_output_gives_no_such_warning(tmp_path, caplog):
    torch.manual_seed(0)
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        result = export_onnx(ToyDepth(), tmp_path / "v.onnx", 32, 48)
    assert not any(c.constant_reference for c in result.parity) and result.warnings == []
    assert min(c.output_spread for c in result.parity) > 1e-3 * max(c.output_scale for c in result.parity)
    assert "constant maps" not in caplog.text


def test_shape_specialised_graph_falls_back_to_fixed_hw(tmp_path, caplog):
    net = ToyDepth(specialise=True)
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        result = export_onnx(net, tmp_path / "fixed.onnx", 32, 48, dynamic_hw=True)
    assert result.dynamic_hw_requested and not result.dynamic_hw
    assert "specialised" in caplog.text and "fixed 32x48" in caplog.text
    assert read_metadata(result.path)["litedepth.dynamic_hw"] == "false"
    ort_net = OnnxDepthModel(result.path, device="cpu", threads=1)
    assert not ort_net.dynamic_hw
    assert ort_net(torch.rand(3, 3, 32, 48)).pred.shape == (3, 1, 32, 48)  # batch still dynamic
    with pytest.raises(DataError, match="fixed 32x48"):
        ort_net(torch.rand(1, 3, 64, 64))


def test_parity_failure_raises_and_writes_nothing(tmp_path, monkeypatch):
    real_run = onnx_export.run_graph
    monkeypatch.setattr(onnx_export, "run_graph", lambda session, x, *a: real_run(session, x, *a) + 0.05)
    out = tmp_path / "bad.onnx"
    with pytest.raises(ParityError, match="differs from eager") as info:
        export_onnx(ToyDepth(), out, 32, 48)
    assert "max abs diff" in str(info.value)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_external_data_for_large_models(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_THRESHOLD", 0)
    net = ToyDepth()
    result = export_onnx(net, tmp_path / "big.onnx", 32, 48)
    assert result.external_data == tmp_path / "big.onnx.data" and result.external_data.is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.onnx", "big.onnx.data"]
    assert read_metadata(result.path)["litedepth.output_kind"] == "depth"
    x = torch.rand(2, 3, 32, 48)
    np.testing.assert_allclose(OnnxDepthModel(result.path, device="cpu", threads=1)(x).pred.numpy(), _eager(net, x),
                               rtol=1e-5, atol=1e-5)


def test_export_restores_mode_and_reports_bad_sizes(tmp_path):
    net = ToyDepth().train()
    export_onnx(net, tmp_path / "toy.onnx", 16, 16)
    assert net.training
    md2 = create_model("monodepth2-resnet18")
    with pytest.raises(DataError, match="multiples of 32"):
        export_onnx(md2, tmp_path / "md2.onnx", 50, 70)
    assert not (tmp_path / "md2.onnx").exists()


def test_missing_files_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_metadata(tmp_path / "nope.onnx")
    with pytest.raises(DataError, match="not found"):
        OnnxDepthModel(tmp_path / "nope.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(DataError, match="junk.onnx"):
        OnnxDepthModel(tmp_path / "junk.onnx")


def test_cuda_request_without_cuda_provider_falls_back_to_cpu(tiny, caplog, monkeypatch):
    import litedepth.inference.onnx_backend as backend

    monkeypatch.setattr(backend, "available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        ort_net = OnnxDepthModel(tiny[1].path, device="cuda", threads=1)
    assert ort_net.providers == ["CPUExecutionProvider"]
    assert "no CUDAExecutionProvider" in caplog.text
