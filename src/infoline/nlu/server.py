"""Start, watch and stop the Rasa NLU server as a child process on this machine."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from infoline.nlu.client import NluClient
from infoline.nlu.errors import NluSetupError, NluUnavailable

log = logging.getLogger(__name__)

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


@dataclass(frozen=True, slots=True)
class RasaEnvironment:
    """Where the Rasa installation, the project and the models live."""

    venv: Path
    project: Path
    models: Path

    @property
    def rasa(self) -> Path:
        return self.venv / "bin" / "rasa"

    def environ(self) -> dict[str, str]:
        """Return the environment for a Rasa command: our components importable, no telemetry."""
        env = dict(os.environ)
        env["PYTHONPATH"] = str(self.project.resolve())
        env["RASA_TELEMETRY_ENABLED"] = "false"
        env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        # Rasa's own training cache would hide a changed custom component; we fingerprint.
        env["RASA_MAX_CACHE_SIZE"] = "0"
        env["PYTHONWARNINGS"] = "ignore"
        return env

    def check(self) -> None:
        """Raise NluSetupError when the Rasa environment is missing."""
        if not self.rasa.exists():
            raise NluSetupError(
                f"Rasa is not installed at {self.rasa}; run 'make run' or 'make nlu-env' first."
            )


@dataclass
class RasaServer:
    """A running `rasa run --enable-api` child process."""

    process: asyncio.subprocess.Process
    url: str
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    async def stop(self, timeout: float = 20.0) -> None:
        """Stop the server: SIGTERM, then SIGKILL when it does not go in time."""
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def _die_with_parent() -> None:
    """Have Linux stop the server when the process that started it dies, even by SIGKILL.

    Otherwise a killed `infoline run` leaves Rasa serving on its port, and the next run
    would reuse it, model and all. Runs in the child between fork and exec.
    """
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


async def start_server(
    env: RasaEnvironment, model: Path, url: str, log_path: Path, startup_timeout: float
) -> RasaServer:
    """Start Rasa on the host and port of `url` and wait until its model is loaded."""
    env.check()
    parts = urlsplit(url)
    if parts.hostname not in LOCAL_HOSTS:
        raise NluSetupError(
            f"nlu.url {url} is not on this machine, so it cannot be started here; "
            "start that server there or set nlu.manage to false."
        )
    if not model.exists():
        raise NluSetupError(f"No trained NLU model at {model}; run 'infoline train' first.")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(env.rasa), "run", "--enable-api", "--model", str(model),
        "--interface", parts.hostname or "127.0.0.1", "--port", str(parts.port or 80),
    ]
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=log_file, stderr=log_file, env=env.environ(),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
    server = RasaServer(process, url, log_path)
    log.info("Started the NLU server (pid %s), log in %s", process.pid, log_path)
    try:
        await wait_ready(url, startup_timeout, server)
    except BaseException:
        await server.stop()
        raise
    return server


async def wait_ready(url: str, timeout: float, server: RasaServer | None = None) -> None:
    """Poll the server until it has a model loaded; raise NluUnavailable after `timeout`."""
    deadline = time.monotonic() + timeout
    async with NluClient(url, timeout=2.0, max_chars=100) as client:
        while time.monotonic() < deadline:
            if server is not None and server.process.returncode is not None:
                raise NluUnavailable(
                    f"The NLU server exited with code {server.process.returncode}; "
                    f"see {server.log_path}."
                )
            if await client.ready():
                return
            await asyncio.sleep(0.5)
    raise NluUnavailable(f"The NLU server at {url} was not ready within {timeout:.0f} s.")


async def is_ready(url: str) -> bool:
    """Tell at once whether a server with a loaded model answers at `url`."""
    async with NluClient(url, timeout=2.0, max_chars=100) as client:
        return await client.ready()


@asynccontextmanager
async def ensure_server(
    env: RasaEnvironment,
    model: Path,
    url: str,
    log_path: Path,
    startup_timeout: float,
    manage: bool,
) -> AsyncIterator[RasaServer | None]:
    """Use the server at `url` if it runs; else start one (when managed) for the block."""
    if await is_ready(url):
        yield None
        return
    if not manage:
        raise NluUnavailable(f"No NLU server answers at {url} and nlu.manage is false.")
    server = await start_server(env, model, url, log_path, startup_timeout)
    try:
        yield server
    finally:
        await server.stop()
