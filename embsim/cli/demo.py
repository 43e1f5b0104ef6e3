"""``embsim demo``: the headline experiment: DCNv2 on the four system families.

    embsim demo [-o DIR] [--force]

For the MLPerf DLRM-DCNv2 model (preset ``dlrm_dcnv2_criteo1tb``) on one
preset of each family (a two-socket DDR5 server, 8 x A100, an Ascend 910-class
SoC, SCRec-style storage with four SmartSSD-like devices):

1. generate one seeded trace (every system sees the same lookups);
2. solve a sharding plan with the MIP cost model for each system, from the
   trace's statistics;
3. simulate a closed loop (peak throughput, bandwidth, energy per query),
   Poisson arrivals at 70% of that peak (the p99 latency a service would see),
   and the highest Poisson rate whose p99 stays within 60 ms
   (``max_qps_under_sla``, the figure DeepRecSys sizes a service by);
4. the same for the TB-scale regime (``TB_REGIMES``: the 4 TB dlrm_datasets-like model on
   the CPU and GPU systems with and without local NVMe, and SCRec; no SLA probe there);
5. print a table with the speed-up and energy-efficiency ratios against the
   CPU-DRAM and multi-GPU systems, and write ``DIR/demo.html`` (plotly charts,
   plotly.js embedded: it opens offline), ``DIR/demo.json`` and one SimResult
   JSON per system under ``DIR/results/``.

``run_demo(out_dir, ...)`` does the work and returns its rows and results, so
a later step (a sweep and its report) can be appended to the demo.
"""
import json
import time
from pathlib import Path
from typing import Any

import click

from ..errors import InputError
from ..fileio import check_output, write_text
from . import force_option
from .planning import planner_options

MODEL = "dlrm_dcnv2_criteo1tb"
SYSTEMS = [  # (label, preset, representations the planner may use[, checked overrides of the preset])
    ("CPU-DRAM", "cpu_2s_spr_ddr5", None),
    ("multi-GPU", "gpu_8x_a100_80g", None),
    ("Ascend SoC", "ascend_910", "int8"),          # 32 GB of HBM holds no fp32 DCNv2 (104.5 GB)
    ("SCRec CSD", "screc_4x_smartssd", None),
    # The same storage with the dense MLP on the host: shows how much of SCRec's time is
    # DCNv2's large dense part on the FPGAs rather than embedding lookups.
    ("SCRec, MLP on host", "screc_4x_smartssd", None, {"params.csd.dense_on": "host"}),
]
OPEN_LOOP_LOAD = 0.7          # p99 is measured at this share of the closed-loop peak
# The latency bound the service is sized by: MLPerf Inference's DLRM-DCNv2 server scenario bounds the
# 99th-percentile latency at 60 ms (MLPerf Inference rules, v3.1 onwards; assumption: applied to this model's
# embedding + dense serving path, without the network).
P99_TARGET_S = 0.060
BATCH_SIZE = 1024
BATCHES = 12
TIME_LIMIT_S = 15.0
# The TB-scale regime the seed systems were built for (issue 13), shown beside DCNv2: Meta's dlrm_datasets
# shapes scaled to 4 TB (workloads/presets/dlrm_datasets_like_4tb.yaml says why), which fits neither the
# CPU's 1 TB of DRAM nor 8 x 80 GB of HBM + 2 TB of host DDR; the capacity-bound baselines a user would
# deploy spill to local NVMe.  (heading, model, systems, (CPU baseline label, GPU baseline label)).
TB_SYSTEMS = [
    ("CPU-DRAM", "cpu_2s_spr_ddr5", None),
    ("CPU + NVMe", "cpu_2s_spr_nvme", None),
    ("multi-GPU", "gpu_8x_a100_80g", None),
    ("multi-GPU + NVMe", "gpu_8x_a100_nvme", None),
    ("SCRec CSD", "screc_4x_smartssd", None),
]
TB_REGIMES = [("TB-scale: dlrm_datasets-like 4 TB (ratios against the NVMe-backed CPU and GPU systems)",
               "dlrm_datasets_like_4tb", TB_SYSTEMS, ("CPU + NVMe", "multi-GPU + NVMe"))]
