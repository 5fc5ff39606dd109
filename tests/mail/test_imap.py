"""The IMAP poller against a real Dovecot, with its position in a real database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection

from infoline.mailbox.imap import FetchedMail, ImapPoller
from infoline.store.db import Database
from infoline.store.mail import advance_mailbox, mailbox_position
from tests.support.databases import fresh_database
from tests.support.mailservers import Dovecot

# Dovecot's own capabilities, less MOVE: the poller must copy, delete and expunge.
WITHOUT_MOVE = "IMAP4rev1 SASL-IR LITERAL+ ID ENABLE IDLE UNSELECT CHILDREN NAMESPACE UIDPLUS"
SECRET = "secret"
SEEN = "\\Seen"


class Inbox:
    """The test's deliver: commits the folder position through the real repository."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.mails: list[FetchedMail] = []
        self.attempts: list[float] = []
        self.failing = False

    async def deliver(self, mail: FetchedMail) -> None:
        self.attempts.append(time.monotonic())
        await self.db.run(self._commit, mail)
        self.mails.append(mail)

    def _commit(self, connection: Connection, mail: FetchedMail) -> None:
        advance_mailbox(connection, mail.folder, mail.uidvalidity, mail.uid)
        if self.failing:
            raise RuntimeError("the database refused the mail")

    async def wait_for(self, count: int, seconds: float = 5.0) -> list[FetchedMail]:
        await until(lambda: len(self.mails) >= count, seconds, f"{count} mails delivered")
        return self.mails

    async def position(self, folder: str = "INBOX") -> tuple[int, int] | None:
        return await self.db.run(mailbox_position, folder)


async def until(check: Callable[[], bool | Awaitable[bool]], seconds: float, what: str) -> None:
    """Wait until check() holds; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {seconds} s")
        await asyncio.sleep(0.02)


def letter(n: int, body: str = "") -> bytes:
    return (
        f"From: sender{n}@example.net\r\nTo: infoline@example.org\r\nSubject: question {n}\r\n"
        f"Message-ID: <{n}.{uuid.uuid4().hex}@example.net>\r\n\r\nHello {n}\r\n{body}"
    ).encode()


@pytest.fixture
async def inbox(tmp_path: Path) -> AsyncIterator[Inbox]:
    async with fresh_database("sqlite", tmp_path) as db:
        yield Inbox(db)


@pytest.fixture
def user(dovecot: Dovecot) -> str:
    name = f"{uuid.uuid4().hex[:10]}@example.org"
    dovecot.add_user(name, SECRET)
    return name


@contextlib.asynccontextmanager
async def running(poller: ImapPoller) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(poller.run())
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def poller(
    server: Dovecot,
    user: str,
    inbox: Inbox,
    *,
    idle: bool = True,
    backoff: tuple[float, float] = (1.0, 30.0),
    **settings: Any,
) -> ImapPoller:
    """Build a poller on `user`'s account; keyword settings override MailboxSettings."""
    return ImapPoller(
        server.mailbox_settings(user, **settings),
        SECRET,
        inbox.db,
        inbox.deliver,
        idle=idle,
        ssl_context=server.ssl_context(),
        backoff=backoff,
    )


async def all_seen(server: Dovecot, user: str, count: int, folder: str = "INBOX") -> bool:
    mails = await server.messages(user, folder)
    return len(mails) == count and all(SEEN in mail.flags for mail in mails)


async def test_mail_before_start_and_during_idle_arrives_in_order_and_is_seen(
    dovecot: Dovecot, user: str, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "infoline.mailbox.imap")
    sent = [letter(n) for n in range(5)]
    for raw in sent[:3]:
        await dovecot.append(user, raw)
    # A minute between polls: only IDLE can bring the later mail in time.
    async with running(poller(dovecot, user, inbox, poll_seconds=60)):
        await inbox.wait_for(3)
        await until(lambda: all_seen(dovecot, user, 3), 3, "\\Seen on the first mails")
        assert "watching with IDLE" in caplog.text
        for raw in sent[3:]:
            await dovecot.append(user, raw)
        mails = await inbox.wait_for(5, seconds=3)
        await until(lambda: all_seen(dovecot, user, 5), 3, "\\Seen on all mails")
    assert [mail.raw for mail in mails] == sent
    assert [mail.uid for mail in mails] == [1, 2, 3, 4, 5]
    assert not any(mail.truncated for mail in mails)
    uidvalidity = await dovecot.uidvalidity(user)
    assert {mail.uidvalidity for mail in mails} == {uidvalidity}
    assert await inbox.position() == (uidvalidity, 5)


