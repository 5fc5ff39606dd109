"""The outbox dispatcher: sends queued messages through their channel, with retries.

A row is locked (FOR UPDATE SKIP LOCKED on PostgreSQL, so several dispatchers share the
work), sent, and marked sent in the same transaction. A crash after the send but before
the commit sends that one message again after restart — the only duplicate possible.
Temporary failures are retried with exponential backoff; after the last attempt, and on
permanent failures, the row stays visible as failed with its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from infoline.core.messages import Button, Outgoing
from infoline.core.ports import Channel, PermanentDeliveryError, TemporaryDeliveryError
from infoline.store import repository as repo
from infoline.store.db import Database, now

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float

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
            while await self.send_due():
                pass
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), poll_seconds)

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

    async def _send_one(self, outbox_id: int) -> int:
        async with self._db.transaction() as session:
            claimed = await repo.claim_outbox(session, outbox_id)
            if claimed is None:
                return 0
            row, message = claimed
            details = message.details or {}
            outgoing = Outgoing(
                outbox_id=row.id,
                channel=row.channel,
                address=row.address,
                text=message.text or "",
                language=message.language or "en",
                buttons=tuple(
                    Button(label, action) for label, action in details.get("buttons", ())
                ),
                reply_to=details.get("reply_to") or {},
                automatic=bool(details.get("automatic", True)),
            )
            row.attempts += 1
            try:
                await self._channels[row.channel].send(outgoing)
            except PermanentDeliveryError as err:
                row.status, row.last_error = "failed", str(err)
                if err.unreachable:
                    await repo.mark_unreachable(session, row.channel, row.address)
                log.warning("Outbox %s failed for good: %s", row.id, err)
            except Exception as err:
                # Temporary failures, and anything unexpected, are retried, then shown as failed.
                if not isinstance(err, TemporaryDeliveryError):
                    log.exception("Sending outbox %s raised", row.id)
                if row.attempts >= self._retry.max_attempts:
                    row.status, row.last_error = "failed", f"gave up: {err!r}"
                    log.warning("Outbox %s failed after %s attempts: %r", row.id, row.attempts, err)
                else:
                    retry_after = (
                        err.retry_after if isinstance(err, TemporaryDeliveryError) else None
                    )
                    delay = self._retry.delay(row.attempts, retry_after)
                    row.next_attempt_at = now() + dt.timedelta(seconds=delay)
                    row.last_error = repr(err)
            else:
                row.status, row.sent_at, row.last_error = "sent", now(), None
        return 1
