"""Service variability profiles (hw_models/variability.py): checked inputs, sources, combination."""
import math

import pytest

from embsim.errors import InputError
from embsim.hw_models import variability as V
from embsim.hw_models.loader import load_system
from embsim.hw_models.families.service_profiles import service_variability

PROFILES = [v for v in vars(V).values() if isinstance(v, V.ServiceVariability)]


def test_every_profile_has_a_source_and_a_sane_cv():
    assert len(PROFILES) >= 8
    for p in PROFILES:
        assert p.source and 0 <= p.cv < 1 and p.floor_s < 1e-3


def test_bad_profiles_are_refused():
    for args in (("weibull", 0.1, 0, "s"), ("lognormal", -0.1, 0, "s"), ("exponential", 0.5, 0, "s"),
                 ("deterministic", 0.1, 0, "s"), ("lognormal", 0.1, -1e-6, "s"), ("lognormal", 0.1, 0, "")):
        with pytest.raises(InputError):
            V.ServiceVariability(*args)


def test_independent_sources_add_in_quadrature_and_keep_the_larger_floor():
    c = V.HOST_OS_NOISE.combine(V.GPU_KERNEL)
    assert c.cv == pytest.approx(math.hypot(V.HOST_OS_NOISE.cv, V.GPU_KERNEL.cv))
    assert c.floor_s == max(V.HOST_OS_NOISE.floor_s, V.GPU_KERNEL.floor_s)
    assert V.DETERMINISTIC.combine(V.DETERMINISTIC).distribution == "deterministic"


@pytest.mark.parametrize("preset", ["cpu_2s_spr_ddr5", "gpu_8x_a100_80g", "ascend_910", "screc_4x_smartssd"])
def test_every_resource_of_every_family_has_a_sourced_profile(preset):
    s = load_system(preset)
    v = service_variability(s)
    assert set(v) == set(s.resources())
    assert all(p.source and p.cv > 0 for p in v.values())
