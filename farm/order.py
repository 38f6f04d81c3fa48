"""The order a sweep draws its inputs in: a seeded uniformly random permutation, without replacement.

Corpora are rarely in random order (capture logs are sorted by time, statement files grouped by feature), and
a sequential stop over file order decides on the easy part; a fixed-n bound over the first N lines speaks for
those lines only. So a sweep shuffles by default, streaming: one pass spills each input to a temporary file and
keeps its offset (8 bytes an input in memory, whatever the inputs' size), then the inputs are read back in
the order of `numpy.random.default_rng(seed).permutation(N)`: every order equally likely, the same one for the
same seed on every machine (a sweep and its resume see the same sequence).
"""

from __future__ import annotations

import pickle
import secrets
import tempfile
from array import array
from collections.abc import Iterable, Iterator
from typing import Any

ORDERS = ("random", "file")


def new_seed() -> int:
    """A fresh order seed (recorded with the sweep and printed, so the order can be replayed)."""
    return secrets.randbits(31)


def shuffled(items: Iterable[Any], seed: int) -> Iterator[Any]:
    """Every item of `items` once, in a uniformly random order fixed by `seed`.

    The items are pickled to an anonymous temporary file (ours alone, deleted on close), so memory stays
    at one offset an item; the first item comes out after the whole source has been read once."""
    import numpy as np

    with tempfile.TemporaryFile(prefix="farm-order-") as fh:
        offsets = array("q")
        for item in items:
            offsets.append(fh.tell())
            pickle.dump(item, fh, protocol=pickle.HIGHEST_PROTOCOL)
        fh.flush()
        for i in np.random.default_rng(seed).permutation(len(offsets)):
            fh.seek(offsets[int(i)])
            yield pickle.load(fh)
