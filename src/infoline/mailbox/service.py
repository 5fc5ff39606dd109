"""The mailbox channel at work: the IMAP poller hands each mail here; it is parsed, stored
with its attachments and the folder position in one transaction, and left to the engine."""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import replace

from sqlalchemy import Connection

from infoline.config import MailboxSettings
from infoline.core.engine import DialogueEngine
from infoline.core.messages import Attachment, Inbound, Kind
from infoline.mailbox.imap import FetchedMail, ImapPoller
from infoline.mailbox.parse import ParsedMail, parse_mail, reply_context
from infoline.mailbox.smtp import CHANNEL, MailChannel
from infoline.store.db import Database
from infoline.store.mail import add_attachments, advance_mailbox
from infoline.store.repository import Received


def to_inbound(mail: ParsedMail) -> Inbound:
    """What a mail means to the assistant: its new text, or content a person must read."""
    kind: Kind = "text" if mail.text.strip() or not mail.attachments else "document"
    return Inbound(
        channel=CHANNEL,
        address=mail.reply_address or mail.sender or "unknown",
        external_id=mail.message_id,
        text=mail.text,
        kind=kind,
        language_hint=mail.language_hint,
        display_name=mail.sender_name or None,
        attachments=tuple(
            Attachment("document", a.name or None, a.size, a.mime) for a in mail.attachments
        ),
        # No address to answer is as final as a robot's mail: a consultant reads it.
        no_reply=mail.automatic or (None if (mail.reply_address or mail.sender) else "no-sender"),
        details={
            "reply_context": reply_context(mail),
            "subject": mail.subject,
            "full_text": mail.full_text,
            "problems": list(mail.problems),
        },
    )


class MailboxService:
    """Owns the mailbox channel: the poller in, the SMTP channel out."""

    def __init__(
        self,
        settings: MailboxSettings,
        imap_password: str,
        smtp_password: str,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._imap_password = imap_password
        self._ssl_context = ssl_context
        self.channel = MailChannel(settings, smtp_password, ssl_context)

    async def run(self, engine: DialogueEngine, database: Database, idle: bool = True) -> None:
        """Read the mailbox until cancelled."""

        async def deliver(fetched: FetchedMail) -> None:
            await self.deliver(engine, fetched)

        poller = ImapPoller(
            self._settings,
            self._imap_password,
            database,
            deliver,
            idle=idle,
            ssl_context=self._ssl_context,
        )
        await poller.run()

    async def deliver(self, engine: DialogueEngine, fetched: FetchedMail) -> None:
        """Store one fetched mail; the poller flags it only after this returns."""
        s = self._settings
        mail = await asyncio.to_thread(  # CPU work: a big mail takes a second
            parse_mail, fetched.raw, s.address, s.max_message_bytes, s.max_attachment_bytes
        )
        if fetched.truncated and "truncated" not in mail.problems:
            mail = replace(mail, problems=(*mail.problems, "truncated"))

        def keep(connection: Connection, received: Received) -> None:
            if received.new and mail.attachments:
                files = [(a.name, a.mime, a.size, a.content) for a in mail.attachments]
                add_attachments(connection, received.message_id, files)
            advance_mailbox(connection, fetched.folder, fetched.uidvalidity, fetched.uid)

        await engine.receive(to_inbound(mail), within=keep)
