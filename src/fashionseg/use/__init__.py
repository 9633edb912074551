"""Use a trained model: inference, predict, analyze, export, quantize, serve."""
