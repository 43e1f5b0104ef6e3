"""Hardware models: the four system families, presets with sources, energy."""
from .system import (BatchCost, BatchLoad, Cost, DeviceLoad, FAMILIES, Slot, StageWork, STAGES,
                     System, register_family)

__all__ = ["BatchCost", "BatchLoad", "Cost", "DeviceLoad", "FAMILIES", "STAGES", "Slot", "StageWork",
           "System", "register_family"]
