"""The headline experiments `embsim reproduce` runs: explicit configs shipped in ``explorer/experiments/``.

Each YAML names the published figure and its paper, the metric (``speedup``: candidate over
baseline queries per second; ``energy_efficiency``: baseline over candidate energy per query),
the model (a preset, optionally with its lookups redistributed over tables by a power law,
``skew``), the candidate and the baseline (a system preset with checked overrides, the
representations and planner options it is planned with), and the mechanisms whose switching
off the report prices.  ``settings.yaml`` holds the run sizes (quick, full) and the plausible
ranges of "assumption" parameters.  Nothing in them is fitted to a published figure.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import numpy as np

from .. import config as cfg
from ..config import Schema
from ..errors import InputError

EXPERIMENT_DIR = Path(__file__).parent / "experiments"
ORDER = ("screc_vs_cpu", "screc_vs_gpu", "ascend_realistic", "ascend_extreme")


class Published(Schema):
    text: str
    paper: str
    low: Optional[float] = None
    high: Optional[float] = None


class Side(Schema):
    label: str
    system: str
    representations: Optional[str] = None
    overrides: dict = {}
    planner: dict = {}


class SkewValue(Schema):
    value: float
    source: str
    low: float
    high: float


class Skew(Schema):
    exponent: SkewValue
    seed: int = 0


class Experiment(Schema):
    name: str
    title: str
    metric: Literal["speedup", "energy_efficiency"]
    published: Published
    model: str
    model_reason: str
    skew: Optional[Skew] = None
    candidate: Side
    baseline: Side
    mechanisms: list


class RunSize(Schema):
    batch_size: int
    batches: int
    run_batches: Optional[int] = None
    time_limit_s: float


class Ranges(Schema):
    low_factor: float
    high_factor: float
    absolute: dict = {}
    skip: list = []


class Settings(Schema):
    runs: dict
    seed: int = 0
    ranges: Ranges

    def run(self, quick: bool) -> RunSize:
        return RunSize(**self.runs["quick" if quick else "full"])


def experiment_names() -> list:
    """The shipped experiments, in the report's order."""
    found = sorted(p.stem for p in EXPERIMENT_DIR.glob("*.yaml") if p.stem != "settings")
    return [n for n in ORDER if n in found] + [n for n in found if n not in ORDER]


def load_experiment(name: str) -> Experiment:
    names = experiment_names()
    if name not in names:
        raise InputError(f"--only: unknown experiment '{name}'{cfg._suggest(name, names)} "
                         f"(expected one of {', '.join(names)})")
    path = EXPERIMENT_DIR / f"{name}.yaml"
    exp = cfg.validate(Experiment, cfg.load_yaml(path), str(path))
    from .mechanisms import MECHANISMS
    bad = [m for m in exp.mechanisms if m not in MECHANISMS]
    if bad:
        raise InputError(f"{path}: mechanisms: unknown {', '.join(bad)} (expected some of {', '.join(MECHANISMS)})")
    return exp


def load_settings() -> Settings:
    path = EXPERIMENT_DIR / "settings.yaml"
    return cfg.validate(Settings, cfg.load_yaml(path), str(path))


def skewed_model(model, exponent: float, seed: int):
    """``model`` with its lookups per sample redistributed over tables as ``(rank + 1) ** -exponent``,
    ranks a seeded permutation of the tables (popularity independent of size); the total is kept."""
    import dataclasses
    n = model.n_tables
    rank = np.random.default_rng(seed).permutation(n)
    w = (rank + 1.0) ** -float(exponent)
    total = sum(t.pooling for t in model.tables)
    pooling = total * w / w.sum()
    tables = [dataclasses.replace(t, pooling=float(p)) for t, p in zip(model.tables, pooling)]
    return dataclasses.replace(model.with_tables(tables), name=f"{model.name}_skew{exponent:g}")


def model_of(exp: Experiment, skew_exponent: Optional[float] = None):
    """The experiment's ModelSpec (its skew applied, at ``skew_exponent`` if given)."""
    from ..workloads.model import load_model
    model = load_model(exp.model)
    if exp.skew is None:
        return model
    e = exp.skew.exponent.value if skew_exponent is None else skew_exponent
    return skewed_model(model, e, exp.skew.seed)
