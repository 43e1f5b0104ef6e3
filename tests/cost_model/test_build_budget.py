"""BuildBudget: a build is stopped when its deadline has passed, or when its own measured rate says the
items left cannot be built in time; never before it has a rate (PROJECT_AFTER of the items)."""
import pytest

from embsim.cost_model import build_budget
from embsim.cost_model.build_budget import PROJECT_AFTER, BuildBudget, OverBudget


class _Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = _Clock()
    monkeypatch.setattr(build_budget.time, "perf_counter", c)
    return c


def test_a_build_that_fits_at_its_rate_goes_on(clock):
    budget = BuildBudget(clock.now + 10.0, solve_s=1.0, what="the LP's build")
    for done in range(1, 101):
        clock.now += 0.08            # 100 items at 0.08 s: 8 s, within the 9 s before the solve's second
        budget.check(done, 100)


def test_a_build_whose_rate_overruns_is_stopped_once_it_has_a_rate(clock):
    budget = BuildBudget(clock.now + 10.0, solve_s=1.0, what="the LP's build")
    total, first = 1000, int(PROJECT_AFTER * 1000)
    with pytest.raises(OverBudget, match=f"the LP's build abandoned: {first} of {total} items"):
        for done in range(1, total + 1):
            clock.now += 0.01        # 10 s for the build: past the 9 s it has
            budget.check(done, total)
    assert clock.now - 100.0 == pytest.approx(first * 0.01)     # stopped after 5% of the build, not all of it


def test_no_projection_before_the_sample_but_the_deadline_holds(clock):
    budget = BuildBudget(clock.now + 1.0, solve_s=0.5, what="x")
    clock.now += 0.1                 # 1 of 100 items in 0.1 s: 10 s at that rate, but one item is no rate
    budget.check(1, 100)
    clock.now += 0.5                 # the deadline less the solver's time has passed
    with pytest.raises(OverBudget, match="budget .* spent"):
        budget.check(2, 100)
