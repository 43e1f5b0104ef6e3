"""Greedy tier fill: hot rows first, capacities kept, exact for two tiers (against an LP)."""
import numpy as np
import pytest
from scipy.optimize import linprog

from cm_toys import Stats, toy_model, toy_system
from embsim.cost_model.placement import evaluate, fill_tiers, used_bytes
from embsim.cost_model.solve import instance_for
from embsim.errors import InputError


def lp_best(inst, d, items):
    slots = inst.dev_slots[d]
    cols, cost, groups = [], [], []
    for i in items:
        it = inst.items[i]
        for w, s in it.curve.segments():
            g = []
            for n, k in enumerate(slots):
                g.append(len(cols))
                cols.append((n, w * it.bytes[0]))
                cost.append(it.accesses * s * inst.time[i][0, k])
            groups.append(g)
    A_ub = np.zeros((len(slots), len(cols)))
    for j, (n, b) in enumerate(cols):
        A_ub[n, j] = b
    A_eq = np.zeros((len(groups), len(cols)))
    for r, g in enumerate(groups):
        A_eq[r, g] = 1
    res = linprog(cost, A_ub=A_ub, b_ub=[inst.slots[k].capacity_B for k in slots], A_eq=A_eq,
                  b_eq=np.ones(len(groups)), bounds=(0, 1), method="highs")
    return res.fun


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_tier_fill_is_optimal(seed):
    model = toy_model(5, seed)
    total = sum(t.bytes for t in model.tables)
    inst = instance_for(model, toy_system(1, fast_B=0.1 * total, slow_B=total), Stats(model, seed), split=False)
    pl = fill_tiers(inst, [0] * 5, ["dev0"] * 5)
    t, _, _ = evaluate(inst, pl)
    assert t["dev0"] == pytest.approx(lp_best(inst, "dev0", range(5)), rel=1e-9)
    used = used_bytes(inst, pl)
    assert used["dev0.sram"] == pytest.approx(0.1 * total, rel=1e-9)


def test_overflow_is_an_input_error():
    model = toy_model(3, 0)
    inst = instance_for(model, toy_system(1, fast_B=10, slow_B=10), split=False)
    with pytest.raises(InputError, match="does not fit"):
        fill_tiers(inst, [0] * 3, ["dev0"] * 3)
