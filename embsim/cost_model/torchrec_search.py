"""TorchRec's search space on an embsim instance: constraints, enumerator, partitioner and proposers.

The pieces :mod:`.torchrec_planner` hands TorchRec's ``EmbeddingShardingPlanner``
(and its estimator), built so that TorchRec is offered what embsim's own solve
was (see that module's doc for why each choice is fair):

- :func:`constraints`: per table ``ParameterConstraints`` with the sharding
  types offered, the mean pooling as ``pooling_factors`` and, for column-wise,
  ``min_partition`` = dim / K (K from ``instance.COLUMN_SPLITS``);
- :func:`enumerator`: one ``EmbeddingEnumerator`` per column split K (its
  perf and storage estimators in inference mode), the first giving every
  option and the others only their K-shard column-wise ones;
- :func:`partitioner`: TorchRec's ``GreedyPerfPartitioner``, column-wise
  tables placed by its own unique-rank partition;
- :func:`proposers`: TorchRec's proposers by name (default: its four).

Needs torchrec: import this module only after ``torchrec_planner.unavailable()``
said None.
"""
from __future__ import annotations

from .instance import COLUMN_SPLITS

PROPOSERS = ("grid", "greedy", "greedy_no_depth", "uniform")      # TorchRec's defaults, in its order


def column_splits(table, world: int) -> list:
    """The column shard counts K TorchRec is offered for ``table`` on ``world`` ranks: embsim's K (dividing dim,
    K <= ranks) for which TorchRec's block search lands on dim / K (a multiple of 4)."""
    return [K for K in COLUMN_SPLITS if K <= world and int(table.dim) % (4 * K) == 0]


def constraints(model, types, world: int, K: int | None = None) -> dict:
    """Table -> ParameterConstraints: ``types`` (column_wise only where ``K`` is one of the table's splits;
    with ``K`` None, each table's first split), the mean pooling, min_partition = dim / K."""
    from torchrec.distributed.planner.types import ParameterConstraints
    out = {}
    for t in model.tables:
        ks = column_splits(t, world) if "column_wise" in types else []
        k = (ks[0] if ks else None) if K is None else (K if K in ks else None)
        kinds = [x for x in types if x != "column_wise" or k is not None]
        out[t.name] = ParameterConstraints(sharding_types=kinds, pooling_factors=[float(t.pooling)],
                                           min_partition=int(t.dim) // k if k else None)
    return out


def enumerator(topo, model, types, world: int, batch_size: int):
    """An Enumerator whose search space holds each of embsim's column splits (module doc)."""
    from torchrec.distributed.planner.enumerators import EmbeddingEnumerator
    from torchrec.distributed.planner.shard_estimators import EmbeddingPerfEstimator, EmbeddingStorageEstimator
    from torchrec.distributed.planner.types import Enumerator

    def one(cons):
        return EmbeddingEnumerator(topology=topo, batch_size=batch_size, constraints=cons,
                                   estimator=[EmbeddingPerfEstimator(topology=topo, constraints=cons, is_inference=True),
                                              EmbeddingStorageEstimator(topology=topo, constraints=cons,
                                                                        is_inference=True)])

    splits = sorted({k for t in model.tables for k in column_splits(t, world)}) if "column_wise" in types else []
    first = one(constraints(model, types, world))
    others = [(K, one(constraints(model, types, world, K))) for K in splits[1:]]

    class Splits(Enumerator):
        def __init__(self, *args, **kwargs):
            pass

        def enumerate(self, module, sharders):
            opts = first.enumerate(module=module, sharders=sharders)
            for K, e in others:
                opts += [o for o in e.enumerate(module=module, sharders=sharders)
                         if o.sharding_type == "column_wise" and len(o.shards) == K]
            return opts

        def populate_estimates(self, sharding_options):
            first.populate_estimates(sharding_options)

    return Splits() if others else first


def partitioner():
    """TorchRec's GreedyPerfPartitioner, every column-wise table on distinct ranks (TorchRec's own
    ``_column_wise_device_partition``, which it applies to key-value tables only)."""
    from torchrec.distributed.planner.partitioners import GreedyPerfPartitioner

    class DistinctColumnRanks(GreedyPerfPartitioner):
        @classmethod
        def _device_partition(cls, sharding_option, minheap_devices, bulk_heapify_threshold=0.25):
            if sharding_option.sharding_type == "column_wise":
                return cls._column_wise_device_partition(sharding_option, minheap_devices)
            return super()._device_partition(sharding_option, minheap_devices, bulk_heapify_threshold)

    return DistinctColumnRanks()


def proposers(names=None) -> list:
    """TorchRec's proposers by name (``PROPOSERS``); None: its default four."""
    from torchrec.distributed.planner.proposers import GreedyProposer, GridSearchProposer, UniformProposer
    make = {"grid": GridSearchProposer, "greedy": GreedyProposer,
            "greedy_no_depth": lambda: GreedyProposer(use_depth=False), "uniform": UniformProposer}
    bad = [n for n in (names or ()) if n not in make]
    if bad:
        raise ValueError(f"TorchRec proposer '{bad[0]}' (expected one of {', '.join(PROPOSERS)})")
    return [make[n]() for n in (names or PROPOSERS)]


__all__ = ["PROPOSERS", "column_splits", "constraints", "enumerator", "partitioner", "proposers"]
