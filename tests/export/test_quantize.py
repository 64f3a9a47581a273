"""FP16 / INT8 export: the quantised file is really quantised, runs, records its precision and
its parity to float32, keeps every metadata key of the float32 export, and fails cleanly."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from litedepth.errors import ConfigError, DataError
from litedepth.export import ParityError, export_onnx, read_metadata
from litedepth.export.quantize import calibration_frames, exclusion_group, precision_parity
from litedepth.inference.onnx_backend import OnnxDepthModel
from litedepth.models import DepthOutput
from litedepth.models.spec import OutputSpec

H, W = 32, 48

pytestmark = pytest.mark.usefixtures("one_thread")


class _Decoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fuse = nn.Conv2d(16, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(F.elu(self.fuse(x)), scale_factor=2.0, mode="bilinear")
        return torch.sigmoid(self.head(x))


class TinyDisparityNet(nn.Module):
    """Stem conv, strided conv, a pointwise MLP on NHWC (a MatMul, like Lite-Mono's), decoder."""

    output_kind = "disparity"
    output_spec = OutputSpec.sigmoid_disparity()

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.down = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.mlp = nn.Linear(16, 16)
        self.decoder = _Decoder()

    def forward(self, x: torch.Tensor) -> DepthOutput:
        y = F.relu(self.down(F.relu(self.stem(x))))
        y = y + self.mlp(y.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        d = self.decoder(y)
        return DepthOutput(pred=d, kind="disparity", scales=[d])


@pytest.fixture(scope="module")
def net() -> nn.Module:
    torch.manual_seed(0)
    return TinyDisparityNet().eval()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:60]
    for i in range(6):
        base = np.stack([(xx * (i + 1)) % 256, (yy * 5 + 30 * i) % 256, (xx + yy) * 2 % 256], -1)
        img = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(root / f"f{i}.png")
    (root / "notes.txt").write_text("not an image")
    return root


@pytest.fixture(scope="module")
def fp32(net, tmp_path_factory):
    return export_onnx(net, tmp_path_factory.mktemp("fp32") / "m.onnx", H, W, model_name="tiny")


def _ops(path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_calibration_frames_read_resize_and_errors(images, tmp_path):
    frames = calibration_frames(images, H, W)
    assert len(frames) == 6 and all(f.shape == (1, 3, H, W) and f.dtype == np.float32 for f in frames)
    assert 0 <= min(f.min() for f in frames) and max(f.max() for f in frames) <= 1
    assert len(calibration_frames(images, H, W, limit=3)) == 3
    with pytest.raises(DataError, match="missing: the folder does not exist"):
        calibration_frames(tmp_path / "missing", H, W)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no calibration image"):
        calibration_frames(tmp_path / "empty", H, W)
    (tmp_path / "frame.png").write_bytes(b"")
    with pytest.raises(DataError, match="frame.png: a file, not a folder of images"):
        calibration_frames(tmp_path / "frame.png", H, W)


def test_int8_export_is_quantised_records_parity_and_keeps_metadata(net, fp32, images, tmp_path):
    frames = calibration_frames(images, H, W)
    result = export_onnx(net, tmp_path / "int8.onnx", H, W, model_name="tiny", precision="int8", calibration=frames,
                         max_abs_rel=0.05)
    ops = _ops(result.path)
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # convolutions run on int8 data
    assert "DynamicQuantizeLinear" in ops or "DynamicQuantizeMatMul" in ops or "MatMulInteger" in ops
    meta = read_metadata(result.path)
    assert set(fp32.metadata) <= set(meta)  # every key of the float32 export is kept
    assert fp32.metadata["litedepth.precision"] == "fp32" and meta["litedepth.precision"] == "int8"
    assert meta["litedepth.model"] == "tiny" and meta["litedepth.output_kind"] == "disparity"
    assert int(meta["litedepth.quant_calibration_frames"]) == 6 == int(meta["litedepth.quant_parity_frames"])
    # the recorded parity is what the two files give on the same frames
    f32 = OnnxDepthModel(fp32.path, device="cpu", threads=1)
    q8 = OnnxDepthModel(result.path, device="cpu", threads=1)
    assert q8.precision == "int8" and f32.precision == "fp32"
    again = precision_parity(f32.run_numpy, q8.run_numpy, frames, "disparity", "int8")
    assert float(meta["litedepth.quant_abs_rel"]) == pytest.approx(again.abs_rel, rel=1e-3, abs=1e-6)
    assert float(meta["litedepth.quant_max_abs_diff"]) == pytest.approx(again.max_abs_diff, rel=1e-3)
    assert 0 < again.max_abs_diff < 0.05 and again.abs_rel < 0.05 and again.a1 > 0.95
    # the eager-vs-float32 parity of the export itself is still recorded
    assert float(meta["litedepth.parity_max_abs_diff"]) < 1e-4
    assert result.quantization["parity"]["abs_rel"] == pytest.approx(again.abs_rel, rel=1e-3, abs=1e-6)


def test_fp16_export(net, fp32, tmp_path):
    result = export_onnx(net, tmp_path / "fp16.onnx", H, W, model_name="tiny", precision="fp16")
    model = onnx.load(str(result.path))
    weights = [t for t in model.graph.initializer if t.dims and np.prod(t.dims) > 8]
    assert weights and all(t.data_type == onnx.TensorProto.FLOAT16 for t in weights)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT  # I/O stay float32
    assert read_metadata(result.path)["litedepth.precision"] == "fp16"
    x = torch.rand(2, 3, H, W)
    half = OnnxDepthModel(result.path, device="cpu", threads=1)(x).pred
    full = OnnxDepthModel(fp32.path, device="cpu", threads=1)(x).pred
    assert half.dtype == torch.float32 and 0 < float((half - full).abs().max()) < 2e-3
    assert result.quantization["parity"]["value_unit"] == "disparity"  # the exported spec's unit, not a guess


def test_int8_needs_calibration_and_unmet_bound_writes_nothing(net, images, tmp_path):
    with pytest.raises(ConfigError, match="calibration"):
        export_onnx(net, tmp_path / "a.onnx", H, W, precision="int8")
    with pytest.raises(ConfigError, match="precision"):
        export_onnx(net, tmp_path / "a.onnx", H, W, precision="int4")
    frames = calibration_frames(images, H, W, limit=2)
    with pytest.raises(ParityError, match="in float"):  # every stage tried: int8 is never exact
        export_onnx(net, tmp_path / "b.onnx", H, W, precision="int8", calibration=frames, max_abs_rel=0.0)
    assert not any(tmp_path.iterdir())


def test_exclusion_groups_find_head_stem_and_decoder(fp32):
    proto = onnx.load(str(fp32.path))
    convs = [n.name for n in proto.graph.node if n.op_type == "Conv"]
    assert exclusion_group(proto, "stem") == [convs[0]] == exclusion_group(proto, "input")
    assert exclusion_group(proto, "head") == [convs[-1]]
    assert set(exclusion_group(proto, "decoder")) == {n for n in convs if "/decoder/" in n} and len(convs) == 4
    assert exclusion_group(proto, "matmul") == [n.name for n in proto.graph.node if n.op_type == "MatMul"]
    assert exclusion_group(proto, "attention") == []  # no Softmax in this network
    renamed = onnx.ModelProto()
    renamed.CopyFrom(proto)
    for n in renamed.graph.node:  # scopes as Lite-Mono's export writes them: no /decoder/ level
        n.name = n.name.replace("/decoder/", "/") if "/decoder/" in n.name else n.name.replace("/net/", "/net/encoder/")
    assert len(exclusion_group(renamed, "decoder")) == 2 and len(exclusion_group(renamed, "stem")) == 1
    with pytest.raises(ConfigError, match="unknown exclusion stage"):
        exclusion_group(proto, "everything")


def test_precision_parity_known_values():
    f = np.full((1, 1, 2, 2), 0.5)
    x = np.zeros((1, 3, 2, 2), np.float32)
    p = precision_parity(lambda _: f, lambda _: f * 0.5, [x], "depth", "int8")
    # depth off by a constant factor: nothing left after median scaling
    assert (p.max_abs_diff, p.abs_rel, p.a1, p.output_scale) == (0.25, 0.0, 1.0, 0.5)
    g = np.array([[[[1.0, 1.0], [1.0, 2.0]]]])  # one pixel doubled; the median stays 1
    p = precision_parity(lambda _: np.ones((1, 1, 2, 2)), lambda _: g, [x], "depth", "fp16")
    assert p.abs_rel == pytest.approx(0.25) and p.a1 == pytest.approx(0.75) and p.mean_abs_diff == pytest.approx(0.25)


def test_parity_report_labels_relative_depth_without_metres():
    """A relative depth model's differences have no unit: the report said "m" for every depth output."""
    f = np.full((1, 1, 2, 2), 0.5)
    x = np.zeros((1, 3, 2, 2), np.float32)
    relative = precision_parity(lambda _: f, lambda _: f * 0.5, [x], "depth", "int8",
                                value_unit=OutputSpec.relative_depth().value_unit)
    assert "max |diff| 2.500e-01 (relative)" in str(relative)
    metric = precision_parity(lambda _: f, lambda _: f * 0.5, [x], "depth", "int8",
                              value_unit=OutputSpec.metric_depth().value_unit)
    assert "max |diff| 2.500e-01 m " in str(metric)


def test_gelu_is_fused_into_one_node_with_the_same_output(fp32):
    import onnxruntime as ort

    from litedepth.export.quantize import fuse_gelu

    class GeluNet(nn.Module):
        output_spec = OutputSpec.sigmoid_disparity()

        def forward(self, x: torch.Tensor) -> DepthOutput:
            d = torch.sigmoid(F.gelu(x[:, :1] * 3 - 1))
            return DepthOutput(pred=d, kind="disparity", scales=[d])

    proto = onnx.load(str(export_onnx(GeluNet(), fp32.path.parent / "gelu.onnx", H, W).path))
    assert "Erf" in {n.op_type for n in proto.graph.node}
    fused, n = fuse_gelu(proto)
    ops = [(nd.op_type, nd.domain) for nd in fused.graph.node]
    assert n == 1 and ("Gelu", "com.microsoft") in ops and not any(op == "Erf" for op, _ in ops)
    x = np.random.default_rng(0).random((2, 3, H, W), dtype=np.float32)
    run = [ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"image": x})[0]
           for m in (proto, fused)]
    np.testing.assert_allclose(run[1], run[0], atol=1e-6)
    assert fuse_gelu(fused)[1] == 0  # nothing left to fuse
