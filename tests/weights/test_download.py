"""Downloading published weights from a local HTTP server: resume, checksums, offline, zips."""

from __future__ import annotations

import io
import json
import os
import socket
import zipfile

import numpy as np
import pytest

from litedepth.cli.main import main
from litedepth.errors import CheckpointError
from litedepth.weights import download, is_present, load_manifest, resolve, weights_dir
from litedepth.weights.fetch import UnsafeArchive, safe_extract_zip

from .conftest import md5, sha256, write_manifest

BLOB = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()


def _file_entry(server, name="blob", checksum="sha256", data=BLOB) -> dict:
    digest = {"sha256": {"sha256": sha256(data)}, "md5": {"md5": md5(data)},
              "prefix": {"sha256_prefix": sha256(data)[:8]}, None: None}[checksum]
    return {"name": name, "network": "test-net", "format": "torchvision-file", "url": server.url(f"{name}.pth"),
            "file": f"{name}.pth", "checksum": digest}


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def manifest_env(tmp_path, monkeypatch):
    def use(*entries: dict):
        path = write_manifest(tmp_path / "manifest.json", *entries)
        monkeypatch.setenv("LITEDEPTH_WEIGHTS_MANIFEST", str(path))
        return load_manifest()
    return use


@pytest.mark.parametrize("checksum", ["sha256", "md5", "prefix"])
def test_download_verifies_and_places_the_file(file_server, manifest_env, checksum):
    file_server.files["blob.pth"] = BLOB
    manifest = manifest_env(_file_entry(file_server, checksum=checksum))
    result = download("blob", manifest=manifest)
    assert result.path == weights_dir() / "blob" / "blob.pth"
    assert result.path.read_bytes() == BLOB and result.sha256 == sha256(BLOB)
    assert "published" in result.verified and not result.recorded
    assert resolve("blob", manifest=manifest) == result.path
    record = json.loads((weights_dir() / "blob" / ".litedepth-download.json").read_text())
    assert record["md5"] == md5(BLOB) and record["bytes"] == len(BLOB)
    assert download("blob", manifest=manifest).already_present
    assert len(file_server.requests) == 1


def test_interrupted_transfer_resumes_with_a_range_request(file_server, manifest_env):
    file_server.files["blob.pth"] = BLOB
    file_server.drops["blob.pth"] = 120_000
    manifest = manifest_env(_file_entry(file_server))
    with pytest.raises(CheckpointError, match=r"interrupted after 120000 of 300000 bytes.*run the same command again"):
        download("blob", manifest=manifest, retries=0)
    part = weights_dir() / "downloads" / "blob.pth.part"
    assert part.stat().st_size == 120_000
    assert not is_present("blob", manifest)
    result = download("blob", manifest=manifest, retries=0)  # the next run picks up the part file
    assert result.path.read_bytes() == BLOB and not part.exists()
    assert file_server.requests == [("blob.pth", None), ("blob.pth", "bytes=120000-")]


def test_dropped_connection_is_resumed_within_one_call(file_server, manifest_env):
    file_server.files["blob.pth"] = BLOB
    file_server.drops["blob.pth"] = 50_000
    manifest = manifest_env(_file_entry(file_server))
    assert download("blob", manifest=manifest, retries=2).path.read_bytes() == BLOB
    assert [r for _, r in file_server.requests] == [None, "bytes=50000-"]


def test_corrupted_file_is_rejected_and_removed(file_server, manifest_env):
    bad = bytearray(BLOB)
    bad[1234] ^= 0xFF
    file_server.files["blob.pth"] = bytes(bad)
    manifest = manifest_env(_file_entry(file_server, checksum="md5"))
    with pytest.raises(CheckpointError, match=f"md5 is {md5(bytes(bad))}, expected {md5(BLOB)}.*deleted"):
        download("blob", manifest=manifest)
    leftovers = [p for p in weights_dir().rglob("*") if p.is_file() and p.name != "sha256-recorded.json"]
    assert leftovers == []  # neither the final name nor the part file
    assert not is_present("blob", manifest)


def test_mirror_serves_a_builtin_entry_and_its_published_md5_is_checked(file_server, monkeypatch):
    """The Monodepth2 md5 of the real manifest rejects a file that is not the published zip."""
    file_server.files["mono_640x192.zip"] = _zip({"encoder.pth": b"x", "depth.pth": b"y"})
    monkeypatch.setenv("LITEDEPTH_WEIGHTS_MIRROR", f"http://127.0.0.1:{file_server.port}/")
    with pytest.raises(CheckpointError, match=r"mono_640x192\.zip: md5 is [0-9a-f]{32}, expected "
                                              "a964b8356e08a02d009609d9e3928f7c"):
        download("monodepth2-mono-640x192")
    assert file_server.requests == [("mono_640x192.zip", None)]
    assert not (weights_dir() / "monodepth2-mono-640x192").exists()


