"""The real console on a real port against a real database, and what tests do with it."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from aiohttp import ClientResponse, ClientSession, CookieJar
from cryptography.fernet import Fernet

from infoline import app
from infoline.config import Settings
from infoline.console.app import running_console
from infoline.core.policy import NORMAL, URGENT
from infoline.handoff import consultants
from infoline.handoff.cases import CaseDesk
from infoline.handoff.records import Consultant, Role
from infoline.mailbox.parse import ParsedMail
from infoline.mailbox.service import to_inbound
from infoline.store.db import Database
from tests.support.cases import PASSWORD, make_case, make_consultant, open_case_on
from tests.support.net import free_port

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def console_settings(settings: Settings) -> Settings:
    """The test settings with the console on a free port and a quick live queue."""
    console = settings.console.model_copy(update={"port": free_port(), "poll_seconds": 0.2})
    return settings.model_copy(update={"console": console})


@dataclass
class ConsoleRig:
    url: str
    db: Database
    desk: CaseDesk
    settings: Settings

    def client(self) -> ClientSession:
        """A browser-like HTTP client of its own (cookies kept, redirects not followed)."""
        # unsafe=True: the console is on an IP address, whose cookies aiohttp drops otherwise.
        return ClientSession(
            self.url, cookie_jar=CookieJar(unsafe=True), headers={"Accept-Language": "en"}
        )

    async def consultant(
        self, languages: tuple[str, ...] = ("uk",), role: Role = "consultant"
    ) -> Consultant:
        """Add an available account with the test password whose console speaks English."""
        name = f"{role[:4]}-{uuid.uuid4().hex[:6]}"
        await make_consultant(self.db, name, languages, role)
        return await consultants.set_console_language(self.db, name, "en")


@asynccontextmanager
async def console_rig(
    settings: Settings, db: Database, desk: CaseDesk | None = None
) -> AsyncIterator[ConsoleRig]:
    """Serve the console on a free port of 127.0.0.1 for the block."""
    settings = console_settings(settings)
    desk = desk or app.case_desk(settings, db)
    context = app.console_context(settings, db, desk)
    async with running_console(context, Fernet.generate_key()) as url:
        yield ConsoleRig(url.rstrip("/"), db, desk, settings)


def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _TOKEN.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def log_in(client: ClientSession, username: str, password: str = PASSWORD) -> ClientResponse:
    """Log in through the form, as a browser does; return the answer to the POST."""
    async with client.get("/login") as page:
        token = csrf_token(await page.text())
    return await client.post(
        "/login",
        data={"csrf_token": token, "user": username, "password": password, "next": "/queue"},
        allow_redirects=False,
    )


async def page_token(client: ClientSession, path: str) -> str:
    """Open a page and return its forms' CSRF token."""
    async with client.get(path) as page:
        assert page.status == 200, (path, page.status)
        return csrf_token(await page.text())


async def queue_case(
    db: Database, text: str, language: str | None = "uk", urgent: bool = False
) -> int:
    """Open a case as the engine does: an emergency (urgent) or a request for a person."""
    if urgent:
        return await make_case(
            db, text, language=language, priority=URGENT, reason="emergency", topic="emergency"
        )
    return await make_case(db, text, language=language, topic="work")


async def case_for(db: Database, mail: ParsedMail, language: str) -> int:
    """Store a mail as the mailbox channel does, with its files, and open a case on it."""
    files = [(a.name, a.mime, a.size, a.content) for a in mail.attachments]
    return await db.run(
        open_case_on, to_inbound(mail), "request_human", NORMAL, language, files=files
    )
