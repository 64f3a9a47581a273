"""``litedepth export``: writes a parity-checked ONNX file from a name, weights or checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import litedepth.cli.main as cli_main
from litedepth.export import read_metadata
from litedepth.inference.onnx_backend import OnnxDepthModel
from litedepth.models import create_model
from litedepth.models.lite_mono import save_official_weights


@pytest.fixture(autouse=True)
def _registered(monkeypatch):
    """Register the subcommand (a no-op once main.SUBCOMMANDS lists it) and use one thread."""
    monkeypatch.setitem(cli_main.SUBCOMMANDS, "export", "export")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _export(*args: str) -> int:
    return cli_main.main(["export", "--format", "onnx", "--height", "64", "--width", "96", *args])


def _compare(path, net, shape=(2, 3, 64, 96)) -> float:
    x = torch.rand(*shape)
    with torch.no_grad():
        eager = net.eval()(x).pred.numpy()
    return float(np.abs(OnnxDepthModel(path, device="cpu", threads=1)(x).pred.numpy() - eager).max())


def test_export_from_official_weights_folder_prints_parity(tmp_path, capsys):
    torch.manual_seed(3)
    trained = create_model("lite-mono-tiny")
    save_official_weights(trained, tmp_path / "weights")
    out = tmp_path / "out" / "tiny.onnx"
    assert _export("--model", "lite-mono-tiny", "--weights", str(tmp_path / "weights"),
                   "--output", str(out), "--dynamic-hw") == 0
    text = capsys.readouterr().out
    assert "ONNX parity" in text and "max abs diff" in text and "ok" in text and "FAILED" not in text
    assert "64x96 dynamic" in " ".join(text.split())  # the caption may wrap (terminal width)
    meta = read_metadata(out)
    assert meta["litedepth.model"] == "lite-mono-tiny" and meta["litedepth.dynamic_hw"] == "true"
    assert _compare(out, trained) < 1e-5  # the folder's weights, not a fresh initialisation


def test_export_from_checkpoint(tmp_path, capsys):
    torch.manual_seed(4)
    net = create_model("monodepth2-resnet18")
    ckpt = tmp_path / "best.ckpt"
    torch.save({"hyper_parameters": {"network": "monodepth2-resnet18", "network_options": {}},
                "state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},
                "datamodule_hyper_parameters": {"size": [64, 96]}}, ckpt)
    out = tmp_path / "md2.onnx"
    # no --height/--width: the checkpoint's training size
    assert cli_main.main(["export", "--checkpoint", str(ckpt), "--output", str(out)]) == 0
    assert "1x3x64x96" in capsys.readouterr().out
    meta = read_metadata(out)
    assert (meta["litedepth.model"], meta["litedepth.output_kind"]) == ("monodepth2-resnet18", "disparity")
    assert (meta["litedepth.input_height"], meta["litedepth.input_width"]) == ("64", "96")
    assert _compare(out, net) < 1e-5


@pytest.mark.parametrize("args, message", [
    ([], "--model NAME or --checkpoint"),
    (["--model", "no-such-net"], "unknown model"),
    (["--model", "posenet-resnet18"], "pose network"),
    (["--model", "lite-mono-tiny", "--weights", "/nonexistent/w.pth"], "not found"),
])
def test_user_errors_exit_2_with_one_line(tmp_path, capsys, args, message):
    assert _export(*args, "--output", str(tmp_path / "x.onnx")) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


@pytest.mark.parametrize("args, message", [
    (["--height", "0"], "--height/--width: lite-mono-tiny needs height and width that are positive multiples of 16, "
                        "got 0x96 (HxW)"),
    (["--width", "100"], "--height/--width: lite-mono-tiny needs height and width that are positive multiples of "
                         "16, got 64x100 (HxW)"),
])
def test_export_size_is_checked_before_any_work(tmp_path, capsys, args, message):
    out = tmp_path / "sub" / "x.onnx"
    assert _export("--model", "lite-mono-tiny", *args, "--output", str(out)) == 2
    err = capsys.readouterr().err
    assert err == f"litedepth: error: {message}\n"
    assert not (tmp_path / "sub").exists()


def test_quantisation_table_labels_metres_only_for_metric_depth():
    from litedepth.models.spec import OutputSpec

    assert OutputSpec.metric_depth().value_unit == "m"
    assert OutputSpec.relative_depth().value_unit == "(relative)"
    assert OutputSpec.sigmoid_disparity(0.1, 100.0).value_unit == "disparity"


def test_hf_folder_files_get_the_permissions_of_a_plain_open(tmp_path):
    """model.safetensors is written through a temporary file (mkstemp: 0600) like the others:
    all three get ``0o666 & ~umask``, not 0600 for the weights alone."""
    import os
    import stat

    old = os.umask(0o022)
    try:
        out = tmp_path / "hf"
        assert cli_main.main(["export", "--model", "lite-mono-tiny", "--format", "hf", "--output", str(out)]) == 0
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
    assert modes == {"config.json": 0o644, "model.safetensors": 0o644, "README.md": 0o644}


def test_size_is_spelt_like_predict(tmp_path, capsys):
    """``--size H W`` (as ``litedepth predict`` takes it); --height/--width still work."""
    out = tmp_path / "s.onnx"
    assert cli_main.main(["export", "--model", "lite-mono-tiny", "--size", "32", "48", "--output", str(out)]) == 0
    meta = read_metadata(out)
    assert (meta["litedepth.input_height"], meta["litedepth.input_width"]) == ("32", "48")
    assert "1x3x32x48" in capsys.readouterr().out
    # the same size spelt both ways is accepted
    assert cli_main.main(["export", "--model", "lite-mono-tiny", "--size", "32", "48", "--height", "32",
                          "--output", str(out)]) == 0


@pytest.mark.parametrize("args, message", [
    (["--size", "32", "48", "--height", "64"], "--size 32 48 contradicts --height 64"),
    (["--size", "32", "48", "--width", "96"], "--size 32 48 contradicts --width 96"),
    (["--size", "0", "48"], "--size: lite-mono-tiny needs height and width that are positive multiples of 16, "
                            "got 0x48 (HxW)"),
])
def test_conflicting_or_bad_size_is_refused_in_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "sub" / "x.onnx"
    assert cli_main.main(["export", "--model", "lite-mono-tiny", *args, "--output", str(out)]) == 2
    assert capsys.readouterr().err == f"litedepth: error: {message}\n"
    assert not (tmp_path / "sub").exists()


def test_size_is_refused_with_format_hf(tmp_path, capsys):
    assert cli_main.main(["export", "--model", "lite-mono-tiny", "--format", "hf", "--size", "32", "48",
                          "--output", str(tmp_path / "hf")]) == 2
    assert "--size" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--calibration", "--parity-images"])
def test_missing_calibration_folder_is_named_before_any_work(tmp_path, capsys, monkeypatch, option):
    import litedepth.cli.export as export_cli

    def no_model(*args, **kwargs):
        raise AssertionError("the model was loaded before the folders were checked")

    monkeypatch.setattr(export_cli, "load_model_from_args", no_model)
    missing = tmp_path / "nodir"
    images = tmp_path / "images"
    images.mkdir()
    (images / "a.png").write_bytes(b"")  # existence is what is checked first
    folders = {"--calibration": str(images), option: str(missing)}
    args = [a for opt, folder in folders.items() for a in (opt, folder)]
    assert _export("--model", "lite-mono-tiny", "--precision", "int8", *args,
                   "--output", str(tmp_path / "x.onnx")) == 2
    err = capsys.readouterr().err
    assert err == f"litedepth: error: {option} {missing}: the folder does not exist\n"


def test_calibration_path_that_is_a_file_is_not_called_missing(tmp_path, capsys):
    frame = tmp_path / "frame.png"
    frame.write_bytes(b"")
    assert _export("--model", "lite-mono-tiny", "--precision", "int8", "--calibration", str(frame),
                   "--output", str(tmp_path / "x.onnx")) == 2
    err = capsys.readouterr().err
    assert err == f"litedepth: error: --calibration {frame}: a file, not a folder of images\n"


def test_parity_on_a_constant_output_is_flagged_in_the_table(tmp_path, capsys, caplog):
    """A network whose depth heads output a constant (zero weights: sigmoid(bias) everywhere)
    passes any parity check; the table says the check proves little."""
    import logging

    net = create_model("lite-mono-tiny")
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("decoder.heads.") and name.endswith("weight"):
                p.zero_()
    save_official_weights(net, tmp_path / "weights")
    out = tmp_path / "c.onnx"
    with caplog.at_level(logging.WARNING, logger="litedepth"):
        assert _export("--model", "lite-mono-tiny", "--weights", str(tmp_path / "weights"),
                       "--output", str(out)) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "compares constant maps and proves little" in text
    assert "(near-)constant" in text  # the result column of the checks themselves
    assert "compares constant maps" in caplog.text
    assert out.is_file()  # a warning, not a failure
