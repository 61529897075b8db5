"""Where moto's S3 differs from S3, corrected: atomic conditional writes, and bucket policy
statements with a Condition (which moto cannot evaluate) left out."""

from __future__ import annotations

import json
from typing import Any

from local.emulator.write_locks import write_locks


def atomic_s3_writes() -> None:
    """S3 checks a conditional PutObject (If-None-Match: *, If-Match: <etag>) against the
    object it replaces atomically: of concurrent conditional writes to one key, one succeeds
    and the others get 412 PreconditionFailed. moto reads the object, checks the condition and
    stores without a lock: of 12 concurrent PutObjects with If-None-Match: * on a new key, or
    with If-Match on the same ETag, two or three succeeded (and a replaced object's buffer could be
    closed under a request still answering with it: a 500). Every write to a bucket's objects
    (PUT, POST and DELETE on a key -- so also CompleteMultipartUpload with If-None-Match and
    DeleteObject with If-Match -- and DeleteObjects) holds that bucket's lock from its check
    to its response; GET and HEAD take none."""
    from moto.s3.responses import S3Response

    key_response, bucket_post = S3Response._key_response, S3Response._bucket_response_post

    def _key_response(self: Any, request: Any, full_url: str) -> Any:
        if request.method not in ("PUT", "POST", "DELETE"):
            return key_response(self, request, full_url)
        with write_locks([("s3", self.bucket_name)]):
            return key_response(self, request, full_url)

    def _bucket_response_post(self: Any, request: Any, bucket_name: str) -> Any:
        with write_locks([("s3", bucket_name)]):
            return bucket_post(self, request, bucket_name)

    S3Response._key_response = _key_response  # type: ignore[method-assign]
    S3Response._bucket_response_post = _bucket_response_post  # type: ignore[method-assign]


def conditional_bucket_policy_statements() -> None:
    """moto ignores Condition blocks, so a TLS-only Deny (aws:SecureTransport=false) denies
    everything. Requests to the emulator stand for TLS requests to AWS: statements with a
    Condition are left out of moto's evaluation."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(self: Any, action: str, resource: str) -> Any:
        if self.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(self.policy)
        statements = policy.get("Statement", [])
        statements = [statements] if isinstance(statements, dict) else statements
        policy["Statement"] = [st for st in statements if "Condition" not in st]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]
