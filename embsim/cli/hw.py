"""``embsim hw list``, ``embsim hw show SYSTEM`` and ``embsim calibrate``.

``hw show`` prints every parameter of a system with its unit and source, the
slots the cost model sees (derived from the parameters), and the peak
bandwidths no reported figure may exceed.  ``--json`` prints the same as one
object, units in the keys.
"""
import json
import re
import sys

import click

from ..units import KINDS as UNIT_KINDS, format_quantity
from . import force_option, json_option
from .options import SEED


def _presets():
    from ..config import load_yaml
    from ..hw_models.loader import PRESET_DIR, preset_names
    out = []
    for name in preset_names():
        data = load_yaml(PRESET_DIR / f"{name}.yaml")
        desc = " ".join(str(data.get("description", "")).split())
        out.append({"name": name, "family": data.get("family", "?"), "description": desc})
    return out


@click.group()
def hw():
    """List and show hardware presets."""


@hw.command("list")
@json_option
def list_(as_json):
    """Presets and their family."""
    rows = _presets()
    if as_json:
        click.echo(json.dumps({"systems": rows}, indent=2))
        return
    w = max(len(r["name"]) for r in rows) if rows else 4
    f = max(len(r["family"]) for r in rows) if rows else 6
    click.echo(f"{'name':<{w}}  {'family':<{f}}  description")
    for r in rows:
        d = r["description"]
        d = d if len(d) <= 80 else d[:77] + "..."
        click.echo(f"{r['name']:<{w}}  {r['family']:<{f}}  {d}")


REFERENCE_ROW_B = 256        # the row 'hw show' prices a lookup of in every slot (dim 64 fp32)
_DECIMAL_BYTES = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")]


