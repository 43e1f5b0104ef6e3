"""Fleet sizing with co-location: which models share a server, how it is split, how many servers.

Capacity comes from the simulator (``sim.colocation.simulate_colocated``),
never from a formula:

* **Alone capacity** ``C_m``: the highest Poisson rate at which model ``m``
  alone on the server type meets its p99 SLA (bisection on the rate, one
  seed for every probe: common random numbers).  A model with none is a bad
  fleet (``InputError`` naming it).
* **A candidate group** is a set of models (singletons, pairs, triples),
  a split (``shared``: cores and LLC shared; ``partitioned``: cores and LLC
  ways in proportion to the mix) and a mix ``s`` (shares summing to 1).  Its
  server carries ``alpha * s_m * C_m`` of each model; ``alpha`` is the
  largest load factor at which every tenant meets its SLA (bisection).  A
  singleton has ``alpha = 1`` by definition.  ``alpha > 1`` means the group
  serves more than the alone-capacity share of a server: the tenants use
  different resources (Hera's point); ``alpha < 1``: they interfere.
* **The plan**: a MIP (PuLP, CBC) over candidates: an integer count of
  servers per candidate, every model's demand covered, cost minimised.
* **Baselines** fix the grouping: one model per server; round robin pairs
  in file order; random pairs (seeded); Hera-style pairs (the most
  memory-intensive model with the most compute-intensive one, by embedding
  bytes per dense MAC).  A baseline group runs shared at the mix of its
  demands and needs ``ceil(sum_m D_m / C_m / alpha)`` servers.  The
  planner's candidates include every baseline group, so it never needs more.

Effective machine utilisation of a method = ``sum_m D_m / C_m`` (the work
in alone-server units) / servers used.  Every method's chosen groups are
re-simulated at the load they are assigned and their p99 reported against
the SLA.
"""
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from ..cost_model.planner import plan_for
from ..cost_model.solvers import solve
from ..errors import InputError
from ..sim.colocation import Tenant, simulate_colocated
from ..workloads.generators import generate_trace
from ..workloads.stats import trace_stats

FILL_SHARE = 0.1             # the lowest rate probed fills a batch in this share of the SLA
MAX_QPS = 1e9                # doubling stops here
ALPHA_MAX = 2.0              # load factors searched in (0, ALPHA_MAX]: two tenants at most double a server
REL_TOL = 0.03               # bisection stops when the bracket is this share of its top


@dataclass
class Candidate:
    models: tuple                 # names of the tenants
    split: str                    # shared | partitioned
    mix: tuple                    # share of each tenant's alone capacity at alpha = 1 (sums to 1)
    alpha: float = 0.0            # largest load factor meeting every SLA
    cores: tuple = ()             # partitioned: cores per socket of each tenant
    p99_s: dict = field(default_factory=dict)

    def capacity(self, alone: dict) -> dict:
        return {m: self.alpha * s * alone[m] for m, s in zip(self.models, self.mix)}

    @property
    def label(self) -> str:
        mix = "/".join(f"{s:.2f}" for s in self.mix)
        return f"{'+'.join(self.models)} [{self.split} {mix}]"


