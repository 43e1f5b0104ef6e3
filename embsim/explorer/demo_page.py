"""The page of ``embsim demo``: real tables in human units, each system's plan as a heatmap, energy split
into static and dynamic per part, and the drivers of SCRec's ratios (its hardware mechanisms switched off
on the same plan).  plotly.js inline: it opens offline."""
from __future__ import annotations

import html
import re

from .html_page import joules, nbytes, page, plot_block, rate, ratio, seconds, table


def plan_cells(plan) -> dict:
    """{table: {"device.tier": bytes}} of a plan (a shard's bytes: its share of its part's rows)."""
    out: dict = {}
    for tp in plan.tables:
        parts = max(1, int(tp.shards[0].parts or 1))
        for s in tp.shards:
            where = f"{s.device}.{s.tier}"
            b = tp.representation.bytes / parts * (s.rank_hi - s.rank_lo)
            out.setdefault(tp.table, {})[where] = out.setdefault(tp.table, {}).get(where, 0.0) + b
    return out


def _plan_fig(label: str, plan):
    import plotly.graph_objects as go
    cells = plan_cells(plan)
    cols = sorted({w for c in cells.values() for w in c}, key=lambda w: (re.sub(r"\d+", "", w), w))
    tables = list(cells)
    z = [[cells[t].get(w, 0.0) / 1e9 for w in cols] for t in tables]
    fig = go.Figure(go.Heatmap(z=z, x=cols, y=tables, colorscale="Blues", colorbar={"title": "GB"},
                               hovertemplate="%{y} on %{x}: %{z:.4g} GB<extra></extra>"))
    fig.update_layout(title=f"{label}: plan, GB of each table per device and tier", height=max(300, 14 * len(tables) + 140),
                      xaxis_title="device.tier", yaxis_title="table")
    return fig


def _energy_rows(label: str, result) -> list:
    per_q = result.energy_per_query_J / result.energy["total_J"] if result.energy["total_J"] else 0.0
    kinds: dict = {}
    for part, e in result.energy["by_part"].items():
        k = re.sub(r"\d+", "", part)
        s, d = kinds.get(k, (0.0, 0.0))
        kinds[k] = (s + e["static_J"] * per_q, d + e["dynamic_J"] * per_q)
    return [[label, k, joules(s), joules(d), f"{s / (s + d):.0%}" if s + d else "-"]
            for k, (s, d) in sorted(kinds.items(), key=lambda kv: -sum(kv[1]))]


def _headline(rows: list) -> str:
    head = ["system", "throughput", "p99 at 70% load", "rate within p99 target", "energy per query", "power",
            "speed-up vs CPU", "speed-up vs GPU", "energy eff. vs CPU", "energy eff. vs GPU", "bottleneck", "plan"]
    body = [[r["system"], rate(r["queries_per_s"], "queries/s"), seconds(r["p99_s"]),
             "n/a" if r["qps_under_p99_target"] is None else rate(r["qps_under_p99_target"], "queries/s"), joules(r["energy_per_query_J"]),
             f"{r['average_power_W']:.4g} W", ratio(r["speedup_vs_cpu"]), ratio(r["speedup_vs_gpu"]),
             ratio(r["energy_efficiency_vs_cpu"]), ratio(r["energy_efficiency_vs_gpu"]),
             f"{r['bottleneck']} ({r['bottleneck_utilisation']:.0%})",
             f"{r['plan']['status']}, {', '.join(r['plan']['representations'])}"] for r in rows]
    return table(head, body, numeric=tuple(range(1, 10)))


def _bandwidth(rows: list) -> str:
    tiers = sorted({k for r in rows for k in r["bandwidth_Bps"]})
    return table(["system"] + tiers, [[r["system"]] + [rate(r["bandwidth_Bps"][t], "B/s") if t in r["bandwidth_Bps"]
                                                       else "-" for t in tiers] for r in rows],
                 numeric=tuple(range(1, len(tiers) + 1)))


def _drivers(drivers: dict) -> str:
    if not drivers:
        return "<p class='note'>No SCRec system in this demo: no drivers.</p>"
    rows = [[label, d["mechanism"], rate(d["queries_per_s"], "queries/s"), joules(d["energy_per_query_J"]),
             ratio(d["speedup_vs_cpu"]), ratio(d["energy_efficiency_vs_gpu"]), d["bottleneck"]]
            for label, ds in drivers.items() for d in ds]
    return ("<p>SCRec's hardware mechanisms switched off one at a time, on the same plan (the full design's "
            "first row); `embsim reproduce` adds the planner's mechanisms and the sensitivity to assumptions.</p>"
            + table(["system", "switched off", "throughput", "energy per query", "speed-up vs CPU",
                     "energy eff. vs GPU", "bottleneck"], rows, numeric=(2, 3, 4, 5)))


def render_demo(rows: list, failed: list, plans: dict, results: dict, drivers: dict, title: str,
                regimes: list | None = None) -> str:
    """The demo page (module doc); ``regimes``: [(heading, rows, failed)] of further models shown beside the first."""
    from .html_page import EXTRA_CSS  # noqa: F401  (the page's own style is in html_page)
    parts = ["<p>Each system runs its MIP sharding plan on the same seeded trace. Throughput, bandwidth and "
             "energy in closed loop (peak); p99 under Poisson arrivals at 70% of each system's peak. "
             "Speed-up: throughput ratio; energy efficiency: queries-per-joule ratio.</p>",
             "<h2>Where each system wins</h2>", _headline(rows)]
    if failed:
        parts.append(table(["system", "preset", "not planned: why"], [list(f) for f in failed]))
    for heading, more, more_failed in regimes or []:
        parts += [f"<h2>{html.escape(heading)}</h2>", _headline(more)]
        if more_failed:
            parts.append(table(["system", "preset", "not planned: why"], [list(f) for f in more_failed]))
    parts += ["<h2>Achieved bandwidth per tier and link</h2>", _bandwidth(rows),
              "<h2>Drivers of SCRec's result</h2>", _drivers(drivers),
              "<h2>Energy per query: static and dynamic, per part</h2>",
              table(["system", "part", "static per query", "dynamic per query", "static share"],
                    [x for label, r in results.items() for x in _energy_rows(label, r)], numeric=(2, 3, 4)),
              "<h2>Plans: tables against devices and tiers</h2>"]
    for i, (label, plan) in enumerate(plans.items()):
        parts.append(plot_block(_plan_fig(label, plan), f"plan-{i}"))
    parts.append("<p class='note'>Embedding bytes placed: "
                 + "; ".join(f"{html.escape(label)} {nbytes(sum(sum(c.values()) for c in plan_cells(p).values()))}"
                             for label, p in plans.items()) + "</p>")
    return page(title, "".join(parts))
