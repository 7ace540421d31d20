"""The library's names: look-up, listing, and specs such as "gaussian+gaussian+line".

Library model classes register themselves when they are defined
(:mod:`lsqfit_app.models.library`); importing the family modules below defines
them.  :data:`LIBRARY` is a live, read-only view of what is registered,
ordered family by family as in the design document (line and the polynomials,
growth and decay, peaks, sigmoids, periodic), then any model defined
elsewhere in the order it was defined.  A spec is a library name or a sum of
names joined by "+" (case and spaces ignored); a sum becomes a
:class:`~lsqfit_app.models.composite.SumModel`.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping

from lsqfit_app.core.errors import InputError
from lsqfit_app.core.model import Model
from lsqfit_app.models import growth, peaks, periodic, polynomials, sigmoids
from lsqfit_app.models.composite import SumModel
from lsqfit_app.models.library import REGISTERED, LibraryModel

#: the family modules, in the order their models are listed
FAMILIES = (polynomials, growth, peaks, sigmoids, periodic)
_FAMILY_RANK = {module.__name__: rank for rank, module in enumerate(FAMILIES)}


class _Library(Mapping):
    """name -> model class (call it to get a model) of every registered library model."""

    def __getitem__(self, name: str) -> type[LibraryModel]:
        return REGISTERED[name]

    def __iter__(self) -> Iterator[str]:
        order = {name: i for i, name in enumerate(REGISTERED)}
        return iter(sorted(REGISTERED, key=lambda name: (
            _FAMILY_RANK.get(REGISTERED[name].__module__, len(FAMILIES)), order[name])))

    def __len__(self) -> int:
        return len(REGISTERED)

    def __repr__(self) -> str:
        return f"LIBRARY({', '.join(self)})"


#: name -> model class, in the order of the design document
LIBRARY: Mapping[str, type[LibraryModel]] = _Library()


class UnknownModelError(InputError, KeyError):
    """No library model has this name.  A KeyError for lookups, an InputError for users."""

    # KeyError would print the message with quotes around it.
    __str__ = Exception.__str__


def _unknown(name: str) -> UnknownModelError:
    close = difflib.get_close_matches(name.lower(), list(LIBRARY), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return UnknownModelError(
        f"unknown model {name!r}.{hint} Library models: {', '.join(LIBRARY)}; "
        "sums such as 'gaussian+line' are allowed")


def get_library_model(name: str) -> LibraryModel:
    """The library model called ``name`` (case and surrounding spaces ignored).

    Raises
    ------
    UnknownModelError
        (an InputError and a KeyError) naming the library models and the closest one.
    """
    key = name.strip().lower()
    try:
        cls = LIBRARY[key]
    except KeyError:
        raise _unknown(name.strip()) from None
    return cls()


def list_library_models() -> list[LibraryModel]:
    """One instance of every library model, in registry order."""
    return [cls() for cls in LIBRARY.values()]


def _spec_parts(text: str) -> list[str]:
    return [part.strip().lower() for part in text.split("+")]


def is_library_spec(text: str) -> bool:
    """True for a library model name or a '+'-sum of names ("gaussian + line")."""
    if not isinstance(text, str) or not text.strip():
        return False
    return all(part in LIBRARY for part in _spec_parts(text))


def library_model_from_spec(text: str) -> Model:
    """The model for a name ("gaussian") or a sum of names ("gaussian+gaussian+line").

    Raises
    ------
    InputError
        for an empty component; UnknownModelError for an unknown name.
    """
    parts = _spec_parts(text)
    if any(not part for part in parts):
        raise InputError(f"model {text!r}: empty name in a sum of models "
                         "(write names joined by '+', e.g. 'gaussian+line')")
    models = [get_library_model(part) for part in parts]
    if len(models) == 1:
        return models[0]
    return SumModel(models)
