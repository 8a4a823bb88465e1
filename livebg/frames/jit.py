"""Numba compilation shared by the compiled kernels of the matte and composite stages.
"""
from __future__ import annotations

from typing import Callable

from numba import njit


def compiled(function: Callable) -> Callable:
    """numba's ``njit(nogil=True)``, with the machine code cached on disk when numba finds a
    writable place for it (beside this file, or the user's cache directory). A read-only
    install run with an unwritable HOME has none: then it compiles on each start instead of
    failing (numba raises RuntimeError "no locator available" at decoration)."""
    try:
        return njit(nogil=True, cache=True)(function)
    except RuntimeError:
        return njit(nogil=True)(function)
