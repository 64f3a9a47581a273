"""``profile_model`` / ``profile_table`` and the ``litedepth profile`` subcommand."""

from __future__ import annotations

import json

import pytest
import torch

import litedepth.cli.main as cli_main
from litedepth.errors import ConfigError
from litedepth.models import create_model
from litedepth.profiling import count_macs, count_params
from litedepth.profiling.report import MAC_LABELS, profile_model, profile_table, size_table_markdown, write_profile_json

H, W = 32, 48  # Lite-Mono needs multiples of 16


@pytest.fixture(autouse=True)
def _one_thread(monkeypatch):
    monkeypatch.setitem(cli_main.SUBCOMMANDS, "profile", "profile")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_result():
    torch.manual_seed(0)
    before = torch.get_num_threads()
    net = create_model("lite-mono-tiny")
    result = profile_model(net, H, W, batch_sizes=(1, 2), warmup=1, repeats=3, threads=1,
                           backends=("eager", "onnxruntime"))
    assert torch.get_num_threads() == before  # restored
    return net, result


def test_counts_match_count_macs_and_count_params(tiny_result):
    net, r = tiny_result
    x = torch.rand(1, 3, H, W)
    assert r.macs_conv_linear == count_macs(net, x, mode="conv_linear").macs
    assert r.macs_full == count_macs(net, x, mode="full").macs
    assert r.macs_full > r.macs_conv_linear  # XCA attention products
    assert r.params_total == count_params(net) == 2_147_659
    assert r.params_by_child == {"encoder": count_params(net.encoder), "decoder": count_params(net.decoder)}
    assert (r.model_name, r.input_size, r.device, r.threads) == ("lite-mono-tiny", (H, W), "cpu", 1)


def test_latency_sweep_rows(tiny_result):
    _, r = tiny_result
    assert [(row.backend, row.batch_size) for row in r.latency] == [
        ("eager", 1), ("eager", 2), ("onnxruntime", 1), ("onnxruntime", 2)]
    for row in r.latency:
        s = row.latency
        assert 0 < s.min_ms <= s.p50_ms <= s.p90_ms and s.mean_ms > 0
        assert (s.repeats, s.warmup) == (3, 1)
        assert row.per_image_ms == pytest.approx(s.p50_ms / row.batch_size)
        assert row.images_per_s > 0
        assert row.peak_memory_bytes is None or row.peak_memory_bytes >= 0
    ort_rows = r.rows("onnxruntime")
    assert all(row.provider == "CPUExecutionProvider" for row in ort_rows)
    for row, eager in zip(ort_rows, r.rows("eager")):
        assert row.eager_over_ort == pytest.approx(eager.latency.p50_ms / row.latency.p50_ms)
    assert r.onnx["parity_max_abs_diff"] < 1e-4 and r.onnx["exported_for_profile"]


def test_json_round_trip(tiny_result, tmp_path):
    _, r = tiny_result
    path = write_profile_json(r, tmp_path / "sub" / "profile.json")
    data = json.loads(path.read_text())
    assert data["macs_per_image"]["conv_linear"] == r.macs_conv_linear
    assert data["macs_per_image"]["labels"] == MAC_LABELS
    assert data["params"]["by_child"]["encoder"] == r.params_by_child["encoder"]
    assert len(data["latency"]) == 4 and data["latency"][0]["p50_ms"] > 0
    for key in ("cpu", "torch_threads", "torch", "onnxruntime", "device_name", "date"):
        assert key in data["machine"]
    assert set(data["memory_methods"]) <= {"rss_hwm_delta", "ru_maxrss_delta"}
    assert [p.name for p in path.parent.iterdir()] == ["profile.json"]  # no temporary left


def test_profile_table_and_markdown():
    rows = profile_table(["lite-mono-tiny", "monodepth2-resnet18"], 64, 96)
    assert [r.name for r in rows] == ["lite-mono-tiny", "monodepth2-resnet18"]
    md2 = create_model("monodepth2-resnet18")
    x = torch.rand(1, 3, 64, 96)
    assert rows[1].macs_conv_linear == count_macs(md2, x).macs
    assert rows[1].macs_full == count_macs(md2, x, mode="full").macs
    assert rows[1].params_total == count_params(md2) == 14_329_236
    text = size_table_markdown(rows)
    assert MAC_LABELS["conv_linear"] in text and MAC_LABELS["full"] in text
    assert "| monodepth2-resnet18 | 64x96 | 14.329M |" in text


def test_bad_arguments():
    net = create_model("lite-mono-tiny")
    with pytest.raises(ConfigError, match="backend"):
        profile_model(net, H, W, backends=("tensorrt",))
    with pytest.raises(ConfigError, match="batch sizes"):
        profile_model(net, H, W, batch_sizes=(0,))
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="cuda"):
            profile_model(net, H, W, device="cuda")


def test_cli_prints_both_mac_labels_and_writes_json(tmp_path, capsys):
    out = tmp_path / "p.json"
    rc = cli_main.main(["profile", "--model", "lite-mono-tiny", "--height", str(H), "--width", str(W),
                        "--batch-sizes", "1,2", "--warmup", "0", "--repeats", "2", "--threads", "1",
                        "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr().out
    assert "MACs (conv+linear" in text and "MACs (full" in text and "p50 ms" in text
    data = json.loads(out.read_text())
    assert [row["batch_size"] for row in data["latency"]] == [1, 2]
    assert data["threads"] == 1 and data["input_size"] == {"height": H, "width": W}


def test_cli_user_error(capsys):
    rc = cli_main.main(["profile", "--model", "lite-mono-tiny", "--backends", "eager,tensorrt"])
    assert rc == 2 and "unknown backend" in capsys.readouterr().err


def test_cli_warns_when_the_machine_is_loaded(tmp_path, capsys, monkeypatch):
    import litedepth.profiling.report as report

    busy = {"load_1min": 7.5, "load_5min": 6.0, "load_15min": 5.0, "logical_cpus": 2, "load_per_cpu": 3.75}
    monkeypatch.setattr(report, "machine_load", lambda: busy)
    out = tmp_path / "p.json"
    rc = cli_main.main(["profile", "--model", "lite-mono-tiny", "--height", str(H), "--width", str(W),
                        "--warmup", "0", "--repeats", "2", "--threads", "1", "--json", str(out)])
    assert rc == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "warning: the machine was busy: load average 7.5" in text
    data = json.loads(out.read_text())
    assert data["machine_load"] == busy
    assert len(data["warnings"]) == 1 and data["warnings"][0].startswith("the machine was busy")


def test_cli_size_is_spelt_like_predict(tmp_path, capsys):
    """``--size H W`` as ``litedepth predict`` and ``export`` take it; --height/--width must agree."""
    out = tmp_path / "p.json"
    rc = cli_main.main(["profile", "--model", "lite-mono-tiny", "--size", str(H), str(W), "--warmup", "0",
                        "--repeats", "1", "--threads", "1", "--json", str(out)])
    assert rc == 0
    assert json.loads(out.read_text())["input_size"] == {"height": H, "width": W}
    rc = cli_main.main(["profile", "--model", "lite-mono-tiny", "--size", str(H), str(W), "--width", str(W + 16)])
    assert rc == 2
    assert capsys.readouterr().err.endswith(f"error: --size {H} {W} contradicts --width {W + 16}\n")
