"""The HTML page of ``embsim reproduce``: per experiment the published figure beside the measured
ratio, why they differ, the drivers (ratio with each mechanism off) and the sensitivity to every
assumption as a tornado chart, most influential first.  plotly.js is inline: it opens offline."""
from __future__ import annotations

import html
import math

from .html_page import joules, page, plot_block, rate, ratio, table


def _drivers_fig(e: dict):
    import plotly.graph_objects as go
    names = [d["mechanism"] for d in e["drivers"]]
    fig = go.Figure(go.Bar(x=names, y=[d["ratio_without"] for d in e["drivers"]], name="ratio with it off"))
    fig.add_hline(y=e["measured_ratio"], line_dash="dot", annotation_text=f"measured {e['measured_ratio']:.3g}x")
    fig.update_layout(title="Drivers: the ratio with each mechanism switched off", yaxis_title="ratio (x)",
                      yaxis_type="log", height=360)
    return fig


def _tornado_fig(e: dict, top: int = 25):
    import plotly.graph_objects as go
    rows = e["sensitivity"][:top][::-1]           # most influential at the top
    m = e["measured_ratio"]
    names = [s["parameter"] for s in rows]
    fig = go.Figure()
    for key, label in (("ratio_low", "low end"), ("ratio_high", "high end")):
        fig.add_trace(go.Bar(y=names, x=[s[key] - m for s in rows], base=m, orientation="h", name=label,
                             customdata=[[s["low"] if key == "ratio_low" else s["high"], s[key]] for s in rows],
                             hovertemplate="%{y}: value %{customdata[0]:.3g} -> ratio %{customdata[1]:.3g}x"))
    fig.add_vline(x=m, line_dash="dot")
    fig.update_layout(title=f"Sensitivity to assumptions (tornado, the {len(rows)} most influential)",
                      barmode="overlay", xaxis_title="ratio (x)", height=max(320, 22 * len(rows) + 120))
    return fig


def _side_rows(d: dict) -> list:
    out = []
    for key in ("candidate", "baseline"):
        s = d[key]
        out.append([s["label"], s["system"], rate(s["queries_per_s"], "queries/s"), joules(s["energy_per_query_J"]),
                    f"{s['bottleneck']} ({s['bottleneck_utilisation']:.0%})", ", ".join(s["representations"]),
                    rate(s["flash_bytes_B"], "B"), s["plan_status"]])
    return out


def experiment_html(e: dict, i: int) -> str:
    d = e["details"]
    pub = e["published"]
    parts = [f"<section id='{html.escape(e['name'])}'><h2>{html.escape(d['title'])}</h2>",
             f"<p class='published'>Published: <b>{html.escape(pub['text'])}</b> ({html.escape(pub['paper'])})."
             f"<br>Measured: <b>{ratio(e['measured_ratio'])}</b> ({html.escape(d['metric'].replace('_', ' '))}, "
             f"closed loop, model {html.escape(d['model'])}, {d['model_GB']:,.1f} GB; trace "
             f"{d['trace']['batches']} x {d['trace']['batch_size']}).</p>",
             f"<p class='note'>{html.escape(d['model_reason'])}</p>",
             "<ul class='why'>" + "".join(f"<li>{html.escape(s)}</li>" for s in d["explanation"]) + "</ul>",
             table(["side", "system", "throughput", "energy per query", "bottleneck", "representations",
                    "flash/NVMe bytes", "plan"], _side_rows(d), numeric=(2, 3, 6)),
             "<h3>Drivers</h3>",
             table(["mechanism", "what it does", "ratio without it", "change", "re-planned", "bottleneck without it"],
                   [[x["mechanism"], d["drivers"][x["mechanism"]]["what"], ratio(x["ratio_without"]),
                     ratio(x["ratio_without"] / e["measured_ratio"]) if e["measured_ratio"] else "n/a",
                     "yes" if d["drivers"][x["mechanism"]]["replanned"] else "no (same plan)",
                     d["drivers"][x["mechanism"]]["bottleneck"]] for x in e["drivers"]], numeric=(2, 3)),
             plot_block(_drivers_fig(e), f"drivers-{i}"),
             "<h3>Sensitivity</h3><p class='note'>Every parameter whose source says \"assumption\", at the low "
             "and high end of its plausible range (x0.5 and x2 unless the settings give a range), the plans "
             "held; most influential first.</p>"]
    if e["sensitivity"]:
        parts.append(plot_block(_tornado_fig(e), f"tornado-{i}"))
        parts.append(table(["parameter", "low", "high", "ratio at low", "ratio at high", "source"],
                           [[s["parameter"], f"{s['low']:.4g}", f"{s['high']:.4g}", ratio(s["ratio_low"]),
                             ratio(s["ratio_high"]), s["source"]] for s in e["sensitivity"]], numeric=(1, 2, 3, 4)))
    parts.append("</section>")
    return "".join(parts)


def render(entries: list, quick: bool, run_s: float) -> str:
    summary = table(["experiment", "published", "measured", "top drivers (ratio without)", "top assumptions"],
                    [[e["name"], e["published"]["text"], ratio(e["measured_ratio"]),
                      "; ".join(f"{d['mechanism']} {ratio(d['ratio_without'])}" for d in top_drivers(e)),
                      "; ".join(s["parameter"] for s in e["sensitivity"][:3])] for e in entries], numeric=(2,))
    body = (f"<p>The seeds' headline experiments, re-run by embsim ({'quick' if quick else 'full'} settings, "
            f"{run_s:.0f} s). No parameter is fitted to a published figure; where the measured ratio differs, "
            f"the bullets say by how much and what the run shows about why.</p>{summary}"
            + "".join(experiment_html(e, i) for i, e in enumerate(entries)))
    return page("embsim reproduce: the published headline experiments", body)


def top_drivers(e: dict, n: int = 3) -> list:
    """The ``n`` mechanisms whose switching off moves the ratio most (either way)."""
    m = e["measured_ratio"]
    return sorted(e["drivers"], key=lambda d: -abs(math.log(max(d["ratio_without"], 1e-300) / max(m, 1e-300))))[:n]
