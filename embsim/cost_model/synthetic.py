"""SyntheticSystem: a System given directly by its slots' costs, for tests, benchmarks and what-ifs.

Not one of the four hardware families (it is not registered and has no
preset): it exists so the planner can be checked on small hand-made
machines, and so a user can ask "what if a device had these tiers" without
writing a family.  It implements only the cost model's side of the System
interface (``devices``, ``slots``, ``lookup_cost``, ``compute_cost``).

A lookup from a tier costs ``per_lookup_s + row_bytes / bandwidth_Bps``
seconds (amortised over the device's concurrency) and ``row_bytes *
energy_per_B_J`` joules; ``macs`` of tensor-train reconstruction cost
``macs / macs_per_s`` seconds and ``macs * energy_per_mac_J``.

    SyntheticSystem("toy", {
        "dev0": {"tiers": [dict(tier="sram", capacity_B=1e6, per_lookup_s=1e-9, bandwidth_Bps=1e11),
                           dict(tier="dram", capacity_B=1e9, per_lookup_s=1e-8, bandwidth_Bps=1e10)],
                 "macs_per_s": 1e11},
        ...})

A tier may name a ``pool`` shared with other devices' tiers (host DDR) and a
``granularity_B``; without one its access unit is one byte, which is what its
cost says (linear in the row's bytes, nothing rounded up to a line).
``links={"latency_s": L, "bandwidth_Bps": W}`` adds an all-to-all of pooled
vectors: device d's transfer stage takes ``L + max(sent, received) / W`` with
``sent = pooled_d (N-1)/N`` (it keeps its own share), the rule of the
multi-GPU family; ``batch_cost`` then returns that stage only.
"""
from ..errors import InputError
from ..hw_models.system import BatchCost, Cost, Slot, StageWork, System


class SyntheticSystem(System):
    family = "synthetic"

    def __init__(self, name, devices, links=None):
        super().__init__(name, devices, None)
        self.links = links
        self._slots = []
        for d, spec in devices.items():
            for rank, t in enumerate(spec["tiers"]):
                for key in ("tier", "capacity_B", "per_lookup_s", "bandwidth_Bps"):
                    if key not in t:
                        raise InputError(f"synthetic system '{name}': {d}.tiers[{rank}].{key}: missing")
                self._slots.append(Slot(d, t["tier"], float(t["capacity_B"]), rank, t.get("pool"),
                                        granularity_B=int(t.get("granularity_B", 1))))
        self._tiers = {(d, t["tier"]): t for d, spec in devices.items() for t in spec["tiers"]}

    @property
    def devices(self):
        return list(self.params)

    def slots(self):
        return list(self._slots)

    def lookup_cost(self, slot, row_bytes, dtype="fp32", pooling=None):       # a per-lookup tier: neither counts
        t = self._tiers[slot.device, slot.tier]
        return Cost(t["per_lookup_s"] + row_bytes / t["bandwidth_Bps"], row_bytes * t.get("energy_per_B_J", 0.0))

    def compute_cost(self, device, macs):
        spec = self.params[device]
        if "macs_per_s" not in spec:
            raise InputError(f"synthetic system '{self.name}': {device}.macs_per_s: missing (needed for tensor-train)")
        return Cost(macs / spec["macs_per_s"], macs * spec.get("energy_per_mac_J", 0.0))


    def batch_cost(self, load):
        """The all-to-all of pooled vectors (the only stage a synthetic system models), if it has links."""
        if not self.links:
            raise NotImplementedError(f"synthetic system '{self.name}': no links, no batch cost")
        devs = self.devices
        N = len(devs)
        sent = {d: load.devices[d].pooled_bytes_out * (N - 1) / N if d in load.devices else 0.0 for d in devs}
        total = sum(sent.values())
        work = []
        if total > 0:
            for d in devs:
                recv = (total - sent[d]) / (N - 1)
                work.append(StageWork("transfer", f"{d}.link",
                                      self.links["latency_s"] + max(sent[d], recv) / self.links["bandwidth_Bps"]))
        return BatchCost(work)


def uniform_devices(n, tiers, macs_per_s=1e12, prefix="dev"):
    """``n`` identical devices with the given tier dicts (a helper for tests and benchmarks)."""
    return {f"{prefix}{k}": {"tiers": [dict(t) for t in tiers], "macs_per_s": macs_per_s} for k in range(n)}
