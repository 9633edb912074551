"""The Kaggle competitions, through Kaggle's own client (the ``kaggle`` package): the user's
token, their acceptance of the rules, Kaggle's servers.

The token is looked for before the client is imported: the client itself exits the process
when it finds none.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

from fashionseg.datasets.archives import IntegrityError, check_file, extract, move_aside
from fashionseg.datasets.catalog import DataSet
from fashionseg.errors import UsageError


def token_file() -> Path:
    """Where Kaggle's client reads its token."""
    return Path(os.environ.get("KAGGLE_CONFIG_DIR", Path.home() / ".kaggle")) / "kaggle.json"


def has_token() -> bool:
    return bool(os.environ.get("KAGGLE_USERNAME") and os.environ.get("KAGGLE_KEY")) or (
        token_file().is_file()
    )


def download_competition(d: DataSet, folder: Path, force: bool = False) -> None:
    """The competition's archive into ``folder``, checked and unpacked (train/, train.csv,
    label_descriptions.json: the Kaggle layout the readers open).

    Raises:
        UsageError: no token, no client, or the rules not accepted, each saying what to do.
    """
    rules = f"https://www.kaggle.com/competitions/{d.kaggle}/rules"
    if not has_token():
        raise UsageError(
            f"{d.name} comes from Kaggle: save an API token (kaggle.com > Settings > Create New "
            f"Token) as {token_file()} or set KAGGLE_USERNAME/KAGGLE_KEY, then accept {rules}"
        )
    try:
        from kaggle.api.kaggle_api_extended import KaggleApi
    except ImportError:
        raise UsageError(f"{d.name} needs Kaggle's client: pip install kaggle") from None
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / f"{d.kaggle}.zip"
    api = KaggleApi()
    try:
        api.authenticate()
        if force or not archive.exists():
            api.competition_download_files(d.kaggle, path=str(folder), force=force, quiet=False)
    except SystemExit:  # the client's way of saying the token is unusable
        raise UsageError(f"Kaggle refused the token in {token_file()}; create a new one") from None
    except Exception as e:  # the client raises its HTTP library's errors
        status = getattr(e, "status", None) or getattr(
            getattr(e, "response", None), "status_code", None
        )
        if status in (401, 403):
            raise UsageError(
                f"Kaggle says {status}: accept the competition rules at {rules}"
            ) from None
        raise UsageError(
            f"Kaggle download of {d.kaggle} failed: {str(e).splitlines()[0]}"
        ) from None
    try:
        check_file(archive)
    except IntegrityError as e:
        move_aside(archive)
        raise IntegrityError(f"{e}; moved aside, run again to fetch it anew") from None
    with zipfile.ZipFile(archive) as z:
        if "train.csv" not in z.namelist():
            raise IntegrityError(f"{archive.name}: no train.csv inside")
    if not (folder / "train.csv").exists():
        print(f"unpacking {archive.name} ...", file=sys.stderr)
        extract(archive, folder)
