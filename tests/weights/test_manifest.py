"""The manifest of published weights: its facts against their sources, user manifests, the resolver."""

from __future__ import annotations

import json
import urllib.parse

import pytest

from litedepth.cli.main import main
from litedepth.errors import CheckpointError, ConfigError
from litedepth.models import list_models
from litedepth.weights import download, load_manifest, resolve

from .conftest import write_manifest


def test_every_entry_feeds_a_registered_network_or_a_named_consumer():
    registered = set(list_models())
    manifest = load_manifest()
    assert len(manifest) >= 40
    for e in manifest:
        for net in e.networks:
            assert net in registered or net.split(":")[0] in ("detector", "teacher"), (e.name, net)
        if e.same_download_as:
            src = manifest.download_entry(e)
            assert src.archive == "zip" and src.url, e.name
        elif not e.is_hf:
            assert urllib.parse.unquote(e.url.rsplit("/", 1)[1]) == e.file or e.url.endswith("/download"), e.name


def test_torchvision_entries_match_torchvision_itself():
    """URL, sha256 prefix and size of each torchvision file are the ones torchvision publishes."""
    import torchvision.models.detection as tvd
    import torchvision.models.segmentation as tvs

    published = {}
    for enum in (tvs.DeepLabV3_MobileNet_V3_Large_Weights, tvs.DeepLabV3_ResNet50_Weights, tvs.DeepLabV3_ResNet101_Weights,
                 tvd.SSDLite320_MobileNet_V3_Large_Weights, tvd.FasterRCNN_MobileNet_V3_Large_FPN_Weights):
        for w in enum:
            published[w.url] = w.meta
    entries = [e for e in load_manifest() if e.format == "torchvision-file"]
    assert len(entries) == 5
    for e in entries:
        assert e.url in published, e.url
        assert e.file.endswith(f"-{e.checksum['sha256_prefix']}.pth")
        assert e.size_mb == pytest.approx(published[e.url]["_file_size"])


def test_monodepth2_zips_carry_the_published_md5_and_licence():
    manifest = load_manifest()
    md2 = [e for e in manifest if e.network == "monodepth2-resnet18" and e.checksum]
    assert len(md2) == 9
    assert manifest.get("monodepth2-mono+stereo-640x192").url.endswith("/mono%2Bstereo_640x192.zip")
    assert all(len(e.checksum["md5"]) == 32 and e.non_commercial for e in md2)
    poses = [e for e in manifest if e.network == "posenet-resnet18"]
    assert {manifest.download_entry(p).name for p in poses} >= {"monodepth2-mono-640x192"}


def test_list_states_non_commercial_licences_loudly(capsys):
    assert main(["weights", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.count("│") > 5}
    assert "NON-COMMERCIAL" in rows["monodepth2-mono-640x192"]
    assert "NON-COMMERCIAL" in rows["depth-anything-v2-large"]
    assert "NON-COMMERCIAL" not in rows["depth-anything-v2-small"]
    assert "0.107" in rows["lite-mono-640x192"]
    assert main(["weights", "list", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {d["name"] for d in data} == {e.name for e in load_manifest()}


def test_user_manifest_adds_and_replaces_entries(tmp_path, monkeypatch):
    path = write_manifest(tmp_path / "site.json",
                          {"name": "lite-mono-640x192", "network": "lite-mono", "format": "official-folder",
                           "url": "https://weights.example/lm.zip", "archive": "zip", "file": "lm.zip",
                           "files": ["encoder.pth", "depth.pth"], "checksum": None},
                          {"name": "site-model", "network": "lite-mono-tiny", "format": "torchvision-file",
                           "url": "https://weights.example/t.pth", "file": "t.pth", "checksum": {"sha256": "ab" * 32}})
    monkeypatch.setenv("LITEDEPTH_WEIGHTS_MANIFEST", str(path))
    manifest = load_manifest()
    assert manifest.get("lite-mono-640x192").url == "https://weights.example/lm.zip"
    assert manifest.get("site-model").source == str(path)
    assert "monodepth2-mono-640x192" in manifest


@pytest.mark.parametrize(("entry", "problem"), [
    ({"name": "x", "network": "n", "format": "official-folder", "url": "u", "file": "f", "colour": 1}, "unknown field"),
    ({"name": "x", "network": "n", "format": "zipfile", "url": "u", "file": "f"}, "format must be"),
    ({"name": "x", "network": "n", "format": "torchvision-file", "url": "u", "file": "../f"}, "plain file name"),
    ({"name": "x", "network": "n", "format": "torchvision-file", "url": "u", "file": "f", "checksum": {"md5": "xyz"}},
     "not hexadecimal"),
    ({"name": "x", "network": "n", "format": "hf-folder", "files": ["config.json"]}, "needs 'hf_repo'"),
])
def test_invalid_user_manifest_names_the_file_and_the_problem(tmp_path, entry, problem):
    path = write_manifest(tmp_path / "bad.json", entry)
    with pytest.raises(ConfigError, match=problem) as info:
        load_manifest(path)
    assert str(path) in str(info.value)


def test_resolve_paths_names_and_mistakes(tmp_path):
    f = tmp_path / "w.pth"
    f.write_bytes(b"")
    assert resolve(f) == f and resolve(str(f)) == f
    with pytest.raises(CheckpointError, match="did you mean lite-mono-tiny-640x192"):
        resolve("lite-mono-tiny-640")
    with pytest.raises(ConfigError, match="'lite-mono-640x192' are for lite-mono, not 'monodepth2-resnet18'"):
        resolve("lite-mono-640x192", network="monodepth2-resnet18")
    with pytest.raises(CheckpointError, match=r"Run `litedepth weights download monodepth2-mono-640x192` "
                                              r"\(https://storage\.googleapis\.com/.*mono_640x192\.zip"):
        resolve("monodepth2-mono-640x192", network="monodepth2-resnet18")


def _fake_hub_cache(root, repo: str, files: list[str]):
    commit = "0123456789abcdef0123456789abcdef01234567"
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snap = folder / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in files:
        (snap / f).write_text("{}")
    return snap


def test_hugging_face_entries_are_folders_in_the_hub_cache(tmp_path, monkeypatch, capsys):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(CheckpointError, match="not in the Hugging Face cache. Run `litedepth weights download "
                                              "depth-anything-v2-small`"):
        resolve("depth-anything-v2-small")
    assert main(["weights", "download", "depth-anything-v2-base"]) == 2  # HF_HUB_OFFLINE=1 in the tests
    captured = capsys.readouterr()
    assert "CC-BY-NC-4.0: NON-COMMERCIAL" in captured.out  # the licence is printed before the attempt
    assert "cannot download depth-anything/Depth-Anything-V2-Base-hf" in captured.err
    assert captured.err.count("\n") == 1
    snap = _fake_hub_cache(tmp_path / "hub", "depth-anything/Depth-Anything-V2-Small-hf",
                           ["config.json", "model.safetensors", "preprocessor_config.json"])
    assert resolve("depth-anything-v2-small", network="teacher:hf-depth-estimation") == snap
    assert download("depth-anything-v2-small").already_present