# assumption: 856 tables x ~13.5k lookups per sample make each batch ~0.9M lookups at 64 samples; four
# batches keep the regime to about a minute (the held-out split replays the last two).
TB_BATCH_SIZE = 64
TB_BATCHES = 4
# Its plans: the sharding MIP without TorchRec's plan beside it (a baseline for the plan's table, minutes
# on 856 tables) and with a 5 s limit (as `embsim reproduce --quick`).
TB_RUN: dict[str, Any] = {"batch_size": TB_BATCH_SIZE, "time_limit_s": 5.0, "planner": {"torchrec_baseline": False}}
SWEEP_SPACE = Path(__file__).resolve().parents[1] / "explorer" / "spaces" / "demo.yaml"   # SmartSSD count x TT rank


def _result_name(entry):
    """File name of a system's SimResult: the preset, plus its overrides when it has any."""
    preset = entry[1]
    overrides = entry[3] if len(entry) > 3 else None
    if not overrides:
        return preset
    return preset + "+" + "+".join(f"{k.split('.')[-1]}={v}" for k, v in sorted(overrides.items()))


def _tier_bandwidth(result, devices):
    """Achieved bandwidth summed per tier or link kind ("dram", "hbm", "flash", "link" ...).

    A key "dev.tier" of a device adds to "tier"; a key that is not per device
    (a shared pool such as "host.ddr", or a total the model reports itself)
    stands for its whole kind and replaces the per-device sum of that name.
    """
    per, whole = {}, {}
    for k, bw in result.bandwidth_Bps.items():
        head, _, rest = k.partition(".")
        if head in devices and rest:
            per[rest] = per.get(rest, 0.0) + bw
        else:
            whole[k] = bw
    per.update(whole)
    return dict(sorted(per.items()))


def run_demo(out_dir, force=False, batch_size=BATCH_SIZE, batches=BATCHES, time_limit_s=TIME_LIMIT_S, seed=0,
             systems=SYSTEMS, model=MODEL, echo=print, sweep_space=SWEEP_SPACE, planner=None, sla_tail_samples=None,
             tb_regimes=None):
    """Run the demo, write its files into ``out_dir``, return {"rows": [...], "results": {label: SimResult}}.

    ``sla_tail_samples``: measured requests above the p99 in each SLA probe (default
    ``sim.sla.TAIL_SAMPLES``; a small model's tests ask for fewer to stay fast).

    ``model`` is a preset name or a ModelSpec; ``systems`` a list of (label,
    preset, representations[, overrides]).  Speed-ups are against the systems labelled
    "CPU-DRAM" and "multi-GPU" (n/a if absent).  ``tb_regimes``: further models shown beside the
    first, as ``TB_REGIMES`` (the default); ``[]`` for none.
    """
    from ..workloads.model import load_model

    out = _prepared_folder(Path(out_dir), systems, force)
    t0 = time.perf_counter()
    model = load_model(model) if isinstance(model, str) else model
    run = dict(batch_size=batch_size, time_limit_s=time_limit_s, seed=seed, planner=planner,
               sla_tail_samples=sla_tail_samples, echo=echo)
    rows, results, failed, plans, sims = evaluate_systems(model, systems, batches=batches, **run)
    if not rows:
        raise InputError("demo: no system could be planned: " + "; ".join(f"{l}: {w}" for l, _, w in failed))
    _ratios(rows)
    table = format_table(rows, failed)
    echo("")
    echo(table)
    regimes = _tb_regimes(tb_regimes if tb_regimes is not None else TB_REGIMES, run, planner, echo)

    for r in rows:
        results[r["system"]].save(out / "results" / f"{r['result']}.json", force=force)
    write_text(out / "demo.json", json.dumps({"model": model.name, "batch_size": batch_size, "batches": batches,
                                              "seed": seed, "open_loop_load": OPEN_LOOP_LOAD, "rows": rows,
                                              "not_planned": _not_planned(failed),
                                              "regimes": [{"heading": h, "rows": r, "not_planned": _not_planned(f)}
                                                          for h, r, f in regimes]},
                                             indent=2) + "\n", force=force)
    drivers = screc_drivers(rows, sims, seed)
    write_html(out / "demo.html", rows, table, force=force, plans=plans, results=results, drivers=drivers,
               failed=failed, model_name=model.name, regimes=regimes)
    sweep = _closing_sweep(sweep_space, out, force, echo) if sweep_space is not None else None
    echo(f"\nwrote {out / 'demo.html'}, {out / 'demo.json'}, {len(rows)} results in {out / 'results'}"
         + (f" and the sweep report {out / 'demo_sweep.html'}" if sweep is not None else "")
         + f" ({time.perf_counter() - t0:.0f} s in all)")
    return {"rows": rows, "results": results, "table": table, "not_planned": failed, "sweep": sweep}


