"""Hardware models: the four system families, presets with sources, energy."""
from .system import (BatchCost, BatchLoad, Cost, DeviceLoad, FAMILIES, Slot, StageWork, STAGES,
                     System, register_family)
