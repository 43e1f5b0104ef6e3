"""Cache: a CPU last-level cache, a GPU or Ascend L2, in front of a memory tier.

A cache is a memory tier the software cannot place rows in: hardware (or a
runtime) decides what it holds, under a replacement ``policy``.  It is not a
slot; ``sim/replay`` simulates it (``System.cache_levels()``) at its line size
and its hits are costed with the same physics as a memory tier (whole lines,
Little's law from latency and lines in flight, capped by its bandwidth;
energy per bit read).  ``policy`` is what the hardware approximates (LRU for
a pseudo-LRU LLC); ``embsim simulate --caches`` may replay another.
"""
from typing import Any, ClassVar, Literal

from .memory import MemoryParams, MemoryTier


class CacheParams(MemoryParams):
    policy: Literal["lru", "lfu"]


class Cache(MemoryTier):
    kind = "cache"
    Schema: ClassVar[Any] = CacheParams

    @property
    def policy(self) -> str:
        return self.p.policy
