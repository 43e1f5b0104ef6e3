"""Run a PuLP problem on CBC or HiGHS with a time limit, a warm start, and an honest report.

Both solvers report status, objective, best bound and gap:

- CBC runs through PuLP's ``COIN_CMD`` (``PULP_CBC_CMD`` is deprecated in PuLP 3.3
  and gone in 4.0): a ``cbc`` on the PATH (``pip install pulp[cbc]``) is used,
  else the binary PuLP 3 still bundles (see :func:`cbc_path`).  It is asked for a log file; its closing summary
  ("Objective value:", "Lower bound:", "Gap:") gives the bound when it stops
  early; when it proves optimality the bound is the objective.  If the log
  does not say, the bound is reported as unknown (None), never invented.
- CBC overruns its own ``-sec`` limit (by 20% on DCNv2 under load: it checks
  the clock only between nodes and heuristics), so a watchdog sends the CBC
  process SIGINT at the deadline; CBC stops as on its own limit, writes its
  best solution and reports its bound (:class:`_Watchdog`, Linux ``/proc``;
  elsewhere CBC's own limit is all there is).
- HiGHS runs through PuLP's highspy interface; the bound is
  ``Highs.getInfo().mip_dual_bound``.  PuLP's interface has no warm start for
  HiGHS, so :class:`_HighsWarm` hands the start to ``Highs.setSolution``.
"""
import contextlib
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import pulp

from ..errors import InputError

SOLVERS = ("cbc", "highs")


@dataclass
class SolveReport:
    status: str                    # optimal | feasible | infeasible | no_solution
    objective: Optional[float]
    best_bound: Optional[float]
    gap: Optional[float]
    solve_time_s: float
    solver: str
    note: str = ""
    copies: dict = field(default_factory=dict)    # the aggregate LP's {table: rho}: the share it copies


class _HighsWarm(pulp.HiGHS):
    """PuLP's HiGHS interface plus a MIP start from the variables' initial values."""

    def createAndConfigureSolver(self, lp):
        with _quiet_stdout():       # highspy prints its banner on construction, before output_flag is set
            super().createAndConfigureSolver(lp)

    deadline = None      # perf_counter time by which run() must end: PuLP builds the HiGHS model in Python
    #                      first (seconds on the 856-table model), and HiGHS's own clock starts only in run()

    def callSolver(self, lp):
        import highspy
        vals = [v.varValue if v.varValue is not None else 0.0 for v in lp.variables()]
        if self.optionsDict.get("warmStart") and any(v.varValue is not None for v in lp.variables()):
            sol = highspy.HighsSolution()
            sol.col_value = vals
            sol.value_valid = True
            lp.solverModel.setSolution(sol)
        if self.deadline is not None:
            lp.solverModel.setOptionValue("time_limit", max(0.01, self.deadline - time.perf_counter()))
        lp.solverModel.run()

    def findSolutionValues(self, lp):
        """PuLP's mapping, plus the node limit of the deterministic mode (kSolutionLimit, which PuLP lacks)."""
        import highspy
        try:
            return super().findSolutionValues(lp)
        except KeyError:         # raised after the values are read: only the status is missing
            if lp.solverModel.getModelStatus() != highspy.HighsModelStatus.kSolutionLimit:
                raise
            found = lp.solverModel.getInfo().primal_solution_status == 2
            return (pulp.LpStatusOptimal, pulp.LpSolutionIntegerFeasible) if found else \
                (pulp.LpStatusNotSolved, pulp.LpSolutionNoSolutionFound)


