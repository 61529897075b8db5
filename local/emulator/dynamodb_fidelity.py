"""DynamoDB's atomic conditional writes, which moto lacks under concurrent requests."""

from __future__ import annotations

from typing import Any

from local.emulator.write_locks import write_locks


def table_lock_name(account_id: str, region: str, table_name: str) -> tuple[str, ...]:
    """The ``write_locks`` name of a DynamoDB table."""
    return ("dynamodb", account_id, region, table_name)


def atomic_dynamodb_writes() -> None:
    """DynamoDB evaluates a write's condition (ConditionExpression, Expected) and applies the
    write atomically: of concurrent conditional writes to one item, each sees the others'
    results. moto reads the item, checks the condition and writes without a lock, and the
    emulator serves requests on many threads: of 12 concurrent PutItems with
    attribute_not_exists(pk), or UpdateItems conditioned on the same old value, two to five
    succeeded.
    Every write request (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems)
    holds its tables' locks from its first read (ReturnValues included) to its response, so an
    unconditional write cannot land between another request's check and its write either, and
    a transaction's rollback cannot undo a concurrent write. Reads take no lock."""
    from moto.dynamodb.exceptions import ResourceNotFoundException
    from moto.dynamodb.responses import DynamoHandler

    def table_names(body: dict) -> list[Any]:
        if "TransactItems" in body:
            ops = [op for item in body["TransactItems"] or [] if isinstance(item, dict) for op in item.values()]
            return [op.get("TableName") for op in ops if isinstance(op, dict)]
        if "RequestItems" in body:
            return list(body["RequestItems"] or {})
        return [body.get("TableName")]

    def locked(action: Any) -> Any:
        def call(self: Any) -> Any:
            backend = self.dynamodb_backend
            names = []
            for name in table_names(self.body):
                try:  # a table's name or ARN: lock by name
                    name = backend.get_table(name).name
                except ResourceNotFoundException:
                    pass  # the action reports it
                names.append(table_lock_name(backend.account_id, backend.region_name, str(name)))
            with write_locks(names):
                return action(self)

        return call

    for action in ("put_item", "update_item", "delete_item", "batch_write_item", "transact_write_items"):
        setattr(DynamoHandler, action, locked(getattr(DynamoHandler, action)))
