"""Synthetic photos of drawn figures wearing outfits, with the Fashionpedia categories."""
