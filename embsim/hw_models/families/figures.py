"""The figures 'embsim hw show' derives from a system's parameters, one function per family.

Each returns rows (part, figure, value, unit kind, formula); a family's
``derived_figures()`` hands itself to its function here, so the family file
keeps only its model.
"""


def cpu_dram(system) -> list:
    """Rows (part, figure, value, unit kind, formula) that follow from the parameters, for 'hw show'."""
    d = system.devices[0]
    peak, rnd = system.dram[d].peak_Bps, system.random_bandwidth_Bps()
    return [
        ("dram", "random_bandwidth", rnd, "bandwidth",
         f"min(peak, min(cores x lines_in_flight, concurrency) x line / latency) per socket = {rnd / peak:.0%} of peak"),
        ("llc", "random_bandwidth", system.random_bandwidth_Bps("llc"), "bandwidth",
         "min(llc peak, cores x lines_in_flight x line / llc latency) per socket"),
        ("dram", "lookup_time_256B", system.gather_time_s(256), "time", "one 256-B row at full socket concurrency"),
        ("cpu", "mlp_flops", system.cpu[d].mlp_ops_per_s(), "rate",
         "cores x clock x ops_per_cycle[mlp_dtype] x mlp_efficiency, per socket"),
    ]


def multi_gpu(system) -> list:
    """Rows (part, figure, value, unit kind, formula) that follow from the parameters, for 'hw show'."""
    d = system.devices[0]
    return [
        ("hbm", "gather_bandwidth", system.hbm_gather_Bps(), "bandwidth",
         "min(peak, concurrency x sector / latency), per GPU"),
        ("host_ddr", "gather_bandwidth", system.host_gather_Bps(), "bandwidth",
         "min(pcie bandwidth x uvm efficiency, host_ddr peak / gpus), per GPU"),
        ("hbm", "lookup_time_256B", system.lookup_cost(system.slot(d, "hbm"), 256).time_s, "time", "one 256-B row"),
        ("host_ddr", "lookup_time_256B", system.lookup_cost(system.slot(d, "host_ddr"), 256).time_s, "time",
         "one 256-B row over PCIe"),
        ("gpu", "mlp_flops", system.sm[d].mlp_ops_per_s(), "rate", "SMs x clock x ops_per_cycle x mlp_efficiency"),
    ]


def ascend_soc(system) -> list:
    """Rows (part, figure, value, unit kind, formula) that follow from the parameters, for 'hw show'."""
    return [
        ("core", "gm_rate_per_core", system.gm_rate_Bps, "bandwidth",
         "min(gm_read_B_per_cycle x clock, hbm peak / cores)"),
        ("core", "l1_rate_per_core", system.l1_rate_Bps, "bandwidth", "l1_to_ub_B_per_cycle x clock"),
        ("core", "ub_chunk_buffer", system.chunk_B, "bytes", "ub capacity x ub_table_share / gm_buffers"),
        ("core", "gm_lookup_time_128B", system.strategy_cost("GM", 1, 128, 1).time_s, "time",
         "GM strategy, one 128 B row: dma_setup + max(copy, (hbm latency + copy) / gm_buffers)"),
        ("core", "l1_lookup_time_128B", system.strategy_cost("L1", 1, 128, 1).time_s, "time",
         "L1 strategy, one 128 B row"),
        ("cube", "dense_flops", system.cube.mlp_ops_per_s(), "rate",
         "cores x ops_per_cycle x clock x mlp_efficiency"),
    ]
