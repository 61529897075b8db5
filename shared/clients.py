"""AWS clients created once per process.

Made with botocore directly: boto3 adds nothing our code uses (resources, managed transfers)
and importing it loads s3transfer, a good part of a handler's import time. botocore honours
``AWS_ENDPOINT_URL`` (and ``AWS_ENDPOINT_URL_<SERVICE>``) natively, so the same code talks to
AWS, LocalStack or the embedded emulator depending on the environment.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5})


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def client(service: str) -> Any:
    """Return the process-wide client for ``service``."""
    return _session().create_client(service, config=_CONFIG)


def conditional_check_failed(exc: ClientError) -> bool:
    """DynamoDB refused a write because its ConditionExpression was false."""
    return bool(exc.response["Error"]["Code"] == "ConditionalCheckFailedException")


def precondition_failed(exc: ClientError) -> bool:
    """S3 refused a conditional write (If-Match / If-None-Match): another writer got there first."""
    return exc.response["Error"]["Code"] in ("PreconditionFailed", "ConditionalRequestConflict")


def reset() -> None:
    """Forget cached clients (tests switch endpoints/credentials between cases)."""
    client.cache_clear()
    _session.cache_clear()
