"""Design reports: one self-contained HTML file a colleague can open offline.

    write_report(["sweep.sqlite"], "report.html")
    write_report(["result.json", "plan.json"], "report.html", force=True)

Inputs are result stores (``.sqlite``, written by ``embsim explore``) and
JSON files: SimResult JSON (``embsim simulate --json -o``) and ShardingPlan
JSON (``embsim shard -o``); a JSON file is recognised by its keys.

Sections, in order (a section whose data is absent says so and the report
is still written):

1. ``summary``: points by outcome, the Pareto-optimal designs, the best design per objective;
2. ``pareto``: Pareto scatter of all designs, front highlighted, hover shows knobs and metrics;
3. ``designs``: throughput, p99 latency and energy per query across designs;
4. ``bandwidth``: achieved bandwidth per memory tier and link, per design;
5. ``latency``: latency CDF (from a latency sample, or the percentiles);
6. ``plan``: the sharding plan as a heatmap of tables by device.tier (share of each table's lookups);
7. ``topology``: the system's graph of parts (System.graph);
8. ``sources``: the parameters of the system and where each number comes from (System.describe()).

plotly.js is embedded once, in the page; each chart is a JSON blob drawn by
``Plotly.newPlot`` inside try/catch, so a chart that fails says so in its
place and on the console.  Nothing is fetched from the network.
"""
import datetime
import html
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..errors import InputError
from ..fileio import check_output, read_json_object, write_text
from . import metrics as M
from .pareto import pareto_front

SECTIONS = [
    ("summary", "Summary: the best designs"),
    ("pareto", "Pareto front"),
    ("designs", "Throughput, p99 latency and energy per query across designs"),
    ("bandwidth", "Bandwidth per tier"),
    ("latency", "Latency CDF"),
    ("plan", "Sharding plan"),
    ("topology", "System topology"),
    ("sources", "Assumptions and sources"),
]

MAX_BARS = 40  # designs shown in bar charts: the front first, then the best by throughput


class Missing(Exception):
    """A section has no data; the message says what is missing and how to get it."""


# ----------------------------------------------------------------- inputs ---
class ReportInputs:
    """Everything the report draws, gathered from stores and JSON files."""

    def __init__(self):
        self.frames = []          # DataFrames from stores
        self.objectives = {}
        self.knobs = []
        self.sim_results = []     # (label, SimResult dict)
        self.plans = []           # (label, plan dict)
        self.systems = []         # (label, System)
        self.system_errors = []
        self.sources = []
        self.best_key = None

    @property
    def df(self):
        frames = [f for f in self.frames if len(f)]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True)


def _read_json(path):
    return read_json_object(path, "SimResult or plan")


def _is_plan(d):
    return isinstance(d, dict) and "tables" in d and "makespan_s" in d


def _is_sim_result(d):
    return isinstance(d, dict) and any(k.startswith(("throughput", "latency")) for k in d)


def gather(inputs):
    """Read every input path into a ReportInputs; InputError on an unknown or bad file."""
    from .store import ResultStore
    r = ReportInputs()
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    if not inputs:
        raise InputError("report: no inputs (give a result store .sqlite, or SimResult / plan .json files)")
    for p in map(Path, inputs):
        if not p.is_file():
            raise InputError(f"{p}: no such file")
        r.sources.append(str(p))
        if p.suffix in (".sqlite", ".db", ".sqlite3"):
            with ResultStore(p, create=False) as store:
                df = store.dataframe()
                df["source"] = p.name
                r.frames.append(df)
                for _name, sp in store.spaces().items():
                    r.objectives.update(sp["objectives"])
                    r.knobs += [k["name"] for k in sp["knobs"] if k["name"] not in r.knobs]
                _from_store(r, store, df)
        elif p.suffix == ".json":
            d = _read_json(p)
            if _is_plan(d):
                r.plans.append((p.stem, d))
                _add_system(r, p.stem, d.get("system"), None)
            elif _is_sim_result(d):
                r.sim_results.append((p.stem, d))
                if isinstance(d.get("plan"), dict) and _is_plan(d["plan"]):
                    r.plans.append((p.stem, d["plan"]))
                sysname = d.get("system") if isinstance(d.get("system"), str) else None
                _add_system(r, p.stem, sysname, None)
            else:
                raise InputError(f"{p}: neither a SimResult nor a sharding plan JSON "
                                 f"(expected keys such as 'throughput' or 'tables' and 'makespan_s')")
        else:
            raise InputError(f"{p}: unknown input type '{p.suffix}' (expected .sqlite, or .json)")
    if not r.objectives:
        r.objectives = {"throughput_qps": "max", "energy_per_query_J": "min"}
    return r


