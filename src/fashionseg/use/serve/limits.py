"""The server's defaults, in one torch-free place that the command line and the app share."""

MAX_BYTES = 10_000_000  # uploads above get 413
MAX_PIXELS = 40_000_000  # photos above get 422
MAX_BATCH = 8  # requests batched into one forward pass