@contextlib.contextmanager
def _quiet_stdout():
    """Silence file descriptor 1 (C++ libraries write there, below Python's sys.stdout)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def cbc_path():
    """The CBC executable: ``cbc`` on the PATH, else the one bundled with PuLP 3.

    An installed CBC comes first because PuLP 4 ships none; the bundled binary
    keeps PuLP 3 installs working without extra steps.
    """
    found = shutil.which("cbc")
    if found:
        return found
    from pulp.apis import coin_api
    bundled = getattr(coin_api, "pulp_cbc_path", None)      # PuLP 4 has none
    if bundled:
        bundled = coin_api.COIN_CMD.executableExtension(bundled)
        if os.path.isfile(bundled) and os.access(bundled, os.X_OK):
            return bundled
    raise InputError("solver: CBC not found (no 'cbc' on the PATH and none bundled with PuLP); "
                     "install it with 'pip install pulp[cbc]' or use --solver highs")


def _cbc_children():
    """Pids of this process's children whose command is CBC (Linux /proc; empty elsewhere)."""
    me, out = os.getpid(), set()
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return out
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm, rest = st[st.index("(") + 1:st.rindex(")")], st[st.rindex(")") + 2:].split()
        if int(rest[1]) == me and "cbc" in comm.lower():
            out.add(int(pid))
    return out


class _Watchdog:
    """Stop the CBC this solve started if it is still running at the deadline: SIGINT first (CBC then
    ends its search and writes its incumbent), SIGKILL ``KILL_GRACE`` later if it is still running (CBC
    ignores SIGINT in some phases: a 17.9 s solve was seen running for minutes).  A killed CBC leaves no
    solution; the caller reports the failure and keeps its baseline."""

    def __init__(self, limit_s):
        self.before = _cbc_children()
        self.fired = self.killed = False
        self.fired_at = None           # perf_counter time of the first signal sent
        self.timers = [threading.Timer(limit_s, self._fire, (signal.SIGINT,)),
                       threading.Timer(limit_s + max(KILL_GRACE_MIN_S, KILL_GRACE * limit_s), self._fire,
                                       (signal.SIGKILL,))]
        for t in self.timers:
            t.daemon = True

    def _fire(self, sig):
        for pid in _cbc_children() - self.before:
            try:
                os.kill(pid, sig)
                self.fired_at = self.fired_at or time.perf_counter()
                self.fired = True
                self.killed = self.killed or sig == signal.SIGKILL
            except OSError:
                pass

    def __enter__(self):
        for t in self.timers:
            t.start()
        return self

    def __exit__(self, *exc):
        for t in self.timers:
            t.cancel()
        return False


# After SIGINT, CBC gets its limit again (at least KILL_GRACE_MIN_S) to finish the phase it is in and write
# its incumbent before it is killed.  assumption: generous on purpose; CBC cannot answer SIGINT inside its
# root LP (criteo_kaggle x ascend_910: ~6 s alone, several times that on a loaded machine), and a kill there
# loses a solve that would have ended well; the kill is for the CBC that never returns (minutes past).
KILL_GRACE = 1.0
# What a CBC solve keeps back of its limit for its answer to SIGINT (finishing the node it is in, writing its
# solution, PuLP reading it back): CBC_ANSWER_S, or CBC_ANSWER_SHARE of the limit if more (a larger model
# writes and reads more).  assumption: the answer took 0.35-0.79 s on DCNv2 (8 x A100, 5e3 columns) at load 7
# on 2 cores whatever the limit; CBC's own limit never stopped it first.
CBC_ANSWER_S = 1.2     # 1.48 s was seen at load 6.5 with a second solve beside it
CBC_ANSWER_SHARE = 0.1
KILL_GRACE_MIN_S = 30.0


def _cbc_summary(text):
    def grab(label):
        m = re.search(rf"^{label}:\s*([-+0-9.eE]+|inf)", text, re.M)
        return float(m.group(1)) if m else None
    result = re.search(r"^Result - (.*)$", text, re.M)
    return result.group(1).strip() if result else "", grab("Objective value"), grab("Lower bound"), grab("Gap")


