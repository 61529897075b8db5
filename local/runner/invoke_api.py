"""The Lambda Invoke API as Lambda answers it (served by the emulator): refusals first (unknown
function, invocation type, payload quotas, a body that is not JSON; nothing runs), then
RequestResponse runs and answers, Event is queued, DryRun only checks."""

from __future__ import annotations

import json
from collections.abc import Mapping

from local.runner.async_invocations import AsyncInvocations
from local.runner.pool import FunctionPool, resolve
from local.runner.worker import InvocationResult

# AWS Lambda quotas (docs: API_Invoke): payload of a synchronous invocation <= 6 MB (request
# and response), of an asynchronous one <= 1 MB. moto would accept anything; AWS refuses.
SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024
ASYNC_PAYLOAD_LIMIT = 1024 * 1024

Answer = tuple[int, dict[str, str], bytes]  # status, headers, body


def api_error(status: int, kind: str, message: str) -> Answer:
    """An error of the Lambda API itself (rest-json: the type in x-amzn-ErrorType, the message in the body)."""
    headers = {"x-amzn-ErrorType": kind, "Content-Type": "application/json"}
    return status, headers, json.dumps({"Type": "User", "message": message}).encode()


def handle_invoke(
    pools: Mapping[str, FunctionPool], invocations: AsyncInvocations, name_or_arn: str, kind: str, body: bytes
) -> Answer:
    """One Invoke request of ``kind`` (X-Amz-Invocation-Type) with ``body`` as the payload."""
    try:
        name = resolve(pools, name_or_arn)
    except KeyError:
        arn = name_or_arn if name_or_arn.startswith("arn:") else f"function:{name_or_arn}"
        return api_error(404, "ResourceNotFoundException", f"Function not found: {arn}")
    if kind not in ("RequestResponse", "Event", "DryRun"):
        return api_error(400, "InvalidParameterValueException", f"Unsupported invocation type: {kind}")
    limit = ASYNC_PAYLOAD_LIMIT if kind == "Event" else SYNC_PAYLOAD_LIMIT
    if len(body) > limit:
        return api_error(
            413,
            "RequestEntityTooLargeException",
            f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        )
    try:
        event = json.loads(body) if body else {}
    except (ValueError, UnicodeDecodeError) as exc:
        return api_error(
            400,
            "InvalidRequestContentException",
            f"Could not parse request body into json: Could not parse payload into json: {exc}",
        )
    if kind == "DryRun":
        return 204, {}, b""
    if kind == "Event":
        invocations.put(name, event)
        return 202, {}, b""
    return _answer(pools[name].invoke(event))


def _answer(result: InvocationResult) -> Answer:
    """A RequestResponse invocation's answer: the payload, or the function's error (a response
    over the quota is one)."""
    headers = {"X-Amz-Executed-Version": "$LATEST", "Content-Type": "application/json"}
    if result.ok:
        payload = json.dumps(result.payload).encode()
        if len(payload) <= SYNC_PAYLOAD_LIMIT:
            return 200, headers, payload
        result = InvocationResult(
            False,
            error={
                "errorMessage": f"Response payload size ({len(payload)} bytes) exceeded maximum allowed"
                f" payload size ({SYNC_PAYLOAD_LIMIT} bytes).",
                "errorType": "Function.ResponseSizeTooLarge",
            },
        )
    return 200, {**headers, "X-Amz-Function-Error": "Unhandled"}, json.dumps(result.error).encode()
