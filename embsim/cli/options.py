"""Click parameter types that check numbers at parse time: finite floats, bounded counts, seeds.

``click.FloatRange`` lets NaN through (every comparison with NaN is false) and
``click.INT`` takes any size; these types refuse both with the option named,
so a bad number never reaches numpy or the allocator.
"""
import math

import click

from ..limits import MAX_SEED


class FiniteFloat(click.ParamType):
    """A finite float in a range: ``FiniteFloat(0, min_open=True)`` is "> 0"."""

    name = "number"

    def __init__(self, min=None, max=None, min_open=False):
        self.min, self.max, self.min_open = min, max, min_open

    def _expected(self):
        parts = []
        if self.min is not None:
            parts.append(f"{'>' if self.min_open else '>='} {self.min:g}")
        if self.max is not None:
            parts.append(f"<= {self.max:g}")
        return "a finite number" + (" " + " and ".join(parts) if parts else "")

    def convert(self, value, param, ctx):
        if isinstance(value, float) and math.isfinite(value):
            v = value
        else:
            try:
                v = float(value)
            except (TypeError, ValueError):
                self.fail(f"{value!r}: expected {self._expected()}", param, ctx)
        lo_bad = self.min is not None and (v <= self.min if self.min_open else v < self.min)
        if not math.isfinite(v) or lo_bad or (self.max is not None and v > self.max):
            self.fail(f"{value!r}: expected {self._expected()}", param, ctx)
        return v


class Count(click.ParamType):
    """A whole number in [min, max]; click names the option on failure."""

    name = "integer"

    def __init__(self, min=1, max=None):
        self.min, self.max = min, max

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            v = value
        else:
            try:
                v = int(str(value).strip(), 10)
            except ValueError:
                self.fail(f"{value!r}: expected a whole number", param, ctx)
        if v < self.min or (self.max is not None and v > self.max):
            what = "a positive whole number" if self.min == 1 else f"a whole number >= {self.min}"
            upto = f" up to {self.max:,}" if self.max is not None else ""
            self.fail(f"{v}: expected {what}{upto}", param, ctx)
        return v


def count(min=1, max=None):
    """A whole number in [min, max] (the option and the range are named on failure)."""
    return Count(min, max)


SEED = Count(0, MAX_SEED)
# Sizes that make sense for one run, far above any real use and far below what overflows.
MAX_QUERIES = 10 ** 9
MAX_BATCH_SIZE = 2 ** 20
MAX_BATCHES = 10 ** 7
MAX_IN_FLIGHT = 10 ** 4
MAX_WORKERS = 1024
MAX_POINTS = 10 ** 6
MAX_TIME_LIMIT_S = 10 ** 6
