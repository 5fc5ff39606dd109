"""Composition root: builds every part from the settings, starts and stops them."""

from __future__ import annotations

import asyncio
import logging
import signal
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path

from infoline.config import Settings
from infoline.core.kb import Contacts, KnowledgeBase
from infoline.core.topics import Topics
from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaEnvironment, RasaServer, ensure_server
from infoline.nlu.training import TrainingInputs, model_path, train

log = logging.getLogger(__name__)


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


def contacts(settings: Settings) -> Contacts:
    """Return the infoline's own contacts, as answers cite them."""
    c = settings.contact
    return Contacts(c.phone, c.email, c.hours)


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


async def serve(settings: Settings, show_progress: bool) -> None:
    """Run the infoline until SIGINT or SIGTERM: train if needed, then bring the NLU up."""
    if settings.nlu.manage:
        model, trained = await asyncio.to_thread(
            train, rasa_environment(settings), training_inputs(settings), False, show_progress
        )
        log.info(
            "NLU model %s (%s)",
            model.path,
            f"trained in {model.seconds} s" if trained else "up to date",
        )
    if not settings.contact.phone:
        log.warning("contact.phone is not set in config.yml; answers show a dash instead")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with AsyncExitStack() as stack:
        server = await stack.enter_async_context(nlu_server(settings))
        client = await stack.enter_async_context(nlu_client(settings))
        probe = await client.parse("ready?")
        origin = f"started, pid {server.pid}" if server else "already running"
        print(
            f"NLU server ready at {settings.nlu.url} ({origin}); "
            f"test parse -> {probe.topic} / {probe.language}",
            flush=True,
        )
        print("Infoline running; press Ctrl-C to stop.", flush=True)
        await stop.wait()
    log.info("Stopped")
