"""Composition root: builds every part from the settings, starts and stops them."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection

from infoline.bot.service import TelegramService
from infoline.chat.terminal import CHANNEL as TERMINAL
from infoline.chat.terminal import TerminalChannel, chat
from infoline.config import Settings
from infoline.console.app import Context as ConsoleContext
from infoline.console.app import running_console
from infoline.console.errors import ConsoleSetupError
from infoline.console.keys import KEY_VARIABLE, session_key
from infoline.core.decisions import EngineSettings
from infoline.core.engine import DialogueEngine
from infoline.core.i18n import DAYS, Catalogs, OfficeHours, hours_by_language
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.messages import Inbound
from infoline.core.outbox import Dispatcher, Handoff, RetryPolicy
from infoline.core.policy import Thresholds
from infoline.core.ports import Channel, ChannelSetupError, Classifier
from infoline.core.topics import Topics
from infoline.handoff import consultants
from infoline.handoff.cases import CaseDesk
from infoline.mailbox.service import MailboxService
from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaEnvironment, RasaServer, ensure_server
from infoline.nlu.training import TrainingInputs, model_path, train
from infoline.store import privacy
from infoline.store import repository as repo
from infoline.store.db import Database, now, open_database, resolve_url
from infoline.store.repository import Received

log = logging.getLogger(__name__)
TELEGRAM_TOKEN = "INFOLINE_TELEGRAM_TOKEN"


def rasa_environment(settings: Settings) -> RasaEnvironment:
    """Return where Rasa, its project and the models are, from the settings."""
    nlu = settings.nlu
    return RasaEnvironment(
        settings.path(nlu.venv), settings.path(nlu.project), settings.path(nlu.models)
    )


def training_inputs(settings: Settings) -> TrainingInputs:
    """Return the Rasa project and training data the model is built from."""
    return TrainingInputs(settings.path(settings.nlu.project), settings.path(settings.nlu.data))


def topics(settings: Settings) -> Topics:
    """Load the topic contract that ships with the data."""
    return Topics.load(settings.path(Path("data/topics.yml")))


def knowledge_base(settings: Settings) -> KnowledgeBase:
    """Load the knowledge base."""
    return KnowledgeBase.load(settings.path(settings.kb.path))


def office_hours(settings: Settings) -> OfficeHours:
    """Return when consultants work."""
    hours = settings.office_hours
    return OfficeHours(
        ZoneInfo(hours.timezone),
        frozenset(DAYS.index(d) for d in hours.days),
        hours.start,
        hours.end,
    )


def contacts(settings: Settings) -> Contacts:
    """Return the infoline's own contacts, as answers cite them."""
    c = settings.contact
    return Contacts(c.phone, c.email, hours_by_language(office_hours(settings)))


def nlu_client(settings: Settings) -> NluClient:
    """Build the client of the NLU server."""
    return NluClient(settings.nlu.url, settings.nlu.timeout, settings.nlu.max_chars)


def nlu_server(settings: Settings) -> AbstractAsyncContextManager[RasaServer | None]:
    """Use the configured NLU server, starting it first when it is ours to manage."""
    nlu = settings.nlu
    env = rasa_environment(settings)
    return ensure_server(
        env,
        model_path(env.models),
        nlu.url,
        settings.path(settings.app.var_dir) / "log" / "nlu.log",
        nlu.startup_timeout,
        nlu.manage,
    )


def database(settings: Settings) -> AbstractAsyncContextManager[Database]:
    """Open (and migrate) the configured database."""
    config = settings.database
    return open_database(resolve_url(config.url, settings.base_dir), config.pool_size)


def engine(
    settings: Settings, db: Database, nlu: Classifier, handoff: Handoff | None
) -> DialogueEngine:
    """Build the dialogue engine; it hands its replies to `handoff`'s dispatcher, if any."""
    e = settings.engine
    limits = Thresholds(e.low_confidence, settings.nlu.urgent_threshold, e.language_confidence)
    return DialogueEngine(
        db,
        nlu,
        topics(settings),
        knowledge_base(settings),
        Catalogs(),
        office_hours(settings),
        contacts(settings),
        EngineSettings(
            settings.app.default_language,
            limits,
            e.max_text_chars,
            reopen_hours=settings.handoff.reopen_hours,
            duty=settings.handoff.duty,
            duty_language=settings.handoff.duty_language,
        ),
        handoff,
    )


