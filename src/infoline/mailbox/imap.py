"""Watch an IMAP folder and hand every new mail to the application, exactly in UID order.

imapclient blocks, so one thread of our own owns the connection from login to logout;
it hands each mail to the asyncio loop and waits for the handler to finish before it
marks the mail on the server. The order of the two steps is what keeps mail from being
lost: the handler commits the mail together with the folder position (UIDVALIDITY and
last UID, infoline.store.mail.advance_mailbox), and only then is the mail
flagged \\Seen or moved. A crash between the two leaves a mail that is committed but
unmarked; the next start marks it without handing it on again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from imapclient import IMAPClient

from infoline.config import MailboxSettings
from infoline.store.db import Database
from infoline.store.mail import mailbox_position

log = logging.getLogger(__name__)
T = TypeVar("T")
SEEN = b"\\Seen"
DELETED = b"\\Deleted"


@dataclass(frozen=True, slots=True)
class FetchedMail:
    """One mail as the server holds it, or its first max_message_bytes when larger."""

    folder: str
    uidvalidity: int
    uid: int
    raw: bytes
    size: int  # RFC822.SIZE: the whole mail's size on the server
    truncated: bool  # raw is only the first max_message_bytes of the mail


# Commits the mail and advance_mailbox(folder, uidvalidity, uid) in one transaction.
Deliver = Callable[[FetchedMail], Awaitable[None]]


class _Stopped(Exception):
    """The poller was asked to stop."""


class ImapPoller:
    """Receive mail from one IMAP folder until cancelled, reconnecting after any failure."""

    def __init__(
        self,
        settings: MailboxSettings,
        password: str,
        database: Database,
        deliver: Deliver,
        *,
        idle: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = 30.0,
        tick: float = 0.5,
        idle_renew: float = 24 * 60.0,
        backoff: tuple[float, float] = (1.0, 30.0),
    ) -> None:
        """Prepare a poller; nothing connects before run().

        `idle` False polls every poll_seconds even where the server offers IDLE;
        `ssl_context` defaults to the system's trusted certificates; `timeout` bounds
        each network read; `tick` is how often a waiting poller looks whether it should
        stop; `idle_renew` re-issues IDLE before servers drop it (RFC 2177 allows
        dropping after 30 minutes); `backoff` is the first and the longest wait between
        reconnection attempts.
        """
        self._settings = settings
        self._password = password
        self._database = database
        self._deliver = deliver
        self._idle = idle
        self._ssl_context = ssl_context
        self._timeout = timeout
        self._tick = tick
        self._idle_renew = idle_renew
        self._backoff = backoff
        self._delay = backoff[0]
        self._stop = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def run(self) -> None:
        """Receive mail until cancelled; a mail being delivered is let finish first."""
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        finished: asyncio.Future[None] = self._loop.create_future()
        # A daemon: a process that exits without cancelling run() is not held up by it.
        threading.Thread(
            target=self._work, args=(finished,), name="imap-poller", daemon=True
        ).start()
        try:
            await asyncio.shield(finished)
        finally:
            self._stop.set()
            await finished

    def _work(self, finished: asyncio.Future[None]) -> None:
        """Connect, serve and reconnect with a growing delay, until stopped (own thread)."""
        settings = self._settings
        try:
            while not self._stop.is_set():
                try:
                    self._serve()
                except _Stopped:
                    break
                except Exception as err:
                    # One line per failure: the reason is in the message, and a traceback
                    # every few seconds while a server is down helps nobody.
                    log.warning(
                        "Mailbox %s on %s:%d failed (%s: %s); connecting again in %.0f s",
                        settings.imap_folder,
                        settings.imap_host,
                        settings.imap_port,
                        type(err).__name__,
                        err,
                        self._delay,
                    )
                    self._stop.wait(self._delay)
                    self._delay = min(self._delay * 2, self._backoff[1])
        finally:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(finished.set_result, None)

    def _serve(self) -> None:
        """Catch up with the folder, then wait for news and catch up again, on one connection."""
        settings = self._settings
        with self._connect() as client:
            position = self._on_loop(self._position())
            idle = self._idle and client.has_capability("IDLE")
            log.info(
                "Mailbox %s on %s:%d: watching %s",
                settings.imap_folder,
                settings.imap_host,
                settings.imap_port,
                "with IDLE" if idle else f"every {settings.poll_seconds:g} s",
            )
            first = True
            briefly = True
            while True:
                # Selected again on every pass: a server need not tell a waiting session
                # that its folder was deleted and created anew (Dovecot does not).
                uidvalidity = int(client.select_folder(settings.imap_folder)[b"UIDVALIDITY"])
                announced = _exists_announced(client)
                last_uid = self._resume(position, uidvalidity)
                if first:
                    self._mark_handled_before(client, last_uid)
                    first = False
                last_uid = self._catch_up(client, uidvalidity, last_uid)
                position = (uidvalidity, last_uid)
                self._delay = self._backoff[0]  # a whole pass worked: the server is back
                if _exists_announced(client) != announced:
                    # Mail arrived while we searched: the server said so in passing and
                    # will not say it again in IDLE, so look again now.
                    continue
                if idle:
                    # After each look, IDLE first for a moment only: mail that lands just
                    # as IDLE begins can go unannounced (seen with Dovecot) until IDLE
                    # ends, and ending it brings the news. Then IDLE for long.
                    news = self._wait_idle(client, 2 * self._tick if briefly else None)
                    briefly = news or not briefly
                else:
                    self._wait_poll()

    def _resume(self, position: tuple[int, int] | None, uidvalidity: int) -> int:
        """Return the last UID handled under this UIDVALIDITY; 0 reads the folder from its start."""
        if position is None:
            return 0
        if position[0] != uidvalidity:
            log.warning(
                "Mailbox folder %s has a new UIDVALIDITY (%d, was %d): it was created anew, "
                "so all of its mail is read again",
                self._settings.imap_folder,
                uidvalidity,
                position[0],
            )
            return 0
        return position[1]

    def _connect(self) -> IMAPClient:
        """Open, secure and log in a connection; prepare the processed folder."""
        settings = self._settings
        client = IMAPClient(
            settings.imap_host,
            settings.imap_port,
            ssl=settings.imap_security == "ssl",
            ssl_context=self._ssl_context,
            timeout=self._timeout,
        )
        try:
            if settings.imap_security == "starttls":
                client.starttls(self._ssl_context)
            client.login(settings.imap_user, self._password)
            target = settings.processed_folder
            if target and not client.folder_exists(target):
                client.create_folder(target)
        except BaseException:
            client.shutdown()
            raise
        return client

    async def _position(self) -> tuple[int, int] | None:
        return await self._database.run_single(mailbox_position, self._settings.imap_folder)

    def _mark_handled_before(self, client: IMAPClient, last_uid: int) -> None:
        """Mark mail up to last_uid that a crash left unmarked after it was committed."""
        if last_uid == 0:
            return
        criteria: list[str] = ["UID", f"1:{last_uid}"]
        if not self._settings.processed_folder:
            criteria.append("UNSEEN")
        uids = [uid for uid in client.search(criteria) if uid <= last_uid]
        if uids:
            log.info("Mailbox: marking %d mail(s) handled before a restart", len(uids))
            self._mark_handled(client, sorted(uids))

    def _catch_up(self, client: IMAPClient, uidvalidity: int, last_uid: int) -> int:
        """Hand on every mail above last_uid in UID order; return the new last UID."""
        # "UID n:*" always matches the highest UID, even below n (RFC 3501, 6.4.8).
        uids = sorted(uid for uid in client.search(["UID", f"{last_uid + 1}:*"]) if uid > last_uid)
        if not uids:
            return last_uid
        sizes = client.fetch(uids, ["RFC822.SIZE"])
        limit = self._settings.max_message_bytes
        for uid in uids:
            if self._stop.is_set():
                raise _Stopped
            if uid not in sizes:
                continue  # expunged since the search
            size = int(sizes[uid][b"RFC822.SIZE"])
            truncated = size > limit
            # PEEK: reading must not set \Seen; that flag means "handled" here.
            if truncated:
                item, key = f"BODY.PEEK[]<0.{limit}>", b"BODY[]<0>"
            else:
                item, key = "BODY.PEEK[]", b"BODY[]"
            found = client.fetch([uid], [item]).get(uid)
            if found is None:
                continue
            mail = FetchedMail(
                self._settings.imap_folder, uidvalidity, uid, found[key], size, truncated
            )
            self._on_loop(self._hand_on(mail))
            self._mark_handled(client, [uid])
            last_uid = uid
        return last_uid

    async def _hand_on(self, mail: FetchedMail) -> None:
        await self._deliver(mail)

    def _mark_handled(self, client: IMAPClient, uids: Sequence[int]) -> None:
        """Flag handled mail \\Seen and, when a processed folder is set, move it there."""
        client.add_flags(uids, [SEEN], silent=True)
        target = self._settings.processed_folder
        if not target:
            return
        if client.has_capability("MOVE"):
            client.move(uids, target)
            return
        # Without MOVE (RFC 6851): copy, then delete the originals.
        client.copy(uids, target)
        client.add_flags(uids, [DELETED], silent=True)
        if client.has_capability("UIDPLUS"):
            client.uid_expunge(uids)
        else:
            client.expunge()  # also removes mail that someone else marked \Deleted

    def _wait_idle(self, client: IMAPClient, seconds: float | None = None) -> bool:
        """Wait in IDLE until the folder changes, the connection drops or `seconds` (by
        default the renewal time) pass; return whether the server said anything."""
        client.idle()
        news: list[Any] = []
        try:
            renew_at = time.monotonic() + (seconds or self._idle_renew)
            while time.monotonic() < renew_at:
                if self._stop.is_set():
                    raise _Stopped
                started = time.monotonic()
                news = client.idle_check(timeout=self._tick)
                # An empty answer before the tick is up means the stream ended: leaving
                # IDLE then fails and makes us reconnect.
                if news or time.monotonic() - started < self._tick / 2:
                    break
        except _Stopped:
            with contextlib.suppress(Exception):  # a dropped connection cannot say DONE
                client.idle_done()
            raise
        _, said_at_done = client.idle_done()
        return bool(news or said_at_done)

    def _wait_poll(self) -> None:
        """Wait poll_seconds; the next pass selects the folder again and sees what is new."""
        if self._stop.wait(self._settings.poll_seconds):
            raise _Stopped

    def _on_loop(self, work: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the asyncio loop and wait for its result (poller thread)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()


def _exists_announced(client: IMAPClient) -> int:
    """Count the EXISTS announcements since the folder was selected.

    A server may announce new mail inside the answer to any command (RFC 3501, 7.3.1),
    and imaplib keeps such untagged answers aside; imapclient offers no public view of
    them, hence the look at its imaplib connection.
    """
    return len(client._imap.untagged_responses.get("EXISTS", []))
