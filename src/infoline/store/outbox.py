"""Outbox rows: queued with the decision that wrote them, claimed, sent, retried or failed.

Synchronous Core statements on a Connection that `Database.run` gives, like the
repository's. A row is leased while it is being sent: its attempt is counted and its next
attempt moved past the lease, so that no other dispatcher takes it meanwhile.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from infoline.store.schema import Contact, Message, Outbox


@dataclass(frozen=True, slots=True)
class Draft:
    """An outgoing message to store and queue."""

    text: str
    language: str
    details: dict[str, Any]
    case_id: int | None = None  # a consultant's answer belongs to the case


@dataclass(frozen=True, slots=True)
class Queued:
    """A stored outgoing message and its outbox row."""

    message_id: int
    outbox_id: int


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row leased for one attempt, with what its message says."""

    outbox_id: int
    channel: str
    address: str
    attempts: int
    text: str | None
    language: str | None
    details: dict[str, Any] | None


# One row per statement: a decision writes one message mostly, and a list of parameters
# would take SQLAlchemy's many-rows path, with its ordering of returned ids, at twice the
# cost of a single row.
_ADD_MESSAGE = insert(Message).returning(Message.id)
_ADD_ROW = insert(Outbox).returning(Outbox.id)


def add_outbound(
    connection: Connection,
    conversation_id: int,
    channel: str,
    address: str,
    drafts: Sequence[Draft],
    moment: dt.datetime,
    lease_until: dt.datetime | None,
) -> list[Queued]:
    """Store outgoing messages and queue them; return their ids, in order.

    With `lease_until` the rows are leased at once, their first attempt counted, for the
    caller to hand to its own dispatcher; a crash before they are sent leaves them to
    whichever dispatcher finds them due when the lease ends.
    """
    leased = lease_until is not None
    queued = []
    for draft in drafts:
        message_id = connection.execute(
            _ADD_MESSAGE,
            {
                "conversation_id": conversation_id,
                "direction": "out",
                "channel": channel,
                "kind": "text",
                "text": draft.text,
                "language": draft.language,
                "details": draft.details,
                "case_id": draft.case_id,
                "created_at": moment,
                "processed_at": moment,
            },
        ).scalar_one()
        outbox_id = connection.execute(
            _ADD_ROW,
            {
                "message_id": message_id,
                "channel": channel,
                "address": address,
                "attempts": 1 if leased else 0,
                "next_attempt_at": lease_until if leased else moment,
                "created_at": moment,
            },
        ).scalar_one()
        queued.append(Queued(message_id, outbox_id))
    return queued


_DUE = (
    select(Outbox.id)
    .where(
        Outbox.status == "pending",
        Outbox.channel.in_(bindparam("channels", expanding=True)),
        Outbox.next_attempt_at <= bindparam("moment"),
    )
    .order_by(Outbox.id)
    .limit(bindparam("limit"))
)
# Due again, not only pending: a row another dispatcher claimed is leased to it.
_CLAIM = (
    select(
        Outbox.id,
        Outbox.channel,
        Outbox.address,
        Outbox.attempts,
        Message.text,
        Message.language,
        Message.details,
    )
    .join(Message, Message.id == Outbox.message_id)
    .where(
        Outbox.id == bindparam("outbox_id"),
        Outbox.status == "pending",
        Outbox.next_attempt_at <= bindparam("moment"),
    )
    .with_for_update(of=Outbox, skip_locked=True)
)
_LEASE = (
    update(Outbox)
    .where(Outbox.id == bindparam("outbox_id"))
    .values(attempts=bindparam("attempts"), next_attempt_at=bindparam("lease_until"))
)


_RENEW = (
    update(Outbox)
    .where(
        Outbox.id == bindparam("outbox_id"),
        Outbox.status == "pending",
        Outbox.attempts == bindparam("counted"),
    )
    .values(next_attempt_at=bindparam("lease_until"))
)


def due_outbox(
    connection: Connection, channels: Sequence[str], moment: dt.datetime, limit: int
) -> Sequence[int]:
    """Return ids of outbox rows that are due for a first or further attempt."""
    return list(
        connection.scalars(_DUE, {"channels": list(channels), "moment": moment, "limit": limit})
    )


def claim_outbox(
    connection: Connection, outbox_id: int, moment: dt.datetime, lease_until: dt.datetime
) -> Claimed | None:
    """Lease one due row for an attempt (skipped when another dispatcher holds it)."""
    row = connection.execute(_CLAIM, {"outbox_id": outbox_id, "moment": moment}).first()
    if row is None:
        return None
    attempts = row.attempts + 1
    connection.execute(
        _LEASE, {"outbox_id": outbox_id, "attempts": attempts, "lease_until": lease_until}
    )
    return Claimed(row.id, row.channel, row.address, attempts, row.text, row.language, row.details)


def renew_lease(
    connection: Connection, outbox_id: int, attempts: int, lease_until: dt.datetime
) -> bool:
    """Extend the lease of a row nobody has claimed since its attempt number `attempts`
    (every claim counts one more); False when somebody has."""
    result = connection.execute(
        _RENEW, {"outbox_id": outbox_id, "counted": attempts, "lease_until": lease_until}
    )
    return bool(result.rowcount == 1)


# Only a pending row: an erasure meanwhile has marked it failed, and that must stay.
_OUTCOME = update(Outbox).where(Outbox.id == bindparam("outbox_id"), Outbox.status == "pending")
_SENT = _OUTCOME.values(status="sent", sent_at=bindparam("moment"), last_error=None)
_FAILED = _OUTCOME.values(status="failed", last_error=bindparam("error"))
_RETRY = _OUTCOME.values(next_attempt_at=bindparam("at"), last_error=bindparam("error"))
# (An UPDATE's bind names must differ from its table's column names.)
_UNREACHABLE = (
    update(Contact)
    .where(Contact.channel == bindparam("on_channel"), Contact.address == bindparam("at_address"))
    .values(unreachable=True)
)


def mark_sent(connection: Connection, outbox_id: int, moment: dt.datetime) -> None:
    connection.execute(_SENT, {"outbox_id": outbox_id, "moment": moment})


def mark_failed(connection: Connection, outbox_id: int, error: str) -> None:
    """Stop trying a row: it stays visible as failed, with the reason."""
    connection.execute(_FAILED, {"outbox_id": outbox_id, "error": error})


def retry_at(connection: Connection, outbox_id: int, at: dt.datetime, error: str) -> None:
    """Schedule a row's next attempt."""
    connection.execute(_RETRY, {"outbox_id": outbox_id, "at": at, "error": error})


def mark_unreachable(connection: Connection, channel: str, address: str) -> None:
    connection.execute(_UNREACHABLE, {"on_channel": channel, "at_address": address})
