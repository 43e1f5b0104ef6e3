"""Co-location: a tenant alone is simulate; tenants that share nothing do not interact; a saturated shared
resource is split in proportion to demand; the interleaved LLC replay conserves every tenant's accesses."""
import numpy as np
import pytest
from simtoys import round_robin_plan, small_model, small_trace

from embsim.errors import InputError
from embsim.hw_models.loader import load_system
from embsim.sim.colocation import Tenant, simulate_colocated
from embsim.sim.shards import caches_from_system
from embsim.sim.simulate import simulate

FIGURES = ("throughput", "latency", "utilisation_fraction", "queueing_delay_s", "bytes_B", "stage_time_s")


@pytest.fixture(scope="module")
def one_socket():
    return load_system("cpu_2s_spr_ddr5", {"params.sockets": 1})


@pytest.fixture(scope="module")
def small_llc():
    """One socket with an LLC of 256 KiB (4096 rows of 64 B): smaller than the tenants' working sets."""
    return load_system("cpu_2s_spr_ddr5", {"params.sockets": 1, "params.llc.capacity": "256 KiB"})


def tenant(name, system, qps, batches=30, batch_size=64, seed=0, pooling=8, rows=20_000, **kw):
    m = small_model(tables=2, rows=rows, pooling=pooling)
    m = type(m)(**{**m.__dict__, "name": name})
    return Tenant(name, m, qps, 0.01, batch_size=batch_size, batches=batches, plan=round_robin_plan(m, system),
                  trace=small_trace(m, batches=batches, batch_size=batch_size, seed=seed), **kw)


def test_a_tenant_alone_gets_the_figures_of_simulate(one_socket):
    t = tenant("a", one_socket, 2e5)
    got = simulate_colocated(one_socket, [t], seed=3).tenant("a")
    want = simulate(t.model, one_socket, plan=t.plan, trace=t.trace, arrival="poisson", qps=t.qps,
                    queries=t.batches * t.batch_size, seed=3, caches=caches_from_system(one_socket),
                    profile="in-sample")                 # co-located tenants are ranked in-sample
    for f in FIGURES:
        assert getattr(got.result, f) == getattr(want, f), f
    assert got.result.energy["total_J"] == want.energy["total_J"]
    assert got.alone.latency == want.latency and got.slowdown_p99 == 1.0


def test_tenants_that_share_nothing_do_not_slow_each_other(one_socket):
    """Partitioned cores, LLC ways and memory bandwidth: a tenant's figures with a neighbour are its
    figures alone on the same partition (mean service times, so the comparison is exact)."""
    kw = dict(cores="partitioned", llc="partitioned", memory="partitioned", variability=False, alone=False)
    a = tenant("a", one_socket, 1e5, cores=28, llc_share=0.5)
    b = tenant("b", one_socket, 3e5, seed=1, pooling=30, cores=28, llc_share=0.5)
    alone = simulate_colocated(one_socket, [a], **kw).tenant("a").result
    both = simulate_colocated(one_socket, [a, b], **kw)
    assert both.tenant("a").result.latency == alone.latency
    assert both.tenant("a").result.throughput == alone.throughput
    assert both.tenant("b").result.throughput["queries_per_s"] > 0


def test_a_saturated_shared_resource_is_split_in_proportion_to_demand(one_socket):
    """Shared server, offered load far above capacity: the bottleneck is busy all the common window,
    each tenant's share of it follows the work it brings (FIFO serves in arrival order), and both slow
    down; with a lighter neighbour a tenant slows down less."""
    kw = dict(variability=False, query_sizes=None)
    a = tenant("a", one_socket, 4e6, batches=80)
    b = tenant("b", one_socket, 8e6, batches=80, seed=1)
    r = simulate_colocated(one_socket, [a, b], **kw)
    neck = max(r.utilisation_fraction, key=r.utilisation_fraction.get)
    assert r.utilisation_fraction[neck] == pytest.approx(1.0, abs=0.02)           # saturated
    ua, ub = (r.utilisation_by_tenant[n][neck] for n in ("a", "b"))
    assert ua + ub == pytest.approx(r.utilisation_fraction[neck])
    assert ub / ua == pytest.approx(2.0, rel=0.15)                # in proportion to the demand (2x the rate)
    for t in r.tenants:
        assert t.slowdown_p99 > 1.5
    light = simulate_colocated(one_socket, [a, tenant("b", one_socket, 1e5, batches=80, seed=1)], **kw)
    assert light.tenant("a").slowdown_p99 < r.tenant("a").slowdown_p99


def test_a_shared_llc_costs_each_tenant_hits(small_llc):
    a = tenant("a", small_llc, 2e5, rows=200_000)
    b = tenant("b", small_llc, 2e5, seed=1, rows=200_000)
    r = simulate_colocated(small_llc, [a, b], variability=False)
    for t in r.tenants:
        shared, alone = t.result, t.alone
        assert shared.bytes_B["requested"] != alone.bytes_B["requested"]           # the LLC was shared
        llc_s, dram_s = (shared.bytes_B["requested"][f"socket0.{lv}"] for lv in ("llc", "dram"))
        llc_a, dram_a = (alone.bytes_B["requested"][f"socket0.{lv}"] for lv in ("llc", "dram"))
        lookups = t.result.config["trace"]["lookups"]
        assert lookups == (a if t.name == "a" else b).trace.n_indices
        # every lookup is an LLC access; what the LLC misses goes to DRAM: totals conserved, hits fewer
        assert llc_s + dram_s > 0 and llc_s < llc_a and dram_s > dram_a


def test_interleaved_llc_replay_conserves_each_tenants_accesses(small_llc):
    from embsim.sim.colocation import _TenantSimulation, _merged_order, _stream, interleaved_replay
    from embsim.workloads.query_sizes import QuerySizes
    ts = [tenant("a", small_llc, 2e5, rows=200_000), tenant("b", small_llc, 5e5, seed=1, rows=200_000)]
    caches = caches_from_system(small_llc)
    sims = [_TenantSimulation(t.model, small_llc, t.plan, t.trace, caches=caches) for t in ts]
    before = [s.counters for s in sims]
    streams = [_stream(t, i, QuerySizes()) for i, t in enumerate(ts)]
    ot, ob = _merged_order(streams)
    merged = interleaved_replay(sims, ot, ob)
    assert merged.lookups[:, :, 0].sum() == sum(t.trace.n_indices for t in ts)
    for s, c0, t in zip(sims, before, ts):
        c = s.counters
        per_batch = t.trace.lengths.sum(axis=(1, 2))
        assert np.array_equal(c.lookups[:, :, 0].sum(axis=1), per_batch)              # every access, every batch
        assert np.array_equal(c.hits[:, :, 0] + c.misses[:, :, 0], c.lookups[:, :, 0])
        assert np.array_equal(c.table_lookups[:, :, 0].sum(axis=1), c0.table_lookups[:, :, 0].sum(axis=1))
        assert c.hits[:, :, 0].sum() <= c0.hits[:, :, 0].sum()       # LRU: a neighbour's rows only push ours out


def test_bad_tenants_are_refused_in_one_line(one_socket):
    t = tenant("a", one_socket, 1e5)
    with pytest.raises(InputError, match="tenant 'z': qps 0"):
        simulate_colocated(one_socket, [Tenant("z", t.model, 0, 0.01)])
    with pytest.raises(InputError, match="cores"):
        simulate_colocated(one_socket, [t], cores="partitioned")
    with pytest.raises(InputError, match="llc: 'half'"):
        simulate_colocated(one_socket, [t], llc="half")