def _from_store(r, store, df):
    """The artifacts (plan, SimResult, system) of the store's best design."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    if not len(ok):
        return
    best = ok
    objs = {k: v for k, v in r.objectives.items() if k in ok.columns}
    if objs:
        best = pareto_front(ok, objs)
    row = best.iloc[0]
    key = row["key"]
    r.best_key = key
    label = f"best design ({key[:8]})"
    art = store.artifacts(key)
    if isinstance(art.get("sim_result"), dict):
        r.sim_results.append((label, art["sim_result"]))
    if isinstance(art.get("plan"), dict):
        r.plans.append((label, art["plan"]))
    cfg = store.config(key)
    _add_system(r, label, None, cfg)


def _add_system(r, label, name, cfg):
    """Load the System for the topology and sources sections (a failure is noted, not fatal)."""
    try:
        from ..config import apply_overrides
        from ..hw_models.loader import load_system, system_from_dict
        if cfg is not None:
            data = apply_overrides(cfg["system"]["data"], cfg.get("system_overrides"), source=cfg["system"]["name"])
            system = system_from_dict(data, source=cfg["system"]["name"])
        elif name:
            system = load_system(name)
        else:
            return
        if not any(s.name == system.name for _, s in r.systems):
            r.systems.append((label, system))
    except Exception as e:  # noqa: BLE001 - the report says why the section is empty
        r.system_errors.append(f"{label}: {str(e).splitlines()[0] if str(e) else type(e).__name__}")


# ---------------------------------------------------------------- helpers ---
def _design_label(row, knobs):
    parts = [f"{k}={_fmt(row[k])}" for k in knobs if k in row.index and not _isnan(row[k])]
    return ", ".join(parts) or str(row.get("key", ""))[:8]


def _isnan(x):
    return isinstance(x, float) and math.isnan(x)


def _fmt(x):
    if isinstance(x, float):
        return f"{x:.4g}"
    return str(x)


def _quantity(value, kind):
    """'80 GB'-style text for a value in SI units of a known kind, else the value as is."""
    from .. import units
    if isinstance(value, (int, float)) and not isinstance(value, bool) and kind in getattr(units, "_DISPLAY", {}):
        try:
            return units.format_quantity(float(value), kind)
        except (KeyError, ValueError, TypeError):
            return value
    return value


def _table_html(df, max_rows=20):
    if df is None or not len(df):
        return "<p class='missing'>no rows</p>"
    shown = df.head(max_rows)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = ""
    for _, row in shown.iterrows():
        body += "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row.to_numpy()) + "</tr>"
    more = f"<p class='note'>{len(df) - max_rows} more rows not shown</p>" if len(df) > max_rows else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"


def _designs(inp):
    """A DataFrame of designs with a 'label' column: store rows (front first) and SimResult files."""
    df = inp.df
    rows = []
    if len(df):
        ok = df[df["status"] == "ok"].copy() if "status" in df else df.copy()
        if len(ok):
            objs = {k: v for k, v in inp.objectives.items() if k in ok.columns}
            front = pareto_front(ok, objs) if objs else ok.iloc[0:0]
            rest = ok.drop(front.index)
            if "throughput_qps" in rest:
                rest = rest.sort_values("throughput_qps", ascending=False, kind="stable")
            ok = pd.concat([front, rest]).head(MAX_BARS)
            ok["label"] = [_design_label(r, inp.knobs) for _, r in ok.iterrows()]
            ok["on_front"] = ok.index.isin(front.index)
            rows.append(ok)
    sims = [dict(M.sim_metrics(d), label=label, on_front=False) for label, d in inp.sim_results
            if not label.startswith("best design")]
    if sims:
        rows.append(pd.DataFrame(sims))
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


# --------------------------------------------------------------- sections ---
def section_summary(inp):
    df = inp.df
    parts = [f"<p>Inputs: {', '.join(html.escape(s) for s in inp.sources)}.</p>"]
    if not len(df) and not inp.sim_results:
        raise Missing("no sweep results or SimResult files among the inputs")
    if len(df):
        counts = df["status"].value_counts().to_dict() if "status" in df else {}
        parts.append("<p>" + f"{len(df)} designs: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + ".</p>")
        ok = df[df["status"] == "ok"] if "status" in df else df
        objs = {k: v for k, v in inp.objectives.items() if k in ok.columns}
        missing = [k for k in inp.objectives if k not in ok.columns]
        if missing:
            parts.append(f"<p class='note'>objectives without data: {html.escape(', '.join(missing))}</p>")
        if objs and len(ok):
            front = pareto_front(ok, objs)
            cols = [c for c in inp.knobs if c in front] + list(objs)
            parts.append(f"<h3>Pareto-optimal designs ({len(front)} of {len(ok)}; "
                         + html.escape(", ".join(f"{k} {v}" for k, v in objs.items())) + ")</h3>")
            parts.append(_table_html(front[cols]))
            best = []
            for k, sense in objs.items():
                col = pd.to_numeric(ok[k], errors="coerce")
                if col.notna().any():
                    i = col.idxmax() if sense == "max" else col.idxmin()
                    best.append({"objective": f"{sense} {k}", "value": ok.at[i, k],
                                 "design": _design_label(ok.loc[i], inp.knobs)})
            parts.append("<h3>Best design per objective</h3>" + _table_html(pd.DataFrame(best)))
        errs = df[df["status"] == "error"] if "status" in df else df.iloc[0:0]
        if len(errs):
            first = str(errs.iloc[0]["error"]).strip().splitlines()[-1]
            parts.append(f"<p class='note'>{len(errs)} designs failed with an error; first: "
                         f"{html.escape(first)}</p>")
    for label, d in inp.sim_results:
        m = M.sim_metrics(d)
        keys = [k for k in M.CANONICAL if k in m]
        parts.append(f"<h3>SimResult {html.escape(label)}</h3>"
                     + _table_html(pd.DataFrame([{k: m[k] for k in keys}])))
    return "\n".join(parts), []


def section_pareto(inp):
    import plotly.graph_objects as go
    df = inp.df
    if not len(df):
        raise Missing("no sweep results (give a result store .sqlite)")
    ok = df[df["status"] == "ok"] if "status" in df else df
    objs = [k for k in inp.objectives if k in ok.columns]
    if len(objs) < 2:
        raise Missing(f"need two objectives with data, have {objs or 'none'} "
                      f"(objectives: {', '.join(inp.objectives)})")
    sense = {k: inp.objectives[k] for k in objs}
    front = pareto_front(ok, sense)
    y, x = objs[0], objs[1]
    hover_cols = [c for c in inp.knobs if c in ok] + objs

    def hover(frame):
        return ["<br>".join(f"{c}: {_fmt(r[c])}" for c in hover_cols) for _, r in frame.iterrows()]

    marker = {"size": 9}
    if len(objs) >= 3:
        marker = {"size": 10, "color": pd.to_numeric(ok[objs[2]], errors="coerce").tolist(),
                  "colorscale": "Viridis", "showscale": True, "colorbar": {"title": {"text": objs[2]}}}
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ok[x].tolist(), y=ok[y].tolist(), mode="markers", name="all designs",
                             marker=marker, text=hover(ok), hoverinfo="text"))
    fs = front.sort_values(x, kind="stable")
    fig.add_trace(go.Scatter(x=fs[x].tolist(), y=fs[y].tolist(), mode="markers+lines", name="Pareto front",
                             marker={"size": 14, "symbol": "circle-open", "color": "crimson", "line": {"width": 2}},
                             line={"dash": "dot", "color": "crimson"}, text=hover(fs), hoverinfo="text"))
    fig.update_layout(xaxis_title=f"{x} ({sense[x]})", yaxis_title=f"{y} ({sense[y]})", height=480,
                      margin={"t": 40}, legend={"orientation": "h", "y": 1.08, "x": 0})
    note = f"<p>{len(front)} of {len(ok)} designs are Pareto-optimal over {', '.join(objs)}."
    if len(objs) > 2:
        note += f" Colour: {html.escape(objs[2])}."
    return note + "</p>", [fig]


def section_designs(inp):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots
    d = _designs(inp)
    cols = [c for c in ("throughput_qps", "p99_latency_s", "energy_per_query_J") if c in d]
    if not len(d) or not cols:
        raise Missing("no design has throughput, p99 latency or energy per query")
    fig = make_subplots(rows=len(cols), cols=1, shared_xaxes=True, subplot_titles=cols, vertical_spacing=0.08)
    colors = ["crimson" if f else "steelblue" for f in d.get("on_front", [False] * len(d))]
    for i, c in enumerate(cols, 1):
        fig.add_trace(go.Bar(x=d["label"].tolist(), y=pd.to_numeric(d[c], errors="coerce").tolist(), name=c,
                             marker_color=colors, showlegend=False), row=i, col=1)
    fig.update_layout(height=260 * len(cols) + 120, margin={"t": 40, "b": 160})
    return (f"<p>{len(d)} designs (Pareto-optimal in red, then the rest by throughput; at most {MAX_BARS}).</p>",
            [fig])


def section_bandwidth(inp):
    import plotly.graph_objects as go
    d = _designs(inp)
    cols = M.bandwidth_columns(d.columns) if len(d) else []
    cols = [c for c in cols if pd.to_numeric(d[c], errors="coerce").notna().any()]
    if not cols:
        raise Missing("no bandwidth-per-tier figures among the results")
    fig = go.Figure()
    for c in cols:
        name = c.split(".", 1)[1]
        fig.add_trace(go.Bar(x=d["label"].tolist(), y=(pd.to_numeric(d[c], errors="coerce") / 1e9).tolist(),
                             name=name))
    fig.update_layout(barmode="group", yaxis_title="achieved bandwidth (GB/s)", height=480,
                      margin={"t": 30, "b": 160})
    return "<p>Achieved bandwidth of each memory tier and link, per design.</p>", [fig]


def section_latency(inp):
    import plotly.graph_objects as go
    fig = go.Figure()
    notes = []
    for label, d in inp.sim_results:
        sample = M.latency_sample(d)
        if sample:
            x = np.sort(np.asarray(sample, dtype=float))
            y = np.arange(1, len(x) + 1) / len(x)
            if len(x) > 2000:   # thin a long sample to 2000 quantiles for the page size
                q = np.linspace(0, 1, 2000)
                x, y = np.quantile(x, q), q
            fig.add_trace(go.Scatter(x=(x * 1e3).tolist(), y=y.tolist(), mode="lines", name=label,
                                     line={"shape": "hv"}))
            continue
        m = M.sim_metrics(d)
        pts = [(m[k], p) for k, p in (("p50_latency_s", 0.5), ("p95_latency_s", 0.95), ("p99_latency_s", 0.99),
                                      ("max_latency_s", 1.0)) if M.finite(m.get(k))]
        if pts:
            fig.add_trace(go.Scatter(x=[p[0] * 1e3 for p in pts], y=[p[1] for p in pts], mode="markers+lines",
                                     name=f"{label} (percentiles only)", line={"shape": "hv"}))
            notes.append(label)
    if not fig.data:
        df = inp.df
        pcols = [c for c in ("p50_latency_s", "p95_latency_s", "p99_latency_s", "max_latency_s") if c in df]
        if len(df) and pcols:
            for _, r in _designs(inp).head(8).iterrows():
                pts = [(r[c], q) for c, q in zip(pcols, (0.5, 0.95, 0.99, 1.0)) if M.finite(r.get(c))]
                if pts:
                    fig.add_trace(go.Scatter(x=[p[0] * 1e3 for p in pts], y=[p[1] for p in pts],
                                             mode="markers+lines", name=r["label"], line={"shape": "hv"}))
            notes.append("sweep designs")
    if not fig.data:
        raise Missing("no latency sample or percentiles among the inputs")
    fig.update_layout(xaxis_title="latency (ms)", yaxis_title="share of queries", height=420, margin={"t": 30},
                      yaxis={"range": [0, 1.02]})
    text = "<p>Share of queries answered within a latency.</p>"
    if notes:
        text += (f"<p class='note'>Drawn through the reported percentiles only (no latency sample) for: "
                 f"{html.escape(', '.join(notes))}.</p>")
    return text, [fig]


def section_plan(inp):
    import plotly.graph_objects as go
    if not inp.plans:
        raise Missing("no sharding plan (give a plan JSON, or a store whose evaluator saved plans)")
    figs, text = [], []
    for label, plan in inp.plans[:3]:
        tables = [t["table"] for t in plan.get("tables", [])]
        slots = []
        for t in plan["tables"]:
            for s in t["shards"]:
                k = f"{s['device']}.{s['tier']}"
                if k not in slots:
                    slots.append(k)
        z = np.zeros((len(tables), len(slots)))
        hover = [["" for _ in slots] for _ in tables]
        for i, t in enumerate(plan["tables"]):
            rep = t.get("representation", {})
            for s in t["shards"]:
                j = slots.index(f"{s['device']}.{s['tier']}")
                z[i, j] += float(s.get("access_share", 0.0))
                extra = f", core {s['core']} {s.get('strategy') or ''}" if s.get("core") is not None else ""
                hover[i][j] += (f"{t['table']} on {slots[j]}: rows ranked {s['rank_lo']:.3g}-{s['rank_hi']:.3g}, "
                                f"{s.get('access_share', 0):.3g} of lookups, {rep.get('kind', 'dense')} "
                                f"{rep.get('dtype', '')}{extra}<br>")
        fig = go.Figure(go.Heatmap(z=z.tolist(), x=slots, y=tables, colorscale="Blues", zmin=0, zmax=1,
                                   text=hover, hoverinfo="text", colorbar={"title": {"text": "share of lookups"}}))
        fig.update_layout(height=max(300, 18 * len(tables) + 150), xaxis_title="device.tier",
                          yaxis={"autorange": "reversed"}, title={"text": label}, margin={"t": 50})
        figs.append(fig)
        ms = plan.get("makespan_s")
        base = plan.get("baselines") or {}
        line = f"<p>{html.escape(label)}: {len(tables)} tables over {len(slots)} slots"
        if M.finite(ms):
            line += f", predicted makespan {ms * 1e6:.4g} us per batch"
        if plan.get("solver"):
            line += f" ({html.escape(str(plan['solver']))}, status {html.escape(str(plan.get('status', '')))})"
        if base:
            line += "; baselines: " + ", ".join(
                f"{html.escape(str(n))} {b['makespan_s'] * 1e6:.4g} us"
                for n, b in base.items() if isinstance(b, dict) and M.finite(b.get('makespan_s')))
        text.append(line + ".</p>")
    return "\n".join(text), figs


def section_topology(inp):
    import networkx as nx
    import plotly.graph_objects as go
    if not inp.systems:
        why = "; ".join(inp.system_errors) or "no system among the inputs"
        raise Missing(f"no system to draw ({why})")
    figs, text = [], []
    for label, system in inp.systems[:2]:
        g = system.graph
        pos = nx.spring_layout(g, seed=0) if len(g) else {}
        ex, ey = [], []
        for a, b in g.edges():
            ex += [pos[a][0], pos[b][0], None]
            ey += [pos[a][1], pos[b][1], None]
        nodes = list(g.nodes())
        hover = []
        for n in nodes:
            attrs = {k: v for k, v in g.nodes[n].items() if isinstance(v, (int, float, str))}
            hover.append(f"<b>{html.escape(str(n))}</b><br>" + "<br>".join(
                f"{html.escape(str(k))}: {html.escape(_fmt(v))}" for k, v in list(attrs.items())[:12]))
        kinds = [str(g.nodes[n].get("kind", "part")) for n in nodes]
        fig = go.Figure()
        fig.add_trace(go.Scatter(x=ex, y=ey, mode="lines", line={"color": "#999", "width": 1},
                                 hoverinfo="skip", showlegend=False))
        for kind in sorted(set(kinds)):
            idx = [i for i, k in enumerate(kinds) if k == kind]
            fig.add_trace(go.Scatter(x=[pos[nodes[i]][0] for i in idx], y=[pos[nodes[i]][1] for i in idx],
                                     mode="markers+text", name=kind, text=[str(nodes[i]) for i in idx],
                                     textposition="top center", hovertext=[hover[i] for i in idx],
                                     hoverinfo="text", marker={"size": 14}))
        fig.update_layout(height=520, xaxis={"visible": False}, yaxis={"visible": False},
                          title={"text": f"{system.name} ({system.family})"}, margin={"t": 50})
        figs.append(fig)
        text.append(f"<p>{html.escape(label)}: {system.name}, {g.number_of_nodes()} parts, "
                    f"{g.number_of_edges()} connections.</p>")
    return "\n".join(text), figs


def section_sources(inp):
    if not inp.systems:
        why = "; ".join(inp.system_errors) or "no system among the inputs"
        raise Missing(f"no system whose sources to list ({why})")
    parts = []
    for label, system in inp.systems[:2]:
        rows = [list(r) if not isinstance(r, dict) else list(r.values()) for r in system.describe()]
        if rows and all(len(r) == 5 for r in rows):
            rows = [[part, param, _quantity(value, kind), kind, source] for part, param, value, kind, source in rows]
        df = pd.DataFrame(rows)
        if len(df.columns) == 5:
            df.columns = ["part", "parameter", "value", "unit kind", "source"]
        parts.append(f"<h3>{html.escape(system.name)} ({html.escape(str(system.source_file or label))})</h3>"
                     + _table_html(df, max_rows=400))
    return "\n".join(parts), []


BUILDERS = {"summary": section_summary, "pareto": section_pareto, "designs": section_designs,
            "bandwidth": section_bandwidth, "latency": section_latency, "plan": section_plan,
            "topology": section_topology, "sources": section_sources}


# ---------------------------------------------------------------- writing ---
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#222}
h1{margin-bottom:0} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0} td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}
th{background:#f4f4f4} .missing{color:#a60;font-style:italic} .note{color:#666;font-size:13px}
.plot{width:100%;min-height:300px} nav a{margin-right:1em} .meta{color:#666;font-size:13px}
"""

