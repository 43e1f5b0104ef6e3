"""SimResult: what one simulation measured, as JSON with the unit in every key.

A result answers the user's questions in the order they ask them: how many
queries per second, how long the slowest of them waited, where the bytes
went and how fast, which resource was the bottleneck, and what it cost in
energy.  Every figure is for the *measurement window* (warm-up excluded,
drain excluded from throughput; see ``embsim.sim.engine``), except the byte
totals ``bytes_B``, which cover every simulated batch so that they equal the
replay's counters (the conservation check).

JSON layout (``SimResult.to_dict()``)::

    model, system, family
    config               arrival, qps_target, queries, batch_size, ...
    window               start_s, end_s, duration_s, warmup_queries, ...
    throughput           queries_per_s, lookups_per_s, batches_per_s
    latency              mean_s, p50_s, p95_s, p99_s, max_s
    littles_law          mean_queries_in_system, arrival_rate_qps, mean_latency_s
    steady_state         true, or false with steady_state_reason (one line: overload, window too
                         short, Little's law off; see embsim.sim.steady)
    stage_time_s         host, embedding, transfer, attention, dense, response (mean span per batch)
    bytes_B              tier {"dev.tier": B}, link {name: B}        (all batches)
    bandwidth_Bps        tier {...}, link {...}                      (window)
    peak_bandwidth_Bps   {"dev.tier" or link: B/s}
    utilisation_fraction {resource: busy share of the window, 0..1}
    queueing_delay_s     {resource: mean wait of a measured batch's request for a server}
    energy               total_J, static_J, dynamic_J (static power once per part x window;
                         dynamic = actions x energy per action), per_query_J,
                         static_per_query_J, dynamic_per_query_J, average_power_W,
                         by_part {part: {static_J, dynamic_J, preset, static_power_source}},
                         by_action_J {"part:action": J}
    provenance           seed, config_hash, versions {embsim, numpy, simpy, python}
    quality              collision_share, shared_row_share (lookup-weighted), max_rel_error_bound,
                         per_table [{table, representation, collision_share, shared_row_share,
                         rel_error_bound, ...}], note (proxies measured on the trace; accuracy
                         itself is not simulated)

Same inputs and seed give the same JSON, bit for bit (no wall-clock times
are stored).
"""
import json
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

from ..errors import InputError
from ..fileio import read_json_object, write_text

FORMAT = "embsim.SimResult/1"


@dataclass
class SimResult:
    model: str
    system: str
    family: str
    config: dict
    window: dict
    throughput: dict
    latency: dict
    littles_law: dict
    stage_time_s: dict
    bytes_B: dict
    bandwidth_Bps: dict
    peak_bandwidth_Bps: dict
    utilisation_fraction: dict
    energy: dict
    provenance: dict
    notes: list = field(default_factory=list)
    queueing_delay_s: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)
    steady_state: bool = True
    steady_state_reason: Optional[str] = None

    # -- the figures people quote ------------------------------------------
    @property
    def qps(self):
        return self.throughput["queries_per_s"]

    @property
    def lookups_per_s(self):
        return self.throughput["lookups_per_s"]

    @property
    def p99_s(self):
        return self.latency["p99_s"]

    @property
    def utilisation(self):
        """Busy share of the window per resource (``utilisation_fraction``)."""
        return self.utilisation_fraction

    @property
    def energy_per_query_J(self):
        return self.energy["per_query_J"]

    @property
    def bottleneck(self):
        """(resource, utilisation) of the busiest resource."""
        name = max(self.utilisation_fraction, key=self.utilisation_fraction.get)
        return name, self.utilisation_fraction[name]

    # -- JSON ----------------------------------------------------------------
    def to_dict(self):
        return {"format": FORMAT, **asdict(self)}

    def to_json(self, indent=2):
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path, force=False):
        """Write the JSON atomically; an existing file is replaced only with ``force``."""
        write_text(path, self.to_json() + "\n", force=force)

    @staticmethod
    def load(path) -> "SimResult":
        """Read a SimResult JSON written by ``save`` (see ``load_result``)."""
        return load_result(path)

    @classmethod
    def from_dict(cls, d, source="result"):
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            got = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise InputError(f"{source}: format: {got!r}: expected a simulation result ('{FORMAT}')")
        names = [f.name for f in fields(cls)]
        missing = [n for n in names if n not in d and n not in ("notes", "queueing_delay_s", "quality", "steady_state",
                                                                 "steady_state_reason")]
        if missing:
            raise InputError(f"{source}: {missing[0]}: missing; expected a complete simulation result")
        return cls(**{n: d[n] for n in names if n in d})


def load_result(path):
    """Read a SimResult JSON written by ``SimResult.save``."""
    return SimResult.from_dict(read_json_object(path, "result"), source=str(path))

