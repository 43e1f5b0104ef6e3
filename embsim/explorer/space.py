"""Design spaces: a base system and model, the knobs to vary, and how to sample them.

A design space is a YAML file::

    name: smartssd
    system: screc_4x_smartssd          # preset name, or a YAML path (relative to this file)
    model: rm1
    simulation: {queries: 2000, batch_size: 256, arrival: closed, seed: 0}
    plan: {mode: solve, solver: cbc, time_limit_s: 10}
    overrides: {model.tables.0.rows: 1000000}
    knobs:
      n_ssd:   {path: system.params.csd.count, values: [1, 2, 4, 8]}
      dram:    {path: system.params.csd.dram.capacity, min: "4 GiB", max: "16 GiB", log: true, unit: bytes, levels: 3}
      tt_rank: {path: plan.tt_rank, values: [8, 16, 32]}
      batch:   {path: sim.batch_size, min: 64, max: 512, step: 64}
    constraints:
      - "n_ssd * dram <= 64 * 2**30"
    derived: {cost_usd: "10000 + 2500 * n_ssd"}
    objectives: {throughput_qps: max, energy_per_query_J: min, cost_usd: min}
    sampler: {kind: lhs, n: 24, seed: 0}

``overrides`` fixes settings for every point with the same paths as knobs
(``model.tables.0.rows: 100000`` to shrink a preset for a quick study).
A knob's ``path`` starts with where it points:

- ``system.<dotted path>`` into the system YAML (``params.devices.count``),
- ``model.<dotted path>`` into the model YAML (``defaults.dim``, ``tables.0.rows``),
- ``sim.<setting>`` a simulation setting (``batch_size``, ``queries``, ``qps`` ...),
- ``plan.<setting>`` a sharding setting (``mode``, ``solver``, ``time_limit_s``).

A knob is either a list of ``values`` (choices, any YAML scalar, unit strings
included) or a range ``min``..``max``: with ``step`` it has the levels
``min, min+step, ... <= max``; with ``log: true`` it is sampled uniformly in
log space; ``levels`` says how many points the grid sampler takes from a
range without a step.  ``unit`` names the quantity kind (bytes, bandwidth,
time ...) when min/max are unit strings; values are then SI numbers.  Integer
ranges (min, max and step all integers) give integers.

``derived`` metrics (a cost model, say) are expressions over knob and metric
names, computed when results are loaded (``ResultStore.dataframe``), so a
changed price needs no re-simulation.  Constraints are expressions over knob
names.  Both are evaluated by a small whitelist evaluator (numbers, names, arithmetic, comparisons, and/or/not, and the
functions min, max, abs, log2, log10, sqrt): never Python's ``eval``.

Samplers, all seeded and deterministic:

- ``grid``: the Cartesian product of every knob's levels, in order;
- ``random``: ``n`` independent uniform draws (``numpy.random.default_rng(seed)``);
- ``lhs``: ``n`` points of a Latin hypercube (``scipy.stats.qmc.LatinHypercube``).

Points that break a constraint are dropped; random and LHS draw further
rounds (seeds derived from ``seed``) until ``n`` distinct feasible points are
found, and fail with a clear error when the constraints reject almost
everything.  Each point's *configuration* (the base system and model YAML
content, the overrides, the simulation and plan settings) is a plain JSON
mapping; its SHA-256 over canonical JSON is the point's key in the store.
"""
import ast
import hashlib
import itertools
import json
import math
import operator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional, Union

import numpy as np
from pydantic import Field, PositiveInt, field_validator, model_validator

from .. import config, units
from ..errors import InputError
from ..limits import MAX_SEED

TARGETS = ("system", "model", "sim", "plan")
KNOB_VALUES_CHECKED = 64      # values of a knob loaded at space load time (and always the last one)
DEFAULT_OBJECTIVES: dict[str, Literal["max", "min"]] = {"throughput_qps": "max", "energy_per_query_J": "min", "cost_usd": "min"}


