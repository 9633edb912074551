"""The error of a run that cannot go on."""


class TrainingError(RuntimeError):
    """A run that cannot go on (diverged loss, bad resume); the message says what to do."""