def dispatcher(
    settings: Settings, db: Database, channels: Mapping[str, Channel], wake: asyncio.Event
) -> Dispatcher:
    """Build the outbox dispatcher for the given channels."""
    o = settings.outbox
    retry = RetryPolicy(
        o.max_attempts,
        o.backoff_seconds,
        o.max_backoff_seconds,
        o.lease_seconds,
        o.concurrent_sends,
    )
    return Dispatcher(db, channels, retry, wake)


def case_desk(settings: Settings, db: Database, wake: asyncio.Event | None = None) -> CaseDesk:
    """Build the consultant side's case desk; `wake` is the dispatcher's, to send replies now."""
    return CaseDesk(
        db,
        topics(settings),
        knowledge_base(settings),
        contacts(settings),
        Catalogs(),
        settings.app.default_language,
        wake,
    )


async def first_supervisor(settings: Settings, db: Database) -> None:
    """On the embedded default (SQLite) with no account at all, make a supervisor and print
    its user name and generated password, once."""
    if db.dialect != "sqlite":
        return
    made = await consultants.ensure_first_supervisor(db)
    if made is not None:
        username, password = made
        print(
            f"First supervisor created: user name {username!r}, password {password!r} "
            "(shown only this once; change it, or add accounts with 'infoline consultant add').",
            flush=True,
        )


def console_context(settings: Settings, db: Database, desk: CaseDesk) -> ConsoleContext:
    """Gather what the consultants' console needs."""
    return ConsoleContext(
        db,
        desk,
        settings.console,
        Catalogs(),
        ZoneInfo(settings.office_hours.timezone),
        settings.app.default_language,
    )


def console_key(settings: Settings, db: Database, environ: Mapping[str, str]) -> bytes:
    """Return the console's session key: from the environment, or kept in var/ when the
    database is the embedded SQLite file."""
    return session_key(
        environ.get(KEY_VARIABLE, ""), settings.path(settings.app.var_dir), db.dialect == "sqlite"
    )


@asynccontextmanager
async def console(
    settings: Settings, parts: Assistant, environ: Mapping[str, str]
) -> AsyncIterator[None]:
    """Serve the consultants' console for the block (when it is on); print where."""
    if not settings.console.enabled:
        print("Console off: console.enabled is false.", flush=True)
        yield
        return
    key = console_key(settings, parts.database, environ)
    desk = case_desk(settings, parts.database, parts.dispatcher.wake)
    async with running_console(console_context(settings, parts.database, desk), key) as url:
        print(f"Console on {url}", flush=True)
        yield


@dataclass
class Assistant:
    engine: DialogueEngine
    dispatcher: Dispatcher
    database: Database

    async def exchange(self, inbound: Inbound) -> Received:
        """Receive one message and handle it and its replies now, not in the background."""
        received = await self.engine.receive(inbound)
        await self.engine.drain()
        while await self.dispatcher.send_due():
            pass
        return received


@asynccontextmanager
async def assistant(
    settings: Settings, channels: Mapping[str, Channel]
) -> AsyncIterator[Assistant]:
    """Bring up the NLU server, the database, the engine and the dispatcher for the block."""
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(nlu_server(settings))
        client = await stack.enter_async_context(nlu_client(settings))
        db = await stack.enter_async_context(database(settings))
        sender = dispatcher(settings, db, channels, asyncio.Event())
        yield Assistant(engine(settings, db, client, sender.handoff), sender, db)


async def ensure_model(settings: Settings, show_progress: bool) -> None:
    """Train the NLU model first when it is ours to manage and out of date."""
    if settings.nlu.manage:
        model, trained = await asyncio.to_thread(
            train, rasa_environment(settings), training_inputs(settings), False, show_progress
        )
        log.info(
            "NLU model %s (%s)",
            model.path,
            f"trained in {model.seconds} s" if trained else "up to date",
        )


