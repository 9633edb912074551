"""The one door for outside structured data: every JSON, manifest and table a command reads is
decoded against a declared schema here (msgspec ``Struct``s with bounds on every number and
size), and checked across fields (coordinates inside the photo, RLE that covers exactly its
pixels, unique ids, known categories and attributes) before any other code, and any C code,
sees it.

msgspec was chosen over pydantic by measurement (``docs/benchmarks.md``): on a 62 MB
Fashionpedia-shaped COCO file it decodes and validates in 0.72 s at 345 MB peak, where
``json.load`` alone takes 1.29 s (421 MB) and pydantic's ``model_validate_json`` 2.79 s (680 MB).

- ``door.py``: decoding a document (one line naming the file and the JSON path) or its items
  one by one (a bad item is named and skipped).
- ``types.py``: the bounded numbers, names, polygons and RLE the schemas share.
- ``coco.py``: COCO ground truth (Fashionpedia, ModaNet) and results files.
- ``sources.py``: DeepFashion2's per-photo files.
- ``predictions.py``: predict's JSON document of a photo.
- ``manifest.py``: a download's ``manifest.json``.
"""