@pytest.mark.parametrize("security", ["ssl", "starttls"])
async def test_encrypted_connections(
    dovecot: Dovecot, user: str, inbox: Inbox, security: str
) -> None:
    port = dovecot.tls_port if security == "ssl" else dovecot.port
    raw = letter(1)
    await dovecot.append(user, raw)
    async with running(poller(dovecot, user, inbox, imap_security=security, imap_port=port)):
        mails = await inbox.wait_for(1)
        await until(lambda: all_seen(dovecot, user, 1), 3, "\\Seen")
    assert mails[0].raw == raw


async def test_a_failing_deliver_marks_nothing_and_is_retried_with_growing_delays(
    dovecot: Dovecot, user: str, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    raw = letter(1)
    await dovecot.append(user, raw)
    inbox.failing = True
    caplog.set_level(logging.WARNING, "infoline.mailbox.imap")
    async with running(poller(dovecot, user, inbox, backoff=(0.3, 1.0))):
        await until(lambda: len(inbox.attempts) >= 3, 5, "three attempts")
        assert [m.flags for m in await dovecot.messages(user)] == [frozenset()]
        assert await inbox.position() is None  # the failed transactions left no trace
        inbox.failing = False
        await inbox.wait_for(1)
        await until(lambda: all_seen(dovecot, user, 1), 3, "\\Seen")
    gaps = [
        later - earlier for earlier, later in zip(inbox.attempts, inbox.attempts[1:], strict=False)
    ]
    assert gaps[0] >= 0.3
    assert gaps[1] >= 0.6  # doubled
    assert [mail.raw for mail in inbox.mails] == [raw]
    failures = [r for r in caplog.records if r.name == "infoline.mailbox.imap"]
    assert len(failures) == len(inbox.attempts) - 1
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in failures)
    assert "the database refused the mail" in failures[0].getMessage()


