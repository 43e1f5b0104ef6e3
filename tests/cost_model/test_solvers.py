"""Solver wrapper: status, objective, bound and gap from CBC and HiGHS."""
import pulp
import pytest

from embsim.cost_model.solvers import solve
from embsim.errors import InputError


def knapsack():
    w = [12, 7, 11, 8, 9, 6, 14, 5]
    v = [24, 13, 23, 15, 16, 11, 27, 9]
    prob = pulp.LpProblem("k", pulp.LpMinimize)
    x = [prob.add_variable(f"x{i}", cat="Binary") for i in range(len(w))]
    prob += -pulp.lpSum(vi * xi for vi, xi in zip(v, x))
    prob += pulp.lpSum(wi * xi for wi, xi in zip(w, x)) <= 26
    return prob


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_optimal_with_bound(solver):
    r = solve(knapsack(), solver, 10, gap_rel=0)
    assert r.status == "optimal" and r.objective == pytest.approx(-51)
    assert r.best_bound == pytest.approx(r.objective) and r.gap == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("solver", ["cbc", "highs"])
def test_infeasible(solver):
    prob = pulp.LpProblem("i", pulp.LpMinimize)
    x = prob.add_variable("x", cat="Binary")
    prob += x
    prob += x >= 2
    r = solve(prob, solver, 5)
    assert r.status == "infeasible" and r.objective is None


def test_bad_solver_and_limit():
    with pytest.raises(InputError, match="unknown solver"):
        solve(knapsack(), "glpk", 1)
    with pytest.raises(InputError, match="time limit"):
        solve(knapsack(), "cbc", 0)


def test_cbc_is_found_or_named(monkeypatch, tmp_path):
    """CBC comes from the PATH, else PuLP 3's bundled binary; with neither, one line says how to get it."""
    import shutil
    from pulp.apis import coin_api
    from embsim.cost_model import solvers
    fake = tmp_path / "cbc"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name: str(fake) if name == "cbc" else None)
    assert solvers.cbc_path() == str(fake)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(coin_api, "pulp_cbc_path", str(tmp_path / "missing"))
    with pytest.raises(InputError, match="pip install pulp\\[cbc\\]"):
        solvers.cbc_path()
    with pytest.raises(InputError, match="CBC not found"):
        solve(knapsack(), "cbc", 1)


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="the watchdog finds CBC through /proc")
def test_the_watchdog_stops_a_cbc_that_outlives_its_limit(tmp_path):
    """A child called cbc still running at the deadline gets SIGINT (CBC then stops and writes its solution)."""
    import shutil
    import signal
    import subprocess
    from embsim.cost_model.solvers import _Watchdog
    fake = tmp_path / "cbc"
    shutil.copy(shutil.which("sleep"), fake)
    with _Watchdog(0.2) as dog:
        p = subprocess.Popen([str(fake), "30"])
        code = p.wait(timeout=20)
    assert dog.fired and code == -signal.SIGINT
    with _Watchdog(5.0) as dog:                        # a solve that ends in time is left alone
        q = subprocess.Popen([str(fake), "0"])
        q.wait(timeout=20)
    assert not dog.fired


@pytest.mark.skipif(not __import__("os").path.isdir("/proc/self"), reason="the watchdog finds CBC through /proc")
def test_a_cbc_that_ignores_sigint_is_killed_after_the_grace(tmp_path, monkeypatch):
    """CBC ignores SIGINT in some phases (seen running minutes past a 17.9 s limit): SIGKILL follows."""
    import shutil
    import signal
    import subprocess
    from embsim.cost_model import solvers
    monkeypatch.setattr(solvers, "KILL_GRACE_MIN_S", 0.3)
    fake = tmp_path / "cbc"
    shutil.copy(shutil.which("sleep"), fake)
    with solvers._Watchdog(0.2) as dog:       # SIGINT ignored from before exec: no race with a slow start
        p = subprocess.Popen([str(fake), "30"], preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
        code = p.wait(timeout=25)
    assert dog.fired and dog.killed and code == -signal.SIGKILL


def test_a_cbc_solve_stopped_by_the_watchdog_keeps_its_solution_and_bound():
    """SIGINT at the limit: CBC still reports its best solution and a bound below it."""
    import numpy as np
    rng = np.random.default_rng(0)
    prob = pulp.LpProblem("bins", pulp.LpMinimize)
    x = {(i, j): pulp.LpVariable(f"x{i}_{j}", cat="Binary") for i in range(60) for j in range(8)}
    M = pulp.LpVariable("M", 0)
    w = rng.uniform(1, 100, 60)
    for i in range(60):
        prob += pulp.lpSum(x[i, j] for j in range(8)) == 1
    for j in range(8):
        prob += pulp.lpSum(w[i] * x[i, j] for i in range(60)) <= M
    prob += M
    r = solve(prob, "cbc", 1.0, gap_rel=1e-12)
    assert r.status in ("feasible", "optimal") and r.objective is not None
    assert r.best_bound is not None and r.best_bound <= r.objective * (1 + 1e-9)
    assert r.objective >= w.sum() / 8 * (1 - 1e-9)     # no bin below the mean: the solution is a real one


def test_an_interrupted_cbc_without_an_incumbent_is_not_called_infeasible(monkeypatch):
    """PuLP leaves "Infeasible" on a CBC stopped by SIGINT before any solution; only CBC's own proof counts."""
    from embsim.cost_model import solvers
    prob = knapsack()
    prob.status, prob.sol_status = pulp.LpStatusInfeasible, pulp.LpSolutionInfeasible
    monkeypatch.setattr(solvers, "_run_cbc", lambda *a: ("Result - Stopped on time\n", 0.5))
    st, obj, bound, note = solvers._solve_cbc(prob, 1.0, 1e-4, False, None, (), True)
    assert st == "no_solution" and "SIGINT" in note
    monkeypatch.setattr(solvers, "_run_cbc", lambda *a: ("Result - Problem proven infeasible\n", None))
    assert solvers._solve_cbc(prob, 1.0, 1e-4, False, None, (), True)[0] == "infeasible"
