"""Telegram's update queue: getUpdates with offset, limit and long polling, or a webhook.

Semantics from https://core.telegram.org/bots/api#getupdates: an update is confirmed, and
forgotten for good, once getUpdates is called with an offset higher than its update_id; a
negative offset keeps only the last -offset updates. With a webhook, Telegram posts each
update as JSON and forgets it only after a 2xx answer, retrying otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Iterable
from typing import Any

import aiohttp

from tests.support.botapi.objects import now
from tests.support.botapi.protocol import OTHER_POLLER, ApiError

JSON = dict[str, Any]

# Without allowed_updates Telegram sends every kind of update except these.
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class Broadcast:
    """Wakes everyone waiting when something changes (one Event per change, swapped)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float | None) -> None:
        """Wait for the next change, or at most `seconds` (None: no limit)."""
        event = self._event  # taken before any await, so no change is missed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)


class UpdateQueue:
    """The updates Telegram holds for the bot, oldest first."""

    def __init__(self, first_id: int) -> None:
        self._pending: deque[JSON] = deque()
        self.last_id = first_id - 1
        # Every update_id <= confirmed is forgotten and can never be fetched again.
        self.confirmed = first_id - 1
        self.allowed: frozenset[str] | None = None
        self.changed = Broadcast()
        self._poller = 0
        self.closing = False

    def set_allowed(self, kinds: Iterable[str] | None) -> None:
        """Apply allowed_updates: None keeps the previous setting, [] means the default."""
        if kinds is not None:
            self.allowed = frozenset(kinds) or None

    def put(self, kind: str, payload: JSON) -> int:
        """Create an update; one of a kind the bot did not allow is dropped, as Telegram does."""
        self.last_id += 1
        allowed = kind not in NOT_BY_DEFAULT if self.allowed is None else kind in self.allowed
        if allowed:
            self._pending.append({"update_id": self.last_id, kind: payload})
            self.changed.notify()
        return self.last_id

    def pending(self) -> list[JSON]:
        return list(self._pending)

    def head(self) -> JSON | None:
        return self._pending[0] if self._pending else None

    def confirm(self, up_to: int) -> None:
        """Forget every update with update_id <= up_to."""
        while self._pending and self._pending[0]["update_id"] <= up_to:
            self._pending.popleft()
        self.confirmed = max(self.confirmed, min(up_to, self.last_id))
        self.changed.notify()

    def drop_pending(self) -> None:
        self.confirm(self.last_id)

    def _apply_offset(self, offset: int) -> None:
        if offset > 0:
            self.confirm(offset - 1)
        elif offset < 0 and len(self._pending) > -offset:
            self.confirm(self._pending[offset - 1]["update_id"])

    async def poll(self, offset: int, limit: int, seconds: float) -> list[JSON]:
        """Answer getUpdates: confirm below offset, then return up to limit updates, waiting."""
        self._poller += 1
        me = self._poller
        self.changed.notify()  # an older long poll still waiting is ended with a conflict
        self._apply_offset(offset)
        deadline = asyncio.get_running_loop().time() + seconds
        while True:
            if me != self._poller:
                raise ApiError(409, OTHER_POLLER)
            batch = [self._pending[i] for i in range(min(limit, len(self._pending)))]
            remaining = deadline - asyncio.get_running_loop().time()
            if batch or remaining <= 0 or self.closing:
                return batch
            await self.changed.wait(remaining)

    def close(self) -> None:
        """End every waiting long poll now (the server is stopping)."""
        self.closing = True
        self.changed.notify()


class Webhook:
    """Delivers the queue to a URL, one update at a time and in order, as Telegram does."""

    def __init__(self, queue: UpdateQueue, retry_delay: float, timeout: float) -> None:
        self.queue = queue
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.url = ""
        self.secret_token: str | None = None
        self.max_connections = 40
        self.ip_address: str | None = None
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self.delivered: list[JSON] = []
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def set(self, url: str, secret_token: str | None, max_connections: int | None) -> None:
        """Start (or restart) delivery to url."""
        await self.stop()
        self.url, self.secret_token = url, secret_token
        self.max_connections = max_connections or 40
        self.last_error_date = self.last_error_message = None
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))
        self._task = asyncio.create_task(self._deliver(), name=f"botapi webhook {url}")

    async def delete(self) -> None:
        """Stop delivery; updates stay queued for getUpdates."""
        await self.stop()
        self.url, self.secret_token = "", None
        self.last_error_date = self.last_error_message = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def info(self) -> JSON:
        """The WebhookInfo object."""
        info: JSON = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.queue.pending()),
        }
        if self.url:
            info["max_connections"] = self.max_connections
            if self.ip_address:
                info["ip_address"] = self.ip_address
            if self.queue.allowed is not None:
                info["allowed_updates"] = sorted(self.queue.allowed)
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        return info

    async def _deliver(self) -> None:
        while True:
            update = self.queue.head()
            if update is None:
                await self.queue.changed.wait(None)
                continue
            error = await self._post(update)
            if error is None:
                self.delivered.append(update)
                self.queue.confirm(update["update_id"])
            else:
                self.last_error_date, self.last_error_message = now(), error
                await asyncio.sleep(self.retry_delay)

    async def _post(self, update: JSON) -> str | None:
        """POST one update; None when the receiver answered 2xx, else the error Telegram notes."""
        assert self._session is not None
        headers = {}
        if self.secret_token:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret_token
        try:
            async with self._session.post(self.url, json=update, headers=headers) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except aiohttp.ClientError as err:
            return f"Connection error: {err}"
