"""Bounds on sizes and numbers, checked where an input is read, before any work.

A count a user gives (queries, batches, rows, cache rows) becomes arrays; one
that the machine cannot hold is refused with the field named, instead of a
MemoryError or an int64 overflow minutes later.
"""
import math
import os

import numpy as np

from .errors import InputError

INT64_MAX = int(np.iinfo(np.int64).max)
# Largest row count of one table: row ids are int64 and global ids add every table's rows.
MAX_TABLE_ROWS = 2 ** 48
MAX_TOTAL_ROWS = 2 ** 62
MAX_TABLE_COUNT = 100_000       # tables of one model (dlrm_datasets has under a thousand)
MAX_DIM = 2 ** 16               # values per embedding row
MAX_POOLING = 10 ** 6           # mean lookups per sample of one table
MAX_SEED = 2 ** 63 - 1


def memory_B():
    """Physical memory of this machine in bytes (a generous bound if unknown)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 2 ** 40


def check_allocation(n_bytes, what):
    """InputError if ``n_bytes`` (of ``what``, e.g. "--batches 1e9: the trace's indices") exceed memory."""
    if not math.isfinite(n_bytes) or n_bytes > memory_B():
        raise InputError(f"{what} need {n_bytes / 2 ** 30:.3g} GiB, more than this machine's "
                         f"{memory_B() / 2 ** 30:.3g} GiB of memory; expected a smaller size")


def check_finite(value, name, lo=None, hi=None, lo_open=False):
    """InputError unless ``value`` is a finite number in [lo, hi] (``lo_open``: > lo); returns it as float."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name}: {value!r}: expected a number") from None
    bad = not math.isfinite(v) or (lo is not None and (v <= lo if lo_open else v < lo)) or (hi is not None and v > hi)
    if bad:
        rng = []
        if lo is not None:
            rng.append(f"{'>' if lo_open else '>='} {lo:g}")
        if hi is not None:
            rng.append(f"<= {hi:g}")
        raise InputError(f"{name}: {value!r}: expected a finite number{' ' + ' and '.join(rng) if rng else ''}")
    return v
