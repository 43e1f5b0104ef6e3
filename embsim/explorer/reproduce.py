"""``embsim reproduce``: the seeds' headline experiments, their drivers and their sensitivity.

For each experiment (``explorer/experiment.py``): one seeded trace of its model; the
candidate and the baseline planned (``plan_for``) from the trace's statistics and simulated
in closed loop (peak throughput, energy per query); the ratio (speed-up or energy
efficiency).  Then

- drivers: the ratio with each of the experiment's mechanisms switched off in turn
  (``mechanisms.py``): a hardware switch re-costs the full plan, a planner switch re-plans;
- sensitivity: the ratio at the low and high end of the plausible range of every parameter
  whose source says "assumption" (``assumptions.py``), the plans held (a plan the changed
  hardware cannot hold is re-planned), plus the experiment's own workload assumption (skew).

Runs are cached per (model, case): the baseline is simulated once for every driver.  The
result is the report's JSON (``to_json``: exactly the documented keys) plus the details the
HTML report and the printed summary explain the figures with (``details``).
"""
from __future__ import annotations

import math
import time
from typing import Callable, Optional

from ..errors import InputError
from .assumptions import accepts_for, assumptions, ends, overrides_for
from .experiment import Experiment, load_experiment, load_settings, model_of
from .mechanisms import MECHANISMS, Case, switched_off


def _ratio(metric: str, cand, base) -> float:
    if metric == "speedup":
        return cand.qps / base.qps if base.qps else math.inf
    return base.energy_per_query_J / cand.energy_per_query_J if cand.energy_per_query_J else math.inf


def _case(side) -> Case:
    return Case(side.label, side.system, dict(side.overrides), side.representations,
                {k: (tuple(v) if isinstance(v, list) else v) for k, v in side.planner.items()})


def _options(system, planner: dict) -> dict:
    """Planner options of a case; the sharding MIP leaves out TorchRec's own plan (a baseline for the
    plan's table, not part of any ratio here, and minutes on hundreds of tables)."""
    from ..cost_model.planner import planner_for
    return {**planner, "torchrec_baseline": False} if planner_for(system) == "sharding_mip" else dict(planner)


class Runner:
    """Traces, plans and simulations of one model, each made once (module doc)."""

    def __init__(self, model, run, seed: int, echo: Callable = print):
        from ..workloads.generators import generate_trace
        from ..workloads.profile import profile_stats, split
        self.model, self.run_size, self.seed, self.echo = model, run, seed, echo
        self.trace = generate_trace(model, batches=run.batches, batch_size=run.batch_size, seed=seed)
        self.stats = profile_stats(split(self.trace))    # plans see the profile half, as each Simulation splits
        self.plans: dict = {}
        self.sims: dict = {}
        self.results: dict = {}

    def system(self, case: Case, extra: Optional[dict] = None):
        from ..hw_models.loader import load_system
        return load_system(case.system, {**case.overrides, **(extra or {})})

    def plan(self, case: Case):
        from ..cost_model.id_placement import heat_blind_stats, place_by_id
        from ..cost_model.planner import plan_for
        key = case.plan_key()
        if key not in self.plans:
            stats = heat_blind_stats(self.model, self.stats, self.run_size.batch_size) if case.heat_blind else self.stats
            t = time.perf_counter()
            plan = plan_for(self.model, self.system(case), stats, batch_size=self.run_size.batch_size,
                            time_limit_s=self.run_size.time_limit_s, representations=case.representations,
                            **_options(self.system(case), case.planner))
            self.plans[key] = place_by_id(plan, self.model) if case.heat_blind else plan
            self.echo(f"    planned {case.label} on {case.system}: {plan.status} in {time.perf_counter() - t:.0f} s")
        return self.plans[key]

    def simulation(self, case: Case, extra: Optional[dict] = None):
        """The Simulation of ``case`` (with ``extra`` overrides), reusing a replay of the same plan."""
        from ..sim.simulate import Simulation
        key = (case.key(), tuple(sorted((k, str(v)) for k, v in (extra or {}).items())))
        if key in self.sims:
            return self.sims[key]
        system = self.system(case, extra)
        plan = self.plan(case)
        base = next((s for (k, _), s in self.sims.items() if s.plan is plan), None)
        try:
            sim = base.on_system(system) if base is not None else Simulation(self.model, system, plan, self.trace,
                                                                             seed=self.seed)
        except InputError:          # a sensitivity end whose hardware cannot hold the plan: plan for it
            if not extra:
                raise
            from ..cost_model.planner import plan_for
            plan = plan_for(self.model, system, self.stats, batch_size=self.run_size.batch_size,
                            time_limit_s=self.run_size.time_limit_s, representations=case.representations,
                            **_options(system, case.planner))
            sim = Simulation(self.model, system, plan, self.trace, seed=self.seed)
        self.sims[key] = sim
        return sim

    def result(self, case: Case, extra: Optional[dict] = None):
        key = (case.key(), tuple(sorted((k, str(v)) for k, v in (extra or {}).items())))
        if key not in self.results:
            sim = self.simulation(case, extra)
            n = self.run_size.run_batches
            self.results[key] = sim.run("closed", queries=None if n is None else n * sim.batch_size)
        return self.results[key]


