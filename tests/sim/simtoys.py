"""Small models, traces and plans for the simulation tests (fast to build, real code paths)."""

from embsim.cost_model.plan import Representation, Shard, ShardingPlan, TablePlan
from embsim.workloads.generators import generate_trace
from embsim.workloads.model import model_from_dict


def small_model(tables=4, rows=20_000, dim=16, pooling=8):
    return model_from_dict({
        "name": "tiny", "source": "test model",
        "defaults": {"dim": dim, "pooling": pooling, "access": {"kind": "zipf", "alpha": 1.05}},
        "tables": [{"name": f"t{i}", "rows": rows * (i + 1)} for i in range(tables)],
        "dense": {"dense_features": 13, "bottom_mlp": [64, dim], "top_mlp": [64, 1], "interaction": "dot"},
    }, source="tiny")


def small_trace(model, batches=12, batch_size=64, seed=0):
    return generate_trace(model, batches=batches, batch_size=batch_size, seed=seed)


def round_robin_plan(model, system, tier=None, hot_split=None):
    """Every table whole on one device, devices in turn; ``hot_split`` puts that share of hot rows in slot rank 0."""
    devices = system.devices
    tables = []
    for i, t in enumerate(model.tables):
        dev = devices[i % len(devices)]
        slots = sorted((s for s in system.slots() if s.device == dev), key=lambda s: s.rank)
        if hot_split is None:
            fits = [s for s in slots if s.capacity_B >= 4 * t.bytes]      # room to spare: the first tier that holds it
            shards = [Shard(dev, tier or fits[0].tier, 0.0, 1.0, 1.0)]
        else:
            shards = [Shard(dev, slots[0].tier, 0.0, hot_split, 0.5), Shard(dev, slots[1].tier, hot_split, 1.0, 0.5)]
        tables.append(TablePlan(t.name, Representation(row_bytes=t.row_bytes), shards))
    return ShardingPlan(model.name, system.name, tables, solver="hand", status="hand-made")


def row_parts_plan(model, system, parts=2):
    """Every table split row-wise over ``parts`` devices (rows id % parts), each part on its device's first slot."""
    tables = []
    for t in model.tables:
        shards = []
        for p in range(parts):
            dev = system.devices[p % len(system.devices)]
            tier = min((s for s in system.slots() if s.device == dev and s.capacity_B >= 4 * t.bytes),
                       key=lambda s: s.rank).tier
            shards.append(Shard(dev, tier, 0.0, 1.0, 1.0 / parts, part=p, parts=parts))
        tables.append(TablePlan(t.name, Representation(row_bytes=t.row_bytes), shards))
    return ShardingPlan(model.name, system.name, tables, solver="hand", status="hand-made")
