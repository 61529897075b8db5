"""A user's history as a bounded head and sealed segments: rollover, exactly-once and order across it."""

from __future__ import annotations

import random

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.history import head_key, read_history, segment_prefix
from shared.messages import StickyMessage, UserDocument
from tests.conftest import load_function
from tests.test_sticky_ingester import count_calls

dispatcher = load_function("sticky_dispatcher")
BUCKET = "docs"
HEAD_MAX = 3000  # a few dozen entries per segment, so a test rolls over many times


@pytest.fixture
def env(aws, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setattr(dispatcher, "DOCUMENT_BUCKET", BUCKET)
    monkeypatch.setattr(dispatcher, "HEAD_MAX_BYTES", HEAD_MAX)
    monkeypatch.setattr(dispatcher, "documents", dispatcher.DocumentCache(2**20))


def message(seq: int, user: str = "u", message_id: str | None = None) -> StickyMessage:
    return StickyMessage(
        user_id=user, seq=seq, message_id=message_id or f"{user}-{seq}", body={"n": seq, "pad": "x" * 40}
    )


def history(user: str = "u") -> list[tuple[int, str]]:
    return [(e.seq, e.message_id) for e in read_history(boto3.client("s3"), BUCKET, user)]


def head(user: str = "u") -> UserDocument:
    return UserDocument.model_validate_json(
        boto3.client("s3").get_object(Bucket=BUCKET, Key=head_key(user))["Body"].read()
    )


def segments(user: str = "u") -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=BUCKET, Prefix=segment_prefix(user))
    return [o["Key"] for o in listed.get("Contents", [])]


def apply_in_batches(seqs: list[int], size: int = 10) -> None:
    for i in range(0, len(seqs), size):
        dispatcher.append_to_document(BUCKET, "u", [message(s) for s in seqs[i : i + size]])


def test_history_rolls_over_into_segments_and_reads_back_in_order(env):
    apply_in_batches(list(range(1, 301)))
    assert history() == [(s, f"u-{s}") for s in range(1, 301)]
    assert len(segments()) >= 5 and head().segments == len(segments())
    assert len(boto3.client("s3").get_object(Bucket=BUCKET, Key=head_key("u"))["Body"].read()) < 2 * HEAD_MAX


def test_every_write_is_bounded_whatever_the_history_length(env, monkeypatch):
    """Bytes written per batch stay near the head's limit while the history grows 30-fold."""
    s3 = dispatcher.client("s3")
    real_put = s3.put_object
    written: list[int] = []

    def measured(**kwargs):
        written.append(len(kwargs["Body"]))
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", measured)
    apply_in_batches(list(range(1, 601)))
    batch = max(len(message(600).model_dump_json()) for _ in range(1)) * 10 * 2  # entries are wider than messages
    assert max(written) <= HEAD_MAX + batch + 1000, max(written)
    assert len(history()) == 600


def test_a_redelivery_of_a_message_sealed_long_ago_is_recognised_and_writes_nothing(env):
    apply_in_batches(list(range(1, 301)))
    seq = 301
    while head().sealing is not None:  # no rollover pending: this batch has nothing else to write
        dispatcher.append_to_document(BUCKET, "u", [message(seq)])
        seq += 1
    assert head().sealed_through > 50
    with count_calls(("s3",)) as calls:
        assert dispatcher.append_to_document(BUCKET, "u", [message(5)]) == 0
    assert "s3.PutObject" not in calls and calls.count("s3.ListObjectsV2") == 1
    assert [s for s, _ in history()] == list(range(1, seq))


def test_a_late_message_goes_into_the_segment_that_covers_its_seq(env):
    apply_in_batches([s for s in range(1, 301) if s != 17])
    assert head().sealed_through > 17
    assert dispatcher.append_to_document(BUCKET, "u", [message(17)]) == 1
    assert [s for s, _ in history()] == list(range(1, 301))
    assert dispatcher.append_to_document(BUCKET, "u", [message(17)]) == 0  # and it is recognised there


def test_a_resend_of_a_recently_sealed_message_id_is_not_appended_again(env):
    apply_in_batches(list(range(1, 301)))
    seq = 301
    while head().sealing is not None:  # a pending rollover would move the window first
        dispatcher.append_to_document(BUCKET, "u", [message(seq)])
        seq += 1
    sealed = head().recent_ids
    assert sealed
    resend = message(10_000, message_id=sealed[0])  # the ingester gave the resend a new seq
    assert dispatcher.append_to_document(BUCKET, "u", [resend]) == 0
    assert [m for _, m in history()].count(sealed[0]) == 1


