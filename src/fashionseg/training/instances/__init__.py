"""Training of instance models (``task: instances``): the engine's promises (one TrainConfig,
exact resume, DDP, AMP, EMA, time budget, TensorBoard, history.csv, best.pt) for Mask R-CNN."""
