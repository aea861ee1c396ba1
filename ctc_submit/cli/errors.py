"""Turn user-input errors into one clean line and a non-zero exit."""

from __future__ import annotations

import functools
import signal
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
            raise InputError(str(error) + option_hint(error.option)) from None

    return wrapper  # type: ignore[return-value]


def option_hint(option: str | None) -> str:
    """`` [--flag]``: the current command's option for the parameter an error names, if it has one."""
    context = click.get_current_context(silent=True)
    if option is None or context is None:
        return ""
    flags = [
        param.opts[0]
        for param in context.command.params
        if isinstance(param, click.Option)
        and option in (param.name, *(flag.lstrip("-").replace("-", "_") for flag in param.opts))
    ]
    return f" [{flags[0]}]" if flags else ""


class Interrupted(KeyboardInterrupt):
    """A termination signal turned into an exception, so that every with-block cleans up on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_interrupted(signum: int, frame) -> None:
    raise Interrupted(signum)


def interruptible(function: F) -> F:
    """Ctrl-C, SIGTERM and SIGHUP (a closed terminal) end the command like an error would: temporary
    output and child processes removed on the way out, then one line and the conventional status 128+N."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        handled = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
        previous = {signum: signal.signal(signum, _raise_interrupted) for signum in handled}
        try:
            return function(*args, **kwargs)
        except KeyboardInterrupt as error:
            signum = getattr(error, "signum", signal.SIGINT)
            click.echo(f"Aborted: interrupted by {signal.Signals(signum).name}; unfinished output removed", err=True)
            raise click.exceptions.Exit(128 + signum) from None
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)

    return wrapper  # type: ignore[return-value]
