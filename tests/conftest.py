"""Fixtures: the repository's settings, the real Rasa NLU server with the trained model, and
real mail servers (Dovecot for IMAP, aiosmtpd for SMTP)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp import web

from infoline import app
from infoline.config import Settings, load_settings
from infoline.nlu.client import NluClient
from infoline.nlu.server import RasaServer
from infoline.nlu.training import model_path
from tests.support.mailservers import Dovecot, SmtpSink
from tests.support.net import ROOT, FakeRasa, Handler, free_port
from tests.support.rasa import private_server


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The repository's own config.yml, read without environment overrides."""
    return load_settings(ROOT / "config.yml", environ={})


@pytest.fixture(scope="session")
async def nlu_server(settings: Settings) -> AsyncIterator[RasaServer]:
    """Start the real Rasa server on a free port with the model `make test` trained."""
    model = model_path(app.rasa_environment(settings).models)
    if not model.exists():
        pytest.fail(f"No trained model at {model}: the test command trains it first (make test).")
    async with private_server(settings) as server:
        yield server


@pytest.fixture
async def nlu(nlu_server: RasaServer, settings: Settings) -> AsyncIterator[NluClient]:
    """A client of the real NLU server."""
    async with NluClient(nlu_server.url, settings.nlu.timeout, settings.nlu.max_chars) as client:
        yield client


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    """Serve /model/parse from a given handler on a real port; return its base URL."""
    runners: list[web.AppRunner] = []

    async def serve(handler: Handler) -> str:
        application = web.Application()
        application.router.add_post("/model/parse", handler)
        runner = web.AppRunner(application)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return f"http://127.0.0.1:{port}"

    yield serve
    for runner in runners:
        await runner.cleanup()


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """A private Dovecot for the whole session; tests keep apart by using users of their own."""
    with Dovecot() as server:
        yield server


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A real SMTP server on a free port that keeps what it receives."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()
