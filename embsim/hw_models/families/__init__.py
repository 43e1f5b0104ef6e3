"""The four system families; importing this package registers them by name."""
import importlib

for _name in ("cpu_dram", "multi_gpu", "ascend_soc", "screc_csd"):
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as e:  # a family not written yet is simply absent
        if e.name != f"{__name__}.{_name}":
            raise
