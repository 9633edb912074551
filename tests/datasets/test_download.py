"""fashionseg download against a local HTTP server: resume, retries, checks, manifest, disk
space, and one-line errors. Nothing here needs the internet."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from dataset_files import ccp_repository, photo, zipped
from file_server import FileServer

from fashionseg.cli import main
from fashionseg.datasets import download as dl
from fashionseg.datasets.catalog import DATASETS
from fashionseg.datasets.http import DownloadError, fetch, part_path

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))


def run(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [FASHIONSEG, *map(str, args)], capture_output=True, text=True,
        env=dict(os.environ, **(env or {})), timeout=300,
    )  # fmt: skip


def one_line(done: subprocess.CompletedProcess, *words: str) -> str:
    assert done.returncode == 2, done.stderr[-800:]
    assert "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("fashionseg download: error: "), line
    for w in words:
        assert w in line, line
    return line


def fashionpedia_files(tmp: Path) -> dict[str, bytes]:
    """Small stand-ins for Fashionpedia's seven files, in their real formats."""
    files = {}
    for name in ("train2020", "val_test2020"):
        folder = tmp / name
        photo(folder / "000001.jpg", 32, 48)
        files[f"{name}.zip"] = zipped(folder, "train" if name == "train2020" else "test")
    coco = {"images": [], "annotations": [], "categories": [], "attributes": []}
    for f in DATASETS["fashionpedia"].files:
        if f.name.endswith(".json"):
            files[f.name] = json.dumps(coco).encode()
    return files


@pytest.fixture
def ccp_server(tmp_path):
    with FileServer() as server:
        repo = ccp_repository(tmp_path / "repo")
        server.files["clothing-co-parsing-master.zip"] = zipped(repo, "clothing-co-parsing-master")
        yield server


def test_a_dropped_connection_resumes_from_the_partial_size(tmp_path):
    data = os.urandom(300_000)
    with FileServer() as server:
        server.files["a.bin"] = data
        server.faults["a.bin"] = [("drop", 100_000), ("status", 503)]
        path = fetch(f"{server.url}/a.bin", tmp_path / "a.bin", backoff=0.01, progress=False)
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
        assert server.gets("a.bin") == [None, "bytes=100000-", "bytes=100000-"]
        assert not part_path(tmp_path / "a.bin").exists()


def test_a_killed_download_continues_and_a_server_ignoring_range_restarts(tmp_path):
    data = os.urandom(50_000)
    with FileServer() as server:
        server.files["a.bin"] = data
        part_path(tmp_path / "a.bin").write_bytes(data[:20_000])  # what a killed run left
        fetch(f"{server.url}/a.bin", tmp_path / "a.bin", size=len(data), progress=False)
        assert server.gets("a.bin") == ["bytes=20000-"]
        assert (tmp_path / "a.bin").read_bytes() == data
        part_path(tmp_path / "b.bin").write_bytes(data[:20_000])
        server.files["b.bin"] = data
        server.faults["b.bin"] = [("no-range", None)]
        fetch(f"{server.url}/b.bin", tmp_path / "b.bin", progress=False)
        assert (tmp_path / "b.bin").read_bytes() == data  # not the part twice


def test_refusals_and_an_unreachable_host_are_one_line(tmp_path):
    with FileServer() as server:
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch(f"{server.url}/missing.zip", tmp_path / "m.zip", progress=False)
        server.files["a.bin"] = b"x" * 1000
        server.faults["a.bin"] = [("status", 500)] * 3
        with pytest.raises(DownloadError, match="gave up after 2 retries"):
            fetch(
                f"{server.url}/a.bin", tmp_path / "a.bin", retries=2, backoff=0.01, progress=False
            )
        port = server.httpd.server_address[1]
    done = run("download", "ccp", "--out", tmp_path / "d", "--mirror", f"http://127.0.0.1:{port}")
    one_line(done, "127.0.0.1", "no network, or the host is down")


