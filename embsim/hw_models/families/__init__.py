"""The four system families; importing this package registers them by name."""
from . import ascend_soc, cpu_dram, cpu_nvme, gpu_nvme, multi_gpu, screc_csd  # noqa: F401  (registration by import)