# ----------------------------------------------------------------- schema ---
class SimSettings(config.Schema):
    """Settings handed to ``simulate`` (knobs may vary them as ``sim.<name>``)."""

    queries: Optional[PositiveInt] = Field(None, description=(
        "queries simulated; default simulate's own length, which grows until the window is a steady state"))
    batch_size: PositiveInt = 256
    arrival: Literal["closed", "poisson"] = "closed"
    qps: Optional[float] = Field(None, gt=0)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    in_flight: Optional[PositiveInt] = Field(None, description="closed loop: batches in flight (simulate's default)")
    batch_timeout_s: Optional[float] = Field(None, gt=0, description="close a batch after this wait")
    caches: Optional[dict[str, Any]] = Field(None, description=(
        "simulate's caches: {'tier' or 'device.tier': [{name, policy, capacity_B or capacity_rows}]}; "
        "a knob 'sim.cache_rows' sets capacity_rows of every cache listed here"))
    cache_rows: Optional[PositiveInt] = Field(None, description="capacity_rows of every cache in 'caches'")
    trace: Optional[str] = Field(None, description=(
        "a stored trace (.npz file or .trace folder; relative to the space file) simulated at every point "
        "instead of a generated one, read chunk by chunk; its batch size replaces batch_size"))


class PlanSettings(config.Schema):
    """How each point gets its sharding plan (knobs may vary them as ``plan.<name>``).

    ``mode: solve`` solves the sharding MIP (``solve_plan``) for every point,
    since the plan depends on the hardware and model the point describes;
    ``none`` lets ``simulate`` use its default placement.  ``representations``
    lists the allowed table representations (``"fp32,int8"``); ``tt_rank``
    adds tensor-train at that rank to them (a TT-rank knob); ``columns: true``
    lets the sharding MIP cut tables column-wise (``--columns``);
    ``max_collision_share`` caps each table's predicted collision share
    (``--max-collision-share``); ``torchrec_baseline: false`` skips TorchRec's
    own plan, a baseline planned after each solve when torchrec is installed
    (``--no-torchrec-baseline``).
    """

    mode: Literal["solve", "none"] = "solve"
    solver: Literal["cbc", "highs"] = "cbc"
    time_limit_s: float = Field(10.0, gt=0)
    objective: Literal["makespan", "makespan+energy"] = "makespan"
    energy_weight: float = Field(0.0, ge=0)
    representations: Optional[str] = None
    tt_rank: Optional[PositiveInt] = None
    columns: bool = False
    max_collision_share: Optional[float] = Field(None, ge=0, le=1)
    torchrec_baseline: bool = True

    @model_validator(mode="after")
    def _weight(self):
        if self.energy_weight and self.objective != "makespan+energy":
            raise ValueError(f"energy_weight {self.energy_weight:g} needs objective 'makespan+energy' "
                             f"(the makespan objective has no energy term)")
        return self


Number = Union[int, float]


class KnobSchema(config.Schema):
    path: str = Field(min_length=3)
    values: Optional[list[Any]] = Field(None, min_length=1)
    min: Optional[Union[Number, str]] = None
    max: Optional[Union[Number, str]] = None
    step: Optional[Union[Number, str]] = None
    log: bool = False
    levels: Optional[PositiveInt] = None
    integer: Optional[bool] = None
    unit: Optional[str] = None

    @field_validator("path")
    @classmethod
    def _target(cls, v):
        head = v.split(".", 1)[0]
        if head not in TARGETS or "." not in v:
            raise ValueError(f"expected a path starting with one of {', '.join(t + '.' for t in TARGETS)} "
                             f"(for example system.params.devices.count)")
        return v

    @field_validator("unit")
    @classmethod
    def _unit(cls, v):
        if v is not None and v not in units.KINDS:
            raise ValueError(f"unknown unit kind '{v}'{config._suggest(v, units.KINDS)} "
                             f"(one of {', '.join(units.KINDS)})")
        return v

    @model_validator(mode="after")
    def _shape(self):
        has_range = self.min is not None or self.max is not None
        if self.values is not None and has_range:
            raise ValueError("give either 'values' or 'min'/'max', not both")
        if self.values is None and (self.min is None or self.max is None):
            raise ValueError("give 'values' (choices) or both 'min' and 'max' (a range)")
        if self.values is not None and (self.step is not None or self.log or self.levels is not None):
            raise ValueError("'step', 'log' and 'levels' apply to a min/max range, not to 'values'")
        if self.step is not None and self.log:
            raise ValueError("a range has either a 'step' or 'log: true', not both")
        return self