def _prepared_folder(out: Path, systems, force: bool) -> Path:
    """``out`` made (with its results folder) once every file the demo writes there may be written."""
    targets = [out / "demo.html", out / "demo.json", out / "demo_sweep.html"] + \
        [out / "results" / f"{_result_name(s)}.json" for s in systems]
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, expected a folder for the demo's outputs")
    if not out.exists():
        check_output(out)                # the folder can be made: its parent exists and is writable
    for t in targets:
        if t.parent.is_dir():
            check_output(t, force)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results").mkdir(exist_ok=True)
    return out


def _tb_regimes(regimes, run, planner, echo) -> list:
    """(heading, rows, not planned) of every TB-scale regime, each printed as its table."""
    from ..workloads.model import load_model
    out = []
    for heading, tb_model, tb_systems, baselines in regimes:
        echo(f"\n{heading}")
        tb = evaluate_systems(load_model(tb_model) if isinstance(tb_model, str) else tb_model, tb_systems,
                              batches=TB_BATCHES, sla=False,
                              **{**run, **TB_RUN, "planner": {**(planner or {}), **TB_RUN["planner"]}})
        _ratios(tb[0], *baselines)
        echo(format_table(tb[0], tb[2]))
        out.append((heading, tb[0], tb[2]))
    return out


def _closing_sweep(sweep_space, out: Path, force: bool, echo):
    """The closing sweep: a small design space through the explorer, resumable in its store."""
    from ..explorer.sweep import explore_file
    t2 = time.perf_counter()
    echo(f"\nsweep {sweep_space.name}: into {out / 'demo_sweep.sqlite'} ...")
    sweep = explore_file(sweep_space, out / "demo_sweep.sqlite", report=out / "demo_sweep.html", force=force)
    echo(f"  {sweep.points} designs: {sweep.ok} ok, {sweep.infeasible} infeasible, {sweep.errors} failed, "
         f"{sweep.skipped} already stored ({sweep.executor}) in {time.perf_counter() - t2:.0f} s")
    return sweep


def _not_planned(failed):
    return [{"system": l, "preset": p, "why": w} for l, p, w in failed]


def evaluate_systems(model, systems, batches, batch_size, time_limit_s, seed, planner, sla_tail_samples, echo,
                     sla=True):
    """Plan and simulate ``model`` on each system: (rows, results, failed, plans, sims).

    One seeded trace for all.  A system the model does not fit (or whose plan its hardware refuses)
    goes to ``failed`` with the reason, and the others go on.  ``sla=False`` skips the SLA-rate probe
    (its row says n/a): the TB-scale regime's 856-table batches make the probe's 10,000 requests minutes.
    """
    from ..workloads.generators import generate_trace
    from ..workloads.profile import profile_stats, split
    t0 = time.perf_counter()
    trace = generate_trace(model, batches=batches, batch_size=batch_size, seed=seed)
    echo(f"{model.name}: {model.n_tables} tables, {model.embedding_bytes / 1e9:,.1f} GB at fp32, "
         f"{model.lookups_per_sample:.0f} lookups per query; trace of {batches} batches x {batch_size} "
         f"({trace.n_indices:,} lookups, seed {seed}) in {time.perf_counter() - t0:.0f} s")
    stats = profile_stats(split(trace))     # the profile half, as each Simulation splits the trace
    rows, results, failed, plans, sims = [], {}, [], {}, {}
    for entry in systems:
        try:
            row, peak, plan, sim = _evaluate_one(model, trace, stats, entry, batch_size, time_limit_s, seed,
                                                 planner, sla_tail_samples, echo, sla)
        except _NotRun as e:
            failed.append(e.args)
            continue
        rows.append(row)
        results[row["system"]], plans[row["system"]], sims[row["system"]] = peak, plan, sim
    return rows, results, failed, plans, sims


