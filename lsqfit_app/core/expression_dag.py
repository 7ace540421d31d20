"""Walks over formula trees as graphs of shared nodes: evaluation and pickling.

A model and its derivatives share most of their nodes (``exp(-x/tau)`` appears
in f and in df/da), and the nodes of :mod:`lsqfit_app.core.expression` are
interned, so a set of trees is a directed acyclic graph.  The walks here visit
each distinct node once, children first, without recursion (deep formulas must
not hit the recursion limit):

* :class:`Program` evaluates several trees in one pass with numpy;
* :func:`flatten` / :func:`rebuild` give a tree a flat, picklable form.

They know the nodes only through this interface: ``children``; ``ufunc`` (the
numpy ufunc of an operator or function node); for leaves, ``is_constant`` with
``value``, or ``name`` (a variable); ``_key``, the fields a node is interned
by, whose non-node entries come first in its constructor's arguments and its
children last (``Const(value, symbol)``, ``Func(name, arg)``, ``Add(left, right)``).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from lsqfit_app.core.errors import FormulaError


def topological(roots: Sequence) -> list:
    """The distinct nodes under ``roots``, each after its children."""
    order: list = []
    seen: set[int] = set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, expanded = stack.pop()
            if id(node) in seen:
                continue
            if expanded or not node.children:
                seen.add(id(node))
                order.append(node)
                continue
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children) if id(c) not in seen)
    return order


def flatten(root) -> tuple:
    """``root`` as a table of (node type, fields, child indices), children first.

    Pickling goes through this table rather than nested constructor calls:
    pickle recurses once per level, and derivative trees can be deeper than
    its limit allows.
    """
    index: dict[int, int] = {}
    table = []
    for node in topological([root]):
        fields = node._key[:len(node._key) - len(node.children)]
        table.append((type(node), fields, tuple(index[id(c)] for c in node.children)))
        index[id(node)] = len(table) - 1
    return tuple(table)


def rebuild(table: tuple):
    """Inverse of :func:`flatten` (interning returns the live nodes, if any)."""
    nodes: list = []
    for node_type, fields, children in table:
        nodes.append(node_type(*fields, *(nodes[i] for i in children)))
    return nodes[-1]


class Program:
    """Evaluate several expressions in one pass over their shared nodes.

    The distinct nodes are put in topological order once; each call then fills
    a list of values slot by slot, so a node shared between the model and its
    derivatives is computed once per call.  Floating-point warnings are
    silenced: results may hold nan or inf, which callers check.

    Parameters
    ----------
    roots : sequence of Expression
        The expressions to evaluate; :meth:`run` returns their values in order.
    """

    def __init__(self, roots: Sequence):
        order = topological(roots)
        leaves = [node for node in order if not node.children]
        consts = [node for node in leaves if node.is_constant]
        variables = [node for node in leaves if not node.is_constant]
        ops = [node for node in order if node.children]
        # Slots: the constants, then the names' values, then one per operation.
        slot_of = {id(node): i for i, node in enumerate((*consts, *variables, *ops))}
        self.names: tuple[str, ...] = tuple(v.name for v in variables)
        self._consts = [c.value for c in consts]
        self._ops = []
        for node in ops:
            kids = node.children
            self._ops.append((node.ufunc, slot_of[id(kids[0])],
                              slot_of[id(kids[1])] if len(kids) == 2 else -1))
        self._roots = [slot_of[id(r)] for r in roots]
        self.size = len(slot_of)

    def run(self, env: Mapping[str, float | np.ndarray]) -> list:
        """Values of the roots for the names in ``env``."""
        values = list(self._consts)
        try:
            values.extend([env[name] for name in self.names])
        except KeyError as exc:
            raise FormulaError(f"no value given for {exc.args[0]!r}") from None
        append = values.append
        with np.errstate(all="ignore"):
            for f, a, b in self._ops:
                append(f(values[a]) if b < 0 else f(values[a], values[b]))
        return [values[i] for i in self._roots]
