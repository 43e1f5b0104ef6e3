"""Build parts from hand-written numbers for the part tests (every number sourced "test")."""
from embsim import config


def S(v, src="test: hand-computed case"):
    return {"value": v, "source": src}


def make(cls, name="part", **fields):
    """A ``cls`` part from ``fields`` (sourced dicts or settings), validated by its schema."""
    return cls(name, config.validate(cls.Schema, fields, f"{name}.yaml"))
