"""The outbox dispatcher: sends queued messages through their channel, with retries.

A row is leased before it is sent: its attempt is counted and its next attempt moved a
lease ahead, so that nobody else takes it while it is being sent. Rows the engine of
this process writes for this dispatcher's channels are leased in the decision's own
transaction and handed over in memory after the commit (`Handoff`); any other due row
is claimed in a short transaction (FOR UPDATE SKIP LOCKED on PostgreSQL, so several
dispatchers share the work). The network send happens outside any transaction; its
outcome is written in another one. A crash after the send but before that write sends
the message once more when the lease runs out — the only duplicate possible. Handed-over
rows go to up to `concurrent_sends` addresses at once, each address's rows one after
the other, in order; so a crash can repeat at most one message per address, and at
most `concurrent_sends` in all. Temporary failures are retried with exponential
backoff; after the last attempt, and on permanent failures, the row stays visible as
failed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from infoline.core.messages import Button, Outgoing
from infoline.core.ports import Channel, PermanentDeliveryError, TemporaryDeliveryError
from infoline.core.waiting import wait_event
from infoline.store import outbox as rows
from infoline.store.db import Database, now

log = logging.getLogger(__name__)
# A handed-over row is sent without renewing its lease while this much of it is left.
HANDOFF_FRESH = 0.75


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    backoff_seconds: float
    max_backoff_seconds: float
    lease_seconds: float = 60.0
    concurrent_sends: int = 8  # addresses sent to at once (1: one row at a time)

    def delay(self, attempts: int, retry_after: float | None) -> float:
        """Seconds to wait before the next attempt, honouring a server's retry_after."""
        backoff = min(self.backoff_seconds * 2 ** (attempts - 1), self.max_backoff_seconds)
        return float(max(backoff, retry_after or 0.0))


