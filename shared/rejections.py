"""Requests a function refuses: logged with their reason and counted, then raised to the caller.

A synchronous caller gets the error (the field named, nothing sent); the function's log gets
one JSON line with the reason, and CloudWatch a ``RequestsRejected`` count. The count also
keeps Powertools' ``log_metrics`` from finding no metric to publish (it would print a plain
text warning, the one line of the log that is not JSON).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError


def problems(exc: ValidationError) -> str:
    """Every problem of a validation, each as ``field.path: message``, joined by ``; ``."""
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


@contextmanager
def rejections(logger: Logger, metrics: Metrics, *refused: type[Exception] | str) -> Iterator[None]:
    """Inside: the exceptions ``refused`` (the caller's fault) are logged, counted and re-raised.

    A name (a string) matches an exception class by its name: for classes of modules the function
    imports only when it needs them (Powertools' idempotency, say), which must stay unimported.
    """
    classes = tuple(kind for kind in refused if isinstance(kind, type))
    names = {kind for kind in refused if isinstance(kind, str)}
    try:
        yield
    except Exception as exc:
        if not isinstance(exc, classes) and type(exc).__name__ not in names:
            raise
        logger.warning("request rejected", extra={"reason": str(exc), "error_type": type(exc).__name__})
        metrics.add_metric(name="RequestsRejected", unit=MetricUnit.Count, value=1)
        raise
