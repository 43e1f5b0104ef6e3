"""The independent plan validator accepts solved plans and names the problem in hand-broken ones."""
import copy

import pytest

from cm_toys import toy_model, toy_system
from embsim.cost_model.plan import load_plan
from embsim.cost_model.solve import solve_plan
from embsim.cost_model.validate import check_plan, plan_problems
from embsim.errors import InputError


@pytest.fixture(scope="module")
def solved():
    model = toy_model(5, 3)
    total = sum(t.bytes for t in model.tables)
    system = toy_system(3, fast_B=0.05 * total / 3, slow_B=total)
    return model, system, solve_plan(model, system, solver="highs", time_limit_s=20)


def broken(plan, fn):
    p = copy.deepcopy(plan)
    fn(p)
    return p


def split_table(plan):
    return next(t for t in plan.tables if len(t.shards) >= 2)


def test_solved_plan_is_clean_and_round_trips(solved, tmp_path):
    model, system, plan = solved
    assert plan_problems(plan, system, model) == []
    plan.save(tmp_path / "p.json")
    again = load_plan(tmp_path / "p.json")
    assert plan_problems(again, system, model) == []
    assert again.makespan_s == plan.makespan_s


def _gap(p):
    t = split_table(p)
    t.shards[1].rank_lo += 0.01


def _overlap(p):
    t = split_table(p)
    t.shards[1].rank_lo -= 0.01


def _shares(p):
    p.tables[0].shards[0].access_share += 0.2


def _slot(p):
    p.tables[0].shards[0].tier = "hbm"


def _over(p):
    p.tables[0].representation.bytes *= 1e6


def _missing(p):
    p.tables.pop()


def _dup(p):
    p.tables.append(copy.deepcopy(p.tables[0]))


def _short(p):
    t = split_table(p)
    t.shards.pop()


@pytest.mark.parametrize("breaker,fragment", [
    (_gap, "gap"), (_overlap, "overlap"), (_shares, "sum to"), (_slot, "does not exist"),
    (_over, "capacity"), (_missing, "missing from the plan"), (_dup, "more than once"), (_short, "end at"),
])
def test_broken_plans_are_caught(solved, breaker, fragment):
    model, system, plan = solved
    bad = broken(plan, breaker)
    probs = plan_problems(bad, system, model)
    assert any(fragment in p for p in probs), probs
    with pytest.raises(InputError) as e:
        check_plan(bad, system, model)
    assert "\n" not in str(e.value)


def test_bad_plan_json(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text('{"model": "m"}')
    with pytest.raises(InputError, match="not a valid sharding plan"):
        load_plan(p)
    p.write_text("[1, 2")
    with pytest.raises(InputError, match="not valid JSON"):
        load_plan(p)