class Planner:
    """Runs the simulations of one fleet: alone capacities, candidate load factors, validations."""

    def __init__(self, fleet, rel_tol: float = REL_TOL):
        self.fleet, self.rel_tol = fleet, rel_tol
        sim = fleet.spec.simulation
        self.batch_size, self.batches, self.seed = sim.batch_size, sim.batches, sim.seed
        self.traces = {n: generate_trace(fleet.models[n], self.batches, self.batch_size, seed=self.seed + i)
                       for i, n in enumerate(fleet.names)}
        self.plans = {n: plan_for(fleet.models[n], fleet.system, trace_stats(self.traces[n]),
                                  batch_size=self.batch_size) for n in fleet.names}
        self.simulations = 0
        self.alone = {n: self._alone_capacity(n) for n in fleet.names}

    # ----------------------------------------------------------- simulation ---
    def tenant(self, name: str, qps: float, cores=None, llc_share=None) -> Tenant:
        sla = self.fleet.sla(name)
        return Tenant(name, self.fleet.models[name], float(qps), sla, batch_size=self.batch_size,
                      batches=self.batches, cores=cores,
                      llc_share=llc_share, trace=self.traces[name], plan=self.plans[name], seed=self.seed)

    def run(self, models, qps, split="shared", cores=()):
        """simulate_colocated of ``models`` at ``qps`` each; the ColocationResult."""
        self.simulations += 1
        shares = [c / sum(cores) for c in cores] if split == "partitioned" else [None] * len(models)
        ts = [self.tenant(m, q, cores[i] if split == "partitioned" else None, shares[i])
              for i, (m, q) in enumerate(zip(models, qps))]
        mode = "partitioned" if split == "partitioned" else "shared"
        return simulate_colocated(self.fleet.system, ts, cores=mode, llc=mode, memory="shared", seed=self.seed,
                                  alone=False, query_sizes=None)

    def _alone_capacity(self, name: str) -> float:
        """Doubling from the rate that fills a batch in FILL_SHARE of the SLA until the SLA breaks, then
        bisection.  (Batches form by size only: below that rate a batch's wait to fill would dominate.)"""
        def meets(q):
            return self.run([name], [q]).tenants[0].meets_sla
        low = self.batch_size / (FILL_SHARE * self.fleet.sla(name))
        if not meets(low):
            p99 = self.run([name], [low]).tenants[0].p99_s
            raise InputError(f"{self.fleet.path}: model '{name}': p99_sla {self.fleet.sla(name) * 1e3:g} ms: "
                             f"cannot be met even alone on {self.fleet.system.name} (p99 {p99 * 1e3:.3g} ms at "
                             f"{low:.4g} samples/s); expected a looser SLA or a faster server")
        top = low
        while meets(2 * top) and top < MAX_QPS:
            top *= 2
        return self._bisect(meets, 2 * top, lo=top)

    def _bisect(self, meets, top: float, lo=None) -> float:
        """Largest x in (0, top] with ``meets(x)`` (assumed monotone: common random numbers); 0 if none.
        ``lo``: a point known to meet."""
        hi = top
        if lo is None:
            if meets(top):
                return top
            lo = 0.05 * top
            if not meets(lo):
                return 0.0
        while hi - lo > self.rel_tol * hi:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if meets(mid) else (lo, mid)
        return lo

    def load_factor(self, c: Candidate) -> Candidate:
        """Fill ``c.alpha`` (and the p99s at it) by simulation."""
        if len(c.models) == 1:
            c.alpha = 1.0
            c.p99_s = {c.models[0]: None}
            return c

        def meets(a):
            r = self.run(c.models, [a * s * self.alone[m] for m, s in zip(c.models, c.mix)], c.split, c.cores)
            return all(t.meets_sla for t in r.tenants)
        c.alpha = self._bisect(meets, ALPHA_MAX)
        return c

    def validate(self, c: Candidate, load: dict) -> dict:
        """Each tenant's p99 on one server of ``c`` carrying ``load`` (samples/s per model)."""
        r = self.run(c.models, [load[m] for m in c.models], c.split, c.cores)
        return {t.name: {"qps": load[t.name], "p99_s": t.p99_s, "p99_sla_s": t.p99_target_s,
                         "meets_sla": bool(t.meets_sla)} for t in r.tenants}

    # ----------------------------------------------------------- candidates ---
    def demand_mix(self, models) -> tuple:
        w = np.array([self.fleet.demand(m) / self.alone[m] for m in models])
        return tuple(float(x) for x in w / w.sum())

    def candidate(self, models, split="shared", mix=None) -> Candidate:
        mix = tuple(mix) if mix is not None else self.demand_mix(models)
        cores = _core_split(mix, _cores_per_socket(self.fleet.system)) if split == "partitioned" else ()
        return Candidate(tuple(models), split, mix, cores=cores)


def _cores_per_socket(system) -> int:
    return int(system.params.params.cpu.count.value)


def _core_split(mix, total: int) -> tuple:
    """Cores per tenant in proportion to the mix, at least one each, ``total`` in all."""
    cores = [max(1, int(round(s * total))) for s in mix]
    while sum(cores) > total:
        cores[int(np.argmax(cores))] -= 1
    return tuple(cores)


def intensity(model) -> float:
    """Embedding bytes gathered per dense multiply-accumulate, per sample: Hera's memory- vs compute-bound."""
    gathered = sum(t.pooling * t.row_bytes for t in model.tables)
    return gathered / max(model.dense_macs_per_sample(), 1)