def test_no_published_checksum_records_the_first_sha256_and_holds_later_downloads_to_it(
        file_server, manifest_env, capsys):
    file_server.files["blob.pth"] = BLOB
    manifest_env(_file_entry(file_server, checksum=None))
    assert main(["weights", "download", "blob", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"sha256 {sha256(BLOB)}" in out and "recorded" in out
    records = json.loads((weights_dir() / "sha256-recorded.json").read_text())
    assert records["blob"]["sha256"] == sha256(BLOB)
    file_server.files["blob.pth"] = BLOB[::-1]  # the source now serves something else
    assert main(["weights", "download", "blob", "--force", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "recorded at the first download" in err and err.count("\n") == 1


def test_offline_error_names_the_url_and_where_to_put_the_file(manifest_env, capsys):
    with socket.socket() as s:  # a port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = {"name": "blob", "network": "test-net", "format": "torchvision-file",
             "url": f"http://127.0.0.1:{port}/blob.pth", "file": "blob.pth", "checksum": None}
    manifest_env(entry)
    assert main(["weights", "download", "blob", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"http://127.0.0.1:{port}/blob.pth" in err and "connection refused" in err
    assert f"save it as {weights_dir() / 'blob' / 'blob.pth'}" in err


def test_zip_download_is_unpacked_and_a_zipped_folder_flattened(file_server, manifest_env):
    data = _zip({"lite-mono/encoder.pth": b"enc", "lite-mono/depth.pth": b"dep"})  # a share service's zip
    file_server.files["w.zip"] = data
    entry = {"name": "w", "network": "lite-mono", "format": "official-folder", "url": file_server.url("w.zip"),
             "archive": "zip", "file": "w.zip", "files": ["encoder.pth", "depth.pth"], "checksum": {"md5": md5(data)}}
    manifest = manifest_env(entry)
    result = download("w", manifest=manifest)
    assert result.path == weights_dir() / "w"
    assert (result.path / "encoder.pth").read_bytes() == b"enc"
    assert not (weights_dir() / "downloads" / "w.zip").exists()  # the archive is removed once unpacked
    assert resolve("w", network="lite-mono", manifest=manifest) == result.path


def test_an_archive_placed_by_hand_is_checked_and_unpacked_offline(manifest_env):
    data = _zip({"encoder.pth": b"enc", "depth.pth": b"dep"})
    entry = {"name": "w", "network": "lite-mono", "format": "official-folder", "url": "http://127.0.0.1:9/w.zip",
             "archive": "zip", "file": "w.zip", "files": ["encoder.pth", "depth.pth"], "checksum": {"md5": md5(data)}}
    manifest = manifest_env(entry)
    with pytest.raises(CheckpointError, match="save it as .*downloads/w.zip and run `litedepth weights download w`"):
        resolve("w", manifest=manifest)
    (weights_dir() / "downloads").mkdir(parents=True)
    (weights_dir() / "downloads" / "w.zip").write_bytes(data)
    assert (download("w", manifest=manifest).path / "depth.pth").read_bytes() == b"dep"


@pytest.mark.parametrize("member", ["../evil.txt", "/abs/evil.txt", "a/../../evil.txt", "C:/evil.txt"])
def test_zip_members_outside_the_target_are_refused(tmp_path, member):
    archive = tmp_path / "bad.zip"
    archive.write_bytes(_zip({"ok.txt": b"fine", member: b"evil"}))
    with pytest.raises(UnsafeArchive, match="unsafe member"):
        safe_extract_zip(archive, tmp_path / "out")
    assert not any(p.name == "evil.txt" for p in tmp_path.rglob("*"))
    assert not (tmp_path / "out" / "ok.txt").exists()  # checked before anything is written


def test_zip_symlinks_are_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("link")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    (tmp_path / "l.zip").write_bytes(buf.getvalue())
    with pytest.raises(UnsafeArchive):
        safe_extract_zip(tmp_path / "l.zip", tmp_path / "out")


def test_unsafe_archive_download_is_an_error_and_leaves_nothing(file_server, manifest_env):
    data = _zip({"encoder.pth": b"e", "../depth.pth": b"d"})
    file_server.files["w.zip"] = data
    entry = {"name": "w", "network": "lite-mono", "format": "official-folder", "url": file_server.url("w.zip"),
             "archive": "zip", "file": "w.zip", "files": ["encoder.pth", "depth.pth"], "checksum": {"md5": md5(data)}}
    manifest = manifest_env(entry)
    with pytest.raises(CheckpointError, match="refusing to unpack"):
        download("w", manifest=manifest)
    assert sorted(p.name for p in weights_dir().rglob("*") if p.is_file()) == []
    assert not os.path.exists(weights_dir().parent / "depth.pth")
