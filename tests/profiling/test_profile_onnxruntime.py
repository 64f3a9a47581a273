"""``litedepth profile --backends eager,onnxruntime``: onnxruntime latency beside eager PyTorch
in the terminal tables and the JSON, from a temporary export or a given ``--onnx`` file."""

from __future__ import annotations

import json

import pytest
import torch

import litedepth.cli.main as cli_main
from litedepth.export import export_onnx
from litedepth.models import create_model

H, W = 32, 48


pytestmark = pytest.mark.usefixtures("one_thread")


def _profile(tmp_path, capsys, *extra: str) -> tuple[str, dict]:
    out = tmp_path / "profile.json"
    rc = cli_main.main(["profile", "--model", "lite-mono-tiny", "--height", str(H), "--width", str(W),
                        "--batch-sizes", "1,2", "--warmup", "1", "--repeats", "3", "--threads", "1",
                        "--backends", "eager,onnxruntime", "--json", str(out), *extra])
    assert rc == 0
    return capsys.readouterr().out, json.loads(out.read_text())


def test_cli_reports_onnxruntime_beside_eager(tmp_path, capsys):
    text, data = _profile(tmp_path, capsys)
    assert "eager PyTorch vs onnxruntime" in text and "eager / onnxruntime" in text
    assert "CPUExecutionProvider" in text
    rows = {(r["backend"], r["batch_size"]): r for r in data["latency"]}
    assert set(rows) == {("eager", 1), ("eager", 2), ("onnxruntime", 1), ("onnxruntime", 2)}
    comparison = data["backend_comparison"]
    assert [c["batch_size"] for c in comparison] == [1, 2]
    for c in comparison:
        eager, ort = rows[("eager", c["batch_size"])], rows[("onnxruntime", c["batch_size"])]
        assert c["eager_p50_ms"] == eager["p50_ms"] > 0 and c["onnxruntime_p50_ms"] == ort["p50_ms"] > 0
        assert c["eager_over_ort"] == pytest.approx(eager["p50_ms"] / ort["p50_ms"])
        assert ort["eager_over_ort"] == pytest.approx(c["eager_over_ort"])
    # the network was exported to a temporary file, parity-checked, and nothing was left behind
    assert data["onnx"]["exported_for_profile"] and data["onnx"]["path"] is None
    assert data["onnx"]["parity_max_abs_diff"] < 1e-4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["profile.json"]


def test_cli_times_a_given_onnx_file(tmp_path, capsys):
    torch.manual_seed(0)
    path = export_onnx(create_model("lite-mono-tiny"), tmp_path / "tiny.onnx", H, W).path
    text, data = _profile(tmp_path, capsys, "--onnx", str(path))
    assert data["onnx"] == {"path": str(path), "exported_for_profile": False, "provider": "CPUExecutionProvider",
                            "precision": "fp32"}
    assert len(data["backend_comparison"]) == 2 and "eager PyTorch vs onnxruntime" in text


def test_eager_only_has_no_comparison(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert cli_main.main(["profile", "--model", "lite-mono-tiny", "--height", str(H), "--width", str(W),
                          "--warmup", "0", "--repeats", "1", "--threads", "1", "--json", str(out)]) == 0
    assert "vs onnxruntime" not in capsys.readouterr().out
    assert json.loads(out.read_text())["backend_comparison"] == []


def test_cli_times_an_int8_file(tmp_path, capsys):
    from tests.helpers import int8_lite_mono_tiny

    path = int8_lite_mono_tiny(tmp_path, H, W)
    text, data = _profile(tmp_path, capsys, "--onnx", str(path))
    assert data["onnx"]["precision"] == "int8" and "ONNX precision" in text
    assert {r["backend"] for r in data["latency"]} == {"eager", "onnxruntime"}
