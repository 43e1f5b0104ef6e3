"""Build PuLP rows from (variable, coefficient) pairs in one go.

PuLP's operators (``a * x + b * y <= M``, ``lpSum``) copy an expression per
term: on the 856-table, 64-GPU instance building the decomposed MIPs that way
took longer than solving them.  :func:`expr` makes one
``LpAffineExpression`` from a list of pairs (a variable named twice has its
coefficients summed) and :func:`add_row` one ``LpConstraint`` from it, so a
model costs one dict operation per term.

    add_row(prob, [(x, 2.0), (y, 1.0), (M, -1.0)], "<=", 0.0, "time_0")   # 2x + y - M <= 0
"""
from __future__ import annotations

import pulp

SENSES = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}


def expr(pairs, constant: float = 0.0) -> pulp.LpAffineExpression:
    """sum(coef * var for var, coef in pairs) + constant."""
    terms: dict = {}
    for v, c in pairs:
        terms[v] = terms.get(v, 0.0) + c
    return pulp.LpAffineExpression(terms, constant=constant)


def add_row(prob: pulp.LpProblem, pairs, sense: str, rhs: float, name: str | None = None) -> pulp.LpConstraint:
    """Add ``sum(coef * var) <sense> rhs`` to ``prob`` and return it."""
    row = pulp.LpConstraint(expr(pairs), SENSES[sense], name=name, rhs=float(rhs))
    prob.addConstraint(row)
    return row


__all__ = ["expr", "add_row"]
