"""A Powertools BatchProcessor that hands the record handler all records of one group.

Standard ``BatchProcessor`` calls the handler once per record. When several records
touch the same object (one user's S3 document), calling it once per *group* lets one
read-modify-write serve them all. Results are still reported per record, so Powertools'
``process_partial_response`` builds the usual ``batchItemFailures`` from it.

Built on the hooks Powertools documents for custom processors: ``_prepare`` resets the
groups, ``_process_record`` parses one record into its group, ``process`` then calls the
handler once per group, and every record is reported through ``success_handler`` /
``failure_handler`` (the partial response and the all-failed error are Powertools' own).

Ordering rule: on a FIFO queue, once a record of a group fails every later record of that
group in the batch fails too (as ``SqsFifoPartialProcessor(skip_group_on_error=True)``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord


class GroupFailure(Exception):
    """Raised by a group handler to fail only some records of a group.

    ``failed`` maps a record's position within the group to the exception for it.
    """

    def __init__(self, failed: dict[int, BaseException]):
        super().__init__(f"{len(failed)} record(s) of the group failed")
        self.failed = failed


class GroupedBatchProcessor(BatchProcessor):
    """SQS records, grouped by ``group_key`` of each parsed record (``model``, else Powertools' SQSRecord)."""

    def __init__(
        self,
        event_type: EventType,
        group_key: Callable[[Any], str],
        model: Any = None,
        fifo: bool = False,
        **kwargs: Any,
    ) -> None:
        if event_type is not EventType.SQS:
            raise ValueError("GroupedBatchProcessor processes SQS records")
        super().__init__(event_type=event_type, model=model, **kwargs)
        self.group_key = group_key
        self.fifo = fifo
        self.groups: dict[str, list[tuple[dict, Any]]] = {}
        self.poisoned: set[str] = set()

    def _prepare(self) -> None:
        super()._prepare()
        self.groups, self.poisoned = {}, set()

    def _process_record(self, record: dict) -> tuple | None:  # type: ignore[override]
        """Parse ``record`` into its group; a record that cannot be parsed (or follows a failed one
        of its FIFO group) fails here, alone. Returns its outcome if it has one already."""
        key = (record.get("attributes") or {}).get("MessageGroupId") if self.fifo else None
        if key is not None and key in self.poisoned:
            return self._fail(record, RuntimeError(f"earlier record of FIFO group {key} failed"))
        try:
            data = self.model.model_validate(record) if self.model is not None else SQSRecord(record)
            key = self.group_key(data)
        except Exception as exc:  # parse/validation failure: this record only
            if key is not None:
                self.poisoned.add(key)
            return self._fail(record, exc)
        self.groups.setdefault(key, []).append((record, data))
        return None

    def process(self) -> list[tuple]:
        """Parse every record into its group, then call the handler once per group, in order."""
        results = [outcome for outcome in super().process() if outcome is not None]
        for key, members in self.groups.items():
            results += self._run_group(key, members)
        return results

    def _run_group(self, key: str, members: list[tuple[dict, Any]]) -> list[tuple]:
        try:
            outcome = self.handler([data for _, data in members])
            failed: dict[int, BaseException] = {}
        except GroupFailure as exc:
            outcome, failed = None, exc.failed
        except Exception as exc:
            outcome, failed = None, {i: exc for i in range(len(members))}
        first_failure = min(failed) if failed else None
        results = []
        for i, (raw, _) in enumerate(members):
            if i in failed:
                results.append(self._fail(raw, failed[i]))
            elif self.fifo and first_failure is not None and i > first_failure:
                results.append(self._fail(raw, RuntimeError(f"earlier record of FIFO group {key} failed")))
            else:
                results.append(self.success_handler(record=raw, result=outcome))
        return results

    def _fail(self, raw: dict, exc: BaseException) -> tuple:
        """Report ``raw`` failed (as Powertools reports a record it could not parse: an SQSRecord),
        with a traceback, so the processor's logger logs it with its reason."""
        try:
            raise exc
        except BaseException:
            return self.failure_handler(record=SQSRecord(raw), exception=sys.exc_info())