def display(value, kind, name=""):
    """A value as a preset would write it: '80 GB' stays '80 GB', '32 MiB' stays '32 MiB'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or kind not in UNIT_KINDS:
        return str(value)                        # a setting (flag, choice) rather than a quantity
    if kind == "bytes":
        binary = format_quantity(value, "bytes")
        for scale, unit in _DECIMAL_BYTES:
            if abs(value) >= scale:
                decimal = f"{value / scale:.4g} {unit}"
                return decimal if len(decimal) <= len(binary) else binary
        return binary
    if kind == "rate" and "flop" in name.lower():
        return format_quantity(value, "rate").replace("/s", "FLOP/s")
    if kind == "rate" and "transfer" in name.lower():
        return f"{value / 1e6:.4g} MT/s"
    return format_quantity(value, kind)


def _show_data(system):
    rows = [{"part": part, "parameter": name, "value": value, "unit_kind": kind,
             "display": display(value, kind, name), "source": source}
            for part, name, value, kind, source in system.describe()]
    slots = []
    for s in system.slots():
        ref = system.lookup_cost(s, REFERENCE_ROW_B)
        slots.append({"device": s.device, "tier": s.tier, "capacity_B": s.capacity_B, "rank": s.rank,
                      "pool": s.pool_key, "granularity_B": s.granularity_B,
                      "reference_row_B": REFERENCE_ROW_B, "lookup_time_s": ref.time_s, "lookup_energy_J": ref.energy_J})
    return {"name": system.name, "family": system.family, "file": system.source_file,
            "description": " ".join(str(getattr(system.params, "description", "")).split()),
            "parameters": rows, "parts": system.parts_summary(), "slots": slots,
            "derived": [{"part": part, "figure": name, "value": value, "unit_kind": kind,
                         "display": display(value, kind, name), "formula": formula}
                        for part, name, value, kind, formula in system.derived_figures()],
            "peak_bandwidth_Bps": system.peak_bandwidth_Bps(),
            "static_power_W": system.static_power_W(),
            "energy_per_action_J": [{"part": p, "action": a, "energy_J": e}
                                    for (p, a), e in system.energy_per_action_J().items()]}


@hw.command("show")
@click.argument("system")
@json_option
def show(system, as_json):
    """Parameters of SYSTEM (preset or YAML) with their sources."""
    from ..hw_models.loader import load_system
    s = load_system(system)
    data = _show_data(s)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"{data['name']}  (family {data['family']}, {data['file']})")
    if data["description"]:
        click.echo(data["description"])
    click.echo("")
    rows = data["parameters"]
    wp = max(len(r["part"]) for r in rows)
    wn = max(len(r["parameter"]) for r in rows)
    wv = max(len(r["display"]) for r in rows)
    click.echo(f"{'part':<{wp}}  {'parameter':<{wn}}  {'value':>{wv}}  source")
    for r in rows:
        click.echo(f"{r['part']:<{wp}}  {r['parameter']:<{wn}}  {r['display']:>{wv}}  {r['source']}")
    click.echo("")
    click.echo("slots (derived from the parameters above):")
    lines = {}
    for sl in data["slots"]:
        pool = f"  shared pool {sl['pool']}" if sl["pool"] != f"{sl['device']}.{sl['tier']}" else ""
        text = (f"  {re.sub(r'[0-9]+', 'N', sl['device'])}.{sl['tier']:<10} rank {sl['rank']}  "
                f"{display(sl['capacity_B'], 'bytes')}  granularity {display(sl['granularity_B'], 'bytes')}  "
                f"{REFERENCE_ROW_B}-B lookup {format_quantity(sl['lookup_time_s'], 'time')}{pool}")
        lines.setdefault(text, []).append(sl["device"])
    for text, devs in lines.items():
        click.echo(text + (f"  (x{len(devs)}: {devs[0]} .. {devs[-1]})" if len(devs) > 1 else f"  ({devs[0]})"))
    if data["derived"]:
        click.echo("derived figures:")
        wd = max(len(f"{r['part']}.{r['figure']}") for r in data["derived"])
        for r in data["derived"]:
            click.echo(f"  {r['part'] + '.' + r['figure']:<{wd}}  {r['display']:>11}  = {r['formula']}")
    click.echo("peak bandwidths: " + ", ".join(_grouped(data["peak_bandwidth_Bps"])))


def _grouped(peaks):
    """'gpu0.hbm 2 TB/s, gpu1.hbm 2 TB/s, ...' -> 'gpuN.hbm 2 TB/s (x8)' when every copy is equal."""
    groups = {}
    for k, v in peaks.items():
        groups.setdefault((re.sub(r"(?<=[a-z])\d+(?=\.|$)", "N", k), v), []).append(k)
    counts = {}
    for (pattern, _) in groups:
        counts[pattern] = counts.get(pattern, 0) + 1
    out = []
    for (pattern, v), keys in groups.items():
        if len(keys) > 1 and counts[pattern] == 1:
            out.append(f"{pattern} {format_quantity(v, 'bandwidth')} (x{len(keys)})")
        else:
            out += [f"{k} {format_quantity(v, 'bandwidth')}" for k in keys]
    return out


@click.command()
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="Preset YAML to write.")
@force_option
@click.option("--quick", is_flag=True, help="Fewer lookups and a smaller table: about half the measuring time.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the random row indices.")
@json_option
def calibrate(output, force, quick, seed, as_json):
    """Measure this host and write a cpu_dram preset fitted to it.

    Times numpy gather-and-sum over tables larger than the LLC at several row
    sizes, storage dtypes (fp32, fp16, int8) and pooling factors, streaming
    bandwidth and random-read latency, fits the CPU part's per-row, per-bag and
    per-value conversion terms, and writes a preset whose every number says
    whether it was measured here or assumed.
    """
    import yaml

    from ..fileio import check_output, write_text
    from ..hw_models import calibrate as cal
    from ..hw_models.loader import system_from_dict

    check_output(output, force)                  # refuse before measuring, not after
    say = (lambda m: click.echo(f"calibrate: {m}", err=True)) if sys.stderr.isatty() and not as_json else None
    c = cal.calibrate(quick=quick, seed=seed, progress=say)
    system_from_dict(c.preset, source="calibration")          # the file we write must load
    text = ("# Written by 'embsim calibrate'. Every number says whether it was measured on this\n"
            "# host or assumed; load it with --system " + str(output) + "\n"
            + yaml.safe_dump(c.preset, sort_keys=False, width=120))
    write_text(output, text, force=force)
    fits = [{"row_bytes": s.row_bytes, "pooling": s.pooling, "dtype": s.dtype, "measured_s": m, "predicted_s": p}
            for s, m, p in zip(c.shapes, c.measured_s, c.predicted_s)]
    summary = {"output": str(output), "seconds": c.seconds,
               "stream_bandwidth_Bps": c.stream_Bps, "latency_s": c.latency_s,
               "gather_overhead_s": c.fit.gather_overhead_s, "line_time_s": c.fit.line_time_s,
               "lines_in_flight": c.latency_s / c.fit.line_time_s,
               "sum_bandwidth_Bps": c.fit.sum_bandwidth_Bps, "add_overhead_s": c.fit.add_overhead_s,
               "bag_overhead_s": c.fit.bag_overhead_s, "convert_s_per_value": dict(c.fit.convert_s),
               "fit_max_rel_error": c.max_rel_error, "fit": fits}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"wrote {output} ({c.seconds:.0f} s of measurement)")
    click.echo(f"  streaming bandwidth  {format_quantity(c.stream_Bps, 'bandwidth')}")
    click.echo(f"  random-read latency  {format_quantity(c.latency_s, 'time')}")
    click.echo(f"  per-row overhead     {format_quantity(c.fit.gather_overhead_s, 'time')}")
    click.echo(f"  per-line time        {format_quantity(c.fit.line_time_s, 'time')} "
               f"(lines in flight {c.latency_s / c.fit.line_time_s:.3g})")
    click.echo(f"  bag-sum bandwidth    {format_quantity(c.fit.sum_bandwidth_Bps, 'bandwidth')}")
    click.echo(f"  per added row        {format_quantity(c.fit.add_overhead_s, 'time')}")
    click.echo(f"  per bag (2+ rows)    {format_quantity(c.fit.bag_overhead_s, 'time')}")
    for dtype, s_per_value in c.fit.convert_s.items():
        click.echo(f"  {dtype} -> fp32 widening {format_quantity(s_per_value, 'time')} per value")
    click.echo("  fit (single core, per lookup):")
    for f in fits:
        err = (f["predicted_s"] - f["measured_s"]) / f["measured_s"]
        click.echo(f"    {f['dtype']:4s} row {f['row_bytes']:5d} B  pooling {f['pooling']:3d}  measured "
                   f"{f['measured_s'] * 1e9:7.1f} ns  model {f['predicted_s'] * 1e9:7.1f} ns  ({err:+.1%})")
