"""How long one batch's work on a part really takes: a distribution around the model's mean, and a floor.

A family's ``batch_cost`` gives the *mean* service time of a batch on each
resource (the work the replay counted, at the part's rates).  Real parts do
not serve every batch in the same time: the host's cores lose time to OS
noise, DRAM stalls for refresh, a GPU kernel's run time varies from launch to
launch, NAND reads retry.  ``ServiceVariability`` says, for one resource,

- ``distribution``: the shape of one batch's service time around its mean,
  ``deterministic``, ``exponential`` (CV 1), ``lognormal`` or ``gamma``;
- ``cv``: its coefficient of variation (standard deviation / mean);
- ``floor_s``: the least time any batch with work there takes (a kernel
  launch, a PCIe round trip, one flash page read): an empty system still has
  a minimum latency.  The engine serves ``max(floor_s, mean) x X`` with ``X``
  of mean 1 and the stated CV;
- ``slows_only``: the family's mean is the part's best case (a transfer at
  its peak rate, a gather at its Little's-law bandwidth), so disturbances
  only add time: ``X = 1 + D``, ``D >= 0`` lognormal with mean and standard
  deviation ``cv`` (assumption: a part loses on average as much as its
  spread).  Every profile below is so; a part then never beats its peak;
- ``source``: where the figures come from.

The CV is that of one batch's service on the part, not of one operation:
per-operation jitter averages out over the thousands of reads of a batch,
so what remains is the part's batch-to-batch variation.  Independent sources
on one part combine with ``combine`` (CVs in quadrature, the larger floor).

The profiles below are the sourced building blocks the families map their
resources to (``families.service_profiles.service_variability``).
"""
import math
from dataclasses import dataclass

from ..errors import InputError

DISTRIBUTIONS = ("deterministic", "exponential", "lognormal", "gamma")


@dataclass(frozen=True)
class ServiceVariability:
    """Distribution, coefficient of variation, floor and source of one resource's batch service time."""

    distribution: str
    cv: float
    floor_s: float = 0.0
    source: str = ""
    slows_only: bool = False

    def __post_init__(self):
        if self.distribution not in DISTRIBUTIONS:
            raise InputError(f"service variability: distribution: {self.distribution!r}: expected one of "
                             f"{', '.join(DISTRIBUTIONS)}")
        if not (math.isfinite(self.cv) and self.cv >= 0):
            raise InputError(f"service variability: cv: {self.cv!r}: expected a coefficient of variation >= 0")
        if self.distribution == "deterministic" and self.cv != 0:
            raise InputError(f"service variability: cv: {self.cv}: a deterministic service has cv 0")
        if self.distribution == "exponential" and self.cv != 1:
            raise InputError(f"service variability: cv: {self.cv}: an exponential service has cv 1")
        if not (math.isfinite(self.floor_s) and self.floor_s >= 0):
            raise InputError(f"service variability: floor_s: {self.floor_s!r}: expected a time >= 0 s")
        if not self.source:
            raise InputError("service variability: source: missing; expected where the cv and floor come from")

    def combine(self, other: "ServiceVariability") -> "ServiceVariability":
        """Two independent sources on one part: variances of the relative service add; the larger floor holds."""
        cv = math.hypot(self.cv, other.cv)
        dist = "deterministic" if cv == 0 else "lognormal"
        return ServiceVariability(dist, cv, max(self.floor_s, other.floor_s), f"{self.source}; {other.source}",
                                  self.slows_only or other.slows_only)

    def with_floor(self, floor_s: float, why: str) -> "ServiceVariability":
        """The same spread with a floor of ``floor_s`` (the larger of the two), ``why`` added to the source."""
        return ServiceVariability(self.distribution, self.cv, max(self.floor_s, float(floor_s)),
                                  f"{self.source}; floor {floor_s:.3g} s: {why}", self.slows_only)


