"""Write constraints.txt: the versions of every installed package the test suite passed with.

    .venv/bin/python tools/freeze_constraints.py      (make constraints)

torch and torchvision get a minor-version range (the same minor as installed; their CUDA
packages follow them); everything else an exact version. ``make setup`` installs under these
constraints, so the README's commands resolve the same way next month; ``make setup-latest``
ignores them to try the newest releases.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

RANGED = {"torch", "torchvision"}
SKIP = re.compile(r"^(nvidia-|cuda-|triton$|fashionseg$|pip$|setuptools$|wheel$)")


def main() -> None:
    lines = []
    for dist in sorted(metadata.distributions(), key=lambda d: d.metadata["Name"].lower()):
        name = dist.metadata["Name"].lower().replace("_", "-")
        if SKIP.match(name):
            continue
        version = dist.version
        if name in RANGED:
            major, minor = (int(v) for v in version.split(".")[:2])
            lines.append(f"{name}>={major}.{minor},<{major}.{minor + 1}")
        else:
            lines.append(f"{name}=={version}")
    header = "# Versions `make test` last passed with; regenerate with `make constraints`.\n"
    Path("constraints.txt").write_text(header + "\n".join(sorted(set(lines))) + "\n")


if __name__ == "__main__":
    main()
