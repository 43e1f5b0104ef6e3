import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from embsim.errors import InputError
from embsim.explorer.pareto import dominates, pareto_front, pareto_mask

OBJ = {"thr": "max", "energy": "min"}


def df_of(rows):
    return pd.DataFrame(rows, columns=["name", "thr", "energy"])


def test_hand_made_front():
    df = df_of([("a", 10, 5), ("b", 8, 3), ("c", 9, 6),      # c: a beats it on both
                ("d", 12, 9), ("e", 7, 3), ("f", 12, 10)])   # e: b beats it (tie on energy); f: d beats it
    assert sorted(pareto_front(df, OBJ)["name"]) == ["a", "b", "d"]
    assert list(pareto_front(df, OBJ)["name"]) == ["d", "a", "b"]          # sorted by the first objective


def test_duplicates_of_a_front_point_are_all_kept_and_ties_do_not_dominate():
    df = df_of([("a", 10, 5), ("a2", 10, 5), ("b", 8, 3), ("x", 10, 6), ("y", 10, 6)])
    front = pareto_front(df, OBJ)
    assert sorted(front["name"]) == ["a", "a2", "b"]       # x, y tie a on thr but lose on energy
    assert front.index.tolist() == sorted(front.index.tolist(), key=lambda i: -df.thr[i])


def test_all_equal_points_are_all_on_the_front():
    df = df_of([(str(i), 1.0, 1.0) for i in range(5)])
    assert len(pareto_front(df, OBJ)) == 5


def test_nan_and_failed_rows_are_never_on_the_front_nor_dominate():
    df = df_of([("a", 10, 5), ("nan", np.nan, 0.0), ("fail", 100, 0), ("b", 8, 3)])
    df["status"] = ["ok", "ok", "error", "ok"]
    assert sorted(pareto_front(df, OBJ)["name"]) == ["a", "b"]


def test_single_objective_and_three_objectives():
    df = df_of([("a", 10, 5), ("b", 12, 3), ("c", 12, 4)])
    assert list(pareto_front(df, {"thr": "max"})["name"]) == ["b", "c"]
    df["cost"] = [0, 3, 1]      # a is the cheapest, so no longer dominated by c
    assert sorted(pareto_front(df, {**OBJ, "cost": "min"})["name"]) == ["a", "b", "c"]


def test_unknown_objective_is_an_input_error():
    with pytest.raises(InputError, match="objective 'cost_usd' is not a column"):
        pareto_front(df_of([("a", 1, 1)]), {"cost_usd": "min"})
    with pytest.raises(InputError, match="expected 'max' or 'min'"):
        pareto_front(df_of([("a", 1, 1)]), {"thr": "up"})


values = st.lists(st.tuples(*[st.integers(0, 6)] * 3), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(values)
def test_front_is_exactly_the_non_dominated_set(rows):
    senses = ["max", "min", "max"]
    v = np.array(rows, dtype=float)
    mask = pareto_mask(v * np.array([1, -1, 1]))
    for i in range(len(rows)):
        dominated = any(dominates(rows[j], rows[i], senses) for j in range(len(rows)))
        assert mask[i] == (not dominated)
        if not mask[i]:   # every non-front point is dominated by a point on the front
            assert any(mask[j] and dominates(rows[j], rows[i], senses) for j in range(len(rows)))
