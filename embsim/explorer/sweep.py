"""Run a design space through an evaluator, in parallel, committing each point as it finishes.

    from embsim.explorer import DesignSpace, ResultStore, run_sweep
    space = DesignSpace.from_yaml("examples/spaces/quick.yaml")
    with ResultStore("quick.sqlite") as store:
        summary = run_sweep(space, store, workers=2)

Executors:

- ``workers=1``: in this process, one point after the other (easy to debug);
- ``workers=N`` (default: the machine's cores): a local process pool
  (``concurrent.futures.ProcessPoolExecutor``, fork start method on Linux);
- ``scheduler="tcp://host:8786"``: a Dask distributed cluster
  (``dask.distributed.Client(address)``); results stream back with
  ``as_completed``.  Workers must be able to import embsim.

In every case the *main* process alone writes the store, one commit per
finished point, so a kill at any moment loses at most the points still
running, and a re-run skips what is stored (``ResultStore.done_keys``).

The evaluator is ``evaluate(config) -> dict`` (a module-level function, so
that it pickles): ``config`` is a point's JSON configuration
(``DesignSpace.configuration``) and the result is a flat dict of metrics;
an optional ``"artifacts"`` entry (a JSON-able dict: plan, SimResult,
latency sample) is stored beside the metrics.  An ``InputError`` marks the
point infeasible; any other exception is recorded as an error with its
traceback and the sweep goes on.  The default evaluator is
``embsim.explorer.evaluate.evaluate`` (model, system, plan, simulate).
"""
import importlib
import multiprocessing
import os
import time
import traceback
from pathlib import Path
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

from ..errors import InputError
from ..progress import progress as make_bar
from .workers import end_pool, worker_init


@dataclass
class SweepSummary:
    """What a run did: points in the space, already stored, evaluated now, by outcome."""

    points: int = 0
    skipped: int = 0
    evaluated: int = 0
    ok: int = 0
    infeasible: int = 0
    errors: int = 0
    elapsed_s: float = 0.0
    first_error: str = ""
    executor: str = ""
    error_keys: list = field(default_factory=list)

    @property
    def points_per_minute(self):
        return 60.0 * self.evaluated / self.elapsed_s if self.elapsed_s > 0 else float("nan")

    def line(self):
        s = (f"{self.points} points: {self.skipped} already stored, {self.evaluated} evaluated "
             f"({self.ok} ok, {self.infeasible} infeasible, {self.errors} errors) in {self.elapsed_s:.1f} s "
             f"on {self.executor}")
        return s


def resolve_evaluator(evaluate):
    """A callable from a callable, a ``"module:function"`` string, or None (the real evaluator)."""
    if evaluate is None:
        evaluate = "embsim.explorer.evaluate:evaluate"
    if isinstance(evaluate, str):
        mod, _, name = evaluate.partition(":")
        if not name:
            raise InputError(f"evaluator '{evaluate}': expected 'module:function'")
        try:
            return getattr(importlib.import_module(mod), name)
        except (ImportError, AttributeError) as e:
            raise InputError(f"evaluator '{evaluate}': cannot import ({e})") from None
    return evaluate


def evaluate_safely(evaluate, config):
    """Run ``evaluate(config)`` in a worker; return (status, metrics, artifacts, error, elapsed_s).

    Never raises, so one bad point cannot take the sweep (or a Dask worker) down.
    """
    t0 = time.perf_counter()
    try:
        out = dict(evaluate(config))
    except InputError as e:
        return "infeasible", None, None, str(e), time.perf_counter() - t0
    except Exception:  # noqa: BLE001 - a bug in one point is recorded, not fatal to the sweep
        return "error", None, None, traceback.format_exc(), time.perf_counter() - t0
    artifacts = out.pop("artifacts", None)
    return "ok", out, artifacts, None, time.perf_counter() - t0


def run_sweep(space, store, evaluate=None, workers=None, scheduler=None, progress=None, points=None,
              connect_timeout_s=20.0):
    """Evaluate every point of ``space`` not yet in ``store``; return a SweepSummary.

    ``points`` overrides the space's own sample (a list of ``Point``);
    ``progress`` forces the bar on or off (default: on a terminal only);
    ``connect_timeout_s`` bounds the wait for a Dask scheduler.
    """
    evaluate = resolve_evaluator(evaluate)
    points = space.points() if points is None else points
    store.register_space(space)
    done = store.done_keys()
    todo = [p for p in points if p.key not in done]
    summary = SweepSummary(points=len(points), skipped=len(points) - len(todo))
    t0 = time.perf_counter()
    if workers is not None and workers < 1:
        raise InputError(f"--workers: expected at least 1, got {workers}")

    bar = {"bar": None}   # the pool path starts its bar only after forking its workers

    def start_bar():
        bar["bar"] = make_bar(total=len(todo), desc=f"explore {space.name}", unit="pt", enabled=progress)

    def record(point, outcome):
        status, metrics, artifacts, error, elapsed = outcome
        store.add(point, status, metrics=metrics, error=error, elapsed_s=elapsed,
                  artifacts=artifacts, space=space.name)
        summary.evaluated += 1
        if status == "ok":
            summary.ok += 1
        elif status == "infeasible":
            summary.infeasible += 1
        else:
            summary.errors += 1
            summary.error_keys.append(point.key)
            summary.first_error = summary.first_error or error
        if bar["bar"] is not None:
            bar["bar"].update(1)

    try:
        if scheduler:
            summary.executor = f"dask {scheduler}"
            start_bar()
            _run_dask(todo, evaluate, scheduler, record, connect_timeout_s)
        else:
            workers = min(workers or os.cpu_count() or 1, max(len(todo), 1))
            if workers == 1:
                summary.executor = "1 process"
                start_bar()
                for p in todo:
                    record(p, evaluate_safely(evaluate, p.config))
            else:
                summary.executor = f"{workers} local processes"
                _run_pool(todo, evaluate, workers, record, start_bar)
    finally:
        if bar["bar"] is not None:
            bar["bar"].close()
    summary.elapsed_s = time.perf_counter() - t0
    return summary


