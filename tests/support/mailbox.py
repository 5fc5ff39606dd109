"""The real mailbox channel, engine, NLU and store, with Dovecot and an SMTP sink."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from infoline.config import Settings
from infoline.core.engine import DialogueEngine
from infoline.core.ports import Classifier
from infoline.mailbox.service import MailboxService
from infoline.store.db import Database
from tests.support.channels import serving
from tests.support.databases import fresh_database
from tests.support.mailservers import Dovecot, SmtpSink

# A mail that asks for a person: it opens a case for a consultant.
CONSULTANT_REQUEST = "Proszę o kontakt z konsultantem, potrzebuję porozmawiać z człowiekiem."


def mail(sender: str, to: str, subject: str, body: str) -> tuple[str, bytes]:
    """A plain mail as a phone sends it; returns its Message-ID and bytes."""
    message = EmailMessage()
    message["From"] = f"Olena <{sender}>"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(body)
    return str(message["Message-ID"]), bytes(message)


def new_account(dovecot: Dovecot) -> str:
    """A mailbox of the test's own on the shared Dovecot."""
    user = f"infoline-{uuid.uuid4().hex[:8]}@example.org"
    dovecot.add_user(user, "secret")
    return user


@dataclass
class MailRig:
    address: str
    dovecot: Dovecot
    sink: SmtpSink
    db: Database
    engine: DialogueEngine


async def ask_for_a_consultant(rig: MailRig) -> str:
    """Deliver Pavlo's mail asking for a consultant ("Prośba") to the watched mailbox;
    return its Message-ID."""
    message_id, raw = mail("pavlo@example.com", rig.address, "Prośba", CONSULTANT_REQUEST)
    await rig.dovecot.append(rig.address, raw)
    return message_id


@asynccontextmanager
async def mail_rig(
    settings: Settings,
    nlu: Classifier,
    dovecot: Dovecot,
    sink: SmtpSink,
    folder: Path,
    backend: str = "sqlite",
    address: str | None = None,
) -> AsyncIterator[MailRig]:
    """Run the whole mailbox path until the block ends (on a new account by default)."""
    address = address or new_account(dovecot)
    mailbox = dovecot.mailbox_settings(address, smtp_port=sink.port)
    settings = settings.model_copy(
        update={
            "mailbox": mailbox,
            "outbox": settings.outbox.model_copy(update={"backoff_seconds": 0.2}),
        }
    )
    async with fresh_database(backend, folder) as db:
        service = MailboxService(mailbox, dovecot.password(address), "")
        async with serving(
            settings, db, nlu, service.channel, lambda engine: service.run(engine, db)
        ) as engine:
            yield MailRig(address, dovecot, sink, db, engine)
