"""The body-region groups of the Fashionpedia categories (``predict --groups``, ``analyze
--groups``): one table, also printed in the README. Every category is in exactly one group; the
last, "garment part", keeps only the parts that touch no garment in a photo.
"""

from __future__ import annotations

# Body region -> the Fashionpedia categories in it.
GROUPS: dict[str, tuple[str, ...]] = {
    "upper body": (
        "shirt, blouse", "top, t-shirt, sweatshirt", "sweater", "cardigan", "jacket", "vest",
    ),
    "lower body": ("pants", "shorts", "skirt", "tights, stockings", "leg warmer"),
    "whole body": ("coat", "dress", "jumpsuit", "cape"),
    "footwear": ("shoe", "sock"),
    "bags": ("bag, wallet",),
    "headwear": ("hat", "headband, head covering, hair accessory"),
    "accessories": ("glasses", "tie", "glove", "watch", "belt", "scarf", "umbrella"),
    "garment part": (
        "hood", "collar", "lapel", "epaulette", "sleeve", "pocket", "neckline", "buckle",
        "zipper", "applique", "bead", "bow", "flower", "fringe", "ribbon", "rivet", "ruffle",
        "sequin", "tassel",
    ),
}  # fmt: skip
PART_GROUP = "garment part"
GROUP_NAMES = ["background", *GROUPS]  # label value -> group name
GROUP_OF = {name: group for group, names in GROUPS.items() for name in names}
