"""The server's memory over bursts of uploads: ``fashionseg serve`` (the bundled model) in its
own process, bursts of large JPEG uploads (several at once), its resident memory after each.

    python -m benchmarks.serve_memory [--bursts 3] [--uploads 60] [--at-once 8] [--size 2000x3000]

A server whose memory grows from burst to burst (freed buffers kept by the allocator,
scattered) is the finding this measures; ``use/serve/memory.py`` says what it does about it.
"""

from __future__ import annotations

import argparse
import io
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

FASHIONSEG = str(Path(sys.executable).with_name("fashionseg"))


def _rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def _photos(width: int, height: int, count: int = 6) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(count):
        buf = io.BytesIO()
        noise = rng.integers(0, 255, (height // 4, width // 4, 3), dtype=np.uint8)
        Image.fromarray(noise).resize((width, height)).save(buf, "JPEG", quality=90)
        out.append(buf.getvalue())
    return out


def measure(bursts: int, uploads: int, at_once: int, width: int, height: int) -> list[dict]:
    """One row per burst: its seconds and the server's resident memory after it (MB)."""
    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [FASHIONSEG, "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.3)
        photos = _photos(width, height)

        def one(k: int) -> int:
            files = {"file": (f"p{k}.jpg", photos[k % len(photos)])}
            return httpx.post(f"{url}/api/segment", files=files, timeout=600).status_code

        rows = [{"burst": 0, "seconds": 0.0, "rss_mb": round(_rss_mb(proc.pid))}]
        for burst in range(1, bursts + 1):
            start = time.perf_counter()
            with ThreadPoolExecutor(at_once) as pool:
                codes = set(pool.map(one, range(uploads)))
            seconds = time.perf_counter() - start
            time.sleep(2)  # the server idles
            rows.append({"burst": burst, "seconds": round(seconds, 1),
                         "rss_mb": round(_rss_mb(proc.pid)), "status": sorted(codes)})  # fmt: skip
            print(rows[-1], flush=True)
        return rows
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bursts", type=int, default=3)
    p.add_argument("--uploads", type=int, default=60)
    p.add_argument("--at-once", type=int, default=8)
    p.add_argument("--size", default="2000x3000", help="WxH of the uploaded photos")
    args = p.parse_args(argv)
    width, height = (int(v) for v in args.size.split("x"))
    measure(args.bursts, args.uploads, args.at_once, width, height)


if __name__ == "__main__":
    main()
