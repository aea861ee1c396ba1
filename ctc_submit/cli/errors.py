"""Turn user-input errors into one clean line and a non-zero exit."""

from __future__ import annotations

import functools
from typing import Callable, TypeVar

import click

from ctc_submit.io import CTCInputError

F = TypeVar("F", bound=Callable)


class InputError(click.ClickException):
    """Bad input from the user: exit code 2, like click's own usage errors."""

    exit_code = 2


def user_errors(function: F) -> F:
    """Report :class:`CTCInputError` as ``Error: ...`` with exit code 2 instead of a traceback."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except CTCInputError as error:
            raise InputError(str(error)) from None

    return wrapper  # type: ignore[return-value]