_RENDER = """
(function(){
  var plots = document.querySelectorAll('div.plot');
  for (var i = 0; i < plots.length; i++) {
    var div = plots[i];
    try {
      var fig = JSON.parse(document.getElementById(div.id + '-data').textContent);
      Plotly.newPlot(div, fig.data, fig.layout, {responsive: true, displaylogo: false});
    } catch (e) {
      div.setAttribute('data-error', String(e));
      div.textContent = 'This chart could not be drawn: ' + e;
      console.error('embsim report: chart ' + div.id + ' failed: ' + e);
    }
  }
})();
"""


def _fig_json(fig):
    import plotly.io as pio
    # '<' escaped so that no string inside can close the <script> element.
    return pio.to_json(fig, validate=False, remove_uids=True).replace("<", "\\u003c")


def render_html(inp, title="embsim design report"):
    """The report page as a string."""
    body, nav = [], []
    for sid, heading in SECTIONS:
        nav.append(f"<a href='#{sid}'>{html.escape(heading.split(':')[0])}</a>")
        try:
            text, figs = BUILDERS[sid](inp)
        except Missing as e:
            body.append(f"<section id='{sid}'><h2>{html.escape(heading)}</h2>"
                        f"<p class='missing'>Not available: {html.escape(str(e))}.</p></section>")
            continue
        blocks = [text]
        for i, fig in enumerate(figs):
            pid = f"plot-{sid}-{i}"
            blocks.append(f"<div class='plot' id='{pid}'></div>"
                          f"<script type='application/json' id='{pid}-data'>{_fig_json(fig)}</script>")
        body.append(f"<section id='{sid}'><h2>{html.escape(heading)}</h2>{''.join(blocks)}</section>")
    return page_shell(title, f"<nav>{''.join(nav)}</nav>{''.join(body)}")


