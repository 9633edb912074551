"""The errors a user can cause. ``fashionseg.cli`` prints each as one line naming the file and
the problem, with exit status 2; anything else is a bug and shows as one.

Every stage raises a subclass of :class:`FashionsegError` for what the user can fix: a file
that is not what it claims, a setting that cannot work, a model that does not fit.
"""

from __future__ import annotations


class FashionsegError(Exception):
    """Base of every error a user can cause and fix; the message is the one line to print."""


class DataFormatError(FashionsegError, ValueError):
    """A data file or folder that cannot be read at all (as opposed to one bad image)."""


class UsageError(FashionsegError):
    """A command line that cannot work as given (flags that do not go together)."""


class ConfigError(FashionsegError, ValueError):
    """A setting that cannot work; the message names the key and the valid values."""
