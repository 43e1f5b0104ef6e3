"""Hand-written systems for the family tests: every number sourced "test: hand-computed case"."""
import copy

from embsim.hw_models.loader import system_from_dict


def S(v, src="test: hand-computed case"):
    """A sourced number, as presets write them."""
    return {"value": v, "source": src}


def build(template, **changes):
    """A System from ``template`` with parameters changed: ``hand(core__count=4)`` sets params.core.count."""
    data = copy.deepcopy(template)
    for path, v in changes.items():
        node = data["params"]
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = S(v)
    return system_from_dict(data, source="hand.yaml")