async def test_a_dovecot_restart_during_idle_loses_nothing(
    dovecot: Dovecot, user: str, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    sent = [letter(n) for n in range(3)]
    await dovecot.append(user, sent[0])
    caplog.set_level(logging.INFO, "infoline.mailbox.imap")
    async with running(poller(dovecot, user, inbox, poll_seconds=60)):
        await until(lambda: all_seen(dovecot, user, 1), 3, "\\Seen on the first mail")
        assert "watching with IDLE" in caplog.text
        await dovecot.append(user, sent[1])  # may arrive before or after the drop
        await asyncio.to_thread(dovecot.restart)
        await dovecot.append(user, sent[2])
        started = time.monotonic()
        await inbox.wait_for(3, seconds=10)
        assert time.monotonic() - started < 10
        await until(lambda: all_seen(dovecot, user, 3), 3, "\\Seen on all mails")
    assert [mail.raw for mail in inbox.mails] == sent  # once each, in order
    assert any(r.levelno == logging.WARNING for r in caplog.records), "no drop was noticed"
    assert caplog.text.count("watching with IDLE") >= 2


async def test_a_recreated_folder_is_read_again_from_its_first_mail(
    dovecot: Dovecot, user: str, inbox: Inbox
) -> None:
    folder = "Support"
    await dovecot.create_folder(user, folder)
    before = [letter(1), letter(2)]
    for raw in before:
        await dovecot.append(user, raw, folder)
    old = await dovecot.uidvalidity(user, folder)
    async with running(poller(dovecot, user, inbox, imap_folder=folder, backoff=(0.2, 0.5))):
        await inbox.wait_for(2)
        assert await inbox.position(folder) == (old, 2)
        # Replace the folder under the watching poller; its new mail starts at UID 1 again.
        await dovecot.delete_folder(user, folder)
        await dovecot.create_folder(user, folder)
        after = letter(3)
        assert await dovecot.append(user, after, folder) == 1
        new = await dovecot.uidvalidity(user, folder)
        assert new != old
        mails = await inbox.wait_for(3)
        await until(lambda: all_seen(dovecot, user, 1, folder), 3, "\\Seen")
    assert [(m.uidvalidity, m.uid, m.raw) for m in mails[2:]] == [(new, 1, after)]
    assert await inbox.position(folder) == (new, 1)


@pytest.mark.parametrize("move", [True, False], ids=["MOVE", "copy-and-expunge"])
async def test_handled_mail_moves_to_the_processed_folder(
    dovecot: Dovecot, inbox: Inbox, move: bool
) -> None:
    with contextlib.ExitStack() as stack:
        server = dovecot if move else stack.enter_context(Dovecot(capability=WITHOUT_MOVE))
        user = f"{uuid.uuid4().hex[:10]}@example.org"
        server.add_user(user, SECRET)
        sent = [letter(1), letter(2)]
        for raw in sent:
            await server.append(user, raw)
        async with running(poller(server, user, inbox, processed_folder="Done")):
            await inbox.wait_for(2)
            await until(lambda: all_seen(server, user, 2, "Done"), 3, "mail in Done")
            assert await server.messages(user) == []
        assert [m.raw for m in await server.messages(user, "Done")] == sent


@pytest.mark.parametrize("processed_folder", ["", "Done"])
async def test_mail_committed_before_a_crash_is_marked_at_start_not_delivered_again(
    dovecot: Dovecot, user: str, inbox: Inbox, processed_folder: str
) -> None:
    sent = [letter(n) for n in range(3)]
    for raw in sent:
        await dovecot.append(user, raw)
    # As after a crash between the commit of UID 2 and its \Seen: nothing is marked yet.
    await inbox.db.run(advance_mailbox, "INBOX", await dovecot.uidvalidity(user), 2)
    async with running(poller(dovecot, user, inbox, processed_folder=processed_folder)):
        await inbox.wait_for(1)
        target = processed_folder or "INBOX"
        await until(lambda: all_seen(dovecot, user, 3, target), 3, "all mail marked")
    assert [mail.raw for mail in inbox.mails] == sent[2:]


async def test_oversized_mail_is_delivered_truncated(
    dovecot: Dovecot, user: str, inbox: Inbox
) -> None:
    limit = 100_000
    big = letter(1, body="x" * 77 + "\r\n") + b"y" * (3 * limit)
    small = letter(2)
    await dovecot.append(user, big)
    await dovecot.append(user, small)
    async with running(poller(dovecot, user, inbox, max_message_bytes=limit)):
        mails = await inbox.wait_for(2)
        await until(lambda: all_seen(dovecot, user, 2), 3, "\\Seen")
    assert (mails[0].truncated, mails[0].size, mails[0].raw) == (True, len(big), big[:limit])
    assert (mails[1].truncated, mails[1].size, mails[1].raw) == (False, len(small), small)


async def test_polling_without_idle(
    dovecot: Dovecot, user: str, inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "infoline.mailbox.imap")
    await dovecot.append(user, letter(1))
    async with running(poller(dovecot, user, inbox, idle=False, poll_seconds=0.3)):
        await inbox.wait_for(1)
        await dovecot.append(user, letter(2))
        await inbox.wait_for(2, seconds=3)
        await until(lambda: all_seen(dovecot, user, 2), 3, "\\Seen")
    assert "watching every 0.3 s" in caplog.text
    assert "IDLE" not in caplog.text


@pytest.mark.parametrize("state", ["idle", "polling", "backing off"])
async def test_stop_is_prompt(
    dovecot: Dovecot, user: str, inbox: Inbox, caplog: pytest.LogCaptureFixture, state: str
) -> None:
    caplog.set_level(logging.INFO, "infoline.mailbox.imap")
    options: dict[str, Any] = {"idle": state == "idle", "poll_seconds": 60}
    if state == "backing off":
        options["imap_user"] = "nobody@example.org"  # login fails: 1 s, 2 s, 4 s, ...
    async with running(poller(dovecot, user, inbox, **options)) as task:
        expected = "connecting again" if state == "backing off" else "watching"
        await until(lambda: expected in caplog.text, 5, expected)
        started = time.monotonic()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 2
