"""Checkpoints and weights files are read with weights_only=True and every problem is one line
naming the file: empty, truncated, legacy format, objects beyond weights (refused, no code runs),
not a PyTorch file."""

from __future__ import annotations

import pytest
import torch

from litedepth.errors import CheckpointError
from litedepth.tasks.engine import read_checkpoint
from litedepth.utils.torch_files import load_torch_file

RAN = []


class Payload:
    """Unpickling this would call RAN.append: it must never happen."""

    def __reduce__(self):
        return (RAN.append, ("code from the file ran",))


@pytest.fixture
def files(tmp_path):
    good = {"state_dict": {"w": torch.ones(2)}, "hyper_parameters": {"network": "lite-mono-tiny"}}
    torch.save(good, tmp_path / "good.ckpt")
    torch.save(good, tmp_path / "legacy.ckpt", _use_new_zipfile_serialization=False)
    torch.save({"state_dict": Payload()}, tmp_path / "objects.ckpt")
    torch.save({"state_dict": Payload()}, tmp_path / "legacy-objects.ckpt", _use_new_zipfile_serialization=False)
    (tmp_path / "empty.ckpt").write_bytes(b"")
    data = (tmp_path / "good.ckpt").read_bytes()
    (tmp_path / "truncated.ckpt").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.ckpt").write_text("hello")
    (tmp_path / "garbage.ckpt").write_bytes(b"\x00garbage")
    return tmp_path


@pytest.mark.parametrize("name, message", [
    ("empty.ckpt", "cannot read the checkpoint: empty file (0 bytes)"),
    ("truncated.ckpt", "cannot read the checkpoint: truncated or corrupt (incomplete torch.save zip archive"),
    ("objects.ckpt", "refused: the checkpoint holds Python objects besides weights (Unsupported global: GLOBAL "),
    ("legacy-objects.ckpt", "refused: the checkpoint holds Python objects besides weights"),
    ("text.ckpt", "cannot read the checkpoint: not a PyTorch file"),
    ("garbage.ckpt", "cannot read the checkpoint: not a PyTorch file (Unsupported operand 0)"),
    ("missing.ckpt", "checkpoint not found"),
])
@pytest.mark.parametrize("mmap", [False, True])
def test_bad_files_are_one_line_errors(files, name, message, mmap):
    with pytest.raises(CheckpointError) as info:
        read_checkpoint(files / name, mmap=mmap)
    text = str(info.value)
    assert text.startswith(f"{files / name}: {message}") and "\n" not in text and "mmap" not in text
    assert not RAN


@pytest.mark.parametrize("name", ["good.ckpt", "legacy.ckpt"])
def test_good_and_legacy_format_files_load(files, name):
    for mmap in (False, True):  # legacy files cannot be mapped: they are read instead
        ckpt = read_checkpoint(files / name, mmap=mmap)
        assert torch.equal(ckpt["state_dict"]["w"], torch.ones(2))


def test_weights_files_use_the_same_reader(files):
    from litedepth.models.pretrained import load_pretrained

    with pytest.raises(CheckpointError, match=r"empty\.ckpt: cannot read the weights file: empty file \(0 bytes\)"):
        load_pretrained("lite-mono-tiny", files / "empty.ckpt")
    with pytest.raises(CheckpointError, match="refused"):
        load_torch_file(files / "objects.ckpt", "weights file")
    assert not RAN
