"""Giving freed memory back to the system between the stages of a big job."""
from __future__ import annotations

import gc


def release_heap() -> None:
    """Return the pages freed by the previous stage to the system.

    The reader, the solvers and the figures free their temporary arrays, but
    glibc keeps the freed pages in its heaps (for a 1M-row fit some 60 MB), so
    the next stage would start from a high-water mark it does not use.
    malloc_trim returns them; elsewhere (no glibc) this only collects garbage.
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        pass