def _summary(result, plan) -> dict:
    """What the report explains a ratio with: throughput, energy, bottleneck, where the bytes went."""
    moved = result.bytes_B["moved"]
    flash = sum(v for k, v in moved.items() if k.endswith(".flash") or k.endswith(".nvme"))
    return {"queries_per_s": result.qps, "energy_per_query_J": result.energy_per_query_J,
            "static_J": result.energy["static_J"], "dynamic_J": result.energy["dynamic_J"],
            "bottleneck": result.bottleneck[0], "bottleneck_utilisation": result.bottleneck[1],
            "flash_bytes_B": flash, "steady_state": result.steady_state,
            "tt_tables": sum(1 for tp in plan.tables if tp.representation.kind == "tt"),
            "plan_status": plan.status, "representations": sorted({tp.representation.label for tp in plan.tables})}


def run_experiment(exp: Experiment, quick: bool, echo: Callable = print) -> dict:
    """One experiment's figures (module doc): the JSON entry plus ``details``."""
    settings = load_settings()
    run = settings.run(quick)
    t0 = time.perf_counter()
    model = model_of(exp)
    echo(f"{exp.name}: {exp.title}")
    echo(f"  model {model.name}: {model.n_tables} tables, {model.embedding_bytes / 1e9:,.1f} GB; trace "
         f"{run.batches} x {run.batch_size}")
    runner = Runner(model, run, settings.seed, echo)
    cand, base = _case(exp.candidate), _case(exp.baseline)
    rc, rb = runner.result(cand), runner.result(base)
    measured = _ratio(exp.metric, rc, rb)
    details = {"title": exp.title, "metric": exp.metric, "model": model.name, "model_reason": exp.model_reason,
               "model_GB": model.embedding_bytes / 1e9, "trace": {"batches": run.batches, "batch_size": run.batch_size},
               "candidate": {"label": cand.label, "system": cand.system, **_summary(rc, runner.plan(cand))},
               "baseline": {"label": base.label, "system": base.system, **_summary(rb, runner.plan(base))},
               "drivers": {}}
    drivers = []
    for name in exp.mechanisms:
        off = switched_off(cand, name)
        r = runner.result(off)
        ratio = _ratio(exp.metric, r, rb)
        drivers.append({"mechanism": name, "ratio_without": ratio})
        details["drivers"][name] = {"what": MECHANISMS[name].what, "replanned": MECHANISMS[name].replan,
                                    **_summary(r, runner.simulation(off).plan)}
        echo(f"    without {name}: {ratio:.4g}x")
    sensitivity = _sensitivity(exp, runner, cand, base, settings, measured, quick, echo)
    details["run_s"] = time.perf_counter() - t0
    entry = {"name": exp.name, "published": exp.published.model_dump(), "measured_ratio": measured,
             "drivers": drivers, "sensitivity": sensitivity}
    details["explanation"] = explain(entry, details)
    return {**entry, "details": details}


def _sensitivity(exp, runner, cand, base, settings, measured, quick, echo) -> list:
    systems = {"candidate": (cand.system, cand.overrides), "baseline": (base.system, base.overrides)}
    out = []
    for a in assumptions(systems, skip=tuple(settings.ranges.skip)):
        e = ends(a, settings.ranges, accepts_for(systems, a))
        if e is None:
            continue
        ratios = []
        for end, x in zip(("low", "high"), e):
            rc = runner.result(cand, overrides_for(a, "candidate", x, end))
            rb = runner.result(base, overrides_for(a, "baseline", x, end))
            ratios.append(_ratio(exp.metric, rc, rb))
        out.append({"parameter": a.key, "source": a.source, "low": e[0], "high": e[1],
                    "ratio_low": ratios[0], "ratio_high": ratios[1]})
    if exp.skew is not None:
        out.append(_skew_sensitivity(exp, runner, cand, base))
    out.sort(key=lambda s: -abs(math.log(max(s["ratio_high"], 1e-300)) - math.log(max(s["ratio_low"], 1e-300))))
    echo(f"    sensitivity: {len(out)} assumptions, two ends each")
    return out