class _NotRun(Exception):
    """A system the demo could not plan or run: args (label, preset, why)."""


def _evaluate_one(model, trace, stats, entry, batch_size, time_limit_s, seed, planner, sla_tail_samples, echo, sla):
    """(row, peak result, plan, simulation) of one system; _NotRun(label, preset, why) when it cannot run."""
    from ..cost_model.planner import plan_for, planner_for
    from ..hw_models.loader import load_system
    from ..sim.simulate import Simulation
    from ..sim.sla import max_qps_under_sla
    label, preset, reps = entry[:3]
    overrides = entry[3] if len(entry) > 3 else None
    t1 = time.perf_counter()
    system = load_system(preset, overrides=overrides)
    mine = dict(planner or {})
    if planner_for(system) == "core_mapping":       # --columns is the sharding MIP's: an SoC is mapped without it
        mine.pop("columns", None)
    try:
        # plan_for plans an SoC core by core (tables to cores with a lookup strategy each), as `embsim shard` does
        plan = plan_for(model, system, stats, batch_size=batch_size,
                        **{"time_limit_s": time_limit_s, "representations": reps, **mine})
    except InputError as e:     # the demo goes on with the other systems and says why this one is missing
        echo(f"  {label:<18} no plan: {type(e).__name__}: {e}")
        raise _NotRun(label, preset, f"{type(e).__name__}: {e}") from None
    try:
        sim = Simulation(model, system, plan, trace, seed=seed)
        peak = sim.run("closed")
        loaded = sim.run("poisson", qps=OPEN_LOOP_LOAD * peak.qps)
        sla_qps = max_qps_under_sla(None, None, p99_target_s=P99_TARGET_S, sim=sim, seed=seed, rel_tol=0.05,
                                    **({} if sla_tail_samples is None else {"tail_samples": sla_tail_samples})
                                    ).qps if sla else None
    except InputError as e:     # e.g. the hardware model refuses a placement the planner allowed
        echo(f"  {label:<18} plan {plan.status} ({plan.solver}) not runnable: {e}")
        raise _NotRun(label, preset, f"plan not runnable: {e}") from None
    reps_used = sorted({tp.representation.label for tp in plan.tables})
    row = {
        "system": label, "preset": preset, "overrides": overrides or {}, "result": _result_name(entry),
        "family": system.family,
        "queries_per_s": peak.qps, "lookups_per_s": peak.lookups_per_s,
        "p99_s": loaded.p99_s, "p99_at_qps": loaded.config["qps_target"],
        "qps_under_p99_target": sla_qps, "p99_target_s": P99_TARGET_S,
        "energy_per_query_J": peak.energy_per_query_J, "average_power_W": peak.energy["average_power_W"],
        "bandwidth_Bps": _tier_bandwidth(peak, set(system.devices)),
        "bottleneck": peak.bottleneck[0], "bottleneck_utilisation": peak.bottleneck[1],
        "flash_bytes_B": sum(v for k, v in peak.bytes_B["moved"].items() if k.endswith((".flash", ".nvme"))),
        "plan": {"planner": plan.planner, "status": plan.status, "solver": plan.solver,
                 "makespan_s": plan.makespan_s, "gap": plan.gap, "representations": reps_used},
        "simulated_embedding_s": peak.stage_time_s["embedding"],
    }
    echo(f"  {label:<18} plan {plan.status} ({plan.solver}, {', '.join(reps_used)}), "
         f"simulated in {time.perf_counter() - t1:.0f} s")
    return row, peak, plan, sim


