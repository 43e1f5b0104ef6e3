"""One self-contained HTML page: plotly.js embedded once, charts as JSON blobs, tables with human units.

The design report (``report.py``), ``embsim reproduce`` and ``embsim demo`` write their pages with
these helpers, so every page opens offline (no script is fetched) and looks alike.
"""
from __future__ import annotations

import html
import math

from .report import _fig_json, page_shell

EXTRA_CSS = ("td.num{text-align:right;font-variant-numeric:tabular-nums} .good{color:#060} .bad{color:#a00}"
             " ul.why li{margin:.2em 0} .published{background:#f7f7ee;padding:.4em .8em;border-left:3px solid #cc9}")


def plot_block(fig, pid: str) -> str:
    """A chart: a div and its figure as JSON, drawn by the page's script."""
    return (f"<div class='plot' id='{pid}'></div>"
            f"<script type='application/json' id='{pid}-data'>{_fig_json(fig)}</script>")


def table(head: list, rows: list, numeric=()) -> str:
    """An HTML table; cells are escaped; columns in ``numeric`` are right-aligned."""
    out = ["<table><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in head) + "</tr>"]
    for r in rows:
        out.append("<tr>" + "".join(f"<td class='num'>{html.escape(str(c))}</td>" if i in numeric
                                    else f"<td>{html.escape(str(c))}</td>" for i, c in enumerate(r)) + "</tr>")
    return "".join(out) + "</table>"


def page(title: str, body: str) -> str:
    """The whole page around ``body`` (plotly.js inline: it opens offline)."""
    return page_shell(title, body, EXTRA_CSS)


def _scaled(x: float, unit: str, steps) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "n/a"
    for factor, prefix in steps:
        if abs(x) >= factor:
            return f"{x / factor:.3g} {prefix}{unit}"
    return f"{x:.3g} {unit}" if x else f"0 {unit}"


def seconds(x: float) -> str:
    return _scaled(x, "s", ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")))


def joules(x: float) -> str:
    return _scaled(x, "J", ((1.0, ""), (1e-3, "m"), (1e-6, "u"), (1e-9, "n")))


def rate(x: float, unit: str) -> str:
    return _scaled(x, unit, ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")))


def nbytes(x: float) -> str:
    return _scaled(x, "B", ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1.0, "")))


def ratio(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3g}x"
