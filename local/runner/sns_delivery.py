"""SNS subscriptions of protocol lambda: the emulator hands each delivery to ``deliver``, which
makes it an asynchronous invocation with the SNS event, as SNS does."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from local.runner.async_invocations import AsyncInvocations
from local.runner.pool import FunctionPool, resolve

log = logging.getLogger("local-runner")


def deliver(pools: Mapping[str, FunctionPool], invocations: AsyncInvocations, endpoint: str, event: dict) -> None:
    """An SNS delivery to a Lambda subscription (``endpoint``: the function's ARN); one to a
    function the runner does not run is dropped with a warning."""
    try:
        name = resolve(pools, endpoint)
    except KeyError:
        log.warning("SNS delivery to unknown function %s dropped", endpoint)
        return
    invocations.put(name, event)