def groupings(names, models, seed: int) -> dict:
    """The baselines' groupings (lists of tuples of names)."""
    pairs = lambda order: [tuple(order[i:i + 2]) for i in range(0, len(order), 2)]   # noqa: E731
    rng = np.random.default_rng(seed)
    by = sorted(names, key=lambda n: -intensity(models[n]))
    hera = [(by[i], by[-1 - i]) for i in range(len(by) // 2)] + ([(by[len(by) // 2],)] if len(by) % 2 else [])
    return {"one_per_server": [(n,) for n in names], "round_robin": pairs(list(names)),
            "random_pairs": pairs([names[i] for i in rng.permutation(len(names))]), "hera_pairs": hera}


def candidate_groups(names, triples: bool = True):
    for k in (1, 2, 3) if triples else (1, 2):
        yield from itertools.combinations(names, k)


def group_servers(c: Candidate, planner: Planner) -> int:
    """Servers a fixed group needs alone for its members' whole demands."""
    cap = c.capacity(planner.alone)
    return max(math.ceil(planner.fleet.demand(m) / cap[m] - 1e-9) for m in c.models) if c.alpha > 0 else 0


# ------------------------------------------------------------------- MIP ---
def solve_mip(cands, alone: dict, demand: dict, cost: float) -> dict:
    """Integer servers per candidate covering every model's demand at least cost: {candidate index: count}."""
    import pulp
    prob = pulp.LpProblem("fleet", pulp.LpMinimize)
    n = {i: pulp.LpVariable(f"n{i}", lowBound=0, cat=pulp.LpInteger) for i, c in enumerate(cands) if c.alpha > 0}
    prob += pulp.lpSum(cost * v for v in n.values())
    for m, d in demand.items():
        prob += pulp.lpSum(n[i] * cands[i].capacity(alone)[m] for i in n if m in cands[i].models) >= d, f"cover_{m}"
    report = solve(prob, "cbc", time_limit_s=30.0, gap_rel=0.0)
    if report.status != "optimal":
        raise InputError(f"fleet: the server-count MIP ended {report.status} ({report.note}); expected an optimal plan")
    return {i: int(round(v.value())) for i, v in n.items() if v.value() and round(v.value()) > 0}


def brute_force(cands, alone: dict, demand: dict, cost: float, most: int) -> float:
    """Least cost by enumerating every count 0..most per candidate (tiny candidate sets: tests)."""
    best = math.inf
    usable = [c for c in cands if c.alpha > 0]
    for counts in itertools.product(range(most + 1), repeat=len(usable)):
        cover = {m: sum(k * c.capacity(alone).get(m, 0.0) for k, c in zip(counts, usable)) for m in demand}
        if all(cover[m] >= demand[m] - 1e-9 for m in demand):
            best = min(best, cost * sum(counts))
    return best


# ----------------------------------------------------------------- methods ---
def assigned_load(cands, counts: dict, alone: dict, demand: dict) -> dict:
    """Per chosen candidate, each model's samples/s on one of its servers: demand split by capacity."""
    total = {m: sum(k * cands[i].capacity(alone).get(m, 0.0) for i, k in counts.items()) for m in demand}
    return {i: {m: cands[i].capacity(alone)[m] * demand[m] / total[m] for m in cands[i].models} for i in counts}


def evaluate_method(planner: Planner, cands, counts: dict) -> dict:
    """Servers, utilisation and the validated p99 of each chosen group of one method."""
    fleet, alone = planner.fleet, planner.alone
    demand = {m: fleet.demand(m) for m in fleet.names}
    load = assigned_load(cands, counts, alone, demand)
    groups = []
    for i, k in counts.items():
        tenants = planner.validate(cands[i], load[i])
        groups.append({"group": list(cands[i].models), "split": cands[i].split, "mix": list(cands[i].mix),
                       "cores": list(cands[i].cores), "alpha": cands[i].alpha, "servers": k, "tenants": tenants})
    servers = sum(counts.values())
    work = sum(demand[m] / alone[m] for m in demand)
    worst = max(t["p99_s"] / t["p99_sla_s"] for g in groups for t in g["tenants"].values())
    return {"servers": servers, "cost": servers * fleet.cost, "utilisation": work / servers,
            "worst_p99_over_sla": worst, "all_meet_sla": all(t["meets_sla"] for g in groups
                                                             for t in g["tenants"].values()), "groups": groups}


def plan_fleet(fleet, triples: bool = False, splits=("shared", "partitioned")) -> dict:
    """The planner's plan and every baseline's, each validated in simulation (module doc)."""
    planner = Planner(fleet)
    names, demand = fleet.names, {m: fleet.demand(m) for m in fleet.names}
    cands: list = []
    index: dict = {}

    def add(models, split):
        models = tuple(sorted(models, key=names.index))        # one candidate per set of models
        key = (models, split)
        if key not in index:
            index[key] = len(cands)
            cands.append(planner.load_factor(planner.candidate(models, split)))
        return index[key]

    base = groupings(names, fleet.models, fleet.spec.simulation.seed)
    fixed = {}
    for method, groups in base.items():
        idx = [add(g, "shared") for g in groups]
        fixed[method] = {i: group_servers(cands[i], planner) for i in idx}
    for g in candidate_groups(names, triples):
        for split in splits if len(g) > 1 else ("shared",):
            add(g, split)
    counts = solve_mip(cands, planner.alone, demand, fleet.cost)
    methods = {"planner": evaluate_method(planner, cands, counts)}
    methods.update({m: evaluate_method(planner, cands, c) for m, c in fixed.items()})
    return {"fleet": fleet.spec.name, "system": fleet.system.name, "cost_per_server": fleet.cost,
            "alone_capacity_qps": planner.alone, "demand_qps": demand, "simulations": planner.simulations,
            "candidates": [{"group": list(c.models), "split": c.split, "mix": list(c.mix), "cores": list(c.cores),
                            "alpha": c.alpha} for c in cands],
            "methods": methods}
