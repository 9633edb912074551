"""Hypothesis profiles for the door fuzzing: ``ci`` (the default, in the fast tier: a bounded
number of examples per door) and ``long`` for a manual run::

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest tests/fuzz
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Examples per door: enough in CI to meet each kind of bad value several times; the long
# profile for an hour's hunt after a change to a door.
CI_EXAMPLES = 60
LONG_EXAMPLES = 3000

settings.register_profile(
    "ci",
    max_examples=CI_EXAMPLES,
    deadline=None,  # the first example of a door compiles a Numba kernel
    derandomize=True,  # the same examples on every run: a red CI is reproducible
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=LONG_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