def _skew_sensitivity(exp, runner, cand, base) -> dict:
    """The experiment's own workload assumption: the skew exponent at its range's ends (re-planned)."""
    sk = exp.skew.exponent
    ratios = []
    for x in (sk.low, sk.high):
        r = Runner(model_of(exp, x), runner.run_size, runner.seed, echo=lambda *_: None)
        ratios.append(_ratio(exp.metric, r.result(cand), r.result(base)))
    return {"parameter": "workload.skew_exponent", "source": sk.source, "low": sk.low, "high": sk.high,
            "ratio_low": ratios[0], "ratio_high": ratios[1]}


def explain(entry: dict, details: dict) -> list:
    """Sentences that say where the measured ratio stands against the paper, and why (from the run)."""
    m, pub = entry["measured_ratio"], entry["published"]
    out = []
    lo, hi = pub.get("low"), pub.get("high")
    if hi is not None and m > hi * 1.05:
        out.append(f"measured {m:.3g}x is {m / hi:.3g}x above the published {pub['text']}")
    elif lo is not None and m < lo * 0.95:
        out.append(f"measured {m:.3g}x is {lo / m:.3g}x below the published {pub['text']}")
    elif lo is None and hi is not None and m < hi * 0.95:
        out.append(f"measured {m:.3g}x is {hi / m:.3g}x below the published {pub['text']} (a best case)")
    else:
        out.append(f"measured {m:.3g}x is within the published {pub['text']}")
    c, b = details["candidate"], details["baseline"]
    out.append(f"{c['label']} is bound by {c['bottleneck']} ({c['bottleneck_utilisation']:.0%}), "
               f"{b['label']} by {b['bottleneck']} ({b['bottleneck_utilisation']:.0%})")
    for d in entry["drivers"]:
        out.append(_driver_sentence(d, details["drivers"][d["mechanism"]], m, c))
    if entry["sensitivity"]:
        s = entry["sensitivity"][0]
        out.append(f"the most influential assumption is {s['parameter']}: {s['ratio_low']:.3g}x to "
                   f"{s['ratio_high']:.3g}x over its range ({s['source'][:120]})")
    return out


def _driver_sentence(d: dict, det: dict, measured: float, cand: dict) -> str:
    r, name = d["ratio_without"], d["mechanism"]
    rel = r / measured if measured else math.inf
    if rel < 0.99:
        return f"without {name} the ratio falls to {r:.3g}x ({1 / rel:.3g}x lower): the result rests on it"
    why = ""
    if name == "tt_compression" and cand["tt_tables"] == 0:
        why = "the planner chose no tensor-train table, so there is nothing to switch off"
    elif name == "p2p_flash" and cand["flash_bytes_B"] == 0:
        why = "no lookup reached flash in the evaluated trace, so the path from flash is never used"
    elif det["bottleneck"] == cand["bottleneck"] and abs(rel - 1) < 0.01:
        why = f"the bottleneck ({cand['bottleneck']}) is elsewhere, so the switch does not move the peak"
    else:
        why = (f"the bottleneck moves from {cand['bottleneck']} to {det['bottleneck']}"
               + (" (the plan was re-solved, and a time-limited solve may find another plan)" if det["replanned"]
                  else ""))
    direction = "rises" if rel > 1.01 else "stays"
    return f"without {name} the ratio {direction} ({r:.3g}x): {why}"


def to_json(entries: list) -> dict:
    """The documented JSON: {"experiments": [{name, published, measured_ratio, drivers, sensitivity}]}."""
    keys = ("name", "published", "measured_ratio", "drivers", "sensitivity")
    return {"experiments": [{k: e[k] for k in keys} for e in entries]}


def reproduce(names: list, quick: bool, echo: Callable = print) -> list:
    """Run the named experiments (in order); a list of entries with details."""
    exps = [load_experiment(n) for n in names]          # every name checked before any work
    return [run_experiment(e, quick, echo) for e in exps]


__all__ = ["reproduce", "run_experiment", "to_json", "explain"]
