"""The real Rasa server with the trained model, on a free port of 127.0.0.1."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from infoline import app
from infoline.config import Settings
from infoline.nlu.server import RasaEnvironment, RasaServer, start_server
from infoline.nlu.training import model_path
from tests.support.net import free_port


@asynccontextmanager
async def private_server(
    settings: Settings, env: RasaEnvironment | None = None
) -> AsyncIterator[RasaServer]:
    """Start a Rasa server of our own for the block (the repository's model by default)."""
    env = env or app.rasa_environment(settings)
    with tempfile.TemporaryDirectory() as folder:
        server = await start_server(
            env,
            model_path(env.models),
            f"http://127.0.0.1:{free_port()}",
            Path(folder) / "rasa.log",
            settings.nlu.startup_timeout,
        )
        try:
            yield server
        finally:
            await server.stop()
