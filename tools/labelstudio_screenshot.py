"""The screenshot of docs/labelling.md: Label Studio's labelling page showing fashionseg's
pre-annotations on a CCP photo, taken from a real server in headless Chromium.

    make labelling-venv
    .venv/bin/python tools/labelstudio_screenshot.py src/fashionseg/sample/ccp/train/ccp0003.jpg \
        --out docs/images/labelstudio.jpg
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from labelstudio_server import EMAIL, PASSWORD, LabelStudio, labelling_venv  # noqa: E402


def fashionseg(*args) -> str:
    run = subprocess.run([sys.executable, "-m", "fashionseg", *map(str, args)],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return run.stdout


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photo", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "labelstudio.png")
    args = p.parse_args(argv)
    venv = labelling_venv()
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if venv is None or browser is None:
        sys.exit("needs the labelling venv (make labelling-venv) and chromium")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "photos").mkdir()
        shutil.copy(args.photo, root / "photos" / args.photo.name)
        fashionseg("predict", root / "photos", "--out", root / "out", "--labelstudio",
                   root / "tasks.json", "--photo-root", root)  # fmt: skip
        config = fashionseg("label-config")
        (root / "ls").mkdir()
        with LabelStudio(venv, root / "ls", root) as studio:
            project = studio.project("fashionseg pre-annotations", config, root / "photos")
            studio.call("POST", f"/api/projects/{project}/import",
                        __import__("json").loads((root / "tasks.json").read_text()))  # fmt: skip
            task = studio.call("GET", f"/api/tasks?project={project}")["tasks"][0]["id"]
            shoot(studio.url, f"/projects/{project}/data?task={task}", browser, args.out)
    print(args.out)


def shoot(url: str, page_path: str, browser: str, out: Path) -> None:
    """Log in as the test user, open the task's labelling page, wait for the photo and its
    regions, and save the screenshot."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=browser, args=["--no-sandbox", "--disable-gpu"]
        )
        page = chromium.new_page(viewport={"width": 1500, "height": 900})
        page.goto(url + "/user/login")
        page.fill("input[name=email]", EMAIL)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle", timeout=60_000)
        if "/user/login" in page.url:
            raise SystemExit(f"could not log in to Label Studio ({page.url})")
        page.goto(url + page_path)
        page.wait_for_selector("canvas", timeout=120_000)
        page.wait_for_timeout(8_000)  # the photo and the brush layers draw after the canvas
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        chromium.close()


if __name__ == "__main__":
    main()
