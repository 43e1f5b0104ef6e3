"""A time budget for building a model: checked while its rows are built, not after.

A PuLP model is Python objects built row by row, and a build once started cannot be stopped from outside:
on the 856-table instance the aggregate LP's build alone is seconds, most of a 3 s limit.  So the builders
of the decomposed method (:mod:`.decomposed`) call :meth:`BuildBudget.check` after every item; it
measures the build's own rate so far (seconds per item, on this machine at its present load) and raises
:class:`OverBudget` as soon as

- the deadline less the time the solver needs after the build has passed, or
- at that rate the items left would end the build past it (projected once PROJECT_AFTER of the items are
  built: the first rows pay PuLP's warm-up, and one item's time is noise).

The stage is then abandoned after a small share of its build instead of all of it, and its caller falls back
to the best plan so far, with the exception's message as the note saying why.

    budget = BuildBudget(deadline, solve_s=0.1, what="the aggregate LP")
    for i in range(n):
        build_item(i)
        budget.check(i + 1, n)          # OverBudget: stop building, fall back
"""
from __future__ import annotations

import time

PROJECT_AFTER = 0.05     # assumption: the items of one model are alike rows; 5% of them give the build's rate


class OverBudget(Exception):
    """A model's build cannot end in time for its solve; the message says how far it got and why."""


class BuildBudget:
    """The deadline (``time.perf_counter`` seconds) by which a build must end, ``solve_s`` before it."""

    def __init__(self, deadline: float, solve_s: float, what: str):
        self.t0 = time.perf_counter()
        self.end = deadline - solve_s
        self.solve_s = solve_s
        self.what = what

    def check(self, done: int, total: int) -> None:
        """Raise OverBudget if the build of ``total`` items, ``done`` of them built, cannot end in time."""
        now = time.perf_counter()
        spent = now - self.t0
        if now > self.end:
            raise OverBudget(f"{self.what} abandoned: {done} of {total} items built in {spent:.2f} s, "
                             f"its budget ({self.end - self.t0 + self.solve_s:.2f} s with {self.solve_s:g} s "
                             f"for the solver) spent")
        if done < total and done >= max(1, PROJECT_AFTER * total):
            rest = spent / done * (total - done)
            if now + rest > self.end:
                raise OverBudget(f"{self.what} abandoned: {done} of {total} items built in {spent:.2f} s; at "
                                 f"that rate the rest takes {rest:.2f} s, past its budget "
                                 f"({self.end - self.t0 + self.solve_s:.2f} s with {self.solve_s:g} s for the solver)")


__all__ = ["BuildBudget", "OverBudget", "PROJECT_AFTER"]
