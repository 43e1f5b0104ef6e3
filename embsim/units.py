"""One parser from human unit strings to SI base units.

Config files may write "19.2 GB/s", "75 us", "4 GiB", "3.9 pJ/bit", "1.2 GHz";
code works in bytes, seconds, joules, watts, hertz and operations.  GB = 1e9 B,
GiB = 2**30 B, a bit is 1/8 byte (so "240 Gbit/s" is 30e9 B/s).

    >>> parse("19.2 GB/s", "bandwidth")
    19200000000.0
    >>> parse("3.9 pJ/bit", "energy_per_bit")   # joules per bit
    3.9e-12

Each quantity kind has a dimension over (bytes, seconds, joules) and a
canonical unit; ``parse`` checks the dimension, so "4 GiB" is refused where a
bandwidth is expected.  Operations (FLOP, MAC, IO, transfers) count as
dimensionless, so "19.5 TFLOP/s" and "750000 IOPS" are rates like "1 GHz".
"""
import math
import re

# Dimension exponents over (byte, second, joule).
_ATOMS = {
    # name: (factor to base, (B, s, J), accepts binary prefixes)
    "B": (1.0, (1, 0, 0), True),
    "byte": (1.0, (1, 0, 0), True),
    "bytes": (1.0, (1, 0, 0), True),
    "b": (0.125, (1, 0, 0), True),
    "bit": (0.125, (1, 0, 0), True),
    "bits": (0.125, (1, 0, 0), True),
    "s": (1.0, (0, 1, 0), False),
    "sec": (1.0, (0, 1, 0), False),
    "min": (60.0, (0, 1, 0), False),
    "h": (3600.0, (0, 1, 0), False),
    "Hz": (1.0, (0, -1, 0), False),
    "J": (1.0, (0, 0, 1), False),
    "W": (1.0, (0, -1, 1), False),
    "FLOP": (1.0, (0, 0, 0), False),
    "FLOPs": (1.0, (0, 0, 0), False),
    "MAC": (1.0, (0, 0, 0), False),
    "MACs": (1.0, (0, 0, 0), False),
    "op": (1.0, (0, 0, 0), False),
    "ops": (1.0, (0, 0, 0), False),
    "IO": (1.0, (0, 0, 0), False),
    "row": (1.0, (0, 0, 0), False),
    "rows": (1.0, (0, 0, 0), False),
    "lookup": (1.0, (0, 0, 0), False),
    "lookups": (1.0, (0, 0, 0), False),
    "cycle": (1.0, (0, 0, 0), False),
    "cycles": (1.0, (0, 0, 0), False),
    # rates written as one word
    "FLOPS": (1.0, (0, -1, 0), False),
    "OPS": (1.0, (0, -1, 0), False),
    "IOPS": (1.0, (0, -1, 0), False),
    "MT": (1e6, (0, 0, 0), False),  # mega-transfers, as in "4800 MT/s"
}
_SI = {"": 1.0, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "m": 1e-3,
       "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY = {"Ki": 2.0**10, "Mi": 2.0**20, "Gi": 2.0**30, "Ti": 2.0**40, "Pi": 2.0**50}

# kind: (dimension, divisor from base value to the canonical unit, example)
KINDS = {
    "bytes": ((1, 0, 0), 1.0, "4 GiB"),
    "bandwidth": ((1, -1, 0), 1.0, "19.2 GB/s"),
    "time": ((0, 1, 0), 1.0, "75 us"),
    "frequency": ((0, -1, 0), 1.0, "1.2 GHz"),
    "rate": ((0, -1, 0), 1.0, "19.5 TFLOP/s"),
    "energy": ((0, 0, 1), 1.0, "4.5 pJ"),
    "energy_per_bit": ((-1, 0, 1), 8.0, "3.9 pJ/bit"),  # J/B divided by 8 -> J/bit
    "energy_per_byte": ((-1, 0, 1), 1.0, "31.2 pJ/B"),
    "power": ((0, -1, 1), 1.0, "25 W"),
    "count": ((0, 0, 0), 1.0, "32"),
}

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class UnitError(ValueError):
    """A unit string that cannot be read, or has the wrong dimension."""


def _atom(text):
    """Factor and dimension of one unit word with an optional prefix."""
    if text in _ATOMS:
        f, dim, _ = _ATOMS[text]
        return f, dim
    for table in (_BINARY, _SI):
        for prefix, scale in table.items():
            if prefix and text.startswith(prefix) and text[len(prefix):] in _ATOMS:
                f, dim, binary_ok = _ATOMS[text[len(prefix):]]
                if table is _BINARY and not binary_ok:
                    break
                return scale * f, dim
    raise UnitError(f"unknown unit '{text}'")


def _unit(text):
    """Factor and dimension of a unit expression such as 'GB/s' or 'pJ/bit'."""
    if text == "":
        return 1.0, (0, 0, 0)
    num, _, den = text.partition("/")
    f, dim = _atom(num.strip()) if num.strip() else (1.0, (0, 0, 0))
    if den:
        fd, dd = _atom(den.strip())
        f, dim = f / fd, tuple(a - b for a, b in zip(dim, dd))
    return f, dim


def parse(value, kind):
    """Return ``value`` in the canonical SI unit of ``kind``.

    ``value`` is a number (taken as already in SI units) or a string with a
    unit.  Raises UnitError with a message saying what was expected.
    """
    if kind not in KINDS:
        raise KeyError(f"unknown quantity kind {kind!r}")
    dim, divisor, example = KINDS[kind]
    if isinstance(value, bool):
        raise UnitError(f"expected a {kind.replace('_', ' ')} such as '{example}', got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        m = _NUMBER.match(value)
        if not m:
            raise UnitError(f"expected a {kind.replace('_', ' ')} such as '{example}', got {value!r}")
        try:
            factor, got = _unit(m.group(2))
        except UnitError as e:
            raise UnitError(f"{e} in {value!r} (expected a {kind.replace('_', ' ')} such as '{example}')") from None
        if got != dim:
            raise UnitError(f"{value!r} is not a {kind.replace('_', ' ')} (expected something like '{example}')")
        number = float(m.group(1)) * factor / divisor
    else:
        raise UnitError(f"expected a {kind.replace('_', ' ')} such as '{example}', got {value!r}")
    if not math.isfinite(number):
        raise UnitError(f"expected a finite {kind.replace('_', ' ')}, got {value!r}")
    return number


_DISPLAY = {
    "bytes": [(2.0**40, "TiB"), (2.0**30, "GiB"), (2.0**20, "MiB"), (2.0**10, "KiB"), (1, "B")],
    "bandwidth": [(1e12, "TB/s"), (1e9, "GB/s"), (1e6, "MB/s"), (1e3, "kB/s"), (1, "B/s")],
    "time": [(1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns"), (1e-12, "ps")],
    "frequency": [(1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz"), (1, "Hz")],
    "rate": [(1e12, "T/s"), (1e9, "G/s"), (1e6, "M/s"), (1e3, "k/s"), (1, "/s")],
    "energy": [(1, "J"), (1e-3, "mJ"), (1e-6, "uJ"), (1e-9, "nJ"), (1e-12, "pJ"), (1e-15, "fJ")],
    "energy_per_bit": [(1e-12, "pJ/bit"), (1e-15, "fJ/bit")],
    "energy_per_byte": [(1e-12, "pJ/B")],
    "power": [(1e3, "kW"), (1, "W"), (1e-3, "mW")],
    "count": [(1, "")],
}


def format_quantity(value, kind, digits=4):
    """Human-readable string for a value in canonical units: 3.2e10 -> '32 GB/s'."""
    scales = _DISPLAY[kind]
    for scale, name in scales:
        if abs(value) >= scale or scale == scales[-1][0]:
            text = f"{value / scale:.{digits}g}"
            return f"{text} {name}".strip()
    return f"{value:g}"