class Handoff:
    """Rows that the engine leased for this process's dispatcher, passed in memory.

    They need neither the due query nor a claim transaction; if the process dies first,
    the due query finds them when their lease ends.
    """

    def __init__(self, channels: Iterable[str], lease_seconds: float, wake: asyncio.Event):
        self._channels = frozenset(channels)
        self._lease = dt.timedelta(seconds=lease_seconds)
        self._wake = wake
        self._rows: deque[tuple[Outgoing, dt.datetime]] = deque()

    def lease_until(self, channel: str, moment: dt.datetime) -> dt.datetime | None:
        """Until when rows for `channel` written at `moment` are leased; None: not ours."""
        return moment + self._lease if channel in self._channels else None

    def put(self, outgoing: Iterable[Outgoing], lease_until: dt.datetime) -> None:
        """Hand over rows leased until `lease_until` in a committed transaction."""
        self._rows.extend((row, lease_until) for row in outgoing)
        self._wake.set()

    def take(self) -> tuple[Outgoing, dt.datetime] | None:
        return self._rows.popleft() if self._rows else None


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
        self.handoff = Handoff(self._channels, retry.lease_seconds, self.wake)

    async def run(self, poll_seconds: float = 1.0) -> None:
        """Send handed-over rows when woken; look for due rows when woken for anything else,
        and at least every `poll_seconds`."""
        clock = asyncio.get_running_loop().time
        looked = clock() - poll_seconds
        while True:
            # Cleared before looking, so that a wake-up during the sends is not lost.
            self.wake.clear()
            handed = await self._send_handed()
            if not handed or clock() - looked >= poll_seconds:
                looked = clock()
                while await self._send_due_rows():
                    pass
            await wait_event(self.wake, poll_seconds)

    async def send_due(self) -> int:
        """Send what was handed over, then try every due row once; return how many."""
        return await self._send_handed() + await self._send_due_rows()

    async def _send_handed(self) -> int:
        """Send what was handed over: up to `concurrent_sends` addresses at once, each
        address's rows in the order they were handed over."""
        by_address: dict[tuple[str, str], list[tuple[Outgoing, dt.datetime]]] = {}
        while (handed := self.handoff.take()) is not None:
            by_address.setdefault((handed[0].channel, handed[0].address), []).append(handed)
        lanes = asyncio.Semaphore(self._retry.concurrent_sends)

        async def lane(handed: list[tuple[Outgoing, dt.datetime]]) -> int:
            async with lanes:
                return sum([await self._send_handed_row(*row) for row in handed])

        async with asyncio.TaskGroup() as group:
            sent = [group.create_task(lane(handed)) for handed in by_address.values()]
        return sum(task.result() for task in sent)

    async def _send_handed_row(self, outgoing: Outgoing, lease_until: dt.datetime) -> int:
        """Send one handed-over row; return 1, or 0 when it is no longer ours."""
        moment = now()
        lease = dt.timedelta(seconds=self._retry.lease_seconds)
        # A row that waited here (a backlog, a slow channel) gets a whole lease again
        # before it is sent, unless its lease ran out and another dispatcher, or the
        # due query, claimed it meanwhile: then it is theirs.
        if lease_until - moment < lease * HANDOFF_FRESH and not await self._db.run_single(
            rows.renew_lease, outgoing.outbox_id, 1, moment + lease
        ):
            return 0
        await self._attempt(outgoing, 1)
        return 1

    async def _send_due_rows(self) -> int:
        if not self._channels:
            return 0
        due = await self._db.run_single(rows.due_outbox, list(self._channels), now(), self._batch)
        attempted = 0
        for outbox_id in due:
            moment = now()
            lease_until = moment + dt.timedelta(seconds=self._retry.lease_seconds)
            claimed = await self._db.run(rows.claim_outbox, outbox_id, moment, lease_until)
            if claimed is not None:
                await self._attempt(_outgoing(claimed), claimed.attempts)
                attempted += 1
        return attempted

    async def _attempt(self, outgoing: Outgoing, attempts: int) -> None:
        """Send one leased row and write the outcome."""
        error: Exception | None = None
        try:
            await self._channels[outgoing.channel].send(outgoing)
        except Exception as err:
            error = err
        if error is None:
            await self._db.run_single(rows.mark_sent, outgoing.outbox_id, now())
        else:
            await self._db.run(self._record_failure, outgoing, attempts, error)

    def _record_failure(
        self, connection: Connection, outgoing: Outgoing, attempts: int, error: Exception
    ) -> None:
        outbox_id = outgoing.outbox_id
        if isinstance(error, PermanentDeliveryError):
            rows.mark_failed(connection, outbox_id, str(error))
            if error.unreachable:
                rows.mark_unreachable(connection, outgoing.channel, outgoing.address)
            log.warning("Outbox %s failed for good: %s", outbox_id, error)
        else:
            # Temporary failures, and anything unexpected, are retried, then shown as failed.
            if not isinstance(error, TemporaryDeliveryError):
                log.error("Sending outbox %s raised %r", outbox_id, error)
            if attempts >= self._retry.max_attempts:
                rows.mark_failed(connection, outbox_id, f"gave up: {error!r}")
                log.warning("Outbox %s failed after %s attempts: %r", outbox_id, attempts, error)
            else:
                retry_after = (
                    error.retry_after if isinstance(error, TemporaryDeliveryError) else None
                )
                delay = self._retry.delay(attempts, retry_after)
                rows.retry_at(
                    connection, outbox_id, now() + dt.timedelta(seconds=delay), repr(error)
                )


def outgoing_of(
    outbox_id: int,
    channel: str,
    address: str,
    text: str | None,
    language: str | None,
    details: Mapping[str, Any] | None,
) -> Outgoing:
    """Build what a channel delivers from an outbox row and its stored message."""
    stored = details or {}
    return Outgoing(
        outbox_id=outbox_id,
        channel=channel,
        address=address,
        text=text or "",
        language=language or "en",
        buttons=tuple(Button(label, action) for label, action in stored.get("buttons") or ()),
        reply_to=stored.get("reply_to") or {},
        automatic=bool(stored.get("automatic", True)),
    )


def _outgoing(claimed: rows.Claimed) -> Outgoing:
    return outgoing_of(
        claimed.outbox_id,
        claimed.channel,
        claimed.address,
        claimed.text,
        claimed.language,
        claimed.details,
    )
