"""Fit parameters: start value, fixed flag and bounds.

Parameters are immutable; ``fit`` copies the settings it was given and never
changes them, so a GUI can keep editing its own copy while a fit runs.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from lsqfit_app.core.errors import ParameterError


@dataclass(frozen=True)
class Parameter:
    """One model parameter as the user set it up.

    ``value`` None means "no start value given": the engine guesses one.
    """

    name: str
    value: float | None = None
    fixed: bool = False
    min: float = -math.inf
    max: float = math.inf

    def with_value(self, value: float | None) -> "Parameter":
        return replace(self, value=value)

    def validate(self) -> None:
        """Raise ParameterError when the settings contradict each other."""
        if math.isnan(self.min) or math.isnan(self.max):
            raise ParameterError(f"parameter {self.name}: a bound is NaN")
        if self.min > self.max:
            raise ParameterError(
                f"parameter {self.name}: min {self.min:g} is greater than max {self.max:g}")
        if self.value is not None:
            if not math.isfinite(self.value):
                raise ParameterError(f"parameter {self.name}: start value {self.value} is not finite")
            if not (self.min <= self.value <= self.max):
                raise ParameterError(
                    f"parameter {self.name}: start value {self.value:g} is outside its bounds "
                    f"[{self.min:g}, {self.max:g}]")
        if self.fixed and self.value is None:
            raise ParameterError(f"parameter {self.name}: fixed but no value given")

    @property
    def bounded(self) -> bool:
        return math.isfinite(self.min) or math.isfinite(self.max)
