"""The outbox dispatcher: sends queued messages through their channel, with retries.

A due row is claimed in a short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so
several dispatchers share the work): its attempt is counted and its next attempt moved a
lease ahead, so that nobody else takes it while it is being sent. The network send
happens outside any transaction; its outcome is written in a second one. A crash after
the send but before that write sends the message once more when the lease runs out —
the only duplicate possible. Temporary failures are retried with exponential backoff;
after the last attempt, and on permanent failures, the row stays visible as failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from infoline.core.messages import Button, Outgoing
from infoline.core.ports import Channel, PermanentDeliveryError, TemporaryDeliveryError
from infoline.core.waiting import wait_event
from infoline.store import repository as repo
from infoline.store.db import Database, now
from infoline.store.schema import Message, Outbox

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    lease_seconds: float = 60.0

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before the next attempt, honouring a server's retry_after."""
        backoff = min(self.backoff_seconds * 2 ** (attempts - 1), self.max_backoff_seconds)
        return float(max(backoff, retry_after or 0.0))


class Dispatcher:
    """Delivers outbox rows for the channels it was given."""

    def __init__(
        self,
        database: Database,
        channels: Mapping[str, Channel],
        retry: RetryPolicy,
        wake: asyncio.Event | None = None,
        batch: int = 50,
    ) -> None:
        self._db = database
        self._channels = dict(channels)
        self._retry = retry
        self.wake = wake or asyncio.Event()
        self._batch = batch

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Send whatever is due, again whenever woken or every `poll_seconds`."""
        while True:
            # Cleared before looking, so that a wake-up during the sends is not lost.
            self.wake.clear()
            while await self.send_due():
                pass
            await wait_event(self.wake, poll_seconds)

    async def send_due(self) -> int:
        """Try every due row once; return how many were attempted."""
        if not self._channels:
            return 0
        async with self._db.transaction() as session:
            due = await repo.due_outbox(session, list(self._channels), self._batch)
        attempted = 0
        for outbox_id in due:
            attempted += await self._send_one(outbox_id)
        return attempted

    async def _claim(self, outbox_id: int) -> Outgoing | None:
        async with self._db.transaction() as session:
            claimed = await repo.claim_outbox(session, outbox_id)
            if claimed is None:
                return None
            row, message = claimed
            row.attempts += 1
            row.next_attempt_at = now() + dt.timedelta(seconds=self._retry.lease_seconds)
            return _outgoing(row, message)

    async def _send_one(self, outbox_id: int) -> int:
        outgoing = await self._claim(outbox_id)
        if outgoing is None:
            return 0
        error: Exception | None = None
        try:
            await self._channels[outgoing.channel].send(outgoing)
        except Exception as err:
            error = err
        async with self._db.transaction() as session:
            row = await session.get(Outbox, outbox_id)
            if row is not None:
                await self._record(session, row, error)
        return 1

    async def _record(self, session: AsyncSession, row: Outbox, error: Exception | None) -> None:
        if error is None:
            row.status, row.sent_at, row.last_error = "sent", now(), None
        elif isinstance(error, PermanentDeliveryError):
            row.status, row.last_error = "failed", str(error)
            if error.unreachable:
                await repo.mark_unreachable(session, row.channel, row.address)
            log.warning("Outbox %s failed for good: %s", row.id, error)
        else:
            # Temporary failures, and anything unexpected, are retried, then shown as failed.
            if not isinstance(error, TemporaryDeliveryError):
                log.error("Sending outbox %s raised %r", row.id, error)
            if row.attempts >= self._retry.max_attempts:
                row.status, row.last_error = "failed", f"gave up: {error!r}"
                log.warning("Outbox %s failed after %s attempts: %r", row.id, row.attempts, error)
            else:
                retry_after = (
                    error.retry_after if isinstance(error, TemporaryDeliveryError) else None
                )
                delay = self._retry.delay(row.attempts, retry_after)
                row.next_attempt_at = now() + dt.timedelta(seconds=delay)
                row.last_error = repr(error)


def _outgoing(row: Outbox, message: Message) -> Outgoing:
    details = message.details or {}
    return Outgoing(
        outbox_id=row.id,
        channel=row.channel,
        address=row.address,
        text=message.text or "",
        language=message.language or "en",
        buttons=tuple(Button(label, action) for label, action in details.get("buttons", ())),
        reply_to=details.get("reply_to") or {},
        automatic=bool(details.get("automatic", True)),
    )
