"""Train: the loop, its steps, batches, losses, metrics, semi-supervision."""
