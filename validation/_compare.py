"""One comparison row, and the plain-text table every validation script prints.

A row puts the model's prediction beside a reference figure and prints
``ratio = model / reference``.  Ratios are reported, never asserted: a test
that demanded ratio == 1 would only reward typing the measurement into a preset.
"""
import math
from dataclasses import dataclass

@dataclass(frozen=True)
class Row:
    comparison: str     # the section, e.g. "(a) SmartSSD P2P read bandwidth"
    quantity: str       # what is compared, e.g. "4 KiB buffer"
    model: float        # embsim's prediction, in ``unit``
    reference: float    # the measured (or assumed) figure, in ``unit``
    unit: str
    source: str         # short source of the reference figure
    note: str = ""

    @property
    def ratio(self):
        return self.model / self.reference


def _fmt(x):
    if x == 0 or not math.isfinite(x):
        return f"{x}"
    a = abs(x)
    if a >= 1e5 or a < 1e-3:
        return f"{x:.3e}"
    return f"{x:.4g}"


def format_rows(title, rows, sources, notes=(), reference_label="measured"):
    """The table of one comparison: quantity, model, reference, ratio, unit; then sources and notes."""
    lines = [f"== {title} ==",
             f"{'quantity':46s} {'model':>11s} {reference_label:>11s} {'ratio':>7s}  unit"]
    for r in rows:
        lines.append(f"{r.quantity:46s} {_fmt(r.model):>11s} {_fmt(r.reference):>11s} {r.ratio:7.3f}  {r.unit}"
                     + (f"   [{r.note}]" if r.note else ""))
    lines.append("sources:")
    lines += [f"  - {s}" for s in sources]
    if notes:
        lines.append("notes:")
        lines += [f"  - {n}" for n in notes]
    return "\n".join(lines) + "\n"