def test_a_rollover_interrupted_between_its_writes_is_finished_by_the_next_writer(env, monkeypatch):
    """The segment is stored, then the head write fails: the next batch (another process) finishes
    the rollover; the segment is written once and no entry is lost or repeated."""
    s3 = dispatcher.client("s3")
    real_put = s3.put_object
    seqs = list(range(1, 400))
    for i in range(0, len(seqs), 10):
        dispatcher.append_to_document(BUCKET, "u", [message(s) for s in seqs[i : i + 10]])
        if head().sealing is not None:
            break
    assert head().sealing is not None
    done = seqs[: i + 10]
    failed = {"head": False}

    def head_write_fails_once(**kwargs):
        if kwargs["Key"] == head_key("u") and not failed["head"]:
            failed["head"] = True
            raise ClientError({"Error": {"Code": "InternalError", "Message": "boom"}}, "PutObject")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", head_write_fails_once)
    with pytest.raises(ClientError):
        dispatcher.append_to_document(BUCKET, "u", [message(1000)])
    stored = segments()
    assert head().sealing is not None and stored  # the segment is there, the head still marked
    monkeypatch.setattr(dispatcher, "documents", dispatcher.DocumentCache(2**20))  # another process
    assert dispatcher.append_to_document(BUCKET, "u", [message(1000)]) == 1
    assert head().sealing is None and segments() == stored
    assert history() == [(s, f"u-{s}") for s in [*done, 1000]]


def test_two_writers_racing_on_a_marked_head_store_one_segment_and_lose_nothing(env, monkeypatch):
    seqs = iter(range(1, 1000))
    while head_exists() is False or head().sealing is None:
        dispatcher.append_to_document(BUCKET, "u", [message(next(seqs)) for _ in range(10)])
    s3 = dispatcher.client("s3")
    real_get = s3.get_object
    raced = {"done": False}

    def get_then_the_other_writer_runs(**kwargs):
        current = real_get(**kwargs)
        if kwargs["Key"] == head_key("u") and not raced["done"]:
            raced["done"] = True
            other = dispatcher.documents
            monkeypatch.setattr(dispatcher, "documents", dispatcher.DocumentCache(2**20))
            dispatcher.append_to_document(BUCKET, "u", [message(2001)])
            monkeypatch.setattr(dispatcher, "documents", other)
        return current

    monkeypatch.setattr(dispatcher, "documents", dispatcher.DocumentCache(2**20))
    monkeypatch.setattr(s3, "get_object", get_then_the_other_writer_runs)
    assert dispatcher.append_to_document(BUCKET, "u", [message(2002)]) == 1
    seen = [s for s, _ in history()]
    assert seen == sorted(set(seen)) and {2001, 2002} <= set(seen) and len(segments()) == head().segments


def head_exists() -> bool:
    try:
        head()
        return True
    except ClientError:
        return False


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.randoms(use_true_random=False), duplicate_every=st.integers(min_value=2, max_value=7))
def test_any_delivery_order_with_duplicates_yields_each_message_once_in_seq_order(env, order, duplicate_every):
    """A standard queue delivers out of order and more than once, across many rollovers."""
    s3 = boto3.client("s3")
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    dispatcher.documents.entries.clear()
    dispatcher.documents.size = 0
    seqs = list(range(1, 151))
    deliveries = seqs + seqs[::duplicate_every]
    shuffled = sorted(deliveries, key=lambda s: s + order.randint(0, 60))  # mostly in order, some late
    apply_in_batches(shuffled)
    assert history() == [(s, f"u-{s}") for s in seqs]


def test_read_history_of_an_unknown_user_is_empty(env):
    assert history("nobody") == []


def test_a_reader_during_a_pending_rollover_sees_each_entry_once(env):
    seqs = iter(range(1, 1000))
    sent: list[int] = []
    while not head_exists() or head().sealing is None:
        batch = [next(seqs) for _ in range(10)]
        sent += batch
        dispatcher.append_to_document(BUCKET, "u", [message(s) for s in batch])
    # store the segment as a writer would, without finishing: a reader must not count it
    from shared.history import dump, pending_segment, segment_key

    pending = pending_segment(head())
    boto3.client("s3").put_object(Bucket=BUCKET, Key=segment_key("u", pending.last_seq), Body=dump(pending))
    assert [s for s, _ in history()] == sent


def test_random_users_interleaved_keep_their_own_histories(env):
    rng = random.Random(7)
    expected: dict[str, list[int]] = {u: [] for u in ("a", "b", "c")}
    for seq in range(1, 121):
        user = rng.choice("abc")
        expected[user].append(seq)
        dispatcher.append_to_document(BUCKET, user, [message(seq, user=user)])
    for user, seqs in expected.items():
        assert [s for s, _ in history(user)] == seqs
