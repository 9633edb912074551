"""A real Label Studio server for the labelling tests and the docs' screenshot: the PyPI
package in a venv of its own (``make labelling-venv``; its dependencies would clash with
fashionseg's), SQLite in a temporary folder, on 127.0.0.1, serving local files under a root.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fashionseg-test-token"
EMAIL = "test@fashionseg.invalid"
PASSWORD = "fashionseg-test-password"


def labelling_venv() -> Path | None:
    """The venv holding Label Studio, its SDK and Datumaro (None where it was not made)."""
    venv = Path(os.environ.get("FASHIONSEG_LABELLING_VENV", ROOT / ".venv-labelling"))
    return venv if (venv / "bin" / "label-studio").is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabelStudio:
    """``label-studio start`` in a fresh process group; ``call`` speaks its REST API.

    Args:
        venv: the labelling venv.
        data_dir: where its SQLite database and uploads go.
        files_root: the folder it serves as local files (``/data/local-files/?d=``).
    """

    def __init__(self, venv: Path, data_dir: Path, files_root: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.files_root = Path(files_root).resolve()
        env = dict(
            os.environ,
            DJANGO_DB="sqlite",
            LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
            LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED="true",
            LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=str(self.files_root),
            # The fixed token of --user-token is a "legacy" token, off by default since 1.20.
            LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
            SENTRY_DSN="",
            FRONTEND_SENTRY_DSN="",
        )
        self.log = open(Path(data_dir) / "label-studio.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(venv / "bin" / "label-studio"), "start", "--no-browser", "--host", "127.0.0.1",
             "--port", str(self.port), "--username", EMAIL, "--password", PASSWORD,
             "--user-token", TOKEN],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def wait(self, timeout: float = 240) -> None:
        """Until ``/health`` answers (about 50 s after a first start on a 2-core machine)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"label-studio exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(1)
        raise TimeoutError(f"label-studio did not answer /health in {timeout:.0f} s")

    def call(self, method: str, path: str, body=None, raw: bool = False):
        """One API request with the token; JSON in and out (bytes with ``raw``)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method,
            headers={"Authorization": f"Token {TOKEN}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=120) as r:
            text = r.read()
        return text if raw else json.loads(text or b"null")

    def project(self, title: str, config: str, storage: Path | None = None) -> int:
        """A new project with a labelling configuration, and a local-files storage of
        ``storage`` (a folder under the files root) so that its photos may be served."""
        project = self.call("POST", "/api/projects", {"title": title, "label_config": config})
        if storage is not None:
            self.call("POST", "/api/storages/localfiles", {
                "project": project["id"], "path": str(Path(storage).resolve()),
                "title": "photos", "use_blob_urls": False,
            })  # fmt: skip
        return project["id"]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def __enter__(self) -> LabelStudio:
        try:
            self.wait()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_) -> None:
        self.stop()
