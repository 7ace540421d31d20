"""Errors that carry a message meant for the user.

Everything the user can get wrong (a file, a column, a formula, a parameter)
raises :class:`InputError` or a subclass; the CLI turns it into exit status 2
with the message on stderr, the GUI into a message in the window.
"""


class InputError(ValueError):
    """Bad input from the user: the message names what is wrong and where."""


class FormulaError(InputError):
    """A formula the parser or checker refused.

    ``position`` is the 0-based character offset in ``text`` of the problem
    (or None when the problem is not at one place).
    """

    def __init__(self, message: str, text: str = "", position: int | None = None):
        self.text = text
        self.position = position
        self.reason = message
        if position is not None and text:
            pointer = " " * position + "^"
            message = f"{message} (at character {position + 1})\n  {text}\n  {pointer}"
        super().__init__(message)


class ParameterError(InputError):
    """A parameter setting that cannot be used (min > max, start outside bounds...)."""
