"""A Powertools BatchProcessor that hands the record handler all records of one group.

Standard ``BatchProcessor`` calls the handler once per record. When several records
touch the same object (one user's S3 document), calling it once per *group* lets one
read-modify-write serve them all. Results are still reported per record, so Powertools'
``process_partial_response`` builds the usual ``batchItemFailures`` from it.

Ordering rule: on a FIFO queue, once a record of a group fails every later record of that
group in the batch fails too (as ``SqsFifoPartialProcessor(skip_group_on_error=True)``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType


class GroupFailure(Exception):
    """Raised by a group handler to fail only some records of a group.

    ``failed`` maps a record's position within the group to the exception for it.
    """

    def __init__(self, failed: dict[int, BaseException]):
        super().__init__(f"{len(failed)} record(s) of the group failed")
        self.failed = failed


class GroupedBatchProcessor(BatchProcessor):
    def __init__(
        self,
        event_type: EventType,
        group_key: Callable[[Any], str],
        model: Any = None,
        fifo: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(event_type=event_type, model=model, **kwargs)
        self.group_key = group_key
        self.fifo = fifo

    def _raw_group(self, record: dict) -> str | None:
        """FIFO records carry their group in attributes even when the body is unparsable."""
        return (record.get("attributes") or {}).get("MessageGroupId")

    def process(self) -> list[tuple]:
        results: list[tuple] = []
        groups: dict[str, list[tuple[dict, Any]]] = {}
        poisoned: set[str] = set()
        for raw in self.records:
            key = self._raw_group(raw) if self.fifo else None
            if key is not None and key in poisoned:
                results.append(self._fail(raw, RuntimeError(f"earlier record of FIFO group {key} failed")))
                continue
            try:
                data = self._to_batch_type(record=raw, event_type=self.event_type, model=self.model)
                key = self.group_key(data)
            except Exception as exc:  # parse/validation failure: this record only
                results.append(self._fail(raw, exc))
                if key is not None:
                    poisoned.add(key)
                continue
            groups.setdefault(key, []).append((raw, data))

        for key, members in groups.items():
            try:
                outcome = self.handler([data for _, data in members])
                failed: dict[int, BaseException] = {}
            except GroupFailure as exc:
                outcome, failed = None, exc.failed
            except Exception as exc:
                outcome, failed = None, {i: exc for i in range(len(members))}
            first_failure = min(failed) if failed else None
            for i, (raw, _) in enumerate(members):
                if i in failed:
                    results.append(self._fail(raw, failed[i]))
                elif self.fifo and first_failure is not None and i > first_failure:
                    results.append(self._fail(raw, RuntimeError(f"earlier record of FIFO group {key} failed")))
                else:
                    results.append(self.success_handler(record=raw, result=outcome))
        return results

    def _fail(self, raw: dict, exc: BaseException) -> tuple:
        try:
            raise exc
        except BaseException:
            record = self._to_batch_type(record=raw, event_type=self.event_type)
            return self.failure_handler(record=record, exception=sys.exc_info())
