"""The error of a run that cannot go on."""

from fashionseg.errors import FashionsegError


class TrainingError(FashionsegError, RuntimeError):
    """A run that cannot go on (diverged loss, bad resume); the message says what to do."""
