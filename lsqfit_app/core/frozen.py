"""Frozen dataclass instances built without their generated ``__init__``.

A frozen dataclass's ``__init__`` sets each field through
``object.__setattr__``.  A small fit builds some 80 fields across its
problem, parameters and result, and setting them one by one is a
measurable share of it (benchmark (a)); filling ``__dict__`` at once gives
the same object.
"""
from __future__ import annotations

import functools
from dataclasses import fields


def frozen_instance(cls, /, **values):
    """``cls(**values)`` for a frozen dataclass without ``__post_init__``, given every field.

    Defaults are not filled in, so every field must be given (and no other
    name): a mismatch raises TypeError, as the ``__init__`` would.
    """
    if values.keys() != _field_names(cls):
        missing = sorted(_field_names(cls) - values.keys())
        unknown = sorted(values.keys() - _field_names(cls))
        raise TypeError(f"{cls.__name__}: fields missing {missing}, unknown {unknown}")
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


@functools.cache
def _field_names(cls) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))