def telegram(settings: Settings, environ: Mapping[str, str]) -> TelegramService | None:
    """Build the Telegram channel, or None when no token is set."""
    token = environ.get(TELEGRAM_TOKEN, "").strip()
    if not token:
        return None
    return TelegramService(settings.telegram, token, Catalogs(), settings.app.default_language)


def mailbox(settings: Settings, environ: Mapping[str, str]) -> MailboxService | None:
    """Build the mailbox channel, or None when no IMAP server is set."""
    if not settings.mailbox.imap_host:
        return None
    return MailboxService(
        settings.mailbox,
        environ.get("INFOLINE_MAILBOX_IMAP_PASSWORD", ""),
        environ.get("INFOLINE_MAILBOX_SMTP_PASSWORD", ""),
    )


async def serve(settings: Settings, show_progress: bool, environ: Mapping[str, str]) -> None:
    """Run the infoline until SIGINT or SIGTERM."""
    await ensure_model(settings, show_progress)
    if not settings.contact.phone:
        log.warning("contact.phone is not set in config.yml; answers show a dash instead")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bot, mail = telegram(settings, environ), mailbox(settings, environ)
    outward: list[Channel] = [service.channel for service in (bot, mail) if service is not None]
    channels = {channel.name: channel for channel in outward}
    try:
        await _serve(settings, channels, bot, mail, stop, environ)
    except ExceptionGroup as group:
        # A channel or the console that cannot start stops the infoline with its own
        # one-line reason.
        found: BaseException | None = group.subgroup((ChannelSetupError, ConsoleSetupError))
        while isinstance(found, BaseExceptionGroup):
            found = found.exceptions[0]
        raise found or group from None
    log.info("Stopped")


async def _serve(
    settings: Settings,
    channels: Mapping[str, Channel],
    bot: TelegramService | None,
    mail: MailboxService | None,
    stop: asyncio.Event,
    environ: Mapping[str, str],
) -> None:
    async with (
        assistant(settings, channels) as parts,
        asyncio.TaskGroup() as tasks,
        AsyncExitStack() as stack,
    ):
        work = [tasks.create_task(parts.engine.run()), tasks.create_task(parts.dispatcher.run())]
        print(
            f"NLU server ready at {settings.nlu.url}; database {parts.database.dialect}.",
            flush=True,
        )
        await first_supervisor(settings, parts.database)
        await stack.enter_async_context(console(settings, parts, environ))
        if bot is None:
            print(f"Telegram channel off: {TELEGRAM_TOKEN} is not set.", flush=True)
        else:
            work.append(tasks.create_task(bot.run(parts.engine.receive)))
            print(f"Telegram channel on ({settings.telegram.mode}).", flush=True)
        if mail is None:
            print("Mailbox channel off: mailbox.imap_host is not set.", flush=True)
        else:
            work.append(tasks.create_task(mail.run(parts.engine, parts.database)))
            print(f"Mailbox channel on ({settings.mailbox.address}).", flush=True)
        print("Infoline running; press Ctrl-C to stop.", flush=True)
        await stop.wait()
        for task in work:
            task.cancel()


async def converse(settings: Settings, user: str, hint: str | None) -> None:
    """Talk to the assistant from the terminal (`infoline chat`)."""
    await ensure_model(settings, sys.stderr.isatty())
    channels = {TERMINAL: TerminalChannel(sys.stdout)}
    async with assistant(settings, channels) as parts:
        await parts.engine.catch_up()
        await chat(parts.exchange, user, hint)


async def retention(settings: Settings) -> int:
    """Delete conversations idle longer than privacy.retention_days; return how many."""
    cutoff = now() - dt.timedelta(days=settings.privacy.retention_days)
    async with database(settings) as db:
        return await db.run(_delete_older_than, cutoff)


def _delete_older_than(connection: Connection, cutoff: dt.datetime) -> int:
    deleted = privacy.delete_older_than(connection, cutoff)
    repo.audit(
        connection,
        "retention",
        "conversations_deleted",
        "conversations",
        count=deleted,
        cutoff=cutoff.isoformat(),
    )
    return deleted
