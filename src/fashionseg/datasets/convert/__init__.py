"""Converters from other data sets' layouts to the Kaggle layout, with their label tables."""