def _ratios(rows, cpu_label="CPU-DRAM", gpu_label="multi-GPU"):
    """Speed-up (throughput ratio) and energy efficiency (queries per joule ratio) against two baselines."""
    base = {r["system"]: r for r in rows}
    for r in rows:
        for name, key in ((cpu_label, "cpu"), (gpu_label, "gpu")):
            b = base.get(name)
            r[f"speedup_vs_{key}"] = r["queries_per_s"] / b["queries_per_s"] if b else None
            r[f"energy_efficiency_vs_{key}"] = (b["energy_per_query_J"] / r["energy_per_query_J"]
                                                if b and r["energy_per_query_J"] else None)


def _q(qps):
    return "n/a" if qps is None else f"{qps:.4g}"


def _x(ratio):
    return "n/a" if ratio is None else f"{ratio:.3g}x"


def format_table(rows, failed=()):
    """The terminal table of the demo (systems without a plan are listed with the reason)."""
    tiers = sorted({k for r in rows for k in r["bandwidth_Bps"]})
    w = max([len("system")] + [len(r["system"]) for r in rows] + [len(l) for l, *_ in failed])
    head = (f"{'system':<{w}} {'queries/s':>10} {'p99@70%':>9} {'q/s@SLA':>10} {'J/query':>9} {'vs CPU':>7} {'vs GPU':>7} "
            f"{'eff. vs CPU':>11} {'eff. vs GPU':>11}  bottleneck")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['system']:<{w}} {r['queries_per_s']:>10.4g} {r['p99_s'] * 1e3:>7.3g}ms {_q(r['qps_under_p99_target']):>10} {r['energy_per_query_J'] * 1e3:>7.3g}mJ "
            f"{_x(r['speedup_vs_cpu']):>7} {_x(r['speedup_vs_gpu']):>7} {_x(r['energy_efficiency_vs_cpu']):>11} "
            f"{_x(r['energy_efficiency_vs_gpu']):>11}  {r['bottleneck']} ({r['bottleneck_utilisation']:.0%})")
    for label, _, why in failed:
        lines.append(f"{label:<{w}} not planned: {why[:150]}")
    lines += ["", "achieved bandwidth per tier and link (GB/s, closed loop):",
              f"{'system':<{w}} " + " ".join(f"{t:>14}" for t in tiers)]
    for r in rows:
        lines.append(f"{r['system']:<{w}} " + " ".join(
            f"{r['bandwidth_Bps'][t] / 1e9:>14.4g}" if t in r["bandwidth_Bps"] else f"{'-':>14}" for t in tiers))
    lines += ["", "speed-up = throughput ratio; eff. = queries per joule ratio; p99 under Poisson arrivals at "
                  f"{OPEN_LOOP_LOAD:.0%} of each system's peak; q/s@SLA = highest Poisson rate with p99 <= "
                  f"{P99_TARGET_S * 1e3:.0f} ms (0: not even 1% of the peak meets it)"]
    return "\n".join(lines)