def _run_pool(todo, evaluate, workers, record, start_bar):
    # fork: workers inherit the imported evaluator and need no __main__ guard (embsim's
    # __main__ runs the CLI).  The pool forks all its workers on the first submit, so the
    # progress bar (which may start a monitor thread) is started after that.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    # Workers end with this process however it ends (explorer/workers.py).
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method),
                               initializer=worker_init, initargs=(os.getpid(),))
    try:
        futures = {pool.submit(evaluate_safely, evaluate, p.config): p for p in todo}
        start_bar()
        for fut in as_completed(futures):
            record(futures[fut], fut.result())
    except BaseException:
        # Ctrl-C, SIGTERM or a store error: end the workers and their solvers now instead of
        # finishing the queue; what is already committed stays, and a re-run resumes from there.
        end_pool(pool)
        raise
    pool.shutdown(wait=True)


def _run_dask(todo, evaluate, scheduler, record, connect_timeout_s):
    from dask.distributed import Client, as_completed as dask_completed
    try:
        client = Client(scheduler, timeout=f"{connect_timeout_s}s") if isinstance(scheduler, str) else Client(scheduler)
    except (OSError, TimeoutError) as e:
        raise InputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({e})") from None
    try:
        # Import the evaluator's module on every worker at once, before the points arrive: a fresh
        # worker process otherwise pays the imports (numpy, simpy, PuLP, embsim) inside its first point.
        module = getattr(evaluate, "__module__", None)
        for name in (__name__, module):
            if name and name != "__main__":
                try:
                    client.run(importlib.import_module, name)
                except Exception:  # noqa: BLE001 - only a warm-up; a worker that cannot import it fails its points
                    pass
        # The point key as the Dask key: resubmitting a point the cluster already holds is a no-op.
        futures = [client.submit(evaluate_safely, evaluate, p.config, key=f"embsim-point-{p.key}", pure=False)
                   for p in todo]
        by_key = {f.key: p for f, p in zip(futures, todo)}
        try:
            for fut in dask_completed(futures):
                record(by_key[fut.key], fut.result())
                fut.release()
        except BaseException:
            client.cancel(futures)      # interrupted: the cluster stops this sweep's queued and running points
            raise
    finally:
        client.close()   # our own client; the cluster behind it keeps running


def explore_file(space_file, db, workers=None, scheduler=None, report=None, export=None, force=False,
                 evaluate=None, sampler=None, n=None, seed=None, progress=None, plan=None):
    """What ``embsim explore`` does, for scripts (``embsim demo`` ends with it): returns a SweepSummary.

    Sweeps the space file into the store ``db`` (resuming it), then exports
    ``export`` (.csv or .json) and writes the HTML ``report`` of the whole store if given.
    Outputs are checked before any work, so a refused ``report`` costs nothing.
    ``plan``: planner settings (solver, time_limit_s, representations, objective,
    energy_weight) that replace the space file's ``plan:`` ones (knobs still vary them).
    """
    from ..fileio import check_output
    from .space import DesignSpace
    from .store import ResultStore
    default_evaluator = evaluate is None
    evaluate = resolve_evaluator(evaluate)
    space = DesignSpace.from_yaml(space_file)
    if plan:
        space.override_plan(plan)
    if default_evaluator:
        from .evaluate import is_metric
        space.check_objectives(is_metric)
        space.check_values()
    points = space.points(kind=sampler, n=n, seed=seed)
    from ..fileio import same_file
    if same_file(db, space_file):
        raise InputError(f"{db}: --db names the space file {space_file}; the result store needs its own file")
    if report is not None and export is not None and Path(report).resolve() == Path(export).resolve():
        raise InputError(f"{report}: given as both --report and --export; choose two names")
    for out in (report, export):
        if out is not None:
            check_output(out, force, inputs=(space_file, db))
    if export is not None and Path(export).suffix not in (".csv", ".json"):
        raise InputError(f"{export}: unknown export format '{Path(export).suffix}' (expected .csv or .json)")

    with ResultStore(db) as store:
        summary = run_sweep(space, store, evaluate=evaluate, workers=workers, scheduler=scheduler, points=points,
                            progress=progress)
        if export is not None:
            store.export(export, force=force)
    if report is not None:
        from .report import write_report
        write_report([db], report, force=force)
    return summary
