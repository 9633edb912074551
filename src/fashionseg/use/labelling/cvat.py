"""CVAT: predict's documents as a "CVAT for images 1.1" annotation file, one ``<mask>`` per
garment (or instance) with its attributes, and the label constructor's JSON for a model.

Why this format rather than COCO 1.0: it is CVAT's own, so the labels it declares (colours,
attribute types) are what CVAT creates, and its masks are cut to their box, which keeps files
of large photos small; CVAT imports masks from it as masks and attributes as typed checkboxes,
and Datumaro reads it too. A mask's ``rle`` is the run lengths of its box, row by row, starting with a run of background (``data/cvat_rle.py``).
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from fashionseg.data.categories import NUM_GARMENTS, palette
from fashionseg.data.cvat_rle import mask_runs
from fashionseg.data.rle import rle_decode

SOURCE = "auto"  # CVAT's word for shapes made by a model


def _applies(class_id: int) -> bool:
    """Fashionpedia gives attributes to garments, not to their parts or accessories."""
    return class_id < NUM_GARMENTS


def label_spec(names: list[str], attributes: dict[int, str] | None = None) -> list[dict]:
    """CVAT's label constructor (Raw tab) for categories ``names`` (background first): mask
    labels in fashionseg's overlay colours, with the attributes as checkboxes on garments."""
    pal = palette(len(names))
    return [
        {
            "name": name,
            "color": "#{:02x}{:02x}{:02x}".format(*pal[v]),
            "type": "mask",
            "attributes": [
                {
                    "name": a,
                    "mutable": False,
                    "input_type": "checkbox",
                    "default_value": "false",
                    "values": ["false"],
                }  # fmt: skip
                for _, a in sorted((attributes or {}).items())
            ]
            if _applies(v - 1)
            else [],
        }
        for v, name in enumerate(names)
        if v
    ]


def cvat_xml(items: list[tuple[str, dict]], spec: list[dict]) -> str:
    """The annotation file for (image name, predict's document) pairs and the label spec."""
    out = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "<version>1.1</version>"]
    out += ["<meta><task><name>fashionseg</name>", f"<size>{len(items)}</size>"]
    out += ["<mode>annotation</mode><labels>"]
    for label in spec:
        out.append(f"<label><name>{escape(label['name'])}</name><color>{label['color']}</color>")
        out.append("<type>mask</type><attributes>")
        for a in label["attributes"]:
            out.append(
                f"<attribute><name>{escape(a['name'])}</name><mutable>False</mutable>"
                "<input_type>checkbox</input_type><default_value>false</default_value>"
                "<values>false</values></attribute>"
            )
        out.append("</attributes></label>")
    out.append("</labels></task></meta>")
    for frame, (name, doc) in enumerate(items):
        out += _image(frame, name, doc)
    out.append("</annotations>")
    return "\n".join(out) + "\n"


def _image(frame: int, name: str, doc: dict) -> list[str]:
    h, w = doc["image"]["height"], doc["image"]["width"]
    lines = [f"<image id={quoteattr(str(frame))} name={quoteattr(name)} width=\"{w}\" height=\"{h}\">"]  # fmt: skip
    for z, region in enumerate(doc.get("instances", doc["garments"])):
        mask = rle_decode(region["rle"], h, w)
        if not mask.any():
            continue
        left, top, mw, mh, runs = mask_runs(mask)
        lines.append(
            f'<mask label={quoteattr(region["name"])} source="{SOURCE}" occluded="0" '
            f'rle="{", ".join(map(str, runs))}" left="{left}" top="{top}" '
            f'width="{mw}" height="{mh}" z_order="{z}">'
        )
        for a in region.get("attributes", []) if _applies(region["class_id"]) else []:
            lines.append(f"<attribute name={quoteattr(a['name'])}>true</attribute>")
        lines.append("</mask>")
    lines.append("</image>")
    return lines


def image_name(path: str | Path, root: str | Path) -> str:
    """A photo's name in the file: its path under ``root`` (CVAT matches names to the task's
    files; files uploaded flat match by file name), else its file name."""
    path, root = Path(path).resolve(), Path(root).resolve()
    return path.relative_to(root).as_posix() if root in path.parents else path.name