class SamplerSchema(config.Schema):
    kind: Literal["grid", "random", "lhs"] = "grid"
    n: Optional[PositiveInt] = None
    seed: int = Field(0, ge=0, le=MAX_SEED)

    @model_validator(mode="after")
    def _n(self):
        if self.kind != "grid" and self.n is None:
            raise ValueError(f"sampler '{self.kind}' needs 'n' (the number of points)")
        return self


class SpaceSchema(config.Schema):
    name: str = Field(min_length=1)
    description: str = ""
    system: str = Field(min_length=1)
    model: str = Field(min_length=1)
    simulation: SimSettings = SimSettings()
    plan: PlanSettings = PlanSettings()
    overrides: dict[str, Any] = Field(default_factory=dict, description=(
        "fixed dotted overrides applied to every point, same paths as knobs (model.tables.0.rows: 100000)"))
    knobs: dict[str, KnobSchema] = Field(min_length=1)
    constraints: list[str] = []
    objectives: dict[str, Literal["max", "min"]] = Field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))
    derived: dict[str, str] = Field(default_factory=dict, description=(
        "metrics computed from knobs and other metrics after the sweep, e.g. a cost model: "
        "cost_usd: '2000 * n_ssd + 4 * dram / 2**30'"))
    sampler: SamplerSchema = SamplerSchema()

    @field_validator("knobs")
    @classmethod
    def _names(cls, v):
        for name in v:
            if not name.isidentifier():
                raise ValueError(f"knob name '{name}' must be an identifier (letters, digits, _), "
                                 f"so that constraints can use it")
        return v


# ------------------------------------------------------------------ knobs ---
@dataclass(frozen=True)
class Knob:
    """One varied parameter: ``levels`` (choices or a stepped range) or a continuous range."""

    name: str
    path: str
    choices: Optional[tuple] = None     # discrete levels, in order
    lo: Optional[float] = None          # continuous range (no step)
    hi: Optional[float] = None
    log: bool = False
    grid_levels: Optional[int] = None
    integer: bool = False

    @property
    def target(self):
        return self.path.split(".", 1)[0]

    @property
    def subpath(self):
        return self.path.split(".", 1)[1]

    def levels(self):
        """The values the grid sampler takes."""
        if self.choices is not None:
            return list(self.choices)
        if self.grid_levels is None:
            raise InputError(f"knob '{self.name}': the grid sampler needs 'levels' (or a 'step') "
                             f"for the range {self.lo:g}..{self.hi:g}")
        n = self.grid_levels
        u = np.linspace(0.0, 1.0, n) if n > 1 else np.array([0.5])
        return _dedupe([self.from_unit(x) for x in u])

    def from_unit(self, u):
        """Map ``u`` in [0, 1) to a value of the knob (uniform in levels, linear or log range)."""
        if self.choices is not None:
            i = min(int(math.floor(u * len(self.choices))), len(self.choices) - 1)
            return self.choices[i]
        if self.log:
            x = math.exp(math.log(self.lo) + u * (math.log(self.hi) - math.log(self.lo)))
        else:
            x = self.lo + u * (self.hi - self.lo)
        x = min(max(x, self.lo), self.hi)
        if self.integer:
            return int(min(max(round(x), math.ceil(self.lo)), math.floor(self.hi)))
        return float(x)


