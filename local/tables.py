"""Reading DynamoDB tables back (the demo, the bench and the tests)."""

from __future__ import annotations

from typing import Any


def scan(ddb: Any, table: str, attribute: str | None = None, prefix: str = "") -> list[dict]:
    """Every item of ``table`` (all pages), or those whose string ``attribute`` starts with ``prefix``.

    The prefix is applied here, not as a FilterExpression: a filtered scan of the emulator
    under-counted once on CI, and a plain scan reads the same pages anyway.
    """
    items: list[dict] = []
    kwargs: dict = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if attribute is None:
        return items
    return [i for i in items if i.get(attribute, {}).get("S", "").startswith(prefix)]