def _overview_fig(rows):
    """The demo's bar charts: throughput, p99, energy, ratios, bandwidth."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = [r["system"] for r in rows]
    tiers = sorted({k for r in rows for k in r["bandwidth_Bps"]})
    fig = make_subplots(rows=3, cols=2, vertical_spacing=0.12, subplot_titles=(
        "Peak throughput (queries/s)", "p99 latency at 70% of peak (ms)",
        "Energy per query (mJ)", "Speed-up and energy efficiency vs CPU-DRAM",
        "Achieved bandwidth per tier and link (GB/s)", "Speed-up and energy efficiency vs multi-GPU"))
    fig.add_trace(go.Bar(x=names, y=[r["queries_per_s"] for r in rows], name="queries/s", showlegend=False), 1, 1)
    fig.add_trace(go.Bar(x=names, y=[r["p99_s"] * 1e3 for r in rows], name="p99 (ms)", showlegend=False), 1, 2)
    fig.add_trace(go.Bar(x=names, y=[r["energy_per_query_J"] * 1e3 for r in rows], name="mJ/query",
                         showlegend=False), 2, 1)
    for key in ("cpu", "gpu"):
        row = 2 if key == "cpu" else 3
        fig.add_trace(go.Bar(x=names, y=[r[f"speedup_vs_{key}"] for r in rows], name=f"speed-up vs {key.upper()}",
                             legendgroup="ratios"), row, 2)
        fig.add_trace(go.Bar(x=names, y=[r[f"energy_efficiency_vs_{key}"] for r in rows],
                             name=f"energy efficiency vs {key.upper()}", legendgroup="ratios"), row, 2)
    for t in tiers:
        fig.add_trace(go.Bar(x=names, y=[r["bandwidth_Bps"].get(t, 0.0) / 1e9 for r in rows], name=t,
                             legendgroup="tiers"), 3, 1)
    fig.update_layout(barmode="group", height=1100, title="Embedding layers on four system families")
    fig.update_yaxes(type="log", row=1, col=1)
    fig.update_yaxes(type="log", row=3, col=1)
    return fig


# SCRec's hardware mechanisms, switched off on the same plan for the page's drivers table
SCREC_SWITCHES = (("peer-to-peer flash", "params.csd.p2p", False), ("device parallelism", "params.csd.parallel", False),
                  ("near-data MLP", "params.csd.dense_on", "host"))


def screc_drivers(rows, sims, seed=0):
    """{label: [{mechanism, queries_per_s, energy_per_query_J, speedup_vs_cpu, energy_efficiency_vs_gpu,
    bottleneck}]} for every SCRec row: the full design first, then each hardware switch off (same plan)."""
    from ..hw_models.loader import load_system
    base = {r["system"]: r for r in rows}
    cpu, gpu = base.get("CPU-DRAM"), base.get("multi-GPU")
    out = {}
    for r in rows:
        if r["family"] != "screc_csd" or r["system"] not in sims:
            continue
        entries = [("none (full design)", sims[r["system"]].run("closed"))]
        for name, key, value in SCREC_SWITCHES:
            system = load_system(r["preset"], {**r["overrides"], key: value})
            entries.append((name, sims[r["system"]].on_system(system).run("closed", seed=seed)))
        out[r["system"]] = [{"mechanism": name, "queries_per_s": res.qps, "energy_per_query_J": res.energy_per_query_J,
                             "speedup_vs_cpu": res.qps / cpu["queries_per_s"] if cpu else None,
                             "energy_efficiency_vs_gpu": (gpu["energy_per_query_J"] / res.energy_per_query_J
                                                          if gpu and res.energy_per_query_J else None),
                             "bottleneck": f"{res.bottleneck[0]} ({res.bottleneck[1]:.0%})"} for name, res in entries]
    return out


def write_html(path, rows, table, force=False, plans=None, results=None, drivers=None, failed=(), model_name="",
               regimes=None):
    """One self-contained HTML page (plotly.js embedded): tables in human units, plans, energy, drivers."""
    from ..explorer.demo_page import render_demo
    from ..explorer.html_page import plot_block
    page = render_demo(rows, list(failed), plans or {}, results or {}, drivers or {},
                       f"embsim demo: {model_name or 'the model'} on four system families", regimes)
    page = page.replace("<h2>Achieved bandwidth", plot_block(_overview_fig(rows), "overview") + "<h2>Achieved bandwidth", 1)
    write_text(path, page, force=force)


@click.command("demo")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default="demo_out", show_default=True,
              help="Folder for demo.html, demo.json and the SimResults.")
@planner_options
@force_option
def demo(out_dir, force, planner):
    """Run the headline experiment (DCNv2 on the four families) and write its report.

    The planner options apply to every system (--columns to those the sharding MIP plans, not the SoC);
    --representations replaces each system's own list."""
    import os

    from ..cost_model.solvers import DETERMINISTIC_ENV
    os.environ.setdefault(DETERMINISTIC_ENV, "1")     # its solves (and its sweep's workers') in deterministic mode
    run_demo(out_dir, force=force, echo=click.echo, planner=planner)
    return 0
