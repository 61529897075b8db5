"""boto3 clients created once per process.

boto3 honours ``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) natively, so the
same code talks to AWS, LocalStack or the embedded emulator depending on the environment.
"""

from __future__ import annotations

import functools
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@functools.cache
def client(service: str) -> Any:
    """Return the process-wide boto3 client for ``service``."""
    return boto3.session.Session().client(service, config=_CONFIG)


def reset() -> None:
    """Forget cached clients (tests switch endpoints/credentials between cases)."""
    client.cache_clear()
