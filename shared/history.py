"""A user's history in S3: a bounded head document and sealed segments, in seq order.

Layout (``UserDocument`` and ``DocumentSegment`` in shared/messages.py):

- ``users/<user_id>.json``, the head: the newest entries (seq above ``sealed_through``), the
  number of segments, and the message_ids of the last sealed segment.
- ``users/<user_id>/segments/<last_seq:016d>.json``: segment ``k`` holds every entry with a seq
  above segment ``k-1``'s ``last_seq`` and up to its own. Keys sort in seq order, so the full
  history is the segments in key order (those up to the head's ``sealed_through``), then the
  head's entries (``read_history``).

Why it is bounded: a batch rewrites the head, and the head rolls over once it passes
``HEAD_MAX_BYTES``, so what a batch reads, parses and writes does not grow with the history.

Rollover in two conditional writes, so no reader or racing writer sees an entry lost or twice:
1. a head write sets ``sealing`` to its highest seq (the entries are still in the head);
2. the next writer that reads that head puts the segment, entries up to ``sealing``, with
   ``If-None-Match: *`` (a segment is written once, by whoever gets there first: its content is
   a function of the committed head, so every writer would write the same bytes), then writes
   the head without them.

Exactly-once across a rollover: a message carries the seq the ingester gave it, and every
redelivery carries the same seq. A seq above ``sealed_through`` is looked for in the head; one at
or below it in the one segment whose range holds it (one LIST finds it by key), so a duplicate
of a message sealed long ago is still recognised. A message that arrives after its range was
sealed (a late delivery on a standard queue, a redrive) is written into that segment, which
keeps every segment sorted. A client resend of a message_id gets a new seq: it is recognised if
the original is in the head or in the last sealed segment (``recent_ids``), which is at least
``HEAD_MAX_BYTES`` of the newest history.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from shared.messages import DocumentEntry, DocumentSegment, StickyMessage, UserDocument

HEAD_MAX_BYTES = 128 * 1024  # a head past this rolls over (bench/history.py: < 256 KiB written per batch)
SEQ_DIGITS = 16  # seqs stay below 2**53 (shared/assignments.py): 16 digits keep keys in seq order


def head_key(user_id: str) -> str:
    return f"users/{user_id}.json"


def segment_prefix(user_id: str) -> str:
    return f"users/{user_id}/segments/"


def segment_key(user_id: str, last_seq: int) -> str:
    return f"{segment_prefix(user_id)}{last_seq:0{SEQ_DIGITS}d}.json"


def segment_last_seq(key: str) -> int:
    return int(key.rsplit("/", 1)[1].removesuffix(".json"))


def merge(entries: list[DocumentEntry], messages: Sequence[StickyMessage], now: datetime) -> int:
    """Add messages not yet in ``entries``, keep them ordered by seq; return how many entries changed.

    A message_id keeps its lowest seq: a client resend (a later seq) applied before its
    original does not move the entry once the original arrives, whatever the order of delivery.
    """
    present = {e.message_id: e for e in entries}
    changed = 0
    for m in messages:
        entry = present.get(m.message_id)
        if entry is not None:
            if m.seq < entry.seq:
                entry.seq = m.seq
                changed += 1
            continue
        present[m.message_id] = DocumentEntry(
            seq=m.seq, message_id=m.message_id, body=m.body, ingested_at=m.ingested_at, appended_at=now
        )
        entries.append(present[m.message_id])
        changed += 1
    entries.sort(key=lambda e: e.seq)
    return changed


def dump(document: UserDocument | DocumentSegment) -> bytes:
    return document.model_dump_json(indent=1).encode()


def start_rollover(head: UserDocument, size: int, max_bytes: int) -> None:
    """Mark a head past ``max_bytes`` for sealing: its entries so far go into the next segment."""
    if head.sealing is None and size > max_bytes and head.entries:
        head.sealing = head.entries[-1].seq


def pending_segment(head: UserDocument) -> DocumentSegment:
    """The segment a head marked for sealing stands for (the same for every writer that reads it)."""
    assert head.sealing is not None
    return DocumentSegment(
        user_id=head.user_id, last_seq=head.sealing, entries=[e for e in head.entries if e.seq <= head.sealing]
    )


def finish_rollover(head: UserDocument, segment: DocumentSegment) -> None:
    """The head once ``segment`` is stored: its entries leave the head, their ids stay as recent."""
    head.entries = [e for e in head.entries if e.seq > segment.last_seq]
    head.sealed_through = segment.last_seq
    head.segments += 1
    head.sealing = None
    head.recent_ids = [e.message_id for e in segment.entries]


def split_by_seal(
    head: UserDocument, messages: Sequence[StickyMessage]
) -> tuple[list[StickyMessage], list[StickyMessage]]:
    """(messages for the head, messages whose seq a segment holds) after dropping resends of recent ids."""
    recent = set(head.recent_ids)
    in_head = {e.message_id for e in head.entries}
    fresh, sealed = [], []
    for m in messages:
        if m.seq <= head.sealed_through:
            if m.message_id not in in_head:
                sealed.append(m)
        elif m.message_id not in recent:
            fresh.append(m)
    return fresh, sealed


class DocumentCache:
    """Objects this process last wrote or read: key -> (ETag, body), least recently used first.

    A dispatcher is the only writer of its users' heads most of the time, so the next batch
    of a user writes with If-Match on the ETag it got back, without reading first. A stale
    entry costs one refused write (412), then the read path. Bounded in bytes.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self.size = 0

    def get(self, key: str) -> tuple[str, bytes] | None:
        if key in self.entries:
            self.entries.move_to_end(key)
        return self.entries.get(key)

    def put(self, key: str, etag: str, body: bytes) -> None:
        self.drop(key)
        if len(body) > self.max_bytes:
            return
        self.entries[key] = (etag, body)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (_, oldest) = self.entries.popitem(last=False)
            self.size -= len(oldest)

    def drop(self, key: str) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= len(old[1])


def covering_segment(s3: Any, bucket: str, user_id: str, seq: int) -> str | None:
    """The key of the segment whose range holds ``seq``: the first key at or after it, by one LIST."""
    prefix = segment_prefix(user_id)
    listed = s3.list_objects_v2(
        Bucket=bucket, Prefix=prefix, StartAfter=f"{prefix}{seq - 1:0{SEQ_DIGITS}d}.json", MaxKeys=1
    )
    contents = listed.get("Contents", [])
    return contents[0]["Key"] if contents else None


def read_history(s3: Any, bucket: str, user_id: str) -> Iterator[DocumentEntry]:
    """Every entry of a user's history, in seq order: the sealed segments in key order, then the head.

    The head is read first and names how far the segments go (``sealed_through``), so a
    rollover that runs meanwhile neither hides nor repeats an entry.
    """
    try:
        head = UserDocument.model_validate_json(s3.get_object(Bucket=bucket, Key=head_key(user_id))["Body"].read())
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
            return
        raise
    if head.sealed_through:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=segment_prefix(user_id))
        for page in pages:
            for item in page.get("Contents", []):
                if segment_last_seq(item["Key"]) > head.sealed_through:
                    break
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
                yield from DocumentSegment.model_validate_json(body).entries
    yield from (e for e in head.entries if e.seq > head.sealed_through)