# Deterministic mode (``EMBSIM_DETERMINISTIC=1``; the tests and the demo set it): one thread, a fixed
# random seed and (CBC) a node limit, so a solve stops after the same work on every run.  The time limit
# stays as a safety net; a solve it stops is reported as such ("stopped by the time limit").
# Outside it a solve is stopped by its time limit, and its incumbent, bound and gap may differ
# between identical runs (how far CBC or HiGHS got in the time depends on the machine's load).
DETERMINISTIC_ENV = "EMBSIM_DETERMINISTIC"
DETERMINISTIC_SEED = 12345
DETERMINISTIC_MAX_NODES = 500
TIME_LIMIT_NOTE = "stopped by the time limit: another run (or a busier machine) may stop at another incumbent and bound"


def deterministic_mode() -> bool:
    """Whether solves run in the deterministic mode (see DETERMINISTIC_ENV)."""
    return os.environ.get(DETERMINISTIC_ENV, "").strip() not in ("", "0", "false", "no")


def solve(prob, solver="cbc", time_limit_s=60.0, gap_rel=1e-4, warm=False, threads=None, cbc_options=()):
    """Solve ``prob`` (minimisation); returns a SolveReport.  Variables hold the solution afterwards.

    ``cbc_options`` are extra CBC command-line options (e.g. ``("preprocess off",)``), ignored by HiGHS.
    In deterministic mode (``deterministic_mode()``) the solve uses one thread, a fixed seed and a node limit.
    """
    highs_options = {}
    if deterministic_mode():
        threads = 1
        cbc_options = (*cbc_options, f"randomSeed {DETERMINISTIC_SEED}", f"randomCbcSeed {DETERMINISTIC_SEED}",
                       f"maxNodes {DETERMINISTIC_MAX_NODES}")
        # no HiGHS node limit: a start HiGHS rejects left brute-force cases without a solution at 500 nodes
        highs_options = {"random_seed": DETERMINISTIC_SEED}
    if solver not in SOLVERS:
        raise InputError(f"solver: unknown solver '{solver}' (expected one of {', '.join(SOLVERS)})")
    if not (time_limit_s > 0):
        raise InputError(f"time limit: {time_limit_s} s (expected > 0)")
    t0 = time.perf_counter()
    is_mip = any(v.cat == pulp.LpInteger for v in prob.variables())
    if solver == "cbc":
        out = _solve_cbc(prob, time_limit_s, gap_rel, warm, threads, cbc_options, is_mip)
        if isinstance(out, str):      # the CBC binary died: report it, never invent a solution
            return SolveReport("error", None, None, None, time.perf_counter() - t0, solver, out)
        st, obj, bound, note = out
    else:
        st, obj, bound, note = _solve_highs(prob, time_limit_s, gap_rel, warm, threads, highs_options, is_mip)
    if st in ("infeasible", "no_solution"):
        obj = None
    gap = None
    if obj is not None and bound is not None:
        gap = max(0.0, (obj - bound) / abs(obj)) if obj else 0.0
    return SolveReport(st, obj, bound, gap, time.perf_counter() - t0, solver, note)


def _run_cbc(prob, time_limit_s, gap_rel, warm, threads, cbc_options):
    """Run CBC on ``prob``; (its log text, whether the watchdog fired) or the failure note (a str)."""
    fd, log = tempfile.mkstemp(prefix="embsim_cbc_", suffix=".log")
    os.close(fd)
    try:
        # CBC is told to stop (its own limit, then SIGINT) early enough to answer within the limit
        stop_s = max(0.5 * time_limit_s, time_limit_s - max(CBC_ANSWER_S, CBC_ANSWER_SHARE * time_limit_s))
        cmd = pulp.COIN_CMD(path=cbc_path(), msg=False, timeLimit=stop_s, gapRel=gap_rel, warmStart=warm,
                            logPath=log, threads=threads, options=list(cbc_options))
        try:
            with _Watchdog(stop_s) as dog:
                prob.solve(cmd)
        except pulp.PulpSolverError as e:
            # the CBC binary died (it happens on some warm-started MIPs) or the watchdog killed it:
            # report it, let the caller keep its baseline, never invent a solution
            if dog.killed:
                return f"CBC killed {time_limit_s:.3g} s + grace after its time limit (it ignored SIGINT)"
            with open(log, errors="replace") as f:
                tail = " ".join(f.read().split()[-12:])
            return f"CBC failed ({str(e).split(',')[0]}); log ends: {tail}"
        with open(log, errors="replace") as f:
            return f.read(), (time.perf_counter() - dog.fired_at if dog.fired else None)
    finally:
        if os.path.exists(log):
            os.unlink(log)