def _dedupe(values):
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return out


def _number(value, kind, where):
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got {value!r}")
    if isinstance(value, str):
        if kind is None:
            raise InputError(f"{where}: {value!r} has a unit; say which kind with 'unit:' "
                             f"(one of {', '.join(units.KINDS)})")
        try:
            return units.parse(value, kind)
        except units.UnitError as e:
            raise InputError(f"{where}: {e}") from None
    return value


def _knob(name, k, source):
    where = f"{source}: knobs.{name}"
    if k.values is not None:
        vals = [_number(v, k.unit, f"{where}.values") if (k.unit and isinstance(v, str)) else v for v in k.values]
        if len(_dedupe(vals)) != len(vals):
            raise InputError(f"{where}.values: repeated value in {k.values!r}")
        return Knob(name, k.path, choices=tuple(vals))
    lo, hi = _number(k.min, k.unit, f"{where}.min"), _number(k.max, k.unit, f"{where}.max")
    if not lo <= hi:
        raise InputError(f"{where}: min {k.min!r} is above max {k.max!r}")
    if k.log and lo <= 0:
        raise InputError(f"{where}.min: a log range needs min > 0, got {k.min!r}")
    integer = k.integer
    if k.step is not None:
        step = _number(k.step, k.unit, f"{where}.step")
        if step <= 0:
            raise InputError(f"{where}.step: expected a positive step, got {k.step!r}")
        if integer is None:
            integer = all(float(x).is_integer() for x in (lo, hi, step))
        n = int(math.floor((hi - lo) / step + 1e-9)) + 1
        if n > 100000:
            raise InputError(f"{where}: {n} levels; use a larger step or no step")
        vals = [lo + i * step for i in range(n)]
        vals = [int(round(v)) for v in vals] if integer else [float(v) for v in vals]
        return Knob(name, k.path, choices=tuple(vals))
    if integer is None:
        integer = all(isinstance(x, int) for x in (k.min, k.max))
    return Knob(name, k.path, lo=float(lo), hi=float(hi), log=k.log, grid_levels=k.levels, integer=integer)


# ------------------------------------------------------------ constraints ---
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Not: operator.not_}
_CMP = {ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
        ast.Eq: operator.eq, ast.NotEq: operator.ne}
_FUNCS = {"min": min, "max": max, "abs": abs, "log2": math.log2, "log10": math.log10, "sqrt": math.sqrt}


class Constraint:
    """A boolean expression over knob names, checked once and evaluated without ``eval``."""

    def __init__(self, text, names, where):
        self.text = text
        try:
            self.tree = ast.parse(text, mode="eval").body
        except SyntaxError as e:
            raise InputError(f"{where}: not a valid expression {text!r} ({e.msg})") from None
        self._check(self.tree, None if names is None else set(names), where)

    def _check(self, node, names, where):
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, (int, float, str, bool)):
                raise InputError(f"{where}: constant {node.value!r} not allowed in {self.text!r}")
        elif isinstance(node, ast.Name):
            if names is not None and node.id not in names:
                raise InputError(f"{where}: unknown name '{node.id}'{config._suggest(node.id, names)} in "
                                 f"{self.text!r} (knobs: {', '.join(sorted(names))})")
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left, names, where)
            self._check(node.right, names, where)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand, names, where)
        elif isinstance(node, ast.BoolOp):
            for v in node.values:
                self._check(v, names, where)
        elif isinstance(node, ast.Compare) and all(type(o) in _CMP for o in node.ops):
            self._check(node.left, names, where)
            for c in node.comparators:
                self._check(c, names, where)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCS
              and not node.keywords):
            for a in node.args:
                self._check(a, names, where)
        else:
            raise InputError(f"{where}: '{ast.unparse(node)}' is not allowed in a constraint {self.text!r} "
                             f"(use numbers, knob names, + - * / // % **, comparisons, and/or/not, "
                             f"{', '.join(_FUNCS)})")

    def __call__(self, values):
        return bool(self._eval(self.tree, values))

    def value(self, values):
        """The expression's value (not cast to bool), for derived metrics."""
        return self._eval(self.tree, values)

    def _eval(self, node, env):
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return env[node.id]
        if isinstance(node, ast.BinOp):
            return _BINOPS[type(node.op)](self._eval(node.left, env), self._eval(node.right, env))
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, env))
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(self._eval(v, env) for v in node.values)
            return any(self._eval(v, env) for v in node.values)
        if isinstance(node, ast.Compare):
            left = self._eval(node.left, env)
            for op, c in zip(node.ops, node.comparators):
                right = self._eval(c, env)
                if not _CMP[type(op)](left, right):
                    return False
                left = right
            return True
        if isinstance(node, ast.Call):
            return _FUNCS[node.func.id](*(self._eval(a, env) for a in node.args))
        raise AssertionError(node)  # _check admitted only the nodes above