def written_at() -> datetime.datetime:
    """The time a page says it was written: ``SOURCE_DATE_EPOCH`` (seconds, UTC) when set, else now.

    The reproducible-builds convention (https://reproducible-builds.org/specs/source-date-epoch/): with
    it set, the same inputs give the same page byte for byte; a malformed value is an input error.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH")
    if raw is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if not raw.strip().isdigit():
        raise InputError(f"SOURCE_DATE_EPOCH: {raw!r} is not a whole number of seconds since 1970 (UTC)")
    return datetime.datetime.fromtimestamp(int(raw), datetime.timezone.utc)


def page_shell(title: str, body: str, extra_css: str = "") -> str:
    """The whole page around ``body``: plotly.js inline (it opens offline), the charts drawn by one script."""
    import plotly.offline
    now = written_at().strftime("%Y-%m-%d %H:%M UTC")
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<title>{html.escape(title)}</title><style>{_CSS}{extra_css}</style>"
            f"<script type='text/javascript'>{plotly.offline.get_plotlyjs()}</script></head><body>"
            f"<h1>{html.escape(title)}</h1><p class='meta'>embsim {__version__}, written {now}</p>"
            f"{body}<script>{_RENDER}</script></body></html>\n")


def write_report(inputs, path, force=False, title="embsim design report"):
    """Write the HTML report of ``inputs`` (paths, or a ReportInputs) to ``path``; returns the path."""
    check_output(path, force, inputs=[] if isinstance(inputs, ReportInputs) else
                 ([inputs] if isinstance(inputs, (str, Path)) else list(inputs)))   # before the work
    inp = inputs if isinstance(inputs, ReportInputs) else gather(inputs)
    write_text(path, render_html(inp, title), force=force)
    return Path(path)
