"""Source labels -> Fashionpedia categories, one table per data set (printed in
docs/datasets.md). ``None`` is background: body parts, skin, hair, and labels with no
Fashionpedia counterpart (those are counted and reported by the converters).

Where one source label could be several Fashionpedia categories, the choice and why:

- CCP: as ``../shared/data/ccp-fashionpedia/ccp_to_fashionpedia.json``, the mapping its
  folders were built with (blazer -> jacket; hoodie, t-shirt, top, sweatshirt -> "top, t-shirt,
  sweatshirt"; jeans, leggings -> pants; romper -> jumpsuit; jumper -> sweater).
- LIP / CIHP / ATR "upper-clothes" -> "top, t-shirt, sweatshirt": it covers shirts, T-shirts,
  sweaters and tops alike, and "top, t-shirt, sweatshirt" is the most frequent of those in
  Fashionpedia; LIP "coat" -> coat (its photos label jackets and coats alike; coat is the
  outer layer they share).
- ModaNet "outer" -> jacket (blazers, jackets and coats; jacket is the more frequent in
  Fashionpedia); "boots" and "footwear" -> shoe; "headwear" -> hat; "scarf & tie" -> scarf
  (ties are rarer than scarves in both sets).
- DeepFashion2: tops -> "top, t-shirt, sweatshirt", outwear -> jacket, trousers -> pants, the
  dresses -> dress; its sleeve lengths become Fashionpedia attributes (short sleeve -> "short
  (length)", long sleeve -> "wrist-length", vest and sling -> "sleeveless"), as the Fashionpedia
  paper's mapping of DeepFashion2 does.
"""

from __future__ import annotations

# CCP label name -> Fashionpedia name (None: background).
CCP: dict[str, str | None] = {
    "null": None, "accessories": None, "bag": "bag, wallet", "belt": "belt", "blazer": "jacket",
    "blouse": "shirt, blouse", "bodysuit": None, "boots": "shoe", "bra": None, "bracelet": None,
    "cape": "cape", "cardigan": "cardigan", "clogs": "shoe", "coat": "coat", "dress": "dress",
    "earrings": None, "flats": "shoe", "glasses": "glasses", "gloves": "glove", "hair": None,
    "hat": "hat", "heels": "shoe", "hoodie": "top, t-shirt, sweatshirt", "intimate": None,
    "jacket": "jacket", "jeans": "pants", "jumper": "sweater", "leggings": "pants",
    "loafers": "shoe", "necklace": None, "panties": None, "pants": "pants", "pumps": "shoe",
    "purse": "bag, wallet", "ring": None, "romper": "jumpsuit", "sandals": "shoe",
    "scarf": "scarf", "shirt": "shirt, blouse", "shoes": "shoe", "shorts": "shorts",
    "skin": None, "skirt": "skirt", "sneakers": "shoe", "socks": "sock",
    "stockings": "tights, stockings", "suit": None, "sunglasses": "glasses",
    "sweater": "sweater", "sweatshirt": "top, t-shirt, sweatshirt", "swimwear": None,
    "t-shirt": "top, t-shirt, sweatshirt", "tie": "tie", "tights": "tights, stockings",
    "top": "top, t-shirt, sweatshirt", "vest": "vest", "wallet": "bag, wallet",
    "watch": "watch", "wedges": "shoe",
}  # fmt: skip
# Body and skin labels of CCP: background by design, not "unmapped".
CCP_BODY = {"null", "skin", "hair"}

# LIP and CIHP (the same 20 labels), by label value.
LIP_LABELS = [
    "background", "hat", "hair", "glove", "sunglasses", "upper-clothes", "dress", "coat",
    "socks", "pants", "jumpsuits", "scarf", "skirt", "face", "left-arm", "right-arm",
    "left-leg", "right-leg", "left-shoe", "right-shoe",
]  # fmt: skip
ATR_LABELS = [
    "background", "hat", "hair", "sunglass", "upper-clothes", "skirt", "pants", "dress", "belt",
    "left-shoe", "right-shoe", "face", "left-leg", "right-leg", "left-arm", "right-arm", "bag",
    "scarf",
]  # fmt: skip
PARSING: dict[str, str | None] = {
    "background": None, "hat": "hat", "hair": None, "glove": "glove", "sunglasses": "glasses",
    "sunglass": "glasses", "upper-clothes": "top, t-shirt, sweatshirt", "dress": "dress",
    "coat": "coat", "socks": "sock", "pants": "pants", "jumpsuits": "jumpsuit",
    "scarf": "scarf", "skirt": "skirt", "face": None, "left-arm": None, "right-arm": None,
    "left-leg": None, "right-leg": None, "left-shoe": "shoe", "right-shoe": "shoe",
    "belt": "belt", "bag": "bag, wallet",
}  # fmt: skip
PARSING_BODY = {"background", "hair", "face", "left-arm", "right-arm", "left-leg", "right-leg"}
PARSING_SETS = {"lip": LIP_LABELS, "cihp": LIP_LABELS, "atr": ATR_LABELS}

# ModaNet's 13 categories, by category id.
MODANET: dict[int, tuple[str, str]] = {
    1: ("bag", "bag, wallet"), 2: ("belt", "belt"), 3: ("boots", "shoe"),
    4: ("footwear", "shoe"), 5: ("outer", "jacket"), 6: ("dress", "dress"),
    7: ("sunglasses", "glasses"), 8: ("pants", "pants"), 9: ("top", "top, t-shirt, sweatshirt"),
    10: ("shorts", "shorts"), 11: ("skirt", "skirt"), 12: ("headwear", "hat"),
    13: ("scarf & tie", "scarf"),
}  # fmt: skip

# DeepFashion2's 13 categories, by category id: (its name, Fashionpedia name, attribute names).
DEEPFASHION2: dict[int, tuple[str, str, tuple[str, ...]]] = {
    1: ("short sleeve top", "top, t-shirt, sweatshirt", ("short (length)",)),
    2: ("long sleeve top", "top, t-shirt, sweatshirt", ("wrist-length",)),
    3: ("short sleeve outwear", "jacket", ("short (length)",)),
    4: ("long sleeve outwear", "jacket", ("wrist-length",)),
    5: ("vest", "vest", ("sleeveless",)),
    6: ("sling", "top, t-shirt, sweatshirt", ("sleeveless",)),
    7: ("shorts", "shorts", ()),
    8: ("trousers", "pants", ()),
    9: ("skirt", "skirt", ()),
    10: ("short sleeve dress", "dress", ("short (length)",)),
    11: ("long sleeve dress", "dress", ("wrist-length",)),
    12: ("vest dress", "dress", ("sleeveless",)),
    13: ("sling dress", "dress", ("sleeveless",)),
}
