"""Which variability profile each family's resources get.

``service_variability(system)`` is what the simulator asks: the system's own
``service_variability()`` if it has one (the ``VariableService`` protocol),
else its family's function below, else nothing (deterministic service).
One function per family, from resource name to ``ServiceVariability``
(profiles and their sources in ``hw_models.variability``).  A resource that
combines several parts combines their profiles (CVs in quadrature): a CPU
socket's gathers see OS noise on its cores and refresh on its DRAM.
"""
from ..protocols import VariableService
from ..variability import (ACCELERATOR_CORE, COHERENT_LINK, DRAM_REFRESH, FPGA_ENGINE, GPU_KERNEL,
                           HOST_OS_NOISE, NAND_CHANNEL, NAND_READ, NVLINK, PCIE_LINK)


def _by_suffix(system, table, default):
    """Resource -> profile: the profile of the first matching ``.suffix`` in ``table``, else ``default``."""
    out = {}
    for r in system.resources():
        _, _, tail = r.rpartition(".")
        out[r] = table.get(tail, default) if "." in r else default
    return out


def cpu_dram(system) -> dict:
    """host: OS noise; a socket: OS noise on its cores and its DRAM's refresh; upi: a coherent link."""
    out = _by_suffix(system, {"upi": COHERENT_LINK}, HOST_OS_NOISE.combine(DRAM_REFRESH))
    out["host"] = HOST_OS_NOISE
    return out


def cpu_nvme(system) -> dict:
    """As cpu_dram, and a socket's gathers also wait on its NVMe drives' NAND reads."""
    out = _by_suffix(system, {"upi": COHERENT_LINK}, HOST_OS_NOISE.combine(DRAM_REFRESH).combine(NAND_READ))
    out["host"] = HOST_OS_NOISE
    return out


def multi_gpu(system) -> dict:
    """host: OS noise; a GPU (its lookups, its SMs): kernel launch floor and run-to-run spread; its PCIe and
    NVLink ports and any switch uplink: links; the host DDR the GPUs share: refresh."""
    out = _by_suffix(system, {"pcie": PCIE_LINK, "link": NVLINK, "up": PCIE_LINK, "down": PCIE_LINK}, GPU_KERNEL)
    out["host"] = HOST_OS_NOISE
    if "host.ddr" in out:
        out["host.ddr"] = DRAM_REFRESH
    return out


def gpu_nvme(system) -> dict:
    """As multi_gpu, and the host's NVMe reads (``host.nvme``): NAND reads, on host cores with OS noise."""
    out = multi_gpu(system)
    out["host.nvme"] = NAND_READ.combine(HOST_OS_NOISE)
    return out


def ascend_soc(system) -> dict:
    """AI cores and the cube unit: accelerator kernels; the host link: PCIe."""
    out = {r: ACCELERATOR_CORE for r in system.resources()}
    out.update({r: PCIE_LINK for r in ("pcie_down", "pcie_up") if r in out})
    return out


def screc_csd(system) -> dict:
    """host: OS noise (its gathers also DRAM refresh); a device's gather and compute engines: FPGA; its flash
    dies: NAND reads with one page read (tR) as the floor; its flash channels, PCIe port and switch uplink: links."""
    t_r = system.flash.p.read_latency.value
    dies = NAND_READ.with_floor(t_r, "one page read (tR) of the preset's NAND")
    out = _by_suffix(system, {"pcie_up": PCIE_LINK, "pcie_down": PCIE_LINK, "up": PCIE_LINK, "down": PCIE_LINK,
                              "flash_dies": dies, "flash_channels": NAND_CHANNEL}, FPGA_ENGINE)
    for r in out:
        if r == "host" or r.startswith("host."):
            out[r] = HOST_OS_NOISE.combine(DRAM_REFRESH)
    return out


FAMILY_PROFILES = {"cpu_dram": cpu_dram, "cpu_nvme": cpu_nvme, "multi_gpu": multi_gpu, "gpu_nvme": gpu_nvme,
                   "ascend_soc": ascend_soc, "screc_csd": screc_csd}


def service_variability(system) -> dict:
    """Resource -> ServiceVariability of ``system`` (empty: every resource deterministic)."""
    if isinstance(system, VariableService):
        return system.service_variability()
    profile = FAMILY_PROFILES.get(system.family)
    return profile(system) if profile is not None else {}
