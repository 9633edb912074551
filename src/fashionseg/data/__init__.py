"""Read, compose and prepare fashion segmentation data. Pure NumPy at the core."""

from fashionseg.data.rle import RLEError, rle_decode, rle_encode

__all__ = ["RLEError", "rle_decode", "rle_encode"]