DETERMINISTIC = ServiceVariability("deterministic", 0.0, 0.0, "deterministic: no variation modelled")

# -- the sourced profiles -------------------------------------------------------------------
HOST_OS_NOISE = ServiceVariability(
    "lognormal", 0.05, 0.0,
    "host OS noise: timer ticks, interrupts and daemons take 0.1-2% of a Linux core in detours of "
    "1-100 us (Hoefler, Schneider, Lumsdaine, SC'10 'Characterizing the influence of system noise'; "
    "Tsafrir et al., ICS'05); assumption: on batches of 0.1-10 ms this spreads the service by cv 0.05, "
    "lognormal for the right tail", slows_only=True)

DRAM_REFRESH = ServiceVariability(
    "lognormal", 0.01, 0.0,
    "DRAM refresh: a rank is blocked for tRFC = 295 ns every tREFI = 3.9 us (DDR5 16 Gb, JESD79-5), "
    "7.6% of the time; a batch spans tens to thousands of refresh intervals, so the share it loses "
    "varies little: assumption cv 0.01", slows_only=True)

GPU_KERNEL = ServiceVariability(
    "lognormal", 0.03, 5e-6,
    "GPU kernels: launch overhead about 5 us per kernel (the order NVIDIA's CUDA best-practices guide "
    "and launch microbenchmarks give; assumption: 5 us) as the floor; run-to-run variation of a "
    "memory-bound kernel of a few 0.1 ms from clocks, L2 and scheduling: assumption cv 0.03", slows_only=True)

NAND_READ = ServiceVariability(
    "lognormal", 0.10, 0.0,
    "NAND reads: tR varies with the page type and read-retry steps on TLC (Cai et al., 'Error "
    "characterization, mitigation and recovery in flash-memory-based SSDs', Proc. IEEE 2017: retries "
    "add whole tR steps to a read); the batch's flash time is the slowest die's, so retries on any die "
    "show: assumption cv 0.10 of a batch's flash service; floor one page read (tR, from the preset)", slows_only=True)

PCIE_LINK = ServiceVariability(
    "lognormal", 0.02, 1e-6,
    "PCIe: a small DMA read takes about 1 us round trip through the root complex (Neugebauer et al., "
    "SIGCOMM'18 'Understanding PCIe performance for end host networking', 0.6-1 us measured); "
    "flow-control credit and replay stalls: assumption cv 0.02", slows_only=True)

NVLINK = ServiceVariability(
    "lognormal", 0.02, 2e-6,
    "NVLink/NVSwitch all-to-all: NCCL's per-collective latency of a few us on one node (NCCL tests "
    "report 5-10 us for small all-to-all on DGX A100; assumption: 2 us floor per transfer item) and "
    "assumption cv 0.02 for the bandwidth phase", slows_only=True)

ACCELERATOR_CORE = ServiceVariability(
    "lognormal", 0.03, 5e-6,
    "accelerator core (Ascend AI core): a kernel launch from the host runtime sets the floor "
    "(assumption: 5 us, as for a GPU kernel); run-to-run variation assumption cv 0.03", slows_only=True)

FPGA_ENGINE = ServiceVariability(
    "lognormal", 0.01, 0.0,
    "FPGA engine: a fixed hardware pipeline at a fixed clock; its only variation is the FPGA DRAM's "
    "refresh and arbitration (assumption cv 0.01, as DRAM_REFRESH)", slows_only=True)

COHERENT_LINK = ServiceVariability(
    "lognormal", 0.02, 0.0,
    "socket-to-socket link (UPI): credit and snoop stalls, assumption cv 0.02; its latency is in the model", slows_only=True)

NAND_CHANNEL = ServiceVariability(
    "lognormal", 0.02, 0.0,
    "NAND channel (ONFI/Toggle bus): sectors shift out at a fixed rate; dies of one channel arbitrate "
    "for it: assumption cv 0.02", slows_only=True)
