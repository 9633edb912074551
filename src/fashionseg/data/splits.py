"""The one way ImageIds are drawn into splits: a seeded permutation, the test share first, then
validation, the rest training. ``train`` (no test share) and ``study`` (with one) both use it,
so a study's validation photos are the ones ``train`` would hold out with the same seed once
the test photos are set aside.
"""

from __future__ import annotations

import numpy as np


def split_ids(
    ids: list[str], seed: int, val_fraction: float, test_fraction: float = 0.0
) -> dict[str, list[str]]:
    """``{"train", "val", "test"}`` lists of ImageIds (each in the order of ``ids``).

    A share above 0 gives at least one photo; a share of 0 gives none.
    """
    perm = np.random.default_rng(seed).permutation(len(ids))

    def count(fraction: float) -> int:
        return max(1, round(len(ids) * fraction)) if fraction > 0 else 0

    n_test, n_val = count(test_fraction), count(val_fraction)
    parts = {
        "test": perm[:n_test],
        "val": perm[n_test : n_test + n_val],
        "train": perm[n_test + n_val :],
    }
    return {name: [ids[i] for i in sorted(idx)] for name, idx in parts.items()}