# ----------------------------------------------------------------- points ---
def canonical_json(obj):
    """JSON with sorted keys and no spaces: equal configurations give equal text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def config_key(cfg):
    """The store key of a configuration: SHA-256 of its canonical JSON (hex, 64 chars)."""
    return hashlib.sha256(canonical_json(cfg).encode()).hexdigest()


@dataclass(frozen=True)
class Point:
    """One design: the knob values, the full configuration they produce, and its key."""

    index: int
    values: dict
    config: dict
    key: str


class DesignSpace:
    """A validated design space; ``points()`` samples it."""

    def __init__(self, schema, source="<space>", base_dir="."):
        self.schema = schema
        self.source = str(source)
        self.name = schema.name
        self.base_dir = Path(base_dir)
        self.knobs = [_knob(n, k, self.source) for n, k in schema.knobs.items()]
        self.constraints = [Constraint(c, schema.knobs, f"{self.source}: constraints[{i}]")
                            for i, c in enumerate(schema.constraints)]
        self.objectives = dict(schema.objectives)
        # Derived metrics may use any metric name (known only after evaluation) and any knob.
        self.derived = {n: Constraint(e, None, f"{self.source}: derived.{n}").text for n, e in schema.derived.items()}
        self.sampler = schema.sampler
        self._system = self._base("system", schema.system)
        self._model = self._base("model", schema.model)
        self._check_paths()

    # -- loading ------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path):
        path = Path(path)
        return cls.from_dict(config.load_yaml(path), source=str(path), base_dir=path.parent)

    @classmethod
    def from_dict(cls, data, source="<space>", base_dir="."):
        return cls(config.validate(SpaceSchema, data, str(source)), source, base_dir)

    def _base(self, what, ref):
        """The base system or model: its name and YAML content (so a point is self-contained)."""
        from ..hw_models import loader
        from ..workloads import model
        preset_dir = loader.PRESET_DIR if what == "system" else model.PRESET_DIR
        p = Path(ref)
        if p.suffix in (".yaml", ".yml") and not p.is_absolute():
            p = self.base_dir / p
            ref = str(p)
        try:
            path = model.resolve(ref, preset_dir, what)
        except InputError as e:
            raise InputError(f"{self.source}: {what}: {e}") from None
        data = loader.load_system_data(path) if what == "system" else config.load_yaml(path)
        return {"name": path.stem, "data": data}          # part presets expanded: overrides address their numbers

    def _check_paths(self):
        """Every knob and override path must exist in its target, so a typo fails at load, not mid-sweep."""
        fixed = []
        for path in self.schema.overrides:
            head = str(path).split(".", 1)[0]
            if head not in TARGETS or "." not in str(path):
                raise InputError(f"{self.source}: overrides.{path}: expected a path starting with one of "
                                 f"{', '.join(t + '.' for t in TARGETS)}")
            fixed.append(Knob(str(path), str(path), choices=(0,)))
        for k in list(self.knobs) + fixed:
            where = (f"{self.source}: knobs.{k.name}.path" if k.name in self.schema.knobs
                     else f"{self.source}: overrides.{k.path}")
            if k.target in ("sim", "plan"):
                schema = SimSettings if k.target == "sim" else PlanSettings
                if k.subpath not in schema.model_fields:
                    raise InputError(f"{where}: unknown {k.target} setting '{k.subpath}'"
                                     f"{config._suggest(k.subpath, schema.model_fields)} "
                                     f"(one of {', '.join(schema.model_fields)})")
                continue
            base = self._system if k.target == "system" else self._model
            try:
                config.apply_overrides(base["data"], {k.subpath: 0}, source=f"{k.target} '{base['name']}'")
            except InputError as e:
                raise InputError(f"{where}: {e}") from None

    def check_values(self):
        """The base system and model with the fixed overrides must load, and so must each with every
        value of each of its knobs (a range: both ends), so a wrongly typed value fails at load, not
        as an "infeasible" point mid-sweep.  (The default evaluator's check: a custom evaluator may
        read the system and model its own way.)"""
        from ..hw_models.loader import system_from_dict
        from ..workloads.model import model_from_dict
        build = {"system": system_from_dict, "model": model_from_dict}
        fixed = {"system": {}, "model": {}}
        for path, v in self.schema.overrides.items():
            head, sub = str(path).split(".", 1)
            if head in fixed:
                fixed[head][sub] = _plain(v)
        for target, base in (("system", self._system), ("model", self._model)):
            what = f"{self.source}: {target} '{base['name']}'"
            build[target](config.apply_overrides(base["data"], fixed[target], source=what), source=what)
            for k in self.knobs:
                if k.target != target:
                    continue
                values = k.choices if k.choices is not None else (k.from_unit(0.0), k.from_unit(1.0))
                for v in values[:KNOB_VALUES_CHECKED] + values[KNOB_VALUES_CHECKED:][-1:]:
                    over = {**fixed[target], k.subpath: _plain(v)}
                    src = f"{self.source}: knobs.{k.name}: value {v!r}: {target} '{base['name']}'"
                    build[target](config.apply_overrides(base["data"], over, source=src), source=src)

    def check_objectives(self, is_metric):
        """InputError for an objective that names no metric: not a knob, a derived metric, nor ``is_metric``."""
        if "objectives" not in self.schema.model_fields_set:
            return
        for name in self.objectives:
            if name in self.derived or name in self.schema.knobs or is_metric(name):
                continue
            known = sorted(set(DEFAULT_OBJECTIVES) | set(self.derived))
            raise InputError(f"{self.source}: objectives.{name}: unknown metric '{name}'{config._suggest(name, known)} "
                             f"(for example {', '.join(known)}, a derived metric, or a SimResult field such as "
                             f"latency.p99_s)")

    def override_plan(self, settings):
        """Replace the file's ``plan:`` settings with ``settings`` (the command line's planner options)."""
        data = {**self.schema.plan.model_dump(exclude_unset=True), **settings}
        plan = config.validate(PlanSettings, data, f"{self.source}: plan (command-line planner options)")
        self.schema = self.schema.model_copy(update={"plan": plan})

    # -- configurations -----------------------------------------------------
    def configuration(self, values):
        """The full JSON configuration of a point with knob ``values`` (name -> value)."""
        over = {t: {} for t in TARGETS}
        for path, v in self.schema.overrides.items():
            head, sub = str(path).split(".", 1)
            over[head][sub] = _plain(v)
        for k in self.knobs:
            over[k.target][k.subpath] = _plain(values[k.name])
        sim = {**self.schema.simulation.model_dump(), **over["sim"]}
        if sim.get("trace") and not Path(sim["trace"]).is_absolute():
            sim["trace"] = str(self.base_dir / sim["trace"])
        plan = {**self.schema.plan.model_dump(), **over["plan"]}
        where = f"{self.source}: point {values}"
        sim = config.validate(SimSettings, sim, where).model_dump()
        plan = config.validate(PlanSettings, plan, where).model_dump()
        for k, off in (("columns", False), ("max_collision_share", None), ("torchrec_baseline", True)):
            if plan[k] == off:           # absent when unset: points of stores written before the setting keep their keys
                del plan[k]
        return {"system": self._system, "model": self._model,
                "system_overrides": over["system"], "model_overrides": over["model"],
                "sim": sim, "plan": plan}

    def feasible(self, values):
        return all(c(values) for c in self.constraints)

    def point(self, index, values):
        cfg = self.configuration(values)
        return Point(index, dict(values), cfg, config_key(cfg))

    # -- sampling -----------------------------------------------------------
    def points(self, kind=None, n=None, seed=None):
        """Sample the space (the YAML's sampler unless overridden): distinct feasible points, in order."""
        kind = kind or self.sampler.kind
        n = n if n is not None else self.sampler.n
        seed = self.sampler.seed if seed is None else seed
        if kind == "grid":
            raw = self._grid()
        elif kind in ("random", "lhs"):
            if not n:
                raise InputError(f"{self.source}: sampler.n: sampler '{kind}' needs n > 0")
            raw = self._rounds(kind, n, seed)
        else:
            raise InputError(f"{self.source}: sampler.kind: unknown sampler '{kind}' (grid, random or lhs)")
        out, seen = [], set()
        for values in raw:
            p = self.point(len(out), values)
            if p.key not in seen:
                seen.add(p.key)
                out.append(p)
        return out

    def _grid(self):
        names = [k.name for k in self.knobs]
        levels = [k.levels() for k in self.knobs]
        total = math.prod(len(l) for l in levels)
        if total > 1_000_000:
            raise InputError(f"{self.source}: the grid has {total} points; use fewer levels or a random/lhs sampler")
        for combo in itertools.product(*levels):
            values = dict(zip(names, combo))
            if self.feasible(values):
                yield values

    def _unit_samples(self, kind, n, seed):
        d = len(self.knobs)
        if kind == "random":
            return np.random.default_rng(seed).random((n, d))
        from scipy.stats import qmc
        return qmc.LatinHypercube(d=d, seed=np.random.default_rng(seed)).random(n)

    def _rounds(self, kind, n, seed):
        """Draw rounds of ``n`` until ``n`` distinct feasible points (the first round is plain ``seed``)."""
        found, seen = [], set()
        for r in range(50):
            s = seed if r == 0 else np.random.SeedSequence([seed, r]).generate_state(1)[0]
            for u in self._unit_samples(kind, n, int(s)):
                values = {k.name: k.from_unit(float(x)) for k, x in zip(self.knobs, u)}
                key = canonical_json({k: _plain(v) for k, v in values.items()})
                if key in seen or not self.feasible(values):
                    continue
                seen.add(key)
                found.append(values)
                if len(found) == n:
                    return found
            if self._finite_size() is not None and len(seen) >= self._finite_size():
                break
        if not found:
            raise InputError(f"{self.source}: constraints: no sampled point satisfies the constraints")
        if self._finite_size() is None:
            raise InputError(f"{self.source}: constraints reject almost every point: found {len(found)} of "
                             f"n={n} feasible points in 50 rounds")
        return found   # a small discrete space holds fewer than n distinct feasible points

    def _finite_size(self):
        if any(k.choices is None and not k.integer for k in self.knobs):
            return None
        size = 1
        for k in self.knobs:
            size *= len(k.choices) if k.choices is not None else int(math.floor(k.hi) - math.ceil(k.lo) + 1)
        return size


def _plain(v):
    """numpy scalars to Python ones, so configurations are JSON."""
    if isinstance(v, np.generic):
        return v.item()
    return v


def load_space(path):
    """Load and validate a design-space YAML file."""
    return DesignSpace.from_yaml(path)
