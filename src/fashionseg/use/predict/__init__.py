"""Using a trained model on photos: label maps, garment summaries, overlays, Kaggle CSV."""