def _solve_cbc(prob, time_limit_s, gap_rel, warm, threads, cbc_options, is_mip):
    """(status, objective, bound, note) of a CBC solve, or the failure note (a str) if CBC died."""
    ran = _run_cbc(prob, time_limit_s, gap_rel, warm, threads, cbc_options)
    if isinstance(ran, str):
        return ran
    text, answered_s = ran
    fired = answered_s is not None
    result, obj_log, bound, _ = _cbc_summary(text)
    status = pulp.LpStatus[prob.status]
    sol = prob.sol_status
    obj = pulp.value(prob.objective)
    note = ""
    # An interrupted CBC with no incumbent leaves PuLP's status at "Infeasible": only CBC's own
    # "proven infeasible" counts then (a 4 TB plan stopped at its limit was reported infeasible).
    if "infeasible" in result.lower() or (status == "Infeasible" and not fired):
        st = "infeasible"
    elif sol == pulp.LpSolutionOptimal or result.startswith("Optimal"):
        st = "optimal"
    elif obj is not None and sol == pulp.LpSolutionIntegerFeasible:
        st = "feasible"
    else:
        st = "no_solution"
    if st == "optimal":
        bound = obj if bound is None or not is_mip else bound
    elif bound is None and st == "feasible":
        note = "CBC's log gave no lower bound for this stop; bound unknown"
    if st != "optimal" and "time" in result.lower():
        note = "; ".join(x for x in (note, TIME_LIMIT_NOTE) if x)
    if fired:
        note = (note + "; " if note else "") + (f"CBC stopped at the time limit by SIGINT (it overran its own; "
                                                f"{answered_s:.2f} s from SIGINT to its solution read back)")
    return st, obj, bound, note


def _solve_highs(prob, time_limit_s, gap_rel, warm, threads, highs_options, is_mip):
    """(status, objective, bound, note) of a HiGHS solve."""
    # one thread always: HiGHS fixes its thread pool at the first run in a process and fails every later run
    # asking for another count (a deterministic solve after a free one returned no solution); its MIP
    # search is serial anyway
    cmd = _HighsWarm(msg=False, timeLimit=time_limit_s, gapRel=gap_rel, warmStart=warm, threads=1,
                     **highs_options)
    cmd.deadline = time.perf_counter() + time_limit_s
    prob.solve(cmd)
    h = prob.solverModel
    info = h.getInfo()
    import highspy
    ms = h.getModelStatus()
    obj = pulp.value(prob.objective)
    note = ""
    if ms == highspy.HighsModelStatus.kTimeLimit:
        note = TIME_LIMIT_NOTE
    elif ms == highspy.HighsModelStatus.kSolutionLimit:
        note = f"HiGHS stopped at its node limit ({DETERMINISTIC_MAX_NODES} nodes, deterministic mode)"
    if ms == highspy.HighsModelStatus.kOptimal:
        st = "optimal"
    elif ms in (highspy.HighsModelStatus.kInfeasible, highspy.HighsModelStatus.kUnboundedOrInfeasible):
        st = "infeasible"
    elif info.primal_solution_status == 2:   # kSolutionStatusFeasible
        st = "feasible"
    else:
        st = "no_solution"
    if is_mip:
        bound = float(info.mip_dual_bound) if abs(info.mip_dual_bound) < 1e300 else None
    else:
        bound = obj if st == "optimal" else None
    return st, obj, bound, note
