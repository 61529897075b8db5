"""Reading a function's configuration from its environment, once, at import.

Terraform sets every variable a function reads (the values, and their defaults, live there),
so none has a default here: a missing or malformed one raises ConfigError, and the cold start
stops with its one-line message naming the variable.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping


class ConfigError(ValueError):
    """A variable of the function's environment is missing or malformed (the message names it)."""


def text(environ: Mapping[str, str], name: str, *, empty: bool = False) -> str:
    """The value of ``name``; an empty value only where ``empty`` says it means something."""
    value = environ.get(name)
    if value is None:
        raise ConfigError(f"{name} is not set")
    if not value and not empty:
        raise ConfigError(f"{name} is empty")
    return value


def integer(environ: Mapping[str, str], name: str, *, minimum: int | None = None) -> int:
    raw = text(environ, name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def choice(environ: Mapping[str, str], name: str, options: Collection[str]) -> str:
    value = text(environ, name)
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(sorted(options))}, got {value!r}")
    return value
