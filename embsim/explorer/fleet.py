"""Fleet files (``examples/fleets/*.yaml``): models with a QPS demand and a p99 SLA, one server type.

    name: deeprecsys_cpu
    source: "where the demands and SLAs come from"
    server: {system: cpu_2s_spr_ddr5, cost: {value: 1.0, source: "assumption: ..."}}
    simulation: {batch_size: 64, batches: 24, seed: 0}
    models:
      - {name: rm1, model: rm1, qps: 60000, p99_sla: "30 ms"}

``load_fleet`` validates the file with the project's schema rules (one
``InputError`` line naming the file, field and value); the models and the
server type must be presets or YAML paths that load.  Whether each model
can meet its SLA alone on the server type is checked by the planner, which
simulates it (``colocation_plan.alone_capacity``).
"""
from typing import Annotated, Optional

from pydantic import AfterValidator, Field

from ..config import Q, Schema, load, sourced
from ..errors import InputError
from ..hw_models.loader import load_system
from ..workloads.model import load_model


def _positive(what):
    def check(v: float) -> float:
        if not v > 0:
            raise ValueError(f"expected {what} > 0")
        return v
    return AfterValidator(check)


class FleetModel(Schema):
    name: str = Field(min_length=1)
    model: str = Field(min_length=1)            # preset name or YAML path
    qps: Annotated[Q.rate, _positive("a demand in samples/s")]
    p99_sla: Annotated[Q.time, _positive("a p99 target in s")]


class Server(Schema):
    system: str = Field(min_length=1)
    cost: sourced("count")                      # type: ignore[valid-type]


class FleetSimulation(Schema):
    batch_size: int = Field(default=64, ge=1, le=65536)
    batches: int = Field(default=24, ge=4, le=100_000)
    seed: int = Field(default=0, ge=0)


class FleetSpec(Schema):
    name: str = Field(min_length=1)
    source: str = Field(min_length=1)
    server: Server
    simulation: FleetSimulation = FleetSimulation()
    models: list[FleetModel] = Field(min_length=1)


class Fleet:
    """A validated fleet: its spec, the loaded server System and each model's ModelSpec."""

    def __init__(self, spec: FleetSpec, path: str, system, models: dict):
        self.spec, self.path, self.system, self.models = spec, path, system, models

    @property
    def names(self) -> list:
        return [m.name for m in self.spec.models]

    def demand(self, name: str) -> float:
        return next(m.qps for m in self.spec.models if m.name == name)

    def sla(self, name: str) -> float:
        return next(m.p99_sla for m in self.spec.models if m.name == name)

    @property
    def cost(self) -> float:
        return float(self.spec.server.cost.value)


def load_fleet(path: str, system_override: Optional[object] = None) -> Fleet:
    """Read and check a fleet file; InputError (one line, naming file and model) if anything is wrong."""
    spec = load(FleetSpec, path)
    names = [m.name for m in spec.models]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"{path}: models: name '{dup[0]}' repeats; expected one entry per model")
    if spec.server.cost.value <= 0:
        raise InputError(f"{path}: server.cost: {spec.server.cost.value!r}: expected a cost > 0 per server")
    try:
        system = system_override if system_override is not None else load_system(spec.server.system)
    except InputError as e:
        raise InputError(f"{path}: server.system: {e}") from None
    models = {}
    for m in spec.models:
        try:
            models[m.name] = load_model(m.model)
        except InputError as e:
            raise InputError(f"{path}: model '{m.name}': {e}") from None
    return Fleet(spec, str(path), system, models)
