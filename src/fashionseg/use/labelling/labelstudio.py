"""Label Studio: the labelling configuration for a model's categories, and predict's documents
as Label Studio tasks whose predictions are one brush region per garment (or per instance).

The names here (``image``, ``garment``, ``garment_polygon``, ``attributes``) are shared by
the configuration, the tasks and ``convert labelstudio``, which reads the export back.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote
from xml.sax.saxutils import quoteattr

from fashionseg.data.brush_rle import brush_encode
from fashionseg.data.categories import palette
from fashionseg.data.rle import rle_decode
from fashionseg.data.schema.labelling import ATTRIBUTES, LOCAL_FILES, STEM

IMAGE = "image"  # the Image tag, and the task's data key of the photo
BRUSH = "garment"  # BrushLabels: predictions arrive as brushes, corrected with brush or eraser
POLYGON = "garment_polygon"  # PolygonLabels: garments may be drawn as polygons too


def labelling_config(names: list[str], attributes: dict[int, str] | None = None) -> str:
    """The labelling configuration (XML) for categories ``names`` (label value -> name,
    background first), each in the colour fashionseg's overlays give it, and the
    ``attributes`` (id -> name) as per-region choices where the model gives them."""
    pal = palette(len(names))
    labels = "".join(
        f"\n    <Label value={quoteattr(name)} background={quoteattr(_hex(pal[v]))}/>"
        for v, name in enumerate(names)
        if v
    )
    parts = [
        "<View>",
        f'  <Image name="{IMAGE}" value="${IMAGE}" zoom="true" zoomControl="true"/>',
        f'  <BrushLabels name="{BRUSH}" toName="{IMAGE}">{labels}\n  </BrushLabels>',
        f'  <PolygonLabels name="{POLYGON}" toName="{IMAGE}" strokeWidth="2" opacity="0.5">'
        f"{labels}\n  </PolygonLabels>",
    ]
    if attributes:
        choices = "".join(
            f"\n    <Choice value={quoteattr(name)}/>" for _, name in sorted(attributes.items())
        )
        parts.append(
            f'  <Choices name="{ATTRIBUTES}" toName="{IMAGE}" perRegion="true" '
            f'choice="multiple" visibleWhen="region-selected">{choices}\n  </Choices>'
        )
    return "\n".join([*parts, "</View>"]) + "\n"


def _hex(rgb) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def photo_reference(path: str | Path, url_prefix: str | None, root: str | Path) -> str:
    """What a task's ``image`` holds: ``url_prefix`` + the photo's path under ``root`` (a
    bucket or web server holding the photos as ``root`` does), or, without a prefix, the URL
    of Label Studio's local-file serving for that path (start Label Studio with
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT`` = ``root``). A photo outside ``root`` is named
    by its absolute path from the file system's root."""
    path = Path(path).resolve()
    root = Path(root).resolve()
    relative = path.relative_to(root) if root in path.parents else path.relative_to(path.anchor)
    key = relative.as_posix()
    if url_prefix:
        return url_prefix.rstrip("/") + "/" + quote(key)
    return LOCAL_FILES + quote(key, safe="/")


def task(doc: dict, stem: str, reference: str, model_version: str) -> dict:
    """One photo's Label Studio task from predict's document: a brush region per instance
    (where the document lists them) or per garment, with its category, its score where the
    model gives one, and its attributes as a per-region choice."""
    h, w = doc["image"]["height"], doc["image"]["width"]
    regions = doc.get("instances", doc["garments"])
    result, scores = [], []
    for k, region in enumerate(regions):
        rid = f"{stem}-{k + 1}"
        mask = rle_decode(region["rle"], h, w)
        brush = {
            "id": rid,
            "from_name": BRUSH,
            "to_name": IMAGE,
            "type": "brushlabels",
            "origin": "prediction",
            "original_width": w,
            "original_height": h,
            "image_rotation": 0,
            "value": {"format": "rle", "rle": brush_encode(mask), "brushlabels": [region["name"]]},
        }
        if "score" in region:
            brush["score"] = region["score"]
            scores.append(region["score"])
        result.append(brush)
        names = [a["name"] for a in region.get("attributes", [])]
        if names:
            result.append(
                {
                    "id": rid,
                    "from_name": ATTRIBUTES,
                    "to_name": IMAGE,
                    "type": "choices",
                    "origin": "prediction",
                    "original_width": w,
                    "original_height": h,
                    "value": {"choices": names},
                }
            )
    prediction = {"model_version": model_version, "result": result}
    if scores:
        prediction["score"] = round(sum(scores) / len(scores), 4)
    return {"data": {IMAGE: reference, STEM: stem}, "predictions": [prediction]}