def test_ccp_downloads_checks_unpacks_converts_and_a_rerun_fetches_nothing(ccp_server, tmp_path):
    out = tmp_path / "data"
    ccp_server.faults["clothing-co-parsing-master.zip"] = [("drop", 2_000)]
    done = run("download", "ccp", "--out", out, "--mirror", ccp_server.url)
    assert done.returncode == 0, done.stderr[-800:]
    gets = ccp_server.gets("clothing-co-parsing-master.zip")
    assert gets == [None, "bytes=2000-"]  # dropped once, resumed where it stopped
    assert f"next: fashionseg stats {out / 'ccp' / 'ccp'} --out" in done.stderr
    manifest = json.loads((out / "ccp" / "manifest.json").read_text())["files"]
    archive = ccp_server.files["clothing-co-parsing-master.zip"]
    assert (
        manifest["clothing-co-parsing-master.zip"]["sha256"] == hashlib.sha256(archive).hexdigest()
    )
    assert run("stats", out / "ccp" / "ccp", "--out", tmp_path / "stats").returncode == 0
    tags = (out / "ccp" / "ccp-unlabelled" / "tags.csv").read_text().splitlines()
    assert tags[1] == "ccp1005,90,60,8 24,accessories bag skin skirt"
    again = run("download", "ccp", "--out", out, "--mirror", ccp_server.url)
    assert again.returncode == 0, again.stderr[-800:]
    assert len(ccp_server.gets("clothing-co-parsing-master.zip")) == 2  # nothing fetched again
    assert run("download", "ccp", "--out", out, "--verify").returncode == 0
    with open(out / "ccp" / "clothing-co-parsing-master.zip", "r+b") as f:
        f.seek(100)
        f.write(b"\0")  # a changed byte in a colleague's copy
    one_line(run("download", "ccp", "--out", out, "--verify"), "1 file(s) of ccp fail")
    forced = run("download", "ccp", "--out", out, "--mirror", ccp_server.url, "--force")
    assert forced.returncode == 0 and len(ccp_server.gets("clothing-co-parsing-master.zip")) == 3


def test_a_corrupted_archive_is_refused_and_moved_aside(ccp_server, tmp_path):
    out = tmp_path / "data"
    ccp_server.faults["clothing-co-parsing-master.zip"] = [("corrupt", None)]
    line = one_line(run("download", "ccp", "--out", out, "--mirror", ccp_server.url), "CRC")
    assert "moved aside" in line
    assert (out / "ccp" / "clothing-co-parsing-master.zip.rejected").is_file()
    assert not (out / "ccp" / "source").exists() and not (out / "ccp" / "ccp").exists()
    again = run("download", "ccp", "--out", out, "--mirror", ccp_server.url)
    assert again.returncode == 0, again.stderr[-800:]  # the next run fetches it anew


def test_fashionpedia_json_without_the_readers_keys_is_refused(tmp_path):
    with FileServer() as server:
        server.files.update(fashionpedia_files(tmp_path))
        server.files["info_test2020.json"] = b'{"images": []}'
        done = run("download", "fashionpedia", "--out", tmp_path / "d", "--mirror", server.url)
        one_line(done, "info_test2020.json", "'categories'")
        server.files["info_test2020.json"] = b'{"images": [], "categories": []}'
        done = run("download", "fashionpedia", "--out", tmp_path / "d", "--mirror", server.url)
        assert done.returncode == 0, done.stderr[-800:]
        assert (tmp_path / "d" / "fashionpedia" / "train" / "000001.jpg").is_file()
        assert "instances_attributes_train2020.json" in done.stderr  # the next command


def test_too_little_disk_space_is_one_line_before_any_download(
    ccp_server, tmp_path, monkeypatch, capsys
):
    monkeypatch.setattr(dl, "free_bytes", lambda folder: 1000)
    rc = main(["download", "ccp", "--out", str(tmp_path / "d"), "--mirror", ccp_server.url])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "free" in err and "disk has 1000" not in err and "choose another --out" in err
    assert ccp_server.gets("clothing-co-parsing-master.zip") == []


def test_kaggle_without_a_token_says_what_to_do(tmp_path):
    env = {"HOME": str(tmp_path), "KAGGLE_USERNAME": "", "KAGGLE_KEY": "", "KAGGLE_CONFIG_DIR": ""}
    env = {k: v for k, v in env.items()}
    done = run("download", "imaterialist-2020", "--out", tmp_path / "d", env=env)
    one_line(done, "kaggle.json", "KAGGLE_USERNAME", "imaterialist-fashion-2020-fgvc7/rules")


def test_the_list_names_every_data_set_with_size_and_licence():
    done = run("download", "--list")
    assert done.returncode == 0
    for name in DATASETS:
        assert name in done.stdout
    assert done.stdout.count("licence:") == len(DATASETS)
