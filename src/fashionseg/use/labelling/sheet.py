"""``fashionseg select``'s outputs: the picks list and a contact sheet of the picks (one HTML
page, thumbnails embedded, each the photo with the model's garments painted over it)."""

from __future__ import annotations

import base64
import html
import io
import sys
from pathlib import Path

import numpy as np

from fashionseg.errors import UsageError
from fashionseg.files import atomic_write, collect_photos
from fashionseg.inference.predictor import Predictor
from fashionseg.outputs import OutputPlan, output_file
from fashionseg.use.labelling.select import Pick, choose, score_photos
from fashionseg.use.render.colors import overlay

THUMB_HEIGHT = 220


def select_photos(
    model: str | Path,
    inputs: list[str | Path],
    budget: int,
    out: str | Path,
    sheet: str | Path | None = None,
    batch_size: int = 8,
    device: str = "auto",
    overwrite: bool = False,
    progress: bool = True,
) -> list[Pick]:
    """Rank the photos of ``inputs`` (``use/labelling/select.py``), write the ``budget`` picks
    to ``out`` (one path a line, first pick first) and their contact sheet to ``sheet``
    (default: ``out`` with ``.html``)."""
    if budget < 1:
        raise UsageError(f"--budget {budget}: pick at least one photo")
    photos = collect_photos(inputs)
    sheet = Path(sheet) if sheet else Path(out).with_suffix(".html")
    # The picks' folder keeps the record of the files select wrote, so a rerun replaces them
    # and nothing else (outputs.OutputPlan).
    plan = OutputPlan(Path(out).parent, inputs, overwrite, "select")
    for path, flag in ((out, "--out"), (sheet, "--sheet")):
        output_file(path, inputs)
        plan.add(path, flag, named=True)
    plan.check()
    predictor = Predictor(model, device)
    scored, failed = score_photos(predictor, photos, batch_size, progress)
    for path, reason in failed:
        print(f"{path}: {reason}; left out", file=sys.stderr)
    picks = choose(scored, budget)
    plan.commit()
    atomic_write(out, "".join(f"{p.photo.path}\n" for p in picks))
    atomic_write(sheet, contact_sheet(predictor, picks, len(scored)))
    return picks


def contact_sheet(predictor: Predictor, picks: list[Pick], pool: int) -> str:
    """The picks as one page: rank, gain, uncertainty, the garments the model sees, and the
    photo painted with its label map."""
    names = predictor.categories.names()
    cells = []
    for pick in picks:
        photo, canvas = predictor.photo_and_canvas(pick.photo.path)
        logits = predictor.logits(canvas[None])[0]
        labels = predictor.labels(logits, photo.height, photo.width)
        image = overlay(np.asarray(photo), labels, len(names))
        seen = ", ".join(names[v] for v in sorted(pick.photo.values)) or "no garments"
        cells.append(
            f'<figure><img src="data:image/jpeg;base64,{_thumbnail(image)}" alt="">'
            f"<figcaption><b>{pick.rank}.</b> {html.escape(pick.photo.path.name)}<br>"
            f"uncertainty {pick.photo.uncertainty:.3f}, gain {pick.gain:.3f}<br>"
            f"<small>{html.escape(seen)}</small></figcaption></figure>"
        )
    return (
        "<!doctype html><meta charset=utf-8><title>fashionseg select</title><style>"
        "body{font-family:sans-serif;margin:1.5em}figure{display:inline-block;margin:.4em;"
        f"width:{THUMB_HEIGHT}px;vertical-align:top}}img{{max-width:100%}}figcaption"
        "{font-size:.8em}</style>"
        f"<h1>Photos to label next</h1><p>{len(picks)} of {pool} photos, by "
        f"{html.escape(predictor.name)}: the least sure first, rare garments favoured.</p>"
        + "".join(cells)
    )


def _thumbnail(rgb: np.ndarray) -> str:
    from PIL import Image

    image = Image.fromarray(rgb)
    image.thumbnail((THUMB_HEIGHT * 2, THUMB_HEIGHT))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return base64.b64encode(buffer.getvalue()).decode()
